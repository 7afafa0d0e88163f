// The journal's bytes on disk (ARCHITECTURE.md "Journal"; schemas in
// schemas/qaqpa/journal/v1/journal.proto).
//
//   <dir>/MANIFEST                 one frame holding a Manifest; replaced atomically
//                                  (MANIFEST.tmp → fsync → rename → fsync dir)
//   <dir>/seg-00000001-00000000000000000001.qj
//                                  segment files: the 8-byte magic "QAQPAJ1\n", then frames
//
//   frame  := u32le length | u32le crc32c(payload) | payload        (length ≥ 1, ≤ 1 MiB)
//   payload:= JournalRecord (protobuf, deterministic encoding)
//
// A segment's first frame is a SegmentStart; then events, each batch followed by one
// Checkpoint. Events carry the chain: hash = SHA-256(prev_hash ‖ canonical event without hash),
// prev_hash of seq 1 is 32 zero bytes, seq is gap-free across segments. The writer wraps an
// event as JournalRecord field 1 by hand (tag 0x0A, varint length, event bytes), which is exactly
// the deterministic encoding.
//
// Everything here is pure or a ...Blocking file helper; no threads, no globals.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace google::protobuf {
class MessageLite;
}

namespace qaqpa::journal {

class FileOps;

inline constexpr std::string_view kSegmentMagic{"QAQPAJ1\n", 8};
inline constexpr std::size_t kFrameHeaderBytes = 8;
inline constexpr std::uint32_t kMaxFramePayloadBytes = 1u << 20;
inline constexpr std::size_t kHashBytes = 32;
inline constexpr std::string_view kManifestName = "MANIFEST";
inline constexpr std::uint32_t kFormatVersion = 1;

// Field numbers of the chain fields of DigitalEvent (journal.proto).
inline constexpr int kFieldSeq = 29;
inline constexpr int kFieldPrevHash = 30;
inline constexpr int kFieldHash = 31;

// Canonical bytes (journal.proto, top comment): protobuf's deterministic encoding of `m` as it
// is (unknown fields included — drop them first when the bytes must be canonical). The one
// encoder of every hashed or signed message: events, checkpoints, records, the manifest.
void serializeCanonical(const google::protobuf::MessageLite& m, std::string& out);
std::string canonicalBytes(const google::protobuf::MessageLite& m);

// "seg-<index:08>-<first_seq:020>.qj"
std::string segmentFileName(std::uint64_t segment_index, std::uint64_t first_seq);

// Appends one frame around `payload` to `out`.
void appendFrame(std::string& out, std::string_view payload);

enum class FrameStatus : std::uint8_t {
  Ok,
  End,        // no bytes left: a clean end
  Truncated,  // fewer bytes than a header, or than the length announces
  BadLength,  // length 0 or above kMaxFramePayloadBytes
  BadCrc,
};
std::string_view frameStatusName(FrameStatus s) noexcept;

struct Frame {
  FrameStatus status = FrameStatus::End;
  std::string_view payload;  // with Ok
  std::size_t size = 0;      // bytes consumed with Ok (header + payload)
};
// Decodes the frame at the start of `bytes`.
Frame readFrame(std::string_view bytes) noexcept;

// Appends the protobuf encoding of the chain fields to canonical event bytes: field 29 (seq,
// varint), field 30 (prev_hash) — giving the canonical bytes without hash — and, with
// appendHashField, field 31.
void appendSeqAndPrevHash(std::string& event, std::uint64_t seq, std::string_view prev_hash);
void appendHashField(std::string& event, std::string_view hash);
// SHA-256(prev_hash ‖ canonical_without_hash), 32 raw bytes.
std::string chainHash(std::string_view prev_hash, std::string_view canonical_without_hash);
// The same into `out` (kHashBytes bytes), without allocating, over the canonical bytes given in
// two consecutive parts (the worker's event bytes, then the chain fields): the writer's path.
void chainHashInto(std::string_view prev_hash, std::string_view canonical_head,
                   std::string_view canonical_tail, char* out) noexcept;
// Splits event bytes as the writer produced them (canonical without hash, then field 31 as the
// last field) into the canonical bytes without hash and the hash. False when the bytes do not end
// with a 32-byte field 31.
bool splitHashField(std::string_view event, std::string_view& canonical_without_hash,
                    std::string_view& hash) noexcept;
// JournalRecord{event = <event bytes>} encoded by hand (see the top of this file).
std::string wrapEventRecord(std::string_view event_bytes);

// One frame found by scanSegmentBlocking.
struct ScannedFrame {
  std::uint64_t offset = 0;  // of the frame header, from the start of the file
  std::string payload;
};

// Result of reading a segment file front to back.
struct SegmentScan {
  bool opened = false;                  // false: the file could not be read (error says why)
  bool magic_ok = false;                // the first 8 bytes are kSegmentMagic
  std::vector<ScannedFrame> frames;     // every valid frame up to the first bad one
  FrameStatus stop = FrameStatus::End;  // why the scan stopped
  std::uint64_t stop_offset = 0;        // where (the bad frame's offset, or the file size)
  std::uint64_t file_size = 0;
  // After a bad frame: whether a valid frame (plausible length + matching CRC + parseable
  // JournalRecord) starts at any later offset — corruption in the middle, not a torn tail.
  bool valid_frame_after_stop = false;
  std::string error;
};
SegmentScan scanSegmentBlocking(const std::filesystem::path& file);

// MANIFEST read/write. readManifestBlocking: nullopt + error when absent (error_absent = true)
// or unreadable/corrupt. writeManifestBlocking: atomic replace as described above, through `ops`
// (null = POSIX) so tests can fail any step of it.
struct ManifestBytes {
  std::string payload;  // serialized qaqpa.journal.v1.Manifest
};
std::optional<ManifestBytes> readManifestBlocking(const std::filesystem::path& dir,
                                                  std::string& error, bool& error_absent);
bool writeManifestBlocking(const std::filesystem::path& dir, std::string_view manifest_payload,
                           std::string& error, FileOps* ops = nullptr);

// fsync of a directory (after creating, renaming or removing files in it).
bool fsyncDirBlocking(const std::filesystem::path& dir, std::string& error, FileOps* ops = nullptr);

}  // namespace qaqpa::journal
