// Subject export: every event about one citizen or company, in seq order, as JSON lines
// (eventToJson). The read path of `qaqpa journal export` and of the admin API's
// `POST /admin/journal/export`. Journaling the export itself (an OPERATOR_ACCESS event with the
// stated legal reason) is the caller's duty, before any line leaves the process.
//
// Reads MANIFEST and the local segments (and ARCHIVED ones from `archive_dir` when given) frame
// by frame; it does not verify the chain (that is `verify`) but stops at the first unreadable
// frame or record and says where: the lines before it were emitted, the result is `complete =
// false`. Safe to run while the gateway appends (read-only; the open segment's in-flight tail is
// simply where it stops — reported as `torn tail`, not as damage).
//
// Blocking; a CLI or a blocking pool. The sink runs on the calling thread; returning false stops
// the export (e.g. the HTTP client went away).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "gateway/audit/verify.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::audit {

// One event: its JSON line (no trailing newline) and the parsed event.
using ExportSink =
    std::function<bool(std::string_view json_line, const qaqpa::journal::v1::DigitalEvent& event)>;

struct ExportOptions {
  std::filesystem::path archive_dir;  // read ARCHIVED segments from here; empty: skip them
};

struct ExportResult {
  bool ok = false;        // false: `error` (bad subject, no MANIFEST, unreadable file)
  bool complete = false;  // every listed segment was read to its end
  bool stopped = false;   // the sink returned false
  VerifyError damage = VerifyError::None;  // why it stopped early (frame/record codes)
  std::filesystem::path file;
  std::uint64_t offset = 0;
  bool torn_tail = false;  // the stop is at the open segment's tail (a write in flight)
  std::string error;
  std::uint64_t events_read = 0;
  std::uint64_t events_matched = 0;
  std::uint64_t first_seq = 0;  // of the first / last event read
  std::uint64_t last_seq = 0;
  std::size_t segments_archived_skipped = 0;
};

// "IIN:" or "BIN:" followed by exactly 12 digits.
bool isExportableSubject(std::string_view subject) noexcept;

ExportResult exportSubjectBlocking(const std::filesystem::path& dir, std::string_view subject,
                                   const ExportSink& sink, const ExportOptions& options = {});

}  // namespace qaqpa::audit
