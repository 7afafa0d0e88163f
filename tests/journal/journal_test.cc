#include "gateway/journal/journal.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include "gateway/journal/format.h"
#include "gateway/metrics/metrics.h"
#include "tests/consent/manual_time_source.h"
#include "tests/journal/failing_file_ops.h"
#include "tests/journal/journal_test_util.h"

namespace qaqpa::journal {
namespace {

namespace fs = std::filesystem;
namespace pb = qaqpa::journal::v1;
using test::Collector;
using test::FailingFileOps;
using test::makeEvent;
using test::Op;
using test::TestSigner;
using test_support::ManualTimeSource;

// Value of an unlabelled metric in the Prometheus text exposition.
double metricValue(const metrics::Metrics& m, const std::string& name) {
  const std::string text = const_cast<metrics::Metrics&>(m).serialize();
  const std::string key = "\n" + name + " ";
  const auto pos = text.find(key);
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + key.size()));
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qaqpa-journal-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ / "journal";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  JournalOptions options() const {
    JournalOptions o;
    o.dir = dir_;
    o.node_id = "kz-test-1";
    o.fsync = FsyncPolicy::Always;
    o.retry_interval = std::chrono::milliseconds(100);
    return o;
  }
  OpenResult open(JournalOptions o) {
    return Journal::openBlocking(std::move(o), signer_.signer(), time_, &metrics_.journal());
  }
  std::unique_ptr<Journal> openOk(JournalOptions o) {
    auto r = open(std::move(o));
    EXPECT_TRUE(r.journal) << r.error;
    return std::move(r.journal);
  }
  // Appends one event and waits for its completion: one batch per call.
  AppendResult appendOne(Journal& j, const std::string& id) {
    Collector c;
    j.append(makeEvent(id), c.callback());
    return c.wait(1).at(0);
  }
  test::VerifiedJournal verify() { return test::verifyJournal(dir_, signer_); }
  fs::path openSegment() {
    pb::Manifest m;
    EXPECT_TRUE(test::readManifest(dir_, m));
    return dir_ / m.segments(m.segments_size() - 1).file_name();
  }

  fs::path root_;
  fs::path dir_;
  TestSigner signer_;
  ManualTimeSource time_;
  metrics::Metrics metrics_;
};

TEST_F(JournalTest, AppendsCompleteInOrderWithAGapFreeSignedChain) {
  auto j = openOk(options());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->head().seq, 0u);
  EXPECT_EQ(j->head().hash, std::string(kHashBytes, '\0'));
  std::vector<std::pair<std::uint64_t, std::string>> observed;
  j->setCommitObserver([&](std::uint64_t seq, std::string_view bytes) {
    observed.emplace_back(seq, std::string(bytes));
  });
  Collector c;
  for (int i = 0; i < 300; ++i) j->append(makeEvent("e-" + std::to_string(i)), c.callback());
  const auto results = c.wait(300);
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_EQ(results[i].status, AppendStatus::Durable);
    EXPECT_EQ(results[i].seq, i + 1);  // completed in append order
  }
  j->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  ASSERT_EQ(v.seqs.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(v.event_ids[i], "e-" + std::to_string(i));
  EXPECT_GE(v.checkpoints, 1);
  EXPECT_EQ(j->head().seq, 300u);
  EXPECT_EQ(j->head().hash, v.head_hash);
  // The observer saw every event, in order, with its final bytes.
  ASSERT_EQ(observed.size(), 300u);
  for (std::size_t i = 0; i < observed.size(); ++i) {
    pb::DigitalEvent ev;
    ASSERT_TRUE(ev.ParseFromString(observed[i].second));
    EXPECT_EQ(observed[i].first, i + 1);
    EXPECT_EQ(ev.seq(), i + 1);
    EXPECT_EQ(ev.hash().size(), kHashBytes);
  }
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_events_total"), 300);
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_healthy"), 1);
}

// Read-your-writes for the digital space: when an append completes, both observers (which feed
// the citizen's index) have already seen that event.
TEST_F(JournalTest, ObserversSeeAnEventBeforeItsAppendCompletes) {
  auto j = openOk(options());
  ASSERT_TRUE(j);
  std::atomic<std::uint64_t> plain{0};
  std::atomic<std::uint64_t> located{0};
  j->setCommitObserver([&](std::uint64_t seq, std::string_view) { plain.store(seq); });
  j->setLocatedCommitObserver([&](const CommittedEvent& e) { located.store(e.seq); });
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> lagging;  // (seq, what an observer had)
  Collector c;
  for (int i = 0; i < 200; ++i) {
    j->append(makeEvent("e-" + std::to_string(i)), [&, cb = c.callback()](const AppendResult& r) {
      const std::uint64_t seen = std::min(plain.load(), located.load());
      if (r.ok() && seen < r.seq) {
        std::lock_guard lock(mu);
        lagging.emplace_back(r.seq, seen);
      }
      cb(r);
    });
  }
  const auto results = c.wait(200);
  for (const auto& r : results) ASSERT_EQ(r.status, AppendStatus::Durable);
  j->stop();
  EXPECT_TRUE(lagging.empty()) << "seq " << lagging.front().first << " completed when the "
                               << "observers had seen only up to " << lagging.front().second;
}

