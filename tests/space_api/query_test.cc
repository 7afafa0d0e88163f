#include "gateway/space_api/query.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::space_api {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::string_view kClient = "KZ/COM/990340000014/bank-core";

system_clock::time_point at(std::int64_t unix_seconds) {
  return system_clock::time_point(seconds(unix_seconds));
}

// 2026-11-23T09:00:00Z
constexpr std::int64_t kNineUtc = 1795424400;

std::string refusal(std::string_view raw, QueryMode mode = QueryMode::Page) {
  const ParsedQuery r = parseEventsQuery(raw, mode);
  return r.error_param;
}

ParsedQuery accept(std::string_view raw, QueryMode mode = QueryMode::Page) {
  ParsedQuery r = parseEventsQuery(raw, mode);
  EXPECT_TRUE(r.ok()) << raw << " refused, naming " << r.error_param;
  return r;
}

TEST(ParseEventsQueryTest, EmptyQueryIsTheDefaults) {
  for (const QueryMode mode : {QueryMode::Page, QueryMode::Csv}) {
    const ParsedQuery r = accept("", mode);
    EXPECT_FALSE(r.query.since);
    EXPECT_FALSE(r.query.until);
    EXPECT_EQ(r.query.service_id, "");
    EXPECT_EQ(r.query.client_id, "");
    EXPECT_FALSE(r.query.kind);
    EXPECT_EQ(r.query.limit, kDefaultLimit);
    EXPECT_EQ(r.query.limit, 50u);
    EXPECT_EQ(r.query.cursor, "");
  }
}

TEST(ParseEventsQueryTest, EveryParameterTogether) {
  const ParsedQuery r = accept(
      "since=2026-11-23T09:00:00Z&until=2026-11-23T15:00:00%2B05:00&service=person.byIin"
      "&client=KZ%2FCOM%2F990340000014%2Fbank-core&kind=CONSENT_REVOKED&limit=200"
      "&cursor=AQAAAAAAAAAAbWFjbWFjbWFjbWFjbWFjbQ");
  EXPECT_EQ(r.query.since, at(kNineUtc));
  EXPECT_EQ(r.query.until, at(kNineUtc + 3600));
  EXPECT_EQ(r.query.service_id, "person.byIin");
  EXPECT_EQ(r.query.client_id, kClient);
  EXPECT_EQ(r.query.kind, 5);
  EXPECT_EQ(r.query.limit, 200u);
  EXPECT_EQ(r.query.cursor, "AQAAAAAAAAAAbWFjbWFjbWFjbWFjbWFjbQ");
}

TEST(ParseEventsQueryTest, OrderOfParametersDoesNotMatter) {
  const ParsedQuery a = accept("kind=DATA_ACCESS&limit=7&service=tax.debt");
  const ParsedQuery b = accept("service=tax.debt&kind=DATA_ACCESS&limit=7");
  EXPECT_EQ(a.query.kind, b.query.kind);
  EXPECT_EQ(a.query.limit, 7u);
  EXPECT_EQ(b.query.limit, 7u);
  EXPECT_EQ(a.query.service_id, b.query.service_id);
}

TEST(ParseEventsQueryTest, TimeForms) {
  const std::vector<std::pair<std::string, std::int64_t>> cases = {
      {"2026-11-23T09:00:00Z", kNineUtc},
      {"2026-11-23t09:00:00z", kNineUtc},  // RFC 3339 §5.6 allows lower case
      {"2026-11-23T14:00:00%2B05:00", kNineUtc},
      {"2026-11-23T05:30:00-03:30", kNineUtc},
      {"2026-11-23T09:00:00%2B00:00", kNineUtc},
      {"2026-11-23T09:00:00-00:00", kNineUtc},
      {"2026-11-23T14%3A00%3A00%2B05%3A00", kNineUtc},  // every character may be encoded
      {"2026-11-24T04:59:59%2B05:00", kNineUtc + 14 * 3600 + 59 * 60 + 59},  // 23:59:59Z
      {"1900-01-01T00:00:00Z", -2208988800},
      {"2199-12-31T23:59:59Z", 7258118399},
  };
  for (const auto& [text, expected] : cases) {
    const ParsedQuery r = accept("since=" + text);
    EXPECT_EQ(r.query.since, at(expected)) << text;
    const ParsedQuery u = accept("until=" + text);
    EXPECT_EQ(u.query.until, at(expected)) << text;
  }
}

