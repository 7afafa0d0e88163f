// Reading indexed events back from the journal's files, and the integrity proof of §7's
// single-event view (PROTOCOL.md §7: "the event and its integrity proof (chain neighbours and
// the signed checkpoint that covers it)").
//
// Never serves an event that is not the indexed one: each frame is read at its location, its
// CRC checked, and the decoded event's seq, event id (EventKey) and subject must equal the
// entry's and the asking subject — if a file changed underneath (repaired, replaced, damaged),
// the answer is Changed and nothing is served.
//
// Blocking (pread): call from the blocking pool, never from a worker. Any thread; no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/space_index/event_index.h"
#include "gateway/space_index/memory_event_index.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::space_index {

enum class ReadStatus : std::uint8_t {
  Ok,
  Missing,  // the segment file is in neither the journal nor the archive directory
  Changed,  // short file, bad frame or CRC, or not the indexed event: refused, nothing served
};
std::string_view readStatusName(ReadStatus s) noexcept;

struct ReadResult {
  ReadStatus status = ReadStatus::Changed;
  std::vector<qaqpa::journal::v1::DigitalEvent> events;  // with Ok: one per entry, same order
  std::string error;  // for the log: file, offset, seq (never shown to a citizen)
};

// All or nothing: any entry that cannot be read as indexed fails the whole call. Segment files
// are looked up in files.dir, then files.archive_dir.
ReadResult readEventsBlocking(const JournalFiles& files, std::string_view subject,
                              const std::vector<IndexEntry>& entries);

// The proof material of one event. The citizen's page checks it itself: the event's hash from
// its canonical bytes and prev_hash; next_hash's event names this hash as its prev_hash (checked
// here while reading); the checkpoint's signature (key_id names the key in GET /v1/keys) over
// first_seq..last_seq ending in chain_head.
struct Proof {
  qaqpa::journal::v1::DigitalEvent event;
  std::string prev_hash;                 // = event.prev_hash()
  std::optional<std::string> next_hash;  // hash of event seq + 1; none while it is the head
  std::optional<qaqpa::journal::v1::Checkpoint> checkpoint;  // first_seq <= seq <= last_seq
  bool covered = false;  // a checkpoint covers it (false only for events written without one yet:
                         // the tail recovered after a crash, until the journal signs it)
};
struct ProofResult {
  ReadStatus status = ReadStatus::Changed;
  Proof proof;
  std::string error;
};

// Reads the event (as readEventsBlocking), then scans forward from its frame in the same file
// up to the batch's checkpoint and the next event (at most one batch of frames); when the event
// is its segment's last, the next event is the first of segment index + 1 (named
// segmentFileName(index + 1, seq + 1)). No seq → location map is kept for that.
ProofResult proofBlocking(const JournalFiles& files, std::string_view subject,
                          const IndexEntry& entry);

}  // namespace qaqpa::space_index
