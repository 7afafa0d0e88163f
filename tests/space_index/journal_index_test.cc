// The index against a real journal (journal::Journal with a real Ed25519 signer): rebuild at
// start, the hand-over to the writer thread's feed, reading events back at their locations
// (refusing changed files), and the proof of §7's single-event view.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "gateway/journal/format.h"
#include "gateway/journal/journal.h"
#include "gateway/space_index/event_reader.h"
#include "gateway/space_index/journal_feed.h"
#include "gateway/space_index/memory_event_index.h"
#include "tests/consent/manual_time_source.h"
#include "tests/space_index/space_index_test_util.h"

namespace qaqpa::space_index {
namespace {

namespace fs = std::filesystem;
using journal::test::Collector;
using journal::test::TestSigner;
using test::EventSpec;
using test::kA;
using test::kB;
using test::kCompany;
using test::pb::DigitalEvent;

// Every event in the journal's files by seq (an independent, test-only reading).
std::map<std::uint64_t, DigitalEvent> readAll(const fs::path& dir) {
  std::map<std::uint64_t, DigitalEvent> out;
  test::pb::Manifest m;
  EXPECT_TRUE(journal::test::readManifest(dir, m));
  for (const auto& s : m.segments()) {
    const auto scan = journal::scanSegmentBlocking(dir / s.file_name());
    for (const auto& f : scan.frames) {
      test::pb::JournalRecord rec;
      EXPECT_TRUE(rec.ParseFromString(f.payload));
      if (rec.has_event()) out[rec.event().seq()] = rec.event();
    }
  }
  return out;
}

std::vector<std::uint64_t> walkAll(const EventIndex& index, std::string_view subject,
                                   std::size_t limit = 7) {
  Query q;
  q.limit = limit;
  std::vector<std::uint64_t> out;
  for (;;) {
    const PageResult r = index.page(subject, q);
    EXPECT_EQ(r.status, IndexStatus::Ok);
    if (r.status != IndexStatus::Ok) break;
    for (const auto& e : r.page.entries) out.push_back(e.seq);
    if (r.page.next_cursor.empty()) break;
    q.cursor = r.page.next_cursor;
  }
  return out;
}

std::vector<std::uint64_t> truthSeqs(const std::map<std::uint64_t, DigitalEvent>& all,
                                     std::string_view subject) {
  std::vector<std::uint64_t> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->second.subject() == subject) out.push_back(it->first);
  }
  return out;
}

std::vector<IndexEntry> entriesOf(const EventIndex& index, std::string_view subject) {
  Query q;
  q.limit = kMaxPageLimit;
  return index.page(subject, q).page.entries;
}

class JournalIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qaqpa-space-index-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    files_.dir = root_ / "journal";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  journal::JournalOptions options() const {
    journal::JournalOptions o;
    o.dir = files_.dir;
    o.node_id = "kz-test-1";
    o.fsync = journal::FsyncPolicy::None;
    o.retry_interval = std::chrono::milliseconds(100);
    return o;
  }
  std::unique_ptr<journal::Journal> open(journal::JournalOptions o) {
    auto r = journal::Journal::openBlocking(std::move(o), signer_.signer(), time_);
    EXPECT_TRUE(r.journal) << r.error;
    return std::move(r.journal);
  }
  // Subjects cycle A, B, none, company; every event id unique across the test.
  EventSpec next() {
    EventSpec s;
    const std::uint64_t n = ++counter_;
    s.event_id = test::uuidFor(n);
    static constexpr std::string_view kSubjects[] = {kA, kB, "", kCompany};
    s.subject = std::string(kSubjects[n % 4]);
    s.kind = n % 3 ? test::pb::DATA_ACCESS : test::pb::ACCESS_DENIED;
    s.time_s = test::kT0 + static_cast<std::int64_t>(n);
    return s;
  }
  // `n` events handed over at once (one group: usually one batch), completion awaited.
  void appendGroup(journal::Journal& j, int n, std::function<EventSpec()> make = {}) {
    Collector c;
    std::vector<journal::Journal::AppendRequest> reqs;
    for (int i = 0; i < n; ++i) {
      reqs.push_back({test::eventBytes(make ? make() : next()), c.callback()});
    }
    j.appendMany(std::move(reqs));
    for (const auto& r : c.wait(static_cast<std::size_t>(n))) ASSERT_TRUE(r.ok());
  }
  // Each event its own batch.
  void appendEach(journal::Journal& j, int n, std::function<EventSpec()> make = {}) {
    for (int i = 0; i < n; ++i) appendGroup(j, 1, make);
  }

  fs::path root_;
  JournalFiles files_;
  TestSigner signer_;
  test_support::ManualTimeSource time_;
  std::uint64_t counter_ = 0;
};

