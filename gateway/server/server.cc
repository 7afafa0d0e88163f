#include "gateway/server/server.h"

#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <future>

#include "adapters/http/http_upstream_pool.h"
#include "adapters/redis/redis_client.h"
#include "gateway/async/async_stage.h"
#include "gateway/async/dispatcher.h"
#include "gateway/async/message_store.h"
#include "gateway/audit/export.h"
#include "gateway/common/log.h"
#include "gateway/common/time_source.h"
#include "gateway/consent/file_consent_store.h"
#include "gateway/consent/redis_consent_store.h"
#include "gateway/envelope/envelope_stage.h"
#include "gateway/journal/journal.h"
#include "gateway/metrics/metrics.h"
#include "gateway/outbox/shipper.h"
#include "gateway/pipeline/problem.h"
#include "gateway/pipeline/stage.h"
#include "gateway/policy/policy_runtime.h"
#include "gateway/policy/policy_stage.h"
#include "gateway/routing/routing_stage.h"
#include "gateway/server/event_builder.h"
#include "gateway/server/json_views.h"
#include "gateway/server/key_files.h"
#include "gateway/server/space_routes.h"
#include "gateway/shared_state/shared_fallback.h"
#include "gateway/signing/content_digest.h"
#include "gateway/signing/gateway_keys.h"
#include "gateway/signing/request_signature.h"
#include "gateway/signing/response_signature.h"
#include "gateway/space/demo_idp.h"
#include "gateway/space/identity_providers.h"
#include "gateway/space_index/journal_feed.h"
#include "gateway/space_index/redis_event_index.h"
#include "gateway/transport/session.h"
#include "gateway/transport/tls.h"

namespace qaqpa::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using config::ListenerKind;

constexpr std::string_view kServerHeader = "qaqpa";

// Date header (RFC 9110 §6.6.1), formatted at most once per second per worker.
class DateCache {
 public:
  std::string_view get() {
    const std::time_t now = std::time(nullptr);
    if (now != last_) {
      std::tm tm{};
      gmtime_r(&now, &tm);
      len_ = std::strftime(buf_, sizeof buf_, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      last_ = now;
    }
    return {buf_, len_};
  }

 private:
  std::time_t last_ = 0;
  char buf_[40]{};
  std::size_t len_ = 0;
};

bool isServiceMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::post:
    case bhttp::verb::put:
    case bhttp::verb::patch:
    case bhttp::verb::delete_:
      return true;
    default:
      return false;
  }
}

constexpr std::string_view kEventIdHeader = "Qaqpa-Event-Id";

