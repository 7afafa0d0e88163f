// The terms a grant may carry (issue #3): requires_consent, rate_limit, max_concurrent,
// valid_from/valid_until, schedule; the rules tying them together (consent for personal data to
// non-state systems, overlapping grants must agree); Schedule::allows, Grant::activeAt, grant.key
// and parseRfc3339.
#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/config/config.h"
#include "tests/config/config_fixture.h"

namespace qaqpa::config {
namespace {

using namespace std::chrono;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing_support::ConfigTest;
using testing_support::HasError;

constexpr const char* kPop = "providers/population-register.yaml";
const std::string kG0 = std::string(kPop) + ": grants[0]";
const std::string kTax = "KZ/GOV/240140000021/tax-service";
const std::string kBank = "KZ/COM/990340000014/bank-core";

// The population register with a personal-data service (person.byIin) and a non-personal one
// (registry.stats), both exposed to state and external, and the given grants (list items written
// at two-space indentation, each starting with "  - ").
std::string popWithGrants(const std::string& grants) {
  return R"(provider: KZ/GOV/240140000011/population-register
services:
  - id: person.byIin
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8180
    exposed_zones: [state, external]
    personal_data: true
  - id: registry.stats
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8180
    exposed_zones: [state, external]
    personal_data: false
grants:
)" + grants;
}

// One grant of tax-service for person.byIin / TAX_ADMINISTRATION with extra `terms` (YAML lines
// at four-space indentation).
std::string taxGrant(const std::string& terms = "") {
  return "  - client: KZ/GOV/240140000021/tax-service\n"
         "    services: [person.byIin]\n"
         "    purposes: [TAX_ADMINISTRATION]\n"
         "    legal_basis: Tax Code\n" +
         terms;
}

class GrantTermsTest : public ConfigTest {
 protected:
  void SetUp() override {
    ConfigTest::SetUp();
    write("purposes.yaml", R"(purposes:
  - code: TAX_ADMINISTRATION
    text: {kk: a, ru: b, en: c}
  - code: CREDIT_SCORING
    text: {kk: a, ru: b, en: c}
  - code: KYC
    text: {kk: a, ru: b, en: c}
)");
  }

  // Loads with the given grants; on success returns the first grant (asserting no errors).
  const Grant* loadOne(const std::string& grants) {
    write(kPop, popWithGrants(grants));
    result_ = load();
    EXPECT_THAT(result_.errors, IsEmpty());
    if (!result_.snapshot || result_.snapshot->policy.grants.empty()) return nullptr;
    return &result_.snapshot->policy.grants[0];
  }

  std::vector<ConfigError> errorsOf(const std::string& grants) {
    write(kPop, popWithGrants(grants));
    return load().errors;
  }

  LoadResult result_;
};

sys_seconds at(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss};
}

// --- requires_consent ------------------------------------------------------------------------

TEST_F(GrantTermsTest, RequiresConsentDefaultsToFalse) {
  const Grant* g = loadOne(taxGrant());
  ASSERT_NE(g, nullptr);
  EXPECT_FALSE(g->requires_consent);
  g = loadOne(taxGrant("    requires_consent: true\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->requires_consent);
}

TEST_F(GrantTermsTest, PersonalDataToAnExternalClientNeedsConsent) {
  const std::string bank =
      "  - client: KZ/COM/990340000014/bank-core\n"
      "    services: [person.byIin]\n"
      "    purposes: [CREDIT_SCORING]\n"
      "    legal_basis: consent\n";
  EXPECT_THAT(errorsOf(bank), HasError(kG0 + ".requires_consent", "Art. 37"));
  EXPECT_THAT(errorsOf(bank), HasError(kG0 + ".requires_consent", kBank));
  EXPECT_THAT(errorsOf(bank + "    requires_consent: false\n"),
              HasError(kG0 + ".requires_consent", "requires_consent: true"));
  const Grant* g = loadOne(bank + "    requires_consent: true\n");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->requires_consent);
  // A grant naming a personal and a non-personal service is personal.
  EXPECT_THAT(errorsOf("  - client: KZ/COM/990340000014/bank-core\n"
                       "    services: [registry.stats, person.byIin]\n"
                       "    purposes: [CREDIT_SCORING]\n    legal_basis: x\n"),
              HasError(kG0 + ".requires_consent", "person.byIin"));
}

TEST_F(GrantTermsTest, NonPersonalDataOrStateClientsNeedNoConsent) {
  EXPECT_NE(loadOne("  - client: KZ/COM/990340000014/bank-core\n"
                    "    services: [registry.stats]\n    legal_basis: public\n"),
            nullptr);
  EXPECT_NE(loadOne(taxGrant()), nullptr);  // a state body: its legal basis suffices
}

TEST_F(GrantTermsTest, RequiresConsentIsAPlainBoolean) {
  EXPECT_THAT(errorsOf(taxGrant("    requires_consent: yes\n")),
              HasError(kG0 + ".requires_consent", "expected true or false"));
  EXPECT_THAT(errorsOf(taxGrant("    requires_consent: \"true\"\n")),
              HasError(kG0 + ".requires_consent", "expected true or false"));
}

// --- rate_limit --------------------------------------------------------------------------------

TEST_F(GrantTermsTest, NoLimitsByDefault) {
  const Grant* g = loadOne(taxGrant());
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->rate_per_second, 0);
  EXPECT_EQ(g->burst, 0u);
  EXPECT_EQ(g->max_concurrent, 0u);
}

