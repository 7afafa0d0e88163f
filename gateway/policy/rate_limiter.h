// RateLimiter: a grant's request-rate quota (PROTOCOL.md §3 step 6), exact within one process
// across all workers and lock-free.
//
// Algorithm: GCRA (the Generic Cell Rate Algorithm), the exact equivalent of a token bucket of
// capacity `burst` refilled at `rate_per_second`, kept as ONE number: the theoretical arrival time
// (TAT) of the next conforming request, in nanoseconds on the steady clock. With emission interval
// T = 1 s / rate and tolerance tau = (burst - 1) * T, a request at `now` conforms iff
//     max(TAT, now) - tau <= now
// and then TAT := max(TAT, now) + T. A refused request changes nothing (no write, no CAS), so a
// flood of refused requests costs only a load. An admitted request is one successful CAS; every
// admission is therefore a step of a single linear history, so N threads admit exactly what one
// thread calling in the same order would (no over-admission under any interleaving).
//
// Time is passed in (from common::TimeSource::monotonic()), never read here, so tests run on a
// simulated clock. A call with an older `now` than an earlier call is handled conservatively: it
// can only be refused more, never admitted more.
//
// Precision: T is rounded to whole nanoseconds (clamped to [1 ns, 2^62 / (burst + 1)] so the
// arithmetic cannot overflow): rates whose interval is a whole number of ns (1, 2, 4, 5, 8, 10,
// 1000 per second...) are exact; others drift by under 1 ns per T (one extra request per ~10^9).
//
// Thread-safety: every method is safe from any thread concurrently; non-blocking, no throw.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace qaqpa::policy {

// Seconds for a Retry-After header (PROTOCOL.md §5, RATE_LIMITED 429): `wait` rounded UP to whole
// seconds, at least 1 (a client told "0" would retry at once and be refused again).
std::int64_t retryAfterSeconds(std::chrono::nanoseconds wait) noexcept;

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed = false;
    // Zero when allowed; otherwise how long until one request would be allowed (exact, ns).
    std::chrono::nanoseconds retry_after{0};
    std::int64_t retryAfterSeconds() const noexcept {
      return policy::retryAfterSeconds(retry_after);
    }
  };

  // rate_per_second > 0 (finite), burst >= 1; violating these is a programming error (asserted),
  // the config layer validates the values first. A new limiter is full: `burst` requests at once.
  RateLimiter(double rate_per_second, std::uint32_t burst) noexcept;
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  Decision tryAcquire(Clock::time_point now) noexcept;

  double ratePerSecond() const noexcept { return rate_per_second_; }
  std::uint32_t burst() const noexcept { return burst_; }
  std::chrono::nanoseconds interval() const noexcept { return std::chrono::nanoseconds(t_ns_); }

 private:
  static_assert(std::atomic<std::int64_t>::is_always_lock_free,
                "RateLimiter needs a lock-free 64-bit atomic");

  double rate_per_second_;
  std::uint32_t burst_;
  std::int64_t t_ns_;    // emission interval T
  std::int64_t tau_ns_;  // (burst - 1) * T
  // Own cache line: it is the only word written on the hot path and grants sit next to each other.
  alignas(64) std::atomic<std::int64_t> tat_ns_;
};

}  // namespace qaqpa::policy
