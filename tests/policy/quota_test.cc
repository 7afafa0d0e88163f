#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <latch>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/config/config.h"
#include "gateway/metrics/metrics.h"
#include "gateway/policy/concurrency_limiter.h"
#include "gateway/policy/quota_registry.h"
#include "gateway/policy/rate_limiter.h"

namespace qaqpa::policy {
namespace {

using Clock = RateLimiter::Clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// An arbitrary, non-zero origin for the simulated steady clock.
const Clock::time_point kT0 = Clock::time_point{} + seconds(1'000'000);

constexpr int kThreads = 4;

// ---------------------------------------------------------------------------------------------
// RateLimiter, one thread

TEST(RateLimiter, BurstAtOnceThenExactlyTheRate) {
  RateLimiter rl(10.0, 5);  // T = 100 ms
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.tryAcquire(kT0).allowed) << i;
  EXPECT_FALSE(rl.tryAcquire(kT0).allowed);
  // Then one request per 100 ms, never two.
  for (int k = 1; k <= 50; ++k) {
    const auto t = kT0 + milliseconds(100 * k);
    EXPECT_FALSE(rl.tryAcquire(t - nanoseconds(1)).allowed) << k;
    EXPECT_TRUE(rl.tryAcquire(t).allowed) << k;
    EXPECT_FALSE(rl.tryAcquire(t).allowed) << k;
  }
}

TEST(RateLimiter, RetryAfterIsTheExactWaitForOneRequest) {
  RateLimiter rl(2.0, 3);  // T = 500 ms
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rl.tryAcquire(kT0).allowed);
  auto d = rl.tryAcquire(kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(500));
  EXPECT_EQ(d.retryAfterSeconds(), 1);
  d = rl.tryAcquire(kT0 + milliseconds(499));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(1));
  EXPECT_EQ(d.retryAfterSeconds(), 1);
  // Refusals change nothing: the promised time holds.
  d = rl.tryAcquire(kT0 + milliseconds(500));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.retry_after, nanoseconds(0));
}

