// The policy stage with shared (Redis) quotas and replay window (issue #6 item 3): two "replicas"
// — each its own io_context, RedisClient, SharedPolicyState, local ReplayWindow and QuotaRegistry,
// as two gateway processes have — against one real redis-server. The rate limit and the replay
// window hold across both; with Redis gone each replica decides alone (counted); back → shared.

#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/common/ids.h"
#include "gateway/metrics/metrics.h"
#include "gateway/policy/policy_runtime.h"
#include "gateway/policy/policy_stage.h"
#include "gateway/shared_state/shared_fallback.h"
#include "gateway/shared_state/shared_keys.h"
#include "tests/adapters/redis/redis_server_process.h"
#include "tests/support/test_snapshot.h"

namespace qaqpa::policy {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using adapters::redis::RedisClient;
using adapters::redis::testing::RedisServerProcess;
using common::Reason;
using common::StatusCode;
using config::Zone;
using pipeline::Exchange;
using pipeline::StageResult;
using shared_state::FallbackReason;
using shared_state::SharedPolicyState;
using Steady = std::chrono::steady_clock;

const std::string kTax = "KZ/GOV/240140000021/tax-service";
const std::string kRegister = "KZ/GOV/240140000011/population-register";

// Runs body on ioc until it finishes (bounded: a hang fails the test instead of blocking it).
template <class T>
T runOn(asio::io_context& ioc, asio::awaitable<T> body) {
  auto fut = asio::co_spawn(ioc, std::move(body), asio::use_future);
  ioc.restart();
  const auto end = Steady::now() + 30s;
  while (fut.wait_for(0s) != std::future_status::ready && Steady::now() < end) {
    ioc.run_one_for(50ms);
  }
  if (fut.wait_for(0s) != std::future_status::ready) {
    ADD_FAILURE() << "awaitable did not finish";
    std::abort();  // the frame still references the test's objects
  }
  return fut.get();
}

std::shared_ptr<const config::Snapshot> registry(double rate, std::uint32_t burst) {
  test_support::SnapshotBuilder b;
  b.demoTrust(true)
      .system(kTax, Zone::State)
      .system(kRegister, Zone::State)
      .service("weather.today", kRegister, {Zone::State}, false)
      .grant(kTax, {"weather.today"});
  auto built = b.build();
  auto& grant = std::const_pointer_cast<config::Snapshot>(built)->policy.grants.at(0);
  grant.rate_per_second = rate;
  grant.burst = burst;
  grant.key = "test.yaml|" + kTax + "|weather.today";
  return built;
}

// One gateway process as far as the policy stage is concerned.
struct Replica {
  Replica(const RedisServerProcess& server, std::shared_ptr<const config::Snapshot> snap) {
    adapters::redis::RedisSettings s;
    s.host = "127.0.0.1";
    s.port = server.port();
    s.connect_timeout = 2000ms;
    s.reconnect_backoff_initial = 10ms;
    s.reconnect_backoff_max = 50ms;
    std::string error;
    client = RedisClient::createBlocking(ioc.get_executor(), s, nullptr, &error);
    EXPECT_TRUE(client) << error;
    client->start();
    const metrics::SharedStateCounters& c = metrics.sharedState();
    shared_metrics = {c.rate_shared, c.rate_local, c.replay_shared, c.replay_local, c.fallbacks};
    // A generous deadline: the machine running the tests is shared and loaded; outages are
    // simulated by killing Redis, which fails calls at once, not by slowness.
    shared = std::make_unique<SharedPolicyState>(*client, 600'000ms, 1000ms, &shared_metrics);
    snapshot = std::move(snap);
    runtime = buildPolicyRuntime(snapshot, quotas, metrics);
  }
  ~Replica() {
    stage.reset();
    shared.reset();
    client.reset();
    ioc.restart();
    ioc.poll();
  }

  bool waitConnected() { return runOn(ioc, client->waitConnected(Steady::now() + 5s)); }

  // A service call from tax-service with the given message id (as the envelope stage leaves it).
  StageResult call(int id, bool async = false) {
    ex.emplace(snapshot, Zone::State, pipeline::Request{bhttp::verb::get, "/", 11});
    ex->envelope_parsed = true;
    char text[40];
    std::snprintf(text, sizeof text, "0190a6f4-3c2b-7d1e-8f00-%012x", id);
    ex->envelope.message_id = *common::parseUuid(text);
    ex->envelope.correlation_id = ex->envelope.message_id;
    ex->envelope.client = kTax;
    ex->envelope.service_id = "weather.today";
    ex->envelope.async_requested = async;
    ex->started = Steady::now();
    ex->received_at = std::chrono::system_clock::now();
    ex->policy_state = runtime;
    return runOn(ioc, stage->onRequest(*ex));
  }

  std::string metricsText() const { return metrics.serialize(); }

  asio::io_context ioc;
  std::unique_ptr<RedisClient> client;
  metrics::Metrics metrics;
  shared_state::SharedStateMetrics shared_metrics;
  std::unique_ptr<SharedPolicyState> shared;
  ReplayWindow replay{std::chrono::minutes(10), 4096};
  PolicyContext context{&replay, nullptr};
  QuotaRegistry quotas;
  std::shared_ptr<const config::Snapshot> snapshot;
  std::shared_ptr<const PolicyRuntime> runtime;
  std::unique_ptr<pipeline::Stage> stage = makePolicyStage(context, &shared);
  std::optional<Exchange> ex;
};

void expectRateLimited(const StageResult& r, const Replica& replica) {
  ASSERT_EQ(r.action, StageResult::Action::Fail);
  EXPECT_EQ(r.failure.code, StatusCode::RateLimited);
  EXPECT_EQ(r.failure.reason, Reason::RateExceeded);
  // rate 0.001/s: the next token is ~1000 s away
  EXPECT_GT(replica.ex->retry_after_seconds, 900);
  EXPECT_EQ(replica.ex->grant, nullptr);
}

class SharedPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    // burst 3, then one request per ~17 minutes: nothing refills while the test runs.
    a_ = std::make_unique<Replica>(server_, registry(0.001, 3));
    b_ = std::make_unique<Replica>(server_, registry(0.001, 3));
    ASSERT_TRUE(a_->waitConnected());
    ASSERT_TRUE(b_->waitConnected());
  }

