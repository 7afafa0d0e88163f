// The on-disk format of `consents.log`, internal to gateway/consent (used by FileConsentStore and
// by tests that craft files). Pure functions over bytes: no I/O, thread-safe.
//
// File: a sequence of records, nothing else (no file header). Append-only; one record per change.
//
//   offset 0   u32 little-endian  length  = number of payload bytes, 1..kMaxRecordPayloadBytes
//   offset 4   u32 little-endian  crc     = CRC-32C (Castagnoli, reflected, init and xor-out
//                                           0xFFFFFFFF; "123456789" → 0xE3069283) of the payload
//   offset 8   length bytes       payload = one JSON object (UTF-8, Boost.JSON serialization)
//
// Payloads (times are integer Unix milliseconds, UTC):
//   {"v":1,"op":"GRANT","id":"<uuidv7>","subject":"IIN:<12>","client":"<system id>",
//    "services":["<service id>",...],"purpose":"<code>","grantedAtMs":N,"expiresMs":N,
//    "grantedBy":"citizen"|"admin:<operator>"}
//   {"v":1,"op":"REVOKE","id":"<uuid>","revokedAtMs":N,"by":"IIN:<12>"}
//
// Recovery (scanLog): records are read from offset 0 until the first one that is not valid.
// - Nothing invalid: Clean.
// - The first invalid frame (length out of range, runs past the end of the file, or CRC mismatch)
//   is followed by no valid frame at any later byte offset: TornTail — a write cut short by a
//   crash; the caller truncates the file at `valid_bytes`.
// - A valid frame exists somewhere after the first invalid one, or a frame with a good CRC holds a
//   payload that does not decode: Corrupt at `bad_offset` — refuse to open; repair by hand (cut
//   the file at that offset after saving a copy) since records after it would be lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/common/crc32c.h"
#include "gateway/consent/consent_store.h"

namespace qaqpa::consent {

inline constexpr std::size_t kRecordHeaderBytes = 8;
// A consent with 64 services of 64 bytes each is ~5 KiB; anything near this bound is garbage.
inline constexpr std::uint32_t kMaxRecordPayloadBytes = 64 * 1024;
inline constexpr std::string_view kLogFileName = "consents.log";

using common::crc32c;  // record frames: u32 length | u32 crc32c(payload) | payload

struct RevokeRecord {
  std::string id;
  Clock::time_point revoked_at;
  common::SubjectId by;
};
using LogRecord = std::variant<Consent, RevokeRecord>;  // Consent = a GRANT record

// One framed record (header + payload), ready to append.
std::string encodeRecord(const LogRecord& record);

// Decodes one payload; nullopt when it is not a well-formed record of this format version.
std::optional<LogRecord> decodePayload(std::string_view json);

struct ScannedRecord {
  std::uint64_t offset = 0;
  LogRecord record;
};

enum class ScanOutcome : std::uint8_t { Clean, TornTail, Corrupt };

struct ScanResult {
  ScanOutcome outcome = ScanOutcome::Clean;
  std::vector<ScannedRecord> records;   // every valid record before the first invalid one
  std::uint64_t valid_bytes = 0;        // end of the last valid record (truncate here if torn)
  std::uint64_t bad_offset = 0;         // TornTail/Corrupt: start of the first invalid record
  std::uint64_t next_valid_offset = 0;  // Corrupt by a later valid frame: where it starts
  std::string reason;                   // human-readable cause of the first invalid record
};

ScanResult scanLog(std::string_view bytes);

}  // namespace qaqpa::consent
