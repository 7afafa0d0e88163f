#include "gateway/audit/export.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tests/audit/journal_builder.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::audit {
namespace {

using test_support::TempDir;
using testing::JournalBuilder;
namespace fs = std::filesystem;

constexpr const char* kA = "IIN:900101300017";
constexpr const char* kB = "BIN:050140000123";

class ExportTest : public ::testing::Test {
 protected:
  ExportTest()
      : ed_(testing::makeKey("gw-ed-1", "ED25519")), dir_(tmp_.path() / "j"), b_(dir_, "node-a") {
    b_.useKey(&ed_);
  }

  ExportResult run(const std::string& subject, std::vector<std::string>& lines,
                   std::vector<std::uint64_t>& seqs) {
    return exportSubjectBlocking(dir_, subject,
                                 [&](std::string_view line, const journal::v1::DigitalEvent& e) {
                                   lines.emplace_back(line);
                                   seqs.push_back(e.seq());
                                   return true;
                                 });
  }

  testing::SigningKey ed_;
  TempDir tmp_;
  fs::path dir_;
  JournalBuilder b_;
};

TEST_F(ExportTest, OnlyTheAskedSubjectInSeqOrderAcrossSegments) {
  b_.startSegment();
  b_.event(kA);  // 1
  b_.event(kB);  // 2
  b_.event(kA);  // 3
  b_.checkpoint();
  b_.startSegment();
  b_.event(kB);  // 4
  b_.event(kA);  // 5
  b_.event("");  // 6: no subject
  b_.checkpoint();
  b_.write();

  std::vector<std::string> lines;
  std::vector<std::uint64_t> seqs;
  const auto r = run(kA, lines, seqs);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.events_read, 6u);
  EXPECT_EQ(r.events_matched, 3u);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 3, 5}));
  for (const auto& line : lines) {
    const auto v = boost::json::parse(line);
    EXPECT_EQ(v.at("subject").as_string(), kA);
  }
  EXPECT_EQ(boost::json::parse(lines[1]).at("seq").as_int64(), 3);

  lines.clear();
  seqs.clear();
  ASSERT_TRUE(run(kB, lines, seqs).ok);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{2, 4}));
}

TEST_F(ExportTest, RejectsABadSubject) {
  b_.startSegment();
  b_.write();
  std::vector<std::string> lines;
  std::vector<std::uint64_t> seqs;
  EXPECT_FALSE(run("IIN:123", lines, seqs).ok);
  EXPECT_FALSE(run("XIN:900101300017", lines, seqs).ok);
  EXPECT_FALSE(run("", lines, seqs).ok);
  EXPECT_TRUE(run(kA, lines, seqs).ok);
}

TEST_F(ExportTest, SinkCanStopTheExport) {
  b_.startSegment();
  b_.batch(5, kA);
  b_.write();
  int n = 0;
  const auto r =
      exportSubjectBlocking(dir_, kA, [&](std::string_view, const auto&) { return ++n < 2; });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(n, 2);
}

TEST_F(ExportTest, StopsAtDamageAndSaysWhere) {
  b_.startSegment();
  b_.batch(2, kA);
  b_.batch(2, kA);
  b_.write();
  const auto& p = b_.eventRecord(3);
  testing::flipByte(p.file, p.offset + 20);
  std::vector<std::string> lines;
  std::vector<std::uint64_t> seqs;
  const auto r = run(kA, lines, seqs);
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.damage, VerifyError::FrameBadCrc);
  EXPECT_EQ(r.offset, p.offset);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(ExportTest, TornTailOfTheOpenSegmentIsTheEnd) {
  b_.startSegment();
  b_.batch(2, kA);
  b_.event(kA);
  b_.write();
  const auto& p = b_.eventRecord(3);
  fs::resize_file(p.file, p.offset + 4);
  std::vector<std::string> lines;
  std::vector<std::uint64_t> seqs;
  const auto r = run(kA, lines, seqs);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_EQ(seqs.size(), 2u);
}

}  // namespace
}  // namespace qaqpa::audit
