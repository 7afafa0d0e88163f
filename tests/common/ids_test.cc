#include "gateway/common/ids.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace qaqpa::common {
namespace {

// --- UUID -------------------------------------------------------------------------------------

TEST(ParseUuid, RoundTripsLowerCase) {
  const std::string text = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  const auto id = parseUuid(text);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(toString(*id), text);
  EXPECT_EQ(id->bytes[0], 0x01);
  EXPECT_EQ(id->bytes[15], 0x2b);
  EXPECT_EQ(id->version(), 7);
}

TEST(ParseUuid, AcceptsUpperAndMixedCaseAndPrintsLowerCase) {
  const auto upper = parseUuid("0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B");
  const auto mixed = parseUuid("0190a1B2-c3D4-7e5F-8A6b-7c8d9E0F1a2b");
  ASSERT_TRUE(upper.has_value());
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(*upper, *mixed);
  EXPECT_EQ(toString(*upper), "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b");
}

TEST(ParseUuid, NilAndMax) {
  const auto nil = parseUuid("00000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(nil.has_value());
  EXPECT_EQ(*nil, Uuid{});
  const auto max = parseUuid("ffffffff-ffff-ffff-ffff-ffffffffffff");
  ASSERT_TRUE(max.has_value());
  for (auto b : max->bytes) EXPECT_EQ(b, 0xff);
}

TEST(ParseUuid, RejectsNonCanonicalForms) {
  for (const char* bad : {
           "",
           "0190a1b2c3d47e5f8a6b7c8d9e0f1a2b",        // no dashes
           "{0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b}",  // braces
           "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2",     // 35
           "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2bb",   // 37
           "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2 ",    // trailing space in place of a digit
           " 0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2",    // leading space
           "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2g",    // non-hex
           "0190a1b2-c3d4-7e5f-8a6b_7c8d9e0f1a2b",    // wrong separator
           "0190a1b-2c3d4-7e5f-8a6b-7c8d9e0f1a2b",    // dash moved
           "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a-b",    // dash in a hex position
           "urn:uuid:0190a1b2-c3d4-7e5f-8a6b-7c8d",   // 36 chars, wrong shape
       }) {
    EXPECT_FALSE(parseUuid(bad).has_value()) << bad;
  }
  const std::string with_nul("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2\0", 36);
  EXPECT_FALSE(parseUuid(with_nul).has_value());
}

TEST(ParseUuid, EveryPrefixAndSuffixIsRejectedWithoutCrashing) {
  const std::string text = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  for (std::size_t i = 0; i < text.size(); ++i) {
    EXPECT_FALSE(parseUuid(std::string_view(text).substr(0, i)).has_value()) << i;
    EXPECT_FALSE(parseUuid(std::string_view(text).substr(i + 1)).has_value()) << i;
  }
}

TEST(ParseUuid, EveryByteValueAtEveryPosition) {
  const std::string good = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    const bool dash = pos == 8 || pos == 13 || pos == 18 || pos == 23;
    for (int c = 0; c < 256; ++c) {
      std::string text = good;
      text[pos] = static_cast<char>(c);
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      const bool expect = dash ? c == '-' : hex;
      EXPECT_EQ(parseUuid(text).has_value(), expect) << pos << " " << c;
    }
  }
}

// --- UUIDv7 -----------------------------------------------------------------------------------

std::uint64_t timestampOf(const Uuid& id) {
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | id.bytes[static_cast<std::size_t>(i)];
  return ms;
}

int counterOf(const Uuid& id) { return ((id.bytes[6] & 0x0F) << 8) | id.bytes[7]; }

TEST(UuidV7Generator, SetsVersionVariantAndTimestamp) {
  UuidV7Generator gen;
  const std::uint64_t ms = 0x0190A1B2C3D4ULL;
  for (int i = 0; i < 100; ++i) {
    const Uuid id = gen.next(ms + static_cast<std::uint64_t>(i) * 7);
    EXPECT_EQ(id.version(), 7);
    EXPECT_EQ(id.bytes[6] >> 4, 7);
    EXPECT_EQ(id.bytes[8] & 0xC0, 0x80) << "variant must be 10";
    EXPECT_EQ(timestampOf(id), ms + static_cast<std::uint64_t>(i) * 7);
    const std::string text = toString(id);
    EXPECT_EQ(text[14], '7');
    EXPECT_TRUE(text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b') << text;
    EXPECT_EQ(parseUuid(text), id);
  }
}

TEST(UuidV7Generator, TimestampIsBigEndian48Bits) {
  UuidV7Generator gen;
  const Uuid id = gen.next(0x010203040506ULL);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(id.bytes[static_cast<std::size_t>(i)], i + 1);
  // Values above 48 bits are cut to the field, never spill into the version nibble.
  EXPECT_EQ(gen.next(0xFFFF'FFFF'FFFF'FFFFULL).version(), 7);
}

TEST(UuidV7Generator, StrictlyMonotonicWithinOneMillisecond) {
  UuidV7Generator gen;
  const std::uint64_t ms = 1'700'000'000'000ULL;
  Uuid prev = gen.next(ms);
  std::set<std::string> seen{toString(prev)};
  // 10k ids in one ms exceed the 12-bit counter, so this also covers the rollover path.
  for (int i = 1; i < 10'000; ++i) {
    const Uuid id = gen.next(ms);
    ASSERT_LT(prev.bytes, id.bytes) << i;
    ASSERT_EQ(id.version(), 7);
    ASSERT_EQ(id.bytes[8] & 0xC0, 0x80);
    ASSERT_TRUE(seen.insert(toString(id)).second);
    // String order equals byte order for lower-case hex, which is what consumers sort by.
    ASSERT_LT(toString(prev), toString(id));
    prev = id;
  }
  EXPECT_GT(timestampOf(prev), ms) << "counter overflow must borrow the next millisecond";
  EXPECT_LE(timestampOf(prev), ms + 10'000 / 2048 + 1);
}

TEST(UuidV7Generator, CounterIncrementsWithinTheSameMillisecond) {
  UuidV7Generator gen;
  const Uuid a = gen.next(5000);
  const Uuid b = gen.next(5000);
  ASSERT_EQ(timestampOf(a), timestampOf(b));
  EXPECT_EQ(counterOf(b), counterOf(a) + 1);
  // A fresh ms reseeds the counter with room for at least 2048 increments.
  EXPECT_LT(counterOf(a), 0x800);
}

TEST(UuidV7Generator, StrictlyMonotonicAcrossMilliseconds) {
  UuidV7Generator gen;
  std::uint64_t ms = 1'700'000'000'000ULL;
  Uuid prev = gen.next(ms);
  for (int i = 0; i < 10'000; ++i) {
    if (i % 3 == 0) ++ms;  // mix of same-ms and new-ms calls
    const Uuid id = gen.next(ms);
    ASSERT_LT(prev.bytes, id.bytes) << i;
    ASSERT_EQ(timestampOf(id), ms);
    prev = id;
  }
}

TEST(UuidV7Generator, ClockGoingBackwardsKeepsOrder) {
  UuidV7Generator gen;
  const Uuid a = gen.next(10'000);
  const Uuid b = gen.next(9'000);
  const Uuid c = gen.next(1);
  EXPECT_LT(a.bytes, b.bytes);
  EXPECT_LT(b.bytes, c.bytes);
  EXPECT_EQ(timestampOf(c), 10'000u);
}

TEST(UuidV7Generator, RandomPartDiffersBetweenGenerators) {
  UuidV7Generator g1;
  UuidV7Generator g2;
  const Uuid a = g1.next(42);
  const Uuid b = g2.next(42);
  EXPECT_NE(a, b) << "two generators seeded from random_device collided";
}

TEST(UuidV7Generator, NextNowUsesTheWallClock) {
  UuidV7Generator gen;
  const auto before =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  const Uuid id = gen.nextNow();
  const Uuid id2 = gen.nextNow();
  EXPECT_EQ(id.version(), 7);
  EXPECT_GE(timestampOf(id), before);
  EXPECT_LT(timestampOf(id), before + 60'000);
  EXPECT_LT(id.bytes, id2.bytes);
}

// --- IIN / BIN --------------------------------------------------------------------------------

const std::vector<std::string> kKnownValid = {"940140000385", "990140004654", "791028302728",
                                              "061211600012"};
// Ids used by the demo bundle and docs: all must pass.
const std::vector<std::string> kDemoIds = {"900101300017", "850506400003", "920315450126",
                                           "240140000011", "240140000041", "240140000021",
                                           "240140000031", "990340000014"};

TEST(IsValidIinBin, KnownValidVectors) {
  for (const auto& id : kKnownValid) EXPECT_TRUE(isValidIinBin(id)) << id;
}

TEST(IsValidIinBin, DemoIdsAreValid) {
  for (const auto& id : kDemoIds) EXPECT_TRUE(isValidIinBin(id)) << id;
}

TEST(IsValidIinBin, EveryOtherCheckDigitIsRejected) {
  for (const auto& base : kKnownValid) {
    for (char d = '0'; d <= '9'; ++d) {
      std::string id = base;
      id[11] = d;
      EXPECT_EQ(isValidIinBin(id), d == base[11]) << id;
    }
  }
}

TEST(IsValidIinBin, SecondPassIsUsedWhenFirstGivesTen) {
  // 061211600012: first pass sum = 87, 87 % 11 = 10, so the second weights decide (-> 2).
  EXPECT_TRUE(isValidIinBin("061211600012"));
  EXPECT_FALSE(isValidIinBin("061211600010"));
}

// Reference implementation, written independently of the one under test.
int referenceCheckDigit(const std::string& s) {
  int sum = 0;
  for (int i = 0; i < 11; ++i) sum += (s[static_cast<std::size_t>(i)] - '0') * (i + 1);
  if (sum % 11 != 10) return sum % 11;
  const int w[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
  sum = 0;
  for (int i = 0; i < 11; ++i) sum += (s[static_cast<std::size_t>(i)] - '0') * w[i];
  return sum % 11 == 10 ? -1 : sum % 11;
}

TEST(IsValidIinBin, MatchesReferenceOnManyNumbers) {
  std::mt19937 rng(12345);
  int invalid_twice = 0;
  for (int n = 0; n < 20'000; ++n) {
    std::string s(12, '0');
    for (int i = 0; i < 11; ++i)
      s[static_cast<std::size_t>(i)] = static_cast<char>('0' + rng() % 10);
    const int check = referenceCheckDigit(s);
    if (check < 0) {
      ++invalid_twice;
      for (char d = '0'; d <= '9'; ++d) {
        s[11] = d;
        ASSERT_FALSE(isValidIinBin(s)) << s;
      }
      continue;
    }
    s[11] = static_cast<char>('0' + check);
    ASSERT_TRUE(isValidIinBin(s)) << s;
  }
  EXPECT_GT(invalid_twice, 0) << "the sample should include numbers invalid in both passes";
}

TEST(IsValidIinBin, SyntaxEdges) {
  EXPECT_FALSE(isValidIinBin(""));
  EXPECT_FALSE(isValidIinBin("94014000038"));    // 11
  EXPECT_FALSE(isValidIinBin("9401400003850"));  // 13
  EXPECT_FALSE(isValidIinBin("94014000038a"));
  EXPECT_FALSE(isValidIinBin("9401400003 5"));
  EXPECT_FALSE(isValidIinBin(" 94014000038"));
  EXPECT_FALSE(isValidIinBin("940140000385 "));
  EXPECT_FALSE(isValidIinBin("-94014000038"));
  EXPECT_FALSE(isValidIinBin("+94014000038"));
  EXPECT_FALSE(isValidIinBin(std::string("94014000\0385", 12)));
  // Full-width digits are not ASCII digits.
  EXPECT_FALSE(isValidIinBin("９４０１４０００"));
}

TEST(IsValidIinBin, EveryNonDigitByteAtEveryPositionIsRejected) {
  for (std::size_t pos = 0; pos < 12; ++pos) {
    for (int c = 0; c < 256; ++c) {
      if (c >= '0' && c <= '9') continue;
      std::string id = "940140000385";
      id[pos] = static_cast<char>(c);
      ASSERT_FALSE(isValidIinBin(id)) << pos << " " << c;
    }
  }
}

// --- Subject ----------------------------------------------------------------------------------

TEST(ParseSubject, ParsesIinAndBin) {
  const auto iin = parseSubject("IIN:940140000385");
  ASSERT_TRUE(iin.id.has_value());
  EXPECT_EQ(iin.id->kind, SubjectKind::Iin);
  EXPECT_EQ(iin.id->digits, "940140000385");
  EXPECT_EQ(iin.id->toString(), "IIN:940140000385");

  const auto bin = parseSubject("BIN:240140000011");
  ASSERT_TRUE(bin.id.has_value());
  EXPECT_EQ(bin.id->kind, SubjectKind::Bin);
  EXPECT_EQ(bin.id->digits, "240140000011");
  EXPECT_EQ(bin.id->toString(), "BIN:240140000011");
}

TEST(ParseSubject, AllVectorsRoundTrip) {
  for (const auto& digits : kKnownValid) {
    for (const char* prefix : {"IIN:", "BIN:"}) {
      const std::string text = prefix + digits;
      const auto r = parseSubject(text);
      ASSERT_TRUE(r.id.has_value()) << text;
      EXPECT_EQ(r.id->toString(), text);
    }
  }
  for (const auto& digits : kDemoIds) {
    EXPECT_TRUE(parseSubject("IIN:" + digits).id.has_value()) << digits;
  }
}

TEST(ParseSubject, ChecksumErrorIsDistinguished) {
  const auto r = parseSubject("IIN:940140000386");
  EXPECT_FALSE(r.id.has_value());
  EXPECT_EQ(r.error, SubjectError::Checksum);
  const auto b = parseSubject("BIN:240140000012");
  EXPECT_FALSE(b.id.has_value());
  EXPECT_EQ(b.error, SubjectError::Checksum);
}

TEST(ParseSubject, SyntaxErrors) {
  for (const char* bad : {
           "",
           "IIN:",
           "IIN:94014000038",    // 11 digits
           "IIN:9401400003850",  // 13 digits
           "IIN:94014000038a",   // non-digit
           "IIN:940140000385 ",  // trailing space
           " IIN:940140000385",  // leading space
           "IIN: 940140000385",  // space after colon
           "IIN:-94014000038",   //
           "iin:940140000385",   // lower-case prefix
           "Iin:940140000385",   //
           "bin:240140000011",   //
           "XIN:940140000385",   // wrong prefix
           "IIN-940140000385",   // wrong separator
           "IIN940140000385",    // no separator
           "IINN:940140000385",  //
           "940140000385",       // no prefix
           "BIN:",               //
           "IIN:94014000038\n",  //
       }) {
    const auto r = parseSubject(bad);
    EXPECT_FALSE(r.id.has_value()) << bad;
    EXPECT_EQ(r.error, SubjectError::Syntax) << bad;
  }
}

TEST(ParseSubject, EveryPrefixAndSuffixFailsWithSyntax) {
  const std::string text = "IIN:940140000385";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto head = parseSubject(std::string_view(text).substr(0, i));
    EXPECT_FALSE(head.id.has_value());
    EXPECT_EQ(head.error, SubjectError::Syntax) << i;
    const auto tail = parseSubject(std::string_view(text).substr(i + 1));
    EXPECT_FALSE(tail.id.has_value());
    EXPECT_EQ(tail.error, SubjectError::Syntax) << i;
  }
}

// --- System id --------------------------------------------------------------------------------

TEST(ParseSystemId, ParsesTheProtocolExample) {
  const auto p = parseSystemId("KZ/GOV/240140000011/population-register");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->country, "KZ");
  EXPECT_EQ(p->member_class, "GOV");
  EXPECT_EQ(p->member, "240140000011");
  EXPECT_EQ(p->system, "population-register");
  EXPECT_TRUE(isValidSystemId("KZ/GOV/240140000011/population-register"));
}

TEST(ParseSystemId, AcceptsAllClassesAndForeignMembers) {
  for (const char* good : {
           "KZ/GOV/240140000041/tax.gov",
           "KZ/COM/240140000021/bank_1",
           "KZ/NGO/240140000031/a",
           "KZ/INT/990340000014/kz-gw",
           "UZ/INT/UZGOV01/national-gateway",
           "DE/COM/a/0",
           "US/NGO/ABCDEFGHIJ0123456789/x",
           "KZ/GOV/240140000011/0a._-",
       }) {
    EXPECT_TRUE(parseSystemId(good).has_value()) << good;
  }
  const std::string system63 = "a" + std::string(62, 'b');
  EXPECT_TRUE(parseSystemId("UZ/GOV/X/" + system63).has_value());
}

TEST(ParseSystemId, Rejects) {
  const std::string system64 = "a" + std::string(63, 'b');
  for (const std::string& bad : {
           std::string(""),
           std::string("KZ"),
           std::string("KZ/GOV/240140000011"),
           std::string("KZ/GOV/240140000011/sys/extra"),
           std::string("KZ/GOV/240140000011/sys/"),
           std::string("/KZ/GOV/240140000011/sys"),
           std::string("KZ//240140000011/sys"),
           std::string("kz/GOV/240140000011/sys"),           // lower-case country
           std::string("KAZ/GOV/240140000011/sys"),          // 3 letters
           std::string("K/GOV/240140000011/sys"),            //
           std::string("K1/GOV/240140000011/sys"),           //
           std::string("KZ/gov/240140000011/sys"),           // lower-case class
           std::string("KZ/EDU/240140000011/sys"),           // unknown class
           std::string("KZ/GOVT/240140000011/sys"),          //
           std::string("KZ/GOV/240140000012/sys"),           // BIN checksum
           std::string("KZ/GOV/24014000001/sys"),            // BIN 11 digits
           std::string("KZ/GOV/ACME/sys"),                   // KZ requires a BIN
           std::string("UZ/GOV//sys"),                       // empty member
           std::string("UZ/GOV/ABCDEFGHIJ01234567890/sys"),  // 21
           std::string("UZ/GOV/AB-C/sys"),                   // '-' not allowed in member
           std::string("UZ/GOV/AB C/sys"),                   //
           std::string("KZ/GOV/240140000011/"),              // empty system
           std::string("KZ/GOV/240140000011/Sys"),           // upper-case system
           std::string("KZ/GOV/240140000011/-sys"),          // bad first char
           std::string("KZ/GOV/240140000011/.sys"),          //
           std::string("KZ/GOV/240140000011/sys "),          // trailing space
           std::string("KZ/GOV/240140000011/sy$"),           //
           "KZ/GOV/240140000011/" + system64,                // 64 chars
       }) {
    EXPECT_FALSE(parseSystemId(bad).has_value()) << bad;
  }
}

TEST(ParseSystemId, EveryPrefixAndSuffixDoesNotCrash) {
  const std::string text = "KZ/GOV/240140000011/population-register";
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const auto head = parseSystemId(std::string_view(text).substr(0, i));
    // Prefixes that end inside the system name are valid ids themselves; nothing shorter is.
    const bool expect_head = i >= 21;
    EXPECT_EQ(head.has_value(), expect_head) << i;
    if (i > 0) {
      EXPECT_FALSE(parseSystemId(std::string_view(text).substr(i)).has_value()) << i;
    }
  }
}

// --- Service id, purpose code -----------------------------------------------------------------

TEST(IsValidServiceId, Accepts) {
  for (const char* good : {"a", "person.byIin", "tax.debt-v2", "x_1", "aZ09._-"}) {
    EXPECT_TRUE(isValidServiceId(good)) << good;
  }
  EXPECT_TRUE(isValidServiceId("a" + std::string(63, 'B')));
}

TEST(IsValidServiceId, Rejects) {
  for (const char* bad :
       {"", "A", "Person", "1abc", ".a", "-a", "_a", "a b", "a/b", "a%2f", "a:b", "a\n", "ä"}) {
    EXPECT_FALSE(isValidServiceId(bad)) << bad;
  }
  EXPECT_FALSE(isValidServiceId("a" + std::string(64, 'b')));
  for (int c = 0; c < 256; ++c) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    EXPECT_EQ(isValidServiceId(std::string("a") + static_cast<char>(c)), ok) << c;
  }
}

TEST(IsValidPurposeCode, AcceptsAndRejects) {
  for (const char* good : {"AB", "SOCIAL_BENEFIT", "A1", "TAX_2024", "A_"}) {
    EXPECT_TRUE(isValidPurposeCode(good)) << good;
  }
  EXPECT_TRUE(isValidPurposeCode("A" + std::string(47, 'B')));
  for (const char* bad : {"", "A", "a1", "ab", "1A", "_A", "A-B", "A B", "Ab", "A.B", "AB "}) {
    EXPECT_FALSE(isValidPurposeCode(bad)) << bad;
  }
  EXPECT_FALSE(isValidPurposeCode("A" + std::string(48, 'B')));
}

TEST(IdParsers, TruncatedAtEveryByteDoNotCrash) {
  // Run under ASan in the sanitizer preset: this is the "split at every byte" pass for the
  // small id parsers whose inputs come straight from headers.
  const std::vector<std::string> inputs = {
      "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",    "IIN:940140000385", "BIN:240140000011",
      "KZ/GOV/240140000011/population-register", "person.byIin",     "SOCIAL_BENEFIT"};
  for (const auto& in : inputs) {
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
      // Copy into an exactly-sized heap buffer so an over-read is caught by ASan.
      const std::string head(in, 0, cut);
      const std::string tail(in, cut);
      for (const std::string* part : {&head, &tail}) {
        std::vector<char> exact(part->begin(), part->end());
        const std::string_view v(exact.data(), exact.size());
        (void)parseUuid(v);
        (void)isValidIinBin(v);
        (void)parseSubject(v);
        (void)parseSystemId(v);
        (void)isValidServiceId(v);
        (void)isValidPurposeCode(v);
      }
    }
  }
}

}  // namespace
}  // namespace qaqpa::common
