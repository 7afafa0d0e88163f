// The digital-space index: the writer thread's cost per committed event (feed = field extraction
// + append), the query side (page, filtered page, cursor walk, find), reading a page of events
// back from the journal's files and building a proof (page cache warm), and the rebuild speed
// at start. Memory per entry is reported as a counter (bytes_per_entry).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/common/time_source.h"
#include "gateway/journal/format.h"
#include "gateway/journal/journal.h"
#include "gateway/space_index/event_reader.h"
#include "gateway/space_index/journal_feed.h"
#include "gateway/space_index/memory_event_index.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace {

namespace fs = std::filesystem;
namespace pb = qaqpa::journal::v1;
using namespace qaqpa::space_index;

std::string uuidFor(std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "0190a000-0000-7000-8000-%012llx",
                static_cast<unsigned long long>(n));
  return buf;
}
std::string subjectFor(std::uint64_t n) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "IIN:%012llu",
                static_cast<unsigned long long>(800000000000ull + n));
  return buf;
}

// Canonical event bytes (~600 bytes with names) without the chain fields.
std::string eventBytes(std::uint64_t n, const std::string& subject) {
  pb::DigitalEvent ev;
  ev.set_event_id(uuidFor(n));
  ev.set_node_id("kz-bench-1");
  ev.mutable_time()->set_seconds(1704067200 + static_cast<std::int64_t>(n));
  ev.set_zone(pb::STATE);
  ev.set_kind(n % 100 == 0 ? pb::ACCESS_DENIED : pb::DATA_ACCESS);
  ev.mutable_client()->set_id("KZ/GOV/123456789012/registry");
  ev.mutable_client()->mutable_name()->set_kk("Халыққа қызмет көрсету орталығы");
  ev.mutable_client()->mutable_name()->set_ru("Центр обслуживания населения");
  ev.mutable_provider()->set_id("KZ/GOV/210987654321/population");
  ev.mutable_service()->set_id(n % 7 ? "population.person" : "tax.debts");
  ev.mutable_service()->mutable_name()->set_en("Person data");
  ev.set_subject(subject);
  ev.mutable_purpose()->set_code("SOCIAL_BENEFIT");
  ev.set_status("OK");
  ev.set_http_status(200);
  ev.set_request_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  ev.set_response_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  ev.set_latency_us(1234);
  std::string out;
  qaqpa::journal::serializeCanonical(ev, out);
  return out;
}

EventRef refFor(std::uint64_t seq, const std::string& id) {
  EventRef r;
  r.seq = seq;
  r.time_us = (1704067200 + static_cast<std::int64_t>(seq)) * 1000000;
  r.kind = seq % 100 == 0 ? pb::ACCESS_DENIED : pb::DATA_ACCESS;
  r.event_id = id;
  r.service_id = seq % 7 ? "population.person" : "tax.debts";
  r.client_id = "KZ/GOV/123456789012/registry";
  r.where = EventLocation{1, 1, 8 + seq * 700, 700};
  return r;
}

// One million events: 20,000 citizens with 40 each, plus one heavy subject (a company BIN) with
// 200,000.
constexpr char kHeavy[] = "BIN:123456789012";
struct Populated {
  MemoryEventIndex index;
  Populated() {
    std::string id;
    for (std::uint64_t s = 1; s <= 1'000'000; ++s) {
      id = uuidFor(s);
      index.append(s % 5 == 0 ? std::string(kHeavy) : subjectFor(s % 20000), refFor(s, id));
    }
  }
};
Populated& populated() {
  static Populated p;
  return p;
}

// --- writer thread side ---

void BM_Append(benchmark::State& state) {
  MemoryEventIndex index;
  std::vector<std::string> subjects;
  for (std::uint64_t i = 0; i < 10000; ++i) subjects.push_back(subjectFor(i));
  std::uint64_t seq = 0;
  std::string id;
  for (auto _ : state) {
    ++seq;
    id = uuidFor(seq);
    index.append(subjects[seq % subjects.size()], refFor(seq, id));
  }
  const auto st = index.stats();
  state.counters["bytes_per_entry"] =
      static_cast<double>(st.bytes) / static_cast<double>(st.entries);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Append);

