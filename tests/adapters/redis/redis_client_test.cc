// RedisClient against a real redis-server started by each test (free loopback port or a unix
// socket in a temp dir, no persistence). The client and the test body share one io_context;
// waits are on conditions with bounded deadlines, never fixed sleeps.
#include "adapters/redis/redis_client.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <fstream>
#include <functional>
#include <future>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "tests/adapters/redis/redis_server_process.h"

namespace qaqpa::adapters::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::RedisServerProcess;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

RedisDeadline in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

// Waits until pred() holds, checking every millisecond; false after the bound.
asio::awaitable<bool> waitFor(std::function<bool()> pred, std::chrono::milliseconds bound = 10s) {
  const auto end = std::chrono::steady_clock::now() + bound;
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) co_return false;
    t.expires_after(1ms);
    co_await t.async_wait(kNoThrow);
  }
  co_return true;
}

// Counters registered on a private registry, so tests read what the client reported.
struct TestMetrics {
  TestMetrics() {
    auto& c = prometheus::BuildCounter().Name("redis_test_total").Help("t").Register(registry);
    auto counter = [&](const char* kind) { return &c.Add({{"kind", kind}}); };
    m.commands = counter("commands");
    m.error_replies = counter("error_replies");
    m.timeouts = counter("timeouts");
    m.disconnected = counter("disconnected");
    m.overloaded = counter("overloaded");
    m.late_replies = counter("late_replies");
    m.reconnects = counter("reconnects");
    m.connect_failures = counter("connect_failures");
    m.connections_lost = counter("connections_lost");
    m.script_fallbacks = counter("script_fallbacks");
    m.connected =
        &prometheus::BuildGauge().Name("redis_test_connected").Help("t").Register(registry).Add({});
    m.command_seconds = &prometheus::BuildHistogram()
                             .Name("redis_test_seconds")
                             .Help("t")
                             .Register(registry)
                             .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1});
  }
  static double v(prometheus::Counter* c) { return c->Value(); }
  prometheus::Registry registry;
  RedisMetrics m;
};

class RedisClientTest : public ::testing::Test {
 protected:
  // hiredis writes with write(2): a server gone mid-write raises SIGPIPE. The gateway ignores it
  // (gateway/exe/main.cc); so must every process using the client.
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  RedisSettings tcpSettings(const RedisServerProcess& s) {
    RedisSettings r;
    r.host = "127.0.0.1";
    r.port = s.port();
    r.connect_timeout = 2000ms;
    r.reconnect_backoff_initial = 10ms;
    r.reconnect_backoff_max = 100ms;
    return r;
  }

  std::unique_ptr<RedisClient> make(RedisSettings s) {
    std::string error;
    auto c = RedisClient::createBlocking(ioc_.get_executor(), std::move(s), &metrics_.m, &error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  // Runs body on the io_context until it finishes (bounded), rethrowing its gtest failures.
  void run(std::function<asio::awaitable<void>()> body) {
    auto fut = asio::co_spawn(ioc_, body(), asio::use_future);
    ioc_.restart();
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (fut.wait_for(0s) != std::future_status::ready &&
           std::chrono::steady_clock::now() < end) {
      ioc_.run_one_for(100ms);
    }
    ASSERT_EQ(fut.wait_for(0s), std::future_status::ready) << "test body did not finish";
    fut.get();
  }

  std::string writeFile(const std::string& dir, const std::string& name, const std::string& s) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << s;
    return path;
  }

  asio::io_context ioc_;
  TestMetrics metrics_;
};

TEST_F(RedisClientTest, PingSetGetBinarySafe) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    EXPECT_EQ(client->state(), RedisState::Connected);
    RedisReply pong = co_await client->exec(in(2s), "PING");
    EXPECT_TRUE(pong.ok());
    EXPECT_EQ(pong.value.type, RedisValue::Type::Status);
    EXPECT_EQ(pong.value.str, "PONG");

    const std::string key("k\0ey", 4);
    const std::string small("a\0b\r\n$3\0", 9);
    RedisReply set = co_await client->exec(in(2s), "SET", key, small);
    EXPECT_TRUE(set.value.isOk());
    RedisReply get = co_await client->exec(in(2s), "GET", key);
    EXPECT_TRUE(get.value.isString());
    EXPECT_EQ(get.value.str, small);

