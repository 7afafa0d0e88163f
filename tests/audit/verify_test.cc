#include "gateway/audit/verify.h"

#include <gtest/gtest.h>

#include "tests/audit/journal_builder.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::audit {
namespace {

using test_support::TempDir;
using testing::JournalBuilder;
using testing::Placed;
namespace fs = std::filesystem;

class VerifyTest : public ::testing::Test {
 protected:
  VerifyTest()
      : ed_(testing::makeKey("gw-ed-1", "ED25519")),
        ec_(testing::makeKey("gw-ec-2", "EC")),
        dir_(tmp_.path() / "journal"),
        b_(dir_, "node-a") {
    testing::addPublic(keys_, ed_);
    testing::addPublic(keys_, ec_);
  }

  // Segment 1 (CLOSED): events 1..6 in batches of 3 signed by Ed25519; segment 2 (OPEN): events
  // 7..10 (3 + 1) signed by the P-256 key after a rotation.
  void buildStandard() {
    b_.useKey(&ed_);
    b_.startSegment();
    b_.batch(3);
    b_.batch(3);
    b_.useKey(&ec_);
    b_.startSegment();
    b_.batch(3);
    b_.batch(1);
    b_.write();
  }

  VerifyReport verify(VerifyOptions o = {}) {
    return verifyJournalBlocking(dir_, keys_.resolver(), o);
  }

  void expectError(const VerifyReport& r, VerifyError e, const fs::path& file, std::uint64_t offset,
                   std::uint64_t seq) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(verifyErrorName(r.error), verifyErrorName(e)) << r.message;
    EXPECT_EQ(r.file.filename(), file.filename()) << r.message;
    EXPECT_EQ(r.offset, offset) << r.message;
    EXPECT_EQ(r.seq, seq) << r.message;
    EXPECT_NE(r.message.find(file.filename().string() + " offset " + std::to_string(offset)),
              std::string::npos)
        << r.message;
  }

  testing::SigningKey ed_, ec_;
  KeySet keys_;
  TempDir tmp_;
  fs::path dir_;
  JournalBuilder b_;
};

TEST_F(VerifyTest, CleanJournalVerifiesWithBothAlgorithms) {
  buildStandard();
  const auto r = verify();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.error, VerifyError::None);
  EXPECT_EQ(r.node_id, "node-a");
  EXPECT_EQ(r.segments_listed, 2u);
  EXPECT_EQ(r.segments_verified, 2u);
  EXPECT_EQ(r.events, 10u);
  EXPECT_EQ(r.checkpoints, 4u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 10u);
  EXPECT_EQ(r.chain_head, b_.head());
  EXPECT_EQ(r.uncovered_events, 0u);
  EXPECT_TRUE(r.signatures_checked);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(exitCodeFor(r.error), kExitOk);
}

TEST_F(VerifyTest, EmptyManifestIsAnEmptyJournal) {
  b_.write();
  const auto r = verify();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.events, 0u);
}

TEST_F(VerifyTest, FlippedPayloadByteIsACrcErrorAtThatRecord) {
  buildStandard();
  const Placed& p = b_.eventRecord(5);
  testing::flipByte(p.file, testing::findInRecord(p, "IIN:900101300017") + 6);
  const auto r = verify();
  expectError(r, VerifyError::FrameBadCrc, p.file, p.offset, 5);
  EXPECT_FALSE(r.torn_tail);  // valid records follow: damage in the middle
  EXPECT_NE(r.message.find("valid records follow"), std::string::npos) << r.message;
  EXPECT_EQ(exitCodeFor(r.error), kExitFraming);
}

TEST_F(VerifyTest, FlippedPayloadByteWithFixedCrcIsAHashMismatch) {
  buildStandard();
  const Placed& p = b_.eventRecord(5);
  // A digit of the subject: still a valid, canonical event — only the hash can tell.
  testing::flipByte(p.file, testing::findInRecord(p, "IIN:900101300017") + 6);
  testing::fixCrc(p.file, p.offset);
  const auto r = verify();
  expectError(r, VerifyError::HashMismatch, p.file, p.offset, 5);
  EXPECT_EQ(exitCodeFor(r.error), kExitChain);
}