// What the journal's writer thread pays per committed event: field extraction from the bytes and
// append.
void BM_Feed(benchmark::State& state) {
  MemoryEventIndex index;
  auto feed = makeJournalFeed(index);
  std::vector<std::string> events;
  for (std::uint64_t i = 0; i < 4096; ++i) {
    std::string e = eventBytes(i, subjectFor(i % 1000));
    qaqpa::journal::appendSeqAndPrevHash(e, i + 1, std::string(32, 'p'));
    qaqpa::journal::appendHashField(e, std::string(32, 'h'));
    events.push_back(std::move(e));
  }
  qaqpa::journal::CommittedEvent c;
  c.segment_index = 1;
  c.segment_first_seq = 1;
  c.frame_size = 700;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    c.seq = seq;  // the bytes' own seq repeats; the feed takes the journal's
    c.event_bytes = events[seq % events.size()];
    c.frame_offset = seq * 700;
    feed(c);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Feed);

// --- query side (1M events indexed) ---

void BM_PageFirst(benchmark::State& state) {
  auto& p = populated();
  Query q;
  q.limit = static_cast<std::size_t>(state.range(0));
  const std::string subject = subjectFor(4242);
  for (auto _ : state) benchmark::DoNotOptimize(p.index.page(subject, q));
}
BENCHMARK(BM_PageFirst)->Arg(20)->Arg(200);

void BM_PageHeavySubject(benchmark::State& state) {
  auto& p = populated();
  Query q;
  q.limit = 50;
  if (state.range(0) == 1) q.kind = pb::ACCESS_DENIED;  // 1 event in 20 of this subject
  if (state.range(0) == 2) q.client_id = "KZ/COM/999/none-of-these";  // never seen: O(1)
  if (state.range(0) == 3) q.service_id = "tax.debts";                // 1 in 7
  for (auto _ : state) benchmark::DoNotOptimize(p.index.page(kHeavy, q));
}
// 0: no filter, 1: kind filter (sparse), 2: unknown client, 3: service filter.
BENCHMARK(BM_PageHeavySubject)->DenseRange(0, 3);

// Walking all 200,000 events of the heavy subject with cursors, 200 per page.
void BM_CursorWalkHeavySubject(benchmark::State& state) {
  auto& p = populated();
  std::uint64_t pages = 0;
  for (auto _ : state) {
    Query q;
    q.limit = 200;
    for (;;) {
      const PageResult r = p.index.page(kHeavy, q);
      ++pages;
      if (r.page.next_cursor.empty()) break;
      q.cursor = r.page.next_cursor;
    }
  }
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(pages), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CursorWalkHeavySubject)->Unit(benchmark::kMillisecond);

// find() scans the subject's entries newest first: a citizen's (40), and the heavy subject's
// oldest (200,000: the worst case).
void BM_Find(benchmark::State& state) {
  auto& p = populated();
  const bool heavy = state.range(0) == 1;
  const std::string subject = heavy ? std::string(kHeavy) : subjectFor(4242);
  const std::string id = uuidFor(heavy ? 5 : 4242);
  for (auto _ : state) {
    const FindResult r = p.index.find(subject, id);
    if (r.status != IndexStatus::Ok) state.SkipWithError("not found");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Find)->Arg(0)->Arg(1);

void BM_MemoryPerMillion(benchmark::State& state) {
  auto& p = populated();
  MemoryEventIndex::Stats st;
  for (auto _ : state) benchmark::DoNotOptimize(st = p.index.stats());
  state.counters["MB"] = static_cast<double>(st.bytes) / 1e6;
  state.counters["bytes_per_entry"] =
      static_cast<double>(st.bytes) / static_cast<double>(st.entries);
}
BENCHMARK(BM_MemoryPerMillion)->Iterations(1);

// --- the journal's files: read a page, build a proof, rebuild ---

class FixedTime final : public qaqpa::common::TimeSource {
 public:
  std::chrono::system_clock::time_point now() const noexcept override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1704067200));
  }
  std::chrono::steady_clock::time_point monotonic() const noexcept override {
    return std::chrono::steady_clock::now();
  }
};

