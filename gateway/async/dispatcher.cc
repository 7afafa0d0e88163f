#include "gateway/async/dispatcher.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/async/backoff.h"
#include "gateway/common/log.h"
#include "gateway/pipeline/problem.h"

namespace qaqpa::async {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using common::Failure;
using common::Reason;
using common::StatusCode;

constexpr std::chrono::seconds kClaimMargin{5};
constexpr std::size_t kDueBatch = 256;
constexpr std::chrono::seconds kDepthSampleInterval{1};

bool isProviderFailure(StatusCode c) {
  return c == StatusCode::ProviderError || c == StatusCode::ProviderUnavailable ||
         c == StatusCode::ProviderTimeout;
}

// Rebuilds the exchange of a stored request against `snap`. Null service when it is gone.
std::unique_ptr<pipeline::Exchange> rebuild(const StoredRequest& r, std::string body,
                                            std::shared_ptr<const config::Snapshot> snap) {
  pipeline::Request req;
  req.method(bhttp::string_to_verb(r.method));
  req.version(11);
  std::string target = "/v1/services/" + r.service_id + r.service_path;
  if (!r.query.empty()) target += "?" + r.query;
  req.target(target);
  for (const auto& [name, value] : r.headers) req.insert(name, value);
  req.body() = std::move(body);
  auto ex = std::make_unique<pipeline::Exchange>(std::move(snap), r.zone, std::move(req));
  ex->started = std::chrono::steady_clock::now();
  ex->received_at = std::chrono::system_clock::now();
  ex->lang = common::parseAcceptLanguage(r.lang);
  pipeline::Envelope& env = ex->envelope;
  env.client = r.client;
  if (auto id = common::parseUuid(r.message_id)) env.message_id = *id;
  if (auto id = common::parseUuid(r.correlation_id)) env.correlation_id = *id;
  if (!r.subject.empty()) env.subject = common::parseSubject(r.subject).id;
  env.purpose = r.purpose;
  if (!r.actor.empty()) env.actor = common::parseSubject(r.actor).id;
  env.consent_id = r.consent_id;
  env.service_id = r.service_id;
  env.service_path = r.service_path;
  env.query = r.query;
  ex->envelope_parsed = true;
  const config::PolicyBundle& policy = ex->snapshot->policy;
  ex->client = policy.findSystem(r.client);
  ex->service = policy.findService(r.service_id);
  if (!r.purpose.empty()) ex->purpose = policy.findPurpose(r.purpose);
  return ex;
}

}  // namespace

Dispatcher::Dispatcher(asio::any_io_executor executor, MessageStore& store, DispatchHost& host,
                       std::string consumer, unsigned worker_index, unsigned worker_count,
                       metrics::AsyncMetrics* metrics)
    : executor_(std::move(executor)),
      store_(store),
      host_(host),
      consumer_(std::move(consumer)),
      worker_index_(worker_index),
      worker_count_(std::max(1u, worker_count)),
      metrics_(metrics),
      wake_(executor_),
      rng_(std::random_device{}()) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::start() {
  if (started_) return;
  started_ = true;
  running_ = true;
  asio::co_spawn(executor_, run(), [this](std::exception_ptr e) {
    if (e) common::log(common::LogLevel::Error, "async dispatcher loop ended by an exception");
    running_ = false;
    maybeStopped();
  });
}

void Dispatcher::nudge() {
  // Remembered, not only a cancel: a nudge while the loop is reading (not waiting) must not be
  // lost, or the new message would wait a whole poll interval.
  nudged_ = true;
  wake_.cancel();
}

void Dispatcher::stop(std::function<void()> stopped) {
  stopping_ = true;
  stopped_ = std::move(stopped);
  wake_.cancel();
  if (!started_) running_ = false;
  maybeStopped();
}

void Dispatcher::maybeStopped() {
  if (stopping_ && !running_ && in_flight_ == 0 && stopped_) std::exchange(stopped_, nullptr)();
}

std::chrono::milliseconds Dispatcher::claimIdle() const {
  auto snap = host_.currentSnapshot();
  std::chrono::milliseconds longest = snap->gateway.upstream.default_timeout;
  for (const auto& [id, s] : snap->policy.services) longest = std::max(longest, s.timeout);
  return std::max(store_.settings().claim_idle,
                  longest + std::chrono::duration_cast<std::chrono::milliseconds>(kClaimMargin));
}

