#include "gateway/envelope/envelope_stage.h"

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "gateway/common/ids.h"
#include "gateway/pipeline/problem.h"
#include "tests/support/run_awaitable.h"

namespace qaqpa::envelope {
namespace {

namespace bhttp = boost::beast::http;
using common::Reason;
using common::StatusCode;
using pipeline::Exchange;
using pipeline::StageResult;
using test_support::runAwaitable;

constexpr std::string_view kClient = "KZ/GOV/240140000021/tax-service";
constexpr std::string_view kMessageId = "0190a6f4-3c2b-7d1e-8f00-112233445566";
constexpr std::string_view kTarget = "/v1/services/person.byIin";

using Headers = std::vector<std::pair<std::string, std::string>>;

class EnvelopeStageTest : public ::testing::Test {
 protected:
  // Runs the stage on a GET with the given target and headers (no implicit headers).
  StageResult run(std::string_view target, const Headers& headers) {
    pipeline::Request req{bhttp::verb::get, target, 11};
    for (const auto& [name, value] : headers) req.insert(name, value);
    ex_.emplace(nullptr, config::Zone::State, std::move(req));
    return runAwaitable(stage_->onRequest(*ex_));
  }

  // Same, with a valid Qaqpa-Client added first.
  StageResult runWithClient(std::string_view target, Headers headers = {}) {
    headers.insert(headers.begin(), {"Qaqpa-Client", std::string(kClient)});
    return run(target, headers);
  }

  void expectFailure(const StageResult& r, Reason reason, std::string_view param) {
    ASSERT_EQ(r.action, StageResult::Action::Fail);
    EXPECT_EQ(r.failure.code, StatusCode::ValidationFailed);
    EXPECT_EQ(r.failure.reason, reason);
    EXPECT_EQ(r.failure.param, param);
    EXPECT_EQ(r.failure.httpStatus(), 400);
  }

  const pipeline::Envelope& env() const { return ex_->envelope; }

