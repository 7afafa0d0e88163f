#include "gateway/pipeline/stage.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>

#include "gateway/common/ids.h"
#include "tests/support/run_awaitable.h"
#include "tests/support/test_snapshot.h"

namespace qaqpa::pipeline {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using common::Reason;
using common::StatusCode;
using test_support::runAwaitable;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Trace = std::vector<std::string>;

enum class Behaviour { Continue, Respond, Fail, ThrowStd, ThrowOther, ThrowOnResponse };

// Records the calls it gets into a shared trace, so the tests can check order and coverage.
class ScriptedStage final : public Stage {
 public:
  ScriptedStage(std::string name, Behaviour behaviour, Trace& trace)
      : name_(std::move(name)), behaviour_(behaviour), trace_(trace) {}

  const char* name() const noexcept override { return name_.c_str(); }

  asio::awaitable<StageResult> onRequest(Exchange& ex) override {
    trace_.push_back("req:" + name_);
    switch (behaviour_) {
      case Behaviour::Continue:
      case Behaviour::ThrowOnResponse:
        co_return StageResult::next();
      case Behaviour::Respond:
        ex.response.result(bhttp::status::ok);
        ex.response.set(bhttp::field::content_type, "application/json");
        ex.response.body() = R"({"ok":true})";
        ex.response.prepare_payload();
        ex.status = StatusCode::Ok;
        co_return StageResult::respond();
      case Behaviour::Fail:
        co_return StageResult::fail(
            {StatusCode::AccessDenied, Reason::NoGrant, "person.byIin", "grant index miss"});
      case Behaviour::ThrowStd:
        throw std::runtime_error("secret detail: upstream 10.9.8.7:8180 /etc/qaqpa/key.pem");
      case Behaviour::ThrowOther:
        throw 42;
    }
    co_return StageResult::next();
  }

  asio::awaitable<void> onResponse(Exchange& ex) override {
    trace_.push_back("res:" + name_ + ":" + std::string(ex.response[kStatus]));
    if (behaviour_ == Behaviour::ThrowOnResponse) throw std::logic_error("journal exploded");
    co_return;
  }

  static constexpr std::string_view kStatus = "Qaqpa-Status";

 private:
  std::string name_;
  Behaviour behaviour_;
  Trace& trace_;
};

// A stage that keeps the base class's onResponse.
class PlainStage final : public Stage {
 public:
  const char* name() const noexcept override { return "plain"; }
  asio::awaitable<StageResult> onRequest(Exchange&) override { co_return StageResult::next(); }
};

class ChainTest : public ::testing::Test {
 protected:
  void add(std::string name, Behaviour b) {
    stages_.push_back(std::make_unique<ScriptedStage>(std::move(name), b, trace_));
  }

  Exchange makeExchange() {
    Request req{bhttp::verb::get, "/v1/services/person.byIin", 11};
    return Exchange(test_support::SnapshotBuilder{}.build(), config::Zone::State, std::move(req));
  }

  void run(Exchange& ex) {
    Chain chain(std::move(stages_));
    runAwaitable(chain.run(ex));
  }

  static boost::json::object body(const Exchange& ex) {
    return boost::json::parse(ex.response.body()).as_object();
  }