  RedisServerProcess server_;
  std::unique_ptr<Replica> a_;
  std::unique_ptr<Replica> b_;
};

TEST_F(SharedPolicyTest, TheGrantsRateLimitHoldsAcrossReplicas) {
  // Alternating A, B, A: the burst of 3 is the grant's, not each replica's.
  EXPECT_EQ(a_->call(1).action, StageResult::Action::Continue);
  EXPECT_EQ(b_->call(2).action, StageResult::Action::Continue);
  EXPECT_EQ(a_->call(3).action, StageResult::Action::Continue);
  expectRateLimited(b_->call(4), *b_);
  expectRateLimited(a_->call(5), *a_);
  // Each local bucket is untouched (still full): Redis decided, not the replica.
  const auto& local = a_->runtime->quotaOf(&a_->snapshot->policy.grants.at(0));
  ASSERT_NE(local, nullptr);
  EXPECT_TRUE((*local)->rateLimiter()->tryAcquire(Steady::now()).allowed);
  EXPECT_EQ(a_->shared->localDecisions(), 0u);
  EXPECT_EQ(b_->shared->localDecisions(), 0u);
  // 3 rate decisions + 2 replay records on A.
  EXPECT_EQ(a_->shared->sharedDecisions(), 5u);
  EXPECT_NE(a_->metricsText().find(
                R"(qaqpa_shared_state_decisions_total{check="rate",source="shared"} 3)"),
            std::string::npos)
      << a_->metricsText();
}

TEST_F(SharedPolicyTest, AMessageIdAcceptedByOneReplicaIsADuplicateOnTheOther) {
  ASSERT_EQ(a_->call(7).action, StageResult::Action::Continue);
  const StageResult r = b_->call(7);
  ASSERT_EQ(r.action, StageResult::Action::Fail);
  EXPECT_EQ(r.failure.code, StatusCode::Duplicate);
  EXPECT_EQ(r.failure.reason, Reason::MessageReplayed);
  EXPECT_EQ(a_->call(7).failure.code, StatusCode::Duplicate);
  // The id lives under the client's hash tag, with the window as its lifetime.
  auto ttl =
      runOn(a_->ioc, a_->client->exec(Steady::now() + 5s, "PTTL",
                                      shared_state::replayKey(kTax, a_->ex->envelope.message_id)));
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl.value.integer, 590'000);
  // Mirrored locally on A (for an outage), not on B (B never accepted it).
  EXPECT_EQ(a_->replay.size(), 1u);
  EXPECT_EQ(b_->replay.size(), 0u);
}