TEST_F(JournalIndexTest, RebuildThenFeedContinuesWithoutGapOrDuplicate) {
  auto o = options();
  o.segment_max_bytes = 8192;  // several segments
  {
    auto j = open(o);
    appendEach(*j, 25);
    appendGroup(*j, 35);
    j->stop();
  }
  auto j = open(o);
  const std::uint64_t head = j->head().seq;  // 1. the head at open
  ASSERT_EQ(head, 60u);
  MemoryEventIndex index;
  j->setLocatedCommitObserver(makeJournalFeed(index));  // 2. the feed, before any append
  // 3. the rebuild, while the writer keeps committing (and feeding) new events.
  Collector c;
  for (int i = 0; i < 80; ++i) j->append(test::eventBytes(next()), c.callback());
  const RebuildResult rebuilt = index.rebuildBlocking(files_, head);
  ASSERT_TRUE(rebuilt.ok) << rebuilt.error;
  EXPECT_EQ(rebuilt.events_scanned, 60u);
  EXPECT_EQ(rebuilt.events_indexed, 45u);  // three subjects in four
  EXPECT_GE(rebuilt.segments_read, 2u);
  for (const auto& r : c.wait(80)) ASSERT_TRUE(r.ok());
  appendEach(*j, 5);  // and after the hand-over
  j->stop();

  const auto all = readAll(files_.dir);
  ASSERT_EQ(all.size(), 145u);
  for (const std::string_view s : {kA, kB, kCompany}) {
    const auto got = walkAll(index, s);
    EXPECT_EQ(got, truthSeqs(all, s)) << s;
  }
  const auto st = index.stats();
  EXPECT_EQ(st.entries, 145u - 145u / 4);  // n % 4 == 2 has no subject
  EXPECT_EQ(st.duplicates_ignored, 0u);
  EXPECT_EQ(st.last_seq, 145u);
  // Every entry points at its event: read them back, compare with the files.
  for (const std::string_view s : {kA, kB, kCompany}) {
    Query q;
    q.limit = kMaxPageLimit;
    const auto entries = index.page(s, q).page.entries;
    const ReadResult read = readEventsBlocking(files_, s, entries);
    ASSERT_EQ(read.status, ReadStatus::Ok) << read.error;
    ASSERT_EQ(read.events.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const DigitalEvent& truth = all.at(entries[i].seq);
      EXPECT_EQ(read.events[i].SerializeAsString(), truth.SerializeAsString());
      EXPECT_EQ(entries[i].time_us, truth.time().seconds() * 1000000);
      EXPECT_EQ(entries[i].kind, truth.kind());
    }
    // find() by id for every one of them, and never across subjects.
    for (const auto& e : entries) {
      const auto f = index.find(s, all.at(e.seq).event_id());
      ASSERT_EQ(f.status, IndexStatus::Ok);
      EXPECT_EQ(f.entry.seq, e.seq);
      EXPECT_EQ(f.entry.where, e.where);
      EXPECT_EQ(index.find(s == kA ? kB : kA, all.at(e.seq).event_id()).status,
                IndexStatus::NotFound);
    }
  }
}