    std::string big(1 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 256);
    RedisReply setbig = co_await client->exec(in(5s), "SET", "big", big);
    EXPECT_TRUE(setbig.value.isOk());
    RedisReply getbig = co_await client->exec(in(5s), "GET", "big");
    EXPECT_EQ(getbig.value.str.size(), big.size());
    EXPECT_TRUE(getbig.value.str == big);

    RedisReply missing = co_await client->exec(in(2s), "GET", "no-such-key");
    EXPECT_EQ(missing.errc, RedisErrc::Ok);
    EXPECT_TRUE(missing.value.isNil());
    RedisReply incr = co_await client->exec(in(2s), "INCR", "n");
    EXPECT_TRUE(incr.value.isInteger());
    EXPECT_EQ(incr.value.integer, 1);

    std::vector<std::string_view> dynamic = {"ECHO", "dyn"};
    RedisReply echo = co_await client->exec(std::span<const std::string_view>(dynamic), in(2s));
    EXPECT_EQ(echo.value.str, "dyn");

    RedisReply empty = co_await client->exec(std::span<const std::string_view>(), in(2s));
    EXPECT_EQ(empty.errc, RedisErrc::Invalid);
  });
  EXPECT_EQ(client->inFlight(), 0u);
  EXPECT_GE(metrics_.m.command_seconds->Collect().histogram.sample_count, 8u);
  EXPECT_EQ(metrics_.m.connected->Value(), 1.0);
}

TEST_F(RedisClientTest, PipelinesThousandCommandsInOrder) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    std::vector<std::string> values;
    for (int i = 0; i < 1000; ++i) values.push_back("v" + std::to_string(i));
    std::vector<RedisArgv> batch;
    for (int i = 0; i < 1000; ++i) {
      if (i % 2 == 0) {
        batch.push_back({"INCR", "counter"});
      } else {
        batch.push_back({"RPUSH", "list", values[i]});
      }
    }
    std::vector<RedisReply> replies = co_await client->execBatch(batch, in(10s));
    EXPECT_EQ(replies.size(), 1000u);
    for (int i = 0; i < 1000 && i < static_cast<int>(replies.size()); ++i) {
      EXPECT_EQ(replies[i].errc, RedisErrc::Ok) << i;
      EXPECT_TRUE(replies[i].value.isInteger());
      EXPECT_EQ(replies[i].value.integer, i / 2 + 1) << i;  // INCR and RPUSH both count up
    }
    RedisReply range = co_await client->exec(in(2s), "LRANGE", "list", "0", "-1");
    EXPECT_EQ(range.value.elements.size(), 500u);
    if (range.value.elements.size() == 500u) {
      EXPECT_EQ(range.value.elements[499].str, "v999");
    }
  });
  EXPECT_EQ(TestMetrics::v(metrics_.m.commands), 1001.0);
}

