#include "adapters/http/http_upstream_pool.h"

#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <string>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>

namespace qaqpa::adapters::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using common::Failure;
using common::Reason;
using common::StatusCode;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

struct Connection {
  explicit Connection(asio::any_io_executor ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since{};
};

bool isIdempotent(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
    case bhttp::verb::options:
      return true;
    default:
      return false;
  }
}

// True when the peer has not closed the pooled connection and sent nothing unsolicited.
bool stillUsable(Connection& c) {
  if (c.buffer.size() != 0) return false;
  char byte;
  const ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Failure unavailable(std::string internal) {
  return Failure{StatusCode::ProviderUnavailable,
                 Reason::ProviderUnreachable,
                 {},
                 std::move(internal),
                 0,
                 true};
}
Failure timedOut(std::string internal) {
  return Failure{
      StatusCode::ProviderTimeout, Reason::ProviderDeadline, {}, std::move(internal), 0, true};
}
Failure badResponse(std::string internal) {
  return Failure{
      StatusCode::ProviderError, Reason::ProviderBadResponse, {}, std::move(internal), 0, false};
}

}  // namespace

struct HttpUpstreamPool::Impl {
  asio::any_io_executor executor;
  config::UpstreamSettings settings;
  metrics::UpstreamMetrics* metrics;
  tcp::resolver resolver;
  std::unordered_map<std::string, std::deque<std::unique_ptr<Connection>>> idle;

  Impl(asio::any_io_executor ex, config::UpstreamSettings s, metrics::UpstreamMetrics* m)
      : executor(ex), settings(std::move(s)), metrics(m), resolver(ex) {}

  static std::string key(const config::Upstream& u) {
    std::string k = u.host;
    k += ':';
    k += std::to_string(u.port);
    return k;
  }

  std::unique_ptr<Connection> takeIdle(const std::string& k) {
    auto it = idle.find(k);
    if (it == idle.end()) return nullptr;
    auto& q = it->second;
    const auto now = std::chrono::steady_clock::now();
    while (!q.empty()) {
      auto c = std::move(q.back());
      q.pop_back();
      if (now - c->idle_since < settings.idle_keepalive && stillUsable(*c)) return c;
      beast::error_code ignored;
      c->stream.socket().close(ignored);
    }
    return nullptr;
  }

  void putIdle(const std::string& k, std::unique_ptr<Connection> c) {
    auto& q = idle[k];
    if (q.size() >= settings.max_idle_per_host) {
      // Keep the newest; the oldest is the likeliest to be closed by the provider soon.
      beast::error_code ignored;
      q.front()->stream.socket().close(ignored);
      q.pop_front();
    }
    c->idle_since = std::chrono::steady_clock::now();
    q.push_back(std::move(c));
  }

  asio::awaitable<std::unique_ptr<Connection>> connect(const config::Upstream& u, Failure& f) {
    auto conn = std::make_unique<Connection>(executor);
    conn->stream.expires_after(settings.connect_timeout);
    // Numeric hosts resolve without a lookup; names go through the resolver's own thread.
    auto [rec, results] = co_await resolver.async_resolve(u.host, std::to_string(u.port), kNoThrow);
    if (rec) {
      metrics::inc(metrics->connect_failures);
      f = unavailable("resolve " + u.host + ": " + rec.message());
      co_return nullptr;
    }
    auto [ec, ep] = co_await conn->stream.async_connect(results, kNoThrow);
    if (ec) {
      metrics::inc(metrics->connect_failures);
      f = ec == beast::error::timeout ? unavailable("connect timeout")
                                      : unavailable("connect: " + ec.message());
      co_return nullptr;
    }
    conn->stream.socket().set_option(tcp::no_delay(true));
    metrics::inc(metrics->connections_opened);
    co_return conn;
  }
};

HttpUpstreamPool::HttpUpstreamPool(asio::any_io_executor executor,
                                   config::UpstreamSettings settings,
                                   metrics::UpstreamMetrics* metrics)
    : impl_(std::make_unique<Impl>(executor, std::move(settings), metrics)) {}

HttpUpstreamPool::~HttpUpstreamPool() = default;

void HttpUpstreamPool::closeIdle() noexcept {
  for (auto& [k, q] : impl_->idle) {
    for (auto& c : q) {
      beast::error_code ignored;
      c->stream.socket().close(ignored);
    }
  }
  impl_->idle.clear();
}

std::size_t HttpUpstreamPool::idleCount() const noexcept {
  std::size_t n = 0;
  for (auto& [k, q] : impl_->idle) n += q.size();
  return n;
}

asio::awaitable<routing::UpstreamResult> HttpUpstreamPool::send(
    const config::Upstream& upstream, const routing::UpstreamRequest& request,
    std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  const std::string k = Impl::key(upstream);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  routing::UpstreamResult result;

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn = im.takeIdle(k);
    const bool reused = conn != nullptr;
    if (reused) {
      metrics::inc(im.metrics->connections_reused);
    } else {
      conn = co_await im.connect(upstream, result.failure);
      if (!conn) co_return result;
    }

    conn->stream.expires_at(deadline);
    const std::array<asio::const_buffer, 2> out{asio::buffer(request.head),
                                                asio::buffer(request.body)};
    auto [wec, written] = co_await asio::async_write(conn->stream, out, kNoThrow);
    (void)written;
    if (wec) {
      if (wec == beast::error::timeout) {
        metrics::inc(im.metrics->timeouts);
        result.failure = timedOut("write timeout");
        co_return result;
      }
      if (reused && attempt == 0) {
        metrics::inc(im.metrics->stale_retries);
        continue;
      }
      result.failure = unavailable("write: " + wec.message());
      co_return result;
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(im.settings.max_response_body_bytes);
    parser.header_limit(64 * 1024);
    if (request.method == bhttp::verb::head) parser.skip(true);
    auto [rec, read] = co_await bhttp::async_read(conn->stream, conn->buffer, parser, kNoThrow);
    if (rec) {
      if (rec == beast::error::timeout) {
        metrics::inc(im.metrics->timeouts);
        result.failure = timedOut("response deadline");
        co_return result;
      }
      const bool nothing_received = read == 0 && conn->buffer.size() == 0;
      const bool closed = rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                          rec == asio::error::connection_reset;
      if (reused && attempt == 0 && nothing_received && closed && isIdempotent(request.method)) {
        metrics::inc(im.metrics->stale_retries);
        continue;
      }
      if (nothing_received && closed) {
        result.failure = unavailable("closed before responding: " + rec.message());
      } else {
        metrics::inc(im.metrics->bad_responses);
        result.failure = badResponse("read: " + rec.message());
      }
      co_return result;
    }

    result.response.emplace(parser.release());
    if (result.response->keep_alive() && !result.response->need_eof()) {
      im.putIdle(k, std::move(conn));
    } else {
      beast::error_code ignored;
      conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
    co_return result;
  }
  result.failure = unavailable("stale connection retry failed");
  co_return result;
}

}  // namespace qaqpa::adapters::http