// A journal append awaited by a worker coroutine. The journal completes on its writer thread; the
// completion is posted to the worker, so `done`, `result` and `wake` are only touched there. The
// waiter parks on a timer that never expires by itself; the completion cancels it.
struct PendingAppend {
  explicit PendingAppend(const asio::any_io_executor& ex) : wake(ex) {
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  bool done = false;
  journal::AppendResult result;
  asio::steady_timer wake;
};

asio::awaitable<void> awaitAppend(const std::shared_ptr<PendingAppend>& p) {
  while (!p->done) {
    co_await p->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

journal::FsyncPolicy fsyncPolicyOf(config::FsyncMode m) {
  switch (m) {
    case config::FsyncMode::Always:
      return journal::FsyncPolicy::Always;
    case config::FsyncMode::Batch:
      return journal::FsyncPolicy::Batch;
    case config::FsyncMode::None:
      return journal::FsyncPolicy::None;
  }
  return journal::FsyncPolicy::Always;
}

std::string_view appendStatusName(journal::AppendStatus s) {
  switch (s) {
    case journal::AppendStatus::Durable:
      return "durable";
    case journal::AppendStatus::Unavailable:
      return "unavailable";
    case journal::AppendStatus::Overloaded:
      return "overloaded";
    case journal::AppendStatus::Stopped:
      return "stopped";
  }
  return "unknown";
}

// The canonical code of an answer made outside the stage chain: its Qaqpa-Status header (every
// problem has one), else OK.
common::StatusCode statusOf(const pipeline::Response& res) {
  const auto it = res.find("Qaqpa-Status");
  if (it == res.end()) return common::StatusCode::Ok;
  for (int i = 0; i < common::kStatusCodeCount; ++i) {
    const auto c = static_cast<common::StatusCode>(i);
    if (common::codeName(c) == it->value()) return c;
  }
  return common::StatusCode::Ok;
}

}  // namespace

// One worker: an io_context on its own thread and everything that serves on it.
class Worker final : public transport::RequestHandler,
                     private SpaceHost,
                     private async::DispatchHost {
 public:
  explicit Worker(Server::Impl& server);

  asio::io_context& context() { return ioc_; }
  void addListener(ListenerKind kind, tcp::acceptor acceptor,
                   std::shared_ptr<asio::ssl::context> tls);
  void start();  // spawns accept loops (call before the thread runs)
  void beginDrain(std::function<void()> drained);  // on this worker's thread
  void forceStop() { ioc_.stop(); }
  std::thread& thread() { return thread_; }
  // Makes this worker's Redis client (blocking: reads the password file). Caller's thread, in
  // bind(), before the worker runs; start() then starts it on the worker's thread.
  bool createRedisBlocking(const adapters::redis::RedisSettings& settings, std::string& error);
  adapters::redis::RedisClient* redisClient() { return redis_.get(); }  // null without Redis
  // The async exchange on this worker's Redis client (docs/async.md): the store the async stage
  // uses and the dispatcher, consumer "<node id>/<index>". After createRedisBlocking, in bind().
  void enableAsync(const config::AsyncConfig& settings, std::chrono::milliseconds timeout,
                   unsigned index, unsigned count);
  // The client's last reported state (Down until it runs); read from any thread.
  adapters::redis::RedisState redisState() const {
    return redis_state_.load(std::memory_order_relaxed);
  }

  asio::awaitable<pipeline::Response> handle(ListenerKind listener, pipeline::Request&& request,
                                             const pipeline::TlsPeer* peer) override;
  void finishBare(pipeline::Response& res) override;

 private:
  // SpaceHost: what the space routes borrow from this worker.
  std::shared_ptr<const config::Snapshot> currentSnapshot() override;
  consent::ConsentStore* consentStore() override;
  space_index::SharedEventSource* sharedEvents() override { return shared_events_.get(); }
  std::string newId() override { return common::toString(ids_.nextNow()); }
  // DispatchHost: what the async dispatcher borrows from this worker.
  std::string newEventId() override { return common::toString(ids_.nextNow()); }
  asio::awaitable<pipeline::StageResult> forwardToProvider(pipeline::Exchange& ex) override;
  asio::awaitable<bool> journalDelivery(const pipeline::Exchange& ex,
                                        const async::DeliveryFacts& facts) override;
  asio::awaitable<bool> sendCallback(const std::string& client, const std::string& message_id,
                                     const std::string& body) override;

  // Journals `event_bytes` (when the journal is on and the bytes are not empty), signs the
  // response meanwhile, and releases it only once the event is durable. If the journal cannot
  // make it durable, replaces the response with a signed 503 JOURNAL_UNAVAILABLE (fail closed)
  // and returns false.
  // `body_digest`: the response body's Content-Digest value when the caller has it (empty: the
  // signer computes it).
  asio::awaitable<bool> seal(const pipeline::Request* req, pipeline::Response& res,
                             std::string event_bytes, std::string_view event_id,
                             std::string_view body_digest);
  void sign(const pipeline::Request* req, pipeline::Response& res,
            std::string_view body_digest = {});
  std::shared_ptr<PendingAppend> submit(std::string event_bytes);
  void flushOutbox();
  bool journalDown() const;
  asio::awaitable<pipeline::Response> handleZone(config::Zone zone, pipeline::Request&& request,
                                                 const pipeline::TlsPeer* peer,
                                                 std::chrono::steady_clock::time_point started,
                                                 common::StatusCode& code);
  asio::awaitable<pipeline::Response> handleJournalExport(const pipeline::Request& req);
  // Journals an event from an admin handler and waits for it; false when it is not durable.
  asio::awaitable<bool> journalAdminEvent(std::string event_bytes);
  // The CONSENT_GRANTED / CONSENT_REVOKED event of an operator's change (Art. 20 p.4, §6). The
  // change is already durable in the consent store; a journal failure is answered 503 so the
  // operator knows the record is incomplete (and logged).
  // SpaceHost (also the admin API's): see space_routes.h.
  asio::awaitable<bool> journalConsentChange(const consent::Consent& c, bool granted,
                                             std::string_view actor,
                                             std::string& event_id) override;
  asio::awaitable<pipeline::Response> handleAdmin(const pipeline::Request& req);
  asio::awaitable<pipeline::Response> handleReload(const pipeline::Request& req);
  asio::awaitable<pipeline::Response> handleConsents(const pipeline::Request& req,
                                                     std::string_view path, std::string_view query);
  pipeline::Response problem(const pipeline::Request& req, common::StatusCode code,
                             common::Reason reason, std::string param = {}, int http = 0,
                             std::string_view event_id = {});
  void finish(pipeline::Response& res, unsigned version, bool head);

  Server::Impl& server_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  adapters::http::HttpUpstreamPool pool_;
  // Shared grant quotas and replay window (issue #6), on redis_; made by createRedisBlocking when
  // redis.shared_state, read per request by the policy stage (empty: local decisions only).
  std::unique_ptr<shared_state::SharedPolicyState> shared_policy_;
  async::AsyncContext async_cx_;  // store attached by enableAsync (before the worker runs)
  pipeline::Chain chain_;
  transport::SessionTracker tracker_;
  struct Bound {
    tcp::acceptor acceptor;
    transport::SessionContext cx;
  };
  std::vector<std::unique_ptr<Bound>> listeners_;
  DateCache date_;
  common::UuidV7Generator ids_;
  // Events of this event-loop turn waiting to be handed to the journal together (submit()).
  struct Outgoing {
    std::string bytes;
    std::shared_ptr<PendingAppend> pending;
  };
  std::vector<Outgoing> outbox_;
  bool outbox_posted_ = false;
  // Redis (issue #6), when configured: made by bind(), started by start(), stopped once the
  // worker has drained; destroyed with the worker after its thread has ended (before ioc_).
  std::unique_ptr<adapters::redis::RedisClient> redis_;
  std::atomic<adapters::redis::RedisState> redis_state_{adapters::redis::RedisState::Down};
  // The shared digital-space index read through redis_ (redis.space_index); before redis_.
  std::unique_ptr<space_index::RedisEventIndex> shared_events_;
  // The async exchange (enableAsync): destroyed before redis_, which they use.
  std::unique_ptr<async::MessageStore> async_store_;
  std::unique_ptr<pipeline::Stage> delivery_routing_;  // the dispatcher's routing stage
  std::unique_ptr<async::Dispatcher> dispatcher_;
  std::thread thread_;
};

// What a reload did. `errors` lists every problem of a refused bundle (the old one keeps serving).
struct ReloadOutcome {
  bool applied = false;
  bool changed = false;  // the policy digest differs from the one that was serving
  std::string policy_digest;
  std::vector<config::ConfigError> errors;
};

// Settings bound into listeners, pools and threads at start: a reload may not change them.
void checkRestartOnly(const config::GatewayConfig& running, const config::GatewayConfig& next,
                      std::vector<config::ConfigError>& errors) {
  auto refuse = [&](std::string_view what) {
    errors.push_back({std::string(what),
                      "cannot change while the gateway runs; restart it to "
                      "apply (the running value is kept)"});
  };
  if (next.node_id != running.node_id) refuse("node_id");
  if (next.workers != running.workers) refuse("workers");
  if (next.listeners != running.listeners) refuse("listeners");
  if (next.limits != running.limits) refuse("limits");
  if (next.upstream != running.upstream) refuse("upstream");
  if (next.replay_window != running.replay_window ||
      next.replay_max_entries != running.replay_max_entries) {
    refuse("replay_window / replay_max_entries");
  }
  if (next.drain_timeout != running.drain_timeout) refuse("drain_timeout");
  if (next.ports_file != running.ports_file) refuse("ports_file");
  if (next.data_dir != running.data_dir) refuse("data_dir");
  if (next.redis != running.redis) refuse("redis");
  if (next.async != running.async) refuse("async");
}

adapters::redis::RedisSettings redisSettingsOf(const config::RedisConfig& c) {
  adapters::redis::RedisSettings s;
  s.host = c.host;
  s.port = c.port;
  s.unix_path = c.unix_path;
  s.username = c.username;
  s.password_file = c.password_file;
  s.db = c.db;
  s.connect_timeout = c.connect_timeout;
  s.reconnect_backoff_initial = c.reconnect_initial;
  s.reconnect_backoff_max = c.reconnect_max;
  s.max_in_flight = c.max_in_flight;
  return s;  // command_timeout is for the later users' deadlines, not the client's
}

std::string redisAddressOf(const config::RedisConfig& c) {
  if (!c.unix_path.empty()) return "unix:" + c.unix_path;
  if (c.host.find(':') != std::string::npos) return "[" + c.host + "]:" + std::to_string(c.port);
  return c.host + ":" + std::to_string(c.port);
}

adapters::redis::RedisMetrics redisMetricsOf(const metrics::RedisClientMetrics& m) {
  adapters::redis::RedisMetrics r;
  r.commands = m.commands;
  r.error_replies = m.error_replies;
  r.timeouts = m.timeouts;
  r.disconnected = m.disconnected;
  r.overloaded = m.overloaded;
  r.late_replies = m.late_replies;
  r.reconnects = m.reconnects;
  r.connect_failures = m.connect_failures;
  r.connections_lost = m.connections_lost;
  r.script_fallbacks = m.script_fallbacks;
  r.command_seconds = m.command_seconds;
  r.connected = nullptr;  // one gauge for all workers: the server counts them (onRedisState)
  return r;
}

struct Server::Impl {
  ~Impl() {
    if (journal) journal->stop();
  }
  explicit Impl(std::shared_ptr<const config::Snapshot> snap)
      : snapshot(snap),
        replay(snap->gateway.replay_window, snap->gateway.replay_max_entries,
               metrics.replayEvictions()),
        runtime(policy::buildPolicyRuntime(snap, quotas, metrics)) {}

  // The serving snapshot, and the policy state derived from it (runtime->snapshot is the same
  // object). Requests load `runtime` once and use its snapshot, so the two always match.
  std::atomic<std::shared_ptr<const config::Snapshot>> snapshot;
  metrics::Metrics metrics;
  policy::ReplayWindow replay;   // process-wide, survives reloads
  policy::QuotaRegistry quotas;  // process-wide: buckets survive reloads of unchanged grants
  std::atomic<std::shared_ptr<const policy::PolicyRuntime>> runtime;
  common::SystemTimeSource time;
  // Opened by bind(): in Redis with redis.consents, else a FileConsentStore when data_dir is set.
  std::unique_ptr<consent::ConsentStore> consents;
  // The gateway's keys (responses, checkpoints, GET /v1/keys) and the journal, made by bind().
  // Both are fixed for the process's life (restart-only settings).
  std::shared_ptr<const signing::GatewayKeySet> keys;
  std::unique_ptr<journal::Journal> journal;
  // The space listener's state (registry, demo provider, event index, page), made by bind()
  // when a space listener is configured. Declared after the journal: the journal (stopped in
  // ~Impl) feeds the index.
  std::unique_ptr<SpaceState> space;
  // With redis.space_index (issue #6): the outbox shipping this node's journal to Redis for every
  // replica's space listener, and the page cursors' key cache the workers' shared indexes share.
  // The outbox is stopped after the journal (run(), ~Impl), whose commit observer wakes it.
  std::unique_ptr<outbox::Shipper> event_outbox;
  std::shared_ptr<space_index::SharedCursorKey> space_cursor_key;
  bool sign_responses = false;
  std::string node_id;
  std::string jwks;  // GET /v1/keys body; {"keys":[]} when no keys are configured
  policy::PolicyContext policy_context{&replay, nullptr};
  asio::thread_pool control{1};  // reloads: file I/O off the workers, one at a time
  std::mutex reload_mu;

  // Loads the gateway file the running snapshot came from, validates it whole and swaps it in
  // atomically, or refuses with every error. Blocking: control thread only.
  ReloadOutcome reloadBlocking(std::string_view trigger) {
    std::lock_guard lock(reload_mu);
    const auto running = snapshot.load();
    ReloadOutcome out;
    config::LoadResult r = config::loadSnapshotBlocking(running->source_path);
    out.errors = std::move(r.errors);
    if (out.errors.empty()) checkRestartOnly(running->gateway, r.snapshot->gateway, out.errors);
    if (!out.errors.empty()) {
      metrics::inc(metrics.reloadFailures());
      common::log(common::LogLevel::Warn, "reload refused; the running policy keeps serving",
                  {{"trigger", trigger},
                   {"errors", std::to_string(out.errors.size())},
                   {"first", out.errors.front().where + ": " + out.errors.front().message}});
      out.policy_digest = running->policy_digest;
      return out;
    }
    out.applied = true;
    out.changed = r.snapshot->policy_digest != running->policy_digest;
    out.policy_digest = r.snapshot->policy_digest;
    // Requests in flight keep the snapshot they started with; new ones see this one.
    runtime.store(policy::buildPolicyRuntime(r.snapshot, quotas, metrics));
    snapshot.store(std::move(r.snapshot));
    metrics::inc(metrics.reloads());
    if (out.changed) journalPolicyChangeBlocking(trigger, out.policy_digest);
    common::log(common::LogLevel::Info, "reloaded",
                {{"trigger", trigger},
                 {"policy_digest", out.policy_digest},
                 {"changed", out.changed ? "true" : "false"}});
    return out;
  }
  // Art. 20 p.4: a policy change is journaled with what triggered it. Control thread: waits for
  // the event to be durable (bounded: the journal completes every append).
  void journalPolicyChangeBlocking(std::string_view trigger, std::string_view digest) {
    if (!journal) return;
    common::UuidV7Generator ids;
    const std::string event_id = common::toString(ids.nextNow());
    OperatorAction a;
    a.policy_change = true;
    a.event_id = event_id;
    a.node_id = node_id;
    a.time = time.now();
    a.operator_name = trigger == "SIGHUP" ? "signal" : "admin-api";
    a.reason = trigger;
    a.detail = digest;
    auto done = std::make_shared<std::promise<journal::AppendResult>>();
    auto result = done->get_future();
    journal->append(buildOperatorEvent(a),
                    [done](const journal::AppendResult& r) { done->set_value(r); });
    const journal::AppendResult r = result.get();
    if (!r.ok()) {
      common::log(common::LogLevel::Error, "policy change applied but its event is not journaled",
                  {{"policy_digest", digest}, {"journal", appendStatusName(r.status)}});
    }
  }

  // Redis (issue #6): the handles every worker's client shares (they outlive the workers), and
  // the aggregate state logged once per change. Not part of readiness yet (docs/operations.md).
  adapters::redis::RedisMetrics redis_metrics;
  shared_state::SharedStateMetrics shared_state_metrics;  // qaqpa_shared_state_*
  std::string redis_address;                              // empty = no Redis configured
  std::atomic<bool> redis_stopping{false};
  std::mutex redis_log_mu;
  bool redis_all_connected = false;  // under redis_log_mu: what was logged last

  // checks.redis of /readyz: off (not configured), connected (every worker's connection is up),
  // down (at least one worker's is down: lost or failed, waiting to reconnect), connecting
  // (none down, at least one still connecting). Any thread.
  std::string_view redisCheck() const;
  // A worker's client changed state (called on that worker's thread).
  void onRedisState(adapters::redis::RedisState before, adapters::redis::RedisState now);

  std::atomic<std::size_t> active_connections{0};
  std::atomic<bool> ready{false};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::pair<ListenerKind, std::uint16_t>> bound_ports;
};

std::string_view Server::Impl::redisCheck() const {
  if (redis_address.empty()) return "off";
  bool all_connected = true;
  bool any_down = false;
  for (const auto& w : workers) {
    const adapters::redis::RedisState s = w->redisState();
    all_connected = all_connected && s == adapters::redis::RedisState::Connected;
    any_down = any_down || s == adapters::redis::RedisState::Down;
  }
  if (all_connected) return "connected";
  return any_down ? "down" : "connecting";
}

void Server::Impl::onRedisState(adapters::redis::RedisState before,
                                adapters::redis::RedisState now) {
  using adapters::redis::RedisState;
  if (now == RedisState::Connected) metrics::add(metrics.redis().connected, 1);
  if (before == RedisState::Connected) metrics::add(metrics.redis().connected, -1);
  if (redis_stopping.load()) return;
  // One line per change of the whole (all connected or not), not one per worker; the client logs
  // its own failures (once per outage, rate-limited).
  std::lock_guard lock(redis_log_mu);
  std::size_t up = 0;
  for (const auto& w : workers) up += w->redisState() == RedisState::Connected ? 1 : 0;
  const bool all = up == workers.size();
  if (all == redis_all_connected) return;
  redis_all_connected = all;
  if (all) {
    common::log(common::LogLevel::Info, "redis connected",
                {{"address", redis_address}, {"workers", std::to_string(up)}});
  } else {
    common::log(common::LogLevel::Warn, "redis connection lost; reconnecting",
                {{"address", redis_address},
                 {"connected_workers", std::to_string(up) + "/" + std::to_string(workers.size())},
                 {"check", redisCheck()}});
  }
}

std::shared_ptr<const config::Snapshot> Worker::currentSnapshot() {
  return server_.snapshot.load();
}
consent::ConsentStore* Worker::consentStore() { return server_.consents.get(); }

Worker::Worker(Server::Impl& server)
    : server_(server),
      work_(asio::make_work_guard(ioc_)),
      pool_(ioc_.get_executor(), server.snapshot.load()->gateway.upstream,
            &server.metrics.upstream()),
      chain_([this] {
        std::vector<std::unique_ptr<pipeline::Stage>> stages;
        stages.push_back(envelope::makeEnvelopeStage());
        stages.push_back(policy::makePolicyStage(server_.policy_context, &shared_policy_));
        stages.push_back(async::makeAsyncStage(async_cx_));
        stages.push_back(routing::makeRoutingStage(pool_));
        return stages;
      }()) {}

void Worker::addListener(ListenerKind kind, tcp::acceptor acceptor,
                         std::shared_ptr<asio::ssl::context> tls) {
  auto snap = server_.snapshot.load();
  auto b = std::make_unique<Bound>(Bound{std::move(acceptor), {}});
  b->cx.listener = kind;
  b->cx.limits = snap->gateway.limits;
  b->cx.handler = this;
  b->cx.tracker = &tracker_;
  b->cx.metrics = &server_.metrics.listener(kind);
  b->cx.ids = &ids_;
  b->cx.tls = std::move(tls);
  listeners_.push_back(std::move(b));
}

void Worker::start() {
  for (auto& b : listeners_) {
    std::atomic<std::size_t>* limiter =
        b->cx.listener == ListenerKind::Admin ? nullptr : &server_.active_connections;
    asio::co_spawn(ioc_, transport::acceptLoop(b->acceptor, b->cx, limiter), asio::detached);
  }
  if (redis_) asio::post(ioc_, [this] { redis_->start(); });
  if (dispatcher_) asio::post(ioc_, [this] { dispatcher_->start(); });
  thread_ = std::thread([this] { ioc_.run(); });
}

bool Worker::createRedisBlocking(const adapters::redis::RedisSettings& settings,
                                 std::string& error) {
  redis_ = adapters::redis::RedisClient::createBlocking(ioc_.get_executor(), settings,
                                                        &server_.redis_metrics, &error);
  if (!redis_) return false;
  const config::GatewayConfig& gc = server_.snapshot.load()->gateway;
  if (gc.redis && gc.redis->shared_state) {
    // The quota script runs under redis.policy_timeout (ms): cached by every handshake, its first
    // call on a connection is one round trip, not EVALSHA + NOSCRIPT + EVAL.
    redis_->preloadScript(shared_state::RedisRateLimiter::script());
    shared_policy_ = std::make_unique<shared_state::SharedPolicyState>(
        *redis_, gc.replay_window, gc.redis->policy_timeout, &server_.shared_state_metrics);
  }
  if (server_.space_cursor_key) {
    space_index::RedisEventIndexOptions o;
    o.timeout = gc.redis->command_timeout;
    shared_events_ =
        std::make_unique<space_index::RedisEventIndex>(*redis_, server_.space_cursor_key, o);
  }
  // Posted to this worker's executor, in order: runs on the worker's thread.
  redis_->setStateListener([this](adapters::redis::RedisState s) {
    const adapters::redis::RedisState before = redis_state_.exchange(s);
    if (before != s) server_.onRedisState(before, s);
  });
  return true;
}

void Worker::enableAsync(const config::AsyncConfig& settings, std::chrono::milliseconds timeout,
                         unsigned index, unsigned count) {
  async_store_ = std::make_unique<async::MessageStore>(*redis_, settings, timeout);
  delivery_routing_ = routing::makeRoutingStage(pool_);
  async::DispatchHost& host = *this;  // a private base: converted here, where it is accessible
  dispatcher_ = std::make_unique<async::Dispatcher>(ioc_.get_executor(), *async_store_, host,
                                                    server_.node_id + "/" + std::to_string(index),
                                                    index, count, &server_.metrics.async());
  async_cx_.store = async_store_.get();
  async_cx_.metrics = &server_.metrics.async();
  async_cx_.on_submitted = [this] { dispatcher_->nudge(); };
}

asio::awaitable<pipeline::StageResult> Worker::forwardToProvider(pipeline::Exchange& ex) {
  co_return co_await delivery_routing_->onRequest(ex);
}

asio::awaitable<bool> Worker::journalDelivery(const pipeline::Exchange& ex,
                                              const async::DeliveryFacts& f) {
  if (server_.journal == nullptr) co_return true;
  const std::string request_digest = signing::contentDigestSha256(ex.request.body());
  const std::string response_digest = signing::contentDigestSha256(ex.response.body());
  const CallFacts facts{ex.event_id, server_.node_id, request_digest, response_digest, f.latency};
  const DeliveryAttempt attempt{f.attempt, f.max_attempts, f.outcome};
  co_return co_await journalAdminEvent(buildDeliveryEvent(ex, facts, attempt));
}

// The async exchange's result notification (docs/async.md "Callbacks"): POST to the client's
// registered callback through this worker's upstream pool, signed with the gateway's active key
// (RFC 9421, label qaqpa: @method, @authority, @path, content-digest, qaqpa-message-id).
asio::awaitable<bool> Worker::sendCallback(const std::string& client, const std::string& message_id,
                                           const std::string& body) {
  const auto snap = server_.snapshot.load();
  const config::System* system = snap->policy.findSystem(client);
  if (system == nullptr || !system->callback) co_return true;
  const config::Upstream& up = *system->callback;
  const std::string path = up.base_path.empty() ? std::string("/") : up.base_path;
  std::string authority = up.host;
  if (up.port != 80) authority += ":" + std::to_string(up.port);
  pipeline::Request req{bhttp::verb::post, path, 11};
  req.set(bhttp::field::host, authority);
  req.set(bhttp::field::content_type, "application/json");
  req.set("Content-Digest", signing::contentDigestSha256(body));
  req.set("Qaqpa-Message-Id", message_id);
  req.set("Qaqpa-Gateway", server_.node_id);
  req.body() = body;
  if (server_.keys) {
    const signing::GatewayKeySet::ActiveKey active = server_.keys->active();
    signing::SignatureParams params;
    params.created = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    params.keyid = std::string(active.kid);
    constexpr std::array<std::string_view, 5> kCovered{"@method", "@authority", "@path",
                                                       "content-digest", "qaqpa-message-id"};
    auto signature = signing::signRequest(req, kCovered, "qaqpa", params, active.key, "http");
    if (!signature) {
      common::log(common::LogLevel::Error, "async callback not signed: not sent",
                  {{"message", message_id}});
      co_return false;
    }
    req.set("Signature-Input", signature->signature_input);
    req.set("Signature", signature->signature);
  }
  routing::UpstreamRequest out;
  out.method = bhttp::verb::post;
  out.head = "POST " + path + " HTTP/1.1\r\n";
  for (const auto& f : req) {
    out.head.append(f.name_string());
    out.head.append(": ");
    out.head.append(f.value());
    out.head.append("\r\n");
  }
  out.head.append("Content-Length: " + std::to_string(req.body().size()) + "\r\n\r\n");
  out.body = req.body();
  const routing::UpstreamResult r =
      co_await pool_.send(up, out, snap->gateway.upstream.default_timeout);
  co_return r.response&& r.response->result_int() >= 200 && r.response->result_int() < 300;
}

void Worker::beginDrain(std::function<void()> drained) {
  for (auto& b : listeners_) {
    boost::system::error_code ignored;
    b->acceptor.close(ignored);
  }
  pool_.closeIdle();
  // Drained when the sessions are and the dispatcher's deliveries in flight have ended (it reads
  // no new entries from now on; what it has not acknowledged is claimed later by a live replica).
  auto pending = std::make_shared<int>(dispatcher_ ? 2 : 1);
  auto done = [this, pending, drained = std::move(drained)] {
    if (--*pending > 0) return;
    if (redis_) redis_->stop();  // after the last request: later features use it until then
    work_.reset();
    drained();
  };
  if (dispatcher_) dispatcher_->stop(done);
  tracker_.onDrained(done);
  tracker_.startDrain();
}

void Worker::finish(pipeline::Response& res, unsigned version, bool head) {
  res.version(version);
  res.set(bhttp::field::date, date_.get());
  res.set(bhttp::field::server, kServerHeader);
  if (head) {
    // Keep Content-Length of the would-be body; send none (RFC 9110 §9.3.2).
    const auto size = res.body().size();
    res.body().clear();
    res.content_length(size);
  }
}

asio::awaitable<pipeline::Response> Worker::handle(ListenerKind listener,
                                                   pipeline::Request&& request,
                                                   const pipeline::TlsPeer* peer) {
  const auto started = std::chrono::steady_clock::now();
  auto& m = server_.metrics.listener(listener);
  const unsigned version = request.version();
  const bool head = request.method() == bhttp::verb::head;
  pipeline::Response res;
  common::StatusCode code = common::StatusCode::Ok;
  const std::string_view target = request.target();
  if (target == "/v1/keys" &&
      (request.method() == bhttp::verb::get || request.method() == bhttp::verb::head)) {
    // The gateway's public keys (PROTOCOL.md §2) on every listener: clients verify responses and
    // citizens verify checkpoints with them.
    res.result(bhttp::status::ok);
    res.version(version);
    res.set(bhttp::field::content_type, "application/jwk-set+json");
    res.set(bhttp::field::cache_control, "max-age=300");
    res.body() = server_.jwks;
    res.prepare_payload();
    sign(&request, res);
  } else if (listener == ListenerKind::Admin || listener == ListenerKind::Space) {
    // Admin and space handlers are not stages; a bug there must still answer, not kill the
    // connection.
    std::exception_ptr error;
    try {
      if (listener == ListenerKind::Admin) {
        res = co_await handleAdmin(request);
      } else if (server_.space) {
        res = co_await handleSpace(*server_.space, *this, request);
      } else {
        res = problem(request, common::StatusCode::ServiceNotFound, common::Reason::RouteUnknown);
      }
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      const std::string trace = common::toString(ids_.nextNow());
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      common::log(common::LogLevel::Error, "handler failed",
                  {{"trace", trace},
                   {"listener", config::listenerName(listener)},
                   {"target", request.target()},
                   {"error", what}});
      res = problem(request, common::StatusCode::Internal, common::Reason::InternalError, {}, 500);
    }
    // Counted by the canonical code the answer carries (problems set Qaqpa-Status), so the
    // space listener's refusals show up as AUTH_FAILED, VALIDATION_FAILED, ... in the metrics.
    code = statusOf(res);
    if (res.find("Qaqpa-Status") == res.end()) res.set("Qaqpa-Status", common::codeName(code));
    sign(&request, res);
  } else if (auto zone = config::zoneOf(listener)) {
    res = co_await handleZone(*zone, std::move(request), peer, started, code);
  }
  finish(res, version, head);
  metrics::inc(m.requests[static_cast<int>(code)]);
  metrics::observe(
      m.duration,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  co_return res;
}

asio::awaitable<pipeline::Response> Worker::handleZone(
    config::Zone zone, pipeline::Request&& request, const pipeline::TlsPeer* peer,
    std::chrono::steady_clock::time_point started, common::StatusCode& code) {
  const bool journaling = server_.journal != nullptr;
  // Fail closed before the provider is called: a call whose event cannot be recorded is not made.
  if (journalDown()) {
    code = common::StatusCode::ProviderUnavailable;
    pipeline::Response res = problem(request, code, common::Reason::JournalUnavailable, {}, 503);
    sign(&request, res);
    co_return res;
  }
  const std::string event_id = common::toString(ids_.nextNow());
  const std::string_view target = request.target();
  const bool messages =
      target.starts_with("/v1/messages/") &&
      (request.method() == bhttp::verb::get || request.method() == bhttp::verb::delete_);
  if ((target.starts_with("/v1/services/") && isServiceMethod(request.method())) || messages) {
    auto runtime = server_.runtime.load();
    pipeline::Exchange ex(runtime->snapshot, zone, std::move(request));
    ex.policy_state = std::move(runtime);
    ex.started = started;
    ex.tls_peer = peer;
    ex.received_at = std::chrono::system_clock::now();
    ex.lang = common::parseAcceptLanguage(ex.request[bhttp::field::accept_language]);
    if (journaling) ex.event_id = event_id;
    co_await chain_.run(ex);
    code = ex.status;
    std::string event;
    std::string response_digest;  // hashed once: for the event and the signature
    if (journaling) {
      const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
      const std::string request_digest = signing::contentDigestSha256(ex.request.body());
      response_digest = signing::contentDigestSha256(ex.response.body());
      const CallFacts facts{event_id, server_.node_id, request_digest, response_digest, latency};
      // An async submission stored and queued: MESSAGE_ACCEPTED (docs/async.md).
      const bool accepted = ex.status == common::StatusCode::Accepted && !ex.failure &&
                            !ex.envelope.messages_target && ex.envelope.async_requested;
      event = accepted ? buildAcceptedEvent(ex, facts) : buildCallEvent(ex, facts);
    }
    if (!co_await seal(&ex.request, ex.response, std::move(event), event_id, response_digest)) {
      code = common::StatusCode::ProviderUnavailable;
    }
    co_return std::move(ex.response);
  }
  // Refused before it became an exchange: still one event, under the problem's message id.
  pipeline::Response res;
  common::Reason reason = common::Reason::RouteUnknown;
  if (target.starts_with("/v1/services/")) {
    reason = common::Reason::MethodNotAllowed;
    code = common::StatusCode::ValidationFailed;
    res = problem(request, code, reason, std::string{request.method_string()}, 405,
                  journaling ? std::string_view(event_id) : std::string_view());
    res.set(bhttp::field::allow, "GET, HEAD, POST, PUT, PATCH, DELETE");
  } else if (target.starts_with("/v1/messages/")) {
    reason = common::Reason::MethodNotAllowed;
    code = common::StatusCode::ValidationFailed;
    res = problem(request, code, reason, std::string{request.method_string()}, 405,
                  journaling ? std::string_view(event_id) : std::string_view());
    res.set(bhttp::field::allow, "GET, DELETE");
  } else {
    code = common::StatusCode::ServiceNotFound;
    res = problem(request, code, reason, {}, 0,
                  journaling ? std::string_view(event_id) : std::string_view());
  }
  std::string event;
  std::string response_digest;
  if (journaling) {
    const std::string request_digest = signing::contentDigestSha256(request.body());
    response_digest = signing::contentDigestSha256(res.body());
    RefusedCall call;
    call.event_id = event_id;
    call.node_id = server_.node_id;
    call.zone = zone;
    call.time = std::chrono::system_clock::now();
    const std::string_view claimed = request["Qaqpa-Client"];
    // Only a syntactically valid system id is recorded: the header is the caller's free text.
    if (common::parseSystemId(claimed)) call.claimed_client = claimed;
    const std::string message_id{res["Qaqpa-Message-Id"]};
    call.message_id = message_id;
    call.status = code;
    call.reason = reason;
    call.http_status = res.result_int();
    call.request_digest = request_digest;
    call.response_digest = response_digest;
    call.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    event = buildRefusedCallEvent(call);
  }
  if (!co_await seal(&request, res, std::move(event), event_id, response_digest)) {
    code = common::StatusCode::ProviderUnavailable;
  }
  co_return res;
}

bool Worker::journalDown() const {
  return server_.journal != nullptr && !server_.journal->healthy();
}

std::shared_ptr<PendingAppend> Worker::submit(std::string event_bytes) {
  auto p = std::make_shared<PendingAppend>(ioc_.get_executor());
  outbox_.push_back({std::move(event_bytes), p});
  if (!outbox_posted_) {
    // Handed over after every handler that is ready now has run: one hand-over (one lock, at
    // most one wake-up of the writer) for all events of this event-loop turn.
    outbox_posted_ = true;
    asio::post(ioc_, [this] { flushOutbox(); });
  }
  return p;
}

void Worker::flushOutbox() {
  outbox_posted_ = false;
  if (outbox_.empty()) return;
  // One completion post per hand-over: the writer completes a group in order, and the last
  // event's completion (any thread) posts every result back to this worker at once.
  struct Group {
    std::vector<std::shared_ptr<PendingAppend>> pending;
    std::vector<journal::AppendResult> results;
    std::atomic<std::size_t> left{0};
  };
  auto g = std::make_shared<Group>();
  const std::size_t n = outbox_.size();
  g->pending.reserve(n);
  g->results.resize(n);
  g->left.store(n, std::memory_order_relaxed);
  std::vector<journal::Journal::AppendRequest> requests;
  requests.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    g->pending.push_back(std::move(outbox_[i].pending));
    requests.push_back({std::move(outbox_[i].bytes),
                        [g, i, ex = ioc_.get_executor()](const journal::AppendResult& r) {
                          g->results[i] = r;
                          if (g->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
                          asio::post(ex, [g] {
                            for (std::size_t k = 0; k < g->pending.size(); ++k) {
                              PendingAppend& p = *g->pending[k];
                              p.done = true;
                              p.result = g->results[k];
                              p.wake.cancel();
                            }
                          });
                        }});
  }
  outbox_.clear();
  server_.journal->appendMany(std::move(requests));
}

void Worker::sign(const pipeline::Request* req, pipeline::Response& res,
                  std::string_view body_digest) {
  if (!server_.sign_responses) return;
  if (!signing::signResponse(req, res, *server_.keys, std::chrono::system_clock::now(),
                             body_digest)) {
    metrics::inc(server_.metrics.signFailures());
    common::log(common::LogLevel::Error, "could not sign a response; sent unsigned");
  }
}

asio::awaitable<bool> Worker::seal(const pipeline::Request* req, pipeline::Response& res,
                                   std::string event_bytes, std::string_view event_id,
                                   std::string_view body_digest) {
  std::shared_ptr<PendingAppend> pending;
  if (server_.journal != nullptr && !event_bytes.empty()) {
    res.set(kEventIdHeader, event_id);
    pending = submit(std::move(event_bytes));
  }
  // Signing overlaps the journal's write and fsync on the writer thread.
  sign(req, res, body_digest);
  if (!pending) co_return true;
  co_await awaitAppend(pending);
  if (pending->result.ok()) co_return true;
  common::log(common::LogLevel::Warn, "event not durable: the call fails closed",
              {{"event", event_id}, {"journal", appendStatusName(pending->result.status)}});
  common::Failure f{common::StatusCode::ProviderUnavailable,
                    pending->result.status == journal::AppendStatus::Overloaded
                        ? common::Reason::Overloaded
                        : common::Reason::JournalUnavailable,
                    {},
                    {},
                    503};
  const common::Lang lang = req != nullptr
                                ? common::parseAcceptLanguage((*req)[bhttp::field::accept_language])
                                : common::Lang::Kk;
  const std::string message_id{res["Qaqpa-Message-Id"]};
  res = pipeline::renderBareProblem(f, lang, res.version(), message_id);
  sign(req, res);
  co_return false;
}

void Worker::finishBare(pipeline::Response& res) {
  finish(res, res.version(), false);
  sign(nullptr, res);
}

asio::awaitable<bool> Worker::journalConsentChange(const consent::Consent& c, bool granted,
                                                   std::string_view actor, std::string& event_id) {
  if (server_.journal == nullptr) co_return true;
  auto snap = server_.snapshot.load();
  event_id = common::toString(ids_.nextNow());
  const std::string subject = c.subject.toString();
  ConsentChange change;
  change.granted = granted;
  change.event_id = event_id;
  change.node_id = server_.node_id;
  change.time = std::chrono::system_clock::now();
  change.by_operator = actor.starts_with("admin");
  change.actor = actor;
  change.subject = subject;
  change.consent_id = c.id;
  change.client_id = c.client;
  change.client = snap->policy.findSystem(c.client);
  change.services = c.services;
  if (c.services.size() == 1) change.service = snap->policy.findService(c.services.front());
  change.purpose_code = c.purpose;
  change.purpose = snap->policy.findPurpose(c.purpose);
  const bool ok = co_await journalAdminEvent(buildConsentEvent(change));
  if (!ok) {
    common::log(common::LogLevel::Error, "consent changed but its event is not journaled",
                {{"consent", c.id}, {"granted", granted ? "true" : "false"}, {"actor", actor}});
  }
  co_return ok;
}

asio::awaitable<bool> Worker::journalAdminEvent(std::string event_bytes) {
  if (server_.journal == nullptr) co_return true;
  auto pending = submit(std::move(event_bytes));
  co_await awaitAppend(pending);
  co_return pending->result.ok();
}

// POST /admin/journal/export {"subject", "reason", "operator"}: every event about one citizen or
// company as JSON lines, for an operator with a legal reason. The access itself is journaled
// (OPERATOR_ACCESS, durable) before a single line is read; the files are read on the control
// thread, never on this worker.
asio::awaitable<pipeline::Response> Worker::handleJournalExport(const pipeline::Request& req) {
  using common::Reason;
  using common::StatusCode;
  if (server_.journal == nullptr) {
    co_return problem(req, StatusCode::ServiceNotFound, Reason::RouteUnknown, {}, 404);
  }
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(req.body(), ec);
  if (ec || !body.is_object()) {
    co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "/");
  }
  const auto& o = body.as_object();
  auto str = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string subject = str("subject");
  const std::string reason = str("reason");
  const std::string op = str("operator");
  if (!audit::isExportableSubject(subject)) {
    co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "subject");
  }
  if (reason.size() < 3 || reason.size() > 500) {
    co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "reason");
  }
  if (op.empty() || op.size() > 100) {
    co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "operator");
  }
  const std::string event_id = common::toString(ids_.nextNow());
  OperatorAction a;
  a.policy_change = false;
  a.event_id = event_id;
  a.node_id = server_.node_id;
  a.time = std::chrono::system_clock::now();
  a.operator_name = op;
  a.reason = reason;
  a.subject = subject;
  // OperatorAction holds views: the detail text must outlive the build call.
  const std::string detail = "journal export subject=" + subject;
  a.detail = detail;
  if (!co_await journalAdminEvent(buildOperatorEvent(a))) {
    co_return problem(req, StatusCode::ProviderUnavailable, Reason::JournalUnavailable, {}, 503);
  }
  const auto worker = co_await asio::this_coro::executor;
  co_await asio::post(asio::bind_executor(server_.control.get_executor(), asio::use_awaitable));
  std::string lines;
  constexpr std::size_t kMaxExportBytes = 64u << 20;
  bool truncated = false;
  const auto snap = server_.snapshot.load();
  audit::ExportOptions options;
  options.archive_dir = snap->gateway.journal.archive_dir;
  const audit::ExportResult r = audit::exportSubjectBlocking(
      snap->gateway.journal.dir, subject,
      [&](std::string_view line, const auto&) {
        if (lines.size() + line.size() + 1 > kMaxExportBytes) {
          truncated = true;
          return false;
        }
        lines.append(line);
        lines.push_back('\n');
        return true;
      },
      options);
  co_await asio::post(worker, asio::use_awaitable);
  if (!r.ok) {
    common::log(common::LogLevel::Error, "journal export failed", {{"error", r.error}});
    co_return problem(req, StatusCode::Internal, Reason::InternalError, {}, 500);
  }
  common::log(
      common::LogLevel::Info, "journal exported by operator",
      {{"operator", op}, {"event", event_id}, {"events", std::to_string(r.events_matched)}});
  pipeline::Response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "application/x-ndjson; charset=utf-8");
  res.set(kEventIdHeader, event_id);
  res.set("Qaqpa-Export-Events", std::to_string(r.events_matched));
  // Complete = every segment read to its end and nothing cut by the size bound.
  res.set("Qaqpa-Export-Complete", r.complete && !truncated ? "true" : "false");
  res.body() = std::move(lines);
  res.prepare_payload();
  co_return res;
}

