#include "gateway/space_index/event_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>

#include "gateway/journal/format.h"
#include "gateway/space_index/event_fields.h"

namespace qaqpa::space_index {
namespace {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;
using journal::FrameStatus;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// Opens the segment in the journal directory, else in the archive directory.
Fd openSegment(const JournalFiles& files, std::uint64_t index, std::uint64_t first_seq,
               fs::path& path) {
  const std::string name = journal::segmentFileName(index, first_seq);
  path = files.dir / name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && !files.archive_dir.empty()) {
    path = files.archive_dir / name;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return Fd(fd);
}

// pread of exactly n bytes, or fewer at the end of the file; -1 on error.
ssize_t preadAll(int fd, char* out, std::size_t n, std::uint64_t offset) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, out + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

std::string where(const fs::path& path, std::uint64_t offset) {
  return path.string() + " offset " + std::to_string(offset);
}

// Reads the frame at `e.where` and checks it is the indexed event of `subject`.
ReadStatus readOne(int fd, const fs::path& path, std::string_view subject, const IndexEntry& e,
                   std::string& buf, v1::DigitalEvent& out, std::string& error) {
  buf.resize(e.where.size);
  const ssize_t n = preadAll(fd, buf.data(), buf.size(), e.where.offset);
  if (n != static_cast<ssize_t>(buf.size())) {
    error = where(path, e.where.offset) + ": file shorter than the indexed frame";
    return ReadStatus::Changed;
  }
  const journal::Frame f = journal::readFrame(buf);
  if (f.status != FrameStatus::Ok || f.size != buf.size()) {
    error = where(path, e.where.offset) + ": " +
            (f.status != FrameStatus::Ok ? std::string(journal::frameStatusName(f.status))
                                         : std::string("frame size differs from the index"));
    return ReadStatus::Changed;
  }
  v1::JournalRecord rec;
  if (!rec.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())) ||
      !rec.has_event()) {
    error = where(path, e.where.offset) + ": not an event record";
    return ReadStatus::Changed;
  }
  v1::DigitalEvent& ev = *rec.mutable_event();
  if (ev.seq() != e.seq || eventKey(ev.event_id()) != e.key || ev.subject() != subject) {
    error = where(path, e.where.offset) + ": holds seq " + std::to_string(ev.seq()) +
            ", not the indexed event seq " + std::to_string(e.seq);
    return ReadStatus::Changed;
  }
  out.Swap(&ev);
  return ReadStatus::Ok;
}

// Frames of one file read forward from an offset through a buffer (a batch's frames are small
// and adjacent: one pread per 64 KiB, not two per frame).
class FrameStream {
 public:
  FrameStream(int fd, std::uint64_t offset) : fd_(fd), pos_(offset) {}

  // The next frame; status End at the end of the file, Truncated for a partial frame (a write
  // in flight at the open segment's tail), BadLength / BadCrc for damage.
  journal::Frame next(std::uint64_t& offset) {
    offset = pos_;
    if (!fill(journal::kFrameHeaderBytes)) {
      return journal::Frame{avail() == 0 ? FrameStatus::End : FrameStatus::Truncated, {}, 0};
    }
    std::uint32_t len = 0;
    std::memcpy(&len, buf_.data() + at_, 4);  // little-endian host (x86-64, aarch64)
    if (len >= 1 && len <= journal::kMaxFramePayloadBytes) fill(journal::kFrameHeaderBytes + len);
    const journal::Frame f = journal::readFrame(std::string_view(buf_).substr(at_));
    if (f.status == FrameStatus::Ok) {
      at_ += f.size;
      pos_ += f.size;
    }
    return f;
  }

 private:
  std::size_t avail() const { return buf_.size() - at_; }
  // Makes at least n bytes available from at_, if the file has them.
  bool fill(std::size_t n) {
    if (avail() >= n) return true;
    buf_.erase(0, at_);
    at_ = 0;
    while (buf_.size() < n && !eof_) {
      const std::size_t want = std::max<std::size_t>(n - buf_.size(), 64 * 1024);
      const std::size_t old = buf_.size();
      buf_.resize(old + want);
      const ssize_t r = preadAll(fd_, buf_.data() + old, want, pos_ + old);
      buf_.resize(old + static_cast<std::size_t>(r < 0 ? 0 : r));
      if (r < static_cast<ssize_t>(want)) eof_ = true;
    }
    return buf_.size() >= n;
  }

  int fd_;
  std::uint64_t pos_;  // file offset of buf_[at_]
  std::string buf_;
  std::size_t at_ = 0;
  bool eof_ = false;
};

}  // namespace

std::string_view readStatusName(ReadStatus s) noexcept {
  switch (s) {
    case ReadStatus::Ok:
      return "ok";
    case ReadStatus::Missing:
      return "missing";
    case ReadStatus::Changed:
      return "changed";
  }
  return "unknown";
}

