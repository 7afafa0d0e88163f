#include "gateway/audit/repair.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>

#include "tests/audit/journal_builder.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::audit {
namespace {

using test_support::TempDir;
using testing::JournalBuilder;
using testing::Placed;
namespace fs = std::filesystem;

class FixedTime final : public common::TimeSource {
 public:
  std::chrono::system_clock::time_point now() const noexcept override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));
  }
  std::chrono::steady_clock::time_point monotonic() const noexcept override { return {}; }
};

// Every file under `dir` with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      out[fs::relative(e.path(), dir).string()] = testing::readFile(e.path());
    } else {
      out[fs::relative(e.path(), dir).string() + "/"] = "";
    }
  }
  return out;
}

std::uint64_t totalBytes(const fs::path& dir, std::string_view prefix) {
  std::uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(prefix)) n += fs::file_size(e.path());
  }
  return n;
}

class RepairTest : public ::testing::Test {
 protected:
  RepairTest()
      : ed_(testing::makeKey("gw-ed-1", "ED25519")), dir_(tmp_.path() / "j"), b_(dir_, "node-a") {
    testing::addPublic(keys_, ed_);
  }

  // Three segments: 1..6 (CLOSED), 7..12 (CLOSED), 13..15 (OPEN), batches of 3.
  void build() {
    b_.useKey(&ed_);
    for (int s = 0; s < 3; ++s) {
      b_.startSegment();
      b_.batch(3);
      if (s < 2) b_.batch(3);
    }
    b_.write();
  }

  RepairResult repair(bool dry_run = false) {
    RepairOptions o;
    o.dry_run = dry_run;
    return repairJournalBlocking(dir_, keys_.resolver(), o, time_);
  }

  testing::SigningKey ed_;
  KeySet keys_;
  FixedTime time_;
  TempDir tmp_;
  fs::path dir_;
  JournalBuilder b_;
};

TEST_F(RepairTest, CleanJournalNeedsNothing) {
  build();
  const auto before = snapshot(dir_);
  const auto r = repair();
  EXPECT_EQ(r.outcome, RepairOutcome::NothingToDo) << r.message;
  EXPECT_EQ(r.kept_last_seq, 15u);
  auto after = snapshot(dir_);
  after.erase("LOCK");
  EXPECT_EQ(after, before);
}

TEST_F(RepairTest, DamageInTheMiddleMovesEverythingFromTheLastCheckpointOn) {
  build();
  const std::uint64_t journal_bytes = totalBytes(dir_, "seg-");
  // Event 5 of segment 1: checkpoint 1..3 is the last good one before it.
  const Placed& bad = b_.eventRecord(5);
  testing::flipByte(bad.file, testing::findInRecord(bad, "IIN:") + 7);
  const Placed& cut = b_.checkpointRecord(3);
  const std::uint64_t cut_at = cut.offset + cut.size;
  const std::uint64_t seg1_size = fs::file_size(b_.segmentPath(0));

  const auto r = repair();
  ASSERT_EQ(r.outcome, RepairOutcome::Repaired) << r.message << describeRepair(r);
  EXPECT_EQ(r.before.error, VerifyError::FrameBadCrc);
  EXPECT_EQ(r.kept_last_seq, 3u);
  EXPECT_EQ(r.lost_first_seq, 4u);
  EXPECT_EQ(r.lost_last_seq, 15u);
  EXPECT_FALSE(r.recreated_segment);
  ASSERT_EQ(r.moves.size(), 3u);
  EXPECT_FALSE(r.moves[0].whole_file);
  EXPECT_EQ(r.moves[0].offset, cut_at);
  EXPECT_EQ(r.moves[0].bytes, seg1_size - cut_at);
  EXPECT_TRUE(r.moves[1].whole_file);
  EXPECT_TRUE(r.moves[2].whole_file);
  EXPECT_TRUE(r.after.ok) << r.after.message;
  EXPECT_EQ(r.after.last_seq, 3u);

  // Nothing was deleted: the live segment plus the quarantined bytes are the old journal.
  EXPECT_EQ(r.quarantine_dir, dir_ / "quarantine-20261118T110640Z");
  const std::uint64_t quarantined = totalBytes(r.quarantine_dir, "seg-");
  EXPECT_EQ(quarantined, r.bytes_moved);
  EXPECT_EQ(fs::file_size(b_.segmentPath(0)), cut_at);
  EXPECT_EQ(fs::file_size(b_.segmentPath(0)) + quarantined, journal_bytes);
  EXPECT_TRUE(fs::exists(r.quarantine_dir / b_.segmentPath(1).filename()));
  EXPECT_TRUE(fs::exists(r.quarantine_dir / b_.segmentPath(2).filename()));
  EXPECT_TRUE(fs::exists(r.quarantine_dir / (b_.segmentPath(0).filename().string() + ".tail-at-" +
                                             std::to_string(cut_at))));
  EXPECT_TRUE(fs::exists(r.quarantine_dir / "REPAIR.txt"));
  EXPECT_FALSE(fs::exists(b_.segmentPath(1)));

  // The surviving segment is OPEN and the strict verification passes too.
  VerifyOptions strict;
  strict.strict = true;
  EXPECT_TRUE(verifyJournalBlocking(dir_, keys_.resolver(), strict).ok);
  const std::string text = describeRepair(r);
  EXPECT_NE(text.find("seq 4..15 leave the live chain"), std::string::npos) << text;
  EXPECT_NE(text.find("live chain ends at seq 3"), std::string::npos) << text;
}