asio::awaitable<pipeline::Response> Worker::handleReload(const pipeline::Request& req) {
  const auto worker = co_await asio::this_coro::executor;
  // bind_executor: the coroutine itself resumes on the control thread (a plain post to the
  // control pool would resume it back on this worker and block it).
  co_await asio::post(asio::bind_executor(server_.control.get_executor(), asio::use_awaitable));
  ReloadOutcome out = server_.reloadBlocking("admin");
  co_await asio::post(worker, asio::use_awaitable);

  boost::json::object body;
  pipeline::Response res;
  res.version(req.version());
  if (out.applied) {
    res.result(bhttp::status::ok);
    res.set(bhttp::field::content_type, "application/json");
    body["reloaded"] = true;
    body["changed"] = out.changed;
    body["policyDigest"] = out.policy_digest;
  } else {
    // A refused bundle is the operator's input error: a problem with every error listed.
    res.result(bhttp::status::unprocessable_entity);
    res.set(bhttp::field::content_type, "application/problem+json");
    const common::Lang lang = common::parseAcceptLanguage(req[bhttp::field::accept_language]);
    body["type"] = "urn:qaqpa:status:VALIDATION_FAILED";
    body["title"] = common::title(common::StatusCode::ValidationFailed, lang);
    body["status"] = 422;
    body["code"] = "VALIDATION_FAILED";
    body["detail"] = "the new configuration was refused; the running one keeps serving";
    body["policyDigest"] = out.policy_digest;
    boost::json::array errors;
    for (const auto& e : out.errors) errors.push_back({{"where", e.where}, {"message", e.message}});
    body["errors"] = std::move(errors);
  }
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  co_return res;
}