ReadResult readEventsBlocking(const JournalFiles& files, std::string_view subject,
                              const std::vector<IndexEntry>& entries) {
  ReadResult r;
  std::map<std::uint64_t, std::pair<Fd, fs::path>> open;  // by segment index, for this call
  std::string buf;
  r.events.resize(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const IndexEntry& e = entries[i];
    auto it = open.find(e.where.segment_index);
    if (it == open.end()) {
      fs::path path;
      Fd fd = openSegment(files, e.where.segment_index, e.where.segment_first_seq, path);
      if (fd.get() < 0) {
        r.status = ReadStatus::Missing;
        r.error = path.string() + ": " + std::error_code(errno, std::generic_category()).message();
        r.events.clear();
        return r;
      }
      it = open.emplace(e.where.segment_index, std::make_pair(std::move(fd), path)).first;
    }
    const ReadStatus s =
        readOne(it->second.first.get(), it->second.second, subject, e, buf, r.events[i], r.error);
    if (s != ReadStatus::Ok) {
      r.status = s;
      r.events.clear();
      return r;
    }
  }
  r.status = ReadStatus::Ok;
  return r;
}

ProofResult proofBlocking(const JournalFiles& files, std::string_view subject,
                          const IndexEntry& entry) {
  ProofResult r;
  fs::path path;
  const Fd fd = openSegment(files, entry.where.segment_index, entry.where.segment_first_seq, path);
  if (fd.get() < 0) {
    r.status = ReadStatus::Missing;
    r.error = path.string() + ": " + std::error_code(errno, std::generic_category()).message();
    return r;
  }
  std::string buf;
  Proof& p = r.proof;
  r.status = readOne(fd.get(), path, subject, entry, buf, p.event, r.error);
  if (r.status != ReadStatus::Ok) return r;
  p.prev_hash = p.event.prev_hash();
  const std::uint64_t seq = p.event.seq();
  std::uint64_t expected = seq + 1;  // the next event any file may hold
  // Reads frames until both the next event and the covering checkpoint were seen or the file
  // ends (or holds a batch still being written). Empty string: fine; else why it is refused.
  auto scan = [&](FrameStream& in, bool at_segment_start) -> std::string {
    while (!p.next_hash || !p.checkpoint) {
      std::uint64_t offset = 0;
      const journal::Frame f = in.next(offset);
      if (f.status != FrameStatus::Ok) return {};
      // Events (all but one per batch) are skimmed for their seq: a full parse only for seq + 1.
      std::string_view event_bytes;
      if (!at_segment_start && recordEventBytes(f.payload, event_bytes)) {
        EventFields fields;
        if (!extractEventFields(event_bytes, fields)) {
          return std::to_string(offset) + ": event does not parse";
        }
        if (fields.seq != expected) return std::to_string(offset) + ": seq out of order";
        if (expected == seq + 1) {
          v1::DigitalEvent next;
          if (!next.ParseFromArray(event_bytes.data(), static_cast<int>(event_bytes.size()))) {
            return std::to_string(offset) + ": event does not parse";
          }
          if (next.prev_hash() != p.event.hash()) {
            return std::to_string(offset) + ": the next event's prev_hash is not this hash";
          }
          p.next_hash = next.hash();
        }
        ++expected;
        continue;
      }
      v1::JournalRecord rec;
      if (!rec.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
        return std::to_string(offset) + ": record does not parse";
      }
      if (at_segment_start) {
        at_segment_start = false;
        if (!rec.has_segment_start() || rec.segment_start().first_seq() != expected ||
            (expected == seq + 1 && rec.segment_start().prev_hash() != p.event.hash())) {
          return std::to_string(offset) + ": the next segment does not continue the chain";
        }
        continue;
      }
      if (rec.has_checkpoint() && !p.checkpoint) {
        const v1::Checkpoint& c = rec.checkpoint();
        if (c.first_seq() > seq || c.last_seq() < seq) {
          return std::to_string(offset) + ": the checkpoint after the event does not cover it";
        }
        if (c.last_seq() == seq && c.chain_head() != p.event.hash()) {
          return std::to_string(offset) + ": the checkpoint's chain head is not this hash";
        }
        p.checkpoint = c;
      } else if (!rec.has_checkpoint()) {
        return std::to_string(offset) + ": unexpected record";
      }
    }
    return {};
  };
  auto changed = [&](const fs::path& file, const std::string& why) {
    r.status = ReadStatus::Changed;
    r.error = file.string() + " offset " + why;
    r.proof = Proof{};
    return r;
  };
  // Forward in the same file: the rest of the batch, its checkpoint, maybe the next batch.
  FrameStream in(fd.get(), entry.where.offset + entry.where.size);
  if (const std::string why = scan(in, false); !why.empty()) return changed(path, why);
  if (!p.next_hash || !p.checkpoint) {
    // The file ended first: the event is its segment's last (rotation happens between batches,
    // so the next segment starts with seq + 1; a checkpoint still missing here can only be the
    // next batch's, after a recovered tail that could not be signed at open).
    fs::path next_path;
    const Fd next_fd = openSegment(files, entry.where.segment_index + 1, expected, next_path);
    if (next_fd.get() >= 0) {
      FrameStream next(next_fd.get(), journal::kSegmentMagic.size());
      if (const std::string why = scan(next, true); !why.empty()) return changed(next_path, why);
    }
  }
  p.covered = p.checkpoint.has_value();
  return r;
}

}  // namespace qaqpa::space_index