TEST_F(RedisClientTest, ErrorRepliesNilAndNestedArrays) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    RedisReply unknown = co_await client->exec(in(2s), "NOSUCHCOMMAND", "x");
    EXPECT_EQ(unknown.errc, RedisErrc::Ok);
    EXPECT_TRUE(unknown.value.isError());
    EXPECT_FALSE(unknown.ok());
    EXPECT_TRUE(unknown.value.str.starts_with("ERR")) << unknown.value.str;

    co_await client->exec(in(2s), "SET", "s", "text");
    RedisReply wrongtype = co_await client->exec(in(2s), "LPUSH", "s", "x");
    EXPECT_TRUE(wrongtype.value.str.starts_with("WRONGTYPE")) << wrongtype.value.str;

    std::vector<RedisArgv> batch = {
        {"XADD", "stream", "1-1", "f", "a"},
        {"XADD", "stream", "2-1", "f", "b", "g", std::string_view("\0", 1)},
        {"XRANGE", "stream", "-", "+"},
        {"MGET", "s", "missing"},
        {"BADCMD"}};
    std::vector<RedisReply> r = co_await client->execBatch(batch, in(2s));
    EXPECT_EQ(r[0].value.str, "1-1");
    const RedisValue& xr = r[2].value;
    EXPECT_TRUE(xr.isArray());
    EXPECT_EQ(xr.elements.size(), 2u);
    if (xr.elements.size() == 2u) {
      EXPECT_EQ(xr.elements[1].elements[0].str, "2-1");
      const RedisValue& fields = xr.elements[1].elements[1];
      EXPECT_EQ(fields.elements.size(), 4u);
      if (fields.elements.size() == 4u) {
        EXPECT_EQ(fields.elements[3].str, std::string("\0", 1));
      }
    }
    EXPECT_EQ(r[3].value.elements.size(), 2u);
    if (r[3].value.elements.size() == 2u) {
      EXPECT_EQ(r[3].value.elements[0].str, "text");
      EXPECT_TRUE(r[3].value.elements[1].isNil());
    }
    EXPECT_TRUE(r[4].value.isError());  // an error inside a pipeline does not disturb the rest
    RedisReply ping = co_await client->exec(in(2s), "PING");
    EXPECT_TRUE(ping.ok());
  });
  EXPECT_EQ(TestMetrics::v(metrics_.m.error_replies), 3.0);
}

TEST_F(RedisClientTest, DeadlineGivesTimeoutAndLateReplyIsDiscarded) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    const auto t0 = std::chrono::steady_clock::now();
    RedisReply slow = co_await client->exec(in(50ms), "DEBUG", "SLEEP", "0.5");
    EXPECT_EQ(slow.errc, RedisErrc::Timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 450ms);  // did not wait for the server
    EXPECT_EQ(client->inFlight(), 1u);                        // still owed by the server
    // A whole batch behind the sleeping server times out as well.
    std::vector<RedisArgv> batch = {{"PING"}, {"PING"}};
    std::vector<RedisReply> late = co_await client->execBatch(batch, in(20ms));
    EXPECT_EQ(late[0].errc, RedisErrc::Timeout);
    EXPECT_EQ(late[1].errc, RedisErrc::Timeout);
    // The next command queues behind the sleep and gets its own answer, not the late ones.
    RedisReply echo = co_await client->exec(in(5s), "ECHO", "after");
    EXPECT_EQ(echo.errc, RedisErrc::Ok);
    EXPECT_EQ(echo.value.str, "after");
  });
  EXPECT_EQ(client->inFlight(), 0u);
  EXPECT_EQ(TestMetrics::v(metrics_.m.timeouts), 3.0);
  EXPECT_EQ(TestMetrics::v(metrics_.m.late_replies), 3.0);
  EXPECT_EQ(client->state(), RedisState::Connected);
}

TEST_F(RedisClientTest, InFlightBoundRefusesAtOnce) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  RedisSettings s = tcpSettings(server);
  s.max_in_flight = 4;
  auto client = make(s);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    std::optional<std::vector<RedisReply>> first;
    asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          std::vector<RedisArgv> b = {{"DEBUG", "SLEEP", "0.2"}, {"PING"}, {"PING"}};
          first = co_await client->execBatch(b, in(5s));
        },
        asio::detached);
    EXPECT_TRUE(co_await waitFor([&] { return client->inFlight() == 3; }));
    std::vector<RedisArgv> two = {{"PING"}, {"PING"}};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<RedisReply> refused = co_await client->execBatch(two, in(5s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
    EXPECT_EQ(refused[0].errc, RedisErrc::Overloaded);
    EXPECT_EQ(refused[1].errc, RedisErrc::Overloaded);
    std::optional<RedisReply> fourth;
    asio::co_spawn(
        ioc_, [&]() -> asio::awaitable<void> { fourth = co_await client->exec(in(5s), "PING"); },
        asio::detached);
    EXPECT_TRUE(co_await waitFor([&] { return client->inFlight() == 4; }));
    RedisReply fifth = co_await client->exec(in(5s), "PING");
    EXPECT_EQ(fifth.errc, RedisErrc::Overloaded);
    EXPECT_TRUE(co_await waitFor([&] { return first && fourth; }));
    if (first) {
      for (auto& r : *first) EXPECT_TRUE(r.ok());
    }
    if (fourth) {
      EXPECT_TRUE(fourth->ok());
    }
    RedisReply after = co_await client->exec(in(5s), "PING");
    EXPECT_TRUE(after.ok());
  });
  EXPECT_EQ(TestMetrics::v(metrics_.m.overloaded), 3.0);
}