TEST_F(JournalIndexTest, TheFeedAloneIndexesANewJournalAndSkipsSubjectlessEvents) {
  MemoryEventIndex index;
  auto j = open(options());
  ASSERT_EQ(j->head().seq, 0u);
  j->setLocatedCommitObserver(makeJournalFeed(index));
  ASSERT_TRUE(index.rebuildBlocking(files_, 0).ok);  // nothing to read: ready at once
  appendGroup(*j, 12);
  j->stop();
  const auto all = readAll(files_.dir);
  EXPECT_EQ(walkAll(index, kA, 200), truthSeqs(all, kA));
  EXPECT_EQ(index.stats().entries, 9u);
}

TEST_F(JournalIndexTest, ARebuildThatCannotReachTheHeadLeavesTheIndexUnavailable) {
  {
    auto j = open(options());
    appendGroup(*j, 10);
    j->stop();
  }
  MemoryEventIndex index;
  const RebuildResult beyond = index.rebuildBlocking(files_, 15);
  EXPECT_FALSE(beyond.ok);
  EXPECT_NE(beyond.error.find("end at seq 10"), std::string::npos) << beyond.error;
  Query q;
  EXPECT_EQ(index.page(kA, q).status, IndexStatus::Unavailable);
  EXPECT_EQ(index.find(kA, test::uuidFor(1)).status, IndexStatus::Unavailable);
  // No MANIFEST: refused too.
  JournalFiles nowhere{root_ / "nowhere", {}};
  EXPECT_FALSE(index.rebuildBlocking(nowhere, 3).ok);
  // A corrupt frame before the head: refused, and the error names file and offset.
  const auto all = readAll(files_.dir);
  MemoryEventIndex probe;
  ASSERT_TRUE(probe.rebuildBlocking(files_, 10).ok);
  const IndexEntry victim = entriesOf(probe, kA).back();  // A's oldest event
  const fs::path seg = files_.dir / journal::segmentFileName(victim.where.segment_index,
                                                             victim.where.segment_first_seq);
  std::string bytes = journal::test::readFile(seg);
  const std::string original = bytes;
  bytes[victim.where.offset + 20] ^= 1;
  journal::test::writeFile(seg, bytes);
  const RebuildResult damaged = index.rebuildBlocking(files_, 10);
  EXPECT_FALSE(damaged.ok);
  EXPECT_NE(damaged.error.find(seg.filename().string()), std::string::npos) << damaged.error;
  EXPECT_EQ(index.page(kA, q).status, IndexStatus::Unavailable);
  // Repaired: the same index rebuilds and serves.
  journal::test::writeFile(seg, original);
  ASSERT_TRUE(index.rebuildBlocking(files_, 10).ok);
  EXPECT_EQ(walkAll(index, kA), truthSeqs(all, kA));
}

