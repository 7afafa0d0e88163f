#include "adapters/redis/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/common/log.h"
#include "gateway/metrics/metrics.h"

namespace qaqpa::adapters::redis {

namespace asio = boost::asio;
using common::LogLevel;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
const RedisMetrics kNoMetrics{};
constexpr std::chrono::seconds kWarnInterval{10};

RedisValue copyReply(const redisReply& r) {
  RedisValue v;
  switch (r.type) {
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::Status;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::Error;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::Integer;
      v.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::String;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::Array;
      v.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) v.elements.push_back(copyReply(*r.element[i]));
      break;
    default:
      v.type = RedisValue::Type::Nil;
      break;
  }
  return v;
}

// The state of one call (a command or a batch), shared by the awaiting coroutine and the
// hiredis callbacks of its commands. The timer is both the deadline and the wake-up: the last
// answer cancels it. `finished` is set once the coroutine has resumed; answers arriving later
// are discarded, so a call completes exactly once.
struct Call {
  Call(const asio::any_io_executor& ex, std::size_t n) : timer(ex), results(n), remaining(n) {
    for (auto& r : results) r.errc = RedisErrc::Timeout;
  }
  asio::steady_timer timer;
  std::vector<RedisReply> results;
  std::size_t remaining;
  bool finished = false;
};

}  // namespace

// The glue between one redisAsyncContext and Asio: hiredis's ev hooks arm async_wait on the
// context's fd; readiness calls redisAsyncHandleRead/Write. hiredis owns the fd (it closes it in
// redisFree), so the descriptor is released, never closed. hiredis may free the context inside
// any HandleRead/HandleWrite (EOF, protocol error, failed connect) and always calls the cleanup
// hook when it does: from then on `ac` is null and nothing here touches the context again.
// Handlers hold a shared_ptr to the Link, so a Link outlives every wait armed on it.
struct Link : std::enable_shared_from_this<Link> {
  Link(const asio::any_io_executor& ex, RedisClient::Impl* o, redisAsyncContext* c, std::uint64_t g)
      : fd(ex), owner(o), ac(c), gen(g) {}

  static void addRead(void* p) {
    auto* l = static_cast<Link*>(p);
    l->want_read = true;
    l->armRead();
  }
  static void delRead(void* p) { static_cast<Link*>(p)->want_read = false; }
  static void addWrite(void* p) {
    auto* l = static_cast<Link*>(p);
    l->want_write = true;
    l->armWrite();
  }
  static void delWrite(void* p) { static_cast<Link*>(p)->want_write = false; }
  static void cleanup(void* p) { static_cast<Link*>(p)->detach(); }

  void armRead() {
    if (read_armed || ac == nullptr) return;
    read_armed = true;
    fd.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this()](const boost::system::error_code& ec) {
          self->read_armed = false;
          if (ec == asio::error::operation_aborted || self->ac == nullptr || !self->want_read) {
            return;
          }
          // Any other error: let hiredis read and find it (it frees on failure).
          redisAsyncHandleRead(self->ac);
        });
  }
  void armWrite() {
    if (write_armed || ac == nullptr) return;
    write_armed = true;
    fd.async_wait(
        asio::posix::stream_descriptor::wait_write,
        [self = shared_from_this()](const boost::system::error_code& ec) {
          self->write_armed = false;
          if (ec == asio::error::operation_aborted || self->ac == nullptr || !self->want_write) {
            return;
          }
          redisAsyncHandleWrite(self->ac);
        });
  }

  // hiredis is freeing the context (it may call the hook twice in 0.14: once from
  // __redisAsyncDisconnect, once from __redisAsyncFree; the hooks are unset on the first call).
  void detach();

  asio::posix::stream_descriptor fd;
  RedisClient::Impl* owner;
  redisAsyncContext* ac;
  std::uint64_t gen;
  bool want_read = false;
  bool want_write = false;
  bool read_armed = false;
  bool write_armed = false;
};

// The hiredis privdata of one command: deleted by the one callback hiredis runs for it (with the
// answer, or with null when the context is freed).
struct Request {
  RedisClient::Impl* impl;
  std::shared_ptr<Call> call;
  std::size_t index;
};

// The privdata of a handshake command (AUTH, SELECT, PING).
struct HandshakeStep {
  RedisClient::Impl* impl;
  std::uint64_t gen;
  bool last;
  const char* what;
  bool optional = false;  // an error reply is logged, the connection stays usable
};

struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, RedisSettings s, std::string pw, const RedisMetrics* m)
      : executor(std::move(ex)),
        settings(std::move(s)),
        password(std::move(pw)),
        metrics(m ? *m : kNoMetrics),
        connect_timer(executor),
        reconnect_timer(executor),
        resolver(executor),
        rng(std::random_device{}()) {}

  ~Impl() { shutdown(); }

  // --- connection lifecycle -------------------------------------------------------------------

  // One attempt: [resolve] → connect(2) → AUTH/SELECT/PING, all under connect_timeout.
  void connect() {
    if (stopping || ac != nullptr) return;
    const std::uint64_t g = ++gen;
    handshake_failed = false;
    setState(RedisState::Connecting);
    connect_timer.expires_after(settings.connect_timeout);
    connect_timer.async_wait([w = weak_from_this(), g](const boost::system::error_code& e) {
      if (e) return;
      auto self = w.lock();
      if (!self || self->gen != g || self->state != RedisState::Connecting) return;
      self->attempt_error = "connect/handshake deadline";
      if (self->ac != nullptr) {
        self->teardown(g);
      } else {
        self->resolver.cancel();  // its handler reports the failed attempt
      }
    });
    boost::system::error_code not_numeric;
    (void)asio::ip::make_address(settings.host, not_numeric);
    if (!settings.unix_path.empty() || !not_numeric) {
      connectTo(g, settings.host);
      return;
    }
    // hiredis would call getaddrinfo on this thread; Asio's resolver runs it on its own thread.
    resolver.async_resolve(
        settings.host, std::to_string(settings.port),
        [w = weak_from_this(), g](const boost::system::error_code& e,
                                  const asio::ip::tcp::resolver::results_type& results) {
          auto self = w.lock();
          if (!self || self->stopping || self->gen != g || self->ac != nullptr) return;
          if (e || results.empty()) {
            self->connect_timer.cancel();
            self->attemptFailed(self->attempt_error.empty()
                                    ? "resolve " + self->settings.host + ": " + e.message()
                                    : self->attempt_error);
            return;
          }
          // One address per attempt, in turn: a name with a dead address still gets through.
          auto it = results.begin();
          std::advance(it, static_cast<std::ptrdiff_t>(self->backoff_attempt % results.size()));
          self->connectTo(g, it->endpoint().address().to_string());
        });
  }

  void connectTo(std::uint64_t g, const std::string& address) {
    redisAsyncContext* c = settings.unix_path.empty()
                               ? redisAsyncConnect(address.c_str(), settings.port)
                               : redisAsyncConnectUnix(settings.unix_path.c_str());
    if (c == nullptr) {
      attemptFailed("out of memory");
      return;
    }
    if (c->err != 0) {
      std::string why = c->errstr;
      redisAsyncFree(c);  // no hooks set yet: nothing of ours runs
      attemptFailed(why);
      return;
    }
    auto l = std::make_shared<Link>(executor, this, c, g);
    boost::system::error_code ec;
    l->fd.assign(c->c.fd, ec);
    if (ec) {
      redisAsyncFree(c);
      attemptFailed("register fd: " + ec.message());
      return;
    }
    link = l;
    ac = c;
    c->data = this;
    c->ev.data = l.get();
    c->ev.addRead = &Link::addRead;
    c->ev.delRead = &Link::delRead;
    c->ev.addWrite = &Link::addWrite;
    c->ev.delWrite = &Link::delWrite;
    c->ev.cleanup = &Link::cleanup;
    // Arms the first write wait: connect(2) completion shows as writability.
    redisAsyncSetConnectCallback(c, &Impl::onConnect);
  }

  static void onConnect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<Impl*>(c->data);
    // On failure hiredis frees the context right after this returns; Link::detach reports it.
    if (status != REDIS_OK) return;
    self->startHandshake();
  }

  void startHandshake() {
    const std::uint64_t g = gen;
    if (!password.empty()) {
      if (settings.username.empty()) {
        const std::string_view argv[] = {"AUTH", password};
        sendHandshake(argv, g, false, "AUTH");
      } else {
        const std::string_view argv[] = {"AUTH", settings.username, password};
        sendHandshake(argv, g, false, "AUTH");
      }
    }
    if (settings.db != 0) {
      const std::string db = std::to_string(settings.db);
      const std::string_view argv[] = {"SELECT", db};
      sendHandshake(argv, g, false, "SELECT");
    }
    for (const RedisScript* script : preloaded) {
      const std::string_view argv[] = {"SCRIPT", "LOAD", script->body()};
      sendHandshake(argv, g, false, "SCRIPT LOAD", true);
    }
    const std::string_view ping[] = {"PING"};
    sendHandshake(ping, g, true, "PING");
  }

  void sendHandshake(std::span<const std::string_view> argv, std::uint64_t g, bool last,
                     const char* what, bool optional = false) {
    auto* step = new HandshakeStep{this, g, last, what, optional};
    if (!commandArgv(argv, &Impl::onHandshakeReply, step)) delete step;
  }

  static void onHandshakeReply(redisAsyncContext*, void* r, void* priv) {
    std::unique_ptr<HandshakeStep> step(static_cast<HandshakeStep*>(priv));
    Impl& self = *step->impl;
    if (r == nullptr || self.gen != step->gen) return;  // context going away: detach reports it
    const auto* reply = static_cast<const redisReply*>(r);
    if (reply->type == REDIS_REPLY_ERROR && step->optional) {
      common::log(LogLevel::Warn, "redis refused a preloaded script; calls will send it inline",
                  {{"endpoint", self.endpoint()},
                   {"error", std::string(reply->str, std::min<std::size_t>(reply->len, 200))}});
    } else if (reply->type == REDIS_REPLY_ERROR) {
      // A wrong password, unknown db or LOADING: not usable; drop it and retry with backoff.
      // Not freed here (inside hiredis's callback loop) but from a posted handler — so the
      // answers after it, read in the same batch, must not make the connection usable.
      self.handshake_failed = true;
      if (self.attempt_error.empty()) {
        self.attempt_error = std::string(step->what) + " refused: " +
                             std::string(reply->str, std::min<std::size_t>(reply->len, 200));
      }
      asio::post(self.executor, [w = self.weak_from_this(), g = step->gen] {
        if (auto s = w.lock()) s->teardown(g);
      });
      return;
    }
    if (step->last && !self.handshake_failed && self.state == RedisState::Connecting) {
      self.becomeConnected();
    }
  }

  void becomeConnected() {
    connect_timer.cancel();
    backoff_attempt = 0;
    attempt_error.clear();
    if (ever_connected) metrics::inc(metrics.reconnects);
    ever_connected = true;
    if (failure_streak > 0 || lost_logged) {
      common::log(LogLevel::Info, "redis connection restored", {{"endpoint", endpoint()}});
    }
    failure_streak = 0;
    lost_logged = false;
    setState(RedisState::Connected);
  }

  // hiredis is freeing the context of generation g (Link::detach): every command of it has
  // already been answered with null (Disconnected). Idempotent per generation.
  void contextGone(std::uint64_t g, std::string why) {
    if (g != gen || ac == nullptr) return;
    ac = nullptr;
    connect_timer.cancel();
    if (stopping) {
      setState(RedisState::Down);
      return;
    }
    if (state == RedisState::Connected) {
      metrics::inc(metrics.connections_lost);
      lost_logged = true;
      warn("redis connection lost", why);
      setState(RedisState::Down);
      scheduleReconnect();
    } else {
      attemptFailed(attempt_error.empty() ? why : attempt_error);
    }
  }

  void attemptFailed(const std::string& why) {
    connect_timer.cancel();
    metrics::inc(metrics.connect_failures);
    // Logged once per outage (and every 100th attempt), not once per backoff step.
    if (failure_streak++ % 100 == 0) warn("redis connect failed", why);
    attempt_error.clear();
    setState(RedisState::Down);
    scheduleReconnect();
  }

  void scheduleReconnect() {
    if (stopping) return;
    const auto initial =
        std::max<std::chrono::milliseconds::rep>(1, settings.reconnect_backoff_initial.count());
    const auto cap_max = std::max(initial, settings.reconnect_backoff_max.count());
    const unsigned shift = std::min(backoff_attempt, 20u);
    ++backoff_attempt;
    const auto cap = std::min<std::chrono::milliseconds::rep>(cap_max, initial << shift);
    // "Equal jitter": half fixed, half random, so replicas restarted together spread out.
    std::uniform_int_distribution<std::chrono::milliseconds::rep> dist(0, cap / 2);
    reconnect_timer.expires_after(std::chrono::milliseconds(cap - cap / 2 + dist(rng)));
    reconnect_timer.async_wait([w = weak_from_this()](const boost::system::error_code& e) {
      if (e) return;
      if (auto self = w.lock()) self->connect();
    });
  }

  // Frees the context of generation g when it is still current. Never called from inside a
  // hiredis callback (redisAsyncFree there would free under hiredis's feet).
  void teardown(std::uint64_t g) {
    if (g != gen || ac == nullptr) return;
    redisAsyncFree(ac);  // runs every pending callback with null, then Link::detach
  }

  void shutdown() {
    stopping = true;
    connect_timer.cancel();
    resolver.cancel();
    reconnect_timer.cancel();
    if (ac != nullptr) teardown(gen);
    setState(RedisState::Down);
    wakeWaiters();
  }

  void setState(RedisState s) {
    if (state == s) return;
    state = s;
    metrics::set(metrics.connected, s == RedisState::Connected ? 1.0 : 0.0);
    wakeWaiters();
    if (listener && !stopping) {
      asio::post(executor, [w = weak_from_this(), s] {
        if (auto self = w.lock(); self && self->listener) self->listener(s);
      });
    }
  }

  // At most one warning per 10 s per client: a flapping server must not flood the log.
  void warn(std::string_view msg, const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (last_warn != std::chrono::steady_clock::time_point{} && now - last_warn < kWarnInterval) {
      ++suppressed_warns;
      return;
    }
    last_warn = now;
    const std::string suppressed = std::to_string(suppressed_warns);
    suppressed_warns = 0;
    common::log(LogLevel::Warn, msg,
                {{"endpoint", endpoint()}, {"error", why}, {"suppressed", suppressed}});
  }

  void wakeWaiters() {
    for (auto* t : waiters) t->cancel();
  }

  std::string endpoint() const {
    return settings.unix_path.empty() ? settings.host + ":" + std::to_string(settings.port)
                                      : "unix:" + settings.unix_path;
  }

  // --- commands -------------------------------------------------------------------------------

  bool commandArgv(std::span<const std::string_view> argv, redisCallbackFn* fn, void* priv) {
    ptrs.clear();
    lens.clear();
    for (auto a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(ac, fn, priv, static_cast<int>(argv.size()), ptrs.data(),
                                 lens.data()) == REDIS_OK;
  }

  // Admits and writes n commands (argv(i) for each) as one call; results not sent are filled in.
  template <typename ArgvAt>
  std::shared_ptr<Call> submit(std::size_t n, ArgvAt argv_at) {
    auto call = std::make_shared<Call>(executor, n);
    metrics::inc(metrics.commands, static_cast<double>(n));
    auto refuse = [&](RedisErrc e, prometheus::Counter* c) {
      for (auto& r : call->results) r.errc = e;
      call->remaining = 0;
      metrics::inc(c, static_cast<double>(n));
      return call;
    };
    for (std::size_t i = 0; i < n; ++i) {
      if (argv_at(i).empty()) return refuse(RedisErrc::Invalid, nullptr);
    }
    if (state != RedisState::Connected || ac == nullptr) {
      return refuse(RedisErrc::Disconnected, metrics.disconnected);
    }
    if (in_flight + n > settings.max_in_flight) {
      return refuse(RedisErrc::Overloaded, metrics.overloaded);
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto* req = new Request{this, call, i};
      if (commandArgv(argv_at(i), &Impl::onReply, req)) {
        ++in_flight;
      } else {
        delete req;  // context disconnecting: hiredis refused to queue it
        call->results[i].errc = RedisErrc::Disconnected;
        metrics::inc(metrics.disconnected);
        --call->remaining;
      }
    }
    return call;
  }

  static void onReply(redisAsyncContext*, void* r, void* priv) {
    std::unique_ptr<Request> req(static_cast<Request*>(priv));
    Impl& self = *req->impl;
    --self.in_flight;
    Call& call = *req->call;
    if (call.finished) {
      if (r != nullptr) metrics::inc(self.metrics.late_replies);
      return;
    }
    RedisReply& slot = call.results[req->index];
    if (r == nullptr) {
      slot.errc = RedisErrc::Disconnected;
      metrics::inc(self.metrics.disconnected);
    } else {
      slot.errc = RedisErrc::Ok;
      slot.value = copyReply(*static_cast<const redisReply*>(r));
      if (slot.value.isError()) metrics::inc(self.metrics.error_replies);
    }
    if (--call.remaining == 0) call.timer.cancel();
  }

  // Waits for every answer of call or the deadline; afterwards late answers are discarded.
  static asio::awaitable<void> finish(std::shared_ptr<Impl> self, std::shared_ptr<Call> call,
                                      RedisDeadline deadline) {
    const auto started = std::chrono::steady_clock::now();
    if (call->remaining > 0) {
      call->timer.expires_at(deadline);
      co_await call->timer.async_wait(kNoThrow);
    }
    call->finished = true;
    if (call->remaining > 0) {
      metrics::inc(self->metrics.timeouts, static_cast<double>(call->remaining));
    } else if (call->results.empty() || call->results.front().errc == RedisErrc::Ok) {
      metrics::observe(
          self->metrics.command_seconds,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }

  asio::any_io_executor executor;
  RedisSettings settings;
  std::string password;
  std::vector<const RedisScript*> preloaded;  // set before start(); read by every handshake
  const RedisMetrics& metrics;
  asio::steady_timer connect_timer;
  asio::steady_timer reconnect_timer;
  asio::ip::tcp::resolver resolver;
  std::minstd_rand rng;

  redisAsyncContext* ac = nullptr;  // current context, null when none
  std::shared_ptr<Link> link;       // glue of the current (or last) context
  std::uint64_t gen = 0;            // connection attempt number; stale events compare unequal
  RedisState state = RedisState::Down;
  bool started = false;
  bool stopping = false;
  bool ever_connected = false;
  bool lost_logged = false;
  bool handshake_failed = false;  // a handshake step of the current attempt answered an error
  std::chrono::steady_clock::time_point last_warn{};
  unsigned suppressed_warns = 0;
  unsigned backoff_attempt = 0;
  unsigned failure_streak = 0;
  std::string attempt_error;  // why the current attempt is being abandoned, for the log
  std::size_t in_flight = 0;
  std::vector<asio::steady_timer*> waiters;  // waitConnected timers, cancelled on state change
  std::function<void(RedisState)> listener;
  std::vector<const char*> ptrs;  // scratch argv for redisAsyncCommandArgv
  std::vector<std::size_t> lens;
};

void Link::detach() {
  if (ac == nullptr) return;
  std::string why = ac->err != 0 && ac->errstr != nullptr ? ac->errstr : "connection closed";
  ac->ev.addRead = nullptr;
  ac->ev.delRead = nullptr;
  ac->ev.addWrite = nullptr;
  ac->ev.delWrite = nullptr;
  ac->ev.cleanup = nullptr;
  ac = nullptr;
  want_read = want_write = false;
  // Deregisters from the reactor and cancels the waits without closing: redisFree closes it.
  boost::system::error_code ignored;
  fd.cancel(ignored);
  (void)fd.release();
  owner->contextGone(gen, std::move(why));
}

// --- RedisScript ---------------------------------------------------------------------------------

RedisScript::RedisScript(std::string body) : body_(std::move(body)) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(body_.data(), body_.size(), md, &len, EVP_sha1(), nullptr) != 1) len = 0;
  static constexpr char kHex[] = "0123456789abcdef";
  sha1_.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    sha1_.push_back(kHex[md[i] >> 4]);
    sha1_.push_back(kHex[md[i] & 0xf]);
  }
}

