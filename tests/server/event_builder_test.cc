#include "gateway/server/event_builder.h"

#include <gtest/gtest.h>

#include "gateway/journal/format.h"
#include "qaqpa/journal/v1/journal.pb.h"
#include "tests/support/test_snapshot.h"

namespace qaqpa::server {
namespace {

namespace pb = qaqpa::journal::v1;
using config::Zone;

constexpr const char* kTax = "KZ/GOV/240140000021/tax-service";
constexpr const char* kPop = "KZ/GOV/240140000011/population-register";
constexpr const char* kAm = "AM/INT/AMGW/national-gateway";

std::shared_ptr<const config::Snapshot> snapshot() {
  return test_support::SnapshotBuilder()
      .system(kTax, Zone::State)
      .system(kPop, Zone::State)
      .system(kAm, Zone::International)
      .purpose("TAX_ADMINISTRATION")
      .service("person.byIin", kPop, {Zone::State, Zone::International}, true)
      .grant(kTax, {"person.byIin"}, {"TAX_ADMINISTRATION"})
      .build();
}

pb::DigitalEvent parse(const std::string& bytes) {
  pb::DigitalEvent e;
  EXPECT_TRUE(e.ParseFromString(bytes));
  return e;
}

struct EventBuilderTest : ::testing::Test {
  EventBuilderTest() : snap(snapshot()), ex(snap, Zone::State, pipeline::Request{}) {
    ex.request.body() = R"({"secret":"payload that must never be journaled"})";
    ex.response.result(200);
    ex.response.body() = R"({"name":"Айгерім","iin":"900101300017"})";
    ex.received_at =
        std::chrono::system_clock::time_point(std::chrono::microseconds(1'795'000'000'123'456LL));
    ex.envelope_parsed = true;
    ex.envelope.client = kTax;
    ex.envelope.subject = common::SubjectId{common::SubjectKind::Iin, "900101300017"};
    ex.envelope.purpose = "TAX_ADMINISTRATION";
    ex.envelope.service_id = "person.byIin";
    common::UuidV7Generator ids;
    ex.envelope.message_id = ids.nextNow();
    ex.envelope.correlation_id = ex.envelope.message_id;
    ex.client = snap->policy.findSystem(kTax);
    ex.service = snap->policy.findService("person.byIin");
    ex.purpose = snap->policy.findPurpose("TAX_ADMINISTRATION");
  }
  CallFacts facts() const {
    return {"018f0000-0000-7000-8000-000000000001", "kz-test-1",
            "sha-256=:req:", "sha-256=:res:", std::chrono::microseconds(1234)};
  }
  std::shared_ptr<const config::Snapshot> snap;
  pipeline::Exchange ex;
};

TEST_F(EventBuilderTest, ForwardedCallIsDataAccessWithEveryField) {
  const std::string bytes = buildCallEvent(ex, facts());
  const pb::DigitalEvent e = parse(bytes);
  EXPECT_EQ(e.event_id(), "018f0000-0000-7000-8000-000000000001");
  EXPECT_EQ(e.node_id(), "kz-test-1");
  EXPECT_EQ(e.time().seconds(), 1'795'000'000);
  EXPECT_EQ(e.time().nanos(), 123'456'000);
  EXPECT_EQ(e.zone(), pb::STATE);
  EXPECT_EQ(e.kind(), pb::DATA_ACCESS);
  EXPECT_EQ(e.client().id(), kTax);
  EXPECT_EQ(e.client().name().en(), std::string(kTax) + " en");
  EXPECT_EQ(e.provider().id(), kPop);
  EXPECT_EQ(e.service().id(), "person.byIin");
  EXPECT_EQ(e.service().name().kk(), "person.byIin kk");
  EXPECT_EQ(e.subject(), "IIN:900101300017");
  EXPECT_EQ(e.purpose().code(), "TAX_ADMINISTRATION");
  EXPECT_EQ(e.purpose().text().ru(), "TAX_ADMINISTRATION ru");
  EXPECT_EQ(e.message_id(), common::toString(ex.envelope.message_id));
  EXPECT_EQ(e.status(), "OK");
  EXPECT_EQ(e.http_status(), 200u);
  EXPECT_EQ(e.latency_us(), 1234u);
  EXPECT_EQ(e.request_digest(), "sha-256=:req:");
  EXPECT_EQ(e.response_digest(), "sha-256=:res:");
  EXPECT_TRUE(e.reason().empty());
  // The chain fields are the writer's.
  EXPECT_EQ(e.seq(), 0u);
  EXPECT_TRUE(e.prev_hash().empty());
  EXPECT_TRUE(e.hash().empty());
}

TEST_F(EventBuilderTest, NeverCarriesThePayload) {
  const std::string bytes = buildCallEvent(ex, facts());
  EXPECT_EQ(bytes.find("payload that must never"), std::string::npos);
  EXPECT_EQ(bytes.find("Айгерім"), std::string::npos);
}

TEST_F(EventBuilderTest, BytesAreCanonicalAndTheWriterCanAppendTheChain) {
  const std::string bytes = buildCallEvent(ex, facts());
  pb::DigitalEvent e = parse(bytes);
  std::string again;
  ASSERT_TRUE(e.SerializeToString(&again));
  EXPECT_EQ(again, bytes) << "deterministic encoding";
  std::string chained = bytes;
  journal::appendSeqAndPrevHash(chained, 7, std::string(32, '\0'));
  const std::string hash = journal::chainHash(std::string(32, '\0'), chained);
  journal::appendHashField(chained, hash);
  pb::DigitalEvent full = parse(chained);
  EXPECT_EQ(full.seq(), 7u);
  EXPECT_EQ(full.hash(), hash);
  std::string reencoded;
  ASSERT_TRUE(full.SerializeToString(&reencoded));
  EXPECT_EQ(reencoded, chained) << "appending fields 29-31 keeps the encoding canonical";
}

TEST_F(EventBuilderTest, DenialsAndProviderFailuresHaveTheirKinds) {
  ex.failure = common::Failure{common::StatusCode::ConsentRequired, common::Reason::ConsentMissing};
  ex.status = common::StatusCode::ConsentRequired;
  ex.response.result(403);
  pb::DigitalEvent e = parse(buildCallEvent(ex, facts()));
  EXPECT_EQ(e.kind(), pb::ACCESS_DENIED);
  EXPECT_EQ(e.status(), "CONSENT_REQUIRED");
  EXPECT_EQ(e.reason(), "CONSENT_MISSING");
  EXPECT_EQ(e.http_status(), 403u);

  for (auto code : {common::StatusCode::ProviderError, common::StatusCode::ProviderUnavailable,
                    common::StatusCode::ProviderTimeout}) {
    ex.failure = common::Failure{code, common::Reason::ProviderDeadline};
    ex.status = code;
    EXPECT_EQ(parse(buildCallEvent(ex, facts())).kind(), pb::DELIVERY_FAILED);
  }
}

TEST_F(EventBuilderTest, UnprovenClientIsRecordedAsClaimedWithoutAName) {
  ex.client = nullptr;
  ex.service = nullptr;
  ex.purpose = nullptr;
  ex.failure = common::Failure{common::StatusCode::AuthFailed, common::Reason::ClientNotProven};
  ex.status = common::StatusCode::AuthFailed;
  pb::DigitalEvent e = parse(buildCallEvent(ex, facts()));
  EXPECT_EQ(e.client().id(), kTax);
  EXPECT_FALSE(e.client().has_name());
  // The service and purpose the request named are the bundle's own entries: named from the
  // registry (the citizen reads words), unlike the claimed client, which was not proven.
  EXPECT_EQ(e.service().id(), "person.byIin");
  EXPECT_FALSE(e.service().name().en().empty());
  EXPECT_EQ(e.provider().id(), "KZ/GOV/240140000011/population-register");
  EXPECT_EQ(e.purpose().code(), "TAX_ADMINISTRATION");
  EXPECT_FALSE(e.purpose().text().kk().empty());
}

TEST_F(EventBuilderTest, UnknownServiceAndPurposeAreRecordedAsSentWithoutNames) {
  ex.client = nullptr;
  ex.service = nullptr;
  ex.purpose = nullptr;
  ex.envelope.service_id = "no.suchService";
  ex.envelope.purpose = "NO_SUCH_PURPOSE";
  ex.failure = common::Failure{common::StatusCode::ServiceNotFound, common::Reason::ServiceUnknown};
  ex.status = common::StatusCode::ServiceNotFound;
  pb::DigitalEvent e = parse(buildCallEvent(ex, facts()));
  EXPECT_EQ(e.service().id(), "no.suchService");
  EXPECT_FALSE(e.service().has_name());
  EXPECT_FALSE(e.has_provider());
  EXPECT_EQ(e.purpose().code(), "NO_SUCH_PURPOSE");
  EXPECT_FALSE(e.purpose().has_text());
}

TEST_F(EventBuilderTest, InternationalCallIsATransferWithTheCountry) {
  pipeline::Exchange intl(snap, Zone::International, pipeline::Request{});
  intl.envelope_parsed = true;
  intl.envelope.client = kAm;
  intl.client = snap->policy.findSystem(kAm);
  intl.service = snap->policy.findService("person.byIin");
  intl.response.result(200);
  pb::DigitalEvent e = parse(buildCallEvent(intl, facts()));
  EXPECT_EQ(e.zone(), pb::INTERNATIONAL);
  EXPECT_EQ(e.kind(), pb::INTERNATIONAL_TRANSFER);
  EXPECT_EQ(e.country(), "AM");
}

TEST(EventBuilder, RefusedCallConsentAndOperatorEvents) {
  RefusedCall call;
  call.event_id = "e1";
  call.node_id = "n";
  call.zone = Zone::External;
  call.claimed_client = "KZ/COM/990340000014/bank-core";
  call.message_id = "m1";
  call.status = common::StatusCode::ServiceNotFound;
  call.reason = common::Reason::RouteUnknown;
  call.http_status = 404;
  pb::DigitalEvent r = parse(buildRefusedCallEvent(call));
  EXPECT_EQ(r.kind(), pb::ACCESS_DENIED);
  EXPECT_EQ(r.zone(), pb::EXTERNAL);
  EXPECT_EQ(r.reason(), "ROUTE_UNKNOWN");
  EXPECT_EQ(r.status(), "SERVICE_NOT_FOUND");
  EXPECT_EQ(r.client().id(), "KZ/COM/990340000014/bank-core");

  ConsentChange c;
  c.granted = false;
  c.event_id = "e2";
  c.node_id = "n";
  c.by_operator = false;
  c.actor = "IIN:900101300017";
  c.subject = "IIN:900101300017";
  c.consent_id = "c-1";
  c.client_id = "KZ/COM/990340000014/bank-core";
  c.services = {"person.byIin", "tax.debtStatus"};
  c.purpose_code = "CREDIT_SCORING";
  pb::DigitalEvent ce = parse(buildConsentEvent(c));
  EXPECT_EQ(ce.kind(), pb::CONSENT_REVOKED);
  EXPECT_EQ(ce.zone(), pb::SPACE);
  EXPECT_EQ(ce.subject(), "IIN:900101300017");
  EXPECT_EQ(ce.consent_id(), "c-1");
  EXPECT_EQ(ce.detail(), "person.byIin,tax.debtStatus");
  EXPECT_FALSE(ce.has_service());  // two services: no single one to name

  c.granted = true;
  c.services = {"person.byIin"};
  const auto consent_snap = snapshot();
  c.service = consent_snap->policy.findService("person.byIin");
  ASSERT_NE(c.service, nullptr);
  pb::DigitalEvent one = parse(buildConsentEvent(c));
  EXPECT_EQ(one.kind(), pb::CONSENT_GRANTED);
  EXPECT_EQ(one.service().id(), "person.byIin");
  EXPECT_FALSE(one.service().name().ru().empty());
  EXPECT_EQ(one.provider().id(), "KZ/GOV/240140000011/population-register");

  OperatorAction a;
  a.policy_change = false;
  a.event_id = "e3";
  a.node_id = "n";
  a.operator_name = "aigerim";
  a.reason = "court order 12/2026";
  a.subject = "IIN:900101300017";
  a.detail = "journal export";
  pb::DigitalEvent oe = parse(buildOperatorEvent(a));
  EXPECT_EQ(oe.kind(), pb::OPERATOR_ACCESS);
  EXPECT_EQ(oe.zone(), pb::ADMIN);
  EXPECT_EQ(oe.client().id(), "operator:aigerim");
  EXPECT_EQ(oe.operator_reason(), "court order 12/2026");
  EXPECT_EQ(oe.subject(), "IIN:900101300017");
}

}  // namespace
}  // namespace qaqpa::server