TEST_F(JournalTest, LocatedObserverPointsAtEachEventsFrameAcrossRotations) {
  JournalOptions o = options();
  o.segment_max_bytes = 4096;  // a few events per segment
  auto j = openOk(o);
  std::vector<CommittedEvent> located;
  std::vector<std::string> bytes;
  std::vector<std::uint64_t> plain;
  j->setCommitObserver([&](std::uint64_t seq, std::string_view) { plain.push_back(seq); });
  j->setLocatedCommitObserver([&](const CommittedEvent& e) {
    located.push_back(e);
    bytes.emplace_back(e.event_bytes);
    located.back().event_bytes = {};  // the view dies with the call
  });
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(appendOne(*j, "e-" + std::to_string(i)).ok());
  Collector c;  // and a few multi-event batches
  for (int i = 40; i < 60; ++i) j->append(makeEvent("e-" + std::to_string(i)), c.callback());
  c.wait(20);
  j->stop();
  ASSERT_EQ(located.size(), 60u);
  ASSERT_EQ(plain.size(), 60u);  // the plain observer keeps its contract alongside
  std::set<std::uint64_t> segments;
  for (std::size_t i = 0; i < located.size(); ++i) {
    const CommittedEvent& e = located[i];
    EXPECT_EQ(e.seq, i + 1);
    segments.insert(e.segment_index);
    const std::string file =
        test::readFile(dir_ / segmentFileName(e.segment_index, e.segment_first_seq));
    ASSERT_LE(e.frame_offset + e.frame_size, file.size()) << e.seq;
    const Frame f = readFrame(std::string_view(file).substr(e.frame_offset, e.frame_size));
    ASSERT_EQ(f.status, FrameStatus::Ok) << e.seq;
    EXPECT_EQ(f.size, e.frame_size);
    EXPECT_EQ(f.payload, wrapEventRecord(bytes[i])) << e.seq;
    pb::JournalRecord rec;
    ASSERT_TRUE(rec.ParseFromString(std::string(f.payload)));
    EXPECT_EQ(rec.event().seq(), e.seq);
    EXPECT_EQ(rec.event().event_id(), "e-" + std::to_string(i));
  }
  EXPECT_GE(segments.size(), 3u);  // rotation happened and was reported
}

TEST_F(JournalTest, ConcurrentAppendersGetExactlyOneToN) {
  auto o = options();
  o.fsync = FsyncPolicy::Batch;
  auto j = openOk(o);
  ASSERT_TRUE(j);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<Collector> collectors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        j->append(makeEvent("t" + std::to_string(t) + "-" + std::to_string(i)),
                  collectors[t].callback());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint64_t> seqs;
  for (auto& c : collectors) {
    std::uint64_t last = 0;
    for (const auto& r : c.wait(kPerThread)) {
      ASSERT_EQ(r.status, AppendStatus::Durable);
      EXPECT_GT(r.seq, last);  // one thread's events keep their order
      last = r.seq;
      seqs.insert(r.seq);
    }
  }
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), static_cast<std::uint64_t>(kThreads * kPerThread));
  j->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), seqs.size());
}

// `batch` completes after write(2) and syncs once fsync_interval has passed; `none` never syncs
// while running; `always` syncs every batch before completing it.
TEST_F(JournalTest, FsyncPolicies) {
  for (const auto policy : {FsyncPolicy::Always, FsyncPolicy::Batch, FsyncPolicy::None}) {
    SCOPED_TRACE(std::string(fsyncPolicyName(policy)));
    auto ops = std::make_shared<FailingFileOps>();
    auto o = options();
    o.dir = root_ / std::string(fsyncPolicyName(policy));
    o.file_ops = ops;
    o.fsync = policy;
    o.fsync_interval = std::chrono::milliseconds(500);
    auto j = openOk(o);
    const int before = ops->calls(Op::Fdatasync);
    ASSERT_TRUE(appendOne(*j, "e1").ok());
    ASSERT_TRUE(appendOne(*j, "e2").ok());
    const int after_two = ops->calls(Op::Fdatasync) - before;
    time_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(appendOne(*j, "e3").ok());
    const int after_three = ops->calls(Op::Fdatasync) - before;
    switch (policy) {
      case FsyncPolicy::Always:
        EXPECT_EQ(after_two, 2);
        EXPECT_EQ(after_three, 3);
        break;
      case FsyncPolicy::Batch:
        EXPECT_EQ(after_two, 0);
        EXPECT_EQ(after_three, 1);  // the interval passed: synced before the third batch
        break;
      case FsyncPolicy::None:
        EXPECT_EQ(after_two, 0);
        EXPECT_EQ(after_three, 0);
        break;
    }
    j->stop();
    if (policy != FsyncPolicy::Always) {
      EXPECT_EQ(ops->calls(Op::Fdatasync) - before, after_three + 1);  // stop syncs what is left
    }
  }
}

