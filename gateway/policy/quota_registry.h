// Quota state of grants (PROTOCOL.md §3 step 6: "the grant's rate limit and concurrency limit")
// and usage counters per (client, service) for billing of paid external access.
//
// Lifetimes and threads:
//   QuotaRegistry  one per process, owned by the server, outlives every snapshot. forGrant() is
//                  called only while a snapshot's policy state is built (any thread; takes a
//                  mutex; never on the hot path).
//   GrantQuota     shared (shared_ptr) by the registry and every built snapshot that uses it, so a
//                  hot reload that keeps a grant's key and limits keeps its bucket and its requests
//                  in flight. Its limiters are lock-free; any worker may use them concurrently.
//   QuotaTicket    one per admitted request; holds the concurrency permit (if any) and keeps its
//                  GrantQuota alive, so it stays valid even if a reload drops the grant meanwhile.
//   UsageCounters  immutable table built with a snapshot; find()/count() are lock-free lookups.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "gateway/policy/concurrency_limiter.h"
#include "gateway/policy/rate_limiter.h"

namespace prometheus {
class Counter;
}
namespace qaqpa::config {
struct PolicyBundle;
struct Service;
struct System;
}  // namespace qaqpa::config
namespace qaqpa::metrics {
class Metrics;
}

namespace qaqpa::policy {

// The limits of one grant. rate_per_second <= 0 means no rate limit (burst is then ignored);
// max_concurrent == 0 means no concurrency limit. With a rate, burst < 1 is taken as 1.
//
// With a rate, the grant's Redis key (shared_state::grantRateKey of the grant key) is computed
// here, once per grant state, so the shared check of a request only reads it.
class GrantQuota {
 public:
  GrantQuota(double rate_per_second, std::uint32_t burst, std::uint32_t max_concurrent,
             std::string_view grant_key = {});
  GrantQuota(const GrantQuota&) = delete;
  GrantQuota& operator=(const GrantQuota&) = delete;

  RateLimiter* rateLimiter() noexcept { return rate_ ? &*rate_ : nullptr; }  // null: unlimited
  ConcurrencyLimiter* concurrencyLimiter() noexcept {                        // null: unlimited
    return concurrency_ ? &*concurrency_ : nullptr;
  }
  const RateLimiter* rateLimiter() const noexcept { return rate_ ? &*rate_ : nullptr; }
  const ConcurrencyLimiter* concurrencyLimiter() const noexcept {
    return concurrency_ ? &*concurrency_ : nullptr;
  }
  // The rate limit as configured (burst at least 1); meaningful only with a rateLimiter().
  double ratePerSecond() const noexcept { return rate_per_second_; }
  std::uint32_t burst() const noexcept { return burst_; }
  // qaqpa:{grant:<h>}:gcra for the shared (Redis) rate check; empty without a rate.
  const std::string& redisKey() const noexcept { return redis_key_; }

 private:
  double rate_per_second_ = 0;
  std::uint32_t burst_ = 0;
  std::string redis_key_;
  std::optional<RateLimiter> rate_;
  std::optional<ConcurrencyLimiter> concurrency_;
};

enum class QuotaVerdict { Allowed, RateExceeded, ConcurrencyExceeded };

// The outcome of admit(). Move-only. Keep it (in the Exchange) until the response is written: its
// destruction gives the concurrency slot back.
struct QuotaTicket {
  QuotaVerdict verdict = QuotaVerdict::Allowed;
  // Denied: how long until a retry could pass (exact for the rate; zero for concurrency, whose
  // end cannot be predicted). Use retryAfterSeconds() for the header: rounded up, at least 1.
  std::chrono::nanoseconds retry_after{0};
  // Declared before `permit` so the permit is released before the limiter can be destroyed.
  std::shared_ptr<GrantQuota> keep_alive;
  std::optional<ConcurrencyLimiter::Permit> permit;

  QuotaTicket() = default;
  QuotaTicket(QuotaTicket&&) noexcept = default;
  // Not defaulted: the old permit must be returned before the old keep_alive is dropped.
  QuotaTicket& operator=(QuotaTicket&& other) noexcept;
  ~QuotaTicket() = default;  // members in reverse order: permit first, then keep_alive