TEST(ParseEventsQueryTest, FractionalSeconds) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  using std::chrono::nanoseconds;
  EXPECT_EQ(accept("since=2026-11-23T09:00:00.5Z").query.since, at(kNineUtc) + milliseconds(500));
  EXPECT_EQ(accept("since=2026-11-23T14:00:00.250000%2B05:00").query.since,
            at(kNineUtc) + milliseconds(250));
  EXPECT_EQ(accept("since=2026-11-23T09:00:00.000001Z").query.since,
            at(kNineUtc) + microseconds(1));
  EXPECT_EQ(
      accept("since=2026-11-23T09:00:00.123456789Z").query.since,
      at(kNineUtc) + std::chrono::duration_cast<system_clock::duration>(nanoseconds(123456789)));
}

TEST(ParseEventsQueryTest, SinceMustBeBeforeUntil) {
  EXPECT_EQ(refusal("since=2026-11-23T09:00:00Z&until=2026-11-23T09:00:00Z"), "since");
  // The same instant written with two offsets.
  EXPECT_EQ(refusal("since=2026-11-23T14:00:00%2B05:00&until=2026-11-23T09:00:00Z"), "since");
  EXPECT_EQ(refusal("until=2026-11-23T09:00:00Z&since=2026-11-23T10:00:00Z"), "since");
  const ParsedQuery r = accept("since=2026-11-23T09:00:00Z&until=2026-11-23T09:00:00.000001Z");
  EXPECT_LT(*r.query.since, *r.query.until);
  accept("since=2026-11-23T09:00:00Z");
  accept("until=2026-11-23T09:00:00Z");
}

TEST(ParseEventsQueryTest, BadTimes) {
  for (const std::string_view text : {
           "2026-11-23",                  // date only
           "2026-11-23T09:00:00",         // no offset
           "2026-11-23T09:00Z",           // no seconds
           "2026-11-23 09:00:00Z",        // space: not RFC 3339's date-time
           "2026-11-23+09:00:00Z",        // '+' is a space
           "2026-11-23T14:00:00+05:00",   // '+' not encoded: a space before 05:00
           "2026-11-23T14:00:00%2B0500",  // offset without ':'
           "2026-11-23T14:00:00%2B24:00",
           "2026-11-23T09:00:00.Z",  // empty fraction
           "2026-02-29T09:00:00Z",   // not a leap year
           "2026-13-01T09:00:00Z",
           "2026-11-23T24:00:00Z",
           "2026-11-23T09:00:60Z",  // leap second
           "1899-12-31T23:59:59Z",  // before the supported years
           "2200-01-01T00:00:00Z",  // after them
           "9999-12-31T23:59:59Z",
           "0000-01-01T00:00:00Z",
           "now",
           "1795424400",
           "2026-11-23T09:00:00Zjunk",
           "%EF%BC%92026-11-23T09:00:00Z",  // a full-width digit
       }) {
    EXPECT_EQ(refusal("since=" + std::string(text)), "since") << text;
    EXPECT_EQ(refusal("until=" + std::string(text)), "until") << text;
  }
}

TEST(ParseEventsQueryTest, ServiceAndClient) {
  EXPECT_EQ(accept("service=person.byIin").query.service_id, "person.byIin");
  EXPECT_EQ(accept("service=a").query.service_id, "a");
  EXPECT_EQ(accept("service=" + std::string(64, 'a')).query.service_id, std::string(64, 'a'));
  EXPECT_EQ(accept("client=KZ/COM/990340000014/bank-core").query.client_id, kClient);
  for (const std::string_view bad :
       {"Person.byIin", "1person", "person%2FbyIin", "person+byIin", "person%20byIin",
        "person.by%C3%AFin", "KZ/COM/990340000014/bank-core"}) {
    EXPECT_EQ(refusal("service=" + std::string(bad)), "service") << bad;
  }
  EXPECT_EQ(refusal("service=" + std::string(65, 'a')), "service");
  for (const std::string_view bad :
       {"KZ/COM/990340000015/bank-core",  // check digit
        "KZ/XXX/990340000014/bank-core", "KZ/COM/990340000014", "person.byIin",
        "KZ/COM/990340000014/bank-core/x", "kz/COM/990340000014/bank-core"}) {
    EXPECT_EQ(refusal("client=" + std::string(bad)), "client") << bad;
  }
}

