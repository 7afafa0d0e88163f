#include "gateway/audit/verify.h"

#include <algorithm>
#include <set>
#include <system_error>

#include "gateway/audit/canonical.h"
#include "gateway/journal/format.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::audit {
namespace {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;
using journal::FrameStatus;

const std::string kZeroHash(journal::kHashBytes, '\0');

// Any unknown field in `m` or in a message it holds.
bool hasUnknownFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* refl = m.GetReflection();
  if (!refl->GetUnknownFields(m).empty()) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(m, f); ++i) {
        if (hasUnknownFields(refl->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (hasUnknownFields(refl->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

// The event's bytes inside a JournalRecord payload written as wrapEventRecord does (tag 0x0A,
// varint length, bytes to the end); a null view when the payload has another shape.
std::string_view eventBytesOf(std::string_view payload) {
  if (payload.empty() || payload[0] != 0x0A) return {};
  std::uint64_t len = 0;
  std::size_t pos = 1;
  for (int shift = 0; pos < payload.size() && shift < 64; shift += 7) {
    const auto b = static_cast<unsigned char>(payload[pos++]);
    len |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      // Canonical varints have no redundant trailing zero group.
      if (b == 0 && pos > 2) return {};
      if (len != payload.size() - pos) return {};
      return payload.substr(pos);
    }
  }
  return {};
}

std::string range(std::uint64_t first, std::uint64_t last) {
  return std::to_string(first) + ".." + std::to_string(last);
}

class Walker {
 public:
  Walker(const fs::path& dir, const KeyResolver& keys, const VerifyOptions& options,
         VerifyReport& report)
      : dir_(dir), keys_(keys), options_(options), r_(report) {}

  void run() {
    if (!readManifest()) return;
    if (options_.check_file_set_first && !checkFileSet()) return;
    if (!walkSegments()) return;
    r_.ok = true;
  }

 private:
  bool fail(VerifyError e, const fs::path& file, std::uint64_t offset, std::uint64_t seq,
            std::string message) {
    r_.ok = false;
    r_.error = e;
    r_.file = file;
    r_.offset = offset;
    r_.seq = seq;
    r_.message = std::move(message);
    return false;
  }

  // "<file> offset <n>: "
  static std::string at(const fs::path& file, std::uint64_t offset) {
    return file.filename().string() + " offset " + std::to_string(offset) + ": ";
  }

  bool readManifest() {
    const fs::path path = dir_ / std::string(journal::kManifestName);
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
      return fail(VerifyError::IoError, dir_, 0, 0, dir_.string() + " is not a directory");
    }
    std::string error;
    bool absent = false;
    const auto bytes = journal::readManifestBlocking(dir_, error, absent);
    if (!bytes) {
      return fail(absent ? VerifyError::ManifestMissing : VerifyError::ManifestCorrupt, path, 0, 0,
                  absent ? "no MANIFEST in " + dir_.string() +
                               ": not a journal directory, or "
                               "its manifest was removed"
                         : "MANIFEST is unreadable: " + error);
    }
    if (!manifest_.ParseFromString(bytes->payload)) {
      return fail(VerifyError::ManifestCorrupt, path, 0, 0,
                  "MANIFEST's frame is intact but its payload is not a Manifest");
    }
    r_.node_id = manifest_.node_id();
    r_.segments_listed = static_cast<std::size_t>(manifest_.segments_size());
    auto corrupt = [&](std::string why) {
      return fail(VerifyError::ManifestCorrupt, path, 0, 0, "MANIFEST: " + why);
    };
    if (manifest_.format_version() != journal::kFormatVersion) {
      return corrupt("format_version " + std::to_string(manifest_.format_version()) +
                     ", this tool reads " + std::to_string(journal::kFormatVersion));
    }
    if (manifest_.segments_size() > 0 && manifest_.node_id().empty()) return corrupt("no node_id");
    bool local_seen = false;
    for (int i = 0; i < manifest_.segments_size(); ++i) {
      const auto& s = manifest_.segments(i);
      const std::string name = "segment entry " + std::to_string(i) + " (" + s.file_name() + ")";
      if (s.state() != v1::Manifest::OPEN && s.state() != v1::Manifest::CLOSED &&
          s.state() != v1::Manifest::ARCHIVED) {
        return corrupt(name + " has no state");
      }
      if (s.state() == v1::Manifest::ARCHIVED) {
        if (local_seen) return corrupt(name + " is ARCHIVED after a local segment");
      } else {
        local_seen = true;
      }
      if (s.state() == v1::Manifest::OPEN && i + 1 != manifest_.segments_size()) {
        return corrupt(name + " is OPEN but not the last segment");
      }
      if (s.file_name() != journal::segmentFileName(s.segment_index(), s.first_seq())) {
        return corrupt(name + " should be named " +
                       journal::segmentFileName(s.segment_index(), s.first_seq()));
      }
      if (s.first_seq() == 0) return corrupt(name + " starts at seq 0 (seqs start at 1)");
      if (s.first_seq() == 1 && s.prev_hash() != kZeroHash) {
        return corrupt(name + " starts at seq 1 but its prev_hash is not 32 zero bytes");
      }
      if (i > 0) {
        const auto& p = manifest_.segments(i - 1);
        if (s.segment_index() != p.segment_index() + 1) {
          return corrupt(name + ": index does not follow " + std::to_string(p.segment_index()));
        }
        if (s.first_seq() != p.last_seq() + 1 || s.prev_hash() != p.last_hash()) {
          return corrupt(name + " does not continue the previous segment (first_seq " +
                         std::to_string(s.first_seq()) + " after last_seq " +
                         std::to_string(p.last_seq()) + ", or prev_hash ≠ its last_hash)");
        }
      }
    }
    return true;
  }

  fs::path segmentPath(const v1::Manifest::Segment& s) const {
    if (s.state() != v1::Manifest::ARCHIVED) return dir_ / s.file_name();
    const fs::path name =
        s.archive_path().empty() ? fs::path(s.file_name()) : fs::path(s.archive_path()).filename();
    return options_.archive_dir / name;
  }

  bool checkFileSet() {
    std::set<std::string> listed;
    for (const auto& s : manifest_.segments()) {
      listed.insert(s.file_name());
      if (s.state() == v1::Manifest::ARCHIVED) continue;
      std::error_code ec;
      const fs::path p = dir_ / s.file_name();
      if (!fs::exists(p, ec)) {
        return fail(VerifyError::SegmentMissing, p, 0, s.first_seq(),
                    s.file_name() + " is listed in the MANIFEST (" +
                        (s.state() == v1::Manifest::OPEN ? "OPEN" : "CLOSED") + ", from seq " +
                        std::to_string(s.first_seq()) + ") but is missing");
      }
    }
    std::vector<std::string> unlisted;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("seg-") && name.ends_with(".qj") && !listed.contains(name)) {
        unlisted.push_back(name);
      }
    }
    if (ec) return fail(VerifyError::IoError, dir_, 0, 0, "cannot list " + dir_.string());
    if (!unlisted.empty()) {
      std::sort(unlisted.begin(), unlisted.end());
      return fail(
          VerifyError::UnlistedSegment, dir_ / unlisted.front(), 0, 0,
          unlisted.front() + " is in the journal directory but not in the MANIFEST" +
              (unlisted.size() > 1 ? " (and " + std::to_string(unlisted.size() - 1) + " more)"
                                   : std::string()));
    }
    return true;
  }

  bool walkSegments() {
    if (!keys_ && options_.check_signatures) {
      r_.warnings.push_back("no keys given: checkpoint signatures were NOT checked");
      check_signatures_ = false;
    } else {
      check_signatures_ = options_.check_signatures;
      if (!check_signatures_) {
        r_.warnings.push_back("checkpoint signatures were NOT checked (--skip-signatures)");
      }
    }
    r_.signatures_checked = check_signatures_;
    const int n = manifest_.segments_size();
    bool started = false;
    for (int i = 0; i < n; ++i) {
      const auto& s = manifest_.segments(i);
      if (s.state() == v1::Manifest::ARCHIVED && options_.archive_dir.empty()) {
        ++r_.segments_archived_skipped;
        continue;
      }
      if (!started) {
        // The chain is trusted from here: the first segment read starts where its entry says.
        expected_seq_ = s.first_seq();
        prev_hash_ = s.prev_hash();
        r_.last_seq = s.first_seq() - 1;
        r_.chain_head = prev_hash_;
        started = true;
      }
      if (!walkSegment(static_cast<std::size_t>(i), s, i + 1 == n)) {
        r_.error_entry = static_cast<std::size_t>(i);
        return false;
      }
      ++r_.segments_verified;
    }
    if (r_.segments_archived_skipped > 0) {
      r_.warnings.push_back(std::to_string(r_.segments_archived_skipped) +
                            " archived segment(s) not read (no --archive): the chain is trusted "
                            "from the first local segment's MANIFEST entry");
    }
    if (r_.uncovered_events > 0) {
      const std::string what =
          std::to_string(r_.uncovered_events) + " event(s) after the last checkpoint (seq " +
          range(r_.uncovered_first_seq, r_.last_seq) + ") are not covered by a signature";
      if (options_.strict) {
        return fail(VerifyError::Uncovered, uncovered_file_, uncovered_offset_,
                    r_.uncovered_first_seq,
                    at(uncovered_file_, uncovered_offset_) + what + " (--strict)");
      }
      r_.warnings.push_back(what);
    }
    return true;
  }

  bool walkSegment(std::size_t entry, const v1::Manifest::Segment& s, bool last) {
    const fs::path path = segmentPath(s);
    const bool open = s.state() == v1::Manifest::OPEN;
    const journal::SegmentScan scan = journal::scanSegmentBlocking(path);
    if (!scan.opened) {
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        return fail(VerifyError::SegmentMissing, path, 0, s.first_seq(),
                    path.string() + " (listed in the MANIFEST, from seq " +
                        std::to_string(s.first_seq()) + ") is missing");
      }
      return fail(VerifyError::IoError, path, 0, 0, scan.error);
    }
    if (!scan.magic_ok) {
      return fail(VerifyError::BadMagic, path, 0, expected_seq_,
                  at(path, 0) + "the file does not start with the segment magic \"QAQPAJ1\\n\" (" +
                      std::to_string(scan.file_size) + " bytes)");
    }
    std::uint64_t pending = 0, pending_first = 0;
    for (std::size_t k = 0; k < scan.frames.size(); ++k) {
      const auto& frame = scan.frames[k];
      const std::uint64_t end = frame.offset + journal::kFrameHeaderBytes + frame.payload.size();
      v1::JournalRecord rec;
      if (!rec.ParseFromString(frame.payload) ||
          rec.body_case() == v1::JournalRecord::BODY_NOT_SET) {
        return fail(VerifyError::RecordUnparseable, path, frame.offset, expected_seq_,
                    at(path, frame.offset) +
                        "the record's CRC is right but it is not a JournalRecord (the next "
                        "event would be seq " +
                        std::to_string(expected_seq_) + ")");
      }
      if (k == 0 && rec.body_case() != v1::JournalRecord::kSegmentStart) {
        return fail(VerifyError::SegmentStartMismatch, path, frame.offset, expected_seq_,
                    at(path, frame.offset) + "the first record is not a SegmentStart");
      }
      switch (rec.body_case()) {
        case v1::JournalRecord::kSegmentStart: {
          if (!canonicalRecord(rec, frame, path, expected_seq_)) return false;
          if (k != 0) {
            return fail(VerifyError::SegmentStartMismatch, path, frame.offset, expected_seq_,
                        at(path, frame.offset) + "a second SegmentStart inside the segment");
          }
          if (!checkStart(rec.segment_start(), s, path, frame.offset)) return false;
          r_.safe = {true, entry, path, end, expected_seq_ - 1, prev_hash_};
          break;
        }
        case v1::JournalRecord::kEvent: {
          if (!checkEvent(rec.event(), frame, path)) return false;
          if (pending++ == 0) {
            pending_first = rec.event().seq();
            if (open) {
              uncovered_file_ = path;
              uncovered_offset_ = frame.offset;
            }
          }
          break;
        }
        case v1::JournalRecord::kCheckpoint: {
          if (!canonicalRecord(rec, frame, path, expected_seq_)) return false;
          if (!checkCheckpoint(rec.checkpoint(), pending, pending_first, path, frame.offset)) {
            return false;
          }
          pending = 0;
          ++r_.checkpoints;
          r_.safe = {true, entry, path, end, r_.last_seq, r_.chain_head};
          break;
        }
        case v1::JournalRecord::BODY_NOT_SET:
          break;
      }
    }
    if (scan.stop != FrameStatus::End) {
      r_.torn_tail = open && last && !scan.valid_frame_after_stop;
      const VerifyError code = scan.stop == FrameStatus::Truncated   ? VerifyError::FrameTruncated
                               : scan.stop == FrameStatus::BadLength ? VerifyError::FrameBadLength
                                                                     : VerifyError::FrameBadCrc;
      std::string why =
          at(path, scan.stop_offset) + std::string(journal::frameStatusName(scan.stop));
      why +=
          " (" + std::to_string(scan.file_size - scan.stop_offset) + " bytes from there to the end";
      why += r_.torn_tail ? "; a torn tail of the open segment — a crash mid-write; the gateway "
                            "truncates it on its next start)"
                          : (scan.valid_frame_after_stop
                                 ? "; valid records follow — damage in the middle of the file)"
                                 : ")");
      why += "; the next event would be seq " + std::to_string(expected_seq_);
      return fail(code, path, scan.stop_offset, expected_seq_, std::move(why));
    }
    if (scan.frames.empty()) {
      return fail(VerifyError::SegmentStartMismatch, path, journal::kSegmentMagic.size(),
                  expected_seq_,
                  at(path, journal::kSegmentMagic.size()) + "no SegmentStart record");
    }
    if (open) {
      r_.uncovered_events = pending;
      r_.uncovered_first_seq = pending == 0 ? 0 : pending_first;
      return true;
    }
    if (pending > 0) {
      return fail(VerifyError::CheckpointRangeMismatch, path, scan.file_size, pending_first,
                  at(path, scan.file_size) + "the " +
                      (s.state() == v1::Manifest::CLOSED ? "closed" : "archived") +
                      " segment ends without a checkpoint over events " +
                      range(pending_first, r_.last_seq));
    }
    const bool has_events = r_.last_seq + 1 > s.first_seq();
    if (has_events ? (s.last_seq() != r_.last_seq || s.last_hash() != r_.chain_head)
                   : (s.last_seq() != 0 && s.last_seq() + 1 != s.first_seq())) {
      return fail(VerifyError::SegmentEndMismatch, path, scan.file_size, r_.last_seq,
                  at(path, scan.file_size) + "the MANIFEST says this segment ends at seq " +
                      std::to_string(s.last_seq()) + " (hash " + hexPrefix(s.last_hash()) +
                      ") but its last event is seq " + std::to_string(r_.last_seq) + " (hash " +
                      hexPrefix(r_.chain_head) + ")");
    }
    return true;
  }

  bool canonicalRecord(const v1::JournalRecord& rec, const journal::ScannedFrame& frame,
                       const fs::path& path, std::uint64_t seq) {
    v1::JournalRecord copy = rec;
    copy.DiscardUnknownFields();
    if (canonicalBytes(copy) != frame.payload) {
      return fail(VerifyError::NonCanonical, path, frame.offset, seq,
                  at(path, frame.offset) + "the " +
                      (rec.has_checkpoint() ? "checkpoint" : "SegmentStart") +
                      " record is not in canonical encoding (its bytes differ from the "
                      "deterministic re-encoding: reordered, duplicated or unknown fields)");
    }
    return true;
  }

  bool checkStart(const v1::SegmentStart& ss, const v1::Manifest::Segment& s, const fs::path& path,
                  std::uint64_t offset) {
    auto mismatch = [&](std::string what) {
      return fail(VerifyError::SegmentStartMismatch, path, offset, expected_seq_,
                  at(path, offset) + "SegmentStart disagrees with the MANIFEST: " + what);
    };
    if (ss.segment_index() != s.segment_index()) {
      return mismatch("segment_index " + std::to_string(ss.segment_index()) + " vs " +
                      std::to_string(s.segment_index()));
    }
    if (ss.first_seq() != s.first_seq()) {
      return mismatch("first_seq " + std::to_string(ss.first_seq()) + " vs " +
                      std::to_string(s.first_seq()));
    }
    if (ss.prev_hash() != s.prev_hash()) {
      return mismatch("prev_hash " + hexPrefix(ss.prev_hash()) + " vs " + hexPrefix(s.prev_hash()));
    }
    if (ss.node_id() != manifest_.node_id()) {
      return mismatch("node_id \"" + ss.node_id() + "\" vs \"" + manifest_.node_id() + "\"");
    }
    if (ss.first_seq() != expected_seq_) {
      return fail(VerifyError::SeqGap, path, offset, expected_seq_,
                  at(path, offset) + "the segment starts at seq " + std::to_string(ss.first_seq()) +
                      " but the chain continues at seq " + std::to_string(expected_seq_));
    }
    if (ss.prev_hash() != prev_hash_) {
      return fail(VerifyError::PrevHashMismatch, path, offset, expected_seq_,
                  at(path, offset) + "the segment's prev_hash " + hexPrefix(ss.prev_hash()) +
                      " is not the hash of seq " + std::to_string(expected_seq_ - 1) + " (" +
                      hexPrefix(prev_hash_) + ")");
    }
    return true;
  }

  bool checkEvent(const v1::DigitalEvent& ev, const journal::ScannedFrame& frame,
                  const fs::path& path) {
    const std::uint64_t off = frame.offset;
    // Canonical: the record is exactly tag 0x0A, the length, and the deterministic encoding of
    // the parsed event, which has no unknown fields (they would be re-emitted and compare equal).
    const std::string_view stored = eventBytesOf(frame.payload);
    if (stored.data() == nullptr || hasUnknownFields(ev) || canonicalBytes(ev) != stored) {
      return fail(VerifyError::NonCanonical, path, off, ev.seq(),
                  at(path, off) + "event seq " + std::to_string(ev.seq()) +
                      " is not in canonical encoding (its bytes differ from the deterministic "
                      "re-encoding: reordered, duplicated or unknown fields — the bytes were "
                      "altered after hashing)");
    }
    if (ev.seq() != expected_seq_) {
      return fail(VerifyError::SeqGap, path, off, ev.seq(),
                  at(path, off) + "expected event seq " + std::to_string(expected_seq_) +
                      ", found seq " + std::to_string(ev.seq()) +
                      (ev.seq() > expected_seq_ ? " (events are missing)"
                                                : " (seq goes back: a repeated or moved record)"));
    }
    if (ev.prev_hash() != prev_hash_) {
      return fail(VerifyError::PrevHashMismatch, path, off, ev.seq(),
                  at(path, off) + "event seq " + std::to_string(ev.seq()) + ": prev_hash " +
                      hexPrefix(ev.prev_hash()) + " is not the hash of seq " +
                      std::to_string(ev.seq() - 1) + " (" + hexPrefix(prev_hash_) + ")");
    }
    // The canonical bytes with hash cleared. Field 31 is the highest field number, so in the
    // (now known canonical) stored bytes it is the trailing field: cutting it off is the
    // deterministic re-encoding with hash cleared, without encoding again.
    std::string_view without_hash, stored_hash;
    std::string reencoded;
    if (ev.hash().empty()) {
      without_hash = stored;
    } else if (!journal::splitHashField(stored, without_hash, stored_hash)) {
      v1::DigitalEvent copy = ev;
      copy.clear_hash();
      reencoded = canonicalBytes(copy);
      without_hash = reencoded;
    }
    const std::string expected = journal::chainHash(prev_hash_, without_hash);
    if (ev.hash() != expected) {
      return fail(VerifyError::HashMismatch, path, off, ev.seq(),
                  at(path, off) + "event seq " + std::to_string(ev.seq()) + ": stored hash " +
                      hexPrefix(ev.hash()) + " ≠ SHA-256(prev_hash ‖ event) " +
                      hexPrefix(expected) + " — the event or its hash was altered");
    }
    if (ev.node_id() != manifest_.node_id()) {
      return fail(VerifyError::NodeMismatch, path, off, ev.seq(),
                  at(path, off) + "event seq " + std::to_string(ev.seq()) + " names node \"" +
                      ev.node_id() + "\", the journal belongs to \"" + manifest_.node_id() + "\"");
    }
    ++expected_seq_;
    prev_hash_ = ev.hash();
    ++r_.events;
    if (r_.first_seq == 0) r_.first_seq = ev.seq();
    r_.last_seq = ev.seq();
    r_.chain_head = ev.hash();
    return true;
  }

  bool checkCheckpoint(const v1::Checkpoint& c, std::uint64_t pending, std::uint64_t pending_first,
                       const fs::path& path, std::uint64_t off) {
    const std::string name = "checkpoint " + range(c.first_seq(), c.last_seq());
    if (c.node_id() != manifest_.node_id()) {
      return fail(VerifyError::NodeMismatch, path, off, c.last_seq(),
                  at(path, off) + name + " names node \"" + c.node_id() +
                      "\", the journal belongs to \"" + manifest_.node_id() + "\"");
    }
    if (pending == 0 || c.first_seq() != pending_first || c.last_seq() != r_.last_seq) {
      return fail(VerifyError::CheckpointRangeMismatch, path, off, c.first_seq(),
                  at(path, off) + name +
                      " does not cover exactly the events since the previous "
                      "checkpoint (" +
                      (pending == 0 ? std::string("none") : range(pending_first, r_.last_seq)) +
                      ")");
    }
    if (c.chain_head() != r_.chain_head) {
      return fail(VerifyError::CheckpointHeadMismatch, path, off, c.last_seq(),
                  at(path, off) + name + ": chain_head " + hexPrefix(c.chain_head()) +
                      " is not the hash of seq " + std::to_string(c.last_seq()) + " (" +
                      hexPrefix(r_.chain_head) + ")");
    }
    if (!check_signatures_) return true;
    v1::Checkpoint unsigned_copy = c;
    unsigned_copy.DiscardUnknownFields();
    unsigned_copy.clear_signature();
    const KeyVerdict v =
        keys_(c.key_id(), c.algorithm(), canonicalBytes(unsigned_copy), c.signature());
    if (v == KeyVerdict::UnknownKey) {
      return fail(VerifyError::UnknownKey, path, off, c.first_seq(),
                  at(path, off) + name + " is signed by key \"" + c.key_id() +
                      "\", which is not among the keys given");
    }
    if (v != KeyVerdict::Valid) {
      return fail(VerifyError::CheckpointBadSignature, path, off, c.first_seq(),
                  at(path, off) + name + ": the " + c.algorithm() + " signature by key \"" +
                      c.key_id() + "\" does not verify — events " +
                      range(c.first_seq(), c.last_seq()) + " are not vouched for");
    }
    return true;
  }

  const fs::path& dir_;
  const KeyResolver& keys_;
  const VerifyOptions& options_;
  VerifyReport& r_;
  v1::Manifest manifest_;
  bool check_signatures_ = true;
  std::uint64_t expected_seq_ = 1;
  std::string prev_hash_ = kZeroHash;
  fs::path uncovered_file_;
  std::uint64_t uncovered_offset_ = 0;
};

}  // namespace