TEST_F(VerifyTest, FlippedStoredHashIsAHashMismatchAtThatEvent) {
  buildStandard();
  // The event's own hash is recomputed before the next event's prev_hash is compared with it, so
  // an altered stored hash is named at its own seq (HashMismatch), not at seq + 1
  // (PrevHashMismatch).
  const Placed& p = b_.eventRecord(8);
  testing::flipByte(p.file, p.offset + p.size - 1);  // the last byte of field 31
  testing::fixCrc(p.file, p.offset);
  const auto r = verify();
  expectError(r, VerifyError::HashMismatch, p.file, p.offset, 8);
}

TEST_F(VerifyTest, NonCanonicalEncodingIsTampering) {
  buildStandard();
  const Placed& p = b_.eventRecord(4);
  std::string bytes = testing::readFile(p.file);
  // Re-frame event 4 with an unknown field (100, varint 1) after its hash: parses, hashes the
  // same once unknown fields are dropped, but is not the canonical encoding.
  qaqpa::journal::v1::JournalRecord rec;
  ASSERT_TRUE(rec.ParseFromString(
      bytes.substr(p.offset + journal::kFrameHeaderBytes, p.size - journal::kFrameHeaderBytes)));
  std::string ev = canonicalBytes(rec.event()) + std::string("\xA0\x06\x01", 3);
  std::string frame;
  journal::appendFrame(frame, journal::wrapEventRecord(ev));
  bytes.replace(p.offset, p.size, frame);
  testing::writeFile(p.file, bytes);
  const auto r = verify();
  expectError(r, VerifyError::NonCanonical, p.file, p.offset, 4);
}

TEST_F(VerifyTest, FlippedCheckpointSignatureNamesTheCheckpointRange) {
  buildStandard();
  const Placed& p = b_.checkpointRecord(6);
  testing::flipByte(p.file,
                    p.offset + p.size - 10);  // inside the 64 signature bytes (field 8, last)
  testing::fixCrc(p.file, p.offset);
  const auto r = verify();
  expectError(r, VerifyError::CheckpointBadSignature, p.file, p.offset, 4);
  EXPECT_NE(r.message.find("checkpoint 4..6"), std::string::npos) << r.message;
  EXPECT_EQ(exitCodeFor(r.error), kExitSignature);
}

TEST_F(VerifyTest, P256SignatureIsCheckedToo) {
  buildStandard();
  const Placed& p = b_.checkpointRecord(9);
  testing::flipByte(p.file, p.offset + p.size - 1);
  testing::fixCrc(p.file, p.offset);
  const auto r = verify();
  expectError(r, VerifyError::CheckpointBadSignature, p.file, p.offset, 7);
  EXPECT_NE(r.message.find("checkpoint 7..9"), std::string::npos) << r.message;
}

TEST_F(VerifyTest, DeletedRecordIsASeqGapAtTheNextEvent) {
  buildStandard();
  const Placed& p = b_.eventRecord(5);
  std::string bytes = testing::readFile(p.file);
  bytes.erase(p.offset, p.size);
  testing::writeFile(p.file, bytes);
  const auto r = verify();
  // Event 6 now sits where 5 was.
  expectError(r, VerifyError::SeqGap, p.file, p.offset, 6);
  EXPECT_NE(r.message.find("expected event seq 5, found seq 6"), std::string::npos) << r.message;
}

TEST_F(VerifyTest, SwappedRecordsAreDetectedAtTheFirstSwappedOne) {
  buildStandard();
  const Placed& a = b_.eventRecord(7);
  const Placed& c = b_.eventRecord(8);
  std::string bytes = testing::readFile(a.file);
  const std::string ra = bytes.substr(a.offset, a.size), rc = bytes.substr(c.offset, c.size);
  bytes.replace(a.offset, a.size + c.size, rc + ra);
  testing::writeFile(a.file, bytes);
  const auto r = verify();
  expectError(r, VerifyError::SeqGap, a.file, a.offset, 8);
}