TEST(ParseEventsQueryTest, KindNames) {
  const std::vector<std::pair<std::string_view, int>> names = {
      {"DATA_ACCESS", 1},     {"ACCESS_DENIED", 2},   {"DELIVERY_FAILED", 3},
      {"CONSENT_GRANTED", 4}, {"CONSENT_REVOKED", 5}, {"INTERNATIONAL_TRANSFER", 6},
      {"POLICY_CHANGED", 7},  {"OPERATOR_ACCESS", 8},
  };
  for (const auto& [name, value] : names) {
    EXPECT_EQ(accept("kind=" + std::string(name)).query.kind, value) << name;
  }
  for (const std::string_view bad : {"KIND_UNSPECIFIED", "data_access", "Data_Access", "1", "0",
                                     "DATA_ACCESS%20", "DATA_ACCESS,ACCESS_DENIED", "DATA"}) {
    EXPECT_EQ(refusal("kind=" + std::string(bad)), "kind") << bad;
  }
}

// The table follows journal.proto: every Kind but KIND_UNSPECIFIED, spelled as protobuf spells it,
// and nothing the proto does not have. A Kind added to the proto fails this test until it is
// added here (and to the labels).
TEST(ParseEventsQueryTest, KindNamesFollowTheProto) {
  namespace pb = qaqpa::journal::v1;
  EXPECT_EQ(pb::Kind_MIN, 0);
  EXPECT_EQ(pb::Kind_MAX, 9);
  for (int k = pb::Kind_MIN; k <= pb::Kind_MAX; ++k) {
    ASSERT_TRUE(pb::Kind_IsValid(k));
    const std::string& name = pb::Kind_Name(static_cast<pb::Kind>(k));
    if (k == pb::KIND_UNSPECIFIED) {
      EXPECT_EQ(parseKindName(name), std::nullopt);
      EXPECT_EQ(kindName(k), "");
    } else {
      EXPECT_EQ(parseKindName(name), k) << name;
      EXPECT_EQ(kindName(k), name);
    }
  }
  EXPECT_EQ(kindName(10), "");
  EXPECT_EQ(kindName(-1), "");
}

TEST(ParseEventsQueryTest, Limit) {
  EXPECT_EQ(accept("limit=1").query.limit, 1u);
  EXPECT_EQ(accept("limit=9").query.limit, 9u);
  EXPECT_EQ(accept("limit=50").query.limit, 50u);
  EXPECT_EQ(accept("limit=200").query.limit, 200u);
  EXPECT_EQ(accept("limit=%31%30").query.limit, 10u);
  for (const std::string_view bad : {"0", "201", "-1", "01", "001", "1e2", "%2B1", "+1", "1.0",
                                     "1000", "99999999999999999999", "0x10", "ten", "１"}) {
    EXPECT_EQ(refusal("limit=" + std::string(bad)), "limit") << bad;
  }
}

TEST(ParseEventsQueryTest, Cursor) {
  const std::string full(512, 'A');
  EXPECT_EQ(accept("cursor=" + full).query.cursor, full);
  EXPECT_EQ(accept("cursor=a-_Z09").query.cursor, "a-_Z09");
  EXPECT_EQ(refusal("cursor=" + std::string(513, 'A')), "cursor");
  for (const std::string_view bad :
       {"abc%3D", "abc=", "ab.c", "ab+c", "a%2Fb", "a/b", "ab%2Bc", "%D0%B0bc", "ab~c", "ab%25c"}) {
    EXPECT_EQ(refusal("cursor=" + std::string(bad)), "cursor") << bad;
  }
}

TEST(ParseEventsQueryTest, CsvRefusesCursorAndLimit) {
  EXPECT_EQ(refusal("cursor=AAAA", QueryMode::Csv), "cursor");
  EXPECT_EQ(refusal("limit=5", QueryMode::Csv), "limit");
  EXPECT_EQ(refusal("limit=50", QueryMode::Csv), "limit");  // even the default
  EXPECT_EQ(refusal("kind=DATA_ACCESS&limit=5", QueryMode::Csv), "limit");
  EXPECT_EQ(refusal("limit", QueryMode::Csv), "limit");
  const ParsedQuery r = accept(
      "since=2026-11-23T09:00:00Z&until=2026-11-24T09:00:00Z&service=person.byIin"
      "&client=KZ/COM/990340000014/bank-core&kind=DATA_ACCESS",
      QueryMode::Csv);
  EXPECT_EQ(r.query.kind, 1);
  EXPECT_EQ(r.query.cursor, "");
  // The same in page mode is accepted.
  accept("cursor=AAAA&limit=5");
}

