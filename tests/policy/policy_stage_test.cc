#include "gateway/policy/policy_stage.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "gateway/common/i18n.h"
#include "gateway/common/ids.h"
#include "gateway/consent/consent_store.h"
#include "tests/support/run_awaitable.h"
#include "tests/support/test_snapshot.h"

namespace qaqpa::policy {
namespace {

namespace bhttp = boost::beast::http;
using common::Reason;
using common::StatusCode;
using config::Zone;
using pipeline::Exchange;
using pipeline::StageResult;
using test_support::runAwaitable;
using test_support::SnapshotBuilder;

const std::string kTax = "KZ/GOV/240140000021/tax-service";
const std::string kRegister = "KZ/GOV/240140000011/population-register";
const std::string kBank = "KZ/COM/850615300129/bank";
const std::string kStranger = "KZ/GOV/240140000021/not-registered";

// A small registry: tax-service (state) may call person.byIin for two purposes through two grants
// and weather.today without a purpose; bank (external) has no grant for person.byIin.
SnapshotBuilder registry() {
  SnapshotBuilder b;
  b.demoTrust(true)
      .system(kTax, Zone::State)
      .system(kRegister, Zone::State)
      .system(kBank, Zone::External)
      .purpose("TAX_ADMINISTRATION")
      .purpose("SOCIAL_BENEFITS")
      .purpose("UNUSED_PURPOSE")
      .service("person.byIin", kRegister, {Zone::State, Zone::External}, true)
      .service("weather.today", kRegister, {Zone::State, Zone::External}, false)
      .service("state.only", kRegister, {Zone::State}, false)
      .service("nobody.granted", kRegister, {Zone::State}, false)
      .grant(kTax, {"person.byIin"}, {"TAX_ADMINISTRATION"})
      .grant(kTax, {"person.byIin", "weather.today"}, {"SOCIAL_BENEFITS"})
      .grant(kBank, {"state.only"});
  return b;
}

class PolicyStageTest : public ::testing::Test {
 protected:
  void SetUp() override { snapshot_ = registry().build(); }

  // An exchange as the envelope stage leaves it: a personal-data call with subject and purpose.
  Exchange& exchange(Zone zone = Zone::State, std::string client = kTax,
                     std::string service = "person.byIin") {
    ex_.emplace(snapshot_, zone, pipeline::Request{bhttp::verb::get, "/", 11});
    ex_->envelope_parsed = true;
    ex_->envelope.message_id = *common::parseUuid("0190a6f4-3c2b-7d1e-8f00-112233445566");
    ex_->envelope.correlation_id = ex_->envelope.message_id;
    ex_->envelope.client = std::move(client);
    ex_->envelope.service_id = std::move(service);
    ex_->envelope.subject = common::parseSubject("IIN:900101300017").id;
    ex_->envelope.purpose = "TAX_ADMINISTRATION";
    return *ex_;
  }

  StageResult run() { return runAwaitable(stage_->onRequest(*ex_)); }

  void expectDenied(const StageResult& r, StatusCode code, Reason reason, const std::string& param,
                    int http) {
    ASSERT_EQ(r.action, StageResult::Action::Fail);
    EXPECT_EQ(r.failure.code, code);
    EXPECT_EQ(r.failure.reason, reason);
    EXPECT_EQ(r.failure.param, param);
    EXPECT_EQ(r.failure.httpStatus(), http);
    EXPECT_EQ(ex_->grant, nullptr);
    EXPECT_EQ(ex_->purpose, nullptr);
  }

  const config::Grant* grantAt(std::size_t i) const { return &snapshot_->policy.grants.at(i); }