TEST_F(VerifyTest, TruncatedTailOfTheOpenSegmentIsATornTail) {
  buildStandard();
  const Placed& p = b_.eventRecord(10);
  fs::resize_file(p.file, p.offset + p.size - 5);
  const auto r = verify();
  expectError(r, VerifyError::FrameTruncated, p.file, p.offset, 10);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_NE(r.message.find("torn tail"), std::string::npos) << r.message;
  EXPECT_EQ(exitCodeFor(r.error), kExitFraming);
}

TEST_F(VerifyTest, TruncatedClosedSegmentIsNotATornTail) {
  buildStandard();
  const Placed& p = b_.checkpointRecord(6);
  fs::resize_file(p.file, p.offset + 3);
  const auto r = verify();
  expectError(r, VerifyError::FrameTruncated, p.file, p.offset, 7);
  EXPECT_FALSE(r.torn_tail);
}

TEST_F(VerifyTest, UnknownKeyId) {
  buildStandard();
  KeySet only_ed;
  testing::addPublic(only_ed, ed_);
  const auto r = verifyJournalBlocking(dir_, only_ed.resolver());
  const Placed& p = b_.checkpointRecord(9);
  expectError(r, VerifyError::UnknownKey, p.file, p.offset, 7);
  EXPECT_NE(r.message.find("gw-ec-2"), std::string::npos) << r.message;
  EXPECT_EQ(exitCodeFor(r.error), kExitSignature);
}

TEST_F(VerifyTest, KeyOfTheWrongAlgorithmUnderTheRightIdIsABadSignature) {
  buildStandard();
  KeySet swapped;
  auto ec_pub = signing::PublicKey::fromPem(ec_.key.public_pem);
  swapped.add("gw-ed-1", std::move(*ec_pub));
  const auto r = verifyJournalBlocking(dir_, swapped.resolver());
  EXPECT_EQ(r.error, VerifyError::CheckpointBadSignature) << r.message;
  EXPECT_EQ(r.seq, 1u);
}

TEST_F(VerifyTest, NoKeysMeansSignaturesAreNotCheckedAndSaysSo) {
  buildStandard();
  const auto r = verifyJournalBlocking(dir_, KeyResolver{});
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_FALSE(r.signatures_checked);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("NOT checked"), std::string::npos);
}

TEST_F(VerifyTest, MissingManifest) {
  buildStandard();
  fs::remove(dir_ / "MANIFEST");
  const auto r = verify();
  EXPECT_EQ(r.error, VerifyError::ManifestMissing);
  EXPECT_EQ(exitCodeFor(r.error), kExitSegments);
}

TEST_F(VerifyTest, CorruptManifest) {
  buildStandard();
  testing::flipByte(dir_ / "MANIFEST", 12);
  const auto r = verify();
  EXPECT_EQ(r.error, VerifyError::ManifestCorrupt) << r.message;
}

TEST_F(VerifyTest, MissingSegmentIsReportedBeforeContent) {
  buildStandard();
  // Damage segment 2 too: the file set is checked first.
  testing::flipByte(b_.segmentPath(1), 20);
  fs::remove(b_.segmentPath(0));
  const auto r = verify();
  EXPECT_EQ(r.error, VerifyError::SegmentMissing) << r.message;
  EXPECT_EQ(r.file, b_.segmentPath(0));
  EXPECT_EQ(r.seq, 1u);
  EXPECT_EQ(exitCodeFor(r.error), kExitSegments);
}

TEST_F(VerifyTest, UnlistedSegment) {
  buildStandard();
  fs::copy_file(b_.segmentPath(1), dir_ / journal::segmentFileName(3, 11));
  const auto r = verify();
  EXPECT_EQ(r.error, VerifyError::UnlistedSegment) << r.message;
  EXPECT_EQ(r.file.filename(), journal::segmentFileName(3, 11));
}

