#include "gateway/async/async_stage.h"

#include <array>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/common/log.h"
#include "gateway/pipeline/problem.h"

namespace qaqpa::async {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;
using common::Failure;
using common::Reason;
using common::StatusCode;
using pipeline::StageResult;

constexpr std::array<std::string_view, 14> kNotKept{
    "connection", "keep-alive",     "proxy-connection",  "proxy-authorization",
    "te",         "trailer",        "transfer-encoding", "upgrade",
    "host",       "content-length", "authorization",     "cookie",
    "signature",  "signature-input"};

bool isPending(std::string_view state) { return state == "QUEUED" || state == "DISPATCHED"; }

Failure failure(StatusCode code, Reason reason, int http = 0) {
  Failure f{code, reason, {}, {}, http};
  return f;
}

void jsonAnswer(pipeline::Exchange& ex, bhttp::status status, const json::object& body) {
  ex.response = pipeline::Response{status, ex.request.version()};
  ex.response.keep_alive(ex.request.keep_alive());
  ex.response.set(bhttp::field::content_type, "application/json");
  ex.response.body() = json::serialize(body);
  ex.response.prepare_payload();
}

class AsyncStage final : public pipeline::Stage {
 public:
  explicit AsyncStage(AsyncContext& cx) : cx_(cx) {}
  const char* name() const noexcept override { return "async"; }

  boost::asio::awaitable<StageResult> onRequest(pipeline::Exchange& ex) override {
    if (ex.envelope.messages_target) {
      if (cx_.store == nullptr) {
        co_return StageResult::fail(
            failure(StatusCode::ServiceNotFound, Reason::AsyncNotEnabled, 404));
      }
      if (ex.client == nullptr) {
        co_return StageResult::fail(Failure{
            StatusCode::Internal, Reason::InternalError, {}, "messages target without client"});
      }
      if (ex.request.method() == bhttp::verb::delete_) co_return co_await cancel(ex);
      co_return co_await lookup(ex);
    }
    if (!ex.envelope.async_requested || cx_.store == nullptr) co_return StageResult::next();
    co_return co_await submit(ex);
  }

 private:
  boost::asio::awaitable<StageResult> submit(pipeline::Exchange& ex) {
    if (ex.client == nullptr || ex.service == nullptr) {
      co_return StageResult::fail(Failure{
          StatusCode::Internal, Reason::InternalError, {}, "async submit without client/service"});
    }
    const pipeline::Envelope& env = ex.envelope;
    StoredRequest r;
    r.method = std::string(ex.request.method_string());
    r.service_id = ex.service->id;
    r.service_path = env.service_path;
    r.query = env.query;
    for (const auto& f : ex.request) {
      if (keepRequestHeader(f.name_string())) {
        r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      }
    }
    r.zone = ex.zone;
    r.client = ex.client->id;
    r.message_id = common::toString(env.message_id);
    r.correlation_id = common::toString(env.correlation_id);
    if (env.subject) r.subject = env.subject->toString();
    r.purpose = env.purpose;
    if (env.actor) r.actor = env.actor->toString();
    r.consent_id = env.consent_id;
    r.lang = std::string(common::langTag(ex.lang));

    const SubmitResult s = co_await cx_.store->submit(r, ex.request.body());
    switch (s.outcome) {
      case SubmitOutcome::Created:
        if (cx_.metrics != nullptr) metrics::inc(cx_.metrics->submitted);
        if (cx_.on_submitted) cx_.on_submitted();
        [[fallthrough]];
      case SubmitOutcome::Exists:
        break;
      case SubmitOutcome::Conflict:
        co_return StageResult::fail(failure(StatusCode::Duplicate, Reason::MessageIdConflict));
      case SubmitOutcome::Full: {
        // Rendered here: Retry-After is set by the chain only for RATE_LIMITED.
        const Failure f = failure(StatusCode::ProviderUnavailable, Reason::AsyncQueueFull, 503);
        ex.failure = f;
        pipeline::renderProblem(ex, f);
        ex.response.set(bhttp::field::retry_after, "5");
        co_return StageResult::respond();
      }
      case SubmitOutcome::Unavailable:
        if (cx_.metrics != nullptr) metrics::inc(cx_.metrics->store_failures);
        common::log(common::LogLevel::Warn, "async submit not stored: answered 503",
                    {{"message", r.message_id}, {"client", r.client}});
        co_return StageResult::fail(
            failure(StatusCode::ProviderUnavailable, Reason::AsyncStoreUnavailable, 503));
    }
    const std::string id = common::toString(env.message_id);
    const std::string state = s.state.empty() ? std::string("QUEUED") : s.state;
    jsonAnswer(ex, bhttp::status::accepted, json::object{{"messageId", id}, {"state", state}});
    ex.response.set("Preference-Applied", "respond-async");
    ex.response.set(bhttp::field::location, "/v1/messages/" + id);
    ex.status = StatusCode::Accepted;
    co_return StageResult::respond();
  }