TEST_F(SharedPolicyTest, ARateLimitedRequestDoesNotConsumeItsMessageId) {
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(a_->call(i).action, StageResult::Action::Continue);
  expectRateLimited(b_->call(9), *b_);
  auto exists =
      runOn(b_->ioc, b_->client->exec(Steady::now() + 5s, "EXISTS",
                                      shared_state::replayKey(kTax, b_->ex->envelope.message_id)));
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists.value.integer, 0);
}

TEST_F(SharedPolicyTest, WithRedisGoneEachReplicaDecidesAloneThenSharesAgain) {
  ASSERT_EQ(a_->call(1).action, StageResult::Action::Continue);  // id 1 mirrored on A
  server_.kill();
  // A still knows the id it accepted while Redis was up; B cannot (the documented gap).
  EXPECT_EQ(a_->call(1).failure.code, StatusCode::Duplicate);
  EXPECT_EQ(b_->call(1).action, StageResult::Action::Continue);
  // Each replica now has its own full bucket of 3 (the grant's 2 tokens in Redis are out of
  // reach); the calls above took one each.
  for (Replica* r : {a_.get(), b_.get()}) {
    for (int i = 10; i < 12; ++i) {
      const StageResult ok = r->call(i);
      EXPECT_EQ(ok.action, StageResult::Action::Continue) << ok.failure.internal;
    }
    expectRateLimited(r->call(12), *r);
    EXPECT_TRUE(r->shared->degraded());
  }
  // A: 4 rate (1, 10, 11, 12) + 3 replay (1, 10, 11) local decisions; every one counted.
  EXPECT_EQ(a_->shared->localDecisions(), 7u);
  const std::uint64_t counted = a_->shared->fallbacks(FallbackReason::Disconnected) +
                                a_->shared->fallbacks(FallbackReason::Timeout);
  EXPECT_EQ(counted, 7u);
  EXPECT_NE(a_->metricsText().find(
                R"(qaqpa_shared_state_decisions_total{check="rate",source="local"} 4)"),
            std::string::npos)
      << a_->metricsText();

  // Redis back (empty: no persistence): shared again at the first call after reconnecting.
  ASSERT_TRUE(server_.start());
  ASSERT_TRUE(a_->waitConnected());
  ASSERT_TRUE(b_->waitConnected());
  const std::uint64_t local_before = a_->shared->localDecisions();
  for (int i = 20; i < 23; ++i) {
    Replica* r = i % 2 == 0 ? a_.get() : b_.get();
    EXPECT_EQ(r->call(i).action, StageResult::Action::Continue);
  }
  expectRateLimited(a_->call(23), *a_);  // one bucket for both again, though A's local is empty
  EXPECT_FALSE(a_->shared->degraded());
  EXPECT_EQ(a_->shared->localDecisions(), local_before);
}

TEST_F(SharedPolicyTest, AnEmptySlotIsTheLocalBehaviour) {
  a_->shared.reset();  // what a worker without redis.shared_state has
  ASSERT_EQ(a_->call(1).action, StageResult::Action::Continue);
  EXPECT_EQ(a_->call(1).failure.code, StatusCode::Duplicate);  // the local window
  ASSERT_EQ(a_->call(2).action, StageResult::Action::Continue);
  expectRateLimited(a_->call(3), *a_);  // the local bucket of 3
  // Redis saw nothing: B still has the grant's whole burst.
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(b_->call(i).action, StageResult::Action::Continue);
}

TEST_F(SharedPolicyTest, AnAsyncSubmissionIsNotRecordedInTheSharedWindow) {
  b_->context.async_enabled = true;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(b_->call(6, /*async=*/true).action, StageResult::Action::Continue) << i;
  }
  auto exists =
      runOn(b_->ioc, b_->client->exec(Steady::now() + 5s, "EXISTS",
                                      shared_state::replayKey(kTax, b_->ex->envelope.message_id)));
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists.value.integer, 0);
  EXPECT_EQ(b_->replay.size(), 0u);
  EXPECT_EQ(b_->shared->sharedDecisions(), 2u);  // the two rate decisions only
}

}  // namespace
}  // namespace qaqpa::policy
