// The embedded EventIndex: per-subject vectors in memory, rebuilt from the journal's files at
// start and kept current by the journal's writer thread (journal_feed.h). Nothing persisted.
//
// Hand-over (no gap, no duplicate):
//   1. open the journal (journal::Journal::openBlocking) and read its head: H = head().seq;
//   2. set the feed (setLocatedCommitObserver(makeJournalFeed(index))) before the first append:
//      from now on every event with seq > H reaches append();
//   3. rebuildBlocking(files, H) on the blocking pool: reads every event with seq <= H from the
//      files, then merges under the locks: the rebuilt entries (seq <= H) first, then whatever
//      the feed appended meanwhile (seq > H, kept in seq order). Entries with seq <= H that
//      arrived through append() are dropped (the files are authoritative), and append() ignores
//      any seq not above the last one it accepted.
// While rebuildBlocking runs (or after it failed) page() and find() answer Unavailable, so a
// citizen never sees a partial history.
//
// Threading: append from one writer thread; page/find/stats from any threads. The subjects are
// spread over 64 shards, each with its own mutex: a reader scanning one citizen's vector holds
// up only appends for subjects of the same shard, for the length of that scan. Names (service,
// client ids) and segments are interned in one table under a short lock.
//
// Memory: one 56-byte entry per event about a subject (EventKey, seq, time, location, interned
// ids), vectors growing by doubling, plus a map node per subject; see stats() and README.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/space_index/cursor.h"
#include "gateway/space_index/event_index.h"

namespace qaqpa::space_index {

// Where the journal's files are: `dir` (MANIFEST, seg-*.qj) and, for segments archived by
// retention, `archive_dir` (empty: archived segments are not read).
struct JournalFiles {
  std::filesystem::path dir;
  std::filesystem::path archive_dir;
};

struct RebuildResult {
  bool ok = false;
  std::string error;  // names the file and offset or seq
  std::uint64_t through_seq = 0;
  std::uint64_t events_scanned = 0;
  std::uint64_t events_indexed = 0;  // with an IIN/BIN subject
  std::size_t segments_read = 0;
  std::size_t archived_skipped = 0;  // ARCHIVED segments not read (no archive_dir)
};

class MemoryEventIndex final : public EventIndex {
 public:
  explicit MemoryEventIndex(CursorCodec codec = CursorCodec::random());
  ~MemoryEventIndex() override;

  void append(std::string_view subject, const EventRef& ref) override;
  PageResult page(std::string_view subject, const Query& query) const override;
  FindResult find(std::string_view subject, std::string_view event_id) const override;

  // Step 3 of the hand-over above: every event with seq 1..through_seq from the files (segments
  // in MANIFEST order; ARCHIVED ones from files.archive_dir). Refuses (ok = false, the index
  // stays Unavailable) when the files end before through_seq, a seq is missing or repeated, or a
  // frame before through_seq is unreadable. A frame after through_seq that is still being
  // written is not an error. Blocking (reads whole segments, one at a time); call it once, from
  // the blocking pool or at start; concurrent append() calls are fine.
  RebuildResult rebuildBlocking(const JournalFiles& files, std::uint64_t through_seq);
  // Makes page() and find() answer Unavailable until rebuildBlocking() succeeds: call it before
  // serving when the rebuild runs later on another thread (otherwise an early reader would see
  // an empty history).
  void markRebuilding() { state_.store(State::Rebuilding, std::memory_order_release); }
  // "ready", "rebuilding" or "failed" (for /readyz and logs). Any thread.
  std::string_view stateName() const noexcept;

  struct Stats {
    std::uint64_t entries = 0;
    std::uint64_t subjects = 0;
    std::uint64_t bytes = 0;  // estimated heap bytes held (vectors' capacity, map nodes, names)
    std::uint64_t duplicates_ignored = 0;
    std::uint64_t last_seq = 0;
  };
  Stats stats() const;

  // One index entry as stored (exposed for the memory report and tests).
  struct Entry {
    EventKey key;
    std::uint64_t seq;
    std::int64_t time_us;
    std::uint64_t offset;
    std::uint32_t size_kind;  // frame size (low 24 bits; frames are <= 1 MiB + 8) | kind << 24
    std::uint32_t segment;    // interned (segment index, first seq)
    std::uint32_t service;    // interned id; 0 = none
    std::uint32_t client;     // interned id; 0 = none
  };

 private:
  static constexpr std::size_t kShards = 64;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::uint64_t, std::vector<Entry>> subjects;
  };
  enum class State : std::uint8_t { Ready, Rebuilding, Failed };

  Shard& shardOf(std::uint64_t packed) const { return shards_[packed % kShards]; }
  // Under names_mu_.
  std::uint32_t internLocked(std::string_view name);
  std::uint32_t internSegmentLocked(std::uint64_t index, std::uint64_t first_seq);
  // Fills every field of `e` but the key (computed outside the lock). False for a frame size
  // that cannot be a journal frame.
  bool makeEntryLocked(const EventRef& ref, Entry& e);
  IndexEntry toIndexEntryLocked(const Entry& e) const;
  RebuildResult fail(RebuildResult r, std::string error);

  const CursorCodec codec_;
  std::atomic<State> state_{State::Ready};
  mutable std::array<Shard, kShards> shards_;

  mutable std::mutex names_mu_;
  std::vector<std::string> names_;  // [0] = "" (none)
  std::unordered_map<std::string, std::uint32_t> name_ids_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> segments_;  // id → (index, first seq)
  std::unordered_map<std::uint64_t, std::uint32_t> segment_ids_;   // index → id
  std::uint64_t last_seq_ = 0;
  std::uint64_t duplicates_ = 0;
};

}  // namespace qaqpa::space_index