// A journal of 200,000 events (1,000 citizens), written once per process to /tmp.
struct OnDisk {
  fs::path root;
  JournalFiles files;
  std::uint64_t head = 0;
  OnDisk() {
    char tmpl[] = "/tmp/qaqpa-space-index-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    root = tmpl;
    files.dir = root / "journal";
    FixedTime time;
    qaqpa::journal::JournalOptions o;
    o.dir = files.dir;
    o.node_id = "kz-bench-1";
    o.fsync = qaqpa::journal::FsyncPolicy::None;
    auto r = qaqpa::journal::Journal::openBlocking(
        o,
        [](std::string_view) {
          return std::optional<qaqpa::journal::CheckpointSignature>(
              qaqpa::journal::CheckpointSignature{"bench", "ed25519", std::string(64, 's')});
        },
        time);
    if (!r.journal) std::abort();
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t done = 0;
    constexpr std::uint64_t kEvents = 200'000;
    for (std::uint64_t i = 1; i <= kEvents; i += 1000) {
      std::vector<qaqpa::journal::Journal::AppendRequest> reqs;
      for (std::uint64_t k = i; k < i + 1000; ++k) {
        reqs.push_back({eventBytes(k, subjectFor(k % 1000)), [&](const auto&) {
                          std::lock_guard lock(mu);
                          ++done;
                          cv.notify_all();
                        }});
      }
      r.journal->appendMany(std::move(reqs));
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done >= i + 999; });
    }
    head = r.journal->head().seq;
    r.journal->stop();
  }
  ~OnDisk() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};
OnDisk& onDisk() {
  static OnDisk d;
  return d;
}

void BM_Rebuild(benchmark::State& state) {
  auto& d = onDisk();
  for (auto _ : state) {
    MemoryEventIndex index;
    const RebuildResult r = index.rebuildBlocking(d.files, d.head);
    if (!r.ok) state.SkipWithError(r.error.c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(d.head));
}
BENCHMARK(BM_Rebuild)->Unit(benchmark::kMillisecond);

void BM_ReadPage(benchmark::State& state) {
  auto& d = onDisk();
  static MemoryEventIndex index;
  static const bool built = index.rebuildBlocking(d.files, d.head).ok;
  if (!built) state.SkipWithError("rebuild failed");
  Query q;
  q.limit = static_cast<std::size_t>(state.range(0));
  const std::string subject = subjectFor(77);
  const auto entries = index.page(subject, q).page.entries;
  for (auto _ : state) {
    const ReadResult r = readEventsBlocking(d.files, subject, entries);
    if (r.status != ReadStatus::Ok) state.SkipWithError(r.error.c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(entries.size()));
}
BENCHMARK(BM_ReadPage)->Arg(50)->Arg(200);

// A proof scans forward from the event to its batch's checkpoint: up to a batch (here 1,000
// events) of frames. Arg: the event's position in its batch (0 = first: the longest scan).
void BM_Proof(benchmark::State& state) {
  auto& d = onDisk();
  MemoryEventIndex index;
  if (!index.rebuildBlocking(d.files, d.head).ok) state.SkipWithError("rebuild failed");
  // Batches here are 1,000 events starting at seq 1, 1001, …: seq 100001 + position.
  const std::uint64_t seq = 100001 + static_cast<std::uint64_t>(state.range(0));
  const std::string subject = subjectFor(seq % 1000);
  const FindResult f = index.find(subject, uuidFor(seq));
  if (f.status != IndexStatus::Ok) state.SkipWithError("not found");
  for (auto _ : state) {
    const ProofResult r = proofBlocking(d.files, subject, f.entry);
    if (r.status != ReadStatus::Ok || !r.proof.covered) state.SkipWithError("no proof");
  }
}
BENCHMARK(BM_Proof)->Arg(0)->Arg(500)->Arg(999);

}  // namespace