TEST_F(RedisClientTest, ServerKilledMidCommandThenReconnects) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  std::vector<RedisState> seen;
  client->setStateListener([&](RedisState st) { seen.push_back(st); });
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    int completions = 0;
    std::vector<RedisReply> got;
    auto one = [&](std::vector<RedisArgv> cmds) -> asio::awaitable<void> {
      std::vector<RedisReply> r = co_await client->execBatch(cmds, in(20s));
      ++completions;
      for (auto& x : r) got.push_back(std::move(x));
    };
    asio::co_spawn(ioc_, one({{"BLPOP", "never", "0"}}), asio::detached);
    asio::co_spawn(ioc_, one({{"PING"}, {"GET", "x"}}), asio::detached);
    asio::co_spawn(ioc_, one({{"ECHO", "e"}}), asio::detached);
    EXPECT_TRUE(co_await waitFor([&] { return client->inFlight() == 4; }));
    server.kill();
    EXPECT_TRUE(co_await waitFor([&] { return completions == 3; }));
    EXPECT_EQ(got.size(), 4u);
    for (auto& r : got) EXPECT_EQ(r.errc, RedisErrc::Disconnected);
    EXPECT_NE(client->state(), RedisState::Connected);
    RedisReply down = co_await client->exec(in(2s), "PING");
    EXPECT_EQ(down.errc, RedisErrc::Disconnected);  // fails fast, no queueing while down
    // Several reconnect attempts fail (refused) while the server is away.
    EXPECT_TRUE(co_await waitFor([&] { return metrics_.m.connect_failures->Value() >= 2; }));

    EXPECT_TRUE(server.start());
    EXPECT_TRUE(co_await client->waitConnected(in(10s)));
    RedisReply ping = co_await client->exec(in(2s), "PING");
    EXPECT_TRUE(ping.ok());
    asio::steady_timer settle(ioc_, 20ms);  // let the posted listener calls run
    co_await settle.async_wait(kNoThrow);
    EXPECT_EQ(completions, 3);  // nothing completed twice
  });
  EXPECT_EQ(TestMetrics::v(metrics_.m.connections_lost), 1.0);
  EXPECT_EQ(TestMetrics::v(metrics_.m.reconnects), 1.0);
  EXPECT_EQ(client->inFlight(), 0u);
  ASSERT_GE(seen.size(), 4u);
  EXPECT_EQ(seen[0], RedisState::Connecting);
  EXPECT_EQ(seen[1], RedisState::Connected);
  EXPECT_EQ(seen[2], RedisState::Down);
  EXPECT_EQ(seen.back(), RedisState::Connected);
}

// The server stops reading (DEBUG SLEEP) while 32 MiB are being written, then dies: hiredis
// finds the error in redisAsyncHandleWrite or HandleRead and frees its context there.
TEST_F(RedisClientTest, ServerKilledDuringALargeWrite) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    const std::string huge(32u << 20, 'h');
    std::optional<std::vector<RedisReply>> got;
    asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          std::vector<RedisArgv> b = {{"DEBUG", "SLEEP", "2"}, {"SET", "huge", huge}};
          got = co_await client->execBatch(b, in(20s));
        },
        asio::detached);
    EXPECT_TRUE(co_await waitFor([&] { return client->inFlight() == 2; }));
    server.kill();
    EXPECT_TRUE(co_await waitFor([&] { return got.has_value(); }));
    if (got) {
      for (auto& r : *got) EXPECT_EQ(r.errc, RedisErrc::Disconnected);
    }
    EXPECT_TRUE(server.start());
    EXPECT_TRUE(co_await client->waitConnected(in(10s)));
    RedisReply ping = co_await client->exec(in(2s), "PING");
    EXPECT_TRUE(ping.ok());
  });
  EXPECT_EQ(client->inFlight(), 0u);
}

