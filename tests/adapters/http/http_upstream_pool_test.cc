// HttpUpstreamPool against a real provider on a loopback socket (port 0), both driven by one
// io_context, so every behaviour below goes through real TCP and Beast framing.
#include "adapters/http/http_upstream_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include "gateway/pipeline/wire.h"

namespace qaqpa::adapters::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using common::StatusCode;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

enum class Behaviour { KeepAlive, CloseHeader, SilentCloseAfterResponse, Delay, Garbage, HugeBody };

// A provider whose behaviour the test chooses; counts accepted connections and requests.
class FakeProvider {
 public:
  FakeProvider(asio::io_context& ioc, Behaviour b) : ioc_(ioc), acceptor_(ioc), behaviour_(b) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, acceptLoop(), asio::detached);
  }
  std::uint16_t port() const { return port_; }
  int connections = 0;
  int requests = 0;
  std::string last_target;

  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      ++connections;
      asio::co_spawn(ioc_, serve(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket sock) {
    boost::beast::flat_buffer buf;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, n] = co_await bhttp::async_read(sock, buf, req, kNoThrow);
      if (ec) co_return;
      ++requests;
      last_target = std::string(req.target());
      if (behaviour_ == Behaviour::Garbage) {
        co_await asio::async_write(sock, asio::buffer(std::string_view("NOT HTTP AT ALL\r\n\r\n")),
                                   kNoThrow);
        co_return;
      }
      if (behaviour_ == Behaviour::Delay) {
        asio::steady_timer t(ioc_, std::chrono::seconds(5));
        co_await t.async_wait(kNoThrow);
      }
      bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "application/json");
      res.body() = behaviour_ == Behaviour::HugeBody ? std::string(4096, 'x') : "{\"ok\":true}";
      res.keep_alive(behaviour_ != Behaviour::CloseHeader);
      res.prepare_payload();
      auto [wec, wn] = co_await bhttp::async_write(sock, res, kNoThrow);
      if (wec || behaviour_ == Behaviour::CloseHeader ||
          behaviour_ == Behaviour::SilentCloseAfterResponse) {
        boost::system::error_code ignored;
        sock.shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
      }
    }
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  Behaviour behaviour_;
  std::uint16_t port_ = 0;
};

routing::UpstreamRequest wire(pipeline::Request req) {
  routing::UpstreamRequest out;
  out.method = req.method();
  pipeline::serializeHead(req, out.head);
  return out;  // no bodies in these tests
}

class HttpUpstreamPoolTest : public ::testing::Test {
 protected:
  HttpUpstreamPoolTest() {
    settings_.connect_timeout = std::chrono::milliseconds(1000);
    settings_.max_idle_per_host = 4;
    settings_.max_response_body_bytes = 1024;
  }

  routing::UpstreamResult send(HttpUpstreamPool& pool, std::uint16_t port,
                               bhttp::verb method = bhttp::verb::get,
                               std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    config::Upstream up{"http", "127.0.0.1", port, ""};
    pipeline::Request req{method, "/p?q=1", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.prepare_payload();
    const routing::UpstreamRequest out = wire(req);
    auto fut = asio::co_spawn(ioc_, pool.send(up, out, timeout), asio::use_future);
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ioc_.run_one_for(std::chrono::milliseconds(50));
    }
    return fut.get();
  }

  // Let the provider's side run (e.g. process a close) without a sleep: poll handlers only.
  void settle() {
    for (int i = 0; i < 50; ++i) ioc_.poll();
  }

  asio::io_context ioc_;
  config::UpstreamSettings settings_;
  metrics::Metrics metrics_;
};

TEST_F(HttpUpstreamPoolTest, ReusesOneKeepAliveConnection) {
  FakeProvider provider(ioc_, Behaviour::KeepAlive);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  for (int i = 0; i < 20; ++i) {
    auto r = send(pool, provider.port());
    ASSERT_TRUE(r.response) << r.failure.internal;
    EXPECT_EQ(r.response->result_int(), 200);
    EXPECT_EQ(r.response->body(), "{\"ok\":true}");
  }
  EXPECT_EQ(provider.connections, 1);
  EXPECT_EQ(provider.requests, 20);
  EXPECT_EQ(provider.last_target, "/p?q=1");
  EXPECT_EQ(pool.idleCount(), 1u);
}