TEST_F(JournalTest, NoSignerIsRefused) {
  auto r = Journal::openBlocking(options(), Signer{}, time_);
  EXPECT_FALSE(r.journal);
  EXPECT_NE(r.error.find("signer"), std::string::npos) << r.error;
}

TEST_F(JournalTest, RestartContinuesSeqAndChain) {
  {
    auto j = openOk(options());
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(appendOne(*j, "a" + std::to_string(i)).ok());
  }  // destructor stops
  auto r = open(options());
  ASSERT_TRUE(r.journal) << r.error;
  EXPECT_EQ(r.events_recovered, 10u);
  EXPECT_EQ(r.torn_tail_bytes, 0u);
  EXPECT_EQ(r.journal->head().seq, 10u);
  const auto res = appendOne(*r.journal, "b0");
  EXPECT_EQ(res.seq, 11u);
  r.journal->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), 11u);
  EXPECT_EQ(r.journal->head().hash, v.head_hash);
}

TEST_F(JournalTest, RotatesBySizeAndTheChainCrossesSegments) {
  auto o = options();
  o.segment_max_bytes = 4096;
  auto j = openOk(o);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(appendOne(*j, "e" + std::to_string(i)).ok());
  j->stop();
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  ASSERT_GE(m.segments_size(), 4);
  for (int i = 0; i < m.segments_size(); ++i) {
    const auto& s = m.segments(i);
    EXPECT_EQ(s.state(), i + 1 == m.segments_size() ? pb::Manifest::OPEN : pb::Manifest::CLOSED);
    if (s.state() == pb::Manifest::CLOSED) {
      // A batch never pushes a segment that already holds events past the limit.
      EXPECT_LE(fs::file_size(dir_ / s.file_name()), 4096u);
    }
  }
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), 60u);
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_segments_rotated_total"), m.segments_size() - 1);
}

TEST_F(JournalTest, RotatesByAge) {
  auto o = options();
  o.segment_max_age = std::chrono::hours(1);
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "old").ok());
  time_.advance(std::chrono::minutes(59));
  ASSERT_TRUE(appendOne(*j, "young").ok());
  time_.advance(std::chrono::minutes(2));
  ASSERT_TRUE(appendOne(*j, "next").ok());
  j->stop();
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  ASSERT_EQ(m.segments_size(), 2);
  EXPECT_EQ(m.segments(0).last_seq(), 2u);
  EXPECT_EQ(m.segments(1).first_seq(), 3u);
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
}

// Rotation by age also happens without traffic: the idle writer checks on its own tick.
TEST_F(JournalTest, RotatesByAgeWhileIdle) {
  auto o = options();
  o.segment_max_age = std::chrono::hours(1);
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "e1").ok());
  time_.advance(std::chrono::hours(2));
  pb::Manifest m;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(test::readManifest(dir_, m));
    if (m.segments_size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // waiting for the tick
  }
  ASSERT_EQ(m.segments_size(), 2);
  EXPECT_EQ(m.segments(0).state(), pb::Manifest::CLOSED);
  EXPECT_EQ(m.segments(0).last_seq(), 1u);
  EXPECT_EQ(appendOne(*j, "e2").seq, 2u);
  j->stop();
  EXPECT_TRUE(verify().ok);
}

// The MANIFEST cannot be replaced during a rotation: the new segment file is removed, the batch
// goes to the old segment, and the rotation is retried after retry_interval.
TEST_F(JournalTest, FailedRotationKeepsWritingTheOldSegment) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  o.segment_max_age = std::chrono::hours(1);
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "e1").ok());
  time_.advance(std::chrono::hours(2));
  ops->failAfter(Op::Rename, 0, 1, EIO);
  ASSERT_TRUE(appendOne(*j, "e2").ok());
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  EXPECT_EQ(m.segments_size(), 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()),
            3);                           // LOCK, MANIFEST, one segment: no leftover
  ASSERT_TRUE(appendOne(*j, "e3").ok());  // not retried before retry_interval
  ASSERT_TRUE(test::readManifest(dir_, m));
  EXPECT_EQ(m.segments_size(), 1);
  time_.advance(std::chrono::seconds(1));
  ASSERT_TRUE(appendOne(*j, "e4").ok());  // rotates now
  j->stop();
  ASSERT_TRUE(test::readManifest(dir_, m));
  ASSERT_EQ(m.segments_size(), 2);
  EXPECT_EQ(m.segments(0).last_seq(), 3u);
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), 4u);
}

