#include "gateway/pipeline/problem.h"

#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>

#include "gateway/common/i18n.h"
#include "gateway/common/ids.h"

namespace qaqpa::pipeline {
namespace {

namespace bhttp = boost::beast::http;
using common::Failure;
using common::Lang;
using common::Reason;
using common::StatusCode;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kMessageId = "0190a6f4-3c2b-7d1e-8f00-112233445566";

Exchange makeExchange(Lang lang, bool with_message_id, unsigned version = 11) {
  Request req{bhttp::verb::get, "/v1/services/person.byIin", version};
  Exchange ex(nullptr, config::Zone::State, std::move(req));
  ex.lang = lang;
  if (with_message_id) {
    ex.envelope_parsed = true;
    ex.envelope.message_id = *common::parseUuid(kMessageId);
  }
  return ex;
}

boost::json::object parseBody(const Response& res) {
  return boost::json::parse(res.body()).as_object();
}

Failure missingClient() {
  return {StatusCode::ValidationFailed, Reason::MissingHeader, "Qaqpa-Client", "no such header"};
}

TEST(RenderProblemTest, HasTheProtocolShape) {
  Exchange ex = makeExchange(Lang::En, true);
  renderProblem(ex, missingClient());

  EXPECT_EQ(ex.response.result_int(), 400);
  EXPECT_EQ(ex.status, StatusCode::ValidationFailed);
  EXPECT_EQ(ex.response[bhttp::field::content_type], "application/problem+json");
  EXPECT_EQ(ex.response[bhttp::field::content_language], "en");
  EXPECT_EQ(ex.response["Qaqpa-Status"], "VALIDATION_FAILED");
  EXPECT_EQ(ex.response["Qaqpa-Message-Id"], kMessageId);
  EXPECT_EQ(ex.response[bhttp::field::content_length], std::to_string(ex.response.body().size()));

  const auto body = parseBody(ex.response);
  EXPECT_EQ(body.size(), 7u);
  EXPECT_EQ(body.at("type").as_string(), "urn:qaqpa:status:VALIDATION_FAILED");
  EXPECT_EQ(body.at("title").as_string(), "Validation failed");
  EXPECT_EQ(body.at("status").as_int64(), 400);
  EXPECT_EQ(body.at("code").as_string(), "VALIDATION_FAILED");
  EXPECT_EQ(body.at("reason").as_string(), "MISSING_HEADER");
  EXPECT_EQ(body.at("detail").as_string(), "Header Qaqpa-Client is required");
  EXPECT_EQ(body.at("messageId").as_string(), kMessageId);
  EXPECT_FALSE(body.contains("eventId"));
  EXPECT_THAT(ex.response.body(), Not(HasSubstr("no such header")));
  // Members appear in the documented order.
  EXPECT_EQ(ex.response.body().rfind(R"({"type":"urn:qaqpa:status:VALIDATION_FAILED","title":)", 0),
            0u);
}

TEST(RenderProblemTest, KazakhIsTheDefault) {
  Exchange ex = makeExchange(Lang::Kk, true);
  renderProblem(ex, missingClient());
  EXPECT_EQ(ex.response[bhttp::field::content_language], "kk");
  const auto body = parseBody(ex.response);
  EXPECT_EQ(body.at("title").as_string(), common::title(StatusCode::ValidationFailed, Lang::Kk));
  EXPECT_EQ(body.at("detail").as_string(),
            common::detail(Reason::MissingHeader, Lang::Kk, "Qaqpa-Client"));
  EXPECT_THAT(std::string(body.at("detail").as_string()), HasSubstr("Qaqpa-Client"));
}

TEST(RenderProblemTest, RussianTextsRoundTripAsUtf8) {
  Exchange ex = makeExchange(Lang::Ru, true);
  renderProblem(ex, missingClient());
  EXPECT_EQ(ex.response[bhttp::field::content_language], "ru");
  const auto body = parseBody(ex.response);
  EXPECT_EQ(body.at("title").as_string(), "Запрос не прошёл проверку");
  EXPECT_EQ(body.at("detail").as_string(), "Требуется заголовок Qaqpa-Client");
  // Not \u-escaped: the body carries UTF-8 as is.
  EXPECT_THAT(ex.response.body(), HasSubstr("Требуется"));
}

TEST(RenderProblemTest, EscapesParamsIntoValidJson) {
  Exchange ex = makeExchange(Lang::En, false);
  const std::string nasty = "a\"b\\c\n</script>\x01";
  renderProblem(ex, {StatusCode::AccessDenied, Reason::PurposeNotAllowed, nasty, {}});
  const auto body = parseBody(ex.response);
  EXPECT_EQ(body.at("detail").as_string(),
            common::detail(Reason::PurposeNotAllowed, Lang::En, nasty));
}

TEST(RenderProblemTest, OmitsMessageIdUntilKnown) {
  Exchange ex = makeExchange(Lang::En, false);
  renderProblem(ex, missingClient());
  EXPECT_FALSE(parseBody(ex.response).contains("messageId"));
  EXPECT_EQ(ex.response.find("Qaqpa-Message-Id"), ex.response.end());
  EXPECT_EQ(ex.response["Qaqpa-Status"], "VALIDATION_FAILED");
}

TEST(RenderProblemTest, HonoursAnHttpStatusOverride) {
  Exchange ex = makeExchange(Lang::En, true);
  Failure f{StatusCode::ValidationFailed, Reason::BodyTooLarge, {}, {}};
  f.http_status = 413;
  renderProblem(ex, f);
  EXPECT_EQ(ex.response.result_int(), 413);
  EXPECT_EQ(parseBody(ex.response).at("status").as_int64(), 413);
  EXPECT_EQ(ex.response["Qaqpa-Status"], "VALIDATION_FAILED");
}

TEST(RenderProblemTest, MapsEveryCodeToItsHttpStatus) {
  for (int i = 0; i < common::kStatusCodeCount; ++i) {
    const auto code = static_cast<StatusCode>(i);
    Exchange ex = makeExchange(Lang::En, true);
    renderProblem(ex, {code, Reason::InternalError, {}, {}});
    EXPECT_EQ(ex.response.result_int(), static_cast<unsigned>(common::defaultHttpStatus(code)));
    const auto body = parseBody(ex.response);
    EXPECT_EQ(body.at("code").as_string(), common::codeName(code));
    EXPECT_EQ(ex.response["Qaqpa-Status"], common::codeName(code));
  }
}

TEST(RenderProblemTest, ReplacesWhatAFailingStageHadWritten) {
  Exchange ex = makeExchange(Lang::En, true);
  ex.response.result(bhttp::status::ok);
  ex.response.set(bhttp::field::set_cookie, "session=provider");
  ex.response.set(bhttp::field::content_type, "application/json");
  ex.response.body() = R"({"iin":"900101300017"})";
  renderProblem(ex, {StatusCode::ProviderError, Reason::ProviderBadResponse, {}, {}});
  EXPECT_EQ(ex.response.result_int(), 502);
  EXPECT_EQ(ex.response.find(bhttp::field::set_cookie), ex.response.end());
  EXPECT_EQ(ex.response[bhttp::field::content_type], "application/problem+json");
  EXPECT_THAT(ex.response.body(), Not(HasSubstr("900101300017")));
}

TEST(RenderProblemTest, CopiesVersionAndKeepAliveFromTheRequest) {
  Exchange http10 = makeExchange(Lang::En, true, 10);
  renderProblem(http10, missingClient());
  EXPECT_EQ(http10.response.version(), 10u);
  EXPECT_FALSE(http10.response.keep_alive());

  Exchange http11 = makeExchange(Lang::En, true, 11);
  renderProblem(http11, missingClient());
  EXPECT_EQ(http11.response.version(), 11u);
  EXPECT_TRUE(http11.response.keep_alive());

  Exchange closing = makeExchange(Lang::En, true, 11);
  closing.request.keep_alive(false);
  renderProblem(closing, missingClient());
  EXPECT_FALSE(closing.response.keep_alive());
}

TEST(RenderBareProblemTest, BuildsAWholeResponse) {
  Failure f{StatusCode::ValidationFailed, Reason::HeaderTooLarge, {}, "parser said so"};
  f.http_status = 431;
  const Response res = renderBareProblem(f, Lang::Ru, 11, {});
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
  EXPECT_EQ(res[bhttp::field::content_language], "ru");
  EXPECT_EQ(res["Qaqpa-Status"], "VALIDATION_FAILED");
  EXPECT_EQ(res.find("Qaqpa-Message-Id"), res.end());
  EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
  const auto body = parseBody(res);
  EXPECT_EQ(body.at("reason").as_string(), "HEADER_TOO_LARGE");
  EXPECT_EQ(body.at("title").as_string(), common::title(StatusCode::ValidationFailed, Lang::Ru));
  EXPECT_FALSE(body.contains("messageId"));
  EXPECT_THAT(res.body(), Not(HasSubstr("parser said so")));
}

TEST(RenderBareProblemTest, EchoesAGivenMessageId) {
  const Response res = renderBareProblem(
      {StatusCode::ServiceNotFound, Reason::RouteUnknown, {}, {}}, Lang::Kk, 10, kMessageId);
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_EQ(res["Qaqpa-Message-Id"], kMessageId);
  EXPECT_EQ(parseBody(res).at("messageId").as_string(), kMessageId);
}

TEST(AddGatewayHeadersTest, KeepsTheStatusRoutingSet) {
  Exchange ex = makeExchange(Lang::En, true);
  ex.response.result(bhttp::status::created);
  ex.response.set("Qaqpa-Status", "SPOOFED");
  ex.status = StatusCode::Ok;
  addGatewayHeaders(ex);
  EXPECT_EQ(ex.response.result_int(), 201);
  EXPECT_EQ(ex.response["Qaqpa-Status"], "OK");
  EXPECT_EQ(ex.response["Qaqpa-Message-Id"], kMessageId);
  EXPECT_EQ(ex.response.count("Qaqpa-Status"), 1u);
}

TEST(AddGatewayHeadersTest, NoMessageIdWhenUnknown) {
  Exchange ex = makeExchange(Lang::En, false);
  addGatewayHeaders(ex);
  EXPECT_EQ(ex.response.find("Qaqpa-Message-Id"), ex.response.end());
  EXPECT_EQ(ex.response["Qaqpa-Status"], "OK");
}

}  // namespace
}  // namespace qaqpa::pipeline