pipeline::Response Worker::problem(const pipeline::Request& req, common::StatusCode code,
                                   common::Reason reason, std::string param, int http,
                                   std::string_view event_id) {
  common::Failure f{code, reason, std::move(param), {}, http};
  return pipeline::renderBareProblem(
      f, common::parseAcceptLanguage(req[bhttp::field::accept_language]), req.version(),
      common::toString(ids_.nextNow()), event_id);
}

// Operator consent management (issue #3: until the citizen's digital space exists, an operator
// may record and revoke consents; every change names the operator). The store does its durable
// write on its own thread; this worker only awaits the result.
asio::awaitable<pipeline::Response> Worker::handleConsents(const pipeline::Request& req,
                                                           std::string_view path,
                                                           std::string_view query) {
  using common::Reason;
  using common::StatusCode;
  consent::ConsentStore* store = server_.consents.get();
  if (store == nullptr) {
    co_return problem(req, StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
  }
  const auto now = std::chrono::system_clock::now();
  auto subjectFrom = [](std::string_view text) { return common::parseSubject(text).id; };

  if (path == "/admin/consents" && req.method() == bhttp::verb::get) {
    auto subject = subjectFrom(queryParam(query, "subject"));
    if (!subject)
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "subject");
    // An operator reading a citizen's consents is access to personal data (Art. 20 p.4): it is
    // journaled as OPERATOR_ACCESS before the answer, with the operator and reason given.
    std::string op = queryParam(query, "operator");
    if (op.empty() || op.size() > 100) {
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "operator");
    }
    std::string why = queryParam(query, "reason");
    if (why.size() > 500) {
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "reason");
    }
    std::string event_id;
    if (server_.journal != nullptr) {
      event_id = common::toString(ids_.nextNow());
      const std::string subject_text = subject->toString();
      OperatorAction a;
      a.policy_change = false;
      a.event_id = event_id;
      a.node_id = server_.node_id;
      a.time = now;
      a.operator_name = op;
      a.reason = why;
      a.subject = subject_text;
      const std::string detail = "consents list subject=" + subject_text;
      a.detail = detail;
      if (!co_await journalAdminEvent(buildOperatorEvent(a))) {
        co_return problem(req, StatusCode::ProviderUnavailable, Reason::JournalUnavailable, {},
                          503);
      }
    }
    const consent::ConsentList found = co_await store->listBySubject(*subject);
    if (!found.available) {
      co_return problem(req, StatusCode::ProviderUnavailable, Reason::ConsentStoreUnavailable, {},
                        503);
    }
    boost::json::array list;
    for (const auto& c : found.consents) list.push_back(consentJson(c, now));
    auto res = jsonResponse(req.version(), bhttp::status::ok,
                            boost::json::object{{"consents", std::move(list)}});
    if (!event_id.empty()) res.set(kEventIdHeader, event_id);
    co_return res;
  }
  if (path == "/admin/consents" && req.method() == bhttp::verb::post) {
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(req.body(), ec);
    if (ec || !body.is_object()) {
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "/");
    }
    const auto& o = body.as_object();
    auto str = [&](std::string_view key) -> std::optional<std::string> {
      const auto* v = o.if_contains(key);
      if (v == nullptr || !v->is_string()) return std::nullopt;
      return std::string(v->as_string());
    };
    consent::ConsentRequest r;
    auto subject = str("subject") ? subjectFrom(*str("subject")) : std::nullopt;
    if (!subject)
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "subject");
    r.subject = *subject;
    if (auto c = str("client")) r.client = *c;
    if (auto p = str("purpose")) r.purpose = *p;
    if (const auto* s = o.if_contains("services"); s != nullptr && s->is_array()) {
      for (const auto& item : s->as_array()) {
        if (!item.is_string()) {
          co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "services");
        }
        r.services.emplace_back(item.as_string());
      }
    }
    auto expires = str("expires") ? config::parseRfc3339(*str("expires")) : std::nullopt;
    if (!expires)
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "expires");
    r.expires = *expires;
    auto op = str("operator");
    if (!op || op->empty()) {
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "operator");
    }
    r.granted_by = "admin:" + *op;
    consent::GrantResult g = co_await store->grant(std::move(r));
    switch (g.status) {
      case consent::GrantStatus::Granted: {
        std::string event_id;
        if (!co_await journalConsentChange(*g.consent, true, g.consent->granted_by, event_id)) {
          co_return problem(req, StatusCode::ProviderUnavailable, Reason::JournalUnavailable, {},
                            503);
        }
        auto res =
            jsonResponse(req.version(), bhttp::status::created, consentJson(*g.consent, now));
        res.set(bhttp::field::location, "/admin/consents/" + g.consent->id);
        if (!event_id.empty()) res.set(kEventIdHeader, event_id);
        common::log(common::LogLevel::Info, "consent granted by operator",
                    {{"consent", g.consent->id}, {"by", g.consent->granted_by}});
        co_return res;
      }
      case consent::GrantStatus::Overloaded:
      case consent::GrantStatus::StorageFailed:
        co_return problem(req, StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
      default:
        co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody,
                          std::string(consent::grantStatusName(g.status)));
    }
  }
  if (path.starts_with("/admin/consents/") && req.method() == bhttp::verb::delete_) {
    const std::string_view id = path.substr(std::string_view("/admin/consents/").size());
    auto subject = subjectFrom(queryParam(query, "subject"));
    if (!subject)
      co_return problem(req, StatusCode::ValidationFailed, Reason::InvalidBody, "subject");
    consent::RevokeResult r = co_await store->revoke(id, *subject);
    std::string event_id;
    switch (r.status) {
      case consent::RevokeStatus::Revoked:
        if (!co_await journalConsentChange(*r.consent, false, "admin", event_id)) {
          co_return problem(req, StatusCode::ProviderUnavailable, Reason::JournalUnavailable, {},
                            503);
        }
        [[fallthrough]];
      case consent::RevokeStatus::AlreadyRevoked: {
        common::log(common::LogLevel::Info, "consent revoked by operator", {{"consent", id}});
        auto res = jsonResponse(req.version(), bhttp::status::ok, consentJson(*r.consent, now));
        if (!event_id.empty()) res.set(kEventIdHeader, event_id);
        co_return res;
      }
      case consent::RevokeStatus::NotFound:
      case consent::RevokeStatus::NotOwner:
        co_return problem(req, StatusCode::ServiceNotFound, Reason::ConsentIdUnknown, {}, 404);
      default:
        co_return problem(req, StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
    }
  }
  auto r = problem(req, StatusCode::ValidationFailed, Reason::MethodNotAllowed,
                   std::string{req.method_string()}, 405);
  r.set(bhttp::field::allow, path == "/admin/consents" ? "GET, POST" : "DELETE");
  co_return r;
}

