// Cost of the per-request quota primitives (gateway/policy/rate_limiter.h, concurrency_limiter.h,
// quota_registry.h). Results and the command line: benchmarks/micro/README.md.
#include <chrono>
#include <cstdint>
#include <memory>

#include <benchmark/benchmark.h>

#include "gateway/policy/concurrency_limiter.h"
#include "gateway/policy/quota_registry.h"
#include "gateway/policy/rate_limiter.h"

namespace qaqpa::policy {
namespace {

using Clock = std::chrono::steady_clock;

// Baseline: what every real call adds for reading the clock (TimeSource::monotonic()).
void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Clock::now());
}
BENCHMARK(BM_SteadyClockNow);

// Admitted path, one thread, simulated clock advancing by T each call: one load + one CAS.
void BM_RateLimiter_Allowed(benchmark::State& state) {
  RateLimiter rl(1000.0, 100);
  Clock::time_point now{};
  std::int64_t allowed = 0;
  for (auto _ : state) {
    now += std::chrono::milliseconds(1);
    allowed += rl.tryAcquire(now).allowed;
  }
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RateLimiter_Allowed);

// Refused path, one thread, bucket drained: one load, no write.
void BM_RateLimiter_Denied(benchmark::State& state) {
  RateLimiter rl(1.0, 1);
  const Clock::time_point now{};
  rl.tryAcquire(now);
  std::int64_t allowed = 0;
  for (auto _ : state) allowed += rl.tryAcquire(now).allowed;
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RateLimiter_Denied);

// One limiter shared by all threads, real clock, a rate high enough that nearly every call is
// admitted: every call is a CAS on the same cache line. Threads(1) vs Threads(2) shows the
// contention cost (the machine has 2 cores).
void BM_RateLimiter_SharedRealClock(benchmark::State& state) {
  static RateLimiter rl(1e9, 1'000'000);
  std::int64_t allowed = 0;
  for (auto _ : state) allowed += rl.tryAcquire(Clock::now()).allowed;
  state.counters["allowed_ratio"] =
      benchmark::Counter(static_cast<double>(allowed) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_RateLimiter_SharedRealClock)->Threads(1)->Threads(2)->UseRealTime();

// acquire + release of a permit on a limiter shared by all threads.
void BM_ConcurrencyLimiter_AcquireRelease(benchmark::State& state) {
  static ConcurrencyLimiter cl(1'000);
  std::int64_t granted = 0;
  for (auto _ : state) {
    auto p = cl.tryAcquire();
    granted += p.has_value();
    benchmark::DoNotOptimize(p);
  }
  state.counters["granted_ratio"] =
      benchmark::Counter(static_cast<double>(granted) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_ConcurrencyLimiter_AcquireRelease)->Threads(1)->Threads(2)->UseRealTime();

// The whole per-request quota step for a grant with both limits (what the policy stage calls),
// including the keep-alive reference and the permit's release when the ticket dies.
void BM_Admit_RateAndConcurrency(benchmark::State& state) {
  static auto quota = std::make_shared<GrantQuota>(1e9, 1'000'000, 1'000);
  for (auto _ : state) {
    QuotaTicket t = admit(quota, Clock::now());
    benchmark::DoNotOptimize(t.verdict);
  }
}
BENCHMARK(BM_Admit_RateAndConcurrency)->Threads(1)->Threads(2)->UseRealTime();

// A grant without limits: admit(nullptr) must be free.
void BM_Admit_Unlimited(benchmark::State& state) {
  const std::shared_ptr<GrantQuota> none;
  for (auto _ : state) {
    QuotaTicket t = admit(none, Clock::time_point{});
    benchmark::DoNotOptimize(t.verdict);
  }
}
BENCHMARK(BM_Admit_Unlimited);

}  // namespace
}  // namespace qaqpa::policy