TEST_F(JournalIndexTest, ReadingRefusesAFileThatChangedUnderneath) {
  {
    auto j = open(options());
    appendGroup(*j, 20);
    j->stop();
  }
  MemoryEventIndex index;
  ASSERT_TRUE(index.rebuildBlocking(files_, 20).ok);
  const auto a = entriesOf(index, kA);
  const auto b = entriesOf(index, kB);
  ASSERT_GE(a.size(), 3u);
  ASSERT_EQ(readEventsBlocking(files_, kA, a).status, ReadStatus::Ok);
  const IndexEntry ea = a[1];
  // B's event right after A's (seq + 1: subjects cycle A, B, …), with a frame of the same size.
  const auto eb =
      std::find_if(b.begin(), b.end(), [&](const auto& e) { return e.seq == ea.seq + 1; });
  ASSERT_NE(eb, b.end());
  ASSERT_EQ(ea.where.size, eb->where.size);
  ASSERT_EQ(ea.where.segment_index, eb->where.segment_index);
  const fs::path seg =
      files_.dir / journal::segmentFileName(ea.where.segment_index, ea.where.segment_first_seq);
  const std::string original = journal::test::readFile(seg);

  // 1. The two frames swapped: both CRC-valid, each at the other's place. A must never be served
  //    B's event.
  std::string swapped = original;
  swapped.replace(ea.where.offset, ea.where.size, original, eb->where.offset, eb->where.size);
  swapped.replace(eb->where.offset, eb->where.size, original, ea.where.offset, ea.where.size);
  journal::test::writeFile(seg, swapped);
  const ReadResult r1 = readEventsBlocking(files_, kA, a);
  EXPECT_EQ(r1.status, ReadStatus::Changed);
  EXPECT_TRUE(r1.events.empty());
  EXPECT_NE(r1.error.find("not the indexed event"), std::string::npos) << r1.error;
  EXPECT_EQ(proofBlocking(files_, kA, ea).status, ReadStatus::Changed);
  EXPECT_EQ(readEventsBlocking(files_, kB, {*eb}).status, ReadStatus::Changed);

  // 2. One bit flipped inside A's frame: the CRC says so.
  std::string flipped = original;
  flipped[ea.where.offset + ea.where.size - 40] ^= 0x10;
  journal::test::writeFile(seg, flipped);
  const ReadResult r2 = readEventsBlocking(files_, kA, {ea});
  EXPECT_EQ(r2.status, ReadStatus::Changed);
  EXPECT_NE(r2.error.find("CRC"), std::string::npos) << r2.error;

  // 3. Truncated before the frame ends.
  journal::test::writeFile(seg, original.substr(0, ea.where.offset + ea.where.size - 1));
  EXPECT_EQ(readEventsBlocking(files_, kA, {ea}).status, ReadStatus::Changed);

  // 4. Intact file, but asked for another subject (an entry must match the asker too).
  journal::test::writeFile(seg, original);
  EXPECT_EQ(readEventsBlocking(files_, kA, {ea}).status, ReadStatus::Ok);
  EXPECT_EQ(readEventsBlocking(files_, kB, {ea}).status, ReadStatus::Changed);
  IndexEntry wrong_seq = ea;
  ++wrong_seq.seq;
  EXPECT_EQ(readEventsBlocking(files_, kA, {wrong_seq}).status, ReadStatus::Changed);
  IndexEntry wrong_key = ea;
  wrong_key.key[15] ^= 1;
  EXPECT_EQ(readEventsBlocking(files_, kA, {wrong_key}).status, ReadStatus::Changed);
  IndexEntry wrong_size = ea;
  wrong_size.where.size += 1;
  EXPECT_EQ(readEventsBlocking(files_, kA, {wrong_size}).status, ReadStatus::Changed);

  // 5. The segment moved to the archive directory: found there; gone from both: Missing.
  files_.archive_dir = root_ / "archive";
  fs::create_directories(files_.archive_dir);
  fs::rename(seg, files_.archive_dir / seg.filename());
  EXPECT_EQ(readEventsBlocking(files_, kA, a).status, ReadStatus::Ok);
  EXPECT_EQ(proofBlocking(files_, kA, ea).status, ReadStatus::Ok);
  fs::remove(files_.archive_dir / seg.filename());
  EXPECT_EQ(readEventsBlocking(files_, kA, a).status, ReadStatus::Missing);
  EXPECT_EQ(proofBlocking(files_, kA, ea).status, ReadStatus::Missing);
}

