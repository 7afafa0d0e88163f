// Reading a node's journal files front to back from a given seq, and following them while the
// journal appends: the outbox's source (the journal stays the source of truth; nothing is copied
// out of it before it is durable).
//
// Position: seekBlocking(from_seq) reads MANIFEST and opens the segment holding from_seq (in the
// journal directory, or the archive directory once archived); records are then returned in file
// order from the first event with seq ≥ from_seq (checkpoints whose last_seq < from_seq and
// SegmentStart records are skipped). When a segment ends, the next one is
// segmentFileName(index + 1, last seq + 1), looked up in both directories; a segment is final
// once its successor exists (the journal creates the successor only after the last batch of the
// old one is written).
//
// Only committed records are returned: nextBlocking(limit_seq) answers Wait before an event with
// seq > limit_seq (the writer may have written it without it being durable yet) and before
// anything not fully in the file (a batch being written: a short or CRC-failing frame at the
// end). Such frames are read again on the next call.
//
// Memory: one read buffer of at most max(256 KiB, one frame ≤ 1 MiB + 8).
// Threading: blocking file I/O (pread); one thread (the outbox's own), never a worker.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace qaqpa::outbox {

struct TailRecord {
  enum class Type : std::uint8_t { Event, Checkpoint };
  Type type = Type::Event;
  std::uint64_t seq = 0;   // Event: its seq; Checkpoint: its last_seq
  std::string_view bytes;  // Event: event bytes as journaled; Checkpoint: the Checkpoint's
                           // bytes. Valid until the next call.
};

class JournalTail {
 public:
  JournalTail(std::filesystem::path dir, std::filesystem::path archive_dir);
  ~JournalTail();
  JournalTail(const JournalTail&) = delete;
  JournalTail& operator=(const JournalTail&) = delete;

  // Positions the tail at from_seq (≥ 1). False with `error` when MANIFEST cannot be read or the
  // segment cannot be opened. When from_seq is before the first segment still on disk (archived
  // without an archive directory), the tail starts at the first one and `skipped_to` says where.
  bool seekBlocking(std::uint64_t from_seq, std::string& error,
                    std::uint64_t* skipped_to = nullptr);

  enum class Next : std::uint8_t { Record, Wait, Error };
  // The next committed record (seq ≤ limit_seq), Wait when there is none yet, Error (with
  // `error`) when the files contradict themselves (a gap in seq, a record that does not parse).
  Next nextBlocking(std::uint64_t limit_seq, TailRecord& out, std::string& error);

  std::uint64_t lastEventSeq() const noexcept { return last_event_seq_; }

 private:
  bool openSegment(std::uint64_t index, std::uint64_t first_seq, std::string& error);
  // Makes bytes [offset_, offset_ + n) available in buf_; false when the file is shorter.
  bool ensure(std::size_t n);

  std::filesystem::path dir_;
  std::filesystem::path archive_dir_;
  int fd_ = -1;
  std::uint64_t segment_index_ = 0;
  std::uint64_t segment_first_seq_ = 0;
  std::uint64_t offset_ = 0;  // of the next frame in the file
  std::string buf_;           // file bytes [buf_offset_, buf_offset_ + buf_.size())
  std::uint64_t buf_offset_ = 0;
  std::uint64_t from_seq_ = 1;  // records before it are skipped
  std::uint64_t last_event_seq_ = 0;
  std::string record_;  // the last record's bytes (out.bytes points here)
};

}  // namespace qaqpa::outbox