// --- RedisClient ---------------------------------------------------------------------------------

std::string_view stateName(RedisState s) noexcept {
  switch (s) {
    case RedisState::Down:
      return "down";
    case RedisState::Connecting:
      return "connecting";
    case RedisState::Connected:
      return "connected";
  }
  return "down";
}

std::string_view errcName(RedisErrc e) noexcept {
  switch (e) {
    case RedisErrc::Ok:
      return "ok";
    case RedisErrc::Timeout:
      return "timeout";
    case RedisErrc::Disconnected:
      return "disconnected";
    case RedisErrc::Overloaded:
      return "overloaded";
    case RedisErrc::Invalid:
      return "invalid";
  }
  return "invalid";
}

std::unique_ptr<RedisClient> RedisClient::createBlocking(asio::any_io_executor executor,
                                                         RedisSettings settings,
                                                         const RedisMetrics* metrics,
                                                         std::string* error) {
  auto fail = [&](std::string msg) -> std::unique_ptr<RedisClient> {
    if (error) *error = std::move(msg);
    return nullptr;
  };
  if (settings.unix_path.empty() && (settings.host.empty() || settings.port == 0)) {
    return fail("redis: host and port, or unix_path, are required");
  }
  if (settings.db < 0) return fail("redis: db must be >= 0");
  if (settings.max_in_flight == 0) return fail("redis: max_in_flight must be > 0");
  if (settings.connect_timeout.count() <= 0) return fail("redis: connect_timeout must be > 0");
  std::string password;
  if (!settings.password_file.empty()) {
    std::ifstream in(settings.password_file, std::ios::binary);
    if (!in) return fail("redis: cannot read password_file " + settings.password_file);
    std::ostringstream buf;
    buf << in.rdbuf();
    password = std::move(buf).str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (password.empty()) return fail("redis: password_file is empty: " + settings.password_file);
  }
  auto impl = std::make_shared<Impl>(std::move(executor), std::move(settings), std::move(password),
                                     metrics);
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(impl)));
}