// Checks a proof against the files: neighbours' hashes and a checkpoint whose signature
// verifies with the journal's key.
void expectProof(const Proof& p, const std::map<std::uint64_t, DigitalEvent>& all,
                 const TestSigner& signer) {
  const std::uint64_t seq = p.event.seq();
  EXPECT_EQ(p.event.SerializeAsString(), all.at(seq).SerializeAsString());
  EXPECT_EQ(p.prev_hash, seq == 1 ? std::string(32, '\0') : all.at(seq - 1).hash());
  if (all.count(seq + 1)) {
    ASSERT_TRUE(p.next_hash) << seq;
    EXPECT_EQ(*p.next_hash, all.at(seq + 1).hash());
  } else {
    EXPECT_FALSE(p.next_hash) << seq;
  }
  ASSERT_TRUE(p.covered) << seq;
  ASSERT_TRUE(p.checkpoint);
  EXPECT_LE(p.checkpoint->first_seq(), seq);
  EXPECT_GE(p.checkpoint->last_seq(), seq);
  EXPECT_EQ(p.checkpoint->chain_head(), all.at(p.checkpoint->last_seq()).hash());
  EXPECT_EQ(p.checkpoint->key_id(), "test-key-1");
  test::pb::Checkpoint unsigned_cp = *p.checkpoint;
  unsigned_cp.clear_signature();
  EXPECT_TRUE(signer.verify(journal::test::deterministic(unsigned_cp), p.checkpoint->signature()));
}

TEST_F(JournalIndexTest, ProofOfEventsInsideAndAtTheEndOfBatches) {
  {
    auto j = open(options());
    // Only A, one group of 10 (one batch), then one more batch.
    auto onlyA = [this] {
      EventSpec s = next();
      s.subject = std::string(kA);
      return s;
    };
    appendGroup(*j, 10, onlyA);
    appendGroup(*j, 3, onlyA);
    j->stop();
  }
  const auto all = readAll(files_.dir);
  MemoryEventIndex index;
  ASSERT_TRUE(index.rebuildBlocking(files_, 13).ok);
  const auto entries = entriesOf(index, kA);
  ASSERT_EQ(entries.size(), 13u);
  for (const IndexEntry& e : entries) {
    const ProofResult r = proofBlocking(files_, kA, e);
    ASSERT_EQ(r.status, ReadStatus::Ok) << r.error;
    expectProof(r.proof, all, signer_);
  }
  // In the middle of the first batch: its batch's checkpoint (1..10), not the next one.
  const ProofResult mid = proofBlocking(files_, kA, entries[13 - 6]);
  ASSERT_EQ(mid.proof.event.seq(), 6u);
  EXPECT_EQ(mid.proof.checkpoint->first_seq(), 1u);
  EXPECT_EQ(mid.proof.checkpoint->last_seq(), 10u);
  // The last of the first batch: the next event is after the checkpoint.
  const ProofResult last = proofBlocking(files_, kA, entries[13 - 10]);
  ASSERT_EQ(last.proof.event.seq(), 10u);
  EXPECT_EQ(last.proof.checkpoint->last_seq(), 10u);
  EXPECT_EQ(*last.proof.next_hash, all.at(11).hash());
  // The head: no next event yet.
  EXPECT_FALSE(proofBlocking(files_, kA, entries[0]).proof.next_hash);
  // Another subject asking for A's entry: refused like a changed file (never A's event).
  EXPECT_EQ(proofBlocking(files_, kB, entries[3]).status, ReadStatus::Changed);
}

TEST_F(JournalIndexTest, ProofAcrossSegmentBoundaries) {
  auto o = options();
  o.segment_max_bytes = 2048;  // two or three events per segment
  auto onlyA = [this] {
    EventSpec s = next();
    s.subject = std::string(kA);
    return s;
  };
  {
    auto j = open(o);
    appendEach(*j, 30, onlyA);
    j->stop();
  }
  const auto all = readAll(files_.dir);
  MemoryEventIndex index;
  ASSERT_TRUE(index.rebuildBlocking(files_, 30).ok);
  const auto entries = entriesOf(index, kA);
  ASSERT_EQ(entries.size(), 30u);
  int boundaries = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ProofResult r = proofBlocking(files_, kA, entries[i]);
    ASSERT_EQ(r.status, ReadStatus::Ok) << r.error;
    expectProof(r.proof, all, signer_);
    // entries are newest first: entries[i - 1] is seq + 1.
    if (i > 0 && entries[i - 1].where.segment_index != entries[i].where.segment_index) {
      ++boundaries;
      EXPECT_EQ(*r.proof.next_hash, all.at(entries[i].seq + 1).hash());
    }
  }
  EXPECT_GE(boundaries, 5);
  // The next segment went missing (archived without an archive directory given): the proof
  // still has the event and its checkpoint, only no next hash.
  const auto boundary = std::find_if(entries.begin() + 1, entries.end(), [&](const auto& e) {
    return (&e - 1)->where.segment_index != e.where.segment_index;
  });
  ASSERT_NE(boundary, entries.end());
  fs::remove(files_.dir /
             journal::segmentFileName(boundary->where.segment_index + 1, boundary->seq + 1));
  const ProofResult cut = proofBlocking(files_, kA, *boundary);
  ASSERT_EQ(cut.status, ReadStatus::Ok);
  EXPECT_TRUE(cut.proof.covered);
  EXPECT_FALSE(cut.proof.next_hash);
}