  std::unique_ptr<pipeline::Stage> stage_ = makeEnvelopeStage();
  std::optional<Exchange> ex_;
};

TEST_F(EnvelopeStageTest, MinimalRequestGetsAnAssignedUuidV7) {
  const StageResult r = runWithClient(kTarget);
  ASSERT_EQ(r.action, StageResult::Action::Continue);
  EXPECT_STREQ(stage_->name(), "envelope");
  EXPECT_TRUE(ex_->envelope_parsed);
  EXPECT_EQ(env().client, kClient);
  EXPECT_TRUE(env().message_id_assigned);
  EXPECT_EQ(env().message_id.version(), 7);
  EXPECT_EQ(env().correlation_id, env().message_id);
  EXPECT_EQ(env().service_id, "person.byIin");
  EXPECT_EQ(env().service_path, "");
  EXPECT_EQ(env().query, "");
  EXPECT_FALSE(env().subject.has_value());
  EXPECT_FALSE(env().actor.has_value());
  EXPECT_EQ(env().purpose, "");
  EXPECT_EQ(env().consent_id, "");
}

TEST_F(EnvelopeStageTest, AssignedIdsAreFreshPerRequest) {
  ASSERT_EQ(runWithClient(kTarget).action, StageResult::Action::Continue);
  const common::Uuid first = env().message_id;
  ASSERT_EQ(runWithClient(kTarget).action, StageResult::Action::Continue);
  EXPECT_NE(env().message_id, first);
  EXPECT_EQ(env().message_id.version(), 7);
}

TEST_F(EnvelopeStageTest, FillsEveryFieldOfAFullRequest) {
  const StageResult r =
      runWithClient("/v1/services/person.byIin/records/2024?from=1&to=2",
                    {{"Qaqpa-Message-Id", std::string(kMessageId)},
                     {"Qaqpa-Correlation-Id", "6F9619FF-8B86-D011-B42D-00CF4FC964FF"},
                     {"Qaqpa-Subject", "IIN:900101300017"},
                     {"Qaqpa-Purpose", "TAX_ADMINISTRATION"},
                     {"Qaqpa-Actor", "IIN:850615300129"},
                     {"Qaqpa-Consent", "consent-2024.07_a"}});
  ASSERT_EQ(r.action, StageResult::Action::Continue);
  EXPECT_EQ(common::toString(env().message_id), kMessageId);
  EXPECT_FALSE(env().message_id_assigned);
  EXPECT_EQ(common::toString(env().correlation_id), "6f9619ff-8b86-d011-b42d-00cf4fc964ff");
  ASSERT_TRUE(env().subject.has_value());
  EXPECT_EQ(env().subject->toString(), "IIN:900101300017");
  EXPECT_EQ(env().purpose, "TAX_ADMINISTRATION");
  ASSERT_TRUE(env().actor.has_value());
  EXPECT_EQ(env().actor->kind, common::SubjectKind::Iin);
  EXPECT_EQ(env().actor->digits, "850615300129");
  EXPECT_EQ(env().consent_id, "consent-2024.07_a");
  EXPECT_EQ(env().service_id, "person.byIin");
  EXPECT_EQ(env().service_path, "/records/2024");
  EXPECT_EQ(env().query, "from=1&to=2");
}

TEST_F(EnvelopeStageTest, AcceptsAGivenMessageIdOfAnyVersion) {
  const StageResult r =
      runWithClient(kTarget, {{"Qaqpa-Message-Id", "6F9619FF-8B86-D011-B42D-00CF4FC964FF"}});
  ASSERT_EQ(r.action, StageResult::Action::Continue);
  EXPECT_FALSE(env().message_id_assigned);
  EXPECT_EQ(env().message_id.version(), 0xd);
  EXPECT_EQ(common::toString(env().message_id), "6f9619ff-8b86-d011-b42d-00cf4fc964ff");
  EXPECT_EQ(env().correlation_id, env().message_id);  // the default follows the given id
}

TEST_F(EnvelopeStageTest, AcceptsABusinessSubject) {
  ASSERT_EQ(runWithClient(kTarget, {{"Qaqpa-Subject", "BIN:240140000021"}}).action,
            StageResult::Action::Continue);
  ASSERT_TRUE(env().subject.has_value());
  EXPECT_EQ(env().subject->kind, common::SubjectKind::Bin);
}

TEST_F(EnvelopeStageTest, HeaderNamesAreCaseInsensitive) {
  const StageResult r =
      run("/v1/services/person.byIin", {{"qaqpa-client", std::string(kClient)},
                                        {"QAQPA-MESSAGE-ID", std::string(kMessageId)},
                                        {"qAqPa-CoRrElAtIoN-iD", std::string(kMessageId)},
                                        {"QAQPA-SUBJECT", "IIN:900101300017"},
                                        {"qaqpa-purpose", "TAX_ADMINISTRATION"},
                                        {"Qaqpa-ACTOR", "IIN:850615300129"},
                                        {"qaqpa-consent", "c1"}});
  ASSERT_EQ(r.action, StageResult::Action::Continue);
  EXPECT_EQ(env().client, kClient);
  EXPECT_FALSE(env().message_id_assigned);
  EXPECT_TRUE(env().subject.has_value());
  EXPECT_TRUE(env().actor.has_value());
  EXPECT_EQ(env().purpose, "TAX_ADMINISTRATION");
  EXPECT_EQ(env().consent_id, "c1");
}

TEST_F(EnvelopeStageTest, IgnoresUnrelatedHeaders) {
  const StageResult r = runWithClient(
      kTarget,
      {{"Qaqpa-Gateway", "x"}, {"Qaqpa", "y"}, {"X-Qaqpa-Client", "z"}, {"Accept", "*/*"}});
  EXPECT_EQ(r.action, StageResult::Action::Continue);
}

TEST_F(EnvelopeStageTest, RejectsEveryRepeatedQaqpaHeader) {
  const Headers valid = {{"Qaqpa-Client", std::string(kClient)},
                         {"Qaqpa-Message-Id", std::string(kMessageId)},
                         {"Qaqpa-Correlation-Id", std::string(kMessageId)},
                         {"Qaqpa-Subject", "IIN:900101300017"},
                         {"Qaqpa-Purpose", "TAX_ADMINISTRATION"},
                         {"Qaqpa-Actor", "IIN:850615300129"},
                         {"Qaqpa-Consent", "c1"}};
  for (const auto& [name, value] : valid) {
    SCOPED_TRACE(name);
    Headers headers = valid;
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers.emplace_back(lower, value);  // same value, different case: still a repeat
    expectFailure(run(kTarget, headers), Reason::DuplicateHeader, name);
    // A repeated message id leaves the id unknown; any other repeat is reported with it.
    EXPECT_EQ(ex_->envelope_parsed, name != "Qaqpa-Message-Id");
  }
}

TEST_F(EnvelopeStageTest, ClientIsRequired) {
  const StageResult r = run(kTarget, {{"Qaqpa-Message-Id", std::string(kMessageId)}});
  expectFailure(r, Reason::MissingHeader, "Qaqpa-Client");
  EXPECT_TRUE(ex_->envelope_parsed);
  EXPECT_EQ(common::toString(env().message_id), kMessageId);
}

TEST_F(EnvelopeStageTest, RejectsInvalidHeaderValuesWithoutEchoingThem) {
  struct Case {
    std::string header, value;
    Reason reason;
  };
  const std::vector<Case> cases = {
      {"Qaqpa-Client", "KZ/GOV/240140000022/tax-service", Reason::InvalidHeader},  // bad BIN
      {"Qaqpa-Client", "<script>alert(1)</script>", Reason::InvalidHeader},
      {"Qaqpa-Client", "", Reason::InvalidHeader},
      {"Qaqpa-Message-Id", "not-a-uuid", Reason::InvalidHeader},
      {"Qaqpa-Message-Id", "0190a6f43c2b7d1e8f00112233445566", Reason::InvalidHeader},
      {"Qaqpa-Correlation-Id", "0190a6f4-3c2b-7d1e-8f00-11223344556", Reason::InvalidHeader},
      {"Qaqpa-Subject", "IIN:12345", Reason::InvalidHeader},
      {"Qaqpa-Subject", "iin:900101300017", Reason::InvalidHeader},
      {"Qaqpa-Subject", "900101300017", Reason::InvalidHeader},
      {"Qaqpa-Subject", "IIN:900101300018", Reason::InvalidSubjectChecksum},
      {"Qaqpa-Subject", "BIN:240140000022", Reason::InvalidSubjectChecksum},
      {"Qaqpa-Purpose", "tax", Reason::InvalidHeader},
      {"Qaqpa-Purpose", "T", Reason::InvalidHeader},
      {"Qaqpa-Purpose", "", Reason::InvalidHeader},
      {"Qaqpa-Actor", "BIN:240140000021", Reason::InvalidHeader},  // an actor is a person
      {"Qaqpa-Actor", "IIN:900101300018", Reason::InvalidSubjectChecksum},
      {"Qaqpa-Actor", "ACTOR", Reason::InvalidHeader},
      {"Qaqpa-Consent", "", Reason::InvalidHeader},
      {"Qaqpa-Consent", std::string(129, 'c'), Reason::InvalidHeader},
      {"Qaqpa-Consent", "c 1", Reason::InvalidHeader},
      {"Qaqpa-Consent", "c/1", Reason::InvalidHeader},
      {"Qaqpa-Consent", "c\"1", Reason::InvalidHeader},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header + ": " + c.value);
    Headers headers;
    if (c.header != "Qaqpa-Client") headers.emplace_back("Qaqpa-Client", std::string(kClient));
    headers.emplace_back(c.header, c.value);
    expectFailure(run(kTarget, headers), c.reason, c.header);
  }
}

TEST_F(EnvelopeStageTest, AcceptsBoundaryConsentIds) {
  EXPECT_EQ(runWithClient(kTarget, {{"Qaqpa-Consent", std::string(128, 'c')}}).action,
            StageResult::Action::Continue);
  EXPECT_EQ(runWithClient(kTarget, {{"Qaqpa-Consent", "A-z.0_9"}}).action,
            StageResult::Action::Continue);
}

TEST_F(EnvelopeStageTest, SplitsServiceIdPathAndQuery) {
  struct Case {
    std::string target, service, path, query;
  };
  const std::vector<Case> cases = {
      {"/v1/services/person.byIin", "person.byIin", "", ""},
      {"/v1/services/person.byIin?", "person.byIin", "", ""},
      {"/v1/services/person.byIin/", "person.byIin", "/", ""},
      {"/v1/services/person.byIin?iin=900101300017", "person.byIin", "", "iin=900101300017"},
      {"/v1/services/tax-debt_v2/a/b.c/d-e_f~g?x=1&y=a/b", "tax-debt_v2", "/a/b.c/d-e_f~g",
       "x=1&y=a/b"},
      {"/v1/services/x/a%20b/%41", "x", "/a%20b/%41", ""},
      {"/v1/services/x/.well-known/file.tar.gz", "x", "/.well-known/file.tar.gz", ""},
      // The query is not a path: dots and encoded slashes there cannot traverse anything.
      {"/v1/services/x/r?range=1..5&p=%2F", "x", "/r", "range=1..5&p=%2F"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    ASSERT_EQ(runWithClient(c.target).action, StageResult::Action::Continue);
    EXPECT_EQ(env().service_id, c.service);
    EXPECT_EQ(env().service_path, c.path);
    EXPECT_EQ(env().query, c.query);
  }
}

TEST_F(EnvelopeStageTest, RejectsTraversalAndForbiddenTargets) {
  const std::vector<std::string> targets = {
      "/v1/services/person.byIin/../admin",
      "/v1/services/person.byIin/..",
      "/v1/services/person.byIin/a/../../admin",
      "/v1/services/person.byIin/%2e%2e/admin",
      "/v1/services/person.byIin/%2E%2E/admin",
      "/v1/services/person.byIin/.%2e/admin",
      "/v1/services/person.byIin/%2e./admin",
      "/v1/services/person.byIin/%2e",
      "/v1/services/person.byIin/./admin",
      "/v1/services/person.byIin/..;/admin",
      "/v1/services/person.byIin/.;x/admin",
      "/v1/services/person.byIin/a..b",
      "/v1/services/person.byIin/a%2Fb",
      "/v1/services/person.byIin/a%2fb",
      "/v1/services/person.byIin/%2F..%2Fadmin",
      "/v1/services/person.byIin/a%5cb",
      "/v1/services/person.byIin/a\\b",
      "/v1/services/person.byIin/..\\admin",
      "/v1/services/person.byIin/%252e%252e/admin",
      "/v1/services/person.byIin/%252F",
      "/v1/services/person.byIin/a%00b",
      "/v1/services/person.byIin/a%0d%0aX-Injected:1",
      "/v1/services/person.byIin/a%zz",
      "/v1/services/person.byIin/a%2",
      "/v1/services/person.byIin/a%",
      "/v1/services/person.byIin//admin",
      "/v1/services/person.byIin/a//b",
      "/v1/services/person.byIin/a#frag",
      "/v1/services/person.byIin?q=1#frag",
      "/v1/services/person.byIin/a b",
      "/v1/services/person.byIin/a\tb",
      std::string("/v1/services/person.byIin/a\0b", 29),
      "/v1/services/person.byIin/a\x7f",
      "/v1/services/person.byIin/\xd0\x90",
      "/v1/services/person.byIin?q=\r\nX: 1",
      "/",
      "",
      "*",
      "http://evil.example/v1/services/person.byIin",
      "/v1/services",
      "/v1/servicesperson.byIin",
      "/v1/service/person.byIin",
      "/V1/services/person.byIin",
      "/v2/services/person.byIin",
      "/../v1/services/person.byIin",
  };
  for (const std::string& target : targets) {
    SCOPED_TRACE(target);
    expectFailure(runWithClient(target), Reason::InvalidPath, "");
  }
}

TEST_F(EnvelopeStageTest, RejectsInvalidServiceIds) {
  struct Case {
    std::string target, param;
  };
  const std::vector<Case> cases = {
      {"/v1/services/", ""},
      {"/v1/services/?x=1", ""},
      {"/v1/services//person.byIin", ""},
      {"/v1/services/Person.byIin", "Person.byIin"},
      {"/v1/services/1person", "1person"},
      {"/v1/services/.hidden", ".hidden"},
      {"/v1/services/" + std::string(64, 'A'), std::string(64, 'A')},
      {"/v1/services/" + std::string(65, 'a'), ""},  // too long to echo
      {"/v1/services/person%2ebyIin", ""},           // never echo escapes
      {"/v1/services/person;x", ""},
      {"/v1/services/..", ".."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    expectFailure(runWithClient(c.target), Reason::InvalidServiceId, c.param);
  }
}

TEST_F(EnvelopeStageTest, ParsesTheMessageIdBeforeAnythingElse) {
  const StageResult r =
      run("/v1/services/person.byIin/../admin", {{"Qaqpa-Message-Id", std::string(kMessageId)}});
  expectFailure(r, Reason::InvalidPath, "");
  EXPECT_TRUE(ex_->envelope_parsed);
  EXPECT_EQ(common::toString(env().message_id), kMessageId);

  // A bad message id is reported first, before the bad target and the missing client.
  expectFailure(run("/nope", {{"Qaqpa-Message-Id", "zzz"}}), Reason::InvalidHeader,
                "Qaqpa-Message-Id");
  EXPECT_FALSE(ex_->envelope_parsed);
}

TEST_F(EnvelopeStageTest, AProblemEchoesTheAssignedMessageId) {
  const StageResult r = run("/v1/services/person.byIin/%2e%2e/admin", {});
  ASSERT_EQ(r.action, StageResult::Action::Fail);
  ASSERT_TRUE(ex_->envelope_parsed);
  EXPECT_TRUE(env().message_id_assigned);
  pipeline::renderProblem(*ex_, r.failure);
  const auto body = boost::json::parse(ex_->response.body()).as_object();
  EXPECT_EQ(body.at("messageId").as_string(), common::toString(env().message_id));
  EXPECT_EQ(body.at("reason").as_string(), "INVALID_PATH");
  EXPECT_EQ(ex_->response["Qaqpa-Message-Id"], common::toString(env().message_id));
}

}  // namespace
}  // namespace qaqpa::envelope

namespace qaqpa::envelope {
namespace {

// Asynchronous exchange (PROTOCOL.md §4): Prefer (RFC 7240) and /v1/messages/{id}.
class EnvelopeAsyncTest : public ::testing::Test {
 protected:
  StageResult run(bhttp::verb method, std::string_view target, const Headers& headers) {
    pipeline::Request req{method, target, 11};
    req.insert("Qaqpa-Client", kClient);
    for (const auto& [name, value] : headers) req.insert(name, value);
    ex_.emplace(nullptr, config::Zone::State, std::move(req));
    return runAwaitable(stage_->onRequest(*ex_));
  }
  bool prefers(const Headers& headers) {
    const StageResult r = run(bhttp::verb::post, kTarget, headers);
    EXPECT_EQ(r.action, StageResult::Action::Continue);
    return ex_->envelope.async_requested;
  }