RedisClient::RedisClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RedisClient::~RedisClient() { impl_->shutdown(); }

void RedisClient::start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->connect();
}

void RedisClient::stop() { impl_->shutdown(); }

RedisState RedisClient::state() const noexcept { return impl_->state; }

std::size_t RedisClient::inFlight() const noexcept { return impl_->in_flight; }

void RedisClient::setStateListener(std::function<void(RedisState)> listener) {
  impl_->listener = std::move(listener);
}

asio::awaitable<bool> RedisClient::waitConnected(RedisDeadline deadline) {
  std::shared_ptr<Impl> impl = impl_;
  while (impl->state != RedisState::Connected) {
    if (impl->stopping || std::chrono::steady_clock::now() >= deadline) co_return false;
    asio::steady_timer t(impl->executor, deadline);
    // Unregisters even when the frame is destroyed unresumed (io_context torn down).
    struct Registration {
      Impl& im;
      asio::steady_timer* t;
      ~Registration() { std::erase(im.waiters, t); }
    } reg{*impl, &t};
    impl->waiters.push_back(&t);
    co_await t.async_wait(kNoThrow);
  }
  co_return true;
}

asio::awaitable<RedisReply> RedisClient::exec(std::span<const std::string_view> argv,
                                              RedisDeadline deadline) {
  std::shared_ptr<Impl> impl = impl_;
  auto call = impl->submit(1, [&](std::size_t) { return argv; });
  co_await Impl::finish(impl, call, deadline);
  co_return std::move(call->results.front());
}

