#include "gateway/space_index/memory_event_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/space_index/space_index_test_util.h"

namespace qaqpa::space_index {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;
using test::kA;
using test::kB;
using test::ref;
using test::uuidFor;

system_clock::time_point at(std::int64_t s) { return system_clock::time_point(seconds(s)); }

std::vector<std::uint64_t> seqs(const Page& p) {
  std::vector<std::uint64_t> out;
  for (const auto& e : p.entries) out.push_back(e.seq);
  return out;
}

// Every matching seq, walking all pages of `limit`; fails the test on any non-Ok answer.
std::vector<std::uint64_t> walk(const EventIndex& index, std::string_view subject, Query q) {
  std::vector<std::uint64_t> out;
  for (int guard = 0; guard < 10000; ++guard) {
    const PageResult r = index.page(subject, q);
    EXPECT_EQ(r.status, IndexStatus::Ok);
    if (r.status != IndexStatus::Ok) break;
    EXPECT_LE(r.page.entries.size(), q.limit);
    for (const auto& e : r.page.entries) out.push_back(e.seq);
    if (r.page.next_cursor.empty()) break;
    EXPECT_EQ(r.page.entries.size(), q.limit) << "a cursor only after a full page";
    q.cursor = r.page.next_cursor;
  }
  return out;
}

class MemoryEventIndexTest : public ::testing::Test {
 protected:
  // seq 1..100 interleaved: odd → A, even → B (every 10th: no subject, not appended — as the
  // feed would skip it), times one second apart, kinds/services/clients varying.
  void SetUp() override {
    for (std::uint64_t seq = 1; seq <= 100; ++seq) {
      ids_[seq] = uuidFor(seq);
      if (seq % 10 == 0) continue;
      const int kind = seq % 3 == 0 ? test::pb::ACCESS_DENIED : test::pb::DATA_ACCESS;
      const std::string_view service = seq % 4 == 1 ? "tax.debts" : "population.person";
      const std::string_view client =
          seq % 5 == 2 ? "KZ/COM/123456789012/bank" : "KZ/GOV/123456789012/registry";
      index_.append(
          seq % 2 ? kA : kB,
          ref(seq, ids_[seq], test::kT0 + static_cast<std::int64_t>(seq), kind, service, client));
      (seq % 2 ? a_ : b_).insert(seq);
    }
  }
  std::vector<std::uint64_t> expected(bool a, auto&& pred) {
    std::vector<std::uint64_t> out;
    const auto& set = a ? a_ : b_;
    for (auto it = set.rbegin(); it != set.rend(); ++it) {
      if (pred(*it)) out.push_back(*it);
    }
    return out;
  }