  std::shared_ptr<const config::Snapshot> snapshot_;
  ReplayWindow replay_{std::chrono::minutes(10), 4096};
  PolicyContext context_{&replay_, nullptr};
  std::unique_ptr<pipeline::Stage> stage_ = makePolicyStage(context_);
  std::optional<Exchange> ex_;
};

TEST_F(PolicyStageTest, AllowsAGrantedPersonalDataCall) {
  exchange();
  const StageResult r = run();
  ASSERT_EQ(r.action, StageResult::Action::Continue);
  EXPECT_STREQ(stage_->name(), "policy");
  EXPECT_EQ(ex_->client, snapshot_->policy.findSystem(kTax));
  EXPECT_EQ(ex_->service, snapshot_->policy.findService("person.byIin"));
  EXPECT_EQ(ex_->grant, grantAt(0));
  ASSERT_NE(ex_->purpose, nullptr);
  EXPECT_EQ(ex_->purpose->code, "TAX_ADMINISTRATION");
  EXPECT_FALSE(ex_->failure.has_value());
}

TEST_F(PolicyStageTest, PicksTheGrantThatAllowsThePurpose) {
  exchange().envelope.purpose = "SOCIAL_BENEFITS";
  ASSERT_EQ(run().action, StageResult::Action::Continue);
  EXPECT_EQ(ex_->grant, grantAt(1));
  EXPECT_EQ(ex_->purpose, snapshot_->policy.findPurpose("SOCIAL_BENEFITS"));
}

TEST_F(PolicyStageTest, NonPersonalServiceNeedsNoSubjectOrPurpose) {
  Exchange& ex = exchange(Zone::State, kTax, "weather.today");
  ex.envelope.subject.reset();
  ex.envelope.purpose.clear();
  ASSERT_EQ(run().action, StageResult::Action::Continue);
  EXPECT_EQ(ex.grant, grantAt(1));
  EXPECT_EQ(ex.purpose, nullptr);
}

TEST_F(PolicyStageTest, AGivenPurposeIsCheckedEvenWhenNotRequired) {
  exchange(Zone::State, kTax, "weather.today").envelope.purpose = "TAX_ADMINISTRATION";
  expectDenied(run(), StatusCode::AccessDenied, Reason::PurposeNotAllowed, "TAX_ADMINISTRATION",
               403);
  exchange(Zone::State, kTax, "weather.today").envelope.purpose = "SOCIAL_BENEFITS";
  EXPECT_EQ(run().action, StageResult::Action::Continue);
}

TEST_F(PolicyStageTest, UnknownClientIsAuthFailed) {
  exchange(Zone::State, kStranger);
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientUnknown, kStranger, 401);
  EXPECT_EQ(ex_->client, nullptr);
  EXPECT_EQ(ex_->service, nullptr);
}

TEST_F(PolicyStageTest, ClientFromAnotherZoneIsAuthFailed) {
  exchange(Zone::External, kTax);
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientWrongZone, kTax, 401);
  exchange(Zone::International, kTax);
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientWrongZone, kTax, 401);
  exchange(Zone::State, kBank, "state.only");
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientWrongZone, kBank, 401);
  EXPECT_EQ(ex_->client, nullptr);
}

TEST_F(PolicyStageTest, UnprovenClientIsRejectedWithoutDemoTrust) {
  snapshot_ = registry().demoTrust(false).build();
  exchange();
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientNotProven, "", 401);
  EXPECT_EQ(ex_->client, nullptr);  // a claimed identity is not an identity
}

TEST_F(PolicyStageTest, UsesTheExchangesOwnSnapshot) {
  exchange();
  snapshot_ = registry().demoTrust(false).build();  // a reload after the request started
  EXPECT_EQ(run().action, StageResult::Action::Continue);
}

TEST_F(PolicyStageTest, UnknownServiceIsNotFound) {
  exchange(Zone::State, kTax, "no.such");
  expectDenied(run(), StatusCode::ServiceNotFound, Reason::ServiceUnknown, "no.such", 404);
  EXPECT_NE(ex_->client, nullptr);
  EXPECT_EQ(ex_->service, nullptr);
}

TEST_F(PolicyStageTest, ServiceNotExposedToTheZoneIsDenied) {
  exchange(Zone::External, kBank, "state.only");
  // bank even holds a grant for it: exposure is checked first.
  expectDenied(run(), StatusCode::AccessDenied, Reason::ServiceNotExposed, "state.only", 403);
  EXPECT_EQ(ex_->client, snapshot_->policy.findSystem(kBank));
  EXPECT_EQ(ex_->service, snapshot_->policy.findService("state.only"));
}

TEST_F(PolicyStageTest, PersonalDataRequiresSubjectAndPurpose) {
  exchange().envelope.subject.reset();
  expectDenied(run(), StatusCode::ValidationFailed, Reason::MissingHeader, "Qaqpa-Subject", 400);
  exchange().envelope.purpose.clear();
  expectDenied(run(), StatusCode::ValidationFailed, Reason::MissingHeader, "Qaqpa-Purpose", 400);
  Exchange& both = exchange();
  both.envelope.subject.reset();
  both.envelope.purpose.clear();
  expectDenied(run(), StatusCode::ValidationFailed, Reason::MissingHeader, "Qaqpa-Subject", 400);
}