asio::awaitable<void> Dispatcher::maintain(bool claim) {
  const config::AsyncConfig& s = store_.settings();
  for (unsigned p = worker_index_; p < s.partitions && !stopping_; p += worker_count_) {
    const long long moved = co_await store_.moveDue(p, kDueBatch);
    if (moved < 0) co_return;  // Redis down: the next round tries again
    if (!claim) continue;
    const std::size_t free = s.max_in_flight > in_flight_ ? s.max_in_flight - in_flight_ : 0;
    if (free == 0) continue;
    std::vector<Entry> claimed = co_await store_.claimIdle(p, consumer_, claimIdle(), free);
    for (Entry& e : claimed) {
      if (metrics_ != nullptr) metrics::inc(metrics_->claimed);
      common::log(common::LogLevel::Info, "async entry claimed from an idle consumer",
                  {{"entry", e.id}, {"partition", std::to_string(e.partition)}});
      spawn(std::move(e));
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (worker_index_ == 0 && metrics_ != nullptr && now >= next_depth_sample_) {
    next_depth_sample_ = now + kDepthSampleInterval;
    const long long depth = co_await store_.depth();
    if (depth >= 0) metrics::set(metrics_->queue_depth, static_cast<double>(depth));
  }
}

void Dispatcher::spawn(Entry entry) {
  ++in_flight_;
  // The completion handler runs only if the delivery ends normally (not when the io_context is
  // destroyed with it suspended), so it may use `this`.
  asio::co_spawn(executor_, deliver(std::move(entry)), [this](std::exception_ptr) {
    --in_flight_;
    nudged_ = true;  // a slot is free: read again without waiting a poll interval
    wake_.cancel();
    maybeStopped();
  });
}

asio::awaitable<void> Dispatcher::run() {
  const config::AsyncConfig& s = store_.settings();
  const auto poll = s.poll_interval;
  // Groups first (MKSTREAM): retried while Redis is unreachable.
  while (!stopping_ && !co_await store_.ensureGroups()) {
    wake_.expires_after(std::max(poll, std::chrono::milliseconds(500)));
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  auto next_maintenance = std::chrono::steady_clock::now();
  auto next_claim = std::chrono::steady_clock::now();
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_maintenance) {
      const bool claim = now >= next_claim;
      co_await maintain(claim);
      next_maintenance = std::chrono::steady_clock::now() + poll;
      if (claim) next_claim = std::chrono::steady_clock::now() + std::max(poll, claimIdle() / 4);
      if (stopping_) break;
    }
    // XREADGROUP's COUNT is per stream, so one read may bring more entries than free slots: the
    // rest waits in the backlog (bounded by partitions × max_in_flight) and starts as slots free
    // up, before anything new is read.
    while (!backlog_.empty() && in_flight_ < s.max_in_flight) {
      spawn(std::move(backlog_.front()));
      backlog_.pop_front();
    }
    bool ok = true;
    if (backlog_.empty() && in_flight_ < s.max_in_flight) {
      std::vector<Entry> entries =
          co_await store_.readNew(consumer_, s.max_in_flight - in_flight_, ok);
      if (stopping_) break;  // read but not started: pending, claimed later
      for (Entry& e : entries) {
        if (in_flight_ < s.max_in_flight) {
          spawn(std::move(e));
        } else {
          backlog_.push_back(std::move(e));
        }
      }
      if (!entries.empty()) continue;  // more may be waiting
    }
    if (stopping_) break;
    if (std::exchange(nudged_, false)) continue;
    wake_.expires_after(ok ? poll : std::max(poll, std::chrono::milliseconds(200)));
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Dispatcher::deliver(Entry entry) {
  const config::AsyncConfig& s = store_.settings();
  Attempt a = co_await store_.begin(entry, consumer_);
  if (a.kind == Attempt::Kind::Stopped && metrics_ != nullptr) metrics::inc(metrics_->stopped);
  if (a.kind != Attempt::Kind::Go) co_return;
  const auto attempt_started = std::chrono::steady_clock::now();
  std::optional<StoredRequest> req = StoredRequest::fromJson(a.request_json);
  if (!req) {
    common::log(common::LogLevel::Error, "async message with an unreadable stored request",
                {{"key", entry.key}});
    co_await store_.fail(entry, a.number, "{}");
    co_return;
  }
  std::unique_ptr<pipeline::Exchange> ex =
      rebuild(*req, std::move(a.body), host_.currentSnapshot());
  ex->event_id = host_.newEventId();
  unsigned max_attempts = s.max_attempts;
  std::optional<Failure> refused;
  if (ex->service == nullptr) {
    refused = Failure{StatusCode::ServiceNotFound, Reason::ServiceUnknown, req->service_id, {}};
  } else {
    if (ex->service->max_attempts > 0) max_attempts = ex->service->max_attempts;
    if (!ex->service->exposedTo(ex->zone)) {
      refused = Failure{StatusCode::AccessDenied, Reason::ServiceNotExposed, req->service_id, {}};
    }
  }
  pipeline::StageResult result;
  if (refused) {
    result = pipeline::StageResult::fail(*refused);
  } else {
    if (metrics_ != nullptr) metrics::inc(metrics_->attempts);
    result = co_await host_.forwardToProvider(*ex);
  }
  DeliveryFacts facts;
  facts.attempt = a.number;
  facts.max_attempts = max_attempts;
  if (result.action == pipeline::StageResult::Action::Respond) {
    facts.final = true;
    facts.outcome = "DELIVERED";
    ex->status = StatusCode::Ok;
  } else {
    Failure f = result.action == pipeline::StageResult::Action::Fail
                    ? result.failure
                    : Failure{StatusCode::Internal, Reason::InternalError, {}, "no answer"};
    const bool retry = isProviderFailure(f.code) && a.number < max_attempts;
    facts.final = !retry;
    facts.outcome = retry ? "RETRY" : "NOT_DELIVERED";
    ex->failure = f;
    pipeline::renderProblem(*ex, f);
  }
  facts.latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - attempt_started);
  if (!co_await host_.journalDelivery(*ex, facts)) {
    // Fail closed: no outcome without its event. The entry stays pending and is claimed again.
    common::log(common::LogLevel::Warn,
                "async delivery outcome not stored: its event is not durable; retried later",
                {{"message", req->message_id}});
    co_return;
  }
  // The outcome is stored with the attempt's number as its guard. When Redis gives no answer
  // (down, restarting), the outcome — its event already durable — is kept and stored once Redis
  // answers again, with backoff, rather than left for another replica to claim after claim_idle
  // and deliver a second time. Bounded by claim_idle: by then the entry may be claimed, and a
  // late store is refused as STALE by the guard (as is a repeat of a store that did apply).
  std::string headers_json;
  if (facts.outcome == "DELIVERED") {
    boost::json::array headers;
    for (const auto& f : ex->response) {
      if (f.name() == bhttp::field::content_type) continue;
      headers.push_back(boost::json::array{f.name_string(), f.value()});
    }
    headers_json = boost::json::serialize(headers);
  }
  const double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const auto retry_delay =
      backoffDelay(static_cast<int>(a.number), s.retry_initial, s.retry_max, jitter);
  const auto give_up = std::chrono::steady_clock::now() + s.claim_idle;
  asio::steady_timer pause(executor_);
  FinishResult done;
  for (int tries = 1;; ++tries) {
    if (facts.outcome == "DELIVERED") {
      const pipeline::Response& res = ex->response;
      done = co_await store_.deliver(entry, a.number, res.result_int(),
                                     std::string(res[bhttp::field::content_type]), headers_json,
                                     res.body());
    } else if (facts.outcome == "RETRY") {
      done = co_await store_.retry(entry, a.number, retry_delay, ex->response.body());
    } else {
      done = co_await store_.fail(entry, a.number, ex->response.body());
    }
    if (done.outcome != FinishOutcome::Unavailable || stopping_) break;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const auto wait = backoffDelay(tries, s.retry_initial, s.retry_max, u);
    if (std::chrono::steady_clock::now() + wait >= give_up) break;
    pause.expires_after(wait);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (done.outcome == FinishOutcome::Retrying && metrics_ != nullptr) {
    metrics::inc(metrics_->retries);
  }
  const bool final = done.outcome == FinishOutcome::Done || done.outcome == FinishOutcome::Stopped;
  if (final && ex->client != nullptr && ex->client->callback) {
    if (callbacks_in_flight_ >= s.max_in_flight) {
      common::log(common::LogLevel::Warn, "async callback not sent: too many in flight",
                  {{"message", req->message_id}});
    } else {
      boost::json::object note{{"messageId", req->message_id},
                               {"state", done.state},
                               {"attempts", a.number},
                               {"location", "/v1/messages/" + req->message_id}};
      if (done.state == "DELIVERED") {
        note["providerStatus"] = ex->response.result_int();
      } else {
        boost::system::error_code ec;
        boost::json::value problem = boost::json::parse(ex->response.body(), ec);
        if (!ec) note["status"] = std::move(problem);
      }
      ++callbacks_in_flight_;
      asio::co_spawn(
          executor_,
          callback(req->client, req->message_id, boost::json::serialize(note), max_attempts),
          [this](std::exception_ptr) { --callbacks_in_flight_; });
    }
  }
  if (metrics_ == nullptr) co_return;
  if (final) {
    if (done.state == "DELIVERED") {
      metrics::inc(metrics_->delivered);
    } else if (done.state == "NOT_DELIVERED") {
      metrics::inc(metrics_->not_delivered);
    } else {
      metrics::inc(metrics_->stopped);
    }
    metrics::observe(metrics_->delivery_latency, static_cast<double>(done.latency_ms) / 1000.0);
  } else if (done.outcome == FinishOutcome::Unavailable) {
    metrics::inc(metrics_->store_failures);
  }
}

asio::awaitable<void> Dispatcher::callback(std::string client, std::string message_id,
                                           std::string body, unsigned max_attempts) {
  const config::AsyncConfig& s = store_.settings();
  asio::steady_timer wait(executor_);
  for (unsigned attempt = 1;; ++attempt) {
    if (co_await host_.sendCallback(client, message_id, body)) co_return;
    if (attempt >= max_attempts || stopping_) break;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    wait.expires_after(backoffDelay(static_cast<int>(attempt), s.retry_initial, s.retry_max, u));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  common::log(common::LogLevel::Warn, "async callback not delivered; the result stays available",
              {{"message", message_id}, {"client", client}});
}

}  // namespace qaqpa::async
