#include "gateway/audit/repair.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <sstream>
#include <system_error>

#include "gateway/audit/canonical.h"
#include "gateway/journal/format.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::audit {
namespace {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;

std::string errnoText(std::string_view what, const fs::path& p) {
  return std::string(what) + " " + p.string() + ": " + std::strerror(errno);
}

std::string compactUtc(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool writeFileSync(const fs::path& path, std::string_view bytes, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = errnoText("cannot create", path);
    return false;
  }
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errnoText("cannot write", path);
      ::close(fd);
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  const bool ok = ::fsync(fd) == 0;
  if (!ok) error = errnoText("cannot fsync", path);
  ::close(fd);
  return ok;
}

bool readRange(const fs::path& path, std::uint64_t offset, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errnoText("cannot open", path);
    return false;
  }
  out.clear();
  char buf[1 << 16];
  auto pos = static_cast<off_t>(offset);
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errnoText("cannot read", path);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    pos += n;
  }
  ::close(fd);
  return true;
}

bool truncateSync(const fs::path& path, std::uint64_t size, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errnoText("cannot open", path);
    return false;
  }
  bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
  if (!ok) error = errnoText("cannot truncate", path);
  if (ok && ::fsync(fd) != 0) {
    error = errnoText("cannot fsync", path);
    ok = false;
  }
  ::close(fd);
  return ok;
}

bool renameSync(const fs::path& from, const fs::path& to, std::string& error) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    error = errnoText("cannot move", from);
    return false;
  }
  return true;
}

// Highest event seq in a run of frames. Past a bad frame it resynchronises on the next offset
// where a valid frame holding a parseable record starts (as scanSegmentBlocking does), so events
// after the damage are counted too; `complete` turns false when any bytes had to be skipped.
std::uint64_t maxSeqInFrames(std::string_view bytes, bool& complete) {
  std::uint64_t max_seq = 0;
  complete = true;
  while (!bytes.empty()) {
    const journal::Frame f = journal::readFrame(bytes);
    v1::JournalRecord rec;
    if (f.status == journal::FrameStatus::Ok &&
        rec.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())) &&
        rec.body_case() != v1::JournalRecord::BODY_NOT_SET) {
      if (rec.has_event()) max_seq = std::max<std::uint64_t>(max_seq, rec.event().seq());
      bytes.remove_prefix(f.size);
      continue;
    }
    complete = false;
    bytes.remove_prefix(1);
  }
  return max_seq;
}

}  // namespace

JournalLock JournalLock::tryAcquireBlocking(const fs::path& dir, bool create, std::string& error) {
  const fs::path path = dir / "LOCK";
  const int fd =
      ::open(path.c_str(), create ? (O_RDWR | O_CREAT | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC), 0640);
  if (fd < 0) {
    if (!create && errno == ENOENT) return JournalLock(Status::Acquired, -1);
    error = errnoText("cannot open", path);
    return JournalLock(Status::Error, -1);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      error = "the journal is locked (" + path.string() + "): a gateway is running on it";
      return JournalLock(Status::Held, -1);
    }
    errno = err;
    error = errnoText("cannot lock", path);
    return JournalLock(Status::Error, -1);
  }
  return JournalLock(Status::Acquired, fd);
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