  bool allowed() const noexcept { return verdict == QuotaVerdict::Allowed; }
  std::int64_t retryAfterSeconds() const noexcept { return policy::retryAfterSeconds(retry_after); }
};

// The quota decision for one request (hot path; any worker; lock-free; no allocation, no throw).
// A null `quota` (grant without limits) is Allowed at the cost of one branch. The concurrency
// slot is taken first and the rate token second: a request refused for concurrency consumes no
// rate token, and one refused for rate holds no slot (the permit is returned at once).
QuotaTicket admit(const std::shared_ptr<GrantQuota>& quota,
                  std::chrono::steady_clock::time_point now) noexcept;
// The two halves of admit(), for a caller that asks the rate elsewhere (the shared limiter):
// the concurrency permit (when the grant limits concurrency), then, if the rate refuses,
// refuseForRate gives the permit back and records the verdict.
QuotaTicket admitConcurrency(const std::shared_ptr<GrantQuota>& quota) noexcept;
void refuseForRate(QuotaTicket& ticket, std::chrono::nanoseconds retry_after) noexcept;

class QuotaRegistry {
 public:
  QuotaRegistry() = default;
  QuotaRegistry(const QuotaRegistry&) = delete;
  QuotaRegistry& operator=(const QuotaRegistry&) = delete;

  // The state for grant_key (config::Grant::key) with exactly these limits: the live one if some
  // snapshot still holds it (a reload that left the grant unchanged keeps bucket and in-flight
  // count), otherwise a fresh one (first sight, or the limits changed: the new limits start from
  // a full bucket and zero in flight; requests still holding the old state finish against it).
  // Returns nullptr when rate_per_second <= 0 and max_concurrent == 0: no quota, no work per
  // request. Build time only: takes a mutex and may allocate (may throw std::bad_alloc).
  //
  // The registry holds weak references: state lives exactly as long as a built snapshot (or a
  // ticket) uses it. So build the new snapshot's quota table BEFORE releasing the old one — the
  // normal reload order — or every bucket starts over. A build that is abandoned (failed reload)
  // disturbs nothing.
  std::shared_ptr<GrantQuota> forGrant(std::string_view grant_key, double rate_per_second,
                                       std::uint32_t burst, std::uint32_t max_concurrent);

  std::size_t size() const;  // live states (for tests and status); takes the mutex

 private:
  // (key, rate, burst, max_concurrent), normalised: burst is 0 without a rate.
  using Key = std::tuple<std::string, double, std::uint32_t, std::uint32_t>;
  void pruneLocked();

  mutable std::mutex mu_;
  std::map<Key, std::weak_ptr<GrantQuota>> states_;
  std::size_t prune_at_ = 64;  // prune expired entries when the map reaches this size
};

// Billing usage: qaqpa_usage_requests_total{client, service}, one counter per (client system,
// service) pair that some grant of the bundle allows. Counters live in Metrics and keep counting
// across reloads; this table only maps a snapshot's pointers to them.
class UsageCounters {
 public:
  UsageCounters() = default;  // counts nothing
  // Build time (takes the Metrics mutex, allocates): resolves every granted pair of `bundle`.
  // Pointers passed to find()/count() must come from the same bundle.
  UsageCounters(metrics::Metrics& metrics, const config::PolicyBundle& bundle);

  // Hot path, any worker: the pair's counter, or nullptr if no grant names the pair. No lock.
  prometheus::Counter* find(const config::System* client,
                            const config::Service* service) const noexcept;
  // Increments the pair's counter by one (nothing for an unknown pair).
  void count(const config::System* client, const config::Service* service) const noexcept;
  std::size_t size() const noexcept { return counters_.size(); }

 private:
  using Pair = std::pair<const config::System*, const config::Service*>;
  struct PairHash {
    std::size_t operator()(const Pair& p) const noexcept;
  };
  std::unordered_map<Pair, prometheus::Counter*, PairHash> counters_;
};

}  // namespace qaqpa::policy