// The server closes the connection right after answering (CLIENT KILL of itself, then QUIT):
// hiredis frees its context inside redisAsyncHandleRead, between callbacks of one read.
TEST_F(RedisClientTest, ContextFreedInsideReadIsHandled) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    RedisReply id = co_await client->exec(in(2s), "CLIENT", "ID");
    const std::string myid = std::to_string(id.value.integer);
    std::vector<RedisArgv> batch = {
        {"CLIENT", "KILL", "ID", myid, "SKIPME", "no"}, {"PING"}, {"PING"}};
    std::vector<RedisReply> r = co_await client->execBatch(batch, in(5s));
    EXPECT_EQ(r[0].errc, RedisErrc::Ok);  // answered, then the server closed
    EXPECT_EQ(r[0].value.integer, 1);
    EXPECT_EQ(r[1].errc, RedisErrc::Disconnected);
    EXPECT_EQ(r[2].errc, RedisErrc::Disconnected);
    EXPECT_TRUE(co_await client->waitConnected(in(10s)));
    std::vector<RedisArgv> quit = {{"ECHO", "x"}, {"QUIT"}, {"PING"}};
    r = co_await client->execBatch(quit, in(5s));
    EXPECT_EQ(r[0].value.str, "x");
    EXPECT_EQ(r[2].errc, RedisErrc::Disconnected);
    EXPECT_TRUE(co_await client->waitConnected(in(10s)));
    RedisReply ping = co_await client->exec(in(2s), "PING");
    EXPECT_TRUE(ping.ok());
  });
  EXPECT_EQ(TestMetrics::v(metrics_.m.connections_lost), 2.0);
  EXPECT_EQ(client->inFlight(), 0u);
}

TEST_F(RedisClientTest, DestroyingTheClientCompletesPendingOnce) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  int completions = 0;
  std::optional<RedisReply> got;
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    asio::co_spawn(
        ioc_,
        [&, c = client.get()]() -> asio::awaitable<void> {
          got = co_await c->exec(in(20s), "BLPOP", "never", "0");
          ++completions;
        },
        asio::detached);
    EXPECT_TRUE(co_await waitFor([&] { return client->inFlight() == 1; }));
    client.reset();
    EXPECT_TRUE(co_await waitFor([&] { return completions > 0; }));
  });
  EXPECT_EQ(completions, 1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->errc, RedisErrc::Disconnected);
}

TEST_F(RedisClientTest, AuthWithPasswordFile) {
  RedisServerProcess server({.requirepass = "s3cr3t pass"});
  ASSERT_TRUE(server.start());
  RedisSettings good = tcpSettings(server);
  good.password_file = writeFile(server.dir(), "good", "s3cr3t pass\n");
  good.db = 2;
  auto client = make(good);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    co_await client->exec(in(2s), "SET", "in-db-2", "yes");
    RedisReply db = co_await client->exec(in(2s), "CLIENT", "INFO");
    EXPECT_NE(db.value.str.find(" db=2 "), std::string::npos) << db.value.str;
  });
  EXPECT_EQ(TestMetrics::v(metrics_.m.connect_failures), 0.0);

  RedisSettings bad = tcpSettings(server);
  bad.password_file = writeFile(server.dir(), "bad", "wrong");
  auto refused = make(bad);
  refused->start();
  run([&]() -> asio::awaitable<void> {
    // It keeps retrying with backoff and never becomes Connected.
    EXPECT_TRUE(co_await waitFor([&] { return metrics_.m.connect_failures->Value() >= 3; }));
    EXPECT_NE(refused->state(), RedisState::Connected);
    RedisReply r = co_await refused->exec(in(1s), "PING");
    EXPECT_EQ(r.errc, RedisErrc::Disconnected);
  });
  refused.reset();

  std::string error;
  RedisSettings missing = tcpSettings(server);
  missing.password_file = server.dir() + "/absent";
  EXPECT_FALSE(RedisClient::createBlocking(ioc_.get_executor(), missing, nullptr, &error));
  EXPECT_NE(error.find("password_file"), std::string::npos);
  RedisSettings empty = tcpSettings(server);
  empty.password_file = writeFile(server.dir(), "empty", "\n");
  EXPECT_FALSE(RedisClient::createBlocking(ioc_.get_executor(), empty, nullptr, &error));
  EXPECT_EQ(error.find("s3cr3t"), std::string::npos);
}