RepairResult repairJournalBlocking(const fs::path& dir, const KeyResolver& keys,
                                   const RepairOptions& options, const common::TimeSource& time) {
  RepairResult res;
  std::string error;
  const JournalLock lock = JournalLock::tryAcquireBlocking(dir, !options.dry_run, error);
  if (lock.status() != JournalLock::Status::Acquired) {
    res.outcome =
        lock.status() == JournalLock::Status::Held ? RepairOutcome::Locked : RepairOutcome::Failed;
    res.message = error + (lock.status() == JournalLock::Status::Held
                               ? "; stop it before repairing (nothing was changed)"
                               : std::string());
    return res;
  }

  VerifyOptions vo;
  vo.check_file_set_first = false;
  vo.check_signatures = options.check_signatures;
  res.before = verifyJournalBlocking(dir, keys, vo);
  const VerifyReport& before = res.before;
  switch (before.error) {
    case VerifyError::ManifestMissing:
    case VerifyError::ManifestCorrupt:
    case VerifyError::IoError:
      res.outcome = RepairOutcome::Refused;
      res.message = "cannot repair: " + before.message +
                    " — repair cuts along the MANIFEST; restore it from a backup first";
      return res;
    case VerifyError::UnknownKey:
      res.outcome = RepairOutcome::Refused;
      res.message = "cannot repair: " + before.message +
                    " — give that key (--jwks/--key); repair does not cut at a checkpoint it "
                    "cannot check";
      return res;
    default:
      break;
  }

  std::string manifest_error;
  bool absent = false;
  const auto manifest_bytes = journal::readManifestBlocking(dir, manifest_error, absent);
  v1::Manifest manifest;
  if (!manifest_bytes || !manifest.ParseFromString(manifest_bytes->payload)) {
    res.outcome = RepairOutcome::Failed;
    res.message = "the MANIFEST changed while repairing: " + manifest_error;
    return res;
  }

  // Stray segment files: not part of the chain, moved aside whatever else happens.
  std::set<std::string> listed;
  for (const auto& s : manifest.segments()) listed.insert(s.file_name());
  std::vector<std::string> unlisted;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("seg-") && name.ends_with(".qj") && !listed.contains(name)) {
      unlisted.push_back(name);
    }
  }
  std::sort(unlisted.begin(), unlisted.end());

  if (before.ok && unlisted.empty()) {
    res.outcome = RepairOutcome::NothingToDo;
    res.kept_last_seq = before.last_seq;
    res.message = "the journal verifies clean; nothing to repair";
    return res;
  }

  std::string stamp = "quarantine-" + compactUtc(time.now());
  res.quarantine_dir = dir / stamp;
  for (int n = 2; fs::exists(res.quarantine_dir, ec); ++n) {
    res.quarantine_dir = dir / (stamp + "-" + std::to_string(n));
  }
  for (const auto& name : unlisted) {
    const auto size = fs::file_size(dir / name, ec);
    res.moves.push_back({dir / name, res.quarantine_dir / name, 0, ec ? 0 : size, true});
  }

  // The cut.
  bool cut = !before.ok;
  std::size_t cut_entry = 0;
  std::uint64_t cut_offset = 0;
  if (cut) {
    int first_local = 0;
    while (first_local < manifest.segments_size() &&
           manifest.segments(first_local).state() == v1::Manifest::ARCHIVED) {
      ++first_local;
    }
    if (before.safe.valid) {
      cut_entry = before.safe.entry;
      cut_offset = before.safe.end_offset;
      res.kept_last_seq = before.safe.last_seq;
    } else {
      cut_entry = static_cast<std::size_t>(first_local);
      res.recreated_segment = true;
      res.kept_last_seq = manifest.segments(first_local).first_seq() - 1;
    }
    const auto& ce = manifest.segments(static_cast<int>(cut_entry));
    const fs::path cut_file = dir / ce.file_name();
    std::uint64_t max_seq = before.last_seq;
    bool complete = true;
    if (fs::exists(cut_file, ec)) {
      const auto size = fs::file_size(cut_file, ec);
      std::string bytes;
      if (!readRange(cut_file, res.recreated_segment ? 0 : cut_offset, bytes, error)) {
        res.outcome = RepairOutcome::Failed;
        res.message = error;
        return res;
      }
      if (res.recreated_segment) {
        res.moves.push_back({cut_file, res.quarantine_dir / ce.file_name(), 0, size, true});
        const auto body =
            std::string_view(bytes).substr(std::min(bytes.size(), journal::kSegmentMagic.size()));
        max_seq = std::max(max_seq, maxSeqInFrames(body, complete));
      } else if (size > cut_offset) {
        res.moves.push_back(
            {cut_file,
             res.quarantine_dir / (ce.file_name() + ".tail-at-" + std::to_string(cut_offset)),
             cut_offset, size - cut_offset, false});
        max_seq = std::max(max_seq, maxSeqInFrames(bytes, complete));
      }
      if (!complete) res.lost_last_is_lower_bound = true;
    }
    for (int i = static_cast<int>(cut_entry) + 1; i < manifest.segments_size(); ++i) {
      const auto& s = manifest.segments(i);
      const fs::path file = dir / s.file_name();
      if (!fs::exists(file, ec)) {
        res.lost_last_is_lower_bound = true;
        continue;
      }
      res.moves.push_back(
          {file, res.quarantine_dir / s.file_name(), 0, fs::file_size(file, ec), true});
      std::string bytes;
      if (!readRange(file, 0, bytes, error)) {
        res.outcome = RepairOutcome::Failed;
        res.message = error;
        return res;
      }
      const bool whole = bytes.starts_with(journal::kSegmentMagic);
      const auto body =
          std::string_view(bytes).substr(std::min(bytes.size(), journal::kSegmentMagic.size()));
      max_seq = std::max(max_seq, maxSeqInFrames(body, complete));
      if (!whole || !complete) res.lost_last_is_lower_bound = true;
      if (s.state() == v1::Manifest::CLOSED) max_seq = std::max(max_seq, s.last_seq());
    }
    if (max_seq > res.kept_last_seq) {
      res.lost_first_seq = res.kept_last_seq + 1;
      res.lost_last_seq = max_seq;
    } else if (!res.moves.empty() && res.lost_last_is_lower_bound) {
      res.lost_first_seq = res.kept_last_seq + 1;  // unreadable: at least the next seq
      res.lost_last_seq = res.lost_first_seq;
    }
  } else {
    res.kept_last_seq = before.last_seq;
  }
  for (const auto& m : res.moves) res.bytes_moved += m.bytes;

  if (options.dry_run) {
    res.outcome = RepairOutcome::Planned;
    res.message = "dry run: nothing was changed";
    return res;
  }

  auto failed = [&](std::string why) {
    res.outcome = RepairOutcome::Failed;
    res.message = "repair stopped: " + why + " — fix the cause and run repair again";
    return res;
  };
  if (!fs::create_directory(res.quarantine_dir, ec) || ec) {
    return failed("cannot create " + res.quarantine_dir.string() + ": " + ec.message());
  }
  if (!journal::fsyncDirBlocking(dir, error)) return failed(error);
  // Copy the cut tail first: until the truncation below, its bytes exist twice.
  for (const auto& m : res.moves) {
    if (m.whole_file) continue;
    std::string bytes;
    if (!readRange(m.from, m.offset, bytes, error)) return failed(error);
    if (!writeFileSync(m.to, bytes, error)) return failed(error);
  }
  for (const auto& m : res.moves) {
    if (m.whole_file && !renameSync(m.from, m.to, error)) return failed(error);
  }
  if (!journal::fsyncDirBlocking(res.quarantine_dir, error)) return failed(error);
  if (!journal::fsyncDirBlocking(dir, error)) return failed(error);

  if (cut) {
    auto* ce = manifest.mutable_segments(static_cast<int>(cut_entry));
    if (res.recreated_segment) {
      std::string fresh(journal::kSegmentMagic);
      v1::JournalRecord rec;
      auto* ss = rec.mutable_segment_start();
      ss->set_node_id(manifest.node_id());
      ss->set_segment_index(ce->segment_index());
      ss->set_first_seq(ce->first_seq());
      ss->set_prev_hash(ce->prev_hash());
      const auto now =
          std::chrono::duration_cast<std::chrono::microseconds>(time.now().time_since_epoch())
              .count();
      ss->mutable_created()->set_seconds(now / 1000000);
      ss->mutable_created()->set_nanos(static_cast<std::int32_t>(now % 1000000) * 1000);
      journal::appendFrame(fresh, canonicalBytes(rec));
      const fs::path tmp = dir / (ce->file_name() + ".tmp");
      fs::remove(tmp, ec);  // a leftover of an interrupted repair, never journal data
      if (!writeFileSync(tmp, fresh, error)) return failed(error);
      if (!renameSync(tmp, dir / ce->file_name(), error)) return failed(error);
      if (!journal::fsyncDirBlocking(dir, error)) return failed(error);
    }
    ce->set_state(v1::Manifest::OPEN);
    ce->set_last_seq(0);
    ce->clear_last_hash();
    ce->clear_closed();
    while (manifest.segments_size() > static_cast<int>(cut_entry) + 1) {
      manifest.mutable_segments()->RemoveLast();
    }
    if (!journal::writeManifestBlocking(dir, canonicalBytes(manifest), error)) {
      return failed(error);
    }
    if (!res.recreated_segment && !truncateSync(dir / ce->file_name(), cut_offset, error)) {
      return failed(error);
    }
  }
  res.outcome = RepairOutcome::Repaired;
  res.message = "repaired";
  VerifyOptions after;
  after.check_signatures = options.check_signatures;
  res.after = verifyJournalBlocking(dir, keys, after);
  if (!writeFileSync(res.quarantine_dir / "REPAIR.txt", describeRepair(res), error)) {
    res.message += " (but REPAIR.txt could not be written: " + error + ")";
  }
  return res;
}