TEST(RateLimiter, SlowRateRetryAfterRoundsUpToSeconds) {
  RateLimiter rl(1.0 / 60.0, 1);  // one a minute
  ASSERT_TRUE(rl.tryAcquire(kT0).allowed);
  auto d = rl.tryAcquire(kT0 + milliseconds(1500));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(58'500));
  EXPECT_EQ(d.retryAfterSeconds(), 59);
  EXPECT_TRUE(rl.tryAcquire(kT0 + seconds(60)).allowed);
}

TEST(RetryAfterSeconds, RoundsUpAndIsAtLeastOne) {
  EXPECT_EQ(retryAfterSeconds(nanoseconds(0)), 1);
  EXPECT_EQ(retryAfterSeconds(nanoseconds(-5)), 1);
  EXPECT_EQ(retryAfterSeconds(nanoseconds(1)), 1);
  EXPECT_EQ(retryAfterSeconds(seconds(1)), 1);
  EXPECT_EQ(retryAfterSeconds(seconds(1) + nanoseconds(1)), 2);
  EXPECT_EQ(retryAfterSeconds(milliseconds(2500)), 3);
  EXPECT_EQ(retryAfterSeconds(seconds(60)), 60);
}

TEST(RateLimiter, RecoversAfterWaitingButNeverBeyondTheBurst) {
  RateLimiter rl(5.0, 4);  // T = 200 ms
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(rl.tryAcquire(kT0).allowed);
  ASSERT_FALSE(rl.tryAcquire(kT0).allowed);
  // Idle for an hour: the bucket is full again, i.e. exactly `burst`, not 3600 * rate.
  const auto later = kT0 + std::chrono::hours(1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(rl.tryAcquire(later).allowed) << i;
  EXPECT_FALSE(rl.tryAcquire(later).allowed);
  // Partial refill: 400 ms later two tokens.
  EXPECT_TRUE(rl.tryAcquire(later + milliseconds(400)).allowed);
  EXPECT_TRUE(rl.tryAcquire(later + milliseconds(400)).allowed);
  EXPECT_FALSE(rl.tryAcquire(later + milliseconds(400)).allowed);
}

TEST(RateLimiter, AnOlderTimestampIsNeverAdmittedMore) {
  RateLimiter rl(1.0, 2);
  ASSERT_TRUE(rl.tryAcquire(kT0 + seconds(10)).allowed);
  ASSERT_TRUE(rl.tryAcquire(kT0 + seconds(10)).allowed);
  EXPECT_FALSE(rl.tryAcquire(kT0).allowed);  // a late caller with a stale clock reading
  EXPECT_TRUE(rl.tryAcquire(kT0 + seconds(11)).allowed);
}

TEST(RateLimiter, BurstBelowOneIsOne) {
  RateLimiter rl(1000.0, 1);
  EXPECT_EQ(rl.burst(), 1u);
  EXPECT_EQ(rl.interval(), milliseconds(1));
  EXPECT_TRUE(rl.tryAcquire(kT0).allowed);
  EXPECT_FALSE(rl.tryAcquire(kT0).allowed);
}

// The textbook token bucket in integer nanoseconds of credit, as the reference: capacity burst*T,
// one request costs T, credit accrues 1 ns per ns.
class ReferenceBucket {
 public:
  ReferenceBucket(std::int64_t t_ns, std::int64_t burst)
      : t_(t_ns), cap_(t_ns * burst), credit_(cap_) {}
  bool take(std::int64_t now) {
    if (last_) credit_ = std::min(cap_, credit_ + (now - *last_));
    last_ = now;
    if (credit_ < t_) return false;
    credit_ -= t_;
    return true;
  }

 private:
  std::int64_t t_, cap_, credit_;
  std::optional<std::int64_t> last_;
};

TEST(RateLimiter, MatchesAReferenceTokenBucketDecisionByDecision) {
  for (const auto& [rate, burst] : {std::pair{1000.0, 1u}, {1000.0, 7u}, {8.0, 3u}, {50.0, 20u}}) {
    RateLimiter rl(rate, burst);
    ReferenceBucket ref(rl.interval().count(), burst);
    std::uint64_t x = 88172645463325252ULL;  // xorshift: deterministic arrival gaps
    std::int64_t now = 0;
    int admitted = 0;
    for (int i = 0; i < 20'000; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      now += static_cast<std::int64_t>(x % (2 * rl.interval().count()));
      const bool want = ref.take(now);
      ASSERT_EQ(rl.tryAcquire(kT0 + nanoseconds(now)).allowed, want)
          << "rate " << rate << " burst " << burst << " step " << i;
      admitted += want;
    }
    EXPECT_GT(admitted, 0);
    EXPECT_LT(admitted, 20'000);
  }
}

// ---------------------------------------------------------------------------------------------
// RateLimiter, many threads

TEST(RateLimiter, FourThreadsAtOneInstantAdmitExactlyTheBurst) {
  for (int round = 0; round < 50; ++round) {
    RateLimiter rl(100.0, 997);
    std::atomic<int> admitted{0};
    std::atomic<int> ready{0};
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        // Spin (not block) until all are ready, so the threads enter the limiter together.
        ++ready;
        while (ready.load() < kThreads) std::this_thread::yield();
        int mine = 0;
        for (int i = 0; i < 2'000; ++i) mine += rl.tryAcquire(kT0).allowed;
        admitted += mine;
      });
    }
    threads.clear();
    EXPECT_EQ(admitted.load(), 997) << "round " << round;
  }
}

// Threads hammer the limiter in lock-step phases of a simulated clock: in each phase every thread
// calls tryAcquire many times at the phase's `now`, then the clock advances by `step`. Admissions
// must equal burst + floor(elapsed * rate) exactly.
int admittedOnSimulatedClock(double rate, std::uint32_t burst, nanoseconds step, int phases) {
  RateLimiter rl(rate, burst);
  std::atomic<int> admitted{0};
  std::atomic<std::int64_t> now_ns{kT0.time_since_epoch().count()};
  std::barrier phase_end(kThreads, [&]() noexcept { now_ns += step.count(); });
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      int mine = 0;
      for (int p = 0; p < phases; ++p) {
        const Clock::time_point now{nanoseconds(now_ns.load())};
        for (int i = 0; i < 64; ++i) mine += rl.tryAcquire(now).allowed;
        phase_end.arrive_and_wait();
      }
      admitted += mine;
    });
  }
  threads.clear();
  return admitted.load();
}