TEST_F(RedisClientTest, SelectOfAMissingDbFailsTheHandshake) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  RedisSettings s = tcpSettings(server);
  s.db = 99;  // redis-server has 16 databases by default
  auto client = make(s);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await waitFor([&] { return metrics_.m.connect_failures->Value() >= 2; }));
    EXPECT_NE(client->state(), RedisState::Connected);
  });
  // The PING answered after the refused SELECT (same read) must not make it usable, not even
  // briefly (it did before handshake_failed existed: Connected, then "lost", in a loop).
  EXPECT_EQ(TestMetrics::v(metrics_.m.connections_lost), 0.0);
  EXPECT_EQ(metrics_.m.command_seconds->Collect().histogram.sample_count, 0u);
  EXPECT_EQ(metrics_.m.connected->Value(), 0.0);
}

TEST_F(RedisClientTest, StopIsFinal) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    std::optional<RedisReply> pending;
    asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          pending = co_await client->exec(in(20s), "BLPOP", "never", "0");
        },
        asio::detached);
    EXPECT_TRUE(co_await waitFor([&] { return client->inFlight() == 1; }));
    client->stop();
    EXPECT_EQ(client->state(), RedisState::Down);
    EXPECT_TRUE(co_await waitFor([&] { return pending.has_value(); }));
    if (pending) {
      EXPECT_EQ(pending->errc, RedisErrc::Disconnected);
    }
    EXPECT_FALSE(co_await client->waitConnected(in(5s)));  // at once: stopped
    client->start();                                       // does nothing after stop()
    RedisReply r = co_await client->exec(in(1s), "PING");
    EXPECT_EQ(r.errc, RedisErrc::Disconnected);
  });
  EXPECT_EQ(client->state(), RedisState::Down);
  EXPECT_EQ(TestMetrics::v(metrics_.m.connections_lost), 0.0);  // a stop is not a loss
}

TEST_F(RedisClientTest, UnixSocket) {
  RedisServerProcess server({.unix_socket = true});
  ASSERT_TRUE(server.start());
  RedisSettings s;
  s.unix_path = server.unixPath();
  auto client = make(s);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    RedisReply set = co_await client->exec(in(2s), "SET", "u", std::string_view("\0\1", 2));
    EXPECT_TRUE(set.value.isOk());
    RedisReply get = co_await client->exec(in(2s), "GET", "u");
    EXPECT_EQ(get.value.str, std::string("\0\1", 2));
    RedisReply info = co_await client->exec(in(2s), "CLIENT", "INFO");
    EXPECT_NE(info.value.str.find("laddr=" + server.unixPath()), std::string::npos)
        << info.value.str;
  });
}

// A host name is resolved by Asio's resolver (not by hiredis on the worker); localhost may list
// ::1 first while the server listens on 127.0.0.1 only: the addresses are tried in turn.
TEST_F(RedisClientTest, ResolvesHostNames) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  RedisSettings s = tcpSettings(server);
  s.host = "localhost";
  auto client = make(s);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    RedisReply ping = co_await client->exec(in(2s), "PING");
    EXPECT_TRUE(ping.ok());
  });
}