// A crash between creating the next segment and replacing MANIFEST leaves a segment file that
// holds only its SegmentStart: removed at open. Any other unlisted segment is refused.
TEST_F(JournalTest, InterruptedRotationLeftoverIsRemovedAtOpen) {
  {
    auto j = openOk(options());
    ASSERT_TRUE(appendOne(*j, "e1").ok());
  }
  pb::JournalRecord rec;
  rec.mutable_segment_start()->set_node_id("kz-test-1");
  rec.mutable_segment_start()->set_segment_index(2);
  rec.mutable_segment_start()->set_first_seq(2);
  std::string bytes(kSegmentMagic);
  appendFrame(bytes, test::deterministic(rec));
  const fs::path leftover = dir_ / segmentFileName(2, 2);
  test::writeFile(leftover, bytes);
  {
    auto r = open(options());
    ASSERT_TRUE(r.journal) << r.error;
    EXPECT_FALSE(fs::exists(leftover));
    EXPECT_EQ(appendOne(*r.journal, "e2").seq, 2u);
  }
  test::writeFile(dir_ / segmentFileName(7, 100), bytes);
  auto r = open(options());
  EXPECT_FALSE(r.journal);
  EXPECT_TRUE(r.corrupt);
  EXPECT_NE(r.error.find(segmentFileName(7, 100)), std::string::npos) << r.error;
}

TEST_F(JournalTest, RetentionArchivesAVerifiedCopyAndRemovesTheLocalFile) {
  auto o = options();
  o.segment_max_age = std::chrono::hours(1);
  o.retention = std::chrono::hours(24);
  o.archive_dir = root_ / "archive";
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "e1").ok());
  time_.advance(std::chrono::hours(2));
  ASSERT_TRUE(appendOne(*j, "e2").ok());  // rotates: segment 1 closed now
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  ASSERT_EQ(m.segments_size(), 2);
  const std::string name = m.segments(0).file_name();
  const std::string original = test::readFile(dir_ / name);
  time_.advance(std::chrono::hours(25));
  ASSERT_TRUE(appendOne(*j, "e3").ok());  // rotates segment 2, archives segment 1
  j->stop();
  ASSERT_TRUE(test::readManifest(dir_, m));
  EXPECT_EQ(m.segments(0).state(), pb::Manifest::ARCHIVED);
  EXPECT_EQ(m.segments(0).archive_path(), (o.archive_dir / name).string());
  EXPECT_EQ(m.segments(1).state(), pb::Manifest::CLOSED);  // closed less than 24 h ago
  EXPECT_FALSE(fs::exists(dir_ / name));
  EXPECT_EQ(test::readFile(o.archive_dir / name), original);
  const auto v = verify();  // reads the archived segment from the archive
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), 3u);
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_segments_archived_total"), 1);
  // The journal reopens with an archived segment.
  j.reset();  // releases LOCK
  auto r = open(o);
  ASSERT_TRUE(r.journal) << r.error;
  EXPECT_EQ(r.journal->head().seq, 3u);
}

TEST_F(JournalTest, UnwritableArchiveKeepsTheSegment) {
  test::writeFile(root_ / "not-a-dir", "x");
  auto o = options();
  o.segment_max_age = std::chrono::hours(1);
  o.retention = std::chrono::hours(24);
  o.archive_dir = root_ / "not-a-dir" / "archive";
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "e1").ok());
  time_.advance(std::chrono::hours(2));
  ASSERT_TRUE(appendOne(*j, "e2").ok());
  time_.advance(std::chrono::hours(25));
  ASSERT_TRUE(appendOne(*j, "e3").ok());
  j->stop();
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  EXPECT_EQ(m.segments(0).state(), pb::Manifest::CLOSED);
  EXPECT_TRUE(fs::exists(dir_ / m.segments(0).file_name()));
  EXPECT_GE(metricValue(metrics_, "qaqpa_journal_archive_failures_total"), 1);
  EXPECT_TRUE(verify().ok);
}

