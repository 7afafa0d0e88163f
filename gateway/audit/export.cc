#include "gateway/audit/export.h"

#include <boost/json/serialize.hpp>

#include "gateway/audit/event_json.h"
#include "gateway/journal/format.h"

namespace qaqpa::audit {
namespace {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;
using journal::FrameStatus;

}  // namespace

bool isExportableSubject(std::string_view subject) noexcept {
  if (subject.size() != 16) return false;
  if (!subject.starts_with("IIN:") && !subject.starts_with("BIN:")) return false;
  for (const char c : subject.substr(4)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

ExportResult exportSubjectBlocking(const fs::path& dir, std::string_view subject,
                                   const ExportSink& sink, const ExportOptions& options) {
  ExportResult res;
  if (!isExportableSubject(subject)) {
    res.error =
        "subject must be IIN:<12 digits> or BIN:<12 digits>, got \"" + std::string(subject) + "\"";
    return res;
  }
  bool absent = false;
  const auto bytes = journal::readManifestBlocking(dir, res.error, absent);
  v1::Manifest manifest;
  if (!bytes) return res;
  if (!manifest.ParseFromString(bytes->payload)) {
    res.error = "MANIFEST's payload is not a Manifest";
    return res;
  }
  res.ok = true;
  const int n = manifest.segments_size();
  for (int i = 0; i < n; ++i) {
    const auto& s = manifest.segments(i);
    fs::path path = dir / s.file_name();
    if (s.state() == v1::Manifest::ARCHIVED) {
      if (options.archive_dir.empty()) {
        ++res.segments_archived_skipped;
        continue;
      }
      path =
          options.archive_dir / (s.archive_path().empty() ? fs::path(s.file_name())
                                                          : fs::path(s.archive_path()).filename());
    }
    const auto scan = journal::scanSegmentBlocking(path);
    res.file = path;
    if (!scan.opened) {
      res.ok = false;
      res.damage = VerifyError::SegmentMissing;
      res.error = scan.error;
      return res;
    }
    if (!scan.magic_ok) {
      res.damage = VerifyError::BadMagic;
      res.error = path.filename().string() + ": not a segment (bad magic)";
      return res;
    }
    for (const auto& f : scan.frames) {
      v1::JournalRecord rec;
      if (!rec.ParseFromString(f.payload) || rec.body_case() == v1::JournalRecord::BODY_NOT_SET) {
        res.damage = VerifyError::RecordUnparseable;
        res.offset = f.offset;
        res.error = path.filename().string() + " offset " + std::to_string(f.offset) +
                    ": record is not a JournalRecord";
        return res;
      }
      if (!rec.has_event()) continue;
      const v1::DigitalEvent& ev = rec.event();
      ++res.events_read;
      if (res.first_seq == 0) res.first_seq = ev.seq();
      res.last_seq = ev.seq();
      if (ev.subject() != subject) continue;
      ++res.events_matched;
      const std::string line = boost::json::serialize(eventToJson(ev));
      if (!sink(line, ev)) {
        res.stopped = true;
        return res;
      }
    }
    if (scan.stop != FrameStatus::End) {
      res.damage = scan.stop == FrameStatus::Truncated   ? VerifyError::FrameTruncated
                   : scan.stop == FrameStatus::BadLength ? VerifyError::FrameBadLength
                                                         : VerifyError::FrameBadCrc;
      res.offset = scan.stop_offset;
      res.torn_tail = s.state() == v1::Manifest::OPEN && i + 1 == n && !scan.valid_frame_after_stop;
      res.error = path.filename().string() + " offset " + std::to_string(scan.stop_offset) + ": " +
                  std::string(journal::frameStatusName(scan.stop)) +
                  (res.torn_tail ? " (the open segment's tail: a write in flight or torn)" : "");
      // A torn tail of the open segment is where the journal ends (it is the last segment), not
      // missing data: the export is complete; `damage` and `torn_tail` still say what was seen.
      if (!res.torn_tail) return res;
    }
  }
  res.complete = true;
  return res;
}

}  // namespace qaqpa::audit