asio::awaitable<pipeline::Response> Worker::handleAdmin(const pipeline::Request& req) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  pipeline::Response res;
  res.version(req.version());
  if (path == "/admin/consents" || path.starts_with("/admin/consents/")) {
    // Computed outside the co_await expression: GCC 12 mishandles conditionals inside one.
    std::string_view query;
    if (target.size() > path.size()) query = target.substr(path.size() + 1);
    co_return co_await handleConsents(req, path, query);
  }
  if (path == "/admin/journal/export") {
    if (req.method() == bhttp::verb::post) co_return co_await handleJournalExport(req);
    auto r = problem(req, common::StatusCode::ValidationFailed, common::Reason::MethodNotAllowed,
                     std::string{req.method_string()}, 405);
    r.set(bhttp::field::allow, "POST");
    co_return r;
  }
  if (path == "/admin/reload") {
    if (req.method() == bhttp::verb::post) co_return co_await handleReload(req);
    auto r = problem(req, common::StatusCode::ValidationFailed, common::Reason::MethodNotAllowed,
                     std::string{req.method_string()}, 405);
    r.set(bhttp::field::allow, "POST");
    co_return r;
  }
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    auto r = problem(req, common::StatusCode::ValidationFailed, common::Reason::MethodNotAllowed,
                     std::string{req.method_string()}, 405);
    r.set(bhttp::field::allow, "GET, HEAD");
    co_return r;
  }
  if (path == "/healthz") {
    res.result(bhttp::status::ok);
    res.set(bhttp::field::content_type, "application/json");
    res.body() = R"({"status":"alive"})";
  } else if (path == "/readyz") {
    const bool serving = server_.ready.load(std::memory_order_relaxed);
    // PROTOCOL.md §10: not ready while the journal cannot write (calls fail closed meanwhile).
    const bool journal_ok = server_.journal == nullptr || server_.journal->healthy();
    const bool ready = serving && journal_ok;
    res.result(ready ? bhttp::status::ok : bhttp::status::service_unavailable);
    res.set(bhttp::field::content_type, "application/json");
    auto snap = server_.snapshot.load();
    boost::json::object checks{{"config", "loaded"},
                               {"policyDigest", snap->policy_digest},
                               {"listeners", serving ? "serving" : "not serving"}};
    if (server_.journal != nullptr) {
      const journal::JournalHead h = server_.journal->head();
      checks["journal"] = journal_ok ? "writable" : "failing";
      checks["journalSeq"] = h.seq;
    } else {
      checks["journal"] = "off";
    }
    if (server_.space) {
      checks["spaceIndex"] = server_.space->shared_index ? std::string_view("redis")
                             : server_.space->index      ? server_.space->index->stateName()
                                                         : std::string_view("off");
    }
    // Redis is reported, and what it takes away while it is not connected is listed under
    // "degraded", but readiness does not depend on it: every replica shares the one Redis, so
    // taking them all out of rotation would turn a partial outage (the features below) into a
    // total one, while synchronous calls keep being served (docs/operations.md "Redis").
    const std::string_view redis_check = server_.redisCheck();
    checks["redis"] = redis_check;
    boost::json::array degraded;
    const config::GatewayConfig& gcfg = snap->gateway;
    if (gcfg.redis && redis_check != "connected") {
      if (server_.policy_context.async_enabled) degraded.emplace_back("asyncExchange");
      if (gcfg.redis->consents) degraded.emplace_back("consents");
      if (gcfg.redis->shared_state) degraded.emplace_back("sharedQuotaAndReplay");
      if (server_.space && server_.space->shared_index) degraded.emplace_back("spaceEvents");
    }
    if (server_.event_outbox) {
      checks["outbox"] = outbox::Shipper::stateName(server_.event_outbox->state());
      checks["outboxLag"] = server_.event_outbox->lag();
    } else {
      checks["outbox"] = "off";
    }
    res.body() = boost::json::serialize(
        boost::json::object{{"ready", ready}, {"checks", checks}, {"degraded", degraded}});
  } else if (path == "/metrics") {
    res.result(bhttp::status::ok);
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = server_.metrics.serialize();
  } else {
    co_return problem(req, common::StatusCode::ServiceNotFound, common::Reason::RouteUnknown);
  }
  res.prepare_payload();
  co_return res;
}