TEST_F(JournalTest, ArchiveCopyFailureMidWayKeepsTheSegment) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  o.segment_max_age = std::chrono::hours(1);
  o.retention = std::chrono::hours(24);
  o.archive_dir = root_ / "archive";
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "e1").ok());
  time_.advance(std::chrono::hours(2));
  ASSERT_TRUE(appendOne(*j, "e2").ok());
  time_.advance(std::chrono::hours(25));
  // The rotation before e3 fsyncs the directory (new segment), MANIFEST.tmp and the directory
  // again; then the archival fsyncs its copy: fail that one.
  ops->failAfter(Op::Fsync, 3, 1, EIO);
  ASSERT_TRUE(appendOne(*j, "e3").ok());
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  ASSERT_EQ(m.segments_size(), 3);
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_archive_failures_total"), 1);
  EXPECT_EQ(m.segments(0).state(), pb::Manifest::CLOSED);
  EXPECT_TRUE(fs::exists(dir_ / m.segments(0).file_name()));
  EXPECT_FALSE(fs::exists(o.archive_dir / m.segments(0).file_name()));
  // Retried later: after retry_interval it succeeds.
  time_.advance(std::chrono::seconds(2));
  ASSERT_TRUE(appendOne(*j, "e4").ok());
  j->stop();
  ASSERT_TRUE(test::readManifest(dir_, m));
  EXPECT_EQ(m.segments(0).state(), pb::Manifest::ARCHIVED);
  EXPECT_FALSE(fs::exists(dir_ / m.segments(0).file_name()));
  EXPECT_TRUE(verify().ok);
}

TEST_F(JournalTest, TornTailIsTruncatedAndTheJournalContinues) {
  {
    auto j = openOk(options());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(appendOne(*j, "e" + std::to_string(i)).ok());
  }
  const fs::path seg = openSegment();
  std::string bytes = test::readFile(seg);
  // Cut the last record (the last checkpoint) in the middle, then add garbage.
  const SegmentScan scan = scanSegmentBlocking(seg);
  const std::uint64_t last = scan.frames.back().offset;
  bytes.resize(last + 11);
  bytes += std::string("\x13\x37garbage-after-a-crash", 23);
  test::writeFile(seg, bytes);

  auto r = open(options());
  ASSERT_TRUE(r.journal) << r.error;
  EXPECT_EQ(r.torn_tail_bytes, 11u + 23u);
  EXPECT_EQ(r.events_recovered, 5u);  // the events were whole: kept
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_torn_tail_truncations_total"), 1);
  EXPECT_EQ(appendOne(*r.journal, "after").seq, 6u);
  r.journal->stop();
  const auto v = verify();  // the recovered events got a checkpoint at open
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), 6u);
}

TEST_F(JournalTest, TornEventIsDropped) {
  {
    auto j = openOk(options());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(appendOne(*j, "e" + std::to_string(i)).ok());
  }
  const fs::path seg = openSegment();
  const SegmentScan scan = scanSegmentBlocking(seg);
  // frames: start, e0, cp, e1, cp, e2, cp — cut inside e2.
  ASSERT_EQ(scan.frames.size(), 7u);
  fs::resize_file(seg, scan.frames[5].offset + 20);
  auto r = open(options());
  ASSERT_TRUE(r.journal) << r.error;
  EXPECT_EQ(r.events_recovered, 2u);
  EXPECT_EQ(r.journal->head().seq, 2u);
  EXPECT_EQ(appendOne(*r.journal, "again").seq, 3u);
  r.journal->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.event_ids.back(), "again");
}

TEST_F(JournalTest, CorruptionInsideTheFileIsRefused) {
  {
    auto j = openOk(options());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(appendOne(*j, "e" + std::to_string(i)).ok());
  }
  const fs::path seg = openSegment();
  const SegmentScan scan = scanSegmentBlocking(seg);
  std::string bytes = test::readFile(seg);
  const std::uint64_t off = scan.frames[3].offset;  // the second event
  bytes[off + kFrameHeaderBytes + 10] ^= 0x40;
  test::writeFile(seg, bytes);
  auto r = open(options());
  EXPECT_FALSE(r.journal);
  EXPECT_TRUE(r.corrupt);
  EXPECT_NE(r.error.find(seg.string()), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("offset " + std::to_string(off)), std::string::npos) << r.error;
  EXPECT_EQ(r.repair_command, "qaqpa journal repair " + dir_.string());
  // Nothing was truncated.
  EXPECT_EQ(test::readFile(seg), bytes);
}