TEST_F(RedisClientTest, EvalShaFallsBackToEvalAfterScriptFlush) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  client->start();
  const RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    const std::string_view keys[] = {"quota"};
    const std::string_view args[] = {"5"};
    RedisReply a = co_await client->evalScript(script, keys, args, in(2s));  // not cached yet
    EXPECT_EQ(a.value.integer, 5);
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 1.0);
    RedisReply b = co_await client->evalScript(script, keys, args, in(2s));  // EVALSHA hit
    EXPECT_EQ(b.value.integer, 10);
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 1.0);
    co_await client->exec(in(2s), "SCRIPT", "FLUSH");
    RedisReply c = co_await client->evalScript(script, keys, args, in(2s));
    EXPECT_EQ(c.value.integer, 15);
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 2.0);
    co_await client->exec(in(2s), "SCRIPT", "FLUSH");
    RedisReply loaded = co_await client->loadScript(script, in(2s));
    EXPECT_EQ(loaded.value.str, script.sha1());  // our SHA1 is the server's
    RedisReply d = co_await client->evalScript(script, keys, args, in(2s));
    EXPECT_EQ(d.value.integer, 20);
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 2.0);
    // A script error is an error reply, not a fallback.
    const RedisScript broken("return redis.call('NOSUCH')");
    RedisReply e = co_await client->evalScript(broken, {}, {}, in(2s));
    EXPECT_TRUE(e.value.isError());
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 3.0);
  });
}

// preloadScript: every handshake (the first, and the one after a restart emptied the server's
// script cache) loads the script, so evalScript never needs the EVAL fallback; a script the
// server refuses to compile does not keep the connection from being used.
TEST_F(RedisClientTest, PreloadedScriptsAreCachedByEveryHandshake) {
  RedisServerProcess server;
  ASSERT_TRUE(server.start());
  auto client = make(tcpSettings(server));
  const RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  const RedisScript broken("this is not lua");
  client->preloadScript(script);
  client->preloadScript(broken);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client->waitConnected(in(5s)));
    RedisReply exists = co_await client->exec(in(2s), "SCRIPT", "EXISTS", script.sha1());
    EXPECT_TRUE(exists.ok());
    EXPECT_EQ(exists.value.elements.size(), 1u);
    if (exists.value.elements.size() == 1) {
      EXPECT_EQ(exists.value.elements[0].integer, 1) << "loaded before any call";
    }
    const std::string_view keys[] = {"quota"};
    const std::string_view args[] = {"5"};
    RedisReply a = co_await client->evalScript(script, keys, args, in(2s));
    EXPECT_EQ(a.value.integer, 5);
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 0.0);

    server.kill();  // no persistence: the restarted server has an empty script cache
    EXPECT_TRUE(co_await waitFor([&] { return client->state() != RedisState::Connected; }));
    EXPECT_TRUE(server.start());
    EXPECT_TRUE(co_await client->waitConnected(in(10s)));
    RedisReply b = co_await client->evalScript(script, keys, args, in(2s));
    EXPECT_EQ(b.value.integer, 5);
    EXPECT_EQ(metrics_.m.script_fallbacks->Value(), 0.0) << "reloaded by the new handshake";
  });
}

// A listener that accepts and never answers: the handshake's PING misses connect_timeout, the
// attempt is abandoned and retried.
TEST_F(RedisClientTest, ConnectDeadlineCoversTheHandshake) {
  asio::ip::tcp::acceptor silent(ioc_, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<asio::ip::tcp::socket> held;
  std::function<void()> accept = [&] {
    silent.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      held.push_back(std::move(s));
      accept();
    });
  };
  accept();
  RedisSettings s;
  s.port = silent.local_endpoint().port();
  s.connect_timeout = 50ms;
  s.reconnect_backoff_initial = 10ms;
  s.reconnect_backoff_max = 20ms;
  auto client = make(s);
  client->start();
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await waitFor([&] { return metrics_.m.connect_failures->Value() >= 2; }));
    EXPECT_NE(client->state(), RedisState::Connected);
    EXPECT_GE(held.size(), 2u);
    EXPECT_FALSE(co_await client->waitConnected(in(30ms)));
  });
  client.reset();
  silent.close();
}

TEST_F(RedisClientTest, RejectsInvalidSettings) {
  RedisSettings s;
  s.port = 0;
  std::string error;
  EXPECT_FALSE(RedisClient::createBlocking(ioc_.get_executor(), s, nullptr, &error));
  s.port = 6379;
  s.max_in_flight = 0;
  EXPECT_FALSE(RedisClient::createBlocking(ioc_.get_executor(), s, nullptr, &error));
  EXPECT_EQ(RedisScript("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace qaqpa::adapters::redis
