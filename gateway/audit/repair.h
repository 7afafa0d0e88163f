// `qaqpa journal repair`: what the operator runs when the gateway refuses to start because of
// corruption in the middle of the journal. It NEVER deletes: everything from the cut point to the
// end of the journal moves into <dir>/quarantine-<UTC yyyymmddThhmmssZ>/ for investigation.
//
// The cut point is the end of the last record before the first damage that is COVERED BY A VALID
// CHECKPOINT (signature checked when keys are given) — or the end of the damaged segment's
// SegmentStart when that segment has no valid checkpoint before the damage. Events that are
// hash-chain valid but not yet signed are moved too: the live journal keeps only what a
// checkpoint vouches for, so it verifies clean, also with --strict.
//
// What moves (same filesystem, so a rename or a copy+fsync):
//   - the cut segment's bytes from the cut offset to its end → quarantine/<segment>.tail-at-<off>
//     (copied and fsync'd, then the segment is truncated at the cut and fsync'd);
//   - every later segment file, whole (renamed);
//   - seg-*.qj files the MANIFEST does not list (renamed);
//   - when the damaged segment's own start is bad (magic, SegmentStart, the file is missing), the
//     whole file moves and a fresh file holding just the magic and a SegmentStart rebuilt from
//     the MANIFEST entry takes its place.
// Then the MANIFEST is rewritten atomically (writeManifestBlocking): the cut segment is the last,
// OPEN; later entries are dropped. Each step is durable before the next; an interrupted repair is
// simply run again. The plan is also written to quarantine/REPAIR.txt.
//
// Refuses (Outcome::Refused) damage it cannot cut around: MANIFEST missing or corrupt (restore it
// from a backup), an unknown checkpoint key (give the key — repair does not cut at a checkpoint it
// cannot check), unreadable files. Refuses while <dir>/LOCK is held (a running gateway).
//
// Blocking; a CLI or a blocking pool. Not for use while anything else writes the directory (the
// lock enforces this against the gateway).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gateway/audit/verify.h"
#include "gateway/common/time_source.h"

namespace qaqpa::audit {

struct RepairOptions {
  bool dry_run = false;  // plan and report only; nothing is created, moved or written
  bool check_signatures = true;
};

struct RepairMove {
  std::filesystem::path from;
  std::filesystem::path to;
  std::uint64_t offset = 0;  // first byte moved (0 for a whole file)
  std::uint64_t bytes = 0;
  bool whole_file = false;
};

enum class RepairOutcome : std::uint8_t {
  NothingToDo,  // the journal verifies clean (and has no unlisted segment)
  Planned,      // dry run: `moves` is the plan
  Repaired,
  Refused,  // see `message`
  Locked,   // a gateway holds <dir>/LOCK
  Failed,   // an I/O step failed midway (see `message`); run again after fixing the cause
};

struct RepairResult {
  RepairOutcome outcome = RepairOutcome::Failed;
  std::string message;
  VerifyReport before;  // the verification that found the damage
  std::filesystem::path quarantine_dir;
  std::vector<RepairMove> moves;
  std::uint64_t bytes_moved = 0;
  std::uint64_t kept_last_seq = 0;        // the live chain ends here after the repair
  std::uint64_t lost_first_seq = 0;       // first seq no longer in the live chain (0: none)
  std::uint64_t lost_last_seq = 0;        // highest seq readable in the moved bytes
  bool lost_last_is_lower_bound = false;  // some moved bytes could not be read
  bool recreated_segment = false;         // the cut segment was replaced by a fresh start
  VerifyReport after;  // Repaired: the verification after the repair (ok expected)
};

RepairResult repairJournalBlocking(const std::filesystem::path& dir, const KeyResolver& keys,
                                   const RepairOptions& options, const common::TimeSource& time);

// The human plan / outcome, several lines, as `qaqpa journal repair` prints it.
std::string describeRepair(const RepairResult& result);

// Exclusive advisory lock on <dir>/LOCK (flock LOCK_EX|LOCK_NB — the journal writer takes the
// same). Movable; released on destruction.
class JournalLock {
 public:
  enum class Status : std::uint8_t { Acquired, Held, Error };
  // create=false: a missing LOCK file counts as free (nothing is created; `Acquired` with no fd).
  static JournalLock tryAcquireBlocking(const std::filesystem::path& dir, bool create,
                                        std::string& error);
  JournalLock(JournalLock&& other) noexcept : status_(other.status_), fd_(other.fd_) {
    other.fd_ = -1;
  }
  JournalLock& operator=(JournalLock&&) = delete;
  ~JournalLock();
  Status status() const noexcept { return status_; }

 private:
  JournalLock(Status s, int fd) : status_(s), fd_(fd) {}
  Status status_;
  int fd_;
};

}  // namespace qaqpa::audit
