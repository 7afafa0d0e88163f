#include "gateway/space_index/event_fields.h"

#include <gtest/gtest.h>

#include "gateway/journal/format.h"
#include "tests/space_index/space_index_test_util.h"

namespace qaqpa::space_index {
namespace {

using test::EventSpec;

TEST(EventFieldsTest, ReadsWhatTheIndexKeepsFromChainedEventBytes) {
  EventSpec s;
  s.event_id = test::uuidFor(42);
  s.subject = std::string(test::kA);
  s.kind = test::pb::CONSENT_REVOKED;
  s.service = "tax.debts";
  s.client = "KZ/COM/123456789012/bank";
  s.time_s = test::kT0 + 3600;
  s.nanos = 250'999'999;
  std::string bytes = test::eventBytes(s);
  journal::appendSeqAndPrevHash(bytes, 1234567, std::string(32, 'p'));
  journal::appendHashField(bytes, std::string(32, 'h'));
  EventFields f;
  ASSERT_TRUE(extractEventFields(bytes, f));
  EXPECT_EQ(f.seq, 1234567u);
  EXPECT_EQ(f.time_us, (test::kT0 + 3600) * 1000000 + 250999);
  EXPECT_EQ(f.kind, test::pb::CONSENT_REVOKED);
  EXPECT_EQ(f.event_id, s.event_id);
  EXPECT_EQ(f.subject, test::kA);
  EXPECT_EQ(f.service_id, "tax.debts");
  EXPECT_EQ(f.client_id, "KZ/COM/123456789012/bank");

  const std::string record = journal::wrapEventRecord(bytes);
  std::string_view inner;
  ASSERT_TRUE(recordEventBytes(record, inner));
  EXPECT_EQ(inner, bytes);
}

TEST(EventFieldsTest, EmptyFieldsAndOtherRecords) {
  test::pb::DigitalEvent ev;
  ev.set_seq(9);
  EventFields f;
  ASSERT_TRUE(extractEventFields(journal::test::deterministic(ev), f));
  EXPECT_EQ(f.seq, 9u);
  EXPECT_TRUE(f.subject.empty());
  EXPECT_TRUE(f.service_id.empty());
  EXPECT_EQ(f.kind, 0);

  test::pb::JournalRecord rec;
  rec.mutable_checkpoint()->set_first_seq(1);
  std::string_view inner;
  EXPECT_FALSE(recordEventBytes(journal::test::deterministic(rec), inner));
  test::pb::JournalRecord start;
  start.mutable_segment_start()->set_first_seq(1);
  EXPECT_FALSE(recordEventBytes(journal::test::deterministic(start), inner));
}

TEST(EventFieldsTest, MalformedBytesAreRefusedNeverOverread) {
  EventSpec s;
  s.event_id = test::uuidFor(1);
  s.subject = std::string(test::kA);
  const std::string bytes = test::eventBytes(s);
  EventFields f;
  // Every strict prefix that cuts a field is refused; none reads past its end (ASan builds).
  int refused = 0;
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    if (!extractEventFields(std::string_view(bytes).substr(0, n), f)) ++refused;
  }
  EXPECT_GT(refused, static_cast<int>(bytes.size()) / 2);
  EXPECT_FALSE(extractEventFields(std::string("\x0a\x7f", 2), f));  // length past the end
  EXPECT_FALSE(extractEventFields(std::string("\x0b", 1), f));      // group
  EXPECT_FALSE(extractEventFields(std::string(11, '\xff'), f));     // varint too long
  EXPECT_FALSE(extractEventFields(std::string("\x00\x01", 2), f));  // field number 0
  std::string_view inner;
  EXPECT_FALSE(recordEventBytes(journal::wrapEventRecord(bytes) + "\x10\x01", inner));
}

TEST(EventKeyTest, CanonicalUuidsAreTheirBytesOtherTextIsHashed) {
  const EventKey a = eventKey("0190a000-0000-7000-8000-00000000002a");
  EXPECT_EQ(a[0], 0x01);
  EXPECT_EQ(a[1], 0x90);
  EXPECT_EQ(a[15], 0x2a);
  // The upper-case spelling is another text: another key (hashed), never the same event.
  EXPECT_NE(eventKey("0190A000-0000-7000-8000-00000000002A"), a);
  EXPECT_EQ(eventKey("e-1"), eventKey("e-1"));
  EXPECT_NE(eventKey("e-1"), eventKey("e-2"));
  EXPECT_NE(eventKey(""), eventKey("e-1"));
}

TEST(PackSubjectTest, OnlyIinAndBinWithTwelveDigits) {
  EXPECT_TRUE(packSubject("IIN:900101300123"));
  EXPECT_TRUE(packSubject("BIN:900101300123"));
  EXPECT_NE(packSubject("IIN:900101300123"), packSubject("BIN:900101300123"));
  EXPECT_NE(packSubject("IIN:900101300123"), packSubject("IIN:900101300124"));
  EXPECT_FALSE(packSubject(""));
  EXPECT_FALSE(packSubject("IIN:90010130012"));
  EXPECT_FALSE(packSubject("IIN:9001013001234"));
  EXPECT_FALSE(packSubject("iin:900101300123"));
  EXPECT_FALSE(packSubject("IIN:90010130012x"));
  EXPECT_FALSE(packSubject("XYZ:900101300123"));
}

}  // namespace
}  // namespace qaqpa::space_index