TEST_F(JournalTest, BrokenHashLinkIsRefusedEvenWithAValidCrc) {
  {
    auto j = openOk(options());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(appendOne(*j, "e" + std::to_string(i)).ok());
  }
  const fs::path seg = openSegment();
  const SegmentScan scan = scanSegmentBlocking(seg);
  // Rewrite event 2 with another event id, re-framed with a correct CRC: only the chain tells.
  pb::JournalRecord rec;
  ASSERT_TRUE(rec.ParseFromString(scan.frames[3].payload));
  rec.mutable_event()->set_event_id("e1-forged");
  std::string forged;
  appendFrame(forged, test::deterministic(rec));
  std::string bytes = test::readFile(seg);
  const std::size_t off = scan.frames[3].offset;
  const std::size_t len = kFrameHeaderBytes + scan.frames[3].payload.size();
  ASSERT_EQ(forged.size(), len + 7);  // "-forged"
  bytes.replace(off, len, forged);
  test::writeFile(seg, bytes);
  auto r = open(options());
  EXPECT_FALSE(r.journal);
  EXPECT_TRUE(r.corrupt);
  EXPECT_NE(r.error.find("seq 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("hash mismatch"), std::string::npos) << r.error;
}

TEST_F(JournalTest, MissingSegmentIsRefused) {
  auto o = options();
  o.segment_max_bytes = 2048;
  {
    auto j = openOk(o);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(appendOne(*j, "e" + std::to_string(i)).ok());
  }
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  ASSERT_GE(m.segments_size(), 3);
  const fs::path gone = dir_ / m.segments(1).file_name();
  fs::remove(gone);
  auto r = open(o);
  EXPECT_FALSE(r.journal);
  EXPECT_TRUE(r.corrupt);
  EXPECT_NE(r.error.find(gone.string()), std::string::npos) << r.error;
}

TEST_F(JournalTest, MissingManifestWithSegmentsIsRefused) {
  {
    auto j = openOk(options());
    ASSERT_TRUE(appendOne(*j, "e").ok());
  }
  fs::remove(dir_ / "MANIFEST");
  auto r = open(options());
  EXPECT_FALSE(r.journal);
  EXPECT_TRUE(r.corrupt);
  EXPECT_NE(r.error.find("no MANIFEST"), std::string::npos) << r.error;
  EXPECT_EQ(r.repair_command, "qaqpa journal repair " + dir_.string());
}

TEST_F(JournalTest, ManifestStartingAtSeqZeroIsRefused) {
  {
    auto j = openOk(options());
    ASSERT_TRUE(appendOne(*j, "e").ok());
  }
  pb::Manifest m;
  ASSERT_TRUE(test::readManifest(dir_, m));
  auto* seg = m.mutable_segments(0);
  const std::string old_name = seg->file_name();
  seg->set_first_seq(0);
  seg->set_file_name(segmentFileName(seg->segment_index(), 0));
  fs::rename(dir_ / old_name, dir_ / seg->file_name());
  std::string error;
  ASSERT_TRUE(writeManifestBlocking(dir_, canonicalBytes(m), error)) << error;
  auto r = open(options());
  EXPECT_FALSE(r.journal);
  EXPECT_TRUE(r.corrupt);
  EXPECT_NE(r.error.find("start at 1"), std::string::npos) << r.error;
}

TEST_F(JournalTest, SecondOpenOfTheSameDirectoryIsRefused) {
  auto j = openOk(options());
  ASSERT_TRUE(j);
  auto r = open(options());
  EXPECT_FALSE(r.journal);
  EXPECT_FALSE(r.corrupt);
  EXPECT_NE(r.error.find(dir_.string()), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("in use"), std::string::npos) << r.error;
  // The refused open did not disturb the first.
  EXPECT_TRUE(appendOne(*j, "still").ok());
  j.reset();
  EXPECT_TRUE(open(options()).journal);  // released with the first
}

TEST_F(JournalTest, SecondProcessIsRefused) {
  auto j = openOk(options());
  ASSERT_TRUE(j);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ManualTimeSource t;
    auto r = Journal::openBlocking(options(), signer_.signer(), t);
    ::_exit(!r.journal && r.error.find("in use") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(JournalTest, WrongNodeIsRefused) {
  { auto j = openOk(options()); }
  auto o = options();
  o.node_id = "kz-other";
  auto r = open(o);
  EXPECT_FALSE(r.journal);
  EXPECT_NE(r.error.find("kz-test-1"), std::string::npos) << r.error;
}

// Disk full on the n-th write (after a short write), then EIO on the n-th fdatasync: each
// failed batch is refused whole and leaves nothing on disk; the chain continues without a gap.
TEST_F(JournalTest, FailedWriteOrSyncRefusesTheBatchAndLeavesNothing) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "ok1").ok());
  const auto size_before = fs::file_size(openSegment());

  ops->failAfter(Op::Write, 0, 1000, ENOSPC, /*partial=*/true);  // disk full until reset
  Collector c;
  for (int i = 0; i < 3; ++i) j->append(makeEvent("lost" + std::to_string(i)), c.callback());
  for (const auto& r : c.wait(3)) EXPECT_EQ(r.status, AppendStatus::Unavailable);
  EXPECT_FALSE(j->healthy());
  EXPECT_EQ(fs::file_size(openSegment()), size_before);
  EXPECT_EQ(j->head().seq, 1u);
  ops->failAfter(Op::Write, 0, 0, 0);

  ASSERT_TRUE(appendOne(*j, "ok2").ok());
  EXPECT_TRUE(j->healthy());
  EXPECT_EQ(j->head().seq, 2u);

  ops->failAfter(Op::Fdatasync, 0, 1, EIO);
  EXPECT_EQ(appendOne(*j, "lost-sync").status, AppendStatus::Unavailable);
  EXPECT_FALSE(j->healthy());
  const auto scan = scanSegmentBlocking(openSegment());
  EXPECT_EQ(scan.stop, FrameStatus::End);
  EXPECT_EQ(scan.file_size, fs::file_size(openSegment()));

  const auto res = appendOne(*j, "ok3");
  EXPECT_TRUE(res.ok());
  EXPECT_EQ(res.seq, 3u);
  EXPECT_TRUE(j->healthy());
  j->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.event_ids, (std::vector<std::string>{"ok1", "ok2", "ok3"}));
  EXPECT_GE(metricValue(metrics_, "qaqpa_journal_write_failures_total"), 2);
}

