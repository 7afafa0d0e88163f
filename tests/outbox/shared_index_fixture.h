// A fixture for the outbox and the shared (Redis) digital-space index: a real redis-server
// (tests/adapters/redis/redis_server_process.h), real journals (one per "node", Ed25519-signed
// checkpoints) each with its own outbox Shipper, and a Redis client on the test thread to look at
// what was shipped. Waits are on observed conditions with a deadline; temp dirs per test.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/journal/format.h"
#include "gateway/journal/journal.h"
#include "gateway/outbox/shipper.h"
#include "qaqpa/journal/v1/journal.pb.h"
#include "tests/adapters/redis/redis_server_process.h"
#include "tests/consent/manual_time_source.h"
#include "tests/journal/journal_test_util.h"
#include "tests/space_index/space_index_test_util.h"

namespace qaqpa::outbox::test {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace pb = qaqpa::journal::v1;
using namespace std::chrono_literals;
using adapters::redis::RedisClient;
using adapters::redis::RedisReply;
using adapters::redis::testing::RedisServerProcess;
using Steady = std::chrono::steady_clock;

// The subjects, epoch and event ids of the embedded index's tests, so both indexes are tested
// with the same data.
using space_index::test::kA;
using space_index::test::kB;
using space_index::test::kCompany;
using space_index::test::kT0;
using space_index::test::uuidFor;

struct Spec {
  std::string subject;  // "" = none
  std::int64_t time_us = kT0 * 1000000;
  pb::Kind kind = pb::DATA_ACCESS;
  std::string service = "population.person";
  std::string client = "KZ/GOV/123456789012/registry";
};

// One gateway node: its journal and its outbox.
struct Node {
  std::string id;
  fs::path dir;
  std::unique_ptr<journal::Journal> journal;
  std::unique_ptr<Shipper> shipper;
  metrics::OutboxMetrics metrics;  // null handles: state is read from the shipper
};

class SharedIndexFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  // `aof`: the server keeps its data across kill + start (appendfsync always).
  void startRedis(bool aof) {
    RedisServerProcess::Options o;
    if (aof) o.extra_args = {"--appendonly", "yes", "--appendfsync", "always"};
    server_ = std::make_unique<RedisServerProcess>(o);
    ASSERT_TRUE(server_->start());
    std::string error;
    client_ = RedisClient::createBlocking(ioc_.get_executor(), settings(), nullptr, &error);
    ASSERT_TRUE(client_) << error;
    client_->start();
  }

