// The journal: the node's append-only, hash-chained, signed record of digital events
// (PROTOCOL.md §6, ARCHITECTURE.md "Journal"). The bytes on disk are described in format.h.
//
// Who calls what:
//   - openBlocking: once at start (recovery scans the files), off the workers.
//   - append: any thread (workers), never blocks: it enqueues and returns. The completion runs on
//     the journal's writer thread after the batch holding the event is written (and fsync'd when
//     the policy says so); the caller posts it to its own executor. Every append gets exactly one
//     completion, also at shutdown.
//   - healthy/head: any thread (an atomic / a short lock).
//   - stop: once, from the owning thread; flushes what is queued, completes everything, joins.
//
// Writer thread: takes everything queued (up to max_batch_events), assigns seq and prev_hash,
// hashes, frames, appends one checkpoint signed by `Signer`, writes the whole batch with one
// write(2), fsyncs per policy, then completes the batch in order. A failed write or fsync fails
// the whole batch (nothing of it counts as written: the file is truncated back to the batch
// start, seq and chain head roll back), marks the journal unhealthy, and the writer probes every
// retry_interval until a write succeeds again. Rotation (size/age) and retention (archival of
// closed segments older than `retention` to `archive_dir`) run on the writer thread between
// batches, so the workers never wait for them beyond one batch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/time_source.h"

namespace qaqpa::metrics {
struct JournalMetrics;
}

namespace qaqpa::journal {

class FileOps;

enum class FsyncPolicy : std::uint8_t {
  Always,  // fdatasync every batch before completing it: an event is durable before its reply
  Batch,   // complete after write(2); fdatasync at most every fsync_interval (Redis everysec)
  None,    // never fdatasync explicitly (the OS decides); for benchmarks and tests
};
std::string_view fsyncPolicyName(FsyncPolicy p) noexcept;

struct JournalOptions {
  std::filesystem::path dir;  // created if absent; holds MANIFEST and seg-*.qj
  std::string node_id;
  FsyncPolicy fsync = FsyncPolicy::Always;
  std::chrono::milliseconds fsync_interval{1000};  // Batch only
  std::size_t max_batch_events = 4096;             // per write(2)
  std::size_t max_queue_events = 65536;            // beyond: append completes Overloaded
  std::uint64_t segment_max_bytes = 64ull << 20;   // rotate when a batch would cross it
  std::chrono::seconds segment_max_age{3600};      // rotate an open segment older than this
  std::chrono::seconds retention{0};               // 0 = keep closed segments here forever
  std::filesystem::path archive_dir;               // required when retention > 0
  std::chrono::milliseconds retry_interval{1000};  // probe period while unhealthy
  // The file operations (file_ops.h); null = POSIX. Tests inject failures here.
  std::shared_ptr<FileOps> file_ops;
};

// The checkpoint signature: the gateway's active key signs `message` (canonical checkpoint bytes
// with signature unset). Those bytes include key_id and algorithm, which the journal learns from
// the signer's previous answer: when the answer names another key (the first checkpoint, a key
// rotation), the journal rebuilds the message with the new key and signs once more. Called on the
// writer thread (and in openBlocking); nullopt fails the batch (Unavailable): no unsigned batch.
struct CheckpointSignature {
  std::string key_id;
  std::string algorithm;  // RFC 9421 name
  std::string signature;  // raw bytes
};
using Signer = std::function<std::optional<CheckpointSignature>(std::string_view message)>;

enum class AppendStatus : std::uint8_t {
  Durable,      // written, and fsync'd if the policy is Always
  Unavailable,  // the write or fsync failed (disk full, I/O error): the event is NOT journaled
  Overloaded,   // queue bound reached: not journaled
  Stopped,      // the journal is stopping: not journaled
};

struct AppendResult {
  AppendStatus status = AppendStatus::Unavailable;
  std::uint64_t seq = 0;  // with Durable
  bool ok() const noexcept { return status == AppendStatus::Durable; }
};
using AppendCallback = std::function<void(const AppendResult&)>;

// Called on the writer thread after each batch is durable, with every event of the batch in
// order (canonical event bytes including seq/prev_hash/hash): the digital-space index's feed.
using CommitObserver = std::function<void(std::uint64_t seq, std::string_view event_bytes)>;

// One committed event and where its frame lies on disk, so a reader (the digital-space index)
// can keep a pointer into the journal instead of a copy of the event. The file is
// segmentFileName(segment_index, segment_first_seq) in JournalOptions::dir (or, once archived,
// in archive_dir under the same name). The frame (header + JournalRecord{event}) is
// frame_size bytes at frame_offset; the batch's checkpoint follows the batch's last event in the
// same file. `event_bytes` is a view into the writer's buffer, valid during the call only.
struct CommittedEvent {
  std::uint64_t seq = 0;
  std::string_view event_bytes;
  std::uint64_t segment_index = 0;
  std::uint64_t segment_first_seq = 0;
  std::uint64_t frame_offset = 0;
  std::uint32_t frame_size = 0;
};
using LocatedCommitObserver = std::function<void(const CommittedEvent& event)>;

struct JournalHead {
  std::uint64_t seq = 0;  // last durable event's seq (0 = empty journal)
  std::string hash;       // its hash (32 bytes; 32 zeros when empty)
};

struct OpenResult {
  std::unique_ptr<class Journal> journal;  // null on failure
  std::string error;                       // why it failed (names the file and offset)
  bool corrupt = false;        // refused because of mid-file corruption: `repair` says what to run
  std::string repair_command;  // e.g. "qaqpa journal repair /var/lib/qaqpa/journal"
  std::uint64_t torn_tail_bytes = 0;  // truncated from the open segment's tail (logged loudly)
  std::uint64_t events_recovered = 0;
};

class Journal {
 public:
  // Opens (creating when empty) the journal at options.dir: reads MANIFEST, checks every listed
  // segment exists, scans the open segment to its last valid record (checking CRCs and the hash
  // chain), truncates a torn tail, refuses mid-file corruption. Starts the writer thread.
  // `metrics` may be null. `time` must outlive the journal.
  static OpenResult openBlocking(JournalOptions options, Signer signer,
                                 const common::TimeSource& time,
                                 metrics::JournalMetrics* metrics = nullptr);