// The truncate back fails too: the file stays dirty until the next batch cleans it first.
TEST_F(JournalTest, FailedTruncateIsRepairedBeforeTheNextWrite) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  auto j = openOk(o);
  ASSERT_TRUE(appendOne(*j, "ok1").ok());
  const auto size_before = fs::file_size(openSegment());
  ops->failAfter(Op::Fdatasync, 0, 1, EIO);
  ops->failAfter(Op::Ftruncate, 0, 1, EIO);
  EXPECT_EQ(appendOne(*j, "lost").status, AppendStatus::Unavailable);
  // The failed batch's bytes are still in the file right now.
  EXPECT_GT(fs::file_size(openSegment()), size_before);
  ASSERT_TRUE(appendOne(*j, "ok2").ok());
  j->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.event_ids, (std::vector<std::string>{"ok1", "ok2"}));
}

// While unhealthy and idle, the writer probes and reports healthy again once writes work.
TEST_F(JournalTest, ProbeRestoresHealthWithoutTraffic) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  auto j = openOk(o);
  ops->failAfter(Op::Write, 0, 1, ENOSPC);
  EXPECT_EQ(appendOne(*j, "lost").status, AppendStatus::Unavailable);
  EXPECT_FALSE(j->healthy());
  const int writes = ops->calls(Op::Write);
  time_.advance(std::chrono::seconds(1));  // past retry_interval
  // The idle writer wakes on its own (a real-time tick) and probes; wait for the outcome.
  for (int i = 0; i < 200 && !j->healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(j->healthy());
  EXPECT_GT(ops->calls(Op::Write), writes);  // it wrote something to find out
  EXPECT_FALSE(fs::exists(dir_ / "PROBE"));
}

TEST_F(JournalTest, UnsignableBatchIsRefused) {
  auto j = openOk(options());
  ASSERT_TRUE(appendOne(*j, "ok1").ok());
  signer_.fail->store(true);
  EXPECT_EQ(appendOne(*j, "unsigned").status, AppendStatus::Unavailable);
  EXPECT_FALSE(j->healthy());
  signer_.fail->store(false);
  EXPECT_EQ(appendOne(*j, "ok2").seq, 2u);
  j->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.event_ids, (std::vector<std::string>{"ok1", "ok2"}));
}

TEST_F(JournalTest, OverloadedWhenTheQueueIsFull) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  o.max_queue_events = 4;
  auto j = openOk(o);
  ops->closeGate();
  Collector first;
  j->append(makeEvent("in-flight"), first.callback());
  ops->waitUntilWriterBlocked();  // the writer holds it, the queue is empty again
  Collector queued;
  for (int i = 0; i < 4; ++i) j->append(makeEvent("q" + std::to_string(i)), queued.callback());
  Collector refused;
  j->append(makeEvent("too-many"), refused.callback());
  ASSERT_EQ(refused.size(), 1u);  // completed inline
  EXPECT_EQ(refused.wait(1)[0].status, AppendStatus::Overloaded);
  ops->openGate();
  EXPECT_EQ(first.wait(1)[0].seq, 1u);
  for (const auto& r : queued.wait(4)) EXPECT_TRUE(r.ok());
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_overloaded_total"), 1);
}