TEST_F(HttpUpstreamPoolTest, ConnectionCloseFromProviderIsNotPooled) {
  FakeProvider provider(ioc_, Behaviour::CloseHeader);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(send(pool, provider.port()).response);
  EXPECT_EQ(provider.connections, 3);
  EXPECT_EQ(pool.idleCount(), 0u);
}

TEST_F(HttpUpstreamPoolTest, PooledConnectionClosedByProviderIsDetectedAndReplaced) {
  FakeProvider provider(ioc_, Behaviour::SilentCloseAfterResponse);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  ASSERT_TRUE(send(pool, provider.port()).response);
  settle();
  // POST is not idempotent: it only succeeds because the dead connection is noticed before use.
  auto r = send(pool, provider.port(), bhttp::verb::post);
  ASSERT_TRUE(r.response) << r.failure.internal;
  EXPECT_EQ(provider.connections, 2);
  EXPECT_EQ(provider.requests, 2);
}

TEST_F(HttpUpstreamPoolTest, RefusedConnectionIsProviderUnavailable) {
  // Closed, but kept alive: its accept coroutine still has to run once to see the closure.
  FakeProvider provider(ioc_, Behaviour::KeepAlive);
  const std::uint16_t port = provider.port();
  provider.stop();
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  auto r = send(pool, port);
  ASSERT_FALSE(r.response);
  EXPECT_EQ(r.failure.code, StatusCode::ProviderUnavailable);
  EXPECT_TRUE(r.failure.retryable);
}

TEST_F(HttpUpstreamPoolTest, SlowProviderIsProviderTimeout) {
  FakeProvider provider(ioc_, Behaviour::Delay);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  auto r = send(pool, provider.port(), bhttp::verb::get, std::chrono::milliseconds(100));
  ASSERT_FALSE(r.response);
  EXPECT_EQ(r.failure.code, StatusCode::ProviderTimeout);
  EXPECT_EQ(pool.idleCount(), 0u) << "a timed-out connection is never pooled";
}

TEST_F(HttpUpstreamPoolTest, GarbageIsProviderError) {
  FakeProvider provider(ioc_, Behaviour::Garbage);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  auto r = send(pool, provider.port());
  ASSERT_FALSE(r.response);
  EXPECT_EQ(r.failure.code, StatusCode::ProviderError);
}

TEST_F(HttpUpstreamPoolTest, OversizeResponseIsProviderError) {
  FakeProvider provider(ioc_, Behaviour::HugeBody);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  auto r = send(pool, provider.port());
  ASSERT_FALSE(r.response);
  EXPECT_EQ(r.failure.code, StatusCode::ProviderError);
}

TEST_F(HttpUpstreamPoolTest, IdleConnectionsAreBoundedPerHost) {
  FakeProvider provider(ioc_, Behaviour::KeepAlive);
  HttpUpstreamPool pool(ioc_.get_executor(), settings_, &metrics_.upstream());
  // Six concurrent requests need six connections; only max_idle_per_host (4) stay pooled.
  config::Upstream up{"http", "127.0.0.1", provider.port(), ""};
  std::vector<routing::UpstreamRequest> reqs(6, wire(pipeline::Request{bhttp::verb::get, "/", 11}));
  std::vector<std::future<routing::UpstreamResult>> futs;
  for (auto& r : reqs) {
    futs.push_back(
        asio::co_spawn(ioc_, pool.send(up, r, std::chrono::seconds(2)), asio::use_future));
  }
  for (auto& f : futs) {
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ioc_.run_one_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(f.get().response);
  }
  EXPECT_EQ(provider.connections, 6);
  EXPECT_EQ(pool.idleCount(), 4u);
  pool.closeIdle();
  EXPECT_EQ(pool.idleCount(), 0u);
}

}  // namespace
}  // namespace qaqpa::adapters::http
