// Dispatcher against a real redis-server with a fake DispatchHost (no provider, no journal):
// delivery, retries to NOT_DELIVERED with one journaled attempt each, a journal failure leaves the
// outcome unstored (entry pending), a service gone from the snapshot, the bound on deliveries in
// flight, and a clean stop. Waits poll an observed condition with a deadline; no sleeps.
#include "gateway/async/dispatcher.h"

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include "gateway/async/async_keys.h"
#include "tests/adapters/redis/redis_server_process.h"

namespace qaqpa::async {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using adapters::redis::RedisClient;
using adapters::redis::RedisSettings;
using adapters::redis::testing::RedisServerProcess;

constexpr std::string_view kClient = "KZ/GOV/240140000021/tax-service";

class FakeHost final : public DispatchHost {
 public:
  std::shared_ptr<const config::Snapshot> snapshot;
  // What the "provider" does with an exchange; default: 200 "delivered".
  std::function<asio::awaitable<pipeline::StageResult>(pipeline::Exchange&)> forward;
  bool journal_ok = true;
  std::vector<std::string> journaled;  // "<attempt>/<max>:<outcome>:<status code>"
  int forwards = 0;
  int in_forward = 0;
  int max_in_forward = 0;

  std::shared_ptr<const config::Snapshot> currentSnapshot() override { return snapshot; }
  std::string newEventId() override { return "0190a6f4-3c2b-7d1e-8f00-000000000001"; }
  asio::awaitable<pipeline::StageResult> forwardToProvider(pipeline::Exchange& ex) override {
    ++forwards;
    ++in_forward;
    max_in_forward = std::max(max_in_forward, in_forward);
    pipeline::StageResult r;
    if (forward) {
      r = co_await forward(ex);
    } else {
      ex.response = pipeline::Response{boost::beast::http::status::ok, 11};
      ex.response.set(boost::beast::http::field::content_type, "text/plain");
      ex.response.body() = "delivered " + std::string(ex.request.body());
      r = pipeline::StageResult::respond();
    }
    --in_forward;
    co_return r;
  }
  std::vector<std::string> callbacks;  // bodies
  asio::awaitable<bool> sendCallback(const std::string&, const std::string&,
                                     const std::string& body) override {
    callbacks.push_back(body);
    co_return true;
  }
  asio::awaitable<bool> journalDelivery(const pipeline::Exchange& ex,
                                        const DeliveryFacts& f) override {
    journaled.push_back(std::to_string(f.attempt) + "/" + std::to_string(f.max_attempts) + ":" +
                        std::string(f.outcome) + ":" + std::string(common::codeName(ex.status)));
    co_return journal_ok;
  }
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    auto snap = std::make_shared<config::Snapshot>();
    config::Service svc;
    svc.id = "person.byIin";
    svc.exposed_zones = {config::Zone::State};
    snap->policy.services.emplace(svc.id, svc);
    host_.snapshot = snap;
    settings_.partitions = 4;
    settings_.retry_initial = 1ms;
    settings_.retry_max = 2ms;
    settings_.max_attempts = 3;
    settings_.poll_interval = 5ms;
  }
  void TearDown() override {
    if (dispatcher_) {
      bool stopped = false;
      dispatcher_->stop([&] { stopped = true; });
      runUntil([&] { return stopped; });
      EXPECT_TRUE(stopped);
    }
  }

  void start() {
    RedisSettings r;
    r.host = "127.0.0.1";
    r.port = server_.port();
    r.reconnect_backoff_initial = 10ms;
    r.reconnect_backoff_max = 50ms;
    std::string error;
    client_ = RedisClient::createBlocking(ioc_.get_executor(), r, nullptr, &error);
    ASSERT_TRUE(client_) << error;
    client_->start();
    ASSERT_TRUE(run(client_->waitConnected(std::chrono::steady_clock::now() + 5s)));
    store_ = std::make_unique<MessageStore>(*client_, settings_, 2000ms);
    dispatcher_ =
        std::make_unique<Dispatcher>(ioc_.get_executor(), *store_, host_, "node/0", 0, 1, nullptr);
    dispatcher_->start();
  }

