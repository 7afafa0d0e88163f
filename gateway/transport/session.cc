#include "gateway/transport/session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/common/i18n.h"
#include "gateway/common/log.h"
#include "gateway/pipeline/problem.h"

namespace qaqpa::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using common::Failure;
using common::Reason;
using common::StatusCode;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
// After an error response we read and discard what the client still sends for a short while, so
// the kernel does not answer unread data with a reset that would destroy our response in flight.
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr std::size_t kLingerBytes = 256 * 1024;

// The failure for an HTTP framing error, or nullopt when the client just went away or stalled
// (then there is nobody to answer).
std::optional<Failure> framingFailure(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    return Failure{StatusCode::ValidationFailed, Reason::HeaderTooLarge, {}, ec.message(), 431};
  }
  if (ec == bhttp::error::body_limit) {
    return Failure{StatusCode::ValidationFailed, Reason::BodyTooLarge, {}, ec.message(), 413};
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return Failure{StatusCode::ValidationFailed, Reason::MalformedRequest, {}, ec.message(), 400};
  }
  return std::nullopt;
}

asio::awaitable<void> lingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  std::array<char, 8192> sink;
  std::size_t drained = 0;
  while (drained < kLingerBytes) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
    if (rec) break;
    drained += n;
  }
  stream.socket().close(ec);
}

asio::awaitable<void> runSession(tcp::socket socket, SessionContext& cx,
                                 std::atomic<std::size_t>* active) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  SessionTracker::Handle handle = cx.tracker->add(&stream.socket());
  metrics::add(cx.metrics->connections_active, 1);
  const config::Limits& limits = cx.limits;
  bool linger = false;

  for (std::size_t n = 0;; ++n) {
    // Phase 1: wait for the first byte of the next request under the idle deadline.
    if (buffer.size() == 0) {
      if (cx.tracker->draining()) break;
      handle->idle = true;
      stream.expires_after(n == 0 ? limits.request_read_timeout : limits.idle_timeout);
      auto [ec, got] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
      handle->idle = false;
      if (ec) {
        if (ec == beast::error::timeout) metrics::inc(cx.metrics->timeouts);
        break;
      }
      buffer.commit(got);
    }

    // Phase 2: the whole request under request_read_timeout.
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    stream.expires_after(limits.request_read_timeout);
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    beast::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      const auto& h = parser.get();
      const auto expect = h[bhttp::field::expect];
      if (!expect.empty()) {
        if (!beast::iequals(expect, "100-continue")) {
          // RFC 9110 §10.1.1: an unsupported expectation gets 417; we answer with a 400 problem.
          ec = bhttp::error::bad_value;
        } else {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          auto [cec, cn] = co_await asio::async_write(stream, asio::buffer(kContinue), kNoThrow);
          if (cec) break;
        }
      }
      if (!ec) {
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
        ec = bec;
      }
    }
    if (ec) {
      if (ec == beast::error::timeout) metrics::inc(cx.metrics->timeouts);
      std::optional<Failure> f = framingFailure(ec);
      if (!f) break;
      metrics::inc(cx.metrics->bad_requests);
      const common::Lang lang =
          parser.is_header_done()
              ? common::parseAcceptLanguage(parser.get()[bhttp::field::accept_language])
              : common::Lang::Kk;
      // Even a request that never parsed gets a message id: the client can quote it, and the
      // journal (a later issue) records the refusal under it.
      const std::string message_id = common::toString(cx.ids->nextNow());
      pipeline::Response res = pipeline::renderBareProblem(*f, lang, 11, message_id);
      res.keep_alive(false);
      metrics::inc(cx.metrics->requests[static_cast<int>(f->code)]);
      stream.expires_after(limits.write_timeout);
      co_await bhttp::async_write(stream, res, kNoThrow);
      linger = true;
      break;
    }

    const bool client_keep_alive = parser.get().keep_alive();
    pipeline::Response res = co_await cx.handler->handle(cx.listener, parser.release());
    const bool keep =
        client_keep_alive && !cx.tracker->draining() && n + 1 < limits.max_requests_per_connection;
    res.keep_alive(keep);
    stream.expires_after(limits.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, kNoThrow);
    if (wec) {
      if (wec == beast::error::timeout) metrics::inc(cx.metrics->timeouts);
      break;
    }
    if (!keep) {
      linger = true;
      break;
    }
  }

  if (linger && stream.socket().is_open()) {
    co_await lingeringClose(stream);
  } else {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }
  metrics::add(cx.metrics->connections_active, -1);
  if (active != nullptr) active->fetch_sub(1, std::memory_order_relaxed);
  cx.tracker->remove(handle);
}

}  // namespace

SessionTracker::Handle SessionTracker::add(tcp::socket* socket) {
  ++count_;
  return entries_.insert(entries_.end(), Entry{socket, false});
}

void SessionTracker::remove(Handle h) {
  entries_.erase(h);
  --count_;
  if (draining_ && count_ == 0 && on_drained_) {
    auto fn = std::move(on_drained_);
    on_drained_ = nullptr;
    fn();
  }
}

void SessionTracker::startDrain() {
  draining_ = true;
  for (Entry& e : entries_) {
    if (e.idle) {
      beast::error_code ignored;
      e.socket->cancel(ignored);
    }
  }
  if (count_ == 0 && on_drained_) {
    auto fn = std::move(on_drained_);
    on_drained_ = nullptr;
    fn();
  }
}

asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor, SessionContext& cx,
                                 std::atomic<std::size_t>* active) {
  asio::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE/ENFILE and friends: back off instead of spinning, keep serving open connections.
      common::log(common::LogLevel::Warn, "accept failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    if (active != nullptr &&
        active->fetch_add(1, std::memory_order_relaxed) >= cx.limits.max_connections) {
      active->fetch_sub(1, std::memory_order_relaxed);
      metrics::inc(cx.metrics->connections_rejected);
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    metrics::inc(cx.metrics->connections_accepted);
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acceptor.get_executor(), runSession(std::move(socket), cx, active),
                   asio::detached);
  }
}

}  // namespace qaqpa::transport
