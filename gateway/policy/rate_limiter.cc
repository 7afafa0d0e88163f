#include "gateway/policy/rate_limiter.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace qaqpa::policy {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
// Headroom: TAT is at most now + tau + T, and now (steady ns) is far below 2^62 for centuries.
constexpr std::int64_t kMaxSpanNs = std::int64_t{1} << 62;

std::int64_t intervalNs(double rate_per_second, std::uint32_t burst) {
  const double raw = std::round(static_cast<double>(kNanosPerSecond) / rate_per_second);
  const double cap = static_cast<double>(kMaxSpanNs / (static_cast<std::int64_t>(burst) + 1));
  return static_cast<std::int64_t>(std::clamp(raw, 1.0, cap));
}

}  // namespace

std::int64_t retryAfterSeconds(std::chrono::nanoseconds wait) noexcept {
  const std::int64_t ns = wait.count();
  if (ns <= kNanosPerSecond) return 1;
  return ns / kNanosPerSecond + (ns % kNanosPerSecond != 0 ? 1 : 0);
}

RateLimiter::RateLimiter(double rate_per_second, std::uint32_t burst) noexcept
    : rate_per_second_(rate_per_second),
      burst_(std::max<std::uint32_t>(burst, 1)),
      t_ns_(intervalNs(rate_per_second, burst_)),
      tau_ns_((static_cast<std::int64_t>(burst_) - 1) * t_ns_),
      // "Long ago": max(TAT, now) is then now, i.e. the bucket starts full.
      tat_ns_(std::numeric_limits<std::int64_t>::min()) {
  assert(rate_per_second > 0 && std::isfinite(rate_per_second));
  assert(burst >= 1);
}

RateLimiter::Decision RateLimiter::tryAcquire(Clock::time_point now) noexcept {
  const std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  // Relaxed is enough: the TAT is the only shared datum and publishes nothing else; atomicity of
  // the CAS alone gives the single modification order that makes admissions exact.
  std::int64_t tat = tat_ns_.load(std::memory_order_relaxed);
  for (;;) {
    const std::int64_t base = std::max(tat, now_ns);
    const std::int64_t allow_at = base - tau_ns_;
    if (allow_at > now_ns) return Decision{false, std::chrono::nanoseconds(allow_at - now_ns)};
    if (tat_ns_.compare_exchange_weak(tat, base + t_ns_, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
      return Decision{true, std::chrono::nanoseconds(0)};
    }
    // Another thread moved the TAT (or a spurious failure): `tat` now holds the fresh value.
  }
}

}  // namespace qaqpa::policy