  virtual ~Journal() = default;

  // `event_bytes`: canonical bytes of a DigitalEvent WITHOUT seq, prev_hash and hash (fields
  // 29–31), exactly as protobuf's deterministic serializer wrote them. The writer appends the
  // chain fields. Never blocks; `done` runs once on the writer thread (or inline with Overloaded
  // / Stopped when the event could not even be queued).
  virtual void append(std::string event_bytes, AppendCallback done) = 0;

  // append() for each request, in order, under one lock and with at most one wake-up of the
  // writer: a worker hands over all events of one event-loop turn at once, so the writer is not
  // woken (and does not write, sign and sync a batch) once per event. All-or-nothing against the
  // queue bound: if they do not all fit, every one completes Overloaded (inline).
  struct AppendRequest {
    std::string event_bytes;
    AppendCallback done;
  };
  virtual void appendMany(std::vector<AppendRequest> requests) = 0;

  // False after a failed write until a write succeeds again (readiness, fail-closed checks).
  virtual bool healthy() const noexcept = 0;
  virtual JournalHead head() const = 0;
  virtual void setCommitObserver(CommitObserver observer) = 0;  // before the first append
  // The same feed with each event's location; called after the CommitObserver (when both are
  // set) for every event, in seq order. Before the first append. Both observers of a batch run
  // before its events' AppendCallbacks: once a caller learns an event is durable, whatever the
  // observers feed (the citizen's event index) already has it.
  virtual void setLocatedCommitObserver(LocatedCommitObserver observer) = 0;
  virtual void stop() = 0;
};

}  // namespace qaqpa::journal