  std::unique_ptr<pipeline::Stage> stage_ = makeEnvelopeStage();
  std::optional<Exchange> ex_;
};

TEST_F(EnvelopeAsyncTest, PreferRespondAsyncIsRecognisedCaseInsensitivelyAmongOthers) {
  EXPECT_TRUE(prefers({{"Prefer", "respond-async"}}));
  EXPECT_TRUE(prefers({{"prefer", "Respond-Async"}}));
  EXPECT_TRUE(prefers({{"Prefer", "return=minimal, respond-async, wait=10"}}));
  EXPECT_TRUE(prefers({{"Prefer", " respond-async ; foo=bar"}}));
  EXPECT_TRUE(prefers({{"Prefer", "handling=lenient"}, {"Prefer", "respond-async"}}));
  EXPECT_TRUE(prefers({{"Prefer", "foo=\"a, b\", respond-async"}}));
}

TEST_F(EnvelopeAsyncTest, OtherPreferencesOrLookAlikesAreNotAsync) {
  EXPECT_FALSE(prefers({}));
  EXPECT_FALSE(prefers({{"Prefer", "return=representation"}}));
  EXPECT_FALSE(prefers({{"Prefer", "respond-asynchronously"}}));
  EXPECT_FALSE(prefers({{"Prefer", "foo=respond-async"}}));
  EXPECT_FALSE(prefers({{"Prefer", "foo=\"x, respond-async\""}}));
  EXPECT_FALSE(prefers({{"X-Prefer", "respond-async"}}));
}

TEST_F(EnvelopeAsyncTest, MessagesTargetWithGetAndDelete) {
  for (bhttp::verb m : {bhttp::verb::get, bhttp::verb::delete_}) {
    const StageResult r = run(m, "/v1/messages/0190A6F4-3C2B-7D1E-8F00-112233445566", {});
    ASSERT_EQ(r.action, StageResult::Action::Continue);
    EXPECT_TRUE(ex_->envelope.messages_target);
    EXPECT_EQ(common::toString(ex_->envelope.target_message_id), kMessageId);
    EXPECT_TRUE(ex_->envelope.service_id.empty());
    EXPECT_FALSE(ex_->envelope.async_requested);
  }
}

TEST_F(EnvelopeAsyncTest, MessagesTargetRefusesOtherMethodsAndBadIds) {
  StageResult r = run(bhttp::verb::post, "/v1/messages/0190a6f4-3c2b-7d1e-8f00-112233445566", {});
  ASSERT_EQ(r.action, StageResult::Action::Fail);
  EXPECT_EQ(r.failure.reason, Reason::MethodNotAllowed);
  EXPECT_EQ(r.failure.param, "POST");
  EXPECT_EQ(r.failure.httpStatus(), 405);
  for (std::string_view bad :
       {"/v1/messages/", "/v1/messages/123", "/v1/messages/0190a6f4-3c2b-7d1e-8f00-112233445566/x",
        "/v1/messages/0190a6f4-3c2b-7d1e-8f00-112233445566?a=b"}) {
    r = run(bhttp::verb::get, bad, {});
    ASSERT_EQ(r.action, StageResult::Action::Fail) << bad;
    EXPECT_EQ(r.failure.reason, Reason::InvalidPath) << bad;
    EXPECT_EQ(r.failure.httpStatus(), 400) << bad;
  }
}

}  // namespace
}  // namespace qaqpa::envelope
