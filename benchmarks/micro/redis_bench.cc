// RedisClient against a local redis-server started by the benchmark (no persistence): one
// command's round trip, and pipelined throughput (one execBatch of N commands per iteration, and
// N coroutines sharing the connection). TCP loopback (arg 0) and a unix socket (arg 1). The client
// and the benchmark loop run on one io_context on the benchmark's thread, as on a worker.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/redis/redis_client.h"
#include "tests/adapters/redis/redis_server_process.h"

namespace {

namespace asio = boost::asio;
using qaqpa::adapters::redis::RedisArgv;
using qaqpa::adapters::redis::RedisClient;
using qaqpa::adapters::redis::RedisDeadline;
using qaqpa::adapters::redis::RedisErrc;
using qaqpa::adapters::redis::RedisReply;
using qaqpa::adapters::redis::RedisSettings;
using qaqpa::adapters::redis::testing::RedisServerProcess;
using namespace std::chrono_literals;

// Started on first use, killed at exit (static destructor).
RedisServerProcess& server() {
  ::signal(SIGPIPE, SIG_IGN);  // hiredis writes with write(2)
  static RedisServerProcess s({.unix_socket = true});
  static const bool started = s.start();
  if (!started) std::abort();
  return s;
}

RedisDeadline in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

// Runs body(client) on a fresh io_context with a connected client; marks the benchmark failed
// when the client does not connect.
template <typename Body>
void withClient(benchmark::State& state, Body body) {
  asio::io_context ioc;
  RedisSettings s;
  if (state.range(0) == 1) {
    s.unix_path = server().unixPath();
  } else {
    s.port = server().port();
  }
  s.max_in_flight = 100000;
  auto client = RedisClient::createBlocking(ioc.get_executor(), s, nullptr);
  client->start();
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        if (!co_await client->waitConnected(in(5s))) {
          state.SkipWithError("redis not connected");
          co_return;
        }
        co_await body(*client);
        client->stop();  // its read wait would keep run() going
      },
      asio::detached);
  ioc.run();
}

void BM_RoundTripPing(benchmark::State& state) {
  withClient(state, [&](RedisClient& c) -> asio::awaitable<void> {
    for (auto _ : state) {
      RedisReply r = co_await c.exec(in(1s), "PING");
      if (r.errc != RedisErrc::Ok) state.SkipWithError("PING failed");
    }
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RoundTripPing)->Arg(0)->Arg(1)->UseRealTime();

void BM_RoundTripSetGet256B(benchmark::State& state) {
  const std::string value(256, 'v');
  withClient(state, [&](RedisClient& c) -> asio::awaitable<void> {
    for (auto _ : state) {
      RedisReply w = co_await c.exec(in(1s), "SET", "bench:k", value);
      RedisReply r = co_await c.exec(in(1s), "GET", "bench:k");
      if (r.value.str.size() != value.size()) state.SkipWithError("GET failed");
    }
  });
  state.SetItemsProcessed(2 * state.iterations());
}
BENCHMARK(BM_RoundTripSetGet256B)->Arg(0)->Arg(1)->UseRealTime();

// One execBatch of N SETs (64-byte values) per iteration: items = commands.
void BM_PipelinedBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(1));
  const std::string value(64, 'p');
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < n; ++i) keys.push_back("bench:p" + std::to_string(i));
  std::vector<RedisArgv> batch;
  for (auto& k : keys) batch.push_back({"SET", k, value});
  withClient(state, [&](RedisClient& c) -> asio::awaitable<void> {
    for (auto _ : state) {
      std::vector<RedisReply> r = co_await c.execBatch(batch, in(10s));
      if (r.back().errc != RedisErrc::Ok) state.SkipWithError("batch failed");
    }
  });
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
}
BENCHMARK(BM_PipelinedBatch)->ArgsProduct({{0, 1}, {10, 100, 1000}})->UseRealTime();

// N coroutines each awaiting its own PING, all on one connection (what N concurrent requests of
// one worker do): hiredis pipelines them. One iteration = N commands answered.
void BM_ConcurrentCallers(benchmark::State& state) {
  const int n = static_cast<int>(state.range(1));
  withClient(state, [&](RedisClient& c) -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    for (auto _ : state) {
      int done = 0;
      asio::steady_timer all(ex, asio::steady_timer::time_point::max());
      for (int i = 0; i < n; ++i) {
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
              co_await c.exec(in(1s), "PING");
              if (++done == n) all.cancel();
            },
            asio::detached);
      }
      co_await all.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  });
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
}
BENCHMARK(BM_ConcurrentCallers)->ArgsProduct({{0, 1}, {16, 128}})->UseRealTime();

}  // namespace