std::string_view verifyErrorName(VerifyError e) noexcept {
  switch (e) {
    case VerifyError::None:
      return "None";
    case VerifyError::IoError:
      return "IoError";
    case VerifyError::ManifestMissing:
      return "ManifestMissing";
    case VerifyError::ManifestCorrupt:
      return "ManifestCorrupt";
    case VerifyError::SegmentMissing:
      return "SegmentMissing";
    case VerifyError::UnlistedSegment:
      return "UnlistedSegment";
    case VerifyError::SegmentStartMismatch:
      return "SegmentStartMismatch";
    case VerifyError::SegmentEndMismatch:
      return "SegmentEndMismatch";
    case VerifyError::BadMagic:
      return "BadMagic";
    case VerifyError::FrameTruncated:
      return "FrameTruncated";
    case VerifyError::FrameBadLength:
      return "FrameBadLength";
    case VerifyError::FrameBadCrc:
      return "FrameBadCrc";
    case VerifyError::RecordUnparseable:
      return "RecordUnparseable";
    case VerifyError::NonCanonical:
      return "NonCanonical";
    case VerifyError::SeqGap:
      return "SeqGap";
    case VerifyError::PrevHashMismatch:
      return "PrevHashMismatch";
    case VerifyError::HashMismatch:
      return "HashMismatch";
    case VerifyError::NodeMismatch:
      return "NodeMismatch";
    case VerifyError::CheckpointRangeMismatch:
      return "CheckpointRangeMismatch";
    case VerifyError::CheckpointHeadMismatch:
      return "CheckpointHeadMismatch";
    case VerifyError::CheckpointBadSignature:
      return "CheckpointBadSignature";
    case VerifyError::UnknownKey:
      return "UnknownKey";
    case VerifyError::Uncovered:
      return "Uncovered";
  }
  return "Unknown";
}

