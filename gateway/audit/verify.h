// Offline verification of a journal directory (PROTOCOL.md §6, journal.proto, format.h): the
// engine of `qaqpa journal verify`, and the walk that `repair` cuts at.
//
// Checks, in this order; the FIRST problem found stops the walk and is reported precisely
// (code, file, byte offset of the record's frame, seq when the record is an event or names one):
//  1. MANIFEST present (ManifestMissing) and parseable and coherent: format 1, segment indexes
//     consecutive, ARCHIVED entries only before local ones, at most one OPEN entry and
//     only the last, file names as segmentFileName(index, first_seq), no first_seq 0
//     (ManifestCorrupt).
//  2. Every listed non-ARCHIVED segment file exists (SegmentMissing); no seg-*.qj file in the
//     directory that the manifest does not list (UnlistedSegment).
//  3. Each segment in manifest order (ARCHIVED ones too when `archive_dir` is given; otherwise the
//     chain starts where the first local segment's manifest entry says — its first_seq and
//     prev_hash are trusted): the magic (BadMagic), every frame's length and CRC (FrameBadLength,
//     FrameBadCrc, FrameTruncated — at the frame's offset), every record parses to one of the
//     three bodies (RecordUnparseable), every record is canonical: the stored payload equals the
//     deterministic re-encoding of what was parsed, unknown fields dropped — for an event,
//     exactly wrapEventRecord(deterministic event with hash set) (NonCanonical).
//     The first record is a SegmentStart agreeing with the manifest entry and with the chain so
//     far: index, first_seq, prev_hash, node_id (SegmentStartMismatch); no other SegmentStart.
//     Events: seq is the next one (SeqGap), prev_hash is the previous event's hash
//     (PrevHashMismatch), hash = chainHash(prev_hash, deterministic event with hash cleared)
//     (HashMismatch), node_id is the manifest's (NodeMismatch).
//     Checkpoints: node_id (NodeMismatch); first_seq..last_seq is exactly the events since the
//     previous checkpoint, at least one (CheckpointRangeMismatch); chain_head is the hash of
//     last_seq (CheckpointHeadMismatch); signature over the canonical checkpoint bytes with
//     signature unset verifies via the KeyResolver (CheckpointBadSignature / UnknownKey).
//     A CLOSED (or ARCHIVED) segment ends with a checkpoint (CheckpointRangeMismatch otherwise)
//     and its manifest last_seq / last_hash match the last event (SegmentEndMismatch).
//  4. Events after the last checkpoint of the OPEN segment are "uncovered": counted and warned
//     about (the writer checkpoints after every batch, so this is a tail the writer had not
//     signed yet — a crash between the write of the events and of their checkpoint, or a torn
//     batch); with `strict` they fail the verification (Uncovered).
// A bad frame in the last local segment with no valid frame after it is a torn tail (a crash
// mid-write): still reported with its frame code, with `torn_tail` set — the gateway truncates
// such a tail on its next start.
//
// Blocking (reads every segment); call from a CLI or a blocking pool. Thread-safe as long as
// the resolver is. Never writes. Segments are read one at a time, whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/key_set.h"

namespace qaqpa::audit {

enum class VerifyError : std::uint8_t {
  None,
  IoError,  // a file could not be read (permissions, I/O): not evidence of damage
  ManifestMissing,
  ManifestCorrupt,
  SegmentMissing,
  UnlistedSegment,
  SegmentStartMismatch,
  SegmentEndMismatch,
  BadMagic,
  FrameTruncated,
  FrameBadLength,
  FrameBadCrc,
  RecordUnparseable,
  NonCanonical,
  SeqGap,
  PrevHashMismatch,
  HashMismatch,
  NodeMismatch,
  CheckpointRangeMismatch,
  CheckpointHeadMismatch,
  CheckpointBadSignature,
  UnknownKey,
  Uncovered,  // only with VerifyOptions::strict
};
std::string_view verifyErrorName(VerifyError e) noexcept;

// Process exit codes of `qaqpa journal verify` (documented in --help and the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;      // bad arguments, unreadable files (IoError)
inline constexpr int kExitFraming = 3;    // BadMagic, FrameTruncated, FrameBadLength, FrameBadCrc
inline constexpr int kExitChain = 4;      // RecordUnparseable, NonCanonical, SeqGap, PrevHash/Hash
                                          // mismatch, NodeMismatch, CheckpointRange/HeadMismatch
inline constexpr int kExitSignature = 5;  // CheckpointBadSignature, UnknownKey, Uncovered (strict)
inline constexpr int kExitSegments = 6;   // Manifest*, Segment*, UnlistedSegment
int exitCodeFor(VerifyError e) noexcept;

struct VerifyOptions {
  // Where ARCHIVED segments were copied (Manifest.Segment.archive_path's directory). Empty: they
  // are not read, and the chain is trusted from the first local segment's manifest entry.
  std::filesystem::path archive_dir;
  bool strict = false;           // uncovered events fail (Uncovered)
  bool check_signatures = true;  // false: checkpoint signatures are not checked (a warning says so)
  // true: step 2 runs before any content is read (the documented order). false: unlisted files
  // are ignored and a missing file is reported when the walk reaches it, so that `safe` is the
  // cut point before it (repair uses this; it moves unlisted files itself).
  bool check_file_set_first = true;
};

// A position in the journal where everything before it verified, ending in a valid checkpoint
// (or right after a segment's valid SegmentStart when that segment has no checkpoint yet).
// `repair` truncates there.
struct SafePoint {
  bool valid = false;
  std::size_t entry = 0;         // index into Manifest.segments
  std::filesystem::path file;    // that segment's file
  std::uint64_t end_offset = 0;  // bytes of the file to keep
  std::uint64_t last_seq = 0;    // last event kept (first_seq - 1 when none in this segment)
  std::string head;              // its hash (32 bytes)
};

struct VerifyReport {
  bool ok = false;
  VerifyError error = VerifyError::None;
  std::filesystem::path file;   // the file holding the first bad record (or the MANIFEST)
  std::uint64_t offset = 0;     // byte offset of the bad record's frame in `file`
  std::uint64_t seq = 0;        // the bad event's seq (SeqGap: the seq found; frame errors: the
                                // seq the next event would have had); 0 = n/a
  std::string message;          // one human sentence naming the record and why
  bool torn_tail = false;       // the error is a bad tail of the open segment (see above)
  std::size_t error_entry = 0;  // manifest index of the segment holding the error (chain errors)

  std::string node_id;
  std::size_t segments_listed = 0;
  std::size_t segments_archived_skipped = 0;  // ARCHIVED and not read (no archive_dir)
  std::size_t segments_verified = 0;
  std::uint64_t events = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t first_seq = 0;         // of the first event read (0 when none)
  std::uint64_t last_seq = 0;          // of the last good event
  std::string chain_head;              // hash of last_seq (32 bytes)
  std::uint64_t uncovered_events = 0;  // after the last checkpoint of the open segment
  std::uint64_t uncovered_first_seq = 0;
  bool signatures_checked = true;
  std::vector<std::string> warnings;
  SafePoint safe;  // the last safe cut point before the error (or at the end when ok)
};

VerifyReport verifyJournalBlocking(const std::filesystem::path& dir, const KeyResolver& keys,
                                   const VerifyOptions& options = {});

}  // namespace qaqpa::audit
