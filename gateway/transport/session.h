// Transport: listeners and HTTP/1.1 sessions (Beast, C++20 coroutines). Everything here runs on
// the owning worker's io_context thread; nothing is shared across workers except the process-wide
// connection limiter (an atomic) and metric handles (atomics).
//
// A session is one linear loop: wait for the first byte (idle deadline), read header + body
// (request_read_timeout, header and body limits, Expect: 100-continue answered), hand the request
// to the RequestHandler, write the response (write_timeout), keep-alive or close. Framing errors
// get a localized problem and the connection is closed with a bounded lingering close.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/common/ids.h"
#include "gateway/config/config.h"
#include "gateway/metrics/metrics.h"
#include "gateway/pipeline/exchange.h"

namespace boost::asio::ssl {
class context;
}

namespace qaqpa::transport {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Produces the whole response for one request read on `listener`. Runs on the worker thread.
  // `peer` is the connection's verified client certificate (null on plain HTTP); it outlives the
  // call. Must not throw; the session sets keep-alive on the result.
  virtual boost::asio::awaitable<pipeline::Response> handle(config::ListenerKind listener,
                                                            pipeline::Request&& request,
                                                            const pipeline::TlsPeer* peer) = 0;
  // Adds what the gateway puts on every response it sends (Date, Server, its signature) to a
  // response the session built itself: a framing error or an oversize refusal. Runs on the
  // worker thread; must not throw.
  virtual void finishBare(pipeline::Response& res) = 0;
};

// Per-worker registry of open sessions, used to drain: idle sessions are closed at once, busy ones
// finish their current request and then close. Worker thread only.
class SessionTracker {
 public:
  struct Entry {
    boost::asio::ip::tcp::socket* socket = nullptr;
    bool idle = false;
  };
  using Handle = std::list<Entry>::iterator;

  Handle add(boost::asio::ip::tcp::socket* socket);
  void remove(Handle h);
  void startDrain();  // closes idle sessions; later ones see draining() and close
  bool draining() const noexcept { return draining_; }
  std::size_t size() const noexcept { return count_; }
  // Called once (on this worker) when draining and the last session has gone.
  void onDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

 private:
  std::list<Entry> entries_;
  std::size_t count_ = 0;
  bool draining_ = false;
  std::function<void()> on_drained_;
};

struct SessionContext {
  config::ListenerKind listener;
  config::Limits limits;
  RequestHandler* handler = nullptr;
  SessionTracker* tracker = nullptr;
  metrics::ListenerMetrics* metrics = nullptr;
  common::UuidV7Generator* ids = nullptr;  // the worker's; ids for requests that never parse
  std::shared_ptr<boost::asio::ssl::context> tls;  // null = plain HTTP
};

// Accepts on `acceptor` (already bound and listening) until it is closed, spawning a session per
// connection. `active` is the process-wide count of limited connections; null = not limited
// (admin listener).
boost::asio::awaitable<void> acceptLoop(boost::asio::ip::tcp::acceptor& acceptor,
                                        SessionContext& cx, std::atomic<std::size_t>* active);

}  // namespace qaqpa::transport
