#include "gateway/consent/consent_log.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "tests/consent/test_values.h"

namespace qaqpa::consent {
namespace {

using namespace std::chrono_literals;
using namespace test_values;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds{1704067200});

Consent sampleConsent(const char* id) {
  Consent c;
  c.id = id;
  c.subject = kAlice;
  c.client = kClient;
  c.services = {"person.byIin", "person.address"};
  c.purpose = "TAX_AUDIT";
  c.granted_at = kNow + 123ms;
  c.expires = kNow + 24h;
  c.granted_by = "admin:op\"1";
  return c;
}

constexpr const char* kId1 = "01890a5d-ac96-774b-bcce-b302099a8057";
constexpr const char* kId2 = "01890a5d-ac96-774c-8cce-b302099a8058";

std::string threeRecords() {
  return encodeRecord(sampleConsent(kId1)) + encodeRecord(sampleConsent(kId2)) +
         encodeRecord(RevokeRecord{kId1, kNow + 1h, kAlice});
}

TEST(Crc32c, MatchesTheCastagnoliCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(ConsentLog, GrantRoundTrips) {
  const Consent c = sampleConsent(kId1);
  const std::string framed = encodeRecord(c);
  ASSERT_GT(framed.size(), kRecordHeaderBytes);
  auto decoded = decodePayload(std::string_view(framed).substr(kRecordHeaderBytes));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::get<Consent>(*decoded), c);
}

TEST(ConsentLog, RevokeRoundTrips) {
  const std::string framed = encodeRecord(RevokeRecord{kId1, kNow + 5s, kBob});
  auto decoded = decodePayload(std::string_view(framed).substr(kRecordHeaderBytes));
  ASSERT_TRUE(decoded);
  const auto& r = std::get<RevokeRecord>(*decoded);
  EXPECT_EQ(r.id, kId1);
  EXPECT_EQ(r.revoked_at, kNow + 5s);
  EXPECT_EQ(r.by.digits, kBob.digits);
}

TEST(ConsentLog, DecodeRejectsForeignPayloads) {
  for (const char* text :
       {"", "[]", "{}",
        R"({"v":2,"op":"REVOKE","id":"01890a5d-ac96-774b-bcce-b302099a8057",)"
        R"("revokedAtMs":1,"by":"IIN:900101300017"})",
        R"({"v":1,"op":"REVOKE","id":"not-a-uuid","revokedAtMs":1,"by":"IIN:900101300017"})",
        R"({"v":1,"op":"REVOKE","id":"01890a5d-ac96-774b-bcce-b302099a8057","revokedAtMs":1,)"
        R"("by":"BIN:900101300017"})",
        R"({"v":1,"op":"ERASE"})"}) {
    EXPECT_FALSE(decodePayload(text)) << text;
  }
}

TEST(ScanLog, EmptyAndCleanLogs) {
  EXPECT_EQ(scanLog("").outcome, ScanOutcome::Clean);
  const std::string bytes = threeRecords();
  const ScanResult scan = scanLog(bytes);
  EXPECT_EQ(scan.outcome, ScanOutcome::Clean);
  ASSERT_EQ(scan.records.size(), 3u);
  EXPECT_EQ(scan.records[0].offset, 0u);
  EXPECT_EQ(scan.valid_bytes, bytes.size());
}

TEST(ScanLog, EveryCutInsideTheLastRecordIsATornTail) {
  const std::string bytes = threeRecords();
  const std::uint64_t last = scanLog(bytes).records.back().offset;
  for (std::uint64_t cut = last + 1; cut < bytes.size(); ++cut) {
    const ScanResult scan = scanLog(std::string_view(bytes).substr(0, cut));
    ASSERT_EQ(scan.outcome, ScanOutcome::TornTail) << cut;
    EXPECT_EQ(scan.records.size(), 2u);
    EXPECT_EQ(scan.valid_bytes, last);
  }
}

TEST(ScanLog, ZeroFilledTailIsTorn) {
  const std::string bytes = threeRecords() + std::string(4096, '\0');
  const ScanResult scan = scanLog(bytes);
  EXPECT_EQ(scan.outcome, ScanOutcome::TornTail);
  EXPECT_EQ(scan.records.size(), 3u);
}

TEST(ScanLog, AFlippedByteAnywhereInAMiddleRecordIsCorruption) {
  const std::string bytes = threeRecords();
  const auto records = scanLog(bytes).records;
  const std::uint64_t begin = records[1].offset, end = records[2].offset;
  for (std::uint64_t i = begin; i < end; ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
    const ScanResult scan = scanLog(damaged);
    ASSERT_EQ(scan.outcome, ScanOutcome::Corrupt) << i;
    EXPECT_EQ(scan.bad_offset, begin) << i;
    EXPECT_EQ(scan.next_valid_offset, end) << i;
  }
}

TEST(ScanLog, UndecodablePayloadWithAGoodCrcIsCorruptionEvenAtTheEnd) {
  const std::string payload = R"({"v":1,"op":"ERASE"})";
  std::string bytes = threeRecords();
  const std::uint64_t offset = bytes.size();
  for (std::uint32_t v : {static_cast<std::uint32_t>(payload.size()), crc32c(payload)}) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  bytes += payload;
  const ScanResult scan = scanLog(bytes);
  EXPECT_EQ(scan.outcome, ScanOutcome::Corrupt);
  EXPECT_EQ(scan.bad_offset, offset);
}

}  // namespace
}  // namespace qaqpa::consent
