#include "gateway/journal/format.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "tests/journal/failing_file_ops.h"
#include "tests/journal/journal_test_util.h"

namespace qaqpa::journal {
namespace {

namespace fs = std::filesystem;
using test::FailingFileOps;
using test::Op;

TEST(JournalFormat, ChainHashInTwoPartsEqualsTheWhole) {
  const std::string prev(kHashBytes, '\x07');
  const std::string a = "first part";
  const std::string b = "second part";
  char out[kHashBytes];
  chainHashInto(prev, a, b, out);
  EXPECT_EQ(std::string(out, kHashBytes), chainHash(prev, a + b));
  EXPECT_NE(chainHash(prev, a + b), chainHash(std::string(kHashBytes, '\0'), a + b));
}

TEST(JournalFormat, ChainFieldsAreTheProtobufEncoding) {
  std::string ev = test::makeEvent("e1");
  const std::string prev(kHashBytes, '\x01');
  appendSeqAndPrevHash(ev, 300, prev);
  const std::string hash = chainHash(prev, ev);
  const std::string canonical = ev;
  appendHashField(ev, hash);
  test::pb::DigitalEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(ev));
  EXPECT_EQ(parsed.seq(), 300u);
  EXPECT_EQ(parsed.prev_hash(), prev);
  EXPECT_EQ(parsed.hash(), hash);
  EXPECT_EQ(test::deterministic(parsed), ev);  // still canonical
  std::string_view c;
  std::string_view h;
  ASSERT_TRUE(splitHashField(ev, c, h));
  EXPECT_EQ(c, canonical);
  EXPECT_EQ(h, hash);
  EXPECT_FALSE(splitHashField(canonical, c, h));
  EXPECT_FALSE(splitHashField("", c, h));
}

TEST(JournalFormat, WrapEventRecordIsTheDeterministicEncoding) {
  const std::string ev = test::makeEvent("e1");
  test::pb::JournalRecord rec;
  ASSERT_TRUE(rec.mutable_event()->ParseFromString(ev));
  EXPECT_EQ(wrapEventRecord(ev), test::deterministic(rec));
}

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qaqpa-journal-format-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ManifestTest, FailedReplaceKeepsTheOldManifestAndNoTemporary) {
  std::string error;
  ASSERT_TRUE(writeManifestBlocking(dir_, "old", error)) << error;
  for (const Op op : {Op::Write, Op::Fsync, Op::Rename}) {
    FailingFileOps ops;
    ops.failAfter(op, 0, 1, EIO);
    EXPECT_FALSE(writeManifestBlocking(dir_, "new", error, &ops));
    EXPECT_FALSE(error.empty());
    bool absent = false;
    const auto m = readManifestBlocking(dir_, error, absent);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(m->payload, "old");
    EXPECT_FALSE(fs::exists(dir_ / "MANIFEST.tmp"));
  }
  ASSERT_TRUE(writeManifestBlocking(dir_, "new", error)) << error;
  bool absent = false;
  EXPECT_EQ(readManifestBlocking(dir_, error, absent)->payload, "new");
}

TEST(JournalFormat, WriteAllRetriesShortWrites) {
  char tmpl[] = "/tmp/qaqpa-journal-writeall-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  FailingFileOps ops;
  ops.failAfter(Op::Write, 0, 1, ENOSPC, /*partial=*/true);
  const std::string bytes(1000, 'x');
  EXPECT_FALSE(writeAll(ops, fd, bytes.data(), bytes.size()));
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(fs::file_size(tmpl), 500u);  // the short write happened, then the failure
  EXPECT_TRUE(writeAll(ops, fd, bytes.data(), bytes.size()));
  EXPECT_EQ(fs::file_size(tmpl), 1500u);
  ::close(fd);
  ::unlink(tmpl);
}

}  // namespace
}  // namespace qaqpa::journal