TEST(RateLimiter, FourThreadsOnAnAdvancingClockAdmitBurstPlusElapsedTimesRate) {
  struct Case {
    double rate;
    std::uint32_t burst;
    nanoseconds step;
    int phases;
    int expected;  // burst + floor((phases - 1) * step * rate)
  };
  const Case cases[] = {
      {1000.0, 10, std::chrono::microseconds(250), 2001, 10 + 500},  // 0.5 s
      {1000.0, 10, std::chrono::microseconds(333), 1501, 10 + 499},  // 0.4995 s
      {3.0, 4, milliseconds(100), 301, 4 + 90},                      // 30 s, T rounded to ns
      {250.0, 100, milliseconds(7), 500, 100 + 873},                 // 3.493 s
  };
  for (const Case& c : cases) {
    EXPECT_EQ(admittedOnSimulatedClock(c.rate, c.burst, c.step, c.phases), c.expected)
        << "rate " << c.rate << " burst " << c.burst << " step " << c.step.count();
  }
}

// ---------------------------------------------------------------------------------------------
// ConcurrencyLimiter

TEST(ConcurrencyLimiter, AdmitsUpToMaxAndReleasesOnDestruction) {
  ConcurrencyLimiter cl(2);
  {
    auto a = cl.tryAcquire();
    auto b = cl.tryAcquire();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(cl.inFlight(), 2u);
    EXPECT_FALSE(cl.tryAcquire());
    a.reset();
    EXPECT_EQ(cl.inFlight(), 1u);
    auto c = cl.tryAcquire();
    EXPECT_TRUE(c);
    EXPECT_FALSE(cl.tryAcquire());
  }
  EXPECT_EQ(cl.inFlight(), 0u);
}

TEST(ConcurrencyLimiter, PermitIsMoveOnlyAndReleasesOnce) {
  static_assert(!std::is_copy_constructible_v<ConcurrencyLimiter::Permit>);
  static_assert(std::is_nothrow_move_constructible_v<ConcurrencyLimiter::Permit>);
  ConcurrencyLimiter cl(3);
  auto a = cl.tryAcquire();
  ASSERT_TRUE(a);
  ConcurrencyLimiter::Permit moved = std::move(*a);
  EXPECT_FALSE(a->held());
  EXPECT_TRUE(moved.held());
  a.reset();  // the moved-from permit gives nothing back
  EXPECT_EQ(cl.inFlight(), 1u);
  auto b = cl.tryAcquire();
  moved = std::move(*b);  // move-assign returns the slot `moved` held
  EXPECT_EQ(cl.inFlight(), 1u);
  moved.release();
  moved.release();  // idempotent
  EXPECT_EQ(cl.inFlight(), 0u);
}

TEST(ConcurrencyLimiter, FourThreadsHoldingAdmitExactlyMax) {
  for (int round = 0; round < 20; ++round) {
    ConcurrencyLimiter cl(5);
    std::atomic<int> granted{0};
    std::atomic<int> ready{0};
    std::latch counted(kThreads);
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        std::vector<ConcurrencyLimiter::Permit> held;
        ++ready;
        while (ready.load() < kThreads) std::this_thread::yield();
        for (int i = 0; i < 1'000; ++i) {
          if (auto p = cl.tryAcquire()) held.push_back(std::move(*p));
        }
        granted += static_cast<int>(held.size());
        counted.arrive_and_wait();  // everyone counted before anyone releases
      });
    }
    threads.clear();
    EXPECT_EQ(granted.load(), 5) << "round " << round;
    EXPECT_EQ(cl.inFlight(), 0u);
  }
}

TEST(ConcurrencyLimiter, ChurningThreadsNeverExceedMax) {
  ConcurrencyLimiter cl(3);
  std::atomic<int> inside{0}, peak{0}, granted{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50'000; ++i) {
        auto p = cl.tryAcquire();
        if (!p) continue;
        const int now_inside = ++inside;
        int seen = peak.load();
        while (now_inside > seen && !peak.compare_exchange_weak(seen, now_inside)) {
        }
        ++granted;
        --inside;
      }
    });
  }
  threads.clear();
  EXPECT_LE(peak.load(), 3);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(cl.inFlight(), 0u);
}

// ---------------------------------------------------------------------------------------------
// GrantQuota / admit