TEST(ParseEventsQueryTest, UnknownKeyNamesItself) {
  EXPECT_EQ(refusal("foo=1"), "foo");
  EXPECT_EQ(refusal("Since=2026-11-23T09:00:00Z"), "Since");  // keys are case-sensitive
  EXPECT_EQ(refusal("subject=IIN:900101300017"), "subject");
  EXPECT_EQ(refusal("query=1"), "query");
  EXPECT_EQ(refusal("kind=DATA_ACCESS&foo=1"), "foo");
  EXPECT_EQ(refusal("foo"), "foo");  // without '=' too
  // Cut to 32 characters.
  EXPECT_EQ(refusal(std::string(100, 'x') + "=1"), std::string(32, 'x'));
  // Characters that are not safe to echo become '?', one per character (UTF-8 included).
  EXPECT_EQ(refusal("a%3Cscript%3E=1"), "a?script?");
  EXPECT_EQ(refusal("%22%5C%27=1"), "???");
  EXPECT_EQ(refusal("%D0%B0%D2%9B=1"), "??");  // "ақ"
  EXPECT_EQ(refusal("a+b=1"), "a?b");
  EXPECT_EQ(refusal("%F0%9F%98%80" + std::string(40, 'z') + "=1"), "?" + std::string(31, 'z'));
  // A percent-encoded known key is that key.
  EXPECT_EQ(accept("%6Bind=DATA_ACCESS").query.kind, 1);
}

TEST(ParseEventsQueryTest, RepeatedKeyNamesItself) {
  EXPECT_EQ(refusal("kind=DATA_ACCESS&kind=DATA_ACCESS"), "kind");
  EXPECT_EQ(refusal("kind=DATA_ACCESS&kind=ACCESS_DENIED"), "kind");
  EXPECT_EQ(refusal("limit=5&l%69mit=6"), "limit");  // the same key, encoded
  EXPECT_EQ(refusal("since=2026-11-23T09:00:00Z&service=a&since=2026-11-23T09:00:00Z"), "since");
  EXPECT_EQ(refusal("cursor=AAAA&cursor=AAAA"), "cursor");
  EXPECT_EQ(refusal("client=KZ/COM/990340000014/bank-core&client="), "client");
}

TEST(ParseEventsQueryTest, EmptyValueNamesTheKey) {
  for (const std::string_view key :
       {"since", "until", "service", "client", "kind", "limit", "cursor"}) {
    EXPECT_EQ(refusal(std::string(key) + "="), key);
    EXPECT_EQ(refusal(std::string(key)), key);
    EXPECT_EQ(refusal("kind=DATA_ACCESS&" + std::string(key) + "="), key);
  }
  EXPECT_EQ(refusal("service=a&until="), "until");
}

TEST(ParseEventsQueryTest, EmptyPairsAndKeysAreTheQuery) {
  for (const std::string_view bad :
       {"&", "&&", "kind=DATA_ACCESS&", "&kind=DATA_ACCESS", "kind=DATA_ACCESS&&limit=5", "=",
        "=DATA_ACCESS", "kind=DATA_ACCESS&=5"}) {
    EXPECT_EQ(refusal(bad), "query") << bad;
  }
}

TEST(ParseEventsQueryTest, BadPercentEncodingNamesTheParameter) {
  for (const std::string_view bad : {
           "%zz",
           "%",
           "%4",
           "abc%",
           "abc%4",
           "%g0",
           "%0g",
           "%%41",
           "a%20%",
       }) {
    EXPECT_EQ(refusal("service=" + std::string(bad)), "service") << bad;
    EXPECT_EQ(refusal("cursor=" + std::string(bad)), "cursor") << bad;
    // In a key: the key cannot be named, so the query is.
    EXPECT_EQ(refusal("kind" + std::string(bad) + "=DATA_ACCESS"), "query") << bad;
  }
}