TEST_F(VerifyTest, BadMagic) {
  buildStandard();
  testing::flipByte(b_.segmentPath(1), 0);
  const auto r = verify();
  expectError(r, VerifyError::BadMagic, b_.segmentPath(1), 0, 7);
}

TEST_F(VerifyTest, ForeignNodeEvent) {
  b_.useKey(&ed_);
  b_.startSegment();
  b_.event();
  b_.event("IIN:900101300017", "node-b");
  b_.checkpoint();
  b_.write();
  const auto r = verify();
  const Placed& p = b_.eventRecord(2);
  expectError(r, VerifyError::NodeMismatch, p.file, p.offset, 2);
}

TEST_F(VerifyTest, EventsAfterTheLastCheckpointAreAWarningOrAStrictFailure) {
  b_.useKey(&ed_);
  b_.startSegment();
  b_.batch(3);
  b_.event();
  b_.event();
  b_.write();
  const auto r = verify();
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.uncovered_events, 2u);
  EXPECT_EQ(r.uncovered_first_seq, 4u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("seq 4..5"), std::string::npos) << r.warnings[0];

  VerifyOptions strict;
  strict.strict = true;
  const auto s = verify(strict);
  expectError(s, VerifyError::Uncovered, b_.eventRecord(4).file, b_.eventRecord(4).offset, 4);
  EXPECT_EQ(exitCodeFor(s.error), kExitSignature);
}

TEST_F(VerifyTest, ClosedSegmentWithoutFinalCheckpoint) {
  b_.useKey(&ed_);
  b_.startSegment();
  b_.batch(2);
  b_.event();
  b_.startSegment();
  b_.batch(1);
  b_.write();
  const auto r = verify();
  EXPECT_EQ(r.error, VerifyError::CheckpointRangeMismatch) << r.message;
  EXPECT_EQ(r.seq, 3u);
}

TEST_F(VerifyTest, ArchivedSegmentsAreTrustedOrVerifiedFromTheArchive) {
  buildStandard();
  // Archive segment 1 the way retention would: copy it, mark it ARCHIVED, remove it here.
  const fs::path archive = tmp_.path() / "archive";
  fs::create_directories(archive);
  const fs::path seg1 = b_.segmentPath(0);
  const std::uint64_t digit = testing::findInRecord(b_.eventRecord(2), "IIN:") + 5;
  fs::copy_file(seg1, archive / seg1.filename());
  fs::remove(seg1);
  std::string error;
  bool absent = false;
  auto mb = journal::readManifestBlocking(dir_, error, absent);
  qaqpa::journal::v1::Manifest m;
  ASSERT_TRUE(m.ParseFromString(mb->payload));
  m.mutable_segments(0)->set_state(qaqpa::journal::v1::Manifest::ARCHIVED);
  m.mutable_segments(0)->set_archive_path((archive / seg1.filename()).string());
  ASSERT_TRUE(journal::writeManifestBlocking(dir_, canonicalBytes(m), error));

  const auto trusted = verify();
  ASSERT_TRUE(trusted.ok) << trusted.message;
  EXPECT_EQ(trusted.segments_archived_skipped, 1u);
  EXPECT_EQ(trusted.events, 4u);
  EXPECT_EQ(trusted.first_seq, 7u);

  VerifyOptions with_archive;
  with_archive.archive_dir = archive;
  const auto full = verify(with_archive);
  ASSERT_TRUE(full.ok) << full.message;
  EXPECT_EQ(full.events, 10u);

  testing::flipByte(archive / seg1.filename(), digit);
  EXPECT_TRUE(verify().ok);
  EXPECT_EQ(verify(with_archive).error, VerifyError::FrameBadCrc);
}

}  // namespace
}  // namespace qaqpa::audit