Server::Server(std::shared_ptr<const config::Snapshot> snapshot)
    : impl_(std::make_unique<Impl>(std::move(snapshot))) {
  auto snap = impl_->snapshot.load();
  unsigned n = snap->gateway.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) impl_->workers.push_back(std::make_unique<Worker>(*impl_));
}

Server::~Server() {
  for (auto& w : impl_->workers) {
    w->forceStop();
    if (w->thread().joinable()) w->thread().join();
  }
  // The consent writer posts completions to worker io_contexts: join it before they go away.
  impl_->policy_context.consents = nullptr;
  impl_->consents.reset();
  // So does the space read pool (SpaceRequest::offWorker resumes on a worker): join it before the
  // workers' io_contexts go away with Impl (a forced stop with reads in flight was a
  // use-after-free under ASan).
  if (impl_->space) impl_->space->reads.join();
}

bool Server::bind(std::string& error) {
  auto snap = impl_->snapshot.load();
  const config::GatewayConfig& gc = snap->gateway;
  impl_->node_id = gc.node_id;
  impl_->jwks = R"({"keys":[]})";
  if (!gc.signing.keys.empty()) {
    impl_->keys = loadGatewayKeysBlocking(gc.signing, error);
    if (!impl_->keys) return false;
    impl_->jwks = impl_->keys->jwksJson();
    common::log(common::LogLevel::Info, "gateway keys loaded",
                {{"active", impl_->keys->active().kid},
                 {"alg", signing::algorithmName(impl_->keys->activeAlgorithm())},
                 {"published", std::to_string(impl_->keys->keys().size())}});
  }
  impl_->sign_responses = gc.signing.sign_responses && impl_->keys != nullptr;
  if (!impl_->sign_responses) {
    common::log(common::LogLevel::Warn,
                "responses are NOT signed (signing.sign_responses: false): benchmarks only");
  }
  if (gc.journal.enabled) {
    journal::JournalOptions o;
    o.dir = gc.journal.dir;
    o.node_id = gc.node_id;
    o.fsync = fsyncPolicyOf(gc.journal.fsync);
    o.fsync_interval = gc.journal.fsync_interval;
    o.max_batch_events = gc.journal.max_batch_events;
    o.max_queue_events = gc.journal.max_queue_events;
    o.segment_max_bytes = gc.journal.segment_max_bytes;
    o.segment_max_age =
        std::chrono::duration_cast<std::chrono::seconds>(gc.journal.segment_max_age);
    o.retention = std::chrono::duration_cast<std::chrono::seconds>(gc.journal.retention);
    o.archive_dir = gc.journal.archive_dir;
    o.retry_interval = gc.journal.retry_interval;
    std::shared_ptr<const signing::GatewayKeySet> keys = impl_->keys;
    journal::Signer signer =
        [keys](std::string_view message) -> std::optional<journal::CheckpointSignature> {
      auto s = keys->sign(message);
      if (!s) return std::nullopt;
      return journal::CheckpointSignature{std::string(s->kid), std::string(s->algorithm),
                                          std::move(s->signature)};
    };
    journal::OpenResult opened = journal::Journal::openBlocking(
        std::move(o), std::move(signer), impl_->time, &impl_->metrics.journal());
    if (!opened.journal) {
      error = "journal " + gc.journal.dir + ": " + opened.error;
      if (opened.corrupt) {
        error +=
            "\nthe journal is damaged in the middle; the gateway will not append to it. "
            "Inspect it with `qaqpa journal verify " +
            gc.journal.dir + "` and repair it with `" + opened.repair_command + "`";
      }
      return false;
    }
    if (opened.torn_tail_bytes > 0) {
      common::log(common::LogLevel::Warn, "JOURNAL HAD A TORN TAIL; truncated it",
                  {{"dir", gc.journal.dir}, {"bytes", std::to_string(opened.torn_tail_bytes)}});
    }
    impl_->journal = std::move(opened.journal);
    const journal::JournalHead h = impl_->journal->head();
    common::log(common::LogLevel::Info, "journal open",
                {{"dir", gc.journal.dir},
                 {"fsync", config::fsyncModeName(gc.journal.fsync)},
                 {"events_recovered", std::to_string(opened.events_recovered)},
                 {"seq", std::to_string(h.seq)}});
  } else {
    common::log(common::LogLevel::Warn,
                "the journal is OFF (journal.enabled: false): no digital events are recorded; "
                "benchmarks only");
  }
  if (!snap->gateway.data_dir.empty() && !(gc.redis && gc.redis->consents)) {
    const std::string dir = snap->gateway.data_dir + "/consents";
    auto opened = consent::FileConsentStore::openBlocking(dir, impl_->time);
    if (!opened.store) {
      error = "consent store: " + opened.message;
      return false;
    }
    if (opened.torn_tails_truncated > 0) {
      common::log(common::LogLevel::Warn, "consent log had a torn tail; truncated",
                  {{"dir", dir}, {"bytes", std::to_string(opened.torn_tail_bytes)}});
    }
    impl_->consents = std::move(opened.store);
    impl_->policy_context.consents = impl_->consents.get();
    common::log(common::LogLevel::Info, "consent store open",
                {{"dir", dir}, {"records", std::to_string(opened.records_replayed)}});
  }
  if (!bindSpace(*snap, error)) return false;
  if (gc.redis) {
    impl_->redis_metrics = redisMetricsOf(impl_->metrics.redis());
    const metrics::SharedStateCounters& ssc = impl_->metrics.sharedState();
    impl_->shared_state_metrics = {ssc.rate_shared, ssc.rate_local, ssc.replay_shared,
                                   ssc.replay_local, ssc.fallbacks};
    const adapters::redis::RedisSettings settings = redisSettingsOf(*gc.redis);
    if (gc.redis->space_index) {
      impl_->space_cursor_key = std::make_shared<space_index::SharedCursorKey>();
    }
    for (auto& w : impl_->workers) {
      if (!w->createRedisBlocking(settings, error)) return false;  // "redis: ..."
    }
    if (gc.redis->consents) {
      // Shared by every replica; each worker reads and writes through its own client.
      consent::RedisConsentStoreOptions co;
      co.timeout = gc.redis->command_timeout;
      auto store = std::make_unique<consent::RedisConsentStore>(impl_->time, co);
      for (auto& w : impl_->workers) store->addClient(w->context(), *w->redisClient());
      impl_->consents = std::move(store);
      impl_->policy_context.consents = impl_->consents.get();
      common::log(common::LogLevel::Info, "consent store: redis (shared by every replica)",
                  {{"timeout_ms", std::to_string(co.timeout.count())}});
    }
    if (gc.redis->space_index && impl_->journal) {
      // Installed before the first append (none happens before run()); ships from the cursor.
      outbox::ShipperOptions o;
      o.node_id = gc.node_id;
      o.dir = gc.journal.dir;
      o.archive_dir = gc.journal.archive_dir;
      o.redis = settings;
      o.batch_events = gc.redis->outbox_batch_events;
      o.max_events_per_second = static_cast<double>(gc.redis->outbox_max_events_per_second);
      impl_->event_outbox = outbox::Shipper::createBlocking(std::move(o), &impl_->metrics.outbox(),
                                                            &impl_->redis_metrics, error);
      if (!impl_->event_outbox) return false;
      impl_->journal->setCommitObserver(impl_->event_outbox->observer());
      impl_->event_outbox->start(impl_->journal->head().seq);
      common::log(common::LogLevel::Info,
                  "outbox on: this node's digital events are shipped to redis for every replica",
                  {{"journal_seq", std::to_string(impl_->journal->head().seq)},
                   {"batch_events", std::to_string(gc.redis->outbox_batch_events)}});
    }
    impl_->redis_address = redisAddressOf(*gc.redis);
    if (gc.async.enabled) {
      const unsigned count = static_cast<unsigned>(impl_->workers.size());
      for (unsigned i = 0; i < count; ++i) {
        impl_->workers[i]->enableAsync(gc.async, gc.redis->command_timeout, i, count);
      }
      impl_->policy_context.async_enabled = true;
      common::log(common::LogLevel::Info, "async exchange on (Prefer: respond-async)",
                  {{"partitions", std::to_string(gc.async.partitions)},
                   {"max_in_flight_per_worker", std::to_string(gc.async.max_in_flight)},
                   {"result_ttl_ms", std::to_string(gc.async.result_ttl.count())}});
    } else {
      common::log(common::LogLevel::Info,
                  "async exchange off (async.enabled: false): Prefer: respond-async is ignored");
    }
    common::log(common::LogLevel::Info, "redis configured; each worker connects on start",
                {{"address", impl_->redis_address},
                 {"db", std::to_string(gc.redis->db)},
                 {"auth", gc.redis->password_file.empty() ? "off" : "on"},
                 {"workers", std::to_string(impl_->workers.size())}});
  }
  if (!gc.redis) {
    common::log(common::LogLevel::Info,
                "async exchange off (no redis: section): Prefer: respond-async is ignored and "
                "the messages routes answer 404 ASYNC_NOT_ENABLED");
  }
  for (const config::ListenerConfig& l : snap->gateway.listeners) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(l.address, ec);
    if (ec) {
      error =
          "listener " + std::string(config::listenerName(l.kind)) + ": bad address " + l.address;
      return false;
    }
    std::shared_ptr<asio::ssl::context> tls;
    if (l.tls) {
      std::string tls_error;
      tls = transport::makeServerTlsContextBlocking(*l.tls, tls_error);
      if (!tls) {
        error = "listener " + std::string(config::listenerName(l.kind)) + " tls: " + tls_error;
        return false;
      }
    }
    std::uint16_t port = l.port;
    for (auto& w : impl_->workers) {
      tcp::acceptor acc(w->context());
      const tcp::endpoint ep(address, port);
      acc.open(ep.protocol(), ec);
      if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) {
        // One acceptor per worker on the same port; the kernel balances new connections.
        const int one = 1;
        if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
          ec.assign(errno, boost::system::system_category());
        }
      }
      if (!ec) acc.bind(ep, ec);
      if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error = "listener " + std::string(config::listenerName(l.kind)) + " on " + l.address + ":" +
                std::to_string(port) + ": " + ec.message();
        return false;
      }
      port = acc.local_endpoint().port();  // an ephemeral port is shared by the other workers
      w->addListener(l.kind, std::move(acc), tls);
    }
    impl_->bound_ports.emplace_back(l.kind, port);
    common::log(
        common::LogLevel::Info, "listening",
        {{"listener", config::listenerName(l.kind)},
         {"address", l.address},
         {"port", std::to_string(port)},
         {"tls", !l.tls                                               ? "off"
                 : l.tls->client_auth == config::ClientAuth::Required ? "mutual"
                 : l.tls->client_auth == config::ClientAuth::Optional ? "optional-client-cert"
                                                                      : "on"}});
  }
  return true;
}

