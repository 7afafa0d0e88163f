#include "gateway/policy/replay_window.h"

#include <functional>

#include "gateway/metrics/metrics.h"

namespace qaqpa::policy {

ReplayWindow::ReplayWindow(std::chrono::milliseconds window, std::size_t max_entries,
                           prometheus::Counter* evictions)
    : window_(window),
      max_per_shard_(std::max<std::size_t>(1, max_entries / kShards)),
      evictions_(evictions) {}

void ReplayWindow::expire(Shard& s, Clock::time_point now) {
  while (!s.order.empty() && s.order.front().first <= now) {
    s.keys.erase(s.order.front().second);
    s.order.pop_front();
  }
}

bool ReplayWindow::firstSeen(std::string_view client, const common::Uuid& id,
                             Clock::time_point now) {
  // Key: client id, a NUL (never in a system id), the 16 id bytes.
  std::string key;
  key.reserve(client.size() + 1 + id.bytes.size());
  key.append(client);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
  Shard& s = shards_[std::hash<std::string>{}(key) % kShards];

  std::lock_guard lock(s.mu);
  expire(s, now);
  if (s.keys.contains(key)) return false;
  if (s.order.size() >= max_per_shard_) {
    s.keys.erase(s.order.front().second);
    s.order.pop_front();
    metrics::inc(evictions_);
  }
  s.keys.insert(key);
  s.order.emplace_back(now + window_, std::move(key));
  return true;
}

std::size_t ReplayWindow::size() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.order.size();
  }
  return n;
}

}  // namespace qaqpa::policy