TEST_F(PolicyStageTest, ValidationComesBeforeTheGrant) {
  exchange(Zone::External, kBank).envelope.purpose.clear();  // bank has no person.byIin grant
  expectDenied(run(), StatusCode::ValidationFailed, Reason::MissingHeader, "Qaqpa-Purpose", 400);
}

TEST_F(PolicyStageTest, ServiceComesBeforeValidation) {
  Exchange& ex = exchange(Zone::State, kTax, "no.such");
  ex.envelope.subject.reset();
  expectDenied(run(), StatusCode::ServiceNotFound, Reason::ServiceUnknown, "no.such", 404);
}

TEST_F(PolicyStageTest, NoGrantIsDenied) {
  exchange(Zone::State, kTax, "nobody.granted").envelope.purpose.clear();
  expectDenied(run(), StatusCode::AccessDenied, Reason::NoGrant, "nobody.granted", 403);
  exchange(Zone::External, kBank, "person.byIin");
  expectDenied(run(), StatusCode::AccessDenied, Reason::NoGrant, "person.byIin", 403);
}

TEST_F(PolicyStageTest, PurposeMustBeInTheCatalogueAndGranted) {
  exchange().envelope.purpose = "NOT_IN_CATALOGUE";
  expectDenied(run(), StatusCode::AccessDenied, Reason::PurposeNotAllowed, "NOT_IN_CATALOGUE", 403);
  exchange().envelope.purpose = "UNUSED_PURPOSE";
  expectDenied(run(), StatusCode::AccessDenied, Reason::PurposeNotAllowed, "UNUSED_PURPOSE", 403);
}

TEST_F(PolicyStageTest, AGrantOfAnotherClientIsNeverUsed) {
  // A corrupt index must not turn into access: the grant's own client is checked too.
  auto snap = std::const_pointer_cast<config::Snapshot>(registry().build());
  const config::Grant* taxes = &snap->policy.grants.at(1);
  snap->policy.grant_index[{kBank, "weather.today"}].push_back(taxes);
  snapshot_ = snap;
  exchange(Zone::External, kBank, "weather.today").envelope.purpose.clear();
  expectDenied(run(), StatusCode::AccessDenied, Reason::NoGrant, "weather.today", 403);
  exchange(Zone::External, kBank, "weather.today").envelope.purpose = "SOCIAL_BENEFITS";
  expectDenied(run(), StatusCode::AccessDenied, Reason::PurposeNotAllowed, "SOCIAL_BENEFITS", 403);
}

TEST_F(PolicyStageTest, AnEmptyGrantListIsNoGrant) {
  auto snap = std::const_pointer_cast<config::Snapshot>(registry().build());
  snap->policy.grant_index[{kTax, "nobody.granted"}];
  snapshot_ = snap;
  exchange(Zone::State, kTax, "nobody.granted").envelope.purpose.clear();
  expectDenied(run(), StatusCode::AccessDenied, Reason::NoGrant, "nobody.granted", 403);
}

TEST_F(PolicyStageTest, FailsClosedWithoutAnEnvelopeOrSnapshot) {
  exchange().envelope_parsed = false;
  expectDenied(run(), StatusCode::Internal, Reason::InternalError, "", 500);
  exchange().envelope.client.clear();
  expectDenied(run(), StatusCode::Internal, Reason::InternalError, "", 500);
  exchange().snapshot.reset();
  expectDenied(run(), StatusCode::Internal, Reason::InternalError, "", 500);
}

TEST_F(PolicyStageTest, DenialRendersALocalizedProblemThroughTheChain) {
  std::vector<std::unique_ptr<pipeline::Stage>> stages;
  stages.push_back(makePolicyStage(context_));
  pipeline::Chain chain(std::move(stages));
  exchange().envelope.purpose = "UNUSED_PURPOSE";
  ex_->lang = common::Lang::Ru;
  runAwaitable(chain.run(*ex_));
  EXPECT_EQ(ex_->response.result_int(), 403);
  EXPECT_EQ(ex_->response["Qaqpa-Status"], "ACCESS_DENIED");
  const auto body = boost::json::parse(ex_->response.body()).as_object();
  EXPECT_EQ(body.at("reason").as_string(), "PURPOSE_NOT_ALLOWED");
  EXPECT_EQ(body.at("detail").as_string(), "Цель UNUSED_PURPOSE не разрешена для этого сервиса");
  EXPECT_EQ(body.at("messageId").as_string(), "0190a6f4-3c2b-7d1e-8f00-112233445566");
}

}  // namespace
}  // namespace qaqpa::policy

