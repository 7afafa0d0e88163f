#include "gateway/outbox/journal_tail.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gateway/journal/format.h"
#include "gateway/space_index/event_fields.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::outbox {
namespace {

namespace fs = std::filesystem;
namespace pb = qaqpa::journal::v1;

constexpr std::size_t kReadChunk = 256 * 1024;

}  // namespace

JournalTail::JournalTail(fs::path dir, fs::path archive_dir)
    : dir_(std::move(dir)), archive_dir_(std::move(archive_dir)) {}

JournalTail::~JournalTail() {
  if (fd_ >= 0) ::close(fd_);
}

// True when opened; false with `error` empty when the file is not there (yet), else an error.
bool JournalTail::openSegment(std::uint64_t index, std::uint64_t first_seq, std::string& error) {
  error.clear();
  const std::string name = journal::segmentFileName(index, first_seq);
  int fd = ::open((dir_ / name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && !archive_dir_.empty()) {
    fd = ::open((archive_dir_ / name).c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    if (errno != ENOENT) error = name + ": " + std::strerror(errno);
    return false;
  }
  char magic[journal::kSegmentMagic.size()];
  const ssize_t n = ::pread(fd, magic, sizeof magic, 0);
  if (n != static_cast<ssize_t>(sizeof magic) ||
      std::string_view(magic, sizeof magic) != journal::kSegmentMagic) {
    // A segment being created has no magic yet: not an error, try again later.
    ::close(fd);
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  segment_index_ = index;
  segment_first_seq_ = first_seq;
  offset_ = journal::kSegmentMagic.size();
  buf_.clear();
  buf_offset_ = 0;
  return true;
}

bool JournalTail::seekBlocking(std::uint64_t from_seq, std::string& error,
                               std::uint64_t* skipped_to) {
  if (from_seq == 0) from_seq = 1;
  bool absent = false;
  const auto bytes = journal::readManifestBlocking(dir_, error, absent);
  if (!bytes) return false;
  pb::Manifest manifest;
  if (!manifest.ParseFromString(bytes->payload)) {
    error = (dir_ / journal::kManifestName).string() + ": not a Manifest";
    return false;
  }
  const auto& segs = manifest.segments();
  if (segs.empty()) {
    error = "MANIFEST lists no segment";
    return false;
  }
  int chosen = 0;
  for (int i = 0; i < segs.size(); ++i) {
    if (segs[i].first_seq() <= from_seq) chosen = i;
  }
  for (int i = chosen; i < segs.size(); ++i) {
    if (openSegment(segs[i].segment_index(), segs[i].first_seq(), error)) {
      from_seq_ = std::max(from_seq, segs[i].first_seq());
      if (skipped_to != nullptr) *skipped_to = from_seq_ > from_seq ? from_seq_ : 0;
      last_event_seq_ = from_seq_ - 1;
      return true;
    }
    if (!error.empty()) return false;
    // Archived without an archive directory (or gone): its events cannot be read any more.
    if (segs[i].state() != pb::Manifest::ARCHIVED) {
      error = segs[i].file_name() + " is listed in MANIFEST but not found";
      return false;
    }
  }
  error = "no segment of MANIFEST could be opened";
  return false;
}

bool JournalTail::ensure(std::size_t n) {
  if (offset_ >= buf_offset_ && offset_ + n <= buf_offset_ + buf_.size()) return true;
  const std::size_t want = std::max(kReadChunk, n);
  buf_.resize(want);
  std::size_t got = 0;
  while (got < want) {
    const ssize_t r =
        ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(offset_ + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  buf_.resize(got);
  buf_offset_ = offset_;
  return got >= n;
}

JournalTail::Next JournalTail::nextBlocking(std::uint64_t limit_seq, TailRecord& out,
                                            std::string& error) {
  if (fd_ < 0) {
    error = "the tail is not positioned";
    return Next::Error;
  }
  for (;;) {
    if (!ensure(journal::kFrameHeaderBytes)) {
      // End of what is in this file: its successor exists only once this one is final.
      buf_.clear();
      const std::uint64_t next_first = last_event_seq_ + 1;
      if (next_first > limit_seq) return Next::Wait;
      if (!openSegment(segment_index_ + 1, next_first, error)) {
        return error.empty() ? Next::Wait : Next::Error;
      }
      continue;
    }
    const std::string_view head(buf_.data() + (offset_ - buf_offset_), journal::kFrameHeaderBytes);
    std::uint32_t length = 0;
    for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(head[i]);
    if (length == 0 || length > journal::kMaxFramePayloadBytes ||
        !ensure(journal::kFrameHeaderBytes + length)) {
      buf_.clear();  // a batch being written: read it again next time
      return Next::Wait;
    }
    const journal::Frame f = journal::readFrame(std::string_view(
        buf_.data() + (offset_ - buf_offset_), journal::kFrameHeaderBytes + length));
    if (f.status != journal::FrameStatus::Ok) {
      buf_.clear();
      return Next::Wait;
    }
    std::string_view ev;
    if (space_index::recordEventBytes(f.payload, ev)) {
      space_index::EventFields fields;
      if (!space_index::extractEventFields(ev, fields)) {
        error = journal::segmentFileName(segment_index_, segment_first_seq_) + " offset " +
                std::to_string(offset_) + ": event does not parse";
        return Next::Error;
      }
      if (fields.seq > limit_seq) return Next::Wait;  // not committed yet: not consumed
      offset_ += f.size;
      if (fields.seq < from_seq_) continue;
      if (fields.seq != last_event_seq_ + 1) {
        error = journal::segmentFileName(segment_index_, segment_first_seq_) + ": seq " +
                std::to_string(fields.seq) + " follows " + std::to_string(last_event_seq_);
        return Next::Error;
      }
      last_event_seq_ = fields.seq;
      record_.assign(ev);
      out.type = TailRecord::Type::Event;
      out.seq = fields.seq;
      out.bytes = record_;
      return Next::Record;
    }
    pb::JournalRecord rec;
    if (!rec.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
      error = journal::segmentFileName(segment_index_, segment_first_seq_) + " offset " +
              std::to_string(offset_) + ": record does not parse";
      return Next::Error;
    }
    if (rec.has_checkpoint() && rec.checkpoint().last_seq() > limit_seq) return Next::Wait;
    offset_ += f.size;
    if (!rec.has_checkpoint() || rec.checkpoint().last_seq() < from_seq_) continue;
    record_ = journal::canonicalBytes(rec.checkpoint());
    out.type = TailRecord::Type::Checkpoint;
    out.seq = rec.checkpoint().last_seq();
    out.bytes = record_;
    return Next::Record;
  }
}

}  // namespace qaqpa::outbox