TEST(Admit, NullQuotaIsUnlimited) {
  for (int i = 0; i < 1000; ++i) {
    QuotaTicket t = admit(nullptr, kT0);
    EXPECT_TRUE(t.allowed());
    EXPECT_FALSE(t.permit);
    EXPECT_FALSE(t.keep_alive);
  }
}

TEST(Admit, ConcurrencyRefusalConsumesNoRateToken) {
  auto q = std::make_shared<GrantQuota>(1.0, 2, 1);
  QuotaTicket first = admit(q, kT0);
  ASSERT_TRUE(first.allowed());
  for (int i = 0; i < 10; ++i) {
    QuotaTicket t = admit(q, kT0);
    EXPECT_EQ(t.verdict, QuotaVerdict::ConcurrencyExceeded);
    EXPECT_EQ(t.retryAfterSeconds(), 1);
  }
  first = QuotaTicket{};  // response written: slot back
  EXPECT_EQ(q->concurrencyLimiter()->inFlight(), 0u);
  EXPECT_TRUE(admit(q, kT0).allowed());  // the second token of the burst is still there
}

TEST(Admit, RateRefusalHoldsNoSlotAndCarriesRetryAfter) {
  auto q = std::make_shared<GrantQuota>(1.0, 1, 5);
  QuotaTicket ok = admit(q, kT0);
  ASSERT_TRUE(ok.allowed());
  QuotaTicket t = admit(q, kT0 + milliseconds(250));
  EXPECT_EQ(t.verdict, QuotaVerdict::RateExceeded);
  EXPECT_EQ(t.retry_after, milliseconds(750));
  EXPECT_EQ(t.retryAfterSeconds(), 1);
  EXPECT_FALSE(t.permit);
  EXPECT_EQ(q->concurrencyLimiter()->inFlight(), 1u);
}

TEST(Admit, TicketKeepsItsQuotaAliveAfterEveryoneElseDropsIt) {
  auto q = std::make_shared<GrantQuota>(0.0, 0, 1);
  std::weak_ptr<GrantQuota> watch = q;
  QuotaTicket t = admit(q, kT0);
  ASSERT_TRUE(t.allowed());
  q.reset();  // a reload dropped the grant while the request is in flight
  EXPECT_FALSE(watch.expired());
  t = QuotaTicket{};
  EXPECT_TRUE(watch.expired());
}

// ---------------------------------------------------------------------------------------------
// QuotaRegistry

TEST(QuotaRegistry, UnlimitedGrantsHaveNoState) {
  QuotaRegistry reg;
  EXPECT_EQ(reg.forGrant("p.yaml|KZ/GOV/1/a|svc", 0, 0, 0), nullptr);
  EXPECT_EQ(reg.forGrant("p.yaml|KZ/GOV/1/a|svc", 0, 50, 0), nullptr);  // burst without a rate
  EXPECT_EQ(reg.size(), 0u);
  auto only_rate = reg.forGrant("k", 5, 5, 0);
  ASSERT_TRUE(only_rate);
  EXPECT_TRUE(only_rate->rateLimiter());
  EXPECT_FALSE(only_rate->concurrencyLimiter());
  auto only_conc = reg.forGrant("k2", 0, 0, 4);
  ASSERT_TRUE(only_conc);
  EXPECT_FALSE(only_conc->rateLimiter());
  EXPECT_TRUE(only_conc->concurrencyLimiter());
}

TEST(QuotaRegistry, ReloadWithSameLimitsKeepsBucketAndInFlight) {
  QuotaRegistry reg;
  const std::string key = "providers/tax.yaml|KZ/GOV/240140000031/benefits|tax-service";
  auto gen1 = reg.forGrant(key, 1.0, 2, 3);
  ASSERT_TRUE(admit(gen1, kT0).allowed());
  QuotaTicket in_flight = admit(gen1, kT0);  // second token; still running during the reload
  ASSERT_TRUE(in_flight.allowed());

  auto gen2 = reg.forGrant(key, 1.0, 2, 3);  // new snapshot built while gen1 is alive
  gen1.reset();                              // then the old snapshot goes
  EXPECT_EQ(gen2->concurrencyLimiter()->inFlight(), 1u);
  EXPECT_EQ(admit(gen2, kT0).verdict, QuotaVerdict::RateExceeded);  // bucket not refilled
  in_flight = QuotaTicket{};
  EXPECT_EQ(gen2->concurrencyLimiter()->inFlight(), 0u);
  EXPECT_EQ(reg.size(), 1u);
}