namespace qaqpa::policy {
namespace {

TEST_F(PolicyStageTest, RepeatedMessageIdFromTheSameClientIsDuplicate) {
  exchange();
  ASSERT_EQ(run().action, StageResult::Action::Continue);
  exchange();
  expectDenied(run(), StatusCode::Duplicate, Reason::MessageReplayed, "", 409);
}

TEST_F(PolicyStageTest, GatewayAssignedMessageIdsAreNotRecorded) {
  for (int i = 0; i < 2; ++i) {
    exchange().envelope.message_id_assigned = true;
    EXPECT_EQ(run().action, StageResult::Action::Continue);
  }
  EXPECT_EQ(replay_.size(), 0u) << "ids the gateway made itself cannot repeat";
}

TEST_F(PolicyStageTest, DeniedRequestDoesNotConsumeItsMessageId) {
  exchange().envelope.purpose = "UNUSED_PURPOSE";  // in the catalogue, granted to nobody
  ASSERT_EQ(run().action, StageResult::Action::Fail);
  exchange();  // same id, now allowed
  EXPECT_EQ(run().action, StageResult::Action::Continue);
}

TEST_F(PolicyStageTest, SameMessageIdFromAnotherClientIsNotAReplay) {
  const std::string other = "KZ/GOV/240140000031/social-benefits";
  snapshot_ = registry().system(other, Zone::State).grant(other, {"weather.today"}).build();
  for (const std::string& client : {kTax, other}) {
    exchange(Zone::State, client, "weather.today").envelope.purpose.clear();
    EXPECT_EQ(run().action, StageResult::Action::Continue) << client;
  }
}

}  // namespace
}  // namespace qaqpa::policy

namespace qaqpa::policy {
namespace {

// GET/DELETE /v1/messages/{id}: the envelope stage leaves no service id; only identity counts.
Exchange& messagesTarget(Exchange& ex) {
  ex.envelope.messages_target = true;
  ex.envelope.target_message_id = *common::parseUuid("0190a6f4-3c2b-7d1e-8f00-aabbccddeeff");
  ex.envelope.service_id.clear();
  ex.envelope.subject.reset();
  ex.envelope.purpose.clear();
  return ex;
}

TEST_F(PolicyStageTest, MessagesTargetChecksOnlyTheIdentity) {
  // population-register holds no grant at all: reading its own messages needs none.
  for (int i = 0; i < 2; ++i) {
    messagesTarget(exchange(Zone::State, kRegister, ""));
    const StageResult r = run();
    ASSERT_EQ(r.action, StageResult::Action::Continue) << i;
    EXPECT_EQ(ex_->client, snapshot_->policy.findSystem(kRegister));
    EXPECT_EQ(ex_->service, nullptr);
    EXPECT_EQ(ex_->grant, nullptr);
    EXPECT_EQ(ex_->purpose, nullptr);
    EXPECT_EQ(ex_->policy_hold, nullptr);
  }
  EXPECT_EQ(replay_.size(), 0u) << "a status request neither checks nor records its message id";
}

TEST_F(PolicyStageTest, MessagesTargetStillRefusesAnUnprovenOrForeignClient) {
  messagesTarget(exchange(Zone::State, kStranger, ""));
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientUnknown, kStranger, 401);
  messagesTarget(exchange(Zone::State, kBank, ""));
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientWrongZone, kBank, 401);
  EXPECT_EQ(ex_->client, nullptr);
  snapshot_ = registry().demoTrust(false).build();
  messagesTarget(exchange(Zone::State, kTax, ""));
  expectDenied(run(), StatusCode::AuthFailed, Reason::ClientNotProven, "", 401);
  EXPECT_EQ(ex_->client, nullptr);
}

TEST_F(PolicyStageTest, MessagesTargetWithoutAClientFailsClosed) {
  messagesTarget(exchange()).envelope.client.clear();
  expectDenied(run(), StatusCode::Internal, Reason::InternalError, "", 500);
  // Without the messages flag an empty service id is still an envelope the stage cannot judge.
  exchange(Zone::State, kTax, "");
  expectDenied(run(), StatusCode::Internal, Reason::InternalError, "", 500);
}

