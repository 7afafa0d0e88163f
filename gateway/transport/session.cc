#include "gateway/transport/session.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "gateway/common/i18n.h"
#include "gateway/common/log.h"
#include "gateway/pipeline/problem.h"
#include "gateway/pipeline/wire.h"

namespace qaqpa::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using common::Failure;
using common::Reason;
using common::StatusCode;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
// After an error response we read and discard what the client still sends for a short while, so
// the kernel does not answer unread data with a reset that would destroy our response in flight.
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr std::size_t kLingerBytes = 256 * 1024;
constexpr auto kTlsShutdownTime = std::chrono::milliseconds(500);

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

// Reads the verified client certificate of a finished handshake.
pipeline::TlsPeer peerOf(TlsStream& stream) {
  pipeline::TlsPeer peer;
  SSL* ssl = stream.native_handle();
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return peer;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return peer;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) {
    peer.fingerprint_sha256.push_back(kHex[md[i] >> 4]);
    peer.fingerprint_sha256.push_back(kHex[md[i] & 15]);
  }
  const X509_NAME* name = X509_get_subject_name(cert);
  auto field = [&](int nid) {
    std::string out;
    const int idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0) return out;
    // A repeated attribute would make the mapping ambiguous: treat it as absent.
    if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) return out;
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n > 0) out.assign(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
    return out;
  };
  peer.common_name = field(NID_commonName);
  peer.organizational_unit = field(NID_organizationalUnitName);
  peer.serial_number = field(NID_serialNumber);
  peer.verified = true;
  return peer;
}

tcp::socket& rawSocket(beast::tcp_stream& s) { return s.socket(); }
tcp::socket& rawSocket(TlsStream& s) { return beast::get_lowest_layer(s).socket(); }

asio::awaitable<void> closeStream(beast::tcp_stream& stream, bool linger) {
  beast::error_code ec;
  if (linger && stream.socket().is_open()) {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(kLingerTime);
    std::array<char, 8192> sink;
    std::size_t drained = 0;
    while (drained < kLingerBytes) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
      if (rec) break;
      drained += n;
    }
  } else {
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
  stream.socket().close(ec);
}

asio::awaitable<void> closeStream(TlsStream& stream, bool /*linger*/) {
  // close_notify, bounded: a peer that never answers it must not hold the connection.
  beast::get_lowest_layer(stream).expires_after(kTlsShutdownTime);
  co_await stream.async_shutdown(kNoThrow);
  beast::error_code ec;
  beast::get_lowest_layer(stream).socket().close(ec);
}

// Writes a response as one gather write: the serialized head (reused buffer) and the body.
template <class Stream>
asio::awaitable<std::tuple<beast::error_code, std::size_t>> writeResponse(Stream& stream,
                                                                          pipeline::Response& res,
                                                                          std::string& head) {
  pipeline::serializeHead(res, head);
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(res.body())};
  co_return co_await asio::async_write(stream, buffers, kNoThrow);
}

template <class Stream>
asio::awaitable<void> serveHttp(Stream& stream, SessionContext& cx, SessionTracker::Handle handle,
                                const pipeline::TlsPeer* peer) {
  auto& timer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  std::string head;
  head.reserve(1024);
  const config::Limits& limits = cx.limits;
  bool linger = false;

  for (std::size_t n = 0;; ++n) {
    // Phase 1: wait for the first byte of the next request under the idle deadline.
    if (buffer.size() == 0) {
      if (cx.tracker->draining()) break;
      handle->idle = true;
      timer.expires_after(n == 0 ? limits.request_read_timeout : limits.idle_timeout);
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
    timer.expires_after(limits.request_read_timeout);
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    beast::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      const auto& h = parser.get();
      const auto expect = h[bhttp::field::expect];
      if (!expect.empty()) {
        if (!beast::iequals(expect, "100-continue")) {
          // RFC 9110 §10.1.1: an unsupported expectation is refused (400 problem here).
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
      cx.handler->finishBare(res);
      metrics::inc(cx.metrics->requests[static_cast<int>(f->code)]);
      timer.expires_after(limits.write_timeout);
      co_await writeResponse(stream, res, head);
      linger = true;
      break;
    }

    const bool client_keep_alive = parser.get().keep_alive();
    pipeline::Response res = co_await cx.handler->handle(cx.listener, parser.release(), peer);
    const bool keep =
        client_keep_alive && !cx.tracker->draining() && n + 1 < limits.max_requests_per_connection;
    res.keep_alive(keep);
    timer.expires_after(limits.write_timeout);
    auto [wec, wn] = co_await writeResponse(stream, res, head);
    if (wec) {
      if (wec == beast::error::timeout) metrics::inc(cx.metrics->timeouts);
      break;
    }
    if (!keep) {
      linger = true;
      break;
    }
  }
  co_await closeStream(stream, linger);
}

asio::awaitable<void> runSession(tcp::socket socket, SessionContext& cx,
                                 std::atomic<std::size_t>* active) {
  metrics::add(cx.metrics->connections_active, 1);
  if (cx.tls) {
    TlsStream stream(beast::tcp_stream(std::move(socket)), *cx.tls);
    SessionTracker::Handle handle = cx.tracker->add(&rawSocket(stream));
    beast::get_lowest_layer(stream).expires_after(cx.limits.request_read_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
    if (ec) {
      metrics::inc(cx.metrics->tls_handshake_failures);
      if (common::logEnabled(common::LogLevel::Debug)) {
        common::log(common::LogLevel::Debug, "tls handshake failed",
                    {{"listener", config::listenerName(cx.listener)}, {"error", ec.message()}});
      }
      beast::error_code ignored;
      rawSocket(stream).close(ignored);
    } else {
      const pipeline::TlsPeer peer = peerOf(stream);
      co_await serveHttp(stream, cx, handle, &peer);
    }
    cx.tracker->remove(handle);
  } else {
    beast::tcp_stream stream(std::move(socket));
    SessionTracker::Handle handle = cx.tracker->add(&rawSocket(stream));
    co_await serveHttp(stream, cx, handle, nullptr);
    cx.tracker->remove(handle);
  }
  metrics::add(cx.metrics->connections_active, -1);
  if (active != nullptr) active->fetch_sub(1, std::memory_order_relaxed);
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