  void SetUp() override {
    char tmpl[] = "/tmp/qaqpa-outbox-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }

  void TearDown() override {
    for (auto& [id, n] : nodes_) stopNode(n);
    client_.reset();
    ioc_.restart();
    ioc_.poll();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  adapters::redis::RedisSettings settings() const {
    adapters::redis::RedisSettings r;
    r.host = "127.0.0.1";
    r.port = server_->port();
    r.connect_timeout = 2000ms;
    r.reconnect_backoff_initial = 10ms;
    r.reconnect_backoff_max = 100ms;
    return r;
  }

  ShipperOptions shipperOptions(const Node& n) const {
    ShipperOptions o;
    o.node_id = n.id;
    o.dir = n.dir;
    o.redis = settings();
    o.batch_events = batch_events_;
    o.command_timeout = 2000ms;
    o.retry_initial = 10ms;
    o.retry_max = 100ms;
    o.idle_tick = 200ms;
    return o;
  }

  // Opens (or re-opens) node `id`'s journal and starts its outbox.
  Node& startNode(const std::string& id, bool with_shipper = true) {
    Node& n = nodes_[id];
    n.id = id;
    n.dir = root_ / id;
    journal::JournalOptions o;
    o.dir = n.dir;
    o.node_id = id;
    o.fsync = journal::FsyncPolicy::None;
    o.segment_max_bytes = segment_max_bytes_;
    o.retry_interval = 100ms;
    auto r = journal::Journal::openBlocking(std::move(o), signer_.signer(), time_);
    EXPECT_TRUE(r.journal) << r.error;
    n.journal = std::move(r.journal);
    if (with_shipper) startShipper(n);
    return n;
  }

  void startShipper(Node& n) {
    std::string error;
    n.shipper = Shipper::createBlocking(shipperOptions(n), &n.metrics, nullptr, error);
    ASSERT_TRUE(n.shipper) << error;
    n.journal->setCommitObserver(n.shipper->observer());
    n.shipper->start(n.journal->head().seq);
  }

  void stopNode(Node& n) {
    if (n.journal) n.journal->stop();
    if (n.shipper) n.shipper->stop();
    n.shipper.reset();
    n.journal.reset();
  }

  // Appends events (one group: one batch) and waits until durable; returns their ids and seqs.
  std::vector<std::pair<std::string, std::uint64_t>> append(Node& n,
                                                            const std::vector<Spec>& specs) {
    journal::test::Collector c;
    std::vector<journal::Journal::AppendRequest> reqs;
    std::vector<std::string> ids;
    for (const Spec& s : specs) {
      pb::DigitalEvent ev;
      ids.push_back(uuidFor(++counter_));
      ev.set_event_id(ids.back());
      ev.set_node_id(n.id);
      ev.mutable_time()->set_seconds(s.time_us / 1000000);
      ev.mutable_time()->set_nanos(static_cast<std::int32_t>(s.time_us % 1000000) * 1000);
      ev.set_zone(pb::STATE);
      ev.set_kind(s.kind);
      ev.mutable_client()->set_id(s.client);
      ev.mutable_provider()->set_id("KZ/GOV/210987654321/population");
      ev.mutable_service()->set_id(s.service);
      ev.set_subject(s.subject);
      ev.set_status("OK");
      ev.set_http_status(200);
      reqs.push_back({journal::test::deterministic(ev), c.callback()});
    }
    const std::size_t count = reqs.size();
    n.journal->appendMany(std::move(reqs));
    std::vector<std::pair<std::string, std::uint64_t>> out;
    const auto results = c.wait(count);
    for (std::size_t i = 0; i < count; ++i) {
      EXPECT_TRUE(results[i].ok());
      out.emplace_back(ids[i], results[i].seq);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    return out;
  }

  // Waits (bounded) until the node's outbox has shipped through `seq` and says caught-up.
  void waitShipped(Node& n, std::uint64_t seq) {
    const auto end = Steady::now() + 30s;
    while (Steady::now() < end) {
      if (n.shipper->shippedSeq() >= seq && n.shipper->state() == Shipper::State::CaughtUp) return;
      std::this_thread::sleep_for(2ms);
    }
    FAIL() << n.id << ": shipped " << n.shipper->shippedSeq() << " of " << seq << ", state "
           << Shipper::stateName(n.shipper->state());
  }
  void waitState(Node& n, Shipper::State s) {
    const auto end = Steady::now() + 30s;
    while (Steady::now() < end) {
      if (n.shipper->state() == s) return;
      std::this_thread::sleep_for(2ms);
    }
    FAIL() << n.id << ": state " << Shipper::stateName(n.shipper->state()) << ", want "
           << Shipper::stateName(s);
  }

  // Runs body on the test's io_context until it finishes (bounded).
  void run(std::function<asio::awaitable<void>()> body) {
    auto fut = asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          EXPECT_TRUE(co_await client_->waitConnected(Steady::now() + 10s));
          co_await body();
        },
        asio::use_future);
    ioc_.restart();
    const auto end = Steady::now() + 60s;
    while (fut.wait_for(0s) != std::future_status::ready && Steady::now() < end) {
      ioc_.run_one_for(50ms);
    }
    ASSERT_EQ(fut.wait_for(0s), std::future_status::ready) << "test body did not finish";
    fut.get();
  }

  // One command from the test thread.
  RedisReply cmd(std::vector<std::string> argv) {
    RedisReply out;
    run([&]() -> asio::awaitable<void> {
      std::vector<std::string_view> v(argv.begin(), argv.end());
      out = co_await client_->exec(std::span<const std::string_view>(v), Steady::now() + 5s);
    });
    return out;
  }

  fs::path root_;
  std::unique_ptr<RedisServerProcess> server_;
  asio::io_context ioc_;
  std::unique_ptr<RedisClient> client_;
  journal::test::TestSigner signer_;
  test_support::ManualTimeSource time_;
  std::map<std::string, Node> nodes_;
  std::uint64_t counter_ = 0;
  std::size_t batch_events_ = 512;
  std::uint64_t segment_max_bytes_ = 64ull << 20;
};

}  // namespace qaqpa::outbox::test