asio::awaitable<std::vector<RedisReply>> RedisClient::execBatch(std::span<const RedisArgv> commands,
                                                                RedisDeadline deadline) {
  std::shared_ptr<Impl> impl = impl_;
  auto call = impl->submit(commands.size(), [&](std::size_t i) {
    return std::span<const std::string_view>(commands[i]);
  });
  co_await Impl::finish(impl, call, deadline);
  co_return std::move(call->results);
}

asio::awaitable<RedisReply> RedisClient::evalScript(const RedisScript& script,
                                                    std::span<const std::string_view> keys,
                                                    std::span<const std::string_view> args,
                                                    RedisDeadline deadline) {
  std::shared_ptr<Impl> impl = impl_;
  const std::string numkeys = std::to_string(keys.size());
  RedisArgv argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(numkeys);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto call = impl->submit(1, [&](std::size_t) { return std::span<const std::string_view>(argv); });
  co_await Impl::finish(impl, call, deadline);
  RedisReply reply = std::move(call->results.front());
  const bool noscript = reply.errc == RedisErrc::Ok && reply.value.isError() &&
                        std::string_view(reply.value.str).starts_with("NOSCRIPT");
  if (!noscript) co_return reply;
  metrics::inc(impl->metrics.script_fallbacks);
  argv[0] = "EVAL";
  argv[1] = script.body();
  auto again =
      impl->submit(1, [&](std::size_t) { return std::span<const std::string_view>(argv); });
  co_await Impl::finish(impl, again, deadline);
  co_return std::move(again->results.front());
}

asio::awaitable<RedisReply> RedisClient::loadScript(const RedisScript& script,
                                                    RedisDeadline deadline) {
  co_return co_await exec(deadline, "SCRIPT", "LOAD", script.body());
}

void RedisClient::preloadScript(const RedisScript& script) { impl_->preloaded.push_back(&script); }

}  // namespace qaqpa::adapters::redis