  Trace trace_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

TEST_F(ChainTest, RunsRequestsInOrderAndResponsesInReverse) {
  add("a", Behaviour::Continue);
  add("b", Behaviour::Continue);
  add("c", Behaviour::Respond);
  Exchange ex = makeExchange();
  run(ex);
  // Qaqpa-* headers are added after the last onResponse: stages see what the responder wrote.
  EXPECT_THAT(trace_, ElementsAre("req:a", "req:b", "req:c", "res:c:", "res:b:", "res:a:"));
  EXPECT_EQ(ex.response.result_int(), 200);
  EXPECT_EQ(ex.response.body(), R"({"ok":true})");
  EXPECT_EQ(ex.response["Qaqpa-Status"], "OK");
  EXPECT_FALSE(ex.failure.has_value());
}

TEST_F(ChainTest, RespondStopsTheChain) {
  add("a", Behaviour::Respond);
  add("b", Behaviour::Continue);
  Exchange ex = makeExchange();
  run(ex);
  EXPECT_THAT(trace_, ElementsAre("req:a", "res:a:"));
  EXPECT_EQ(ex.response.result_int(), 200);
}

TEST_F(ChainTest, KeepsTheStatusTheRespondingStageSet) {
  // E.g. the async binding: the responding stage decides the canonical code.
  class Accepting final : public Stage {
   public:
    const char* name() const noexcept override { return "accepting"; }
    asio::awaitable<StageResult> onRequest(Exchange& e) override {
      e.response.result(bhttp::status::accepted);
      e.status = StatusCode::Accepted;
      co_return StageResult::respond();
    }
  };
  stages_.push_back(std::make_unique<Accepting>());
  Exchange ex = makeExchange();
  run(ex);
  EXPECT_EQ(ex.response.result_int(), 202);
  EXPECT_EQ(ex.response["Qaqpa-Status"], "ACCEPTED");
}

TEST_F(ChainTest, FailRendersProblemAndUnwindsOnlyStagesThatRan) {
  add("a", Behaviour::Continue);
  add("b", Behaviour::Fail);
  add("c", Behaviour::Respond);
  Exchange ex = makeExchange();
  run(ex);
  EXPECT_THAT(trace_, ElementsAre("req:a", "req:b", "res:b:ACCESS_DENIED", "res:a:ACCESS_DENIED"));
  ASSERT_TRUE(ex.failure.has_value());
  EXPECT_EQ(ex.failure->reason, Reason::NoGrant);
  EXPECT_EQ(ex.status, StatusCode::AccessDenied);
  EXPECT_EQ(ex.response.result_int(), 403);
  EXPECT_EQ(ex.response[bhttp::field::content_type], "application/problem+json");
  EXPECT_EQ(ex.response["Qaqpa-Status"], "ACCESS_DENIED");
  const auto b = body(ex);
  EXPECT_EQ(b.at("reason").as_string(), "NO_GRANT");
  EXPECT_THAT(ex.response.body(), Not(HasSubstr("grant index miss")));
}

TEST_F(ChainTest, StdExceptionBecomesInternalWithoutLeakingItsText) {
  add("a", Behaviour::Continue);
  add("boom", Behaviour::ThrowStd);
  add("c", Behaviour::Respond);
  Exchange ex = makeExchange();
  ex.envelope_parsed = true;
  ex.envelope.message_id = *common::parseUuid("0190a6f4-3c2b-7d1e-8f00-112233445566");
  ::testing::internal::CaptureStderr();
  run(ex);
  const std::string log = ::testing::internal::GetCapturedStderr();

  EXPECT_THAT(trace_, ElementsAre("req:a", "req:boom", "res:boom:INTERNAL", "res:a:INTERNAL"));
  EXPECT_EQ(ex.response.result_int(), 500);
  EXPECT_EQ(ex.status, StatusCode::Internal);
  ASSERT_TRUE(ex.failure.has_value());
  EXPECT_EQ(ex.failure->reason, Reason::InternalError);
  EXPECT_TRUE(ex.failure->param.empty());
  const auto b = body(ex);
  EXPECT_EQ(b.at("code").as_string(), "INTERNAL");
  EXPECT_EQ(b.at("status").as_int64(), 500);
  EXPECT_EQ(b.at("messageId").as_string(), "0190a6f4-3c2b-7d1e-8f00-112233445566");
  for (const char* secret : {"secret", "10.9.8.7", "key.pem", "runtime_error"}) {
    EXPECT_THAT(ex.response.body(), Not(HasSubstr(secret)));
    for (const auto& field : ex.response) EXPECT_THAT(field.value(), Not(HasSubstr(secret)));
  }

  // The log has the trace id (also kept in the failure's internal detail), the stage and the text.
  EXPECT_THAT(log, HasSubstr("boom"));
  EXPECT_THAT(log, HasSubstr("10.9.8.7"));
  EXPECT_THAT(log, HasSubstr("trace_id="));
  EXPECT_THAT(log, HasSubstr("0190a6f4-3c2b-7d1e-8f00-112233445566"));
  ASSERT_TRUE(common::parseUuid(ex.failure->internal).has_value()) << ex.failure->internal;
  EXPECT_THAT(log, HasSubstr(ex.failure->internal));
}

TEST_F(ChainTest, NonStandardExceptionBecomesInternal) {
  add("boom", Behaviour::ThrowOther);
  Exchange ex = makeExchange();
  ::testing::internal::CaptureStderr();
  run(ex);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ex.response.result_int(), 500);
  EXPECT_EQ(ex.response["Qaqpa-Status"], "INTERNAL");
  EXPECT_FALSE(body(ex).contains("messageId"));
  EXPECT_THAT(log, HasSubstr("trace_id="));
}

TEST_F(ChainTest, ThrowingOnResponseFailsClosedAndStillUnwindsTheRest) {
  add("a", Behaviour::Continue);
  add("journal", Behaviour::ThrowOnResponse);
  add("c", Behaviour::Respond);
  Exchange ex = makeExchange();
  ::testing::internal::CaptureStderr();
  run(ex);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(trace_, ElementsAre("req:a", "req:journal", "req:c",
                                  "res:c:", "res:journal:", "res:a:INTERNAL"));
  EXPECT_EQ(ex.response.result_int(), 500);
  EXPECT_EQ(ex.response["Qaqpa-Status"], "INTERNAL");
  EXPECT_THAT(ex.response.body(), Not(HasSubstr("exploded")));
  EXPECT_THAT(log, HasSubstr("onResponse"));
}

TEST_F(ChainTest, NoStageRespondingIsInternal) {
  add("a", Behaviour::Continue);
  stages_.push_back(std::make_unique<PlainStage>());
  Exchange ex = makeExchange();
  ::testing::internal::CaptureStderr();
  run(ex);
  ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(trace_, ElementsAre("req:a", "res:a:INTERNAL"));
  EXPECT_EQ(ex.response.result_int(), 500);
  EXPECT_EQ(ex.status, StatusCode::Internal);
}

TEST_F(ChainTest, EmptyChainIsInternal) {
  Exchange ex = makeExchange();
  ::testing::internal::CaptureStderr();
  run(ex);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ex.response.result_int(), 500);
  EXPECT_EQ(ex.response[bhttp::field::content_type], "application/problem+json");
}