TEST_F(JournalTest, AppendManyKeepsOrderAndIsAllOrNothingAgainstTheBound) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  o.max_queue_events = 4;
  auto j = openOk(o);
  Collector group;
  std::vector<Journal::AppendRequest> three;
  for (int i = 0; i < 3; ++i)
    three.push_back({makeEvent("g" + std::to_string(i)), group.callback()});
  j->appendMany(std::move(three));
  const auto results = group.wait(3);
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].ok());
    EXPECT_EQ(results[i].seq, i + 1) << "in the order handed over";
  }

  ops->closeGate();
  Collector first;
  j->append(makeEvent("in-flight"), first.callback());
  ops->waitUntilWriterBlocked();
  Collector fits;
  std::vector<Journal::AppendRequest> two;
  for (int i = 0; i < 2; ++i) two.push_back({makeEvent("f" + std::to_string(i)), fits.callback()});
  j->appendMany(std::move(two));
  Collector refused;
  std::vector<Journal::AppendRequest> three_more;  // 2 queued + 3 > 4: none is taken
  for (int i = 0; i < 3; ++i) {
    three_more.push_back({makeEvent("r" + std::to_string(i)), refused.callback()});
  }
  j->appendMany(std::move(three_more));
  ASSERT_EQ(refused.size(), 3u);  // completed inline
  for (const auto& r : refused.wait(3)) EXPECT_EQ(r.status, AppendStatus::Overloaded);
  ops->openGate();
  EXPECT_EQ(first.wait(1)[0].seq, 4u);
  for (const auto& r : fits.wait(2)) EXPECT_TRUE(r.ok());
  EXPECT_EQ(metricValue(metrics_, "qaqpa_journal_overloaded_total"), 3);
  j->stop();
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.event_ids, (std::vector<std::string>{"g0", "g1", "g2", "in-flight", "f0", "f1"}));
}

TEST_F(JournalTest, StopFlushesQueuedEventsAndRefusesLaterOnes) {
  auto o = options();
  o.fsync = FsyncPolicy::None;
  auto j = openOk(o);
  Collector c;
  for (int i = 0; i < 1000; ++i) j->append(makeEvent("e" + std::to_string(i)), c.callback());
  j->stop();
  EXPECT_EQ(c.size(), 1000u);  // all completed before stop returned
  for (const auto& r : c.wait(1000)) EXPECT_TRUE(r.ok());
  Collector late;
  j->append(makeEvent("late"), late.callback());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late.wait(1)[0].status, AppendStatus::Stopped);
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.seqs.size(), 1000u);
}

TEST_F(JournalTest, GroupCommitTakesAtMostMaxBatchEvents) {
  auto ops = std::make_shared<FailingFileOps>();
  auto o = options();
  o.file_ops = ops;
  o.max_batch_events = 7;
  auto j = openOk(o);
  ops->closeGate();
  Collector c;
  j->append(makeEvent("first"), c.callback());
  ops->waitUntilWriterBlocked();
  for (int i = 0; i < 99; ++i) j->append(makeEvent("e" + std::to_string(i)), c.callback());
  const int writes = ops->calls(Op::Write);
  ops->openGate();
  c.wait(100);
  j->stop();
  // One write(2) and one signature per batch: 1 + ceil(99 / 7) = 16 batches.
  EXPECT_EQ(ops->calls(Op::Write) - writes, 16);  // the blocked one is counted after the gate
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.checkpoints, 16);
}

TEST_F(JournalTest, RetentionWithoutArchiveDirIsRefused) {
  auto o = options();
  o.retention = std::chrono::hours(1);
  auto r = open(o);
  EXPECT_FALSE(r.journal);
  EXPECT_NE(r.error.find("archive_dir"), std::string::npos);
}

// A real file-size limit (EFBIG from the kernel) in a child process: the batch that crosses it
// is refused and nothing of it stays on disk.
TEST_F(JournalTest, RealFileSizeLimitFailsClosed) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    ManualTimeSource t;
    auto r = Journal::openBlocking(options(), signer_.signer(), t);
    if (!r.journal) ::_exit(10);
    const auto size = fs::file_size(openSegment());
    rlimit lim{static_cast<rlim_t>(size + 1500), static_cast<rlim_t>(size + 1500)};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    Collector c;
    r.journal->append(makeEvent("fits"), c.callback());
    c.wait(1);
    r.journal->append(makeEvent("too-big", 2000), c.callback());
    const auto res = c.wait(2);
    if (!res[0].ok()) ::_exit(11);
    if (res[1].status != AppendStatus::Unavailable || r.journal->healthy()) ::_exit(12);
    r.journal->stop();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const auto v = verify();
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.event_ids, (std::vector<std::string>{"fits"}));
}

}  // namespace
}  // namespace qaqpa::journal