  MemoryEventIndex index_;
  std::map<std::uint64_t, std::string> ids_;
  std::set<std::uint64_t> a_, b_;
};

TEST_F(MemoryEventIndexTest, EachCitizenSeesOnlyTheirOwnEventsNewestFirst) {
  Query q;
  q.limit = 200;
  const PageResult ra = index_.page(kA, q);
  ASSERT_EQ(ra.status, IndexStatus::Ok);
  EXPECT_EQ(seqs(ra.page), expected(true, [](auto) { return true; }));
  EXPECT_TRUE(ra.page.next_cursor.empty());
  const PageResult rb = index_.page(kB, q);
  EXPECT_EQ(seqs(rb.page), expected(false, [](auto) { return true; }));
  for (const auto& e : ra.page.entries) EXPECT_EQ(e.seq % 2, 1u);
  for (const auto& e : rb.page.entries) EXPECT_EQ(e.seq % 2, 0u);
  // Location, time, kind and key come back as appended.
  const IndexEntry& top = ra.page.entries.front();
  EXPECT_EQ(top.seq, 99u);
  EXPECT_EQ(top.time_us, (test::kT0 + 99) * 1000000);
  EXPECT_EQ(top.kind, test::pb::ACCESS_DENIED);
  EXPECT_EQ(top.key, eventKey(ids_[99]));
  EXPECT_EQ(top.where, (EventLocation{1, 1, 8 + 99 * 100, 100}));
  // Someone without events, and subjects that are not IIN/BIN.
  EXPECT_EQ(index_.page("IIN:111111111111", q).status, IndexStatus::Ok);
  EXPECT_TRUE(index_.page("IIN:111111111111", q).page.entries.empty());
  EXPECT_EQ(index_.page("", q).status, IndexStatus::BadSubject);
  EXPECT_EQ(index_.page("IIN:9001013001", q).status, IndexStatus::BadSubject);
}

TEST_F(MemoryEventIndexTest, EveryFilterAndTheirCombination) {
  Query q;
  q.limit = 200;
  auto run = [&](const Query& query, bool a) { return seqs(index_.page(a ? kA : kB, query).page); };
  const std::int64_t t = test::kT0;

  Query since = q;
  since.since = at(t + 50);  // inclusive
  EXPECT_EQ(run(since, true), expected(true, [](auto s) { return s >= 50; }));
  Query until = q;
  until.until = at(t + 51);  // exclusive
  EXPECT_EQ(run(until, true), expected(true, [](auto s) { return s < 51; }));
  Query window = q;
  window.since = at(t + 20);
  window.until = at(t + 40);
  EXPECT_EQ(run(window, false), expected(false, [](auto s) { return s >= 20 && s < 40; }));
  Query service = q;
  service.service_id = "tax.debts";
  EXPECT_EQ(run(service, true), expected(true, [](auto s) { return s % 4 == 1; }));
  Query client = q;
  client.client_id = "KZ/COM/123456789012/bank";
  EXPECT_EQ(run(client, false), expected(false, [](auto s) { return s % 5 == 2; }));
  Query kind = q;
  kind.kind = test::pb::ACCESS_DENIED;
  EXPECT_EQ(run(kind, true), expected(true, [](auto s) { return s % 3 == 0; }));
  Query all = q;
  all.since = at(t + 10);
  all.until = at(t + 90);
  all.service_id = "population.person";
  all.client_id = "KZ/GOV/123456789012/registry";
  all.kind = test::pb::DATA_ACCESS;
  EXPECT_EQ(run(all, true), expected(true, [](auto s) {
              return s >= 10 && s < 90 && s % 4 != 1 && s % 5 != 2 && s % 3 != 0;
            }));
  EXPECT_FALSE(run(all, true).empty());
  // A filter naming something never seen, or a kind nobody has: empty, Ok.
  Query unknown = q;
  unknown.service_id = "no.such";
  EXPECT_EQ(index_.page(kA, unknown).status, IndexStatus::Ok);
  EXPECT_TRUE(run(unknown, true).empty());
  Query none = q;
  none.kind = test::pb::INTERNATIONAL_TRANSFER;
  EXPECT_TRUE(run(none, true).empty());
  for (const int out_of_range : {-1, 255, 256 + test::pb::DATA_ACCESS}) {
    Query odd = q;
    odd.kind = out_of_range;
    EXPECT_EQ(index_.page(kA, odd).status, IndexStatus::Ok);
    EXPECT_TRUE(run(odd, true).empty()) << out_of_range;
  }
  // B's service filter never reaches A's events: the bank client filter on A only gives A's.
  EXPECT_EQ(run(client, true), expected(true, [](auto s) { return s % 5 == 2; }));
  // An empty or inverted window is refused.
  Query inverted = q;
  inverted.since = at(t + 40);
  inverted.until = at(t + 40);
  EXPECT_EQ(index_.page(kA, inverted).status, IndexStatus::BadQuery);
}

TEST_F(MemoryEventIndexTest, LimitBounds) {
  Query q;
  q.limit = 0;
  EXPECT_EQ(index_.page(kA, q).status, IndexStatus::BadLimit);
  q.limit = 201;
  EXPECT_EQ(index_.page(kA, q).status, IndexStatus::BadLimit);
  q.limit = 1;
  const PageResult one = index_.page(kA, q);
  ASSERT_EQ(one.status, IndexStatus::Ok);
  EXPECT_EQ(seqs(one.page), (std::vector<std::uint64_t>{99}));
  EXPECT_FALSE(one.page.next_cursor.empty());
  // 200: with more than 200 events, exactly 200 and a cursor.
  MemoryEventIndex big;
  std::vector<std::string> ids;
  for (std::uint64_t s = 1; s <= 450; ++s) ids.push_back(uuidFor(s));
  for (std::uint64_t s = 1; s <= 450; ++s) big.append(kA, ref(s, ids[s - 1]));
  q.limit = 200;
  const PageResult full = big.page(kA, q);
  ASSERT_EQ(full.status, IndexStatus::Ok);
  ASSERT_EQ(full.page.entries.size(), 200u);
  EXPECT_EQ(full.page.entries.front().seq, 450u);
  EXPECT_EQ(full.page.entries.back().seq, 251u);
  EXPECT_FALSE(full.page.next_cursor.empty());
  q.limit = 201;
  EXPECT_EQ(big.page(kA, q).status, IndexStatus::BadLimit);
  EXPECT_TRUE(big.page(kA, q).page.entries.empty());
  // Exactly a page's worth left: the last page has no cursor.
  q.limit = 50;
  std::vector<std::uint64_t> all = walk(big, kA, q);
  EXPECT_EQ(all.size(), 450u);
}

TEST_F(MemoryEventIndexTest, PagesCoverEverythingOnceForEveryLimitAndFilter) {
  for (std::size_t limit : {1u, 2u, 7u, 44u, 45u, 200u}) {
    Query q;
    q.limit = limit;
    EXPECT_EQ(walk(index_, kA, q), expected(true, [](auto) { return true; })) << limit;
    q.kind = test::pb::DATA_ACCESS;
    EXPECT_EQ(walk(index_, kB, q), expected(false, [](auto s) { return s % 3 != 0; })) << limit;
  }
}

TEST_F(MemoryEventIndexTest, CursorsAreBoundToTheirSubject) {
  Query q;
  q.limit = 5;
  const PageResult a1 = index_.page(kA, q);
  ASSERT_FALSE(a1.page.next_cursor.empty());
  // B replays A's cursor: refused, not "B's events below A's position", not A's events.
  Query stolen = q;
  stolen.cursor = a1.page.next_cursor;
  const PageResult b = index_.page(kB, stolen);
  EXPECT_EQ(b.status, IndexStatus::BadCursor);
  EXPECT_TRUE(b.page.entries.empty());
  // A's own cursor works, also with other filters (the position is only a seq bound).
  EXPECT_EQ(index_.page(kA, stolen).status, IndexStatus::Ok);
  stolen.kind = test::pb::ACCESS_DENIED;
  EXPECT_EQ(index_.page(kA, stolen).status, IndexStatus::Ok);
  // B's cursor tampered in each position, so as to make it A's or anyone's: refused.
  const PageResult b1 = index_.page(kB, q);
  for (std::size_t i = 0; i < b1.page.next_cursor.size(); ++i) {
    Query t = q;
    t.cursor = b1.page.next_cursor;
    t.cursor[i] = t.cursor[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(index_.page(kB, t).status, IndexStatus::BadCursor) << i;
    EXPECT_EQ(index_.page(kA, t).status, IndexStatus::BadCursor) << i;
  }
  // Forged, malformed, and a cursor issued by another process (another key).
  MemoryEventIndex other(CursorCodec(std::string(32, 'z')));
  other.append(kA, ref(1, ids_[1]));
  other.append(kA, ref(3, ids_[3]));
  Query o = q;
  o.limit = 1;
  const std::string foreign = other.page(kA, o).page.next_cursor;
  ASSERT_FALSE(foreign.empty());
  for (const std::string& bad : {foreign, std::string("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                                 std::string("x"), std::string(34, '-'), std::string(200, 'A')}) {
    Query t = q;
    t.cursor = bad;
    EXPECT_EQ(index_.page(kA, t).status, IndexStatus::BadCursor) << bad;
  }
}

TEST_F(MemoryEventIndexTest, FindOnlyTheSubjectsOwnEvent) {
  const FindResult mine = index_.find(kA, ids_[51]);
  ASSERT_EQ(mine.status, IndexStatus::Ok);
  EXPECT_EQ(mine.entry.seq, 51u);
  EXPECT_EQ(mine.entry.key, eventKey(ids_[51]));
  EXPECT_EQ(index_.find(kB, ids_[52]).entry.seq, 52u);
  // B's event id asked by A, an unknown id, an unindexed (subject-less) event, a bad subject:
  // all the same NotFound.
  EXPECT_EQ(index_.find(kA, ids_[52]).status, IndexStatus::NotFound);
  EXPECT_EQ(index_.find(kB, ids_[51]).status, IndexStatus::NotFound);
  EXPECT_EQ(index_.find(kA, uuidFor(5000)).status, IndexStatus::NotFound);
  EXPECT_EQ(index_.find(kA, ids_[30]).status, IndexStatus::NotFound);
  EXPECT_EQ(index_.find("IIN:850202400456 ", ids_[52]).status, IndexStatus::NotFound);
  // The upper-case spelling of A's id is not A's id.
  std::string upper = ids_[51];
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_NE(upper, ids_[51]);
  EXPECT_EQ(index_.find(kA, upper).status, IndexStatus::NotFound);
}

TEST_F(MemoryEventIndexTest, DuplicatesAndNonSubjectsAreIgnored) {
  const auto before = index_.stats();
  index_.append(kA, ref(99, ids_[99]));  // a hand-over duplicate
  index_.append(kA, ref(5, ids_[5]));    // older still
  index_.append("", ref(101, uuidFor(101)));
  index_.append("KZ/GOV/x", ref(102, uuidFor(102)));
  const auto after = index_.stats();
  EXPECT_EQ(after.entries, before.entries);
  EXPECT_EQ(after.duplicates_ignored, before.duplicates_ignored + 2);
  EXPECT_EQ(after.last_seq, 99u);
  Query q;
  q.limit = 200;
  EXPECT_EQ(seqs(index_.page(kA, q).page), expected(true, [](auto) { return true; }));
}

// The writer keeps appending (A and B interleaved) while a reader pages through A's history:
// the walk returns exactly A's events below its first page's top, each once, newest first.
TEST(MemoryEventIndexConcurrencyTest, PaginationIsStableUnderConcurrentAppends) {
  MemoryEventIndex index;
  constexpr std::uint64_t kInitial = 2000;
  constexpr std::uint64_t kTotal = 60000;
  std::vector<std::string> ids;
  for (std::uint64_t s = 1; s <= kTotal; ++s) ids.push_back(uuidFor(s));
  for (std::uint64_t s = 1; s <= kInitial; ++s) index.append(s % 2 ? kA : kB, ref(s, ids[s - 1]));
  std::atomic<bool> go{false};
  std::atomic<std::uint64_t> written{kInitial};
  std::thread writer([&] {
    while (!go.load()) std::this_thread::yield();
    for (std::uint64_t s = kInitial + 1; s <= kTotal; ++s) {
      index.append(s % 2 ? kA : kB, ref(s, ids[s - 1]));
      written.store(s, std::memory_order_release);
    }
  });
  go.store(true);
  // Several walks while the writer runs; each must be exact for its own snapshot.
  int walks = 0;
  do {
    Query q;
    q.limit = 37;
    std::vector<std::uint64_t> got;
    std::uint64_t top = 0;
    for (;;) {
      const PageResult r = index.page(kA, q);
      ASSERT_EQ(r.status, IndexStatus::Ok);
      if (top == 0 && !r.page.entries.empty()) top = r.page.entries.front().seq;
      for (const auto& e : r.page.entries) got.push_back(e.seq);
      if (r.page.next_cursor.empty()) break;
      q.cursor = r.page.next_cursor;
    }
    ASSERT_GE(top, kInitial - 1);
    std::vector<std::uint64_t> want;
    for (std::uint64_t s = top;; s -= 2) {  // A = odd seqs
      want.push_back(s);
      if (s < 3) break;
    }
    ASSERT_EQ(got, want) << "walk " << walks << " from " << top;
    ++walks;
  } while (written.load(std::memory_order_acquire) < kTotal);
  writer.join();
  EXPECT_GE(walks, 1);
  EXPECT_EQ(index.stats().entries, kTotal);
}

// A million events: the bound the product promises (well under 200 MB), and the bytes per entry
// the README reports.
TEST(MemoryEventIndexMemoryTest, AMillionEventsFitWellUnder200MB) {
  MemoryEventIndex index;
  constexpr std::uint64_t kEvents = 1'000'000;
  constexpr std::uint64_t kSubjects = 20'000;
  std::string id;
  char subject[17];
  for (std::uint64_t s = 1; s <= kEvents; ++s) {
    id = uuidFor(s);
    std::snprintf(subject, sizeof subject, "IIN:%012llu",
                  static_cast<unsigned long long>(800000000000ull + s % kSubjects));
    index.append(subject,
                 ref(s, id, test::kT0 + static_cast<std::int64_t>(s), test::pb::DATA_ACCESS,
                     s % 7 ? "population.person" : "tax.debts",
                     s % 11 ? "KZ/GOV/123456789012/registry" : "KZ/COM/123456789012/bank"));
  }
  const auto st = index.stats();
  EXPECT_EQ(st.entries, kEvents);
  EXPECT_EQ(st.subjects, kSubjects);
  EXPECT_EQ(sizeof(MemoryEventIndex::Entry), 56u);
  const double per_entry = static_cast<double>(st.bytes) / static_cast<double>(st.entries);
  std::printf("space index: %llu events, %llu subjects: %.1f MB, %.1f bytes per entry\n",
              static_cast<unsigned long long>(st.entries),
              static_cast<unsigned long long>(st.subjects), st.bytes / 1e6, per_entry);
  EXPECT_LT(st.bytes, 200ull * 1000 * 1000 / 2);  // "well under": below half of 200 MB
  Query q;
  q.limit = 200;
  const PageResult r = index.page("IIN:800000000001", q);
  ASSERT_EQ(r.status, IndexStatus::Ok);
  EXPECT_EQ(r.page.entries.size(), 50u);  // 1M / 20k
  EXPECT_EQ(r.page.entries.front().seq, kEvents - kSubjects + 1);
}

}  // namespace
}  // namespace qaqpa::space_index