  boost::asio::awaitable<StageResult> lookup(pipeline::Exchange& ex) {
    const LookupResult r = co_await cx_.store->lookup(ex.client->id, ex.envelope.target_message_id);
    if (!r.ok) {
      if (cx_.metrics != nullptr) metrics::inc(cx_.metrics->store_failures);
      co_return StageResult::fail(
          failure(StatusCode::ProviderUnavailable, Reason::AsyncStoreUnavailable, 503));
    }
    if (!r.found) {
      co_return StageResult::fail(failure(StatusCode::ServiceNotFound, Reason::MessageUnknown));
    }
    const MessageStatus& m = *r.found;
    const std::string id = common::toString(ex.envelope.target_message_id);
    if (isPending(m.state)) {
      jsonAnswer(ex, bhttp::status::accepted,
                 json::object{{"messageId", id}, {"state", m.state}, {"attempts", m.attempts}});
      ex.status = StatusCode::Accepted;
      co_return StageResult::respond();
    }
    if (m.state == "DELIVERED") {
      ex.response =
          pipeline::Response{static_cast<bhttp::status>(m.result_status), ex.request.version()};
      ex.response.keep_alive(ex.request.keep_alive());
      boost::system::error_code ec;
      const json::value headers = json::parse(m.headers_json, ec);
      if (!ec && headers.is_array()) {
        for (const json::value& h : headers.as_array()) {
          if (h.is_array() && h.as_array().size() == 2 && h.as_array()[0].is_string() &&
              h.as_array()[1].is_string()) {
            ex.response.insert(std::string_view(h.as_array()[0].as_string()),
                               std::string_view(h.as_array()[1].as_string()));
          }
        }
      }
      if (!m.content_type.empty()) ex.response.set(bhttp::field::content_type, m.content_type);
      ex.response.body() = m.body;
      ex.response.prepare_payload();
      ex.status = StatusCode::Ok;
      co_return StageResult::respond();
    }
    json::object body{{"messageId", id}, {"state", m.state}, {"attempts", m.attempts}};
    if (!m.problem_json.empty()) {
      boost::system::error_code ec;
      json::value problem = json::parse(m.problem_json, ec);
      if (!ec) body["status"] = std::move(problem);
    }
    jsonAnswer(ex, bhttp::status::ok, body);
    ex.status = StatusCode::Ok;
    co_return StageResult::respond();
  }

  boost::asio::awaitable<StageResult> cancel(pipeline::Exchange& ex) {
    const CancelResult r = co_await cx_.store->cancel(ex.client->id, ex.envelope.target_message_id);
    const std::string id = common::toString(ex.envelope.target_message_id);
    switch (r.outcome) {
      case CancelOutcome::Stopped:
        jsonAnswer(ex, bhttp::status::ok,
                   json::object{{"messageId", id}, {"state", r.state}, {"attempts", r.attempts}});
        ex.status = StatusCode::Ok;
        co_return StageResult::respond();
      case CancelOutcome::Requested:
        jsonAnswer(ex, bhttp::status::accepted,
                   json::object{{"messageId", id},
                                {"state", r.state},
                                {"attempts", r.attempts},
                                {"cancelRequested", true}});
        ex.status = StatusCode::Accepted;
        co_return StageResult::respond();
      case CancelOutcome::AlreadyFinal:
        co_return StageResult::fail(failure(StatusCode::Duplicate, Reason::MessageFinal));
      case CancelOutcome::NotFound:
        co_return StageResult::fail(failure(StatusCode::ServiceNotFound, Reason::MessageUnknown));
      case CancelOutcome::Unavailable:
        break;
    }
    if (cx_.metrics != nullptr) metrics::inc(cx_.metrics->store_failures);
    co_return StageResult::fail(
        failure(StatusCode::ProviderUnavailable, Reason::AsyncStoreUnavailable, 503));
  }

  AsyncContext& cx_;
};

}  // namespace

bool keepRequestHeader(std::string_view name) noexcept {
  if (name.size() >= 6 && boost::beast::iequals(name.substr(0, 6), "qaqpa-")) return false;
  if (boost::beast::iequals(name, "prefer")) return false;
  for (std::string_view n : kNotKept) {
    if (boost::beast::iequals(name, n)) return false;
  }
  return true;
}

std::unique_ptr<pipeline::Stage> makeAsyncStage(AsyncContext& cx) {
  return std::make_unique<AsyncStage>(cx);
}

}  // namespace qaqpa::async