TEST_F(GrantTermsTest, RatePerSecondBurstDefaultsToTheRate) {
  const Grant* g = loadOne(taxGrant("    rate_limit: {per_second: 50}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->rate_per_second, 50);
  EXPECT_EQ(g->burst, 50u);
  g = loadOne(taxGrant("    rate_limit: {per_second: 50, burst: 100}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->rate_per_second, 50);
  EXPECT_EQ(g->burst, 100u);
}

TEST_F(GrantTermsTest, RatePerMinute) {
  const Grant* g = loadOne(taxGrant("    rate_limit: {per_minute: 120}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_DOUBLE_EQ(g->rate_per_second, 2.0);
  EXPECT_EQ(g->burst, 2u);
  // Under one per second: the burst defaults to 1 (a request must be possible at all).
  g = loadOne(taxGrant("    rate_limit: {per_minute: 30}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_DOUBLE_EQ(g->rate_per_second, 0.5);
  EXPECT_EQ(g->burst, 1u);
  g = loadOne(taxGrant("    rate_limit: {per_minute: 1, burst: 5}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_DOUBLE_EQ(g->rate_per_second, 1.0 / 60.0);
  EXPECT_EQ(g->burst, 5u);
}

TEST_F(GrantTermsTest, RateLimitNeedsExactlyOneRate) {
  const std::string rl = kG0 + ".rate_limit";
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 1, per_minute: 60}\n")),
              HasError(rl, "give exactly one of per_second or per_minute"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {burst: 10}\n")),
              HasError(rl, "give exactly one of per_second or per_minute"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {}\n")),
              HasError(rl, "give exactly one of per_second or per_minute"));
}

TEST_F(GrantTermsTest, RateLimitRanges) {
  const std::string rl = kG0 + ".rate_limit";
  EXPECT_NE(loadOne(taxGrant("    rate_limit: {per_second: 1}\n")), nullptr);
  EXPECT_NE(loadOne(taxGrant("    rate_limit: {per_second: 1000000, burst: 1000000}\n")), nullptr);
  EXPECT_NE(loadOne(taxGrant("    rate_limit: {per_minute: 60000000}\n")), nullptr);
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 0}\n")),
              HasError(rl + ".per_second", "out of range; expected 1..1000000"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 1000001}\n")),
              HasError(rl + ".per_second", "out of range"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_minute: 0}\n")),
              HasError(rl + ".per_minute", "out of range; expected 1..60000000"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_minute: 60000001}\n")),
              HasError(rl + ".per_minute", "out of range"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 5, burst: 0}\n")),
              HasError(rl + ".burst", "out of range; expected 1..1000000"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 5, burst: 1000001}\n")),
              HasError(rl + ".burst", "out of range"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 2.5}\n")),
              HasError(rl + ".per_second", "expected an integer"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: -1}\n")),
              HasError(rl + ".per_second", "expected an integer"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: \"5\"}\n")),
              HasError(rl + ".per_second", "quoted"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_hour: 5}\n")),
              HasError(rl + ".per_hour", "unknown key 'per_hour'"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: 50\n")), HasError(rl, "expected a mapping"));
}

// --- max_concurrent ----------------------------------------------------------------------------

TEST_F(GrantTermsTest, MaxConcurrentRange) {
  const Grant* g = loadOne(taxGrant("    max_concurrent: 1\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->max_concurrent, 1u);
  g = loadOne(taxGrant("    max_concurrent: 1000000\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->max_concurrent, 1000000u);
  const std::string mc = kG0 + ".max_concurrent";
  EXPECT_THAT(errorsOf(taxGrant("    max_concurrent: 0\n")),
              HasError(mc, "out of range; expected 1..1000000"));
  EXPECT_THAT(errorsOf(taxGrant("    max_concurrent: 1000001\n")), HasError(mc, "out of range"));
  EXPECT_THAT(errorsOf(taxGrant("    max_concurrent: -3\n")), HasError(mc, "expected an integer"));
  EXPECT_THAT(errorsOf(taxGrant("    max_concurrent: ten\n")), HasError(mc, "expected an integer"));
}

// --- valid_from / valid_until --------------------------------------------------------------------

TEST_F(GrantTermsTest, ValidityIsParsedWithItsOffset) {
  const Grant* g =
      loadOne(taxGrant("    valid_from: \"2026-01-01T00:00:00+05:00\"\n"
                       "    valid_until: 2027-01-01T00:00:00Z\n"));
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(g->valid_from.has_value());
  ASSERT_TRUE(g->valid_until.has_value());
  EXPECT_EQ(*g->valid_from, at(2025, 12, 31, 19));
  EXPECT_EQ(*g->valid_until, at(2027, 1, 1));
  g = loadOne(taxGrant("    valid_from: \"2026-03-02T09:00:00.250Z\"\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(*g->valid_from, at(2026, 3, 2, 9) + milliseconds(250));
  EXPECT_FALSE(g->valid_until.has_value());
}

TEST_F(GrantTermsTest, ValidityRejectsWhatIsNotRfc3339WithOffset) {
  for (const char* bad :
       {"2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01",
        "2026-01-01 00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+0500", "tomorrow"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(errorsOf(taxGrant(std::string("    valid_from: \"") + bad + "\"\n")),
                HasError(kG0 + ".valid_from", "expected an RFC 3339 time with offset"));
    EXPECT_THAT(errorsOf(taxGrant(std::string("    valid_until: \"") + bad + "\"\n")),
                HasError(kG0 + ".valid_until", "expected an RFC 3339 time with offset"));
  }
  EXPECT_THAT(errorsOf(taxGrant("    valid_from: 20260101\n")), HasError(kG0 + ".valid_from", ""));
  EXPECT_THAT(errorsOf(taxGrant("    valid_from: [2026]\n")),
              HasError(kG0 + ".valid_from", "expected a string"));
}

TEST_F(GrantTermsTest, ValidUntilMustBeAfterValidFrom) {
  const std::string until = kG0 + ".valid_until";
  EXPECT_THAT(errorsOf(taxGrant("    valid_from: \"2026-01-01T00:00:00Z\"\n"
                                "    valid_until: \"2026-01-01T05:00:00+05:00\"\n")),
              HasError(until, "valid_until must be after valid_from"));  // the same instant
  EXPECT_THAT(errorsOf(taxGrant("    valid_from: \"2027-01-01T00:00:00Z\"\n"
                                "    valid_until: \"2026-01-01T00:00:00Z\"\n")),
              HasError(until, "valid_until must be after valid_from"));
  EXPECT_NE(loadOne(taxGrant("    valid_from: \"2026-01-01T00:00:00Z\"\n"
                             "    valid_until: \"2026-01-01T00:00:00.001Z\"\n")),
            nullptr);
  // Either alone is fine.
  EXPECT_NE(loadOne(taxGrant("    valid_until: \"2020-01-01T00:00:00Z\"\n")), nullptr);
}

// --- schedule ----------------------------------------------------------------------------------

TEST_F(GrantTermsTest, ScheduleDefaultsToAlwaysInKazakhstanTime) {
  const Grant* g = loadOne(taxGrant());
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->schedule.always());
  EXPECT_EQ(g->schedule.utc_offset_minutes, 5 * 60);
  g = loadOne(taxGrant("    schedule: {hours: \"09:00-18:00\"}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->schedule.weekdays, 0x7f);
  EXPECT_EQ(g->schedule.start_minute, 9 * 60);
  EXPECT_EQ(g->schedule.end_minute, 18 * 60);
  EXPECT_EQ(g->schedule.utc_offset_minutes, 5 * 60);  // "+05:00" when not given
  EXPECT_FALSE(g->schedule.always());
}

TEST_F(GrantTermsTest, ScheduleIsRead) {
  const Grant* g = loadOne(
      taxGrant("    schedule: {weekdays: [mon, wed, sun], hours: \"00:00-24:00\", utc_offset: "
               "\"-03:30\"}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->schedule.weekdays, 0b1000101);
  EXPECT_EQ(g->schedule.start_minute, 0);
  EXPECT_EQ(g->schedule.end_minute, 24 * 60);
  EXPECT_EQ(g->schedule.utc_offset_minutes, -210);
  g = loadOne(taxGrant("    schedule: {utc_offset: \"+06:00\"}\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->schedule.utc_offset_minutes, 360);
}

TEST_F(GrantTermsTest, ScheduleRejectsBadValues) {
  const std::string s = kG0 + ".schedule";
  EXPECT_THAT(errorsOf(taxGrant("    schedule: {weekdays: [monday]}\n")),
              HasError(s + ".weekdays[0]", "unknown weekday 'monday'"));
  EXPECT_THAT(errorsOf(taxGrant("    schedule: {weekdays: [Mon]}\n")),
              HasError(s + ".weekdays[0]", "unknown weekday 'Mon'"));
  EXPECT_THAT(errorsOf(taxGrant("    schedule: {weekdays: []}\n")),
              HasError(s + ".weekdays", "list at least one weekday"));
  for (const char* bad : {"18:00-09:00", "09:00-09:00", "9:00-18:00", "09:00", "09:00-24:01",
                          "24:00-24:00", "09:60-18:00", "09:00 - 18:00"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(errorsOf(taxGrant(std::string("    schedule: {hours: \"") + bad + "\"}\n")),
                HasError(s + ".hours", "split a window over midnight into two grants"));
  }
  for (const char* bad : {"+5", "05:00", "+05:60", "+15:00", "UTC+5", "+0500"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(errorsOf(taxGrant(std::string("    schedule: {utc_offset: \"") + bad + "\"}\n")),
                HasError(s + ".utc_offset", "expected \"+HH:MM\" or \"-HH:MM\""));
  }
  EXPECT_THAT(errorsOf(taxGrant("    schedule: {days: [mon]}\n")),
              HasError(s + ".days", "unknown key 'days'"));
}

// --- Schedule::allows and Grant::activeAt --------------------------------------------------------

Schedule officeHours() {
  Schedule s;
  s.weekdays = 0b0011111;  // mon..fri
  s.start_minute = 9 * 60;
  s.end_minute = 18 * 60;
  return s;  // utc_offset +05:00 by default
}

TEST(ScheduleTest, OfficeHoursInUtcPlusFive) {
  const Schedule s = officeHours();
  // 2026-03-02 is a Monday. 09:00 local = 04:00Z.
  EXPECT_FALSE(s.allows(at(2026, 3, 2, 3, 59)));      // Mon 08:59 local
  EXPECT_FALSE(s.allows(at(2026, 3, 2, 3, 59, 59)));  // Mon 08:59:59
  EXPECT_TRUE(s.allows(at(2026, 3, 2, 4, 0)));        // Mon 09:00
  EXPECT_TRUE(s.allows(at(2026, 3, 2, 12, 59, 59)));  // Mon 17:59:59
  EXPECT_FALSE(s.allows(at(2026, 3, 2, 13, 0)));      // Mon 18:00
  EXPECT_TRUE(s.allows(at(2026, 3, 6, 12, 0)));       // Fri 17:00
  EXPECT_FALSE(s.allows(at(2026, 3, 7, 6, 0)));       // Sat 11:00
  EXPECT_FALSE(s.allows(at(2026, 3, 8, 6, 0)));       // Sun 11:00
}

TEST(ScheduleTest, TheWeekdayIsTheLocalOne) {
  Schedule mondays;
  mondays.weekdays = 0b0000001;
  // Sunday 2026-03-01 21:00Z is already Monday 02:00 in UTC+5.
  EXPECT_TRUE(mondays.allows(at(2026, 3, 1, 21, 0)));
  EXPECT_FALSE(mondays.allows(at(2026, 3, 1, 18, 59)));  // Sunday 23:59 local
  // Monday 2026-03-02 19:00Z is Tuesday 00:00 local.
  EXPECT_TRUE(mondays.allows(at(2026, 3, 2, 18, 59)));
  EXPECT_FALSE(mondays.allows(at(2026, 3, 2, 19, 0)));
  // A negative offset moves the other way: Monday 02:00Z is Sunday 22:30 at -03:30.
  mondays.utc_offset_minutes = -210;
  EXPECT_FALSE(mondays.allows(at(2026, 3, 2, 2, 0)));
  EXPECT_TRUE(mondays.allows(at(2026, 3, 2, 3, 30)));
  // Before 1970 (negative day numbers) the weekday is still right: 1969-12-29 was a Monday.
  mondays.utc_offset_minutes = 0;
  EXPECT_TRUE(mondays.allows(at(1969, 12, 29, 12)));
  EXPECT_FALSE(mondays.allows(at(1969, 12, 28, 12)));
}

TEST(ScheduleTest, DefaultAllowsEverything) {
  const Schedule s;
  EXPECT_TRUE(s.always());
  EXPECT_TRUE(s.allows(at(2026, 3, 7, 23, 59, 59)));
  EXPECT_TRUE(s.allows(at(1970, 1, 1)));
}

TEST(GrantActiveAtTest, ValidFromInclusiveValidUntilExclusive) {
  Grant g;
  EXPECT_TRUE(g.activeAt(at(2000, 1, 1)));  // no validity, no schedule
  g.valid_from = at(2026, 1, 1);
  g.valid_until = at(2027, 1, 1);
  EXPECT_FALSE(g.activeAt(at(2025, 12, 31, 23, 59, 59)));
  EXPECT_TRUE(g.activeAt(at(2026, 1, 1)));
  EXPECT_TRUE(g.activeAt(at(2027, 1, 1) - nanoseconds(1000)));
  EXPECT_FALSE(g.activeAt(at(2027, 1, 1)));
}

TEST(GrantActiveAtTest, ValidityAndScheduleBothApply) {
  Grant g;
  g.valid_from = at(2026, 3, 1);
  g.schedule = officeHours();
  EXPECT_TRUE(g.activeAt(at(2026, 3, 2, 4)));    // Monday 09:00 local
  EXPECT_FALSE(g.activeAt(at(2026, 3, 2, 3)));   // Monday 08:00 local
  EXPECT_FALSE(g.activeAt(at(2026, 2, 23, 4)));  // a Monday 09:00, before valid_from
  EXPECT_FALSE(g.activeAt(at(2026, 3, 7, 4)));   // Saturday
}

TEST_F(GrantTermsTest, LoadedScheduleDecidesLikeTheDocumentSays) {
  const Grant* g =
      loadOne(taxGrant("    schedule: {weekdays: [mon, tue, wed, thu, fri], hours: "
                       "\"09:00-18:00\"}\n    valid_from: \"2026-01-01T00:00:00+05:00\"\n"));
  ASSERT_NE(g, nullptr);
  EXPECT_FALSE(g->activeAt(*parseRfc3339("2026-03-02T08:59:00+05:00")));
  EXPECT_TRUE(g->activeAt(*parseRfc3339("2026-03-02T09:00:00+05:00")));
  EXPECT_FALSE(g->activeAt(*parseRfc3339("2026-03-07T12:00:00+05:00")));
  EXPECT_FALSE(g->activeAt(*parseRfc3339("2025-12-31T12:00:00+05:00")));  // Wed, before start
}

// --- overlapping grants ------------------------------------------------------------------------

TEST_F(GrantTermsTest, OverlappingGrantsMustAgreeOnConsent) {
  EXPECT_THAT(errorsOf(taxGrant() + taxGrant("    requires_consent: true\n")),
              HasError(std::string(kPop) + ": grants", "disagree on requires_consent"));
}

TEST_F(GrantTermsTest, OverlappingGrantsMustAgreeOnLimits) {
  const std::string where = std::string(kPop) + ": grants";
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 5}\n") +
                       taxGrant("    rate_limit: {per_second: 6}\n")),
              HasError(where, "disagree on rate_limit"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 5}\n") +
                       taxGrant("    rate_limit: {per_second: 5, burst: 9}\n")),
              HasError(where, "disagree on rate_limit"));
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 5}\n") + taxGrant()),
              HasError(where, "disagree on rate_limit"));
  EXPECT_THAT(errorsOf(taxGrant("    max_concurrent: 2\n") + taxGrant("    max_concurrent: 3\n")),
              HasError(where, "disagree on max_concurrent"));
  // per_minute: 60 is the same limit as per_second: 1.
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 1}\n") +
                       taxGrant("    rate_limit: {per_minute: 60}\n")),
              IsEmpty());
}

TEST_F(GrantTermsTest, OverlappingGrantsMayDifferInValidityAndSchedule) {
  write(kPop, popWithGrants(taxGrant("    valid_until: \"2027-01-01T00:00:00+05:00\"\n") +
                            taxGrant("    valid_from: \"2027-01-01T00:00:00+05:00\"\n"
                                     "    schedule: {hours: \"09:00-18:00\"}\n")));
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const auto* grants = r.snapshot->policy.findGrants(kTax, "person.byIin");
  ASSERT_NE(grants, nullptr);
  EXPECT_THAT(*grants, SizeIs(2));
}

TEST_F(GrantTermsTest, GrantsOnDifferentPurposesMayDisagree) {
  EXPECT_THAT(errorsOf(taxGrant("    rate_limit: {per_second: 5}\n") +
                       "  - client: KZ/GOV/240140000021/tax-service\n"
                       "    services: [person.byIin]\n    purposes: [KYC]\n"
                       "    legal_basis: x\n    requires_consent: true\n"),
              IsEmpty());
  // Overlap is per (client, service): another client's grant is never compared.
  EXPECT_THAT(errorsOf(taxGrant("    max_concurrent: 2\n") +
                       "  - client: KZ/COM/990340000014/bank-core\n"
                       "    services: [person.byIin]\n    purposes: [TAX_ADMINISTRATION]\n"
                       "    legal_basis: x\n    requires_consent: true\n"),
              IsEmpty());
}

TEST_F(GrantTermsTest, OverlapOnPurposelessCallsToANonPersonalService) {
  // For a non-personal service a call may state no purpose; the policy stage then matches EVERY
  // grant of the pair, whatever purposes it lists, and uses the first active one. So two such
  // grants that disagree on limits decide a purposeless call by declaration order, which is what
  // the overlap rule exists to prevent.
  EXPECT_THAT(errorsOf("  - client: KZ/GOV/240140000021/tax-service\n"
                       "    services: [registry.stats]\n    purposes: [KYC]\n"
                       "    rate_limit: {per_second: 5}\n    legal_basis: x\n"
                       "  - client: KZ/GOV/240140000021/tax-service\n"
                       "    services: [registry.stats]\n    legal_basis: y\n"),
              HasError(std::string(kPop) + ": grants", "disagree on rate_limit"));
}

// --- grant.key ---------------------------------------------------------------------------------

TEST_F(GrantTermsTest, KeyNamesFileClientAndSortedServices) {
  const std::string both =
      "  - client: KZ/GOV/240140000021/tax-service\n"
      "    services: [registry.stats, person.byIin]\n"
      "    purposes: [TAX_ADMINISTRATION]\n    legal_basis: x\n";
  const Grant* g = loadOne(both);
  ASSERT_NE(g, nullptr);
  const std::string key = g->key;
  EXPECT_EQ(key, std::string(kPop) + "|" + kTax + "|person.byIin|registry.stats");

  // Stable: reloading, reordering the services, changing purposes, legal basis or limits keeps it.
  EXPECT_EQ(loadOne(both)->key, key);
  EXPECT_EQ(loadOne("  - client: KZ/GOV/240140000021/tax-service\n"
                    "    services: [person.byIin, registry.stats]\n"
                    "    purposes: [KYC]\n    legal_basis: other\n"
                    "    rate_limit: {per_second: 3}\n    max_concurrent: 4\n")
                ->key,
            key);

  // A different client or service set is a different grant.
  EXPECT_NE(loadOne(taxGrant())->key, key);
  EXPECT_NE(loadOne("  - client: KZ/COM/990340000014/bank-core\n"
                    "    services: [registry.stats, person.byIin]\n"
                    "    purposes: [TAX_ADMINISTRATION]\n    legal_basis: x\n"
                    "    requires_consent: true\n")
                ->key,
            key);
}

// --- parseRfc3339 ------------------------------------------------------------------------------

TEST(ParseRfc3339Test, AcceptsUtcOffsetsAndFractions) {
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00Z"), at(2026, 1, 1));
  EXPECT_EQ(parseRfc3339("2026-01-01t00:00:00z"), at(2026, 1, 1));
  EXPECT_EQ(parseRfc3339("2026-01-01T05:00:00+05:00"), at(2026, 1, 1));
  EXPECT_EQ(parseRfc3339("2025-12-31T20:30:00-03:30"), at(2026, 1, 1));
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00+00:00"), at(2026, 1, 1));
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00-00:00"), at(2026, 1, 1));
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00.5Z"), at(2026, 1, 1) + milliseconds(500));
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00.123456Z"), at(2026, 1, 1) + microseconds(123456));
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00.123456789+05:00"),
            at(2025, 12, 31, 19) + duration_cast<system_clock::duration>(nanoseconds(123456789)));
  // Digits beyond nanoseconds are accepted and dropped.
  EXPECT_EQ(parseRfc3339("2026-01-01T00:00:00.1234567891Z"),
            at(2026, 1, 1) + duration_cast<system_clock::duration>(nanoseconds(123456789)));
  EXPECT_EQ(parseRfc3339("2024-02-29T12:00:00Z"), at(2024, 2, 29, 12));  // leap year
  EXPECT_EQ(parseRfc3339("2000-02-29T00:00:00Z"), at(2000, 2, 29));      // 400-year rule
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00Z"), at(1970, 1, 1));
  EXPECT_EQ(parseRfc3339("1969-12-31T23:59:59Z"), at(1969, 12, 31, 23, 59, 59));
  EXPECT_EQ(parseRfc3339("2026-12-31T23:59:59Z"), at(2026, 12, 31, 23, 59, 59));
  EXPECT_TRUE(parseRfc3339("1900-01-01T00:00:00Z"));
  EXPECT_TRUE(parseRfc3339("2199-12-31T23:59:59Z"));
}

TEST(ParseRfc3339Test, Rejects) {
  for (const char* bad : {
           "",
           "2026-01-01T00:00:00",        // no offset
           "2026-01-01T00:00:00+05",     // offset without minutes
           "2026-01-01T00:00:00+0500",   // offset without colon
           "2026-01-01T00:00:00+24:00",  // offset hour
           "2026-01-01T00:00:00+05:60",  // offset minute
           "2026-01-01 00:00:00Z",       // space separator
           "2026-01-01",                 // date only
           "2026-02-30T00:00:00Z",       // no such day
           "2026-02-29T00:00:00Z",       // not a leap year
           "1900-02-29T00:00:00Z",       // not a leap year (100-year rule)
           "2026-04-31T00:00:00Z",       // April has 30 days
           "2026-00-10T00:00:00Z",       // month 0
           "2026-13-10T00:00:00Z",       // month 13
           "2026-01-00T00:00:00Z",       // day 0
           "2026-01-01T24:00:00Z",       // hour 24
           "9999-12-31T23:59:59Z",       // would overflow system_clock's 64-bit nanoseconds
           "1000-01-01T00:00:00Z",       // likewise
           "2200-01-01T00:00:00Z",       // first year outside 1900..2199
           "1899-12-31T23:59:59Z",
           "2026-01-01T23:60:00Z",    // minute 60
           "2026-01-01T23:59:60Z",    // leap second: not representable, refused
           "2026-01-01T00:00:00.Z",   // empty fraction
           "2026-01-01T00:00:00,5Z",  // comma fraction
           "2026-01-01T00:00:00ZZ",   // trailing garbage
           "2026-01-01T00:00:00Z ",   // trailing space
           " 2026-01-01T00:00:00Z",   // leading space
           "2026-1-01T00:00:00Z",     // one-digit month
           "+2026-01-01T00:00:00Z",   // sign
           "2026-01-01T0:00:00Z",     // one-digit hour
       }) {
    EXPECT_FALSE(parseRfc3339(bad).has_value()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace qaqpa::config
