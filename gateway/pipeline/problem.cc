#include "gateway/pipeline/problem.h"

#include <string>
#include <string_view>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/common/i18n.h"
#include "gateway/common/ids.h"
#include "gateway/common/status.h"

namespace qaqpa::pipeline {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::string_view kProblemContentType = "application/problem+json";
constexpr std::string_view kTypePrefix = "urn:qaqpa:status:";
constexpr std::string_view kMessageIdHeader = "Qaqpa-Message-Id";
constexpr std::string_view kStatusHeader = "Qaqpa-Status";

// Status, headers and body of an RFC 9457 problem (PROTOCOL.md §5). "reason" is our documented
// extension member: the stable machine name of the specific cause. f.internal is never used here.
void fillProblem(Response& res, const common::Failure& f, common::Lang lang,
                 std::string_view message_id, std::string_view event_id) {
  const int http_status = f.httpStatus();
  const std::string_view code = common::codeName(f.code);

  std::string type;
  type.reserve(kTypePrefix.size() + code.size());
  type.append(kTypePrefix).append(code);

  boost::json::object body;
  body["type"] = type;
  body["title"] = common::title(f.code, lang);
  body["status"] = http_status;
  body["code"] = code;
  body["reason"] = common::reasonName(f.reason);
  body["detail"] = common::detail(f.reason, lang, f.param);
  if (!message_id.empty()) body["messageId"] = message_id;
  if (!event_id.empty()) body["eventId"] = event_id;

  res.result(static_cast<unsigned>(http_status));
  res.set(bhttp::field::content_type, kProblemContentType);
  res.set(bhttp::field::content_language, common::langTag(lang));
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
}

}  // namespace

void renderProblem(Exchange& ex, const common::Failure& f) {
  // Start from an empty response: a stage that failed half-way (e.g. routing after the provider
  // answered) must not leak provider headers or body into the problem.
  ex.response = Response{};
  ex.response.version(ex.request.version());
  ex.response.keep_alive(ex.request.keep_alive());
  ex.status = f.code;
  const std::string message_id =
      ex.envelope_parsed ? common::toString(ex.envelope.message_id) : std::string{};
  fillProblem(ex.response, f, ex.lang, message_id, ex.event_id);
  if (f.code == common::StatusCode::RateLimited) {
    ex.response.set(boost::beast::http::field::retry_after,
                    std::to_string(ex.retry_after_seconds > 0 ? ex.retry_after_seconds : 1));
  }
  addGatewayHeaders(ex);
}

Response renderBareProblem(const common::Failure& f, common::Lang lang, unsigned http_version,
                           std::string_view message_id, std::string_view event_id) {
  // Keep-alive is left to the transport: it knows whether the framing can still be trusted.
  Response res;
  res.version(http_version);
  fillProblem(res, f, lang, message_id, event_id);
  res.set(kStatusHeader, common::codeName(f.code));
  if (!message_id.empty()) res.set(kMessageIdHeader, message_id);
  return res;
}

void addGatewayHeaders(Exchange& ex) {
  if (ex.envelope_parsed) {
    ex.response.set(kMessageIdHeader, common::toString(ex.envelope.message_id));
  }
  ex.response.set(kStatusHeader, common::codeName(ex.status));
}

}  // namespace qaqpa::pipeline