std::string describeRepair(const RepairResult& r) {
  std::ostringstream out;
  const VerifyReport& b = r.before;
  switch (r.outcome) {
    case RepairOutcome::NothingToDo:
      out << "nothing to repair: the journal verifies clean (last seq " << r.kept_last_seq << ")\n";
      return out.str();
    case RepairOutcome::Refused:
    case RepairOutcome::Locked:
      out << r.message << "\n";
      return out.str();
    default:
      break;
  }
  if (!b.ok) {
    out << "first damage: " << verifyErrorName(b.error) << ": " << b.message << "\n";
  }
  out << (r.outcome == RepairOutcome::Planned ? "plan (dry run, nothing changed):\n"
                                              : "moved to quarantine:\n");
  if (r.moves.empty()) out << "  nothing to move\n";
  for (const auto& m : r.moves) {
    out << "  " << m.from.filename().string();
    if (!m.whole_file) out << " bytes " << m.offset << ".." << (m.offset + m.bytes);
    out << " (" << m.bytes << " bytes) -> " << m.to.string() << "\n";
  }
  out << "  total " << r.bytes_moved << " bytes into " << r.quarantine_dir.string() << "\n";
  if (r.recreated_segment) {
    out << "  the damaged segment restarts empty (a fresh SegmentStart from the MANIFEST)\n";
  }
  out << "live chain ends at seq " << r.kept_last_seq << " (last record covered by a valid "
      << "checkpoint)\n";
  if (r.lost_first_seq != 0) {
    out << "seq " << r.lost_first_seq << ".." << r.lost_last_seq
        << " leave the live chain; they stay in the quarantine for investigation"
        << (r.lost_last_is_lower_bound ? " (some moved bytes are unreadable: maybe more)" : "")
        << "\n";
  }
  if (r.outcome == RepairOutcome::Repaired) {
    out << "after repair: "
        << (r.after.ok ? "the journal verifies clean"
                       : "STILL DAMAGED: " + std::string(verifyErrorName(r.after.error)) + ": " +
                             r.after.message)
        << "\n";
  } else if (r.outcome == RepairOutcome::Failed) {
    out << r.message << "\n";
  }
  return out.str();
}

}  // namespace qaqpa::audit