TEST_F(PolicyStageTest, AsyncSubmissionSkipsTheReplayWindowWhenAsyncIsEnabled) {
  context_.async_enabled = true;
  for (int i = 0; i < 2; ++i) {
    exchange().envelope.async_requested = true;
    const StageResult r = run();
    ASSERT_EQ(r.action, StageResult::Action::Continue) << i;
    EXPECT_EQ(ex_->grant, grantAt(0));
  }
  EXPECT_EQ(replay_.size(), 0u) << "the async stage answers the repeat, not the window";
  // A synchronous call with the same id is checked (and recorded) as before.
  exchange();
  ASSERT_EQ(run().action, StageResult::Action::Continue);
  EXPECT_EQ(replay_.size(), 1u);
  exchange();
  expectDenied(run(), StatusCode::Duplicate, Reason::MessageReplayed, "", 409);
}

TEST_F(PolicyStageTest, AsyncRequestWithoutTheAsyncExchangeIsReplayChecked) {
  // No Redis, no async stage: Prefer: respond-async is ignored and the call is synchronous.
  ASSERT_FALSE(context_.async_enabled);
  exchange().envelope.async_requested = true;
  ASSERT_EQ(run().action, StageResult::Action::Continue);
  exchange().envelope.async_requested = true;
  expectDenied(run(), StatusCode::Duplicate, Reason::MessageReplayed, "", 409);
}

}  // namespace
}  // namespace qaqpa::policy

namespace qaqpa::policy {
namespace {

// A consent store that answers every check with one value (the Redis store's outage is tested
// against a real redis-server in tests/consent; here only the stage's answer to it).
class FixedConsentStore final : public consent::ConsentStore {
 public:
  explicit FixedConsentStore(consent::ConsentCheck answer) : answer_(answer) {}
  boost::asio::awaitable<consent::ConsentCheck> check(std::string_view, const common::SubjectId&,
                                                      std::string_view, std::string_view,
                                                      std::string_view,
                                                      consent::Clock::time_point) const override {
    ++checks;
    co_return answer_;
  }
  boost::asio::awaitable<consent::ConsentList> listBySubject(
      const common::SubjectId&) const override {
    co_return consent::ConsentList{};
  }
  boost::asio::awaitable<consent::ConsentLookup> find(std::string_view) const override {
    co_return consent::ConsentLookup{};
  }
  boost::asio::awaitable<consent::GrantResult> grant(consent::ConsentRequest) override {
    co_return consent::GrantResult{};
  }
  boost::asio::awaitable<consent::RevokeResult> revoke(std::string_view,
                                                       const common::SubjectId&) override {
    co_return consent::RevokeResult{};
  }
  mutable int checks = 0;

 private:
  consent::ConsentCheck answer_;
};

class ConsentAnswerTest : public PolicyStageTest {
 protected:
  void SetUp() override {
    auto snap = registry().build();
    auto& grants = std::const_pointer_cast<config::Snapshot>(snap)->policy.grants;
    for (config::Grant& g : grants) g.requires_consent = true;
    snapshot_ = snap;
  }
  Exchange& withConsent() {
    Exchange& ex = exchange();
    ex.envelope.consent_id = "01890a5d-ac96-774b-bcce-b302099a8057";
    return ex;
  }
};

TEST_F(ConsentAnswerTest, AnUnavailableConsentStoreFailsClosedWith503) {
  FixedConsentStore store(consent::ConsentCheck::Unavailable);
  context_.consents = &store;
  withConsent();
  const StageResult r = run();
  expectDenied(r, StatusCode::ProviderUnavailable, Reason::ConsentStoreUnavailable, "", 503);
  EXPECT_EQ(store.checks, 1);
  EXPECT_EQ(replay_.size(), 0u) << "a refused request does not consume its id";
  EXPECT_EQ(common::reasonName(Reason::ConsentStoreUnavailable), "CONSENT_STORE_UNAVAILABLE");
}

TEST_F(ConsentAnswerTest, AnActiveConsentFromTheAwaitableStoreAllows) {
  FixedConsentStore store(consent::ConsentCheck::Active);
  context_.consents = &store;
  withConsent();
  EXPECT_EQ(run().action, StageResult::Action::Continue);
  FixedConsentStore revoked(consent::ConsentCheck::Revoked);
  context_.consents = &revoked;
  exchange().envelope.consent_id = "01890a5d-ac96-774b-bcce-b302099a8058";
  expectDenied(run(), StatusCode::ConsentRequired, Reason::ConsentRevoked, "", 403);
}

}  // namespace
}  // namespace qaqpa::policy