bool Server::bindSpace(const config::Snapshot& snap, std::string& error) {
  const config::GatewayConfig& gc = snap.gateway;
  const bool listening = std::any_of(gc.listeners.begin(), gc.listeners.end(),
                                     [](const auto& l) { return l.kind == ListenerKind::Space; });
  if (!listening) return true;
  auto st = std::make_unique<SpaceState>();
  if (gc.space.demo_identity_provider.enabled) {
    st->demo = space::DemoIdentityProvider::loadBlocking(gc.space, error);
    if (!st->demo) {
      error = "space.demo_identity_provider: " + error;
      return false;
    }
    st->demo_citizens = gc.space.demo_identity_provider.citizens;
    common::log(common::LogLevel::Warn,
                "DEMO identity provider on: POST /v1/space/demo-login mints citizen tokens",
                {{"issuer", st->demo->issuer()}, {"kid", st->demo->kid()}});
  }
  st->registry = space::IdentityProviderRegistry::loadBlocking(gc.space, st->demo.get(), error);
  if (!st->registry) {
    error = "space: " + error;
    return false;
  }
  if (!gc.space.web_root.empty()) {
    st->site = StaticSite::loadBlocking(gc.space.web_root, error);
    if (!st->site) return false;
  }
  if (gc.redis && gc.redis->space_index) {
    // Every replica's events, from Redis (the outboxes feed it); no embedded index to keep.
    st->shared_index = true;
    common::log(common::LogLevel::Info,
                "digital space reads the shared event index in redis (redis.space_index)");
  } else if (impl_->journal) {
    // Hand-over (memory_event_index.h): the feed is installed before any append, the rebuild
    // reads everything up to the head the journal has now; readers get Unavailable meanwhile.
    st->index = std::make_unique<space_index::MemoryEventIndex>();
    st->index->markRebuilding();
    impl_->journal->setLocatedCommitObserver(space_index::makeJournalFeed(*st->index));
    st->files = {gc.journal.dir, gc.journal.archive_dir};
    const std::uint64_t head = impl_->journal->head().seq;
    asio::post(st->reads, [index = st->index.get(), files = st->files, head] {
      const auto started = std::chrono::steady_clock::now();
      const space_index::RebuildResult r = index->rebuildBlocking(files, head);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      if (!r.ok) {
        common::log(common::LogLevel::Error,
                    "digital-space index rebuild FAILED: citizens' event routes answer 503",
                    {{"error", r.error}});
        return;
      }
      // The rebuild read whole segments into memory: give what it freed back to the system
      // (≈ 75 MB kept by the allocator after 22 k events, benchmarks/RESULTS.md).
      ::malloc_trim(0);
      common::log(common::LogLevel::Info, "digital-space index rebuilt",
                  {{"through_seq", std::to_string(r.through_seq)},
                   {"events_indexed", std::to_string(r.events_indexed)},
                   {"segments", std::to_string(r.segments_read)},
                   {"archived_skipped", std::to_string(r.archived_skipped)},
                   {"ms", std::to_string(ms)}});
    });
  } else {
    common::log(common::LogLevel::Warn,
                "the journal is off: the digital space has no events to show (503)");
  }
  common::log(common::LogLevel::Info, "digital space ready to bind",
              {{"issuers", std::to_string(st->registry->issuers().size())},
               {"page", st->site ? gc.space.web_root : std::string("off")},
               {"demo_login", st->demo ? "on" : "off"}});
  impl_->space = std::move(st);
  return true;
}