// The writer puts a batch's events and its checkpoint in one write(2); a crash can still leave
// the events without the checkpoint (a torn write: recovery keeps whole events). Until the
// journal signs them at its next open, such an event's proof says "not covered".
TEST_F(JournalIndexTest, ProofOfTheLastEventBeforeItsCheckpointIsWritten) {
  auto onlyA = [this] {
    EventSpec s = next();
    s.subject = std::string(kA);
    return s;
  };
  {
    auto j = open(options());
    appendGroup(*j, 4, onlyA);
    appendGroup(*j, 3, onlyA);
    j->stop();
  }
  // Cut the last frame (the second batch's checkpoint).
  test::pb::Manifest m;
  ASSERT_TRUE(journal::test::readManifest(files_.dir, m));
  const fs::path seg = files_.dir / m.segments(m.segments_size() - 1).file_name();
  const auto scan = journal::scanSegmentBlocking(seg);
  test::pb::JournalRecord last;
  ASSERT_TRUE(last.ParseFromString(scan.frames.back().payload));
  ASSERT_TRUE(last.has_checkpoint());
  ASSERT_EQ(last.checkpoint().first_seq(), 5u);
  fs::resize_file(seg, scan.frames.back().offset);

  MemoryEventIndex index;
  ASSERT_TRUE(index.rebuildBlocking(files_, 7).ok);
  const auto entries = entriesOf(index, kA);
  ASSERT_EQ(entries.size(), 7u);
  const ProofResult head = proofBlocking(files_, kA, entries[0]);  // seq 7
  ASSERT_EQ(head.status, ReadStatus::Ok) << head.error;
  EXPECT_EQ(head.proof.event.seq(), 7u);
  EXPECT_FALSE(head.proof.covered);
  EXPECT_FALSE(head.proof.checkpoint);
  EXPECT_FALSE(head.proof.next_hash);
  EXPECT_EQ(head.proof.prev_hash, readAll(files_.dir).at(6).hash());
  const ProofResult five = proofBlocking(files_, kA, entries[2]);  // seq 5: the same batch
  EXPECT_FALSE(five.proof.covered);
  EXPECT_EQ(*five.proof.next_hash, readAll(files_.dir).at(6).hash());
  EXPECT_TRUE(proofBlocking(files_, kA, entries[3]).proof.covered);  // seq 4: the first batch

  // The journal reopens: recovery signs a checkpoint over the uncovered tail.
  {
    auto j = open(options());
    j->stop();
  }
  const auto all = readAll(files_.dir);
  const ProofResult signed_now = proofBlocking(files_, kA, entries[0]);
  ASSERT_EQ(signed_now.status, ReadStatus::Ok);
  expectProof(signed_now.proof, all, signer_);
  EXPECT_EQ(signed_now.proof.checkpoint->first_seq(), 5u);
  EXPECT_EQ(signed_now.proof.checkpoint->last_seq(), 7u);
}

}  // namespace
}  // namespace qaqpa::space_index