TEST(ParseEventsQueryTest, InvalidUtf8AndControlsAreRefused) {
  for (const std::string_view bad : {
           "%C3%28",           // a lead byte without its continuation
           "%C3",              // truncated
           "%A9",              // a lone continuation byte
           "%C0%AF",           // overlong '/'
           "%C1%BF",           // overlong
           "%E0%80%AF",        // overlong, three bytes
           "%F0%80%80%AF",     // overlong, four bytes
           "%ED%A0%80",        // a UTF-16 surrogate
           "%F4%90%80%80",     // above U+10FFFF
           "%F8%88%80%80%80",  // five bytes
           "%FF",
           "%00",  // NUL
           "a%00b",
           "%0A",     // LF
           "%0D",     // CR
           "%09",     // TAB
           "%7F",     // DEL
           "%C2%85",  // a C1 control (NEL)
       }) {
    EXPECT_EQ(refusal("service=person" + std::string(bad)), "service") << bad;
    EXPECT_EQ(refusal("kind=" + std::string(bad)), "kind") << bad;
    EXPECT_EQ(refusal("x" + std::string(bad) + "=1"), "query") << bad;
  }
  // Raw bytes a URI's query may not hold.
  for (const std::string_view bad :
       {std::string_view("a b"), std::string_view("a\0b", 3), std::string_view("a\tb"),
        std::string_view("a\x7f"), std::string_view("\xd0\xb0"), std::string_view("a\r\nb")}) {
    EXPECT_EQ(refusal("service=" + std::string(bad)), "service");
    EXPECT_EQ(refusal(std::string(bad) + "=1"), "query");
  }
}

TEST(ParseEventsQueryTest, LengthLimitIsTheRawString) {
  // A valid query of exactly kMaxQueryBytes (a long fraction of seconds fills it).
  const std::string head = "since=2026-11-23T09:00:00.";
  std::string exact = head + std::string(kMaxQueryBytes - head.size() - 1, '0') + "Z";
  ASSERT_EQ(exact.size(), kMaxQueryBytes);
  EXPECT_EQ(accept(exact).query.since, at(kNineUtc));
  const std::string over = head + std::string(kMaxQueryBytes - head.size(), '0') + "Z";
  ASSERT_EQ(over.size(), kMaxQueryBytes + 1);
  EXPECT_EQ(refusal(over), "query");
  // Over-long wins over every other fault, whatever comes first.
  EXPECT_EQ(refusal("foo=1&" + std::string(kMaxQueryBytes, 'a')), "query");
}

TEST(ParseEventsQueryTest, FirstFaultInOrderIsReported) {
  EXPECT_EQ(refusal("foo=1&limit=0"), "foo");
  EXPECT_EQ(refusal("limit=0&foo=1"), "limit");
  EXPECT_EQ(refusal("kind=X&service=Y"), "kind");
  EXPECT_EQ(refusal("service=Y&kind=X"), "service");
}

TEST(ParseEventsQueryTest, RefusalLeavesTheQueryDefault) {
  const ParsedQuery r =
      parseEventsQuery("service=person.byIin&kind=DATA_ACCESS&limit=0", QueryMode::Page);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error_param, "limit");
  EXPECT_EQ(r.query.service_id, "");
  EXPECT_FALSE(r.query.kind);
  EXPECT_EQ(r.query.limit, 50u);
}

TEST(IsValidEventIdTest, Syntax) {
  EXPECT_TRUE(isValidEventId("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
  EXPECT_TRUE(isValidEventId("a"));
  EXPECT_TRUE(isValidEventId("-"));
  EXPECT_TRUE(isValidEventId(std::string(64, 'f')));
  EXPECT_FALSE(isValidEventId(""));
  EXPECT_FALSE(isValidEventId(std::string(65, 'f')));
  EXPECT_FALSE(isValidEventId("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"));  // upper case
  EXPECT_FALSE(isValidEventId("g"));
  EXPECT_FALSE(isValidEventId("../etc"));
  EXPECT_FALSE(isValidEventId("ab cd"));
  EXPECT_FALSE(isValidEventId(std::string_view("ab\0", 3)));
  EXPECT_FALSE(isValidEventId("%61"));
}

}  // namespace
}  // namespace qaqpa::space_api