bool Server::writePortsFileBlocking(const std::string& path, std::string& error) const {
  std::string json = "{";
  bool first = true;
  for (const auto& [kind, port] : impl_->bound_ports) {
    if (!first) json += ", ";
    first = false;
    json += '"';
    json += config::listenerName(kind);
    json += "\": ";
    json += std::to_string(port);
  }
  json += "}\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    if (!out) {
      error = "cannot write " + tmp;
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    error = "cannot rename " + tmp + ": " + ec.message();
    return false;
  }
  return true;
}

int Server::run() {
  Impl& im = *impl_;
  auto snap = im.snapshot.load();
  asio::io_context main_ioc{1};
  asio::signal_set signals(main_ioc, SIGINT, SIGTERM, SIGHUP);
  asio::steady_timer drain_deadline(main_ioc);
  std::atomic<std::size_t> drained{0};
  bool draining = false;
  int exit_code = 0;

  for (auto& w : im.workers) w->start();
  im.ready.store(true);
  metrics::set(im.metrics.ready(), 1);
  common::log(common::LogLevel::Info, "ready",
              {{"node", snap->gateway.node_id},
               {"workers", std::to_string(im.workers.size())},
               {"policy_digest", snap->policy_digest}});

  auto stopAll = [&] {
    for (auto& w : im.workers) w->forceStop();
    main_ioc.stop();
  };
  std::function<void(const boost::system::error_code&, int)> onSignal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          if (!draining) asio::post(im.control, [&im] { im.reloadBlocking("SIGHUP"); });
          signals.async_wait(onSignal);
          return;
        }
        if (draining) {
          common::log(common::LogLevel::Warn, "second signal: stopping now",
                      {{"signal", std::to_string(sig)}});
          exit_code = 1;
          stopAll();
          return;
        }
        draining = true;
        im.redis_stopping.store(true);  // the clients stop as their workers drain: no warnings
        im.ready.store(false);
        metrics::set(im.metrics.ready(), 0);
        common::log(common::LogLevel::Info, "draining",
                    {{"signal", std::to_string(sig)},
                     {"timeout_ms", std::to_string(snap->gateway.drain_timeout.count())}});
        const std::size_t total = im.workers.size();
        for (auto& w : im.workers) {
          asio::post(w->context(), [&, wp = w.get()] {
            wp->beginDrain([&] {
              if (drained.fetch_add(1) + 1 == total) {
                asio::post(main_ioc, [&] {
                  common::log(common::LogLevel::Info, "drained");
                  drain_deadline.cancel();
                  main_ioc.stop();
                });
              }
            });
          });
        }
        drain_deadline.expires_after(snap->gateway.drain_timeout);
        drain_deadline.async_wait([&](const boost::system::error_code& tec) {
          if (tec) return;
          common::log(common::LogLevel::Warn, "drain timeout: closing remaining connections");
          exit_code = 0;
          stopAll();
        });
        signals.async_wait(onSignal);
      };
  signals.async_wait(onSignal);
  main_ioc.run();
  for (auto& w : im.workers) {
    w->forceStop();
    if (w->thread().joinable()) w->thread().join();
  }
  if (im.journal) im.journal->stop();            // writes and syncs what is queued
  if (im.event_outbox) im.event_outbox->stop();  // after the journal, whose observer wakes it
  return exit_code;
}

}  // namespace qaqpa::server