  template <class T>
  T run(asio::awaitable<T> task) {
    auto f = asio::co_spawn(ioc_, std::move(task), asio::use_future);
    runUntil([&] { return f.wait_for(0s) == std::future_status::ready; });
    return f.get();
  }
  bool runUntil(const std::function<bool()>& done, std::chrono::seconds limit = 10s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) ioc_.run_one_for(5ms);
    return done();
  }

  StoredRequest request(std::uint32_t n, std::string service = "person.byIin") {
    StoredRequest r;
    r.method = "POST";
    r.service_id = std::move(service);
    r.client = std::string(kClient);
    common::Uuid u;
    u.bytes[6] = 0x70;
    u.bytes[8] = 0x80;
    for (int i = 0; i < 4; ++i) u.bytes[12 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    r.message_id = common::toString(u);
    r.correlation_id = r.message_id;
    r.lang = "en";
    return r;
  }
  MessageStatus status(const StoredRequest& r) {
    const LookupResult l = run(store_->lookup(r.client, *common::parseUuid(r.message_id)));
    return l.found ? *l.found : MessageStatus{};
  }
  bool waitState(const StoredRequest& r, std::string_view state) {
    return runUntil([&] { return status(r).state == state; });
  }

  asio::io_context ioc_{1};
  RedisServerProcess server_;
  config::AsyncConfig settings_;
  FakeHost host_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<MessageStore> store_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, DeliversAndStoresTheAnswerAfterJournalingIt) {
  start();
  const StoredRequest r = request(1);
  ASSERT_EQ(run(store_->submit(r, "body")).outcome, SubmitOutcome::Created);
  dispatcher_->nudge();
  ASSERT_TRUE(waitState(r, "DELIVERED"));
  const MessageStatus m = status(r);
  EXPECT_EQ(m.result_status, 200);
  EXPECT_EQ(m.content_type, "text/plain");
  EXPECT_EQ(m.body, "delivered body");
  EXPECT_EQ(m.attempts, 1);
  EXPECT_EQ(host_.journaled, std::vector<std::string>{"1/3:DELIVERED:OK"});
}

TEST_F(DispatcherTest, ProviderFailuresAreRetriedThenNotDelivered) {
  host_.forward = [](pipeline::Exchange&) -> asio::awaitable<pipeline::StageResult> {
    co_return pipeline::StageResult::fail(common::Failure{
        common::StatusCode::ProviderTimeout, common::Reason::ProviderDeadline, {}, {}});
  };
  start();
  const StoredRequest r = request(1);
  ASSERT_EQ(run(store_->submit(r, "b")).outcome, SubmitOutcome::Created);
  ASSERT_TRUE(waitState(r, "NOT_DELIVERED"));
  const MessageStatus m = status(r);
  EXPECT_EQ(m.attempts, 3);
  EXPECT_NE(m.problem_json.find("\"PROVIDER_TIMEOUT\""), std::string::npos) << m.problem_json;
  EXPECT_NE(m.problem_json.find(r.message_id), std::string::npos) << m.problem_json;
  EXPECT_EQ(host_.journaled,
            (std::vector<std::string>{"1/3:RETRY:PROVIDER_TIMEOUT", "2/3:RETRY:PROVIDER_TIMEOUT",
                                      "3/3:NOT_DELIVERED:PROVIDER_TIMEOUT"}));
  EXPECT_EQ(host_.forwards, 3);
}

TEST_F(DispatcherTest, AServiceGoneFromTheSnapshotIsNotDeliveredWithoutCallingAnyone) {
  start();
  const StoredRequest r = request(1, "removed.service");
  ASSERT_EQ(run(store_->submit(r, "b")).outcome, SubmitOutcome::Created);
  ASSERT_TRUE(waitState(r, "NOT_DELIVERED"));
  EXPECT_EQ(host_.forwards, 0);
  EXPECT_NE(status(r).problem_json.find("SERVICE_UNKNOWN"), std::string::npos);
  EXPECT_EQ(host_.journaled, std::vector<std::string>{"1/3:NOT_DELIVERED:SERVICE_NOT_FOUND"});
}