TEST_F(RepairTest, DamagedSegmentStartOfALaterSegmentCutsAtTheEndOfThePreviousOne) {
  build();
  testing::flipByte(b_.segmentPath(1), 0);  // bad magic in segment 2
  const auto r = repair();
  ASSERT_EQ(r.outcome, RepairOutcome::Repaired) << describeRepair(r);
  EXPECT_EQ(r.kept_last_seq, 6u);
  EXPECT_EQ(r.moves.size(), 2u);  // segments 2 and 3 whole; segment 1 ends with its checkpoint
  EXPECT_TRUE(r.after.ok) << r.after.message;
  EXPECT_EQ(r.after.last_seq, 6u);
}

TEST_F(RepairTest, DamagedFirstSegmentStartIsRebuilt) {
  build();
  testing::flipByte(b_.segmentPath(0), 3);
  const auto r = repair();
  ASSERT_EQ(r.outcome, RepairOutcome::Repaired) << describeRepair(r);
  EXPECT_TRUE(r.recreated_segment);
  EXPECT_EQ(r.kept_last_seq, 0u);
  EXPECT_EQ(r.lost_first_seq, 1u);
  EXPECT_EQ(r.moves.size(), 3u);
  EXPECT_TRUE(r.after.ok) << r.after.message;
  EXPECT_EQ(r.after.events, 0u);
}

TEST_F(RepairTest, UnlistedSegmentIsMovedAside) {
  build();
  fs::copy_file(b_.segmentPath(2), dir_ / journal::segmentFileName(4, 16));
  EXPECT_EQ(verifyJournalBlocking(dir_, keys_.resolver()).error, VerifyError::UnlistedSegment);
  const auto r = repair();
  ASSERT_EQ(r.outcome, RepairOutcome::Repaired) << describeRepair(r);
  EXPECT_EQ(r.moves.size(), 1u);
  EXPECT_EQ(r.kept_last_seq, 15u);
  EXPECT_EQ(r.lost_first_seq, 0u);
  EXPECT_TRUE(r.after.ok) << r.after.message;
}

TEST_F(RepairTest, RefusedWhileTheLockIsHeld) {
  build();
  testing::flipByte(b_.eventRecord(5).file, b_.eventRecord(5).offset + 20);
  const int fd = ::open((dir_ / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const auto before = snapshot(dir_);
  const auto r = repair();
  EXPECT_EQ(r.outcome, RepairOutcome::Locked);
  EXPECT_NE(r.message.find("LOCK"), std::string::npos) << r.message;
  EXPECT_EQ(snapshot(dir_), before);
  EXPECT_EQ(repair(/*dry_run=*/true).outcome, RepairOutcome::Locked);
  ::close(fd);
  EXPECT_EQ(repair().outcome, RepairOutcome::Repaired);
}

TEST_F(RepairTest, DryRunChangesNothing) {
  build();
  testing::flipByte(b_.eventRecord(8).file, b_.eventRecord(8).offset + 20);
  const auto before = snapshot(dir_);
  const auto r = repair(/*dry_run=*/true);
  ASSERT_EQ(r.outcome, RepairOutcome::Planned) << r.message;
  EXPECT_EQ(r.kept_last_seq, 6u);  // segment 2's start: no checkpoint in it before seq 8
  EXPECT_EQ(r.moves.size(), 2u);   // segment 2's tail after its SegmentStart, segment 3
  EXPECT_EQ(snapshot(dir_), before);
  EXPECT_NE(describeRepair(r).find("dry run"), std::string::npos);
  // The plan is what a real run does.
  const auto real = repair();
  ASSERT_EQ(real.outcome, RepairOutcome::Repaired);
  EXPECT_EQ(real.bytes_moved, r.bytes_moved);
  EXPECT_TRUE(real.after.ok) << real.after.message;
}

TEST_F(RepairTest, RefusesWithoutAManifest) {
  build();
  fs::remove(dir_ / "MANIFEST");
  const auto r = repair();
  EXPECT_EQ(r.outcome, RepairOutcome::Refused);
  EXPECT_NE(r.message.find("MANIFEST"), std::string::npos);
}

TEST_F(RepairTest, RefusesToCutAtACheckpointItCannotCheck) {
  build();
  KeySet none;
  const auto r = repairJournalBlocking(dir_, none.resolver(), {}, time_);
  EXPECT_EQ(r.outcome, RepairOutcome::Refused);
  EXPECT_NE(r.message.find("gw-ed-1"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace qaqpa::audit