TEST(QuotaRegistry, ChangedLimitsStartFresh) {
  QuotaRegistry reg;
  auto old_state = reg.forGrant("k", 1.0, 1, 2);
  ASSERT_TRUE(admit(old_state, kT0).allowed());
  ASSERT_FALSE(admit(old_state, kT0).allowed());

  auto new_rate = reg.forGrant("k", 2.0, 1, 2);
  EXPECT_NE(new_rate, old_state);
  EXPECT_TRUE(admit(new_rate, kT0).allowed());
  auto new_burst = reg.forGrant("k", 1.0, 3, 2);
  EXPECT_NE(new_burst, old_state);
  auto new_max = reg.forGrant("k", 1.0, 1, 9);
  EXPECT_NE(new_max, old_state);
  EXPECT_EQ(new_max->concurrencyLimiter()->max(), 9u);
  auto other_key = reg.forGrant("k2", 1.0, 1, 2);
  EXPECT_NE(other_key, old_state);
}

TEST(QuotaRegistry, AnAbandonedBuildDisturbsNothing) {
  QuotaRegistry reg;
  auto live = reg.forGrant("k", 1.0, 1, 0);
  ASSERT_TRUE(admit(live, kT0).allowed());
  reg.forGrant("k", 7.0, 1, 0).reset();  // a reload with other limits that failed validation
  EXPECT_EQ(reg.forGrant("k", 1.0, 1, 0), live);
}

TEST(QuotaRegistry, StateEndsWhenNoSnapshotHoldsIt) {
  QuotaRegistry reg;
  auto a = reg.forGrant("k", 1.0, 1, 0);
  ASSERT_TRUE(admit(a, kT0).allowed());
  a.reset();
  EXPECT_EQ(reg.size(), 0u);
  auto b = reg.forGrant("k", 1.0, 1, 0);
  EXPECT_TRUE(admit(b, kT0).allowed());  // fresh bucket
}

TEST(QuotaRegistry, ManyReloadsKeepTheMapBounded) {
  QuotaRegistry reg;
  std::vector<std::shared_ptr<GrantQuota>> snapshot;
  for (int gen = 0; gen < 200; ++gen) {
    std::vector<std::shared_ptr<GrantQuota>> next;
    for (int g = 0; g < 10; ++g) {
      next.push_back(reg.forGrant("k" + std::to_string(g), 1.0 + gen, 1, 0));
    }
    snapshot = std::move(next);
  }
  EXPECT_EQ(reg.size(), 10u);
}

// ---------------------------------------------------------------------------------------------
// UsageCounters

TEST(UsageCounters, OneCounterPerGrantedPairKeptAcrossReloads) {
  metrics::Metrics m;
  config::PolicyBundle bundle;
  config::System& client = bundle.systems["KZ/GOV/240140000031/benefits"];
  client.id = "KZ/GOV/240140000031/benefits";
  config::Service& tax = bundle.services["tax-service"];
  tax.id = "tax-service";
  config::Service& pop = bundle.services["population-register"];
  pop.id = "population-register";
  config::Grant g;
  g.client = &client;
  g.services = {&tax, &pop};
  bundle.grants.push_back(g);
  bundle.grants.push_back(g);  // a second grant for the same pairs: still one counter each

  UsageCounters usage(m, bundle);
  EXPECT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage.find(&client, &tax), m.usageCounter(client.id, tax.id));
  config::System stranger;
  EXPECT_EQ(usage.find(&stranger, &tax), nullptr);
  usage.count(&client, &tax);
  usage.count(&client, &tax);
  usage.count(&stranger, &tax);  // no grant: ignored

  UsageCounters after_reload(m, bundle);
  after_reload.count(&client, &tax);
  const std::string text = m.serialize();
  EXPECT_NE(text.find("qaqpa_usage_requests_total{client=\"KZ/GOV/240140000031/benefits\","
                      "service=\"tax-service\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("service=\"population-register\"} 0"), std::string::npos) << text;

  UsageCounters none;
  none.count(&client, &tax);
  EXPECT_EQ(none.find(&client, &tax), nullptr);
}

}  // namespace
}  // namespace qaqpa::policy