TEST_F(DispatcherTest, NoOutcomeIsStoredWhoseEventIsNotDurable) {
  host_.journal_ok = false;
  start();
  const StoredRequest r = request(1);
  ASSERT_EQ(run(store_->submit(r, "b")).outcome, SubmitOutcome::Created);
  ASSERT_TRUE(runUntil([&] { return !host_.journaled.empty(); }));
  ASSERT_TRUE(runUntil([&] { return host_.in_forward == 0; }));
  // Delivered on the wire, but without its event the result is not stored: still DISPATCHED and
  // pending in the group, for XAUTOCLAIM to retry after claim_idle.
  EXPECT_EQ(status(r).state, "DISPATCHED");
  const auto pending =
      run(client_->exec(std::chrono::steady_clock::now() + 2s, "XPENDING",
                        "qaqpa:{async:" +
                            std::to_string(partitionOf(kClient, *common::parseUuid(r.message_id),
                                                       settings_.partitions)) +
                            "}:stream",
                        "qaqpa-dispatch"));
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending.value.elements[0].integer, 1);
}

TEST_F(DispatcherTest, AClientWithACallbackIsNotifiedOfTheFinalStateOnly) {
  auto snap = std::make_shared<config::Snapshot>(*host_.snapshot);
  config::System client;
  client.id = std::string(kClient);
  client.callback = config::Upstream{"http", "127.0.0.1", 9, "/hook"};
  snap->policy.systems.emplace(client.id, client);
  host_.snapshot = snap;
  int calls = 0;
  host_.forward = [&](pipeline::Exchange& ex) -> asio::awaitable<pipeline::StageResult> {
    if (++calls == 1) {
      co_return pipeline::StageResult::fail(common::Failure{
          common::StatusCode::ProviderUnavailable, common::Reason::ProviderUnreachable, {}, {}});
    }
    ex.response = pipeline::Response{boost::beast::http::status::created, 11};
    co_return pipeline::StageResult::respond();
  };
  start();
  const StoredRequest r = request(1);
  ASSERT_EQ(run(store_->submit(r, "b")).outcome, SubmitOutcome::Created);
  ASSERT_TRUE(waitState(r, "DELIVERED"));
  ASSERT_TRUE(runUntil([&] { return !host_.callbacks.empty(); }));
  ASSERT_EQ(host_.callbacks.size(), 1u) << "the retry is not notified, the final state is";
  const auto note = boost::json::parse(host_.callbacks[0]).as_object();
  EXPECT_EQ(note.at("messageId").as_string(), r.message_id);
  EXPECT_EQ(note.at("state").as_string(), "DELIVERED");
  EXPECT_EQ(note.at("attempts").as_int64(), 2);
  EXPECT_EQ(note.at("providerStatus").as_int64(), 201);
  EXPECT_EQ(note.at("location").as_string(), "/v1/messages/" + r.message_id);
}

TEST_F(DispatcherTest, DeliveriesInFlightAreBoundedByMaxInFlight) {
  settings_.max_in_flight = 2;
  bool release = false;
  host_.forward = [&](pipeline::Exchange& ex) -> asio::awaitable<pipeline::StageResult> {
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (!release) {
      t.expires_after(2ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    ex.response = pipeline::Response{boost::beast::http::status::ok, 11};
    co_return pipeline::StageResult::respond();
  };
  start();
  std::vector<StoredRequest> rs;
  for (std::uint32_t i = 0; i < 12; ++i) {
    rs.push_back(request(i));
    ASSERT_EQ(run(store_->submit(rs.back(), "b")).outcome, SubmitOutcome::Created);
  }
  ASSERT_TRUE(runUntil([&] { return host_.in_forward == 2; }));
  // However long we wait, never a third delivery at once.
  const auto until = std::chrono::steady_clock::now() + 200ms;
  while (std::chrono::steady_clock::now() < until) ioc_.run_one_for(5ms);
  EXPECT_EQ(host_.max_in_forward, 2);
  release = true;
  for (const auto& r : rs) ASSERT_TRUE(waitState(r, "DELIVERED")) << r.message_id;
  EXPECT_EQ(host_.max_in_forward, 2);
  EXPECT_EQ(host_.forwards, 12);
}

}  // namespace
}  // namespace qaqpa::async
