// ReplayWindow: the process-wide record of (client, message id) pairs accepted within the replay
// window (PROTOCOL.md §2: a client's message id repeated inside the window is DUPLICATE).
// Thread-safe: 32 shards, each a small mutex-protected set plus a FIFO of expiry times, so workers
// rarely contend and every operation is O(1) amortised. Bounded: when a shard holds its share of
// `max_entries`, its oldest id is forgotten early (counted), so memory never grows without bound
// and traffic is never refused because of the record itself. Replaced by a Redis-backed window
// shared by replicas in a later issue.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "gateway/common/ids.h"

namespace prometheus {
class Counter;
}

namespace qaqpa::policy {

class ReplayWindow {
 public:
  using Clock = std::chrono::steady_clock;

  ReplayWindow(std::chrono::milliseconds window, std::size_t max_entries,
               prometheus::Counter* evictions = nullptr);
  ReplayWindow(const ReplayWindow&) = delete;
  ReplayWindow& operator=(const ReplayWindow&) = delete;

  // Records the pair and returns true if it was not seen within the window; returns false (and
  // records nothing) for a replay. Any thread; non-blocking apart from a short shard lock.
  bool firstSeen(std::string_view client, const common::Uuid& id, Clock::time_point now);

  std::size_t size() const;  // entries currently held (all shards); for tests and status

 private:
  static constexpr std::size_t kShards = 32;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_set<std::string> keys;
    std::deque<std::pair<Clock::time_point, std::string>> order;  // oldest first
  };
  void expire(Shard& s, Clock::time_point now);

  std::chrono::milliseconds window_;
  std::size_t max_per_shard_;
  prometheus::Counter* evictions_;
  std::array<Shard, kShards> shards_;
};

}  // namespace qaqpa::policy