int exitCodeFor(VerifyError e) noexcept {
  switch (e) {
    case VerifyError::None:
      return kExitOk;
    case VerifyError::IoError:
      return kExitUsage;
    case VerifyError::BadMagic:
    case VerifyError::FrameTruncated:
    case VerifyError::FrameBadLength:
    case VerifyError::FrameBadCrc:
      return kExitFraming;
    case VerifyError::RecordUnparseable:
    case VerifyError::NonCanonical:
    case VerifyError::SeqGap:
    case VerifyError::PrevHashMismatch:
    case VerifyError::HashMismatch:
    case VerifyError::NodeMismatch:
    case VerifyError::CheckpointRangeMismatch:
    case VerifyError::CheckpointHeadMismatch:
      return kExitChain;
    case VerifyError::CheckpointBadSignature:
    case VerifyError::UnknownKey:
    case VerifyError::Uncovered:
      return kExitSignature;
    case VerifyError::ManifestMissing:
    case VerifyError::ManifestCorrupt:
    case VerifyError::SegmentMissing:
    case VerifyError::UnlistedSegment:
    case VerifyError::SegmentStartMismatch:
    case VerifyError::SegmentEndMismatch:
      return kExitSegments;
  }
  return kExitUsage;
}

VerifyReport verifyJournalBlocking(const std::filesystem::path& dir, const KeyResolver& keys,
                                   const VerifyOptions& options) {
  VerifyReport report;
  Walker(dir, keys, options, report).run();
  return report;
}

}  // namespace qaqpa::audit