TEST_F(ChainTest, EchoesTheMessageIdOnSuccess) {
  add("a", Behaviour::Respond);
  Exchange ex = makeExchange();
  ex.envelope_parsed = true;
  ex.envelope.message_id = *common::parseUuid("0190A6F4-3C2B-7D1E-8F00-112233445566");
  run(ex);
  EXPECT_EQ(ex.response["Qaqpa-Message-Id"], "0190a6f4-3c2b-7d1e-8f00-112233445566");
}

TEST_F(ChainTest, NoMessageIdHeaderBeforeTheEnvelopeIsParsed) {
  add("a", Behaviour::Fail);
  Exchange ex = makeExchange();
  run(ex);
  EXPECT_EQ(ex.response.find("Qaqpa-Message-Id"), ex.response.end());
  EXPECT_FALSE(body(ex).contains("messageId"));
}

TEST(StageTest, DefaultOnResponseDoesNothing) {
  PlainStage stage;
  Exchange ex(nullptr, config::Zone::State, Request{bhttp::verb::get, "/", 11});
  ex.response.body() = "unchanged";
  runAwaitable(stage.onResponse(ex));
  EXPECT_EQ(ex.response.body(), "unchanged");
  EXPECT_EQ(ex.status, StatusCode::Ok);
}

}  // namespace
}  // namespace qaqpa::pipeline
