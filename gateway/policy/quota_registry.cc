#include "gateway/policy/quota_registry.h"

#include <algorithm>
#include <functional>

#include "gateway/config/config.h"
#include "gateway/metrics/metrics.h"
#include "gateway/shared_state/shared_keys.h"

namespace qaqpa::policy {

GrantQuota::GrantQuota(double rate_per_second, std::uint32_t burst, std::uint32_t max_concurrent,
                       std::string_view grant_key) {
  if (rate_per_second > 0) {
    rate_per_second_ = rate_per_second;
    burst_ = std::max<std::uint32_t>(burst, 1);
    redis_key_ = shared_state::grantRateKey(grant_key);
    rate_.emplace(rate_per_second_, burst_);
  }
  if (max_concurrent > 0) concurrency_.emplace(max_concurrent);
}

QuotaTicket admitConcurrency(const std::shared_ptr<GrantQuota>& quota) noexcept {
  QuotaTicket t;
  if (!quota) return t;
  if (ConcurrencyLimiter* c = quota->concurrencyLimiter()) {
    t.permit = c->tryAcquire();
    if (!t.permit) {
      t.verdict = QuotaVerdict::ConcurrencyExceeded;
      return t;
    }
    // Only a held permit needs the owner kept alive; unlimited-concurrency grants skip the
    // reference-count traffic.
    t.keep_alive = quota;
  }
  return t;
}

void refuseForRate(QuotaTicket& t, std::chrono::nanoseconds retry_after) noexcept {
  t.permit.reset();
  t.keep_alive.reset();
  t.verdict = QuotaVerdict::RateExceeded;
  t.retry_after = retry_after;
}

QuotaTicket admit(const std::shared_ptr<GrantQuota>& quota,
                  std::chrono::steady_clock::time_point now) noexcept {
  QuotaTicket t = admitConcurrency(quota);
  if (!t.allowed() || !quota) return t;
  if (RateLimiter* r = quota->rateLimiter()) {
    const RateLimiter::Decision d = r->tryAcquire(now);
    if (!d.allowed) refuseForRate(t, d.retry_after);
  }
  return t;
}

QuotaTicket& QuotaTicket::operator=(QuotaTicket&& other) noexcept {
  if (this != &other) {
    permit.reset();
    keep_alive = std::move(other.keep_alive);
    permit = std::move(other.permit);
    other.permit.reset();
    verdict = other.verdict;
    retry_after = other.retry_after;
  }
  return *this;
}

std::shared_ptr<GrantQuota> QuotaRegistry::forGrant(std::string_view grant_key,
                                                    double rate_per_second, std::uint32_t burst,
                                                    std::uint32_t max_concurrent) {
  const bool has_rate = rate_per_second > 0;
  if (!has_rate && max_concurrent == 0) return nullptr;
  Key key{std::string(grant_key), has_rate ? rate_per_second : 0.0,
          has_rate ? std::max<std::uint32_t>(burst, 1) : 0, max_concurrent};
  std::lock_guard lock(mu_);
  std::weak_ptr<GrantQuota>& slot = states_[key];
  if (auto live = slot.lock()) return live;
  auto fresh = std::make_shared<GrantQuota>(rate_per_second, burst, max_concurrent, grant_key);
  slot = fresh;
  if (states_.size() >= prune_at_) pruneLocked();
  return fresh;
}

void QuotaRegistry::pruneLocked() {
  std::erase_if(states_, [](const auto& kv) { return kv.second.expired(); });
  // Amortised O(1) per forGrant: the next sweep waits until the map has doubled.
  prune_at_ = std::max<std::size_t>(64, 2 * states_.size());
}

std::size_t QuotaRegistry::size() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(
      states_.begin(), states_.end(), [](const auto& kv) { return !kv.second.expired(); }));
}

UsageCounters::UsageCounters(metrics::Metrics& metrics, const config::PolicyBundle& bundle) {
  for (const config::Grant& g : bundle.grants) {
    if (g.client == nullptr) continue;
    for (const config::Service* s : g.services) {
      if (s == nullptr) continue;
      auto [it, inserted] = counters_.try_emplace(Pair{g.client, s}, nullptr);
      if (inserted) it->second = metrics.usageCounter(g.client->id, s->id);
    }
  }
}

std::size_t UsageCounters::PairHash::operator()(const Pair& p) const noexcept {
  const std::size_t a = std::hash<const void*>{}(p.first);
  const std::size_t b = std::hash<const void*>{}(p.second);
  return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
}

prometheus::Counter* UsageCounters::find(const config::System* client,
                                         const config::Service* service) const noexcept {
  const auto it = counters_.find(Pair{client, service});
  return it == counters_.end() ? nullptr : it->second;
}

void UsageCounters::count(const config::System* client,
                          const config::Service* service) const noexcept {
  metrics::inc(find(client, service));
}

}  // namespace qaqpa::policy
