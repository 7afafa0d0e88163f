#include "gateway/consent/consent_store.h"

#include <chrono>

#include <gtest/gtest.h>

#include "tests/consent/test_values.h"

namespace qaqpa::consent {
namespace {

using namespace std::chrono_literals;
using namespace test_values;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds{1704067200});

TEST(ConsentValues, TestIdentifiersAreValid) {
  EXPECT_TRUE(common::isValidIinBin(kAlice.digits));
  EXPECT_TRUE(common::isValidIinBin(kBob.digits));
  EXPECT_TRUE(common::isValidSystemId(kClient));
  EXPECT_TRUE(common::isValidSystemId(kOtherClient));
}

TEST(ValidateRequest, AcceptsAWellFormedRequest) {
  EXPECT_EQ(validateRequest(request(kAlice, kNow + 24h), kNow), GrantStatus::Granted);
  auto admin = request(kAlice, kNow + 24h);
  admin.granted_by = "admin:aigerim.s";
  EXPECT_EQ(validateRequest(admin, kNow), GrantStatus::Granted);
}

TEST(ValidateRequest, RejectsABadSubject) {
  EXPECT_EQ(validateRequest(request(iin("900101300018"), kNow + 1h), kNow),
            GrantStatus::InvalidSubject);  // check digit
  EXPECT_EQ(validateRequest(request(iin("9001013000"), kNow + 1h), kNow),
            GrantStatus::InvalidSubject);
  auto bin = request(kAlice, kNow + 1h);
  bin.subject.kind = common::SubjectKind::Bin;  // a company cannot consent as a citizen
  EXPECT_EQ(validateRequest(bin, kNow), GrantStatus::InvalidSubject);
}

TEST(ValidateRequest, RejectsABadClient) {
  for (const char* client : {"", "tax-service", "KZ/GOV/240140000022/tax-service"}) {
    auto r = request(kAlice, kNow + 1h);
    r.client = client;
    EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidClient) << client;
  }
}

TEST(ValidateRequest, RejectsBadServices) {
  auto r = request(kAlice, kNow + 1h);
  r.services = {};
  EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidServices);
  r.services = {"person.byIin", "Person"};
  EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidServices);
  r.services = {"person.byIin", "person.address", "person.byIin"};
  EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidServices);
  r.services.assign(kMaxServicesPerConsent + 1, "");
  for (std::size_t i = 0; i < r.services.size(); ++i) r.services[i] = "s" + std::to_string(i);
  EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidServices);
  r.services.pop_back();
  EXPECT_EQ(validateRequest(r, kNow), GrantStatus::Granted);
}

TEST(ValidateRequest, RejectsABadPurpose) {
  for (const char* purpose : {"", "tax_audit", "T", "TAX AUDIT"}) {
    auto r = request(kAlice, kNow + 1h);
    r.purpose = purpose;
    EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidPurpose) << purpose;
  }
}

TEST(ValidateRequest, ExpiresMustBeInTheFutureAndAtMostFiveYearsAhead) {
  EXPECT_EQ(validateRequest(request(kAlice, kNow), kNow), GrantStatus::InvalidExpires);
  EXPECT_EQ(validateRequest(request(kAlice, kNow - 1s), kNow), GrantStatus::InvalidExpires);
  EXPECT_EQ(validateRequest(request(kAlice, kNow + 1ms), kNow), GrantStatus::Granted);
  EXPECT_EQ(validateRequest(request(kAlice, kNow + kMaxConsentLifetime), kNow),
            GrantStatus::Granted);
  EXPECT_EQ(validateRequest(request(kAlice, kNow + kMaxConsentLifetime + 1ms), kNow),
            GrantStatus::InvalidExpires);
}

TEST(ValidateRequest, RejectsABadGrantedBy) {
  for (const char* by : {"", "root", "admin:", "admin:a b", "Citizen"}) {
    auto r = request(kAlice, kNow + 1h);
    r.granted_by = by;
    EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidGrantedBy) << by;
  }
  auto r = request(kAlice, kNow + 1h);
  r.granted_by = "admin:" + std::string(kMaxOperatorLength + 1, 'x');
  EXPECT_EQ(validateRequest(r, kNow), GrantStatus::InvalidGrantedBy);
}

Consent activeConsent() {
  Consent c;
  c.id = "01890a5d-ac96-774b-bcce-b302099a8057";
  c.subject = kAlice;
  c.client = kClient;
  c.services = {"person.byIin", "person.address"};
  c.purpose = "TAX_AUDIT";
  c.granted_at = kNow;
  c.expires = kNow + 24h;
  c.granted_by = "citizen";
  return c;
}

TEST(CheckConsent, EveryOutcome) {
  const Consent c = activeConsent();
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.address", "TAX_AUDIT", kNow),
            ConsentCheck::Active);
  EXPECT_EQ(checkConsent(c, kBob, kClient, "person.byIin", "TAX_AUDIT", kNow),
            ConsentCheck::SubjectMismatch);
  auto bin = kAlice;
  bin.kind = common::SubjectKind::Bin;
  EXPECT_EQ(checkConsent(c, bin, kClient, "person.byIin", "TAX_AUDIT", kNow),
            ConsentCheck::SubjectMismatch);
  EXPECT_EQ(checkConsent(c, kAlice, kOtherClient, "person.byIin", "TAX_AUDIT", kNow),
            ConsentCheck::ClientMismatch);
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.family", "TAX_AUDIT", kNow),
            ConsentCheck::ServiceNotCovered);
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.byIin", "LOAN_SCORING", kNow),
            ConsentCheck::PurposeMismatch);
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.byIin", "TAX_AUDIT", kNow + 24h - 1ns),
            ConsentCheck::Active);
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.byIin", "TAX_AUDIT", kNow + 24h),
            ConsentCheck::Expired);
  auto revoked = c;
  revoked.revoked_at = kNow + 1h;
  EXPECT_EQ(checkConsent(revoked, kAlice, kClient, "person.byIin", "TAX_AUDIT", kNow + 2h),
            ConsentCheck::Revoked);
}

TEST(CheckConsent, IdentityMismatchesComeFirstSoAForeignIdRevealsNothingElse) {
  auto c = activeConsent();
  c.revoked_at = kNow;
  EXPECT_EQ(checkConsent(c, kBob, kClient, "person.byIin", "TAX_AUDIT", kNow + 48h),
            ConsentCheck::SubjectMismatch);
  EXPECT_EQ(checkConsent(c, kAlice, kOtherClient, "person.byIin", "TAX_AUDIT", kNow + 48h),
            ConsentCheck::ClientMismatch);
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.family", "X_Y", kNow + 48h),
            ConsentCheck::Revoked);
  c.revoked_at.reset();
  EXPECT_EQ(checkConsent(c, kAlice, kClient, "person.family", "X_Y", kNow + 48h),
            ConsentCheck::Expired);
}

TEST(Names, AreStable) {
  EXPECT_EQ(checkName(ConsentCheck::ServiceNotCovered), "SERVICE_NOT_COVERED");
  EXPECT_EQ(grantStatusName(GrantStatus::Overloaded), "OVERLOADED");
  EXPECT_EQ(revokeStatusName(RevokeStatus::NotOwner), "NOT_OWNER");
}

}  // namespace
}  // namespace qaqpa::consent
