#include "gateway/journal/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/evp.h>

#include "gateway/common/crc32c.h"
#include "gateway/common/log.h"
#include "gateway/journal/file_ops.h"
#include "gateway/journal/format.h"
#include "gateway/metrics/metrics.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::journal {
namespace {

namespace pb = qaqpa::journal::v1;
namespace fs = std::filesystem;
using common::LogLevel;
using std::chrono::steady_clock;
using std::chrono::system_clock;

constexpr std::string_view kLockName = "LOCK";
constexpr std::string_view kProbeName = "PROBE";
// Frame overhead of one event: frame header + record tag + length varint (≤ 3 bytes below 1 MiB)
// + the chain fields (seq ≤ 12, prev_hash 35, hash 35).
constexpr std::size_t kEventOverheadBytes = kFrameHeaderBytes + 4 + 12 + 35 + 35;
constexpr std::size_t kMaxEventBytes = kMaxFramePayloadBytes - kEventOverheadBytes;
// Idle wake-up period of the writer: age rotation, the Batch fsync, retention and probes are
// checked at least this often.
constexpr std::chrono::milliseconds kIdleTick{250};
constexpr std::chrono::seconds kRetentionCheckPeriod{1};

std::string errnoText(int err) { return std::strerror(err); }

void putVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void putU32At(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

void setTimestamp(google::protobuf::Timestamp* ts, system_clock::time_point t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::int64_t s = ns / 1'000'000'000;
  std::int64_t n = ns % 1'000'000'000;
  if (n < 0) {
    n += 1'000'000'000;
    --s;
  }
  ts->set_seconds(s);
  ts->set_nanos(static_cast<std::int32_t>(n));
}

system_clock::time_point fromTimestamp(const google::protobuf::Timestamp& ts) {
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      std::chrono::seconds(ts.seconds()) + std::chrono::nanoseconds(ts.nanos())));
}

std::string u64(std::uint64_t v) { return std::to_string(v); }

std::string segmentRepairCommand(const fs::path& dir) {
  return "qaqpa journal repair " + dir.string();
}

// Reads a file through a SHA-256 (streaming: segments are tens of MiB).
bool sha256FileBlocking(const fs::path& file, std::string& digest, std::uint64_t& size,
                        std::string& error) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + file.string() + ": " + errnoText(errno);
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  size = 0;
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error = "cannot read " + file.string() + ": " + errnoText(errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
    size += static_cast<std::uint64_t>(n);
  }
  digest.assign(kHashBytes, '\0');
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(digest.data()), &len);
  EVP_MD_CTX_free(ctx);
  ::close(fd);
  return ok;
}

// Parses "seg-<index>-<first_seq>.qj"; false for any other name.
bool parseSegmentName(std::string_view name, std::uint64_t& index, std::uint64_t& first_seq) {
  if (name.size() != 4 + 8 + 1 + 20 + 3 || name.substr(0, 4) != "seg-" || name[12] != '-' ||
      name.substr(name.size() - 3) != ".qj") {
    return false;
  }
  auto digits = [](std::string_view s, std::uint64_t& v) {
    v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
  };
  return digits(name.substr(4, 8), index) && digits(name.substr(13, 20), first_seq);
}

class JournalImpl final : public Journal {
 public:
  JournalImpl(JournalOptions options, Signer signer, const common::TimeSource& time,
              metrics::JournalMetrics* metrics)
      : options_(std::move(options)),
        signer_(std::move(signer)),
        time_(time),
        metrics_(metrics),
        keep_ops_(options_.file_ops),
        ops_(keep_ops_ ? *keep_ops_ : posixFileOps()),
        hash_(kHashBytes, '\0') {}

  ~JournalImpl() override {
    stop();
    if (fd_ >= 0) ops_.close(fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  // openBlocking's work, before the writer thread exists. False with `r` filled on failure.
  bool openBlocking(OpenResult& r);
  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void append(std::string event_bytes, AppendCallback done) override;
  void appendMany(std::vector<AppendRequest> requests) override;
  bool healthy() const noexcept override { return healthy_.load(std::memory_order_acquire); }
  JournalHead head() const override {
    std::lock_guard lock(head_mu_);
    return head_;
  }
  void setCommitObserver(CommitObserver observer) override {
    std::lock_guard lock(mu_);
    observer_ = std::move(observer);
  }
  void setLocatedCommitObserver(LocatedCommitObserver observer) override {
    std::lock_guard lock(mu_);
    located_observer_ = std::move(observer);
  }
  void stop() override;

 private:
  struct Pending {
    std::string bytes;
    AppendCallback done;
  };

  // --- open / recovery ---
  bool lockDirBlocking(OpenResult& r);
  bool createFirstSegmentBlocking(OpenResult& r);
  bool recoverOpenSegmentBlocking(OpenResult& r);
  bool fail(OpenResult& r, std::string error, bool corrupt = false) {
    r.error = std::move(error);
    r.corrupt = corrupt;
    if (corrupt) r.repair_command = segmentRepairCommand(options_.dir);
    return false;
  }

  // --- writer thread ---
  void run();
  void housekeeping();
  void writeBatch(std::vector<Pending>& items, std::size_t begin, std::size_t end);
  bool buildCheckpoint(std::uint64_t first_seq, std::uint64_t last_seq,
                       std::string_view chain_head);
  bool writeCheckpointNow();  // for events recovered without a covering checkpoint
  void completeFailed(std::vector<Pending>& items, std::size_t begin, std::size_t end,
                      AppendStatus status);
  bool rollbackTo(std::uint64_t offset);
  bool repairDirty();
  // Marks the journal unhealthy, counts, logs (throttled). `detail` replaces strerror(err).
  void ioFailed(std::string_view op, const fs::path& file, int err, std::string_view detail = {});
  void becameHealthy(std::string_view how);
  bool probeBlocking();
  bool syncSegment();
  bool rotateBlocking(std::string_view reason);
  void retentionBlocking();
  bool archiveSegmentBlocking(int index);
  bool createSegmentFileBlocking(std::uint64_t index, std::uint64_t first_seq,
                                 system_clock::time_point created, int& fd, std::uint64_t& size,
                                 std::string& error);
  void publishHead();
  fs::path segmentPath() const { return options_.dir / current().file_name(); }
  const pb::Manifest::Segment& current() const {
    return manifest_.segments(manifest_.segments_size() - 1);
  }

  const JournalOptions options_;
  const Signer signer_;
  const common::TimeSource& time_;
  metrics::JournalMetrics* const metrics_;
  const std::shared_ptr<FileOps> keep_ops_;
  FileOps& ops_;

  // Shared with appenders.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  bool writer_waiting_ = false;
  CommitObserver observer_;
  LocatedCommitObserver located_observer_;
  std::thread thread_;
  std::atomic<bool> healthy_{true};
  mutable std::mutex head_mu_;
  JournalHead head_;

  // Writer thread only (and openBlocking before the thread starts).
  int lock_fd_ = -1;
  int fd_ = -1;                        // the open segment, O_APPEND
  std::uint64_t seg_offset_ = 0;       // its size: every byte before this is a whole record
  std::uint64_t seg_events_ = 0;       // events in it
  bool dirty_ = false;                 // the file may hold bytes past seg_offset_ (failed truncate)
  bool unsynced_ = false;              // written since the last fdatasync
  bool sign_failed_ = false;           // the last failure was the signer's
  std::uint64_t seq_ = 0;              // last written event
  std::string hash_;                   // its hash
  std::uint64_t uncovered_first_ = 1;  // first event no checkpoint covers yet
  pb::Manifest manifest_;
  std::string key_id_;  // of the last signature: the next checkpoint names it before signing
  std::string algorithm_;
  std::string buf_;    // the batch being written, reused
  std::string chain_;  // one event's chain fields, reused
  struct EventAt {
    std::size_t frame;  // the frame header's offset in buf_
    std::size_t at;     // the event bytes' offset in buf_
    std::size_t size;   // the event bytes' size (the frame ends at at + size)
  };
  std::vector<EventAt> event_at_;  // each event of the batch in buf_
  std::string scratch_;            // checkpoint bytes, reused
  std::string checkpoint_frame_;
  pb::Checkpoint checkpoint_;
  pb::JournalRecord record_;
  steady_clock::time_point last_sync_{};
  steady_clock::time_point next_probe_{};
  steady_clock::time_point next_failure_log_{};
  std::uint64_t suppressed_failures_ = 0;
  steady_clock::time_point next_retention_{};
  steady_clock::time_point next_rotation_{};
};

// ---------------------------------------------------------------------------------------------
// open / recovery

bool JournalImpl::lockDirBlocking(OpenResult& r) {
  const fs::path lock = options_.dir / std::string(kLockName);
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd_ < 0) return fail(r, "cannot open " + lock.string() + ": " + errnoText(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      return fail(r, "journal " + options_.dir.string() +
                         " is in use by another process (gateway or journal tool): " +
                         lock.string() + " is locked");
    }
    return fail(r, "cannot lock " + lock.string() + ": " + errnoText(err));
  }
  return true;
}

bool JournalImpl::createSegmentFileBlocking(std::uint64_t index, std::uint64_t first_seq,
                                            system_clock::time_point created, int& fd,
                                            std::uint64_t& size, std::string& error) {
  const fs::path path = options_.dir / segmentFileName(index, first_seq);
  pb::JournalRecord rec;
  auto* start = rec.mutable_segment_start();
  start->set_node_id(options_.node_id);
  start->set_segment_index(index);
  start->set_first_seq(first_seq);
  start->set_prev_hash(hash_);
  setTimestamp(start->mutable_created(), created);
  std::string payload;
  serializeCanonical(rec, payload);
  std::string bytes(kSegmentMagic);
  appendFrame(bytes, payload);
  // Not in the manifest yet, so a leftover of an earlier failed attempt is ours to overwrite.
  fd = ops_.open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot create " + path.string() + ": " + errnoText(errno);
    return false;
  }
  if (!writeAll(ops_, fd, bytes.data(), bytes.size()) || ops_.fdatasync(fd) != 0) {
    error = "cannot write " + path.string() + ": " + errnoText(errno);
    ops_.close(fd);
    fd = -1;
    ops_.unlink(path.c_str());
    return false;
  }
  if (!fsyncDirBlocking(options_.dir, error, &ops_)) {
    ops_.close(fd);
    fd = -1;
    ops_.unlink(path.c_str());
    return false;
  }
  size = bytes.size();
  return true;
}

bool JournalImpl::createFirstSegmentBlocking(OpenResult& r) {
  const auto now = time_.now();
  std::uint64_t size = 0;
  std::string error;
  if (!createSegmentFileBlocking(1, 1, now, fd_, size, error)) return fail(r, error);
  manifest_.set_format_version(kFormatVersion);
  manifest_.set_node_id(options_.node_id);
  auto* seg = manifest_.add_segments();
  seg->set_file_name(segmentFileName(1, 1));
  seg->set_segment_index(1);
  seg->set_first_seq(1);
  seg->set_prev_hash(hash_);
  seg->set_state(pb::Manifest::OPEN);
  setTimestamp(seg->mutable_created(), now);
  std::string payload;
  serializeCanonical(manifest_, payload);
  if (!writeManifestBlocking(options_.dir, payload, error, &ops_)) return fail(r, error);
  seg_offset_ = size;
  last_sync_ = time_.monotonic();
  publishHead();
  if (metrics_) metrics::set(metrics_->healthy, 1);
  common::log(LogLevel::Info, "journal created", {{"dir", options_.dir.string()}});
  return true;
}

bool JournalImpl::openBlocking(OpenResult& r) {
  const fs::path& dir = options_.dir;
  if (options_.node_id.empty()) return fail(r, "journal: node_id is empty");
  if (!signer_) return fail(r, "journal: no checkpoint signer (an unsigned journal is refused)");
  if (options_.retention.count() > 0 && options_.archive_dir.empty()) {
    return fail(r, "journal " + dir.string() + ": retention is set but archive_dir is not");
  }
  if (options_.max_batch_events == 0 || options_.max_queue_events == 0) {
    return fail(r, "journal: max_batch_events and max_queue_events must be positive");
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return fail(r, "cannot create journal directory " + dir.string() + ": " + ec.message());
    std::string error;
    if (dir.has_parent_path() && !fsyncDirBlocking(fs::absolute(dir).parent_path(), error)) {
      return fail(r, error);
    }
  }
  if (!lockDirBlocking(r)) return false;

  // Segment files present, by index.
  std::vector<std::pair<std::uint64_t, std::string>> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::uint64_t index = 0;
    std::uint64_t first = 0;
    if (parseSegmentName(name, index, first)) files.emplace_back(index, name);
  }
  if (ec) return fail(r, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());

  std::string error;
  bool absent = false;
  const auto manifest_bytes = readManifestBlocking(dir, error, absent);
  if (!manifest_bytes) {
    if (absent && files.empty()) return createFirstSegmentBlocking(r);
    if (absent) {
      return fail(r,
                  "journal " + dir.string() +
                      " has segment files but no MANIFEST (first: " + files.front().second + ")",
                  true);
    }
    return fail(r, "journal MANIFEST unreadable: " + error, true);
  }
  if (!manifest_.ParseFromString(manifest_bytes->payload)) {
    return fail(r, (dir / std::string(kManifestName)).string() + ": not a Manifest", true);
  }
  if (manifest_.format_version() != kFormatVersion) {
    return fail(r, "journal " + dir.string() + ": format_version " +
                       u64(manifest_.format_version()) + " is not supported");
  }
  if (manifest_.node_id() != options_.node_id) {
    return fail(r, "journal " + dir.string() + " belongs to node '" + manifest_.node_id() +
                       "', not '" + options_.node_id + "'");
  }
  if (manifest_.segments_size() == 0) return fail(r, "journal MANIFEST lists no segment", true);

  // The manifest's own consistency: indexes in order, the chain continues across segments, only
  // the last is open, every segment not archived is here.
  for (int i = 0; i < manifest_.segments_size(); ++i) {
    const auto& s = manifest_.segments(i);
    const bool last = i + 1 == manifest_.segments_size();
    const std::string where = "journal MANIFEST, segment " + s.file_name();
    if (s.file_name() != segmentFileName(s.segment_index(), s.first_seq())) {
      return fail(r, where + ": file name does not match index and first_seq", true);
    }
    if (s.first_seq() == 0 || s.segment_index() == 0) {
      // seq and segment indexes start at 1 (a tampered MANIFEST; verify refuses it too).
      return fail(r, where + ": first_seq and segment_index start at 1", true);
    }
    if (i > 0) {
      const auto& p = manifest_.segments(i - 1);
      if (s.segment_index() != p.segment_index() + 1 || s.first_seq() != p.last_seq() + 1 ||
          s.prev_hash() != p.last_hash()) {
        return fail(r,
                    where + ": does not continue " + p.file_name() + " (seq " + u64(p.last_seq()) +
                        " → " + u64(s.first_seq()) + ")",
                    true);
      }
    } else if (s.first_seq() == 1 && s.prev_hash() != std::string(kHashBytes, '\0')) {
      return fail(r, where + ": prev_hash of seq 1 is not zero", true);
    }
    if (last != (s.state() == pb::Manifest::OPEN)) {
      return fail(r, where + (last ? ": the last segment is not OPEN" : ": OPEN but not last"),
                  true);
    }
    const fs::path path = dir / s.file_name();
    if (s.state() == pb::Manifest::ARCHIVED) {
      if (fs::exists(path, ec)) {
        // The archival crashed after the manifest said ARCHIVED (the copy is verified).
        ::unlink(path.c_str());
        common::log(LogLevel::Info, "journal removed an already archived segment",
                    {{"file", path.string()}, {"archive", s.archive_path()}});
      }
      continue;
    }
    if (!fs::exists(path, ec)) {
      return fail(r,
                  "journal segment missing: " + path.string() + " (seq " + u64(s.first_seq()) +
                      ".." + (last ? std::string("") : u64(s.last_seq())) + ")",
                  true);
    }
  }
  // Files the manifest does not list: the one after the open segment may be a rotation cut
  // short before the manifest was replaced (it holds only its SegmentStart); anything else is not
  // ours to guess about.
  for (const auto& [index, name] : files) {
    bool listed = false;
    for (const auto& s : manifest_.segments()) listed = listed || s.file_name() == name;
    if (listed) continue;
    const fs::path path = dir / name;
    if (index == current().segment_index() + 1) {
      const SegmentScan scan = scanSegmentBlocking(path);
      if (scan.opened && scan.frames.size() <= 1) {
        ::unlink(path.c_str());
        common::log(LogLevel::Warn, "journal removed an unfinished segment (rotation interrupted)",
                    {{"file", path.string()}});
        continue;
      }
    }
    return fail(r, "journal " + dir.string() + ": segment file " + name + " is not in MANIFEST",
                true);
  }
  ::unlink((dir / (std::string(kManifestName) + ".tmp")).c_str());
  if (!recoverOpenSegmentBlocking(r)) return false;
  last_sync_ = time_.monotonic();  // recovery left the segment synced
  publishHead();
  if (metrics_) metrics::set(metrics_->healthy, healthy() ? 1 : 0);
  return true;
}

bool JournalImpl::recoverOpenSegmentBlocking(OpenResult& r) {
  const auto& seg = current();
  const fs::path path = options_.dir / seg.file_name();
  const SegmentScan scan = scanSegmentBlocking(path);
  if (!scan.opened) return fail(r, scan.error);
  if (!scan.magic_ok) return fail(r, path.string() + ": not a journal segment (bad magic)", true);
  std::uint64_t seq = seg.first_seq() - 1;
  std::string prev = seg.prev_hash();
  std::uint64_t good_end = scan.frames.empty() ? kSegmentMagic.size() : 0;
  std::uint64_t covered_last = seq;  // events up to here are covered by a checkpoint
  auto corrupt = [&](std::uint64_t offset, const std::string& what) {
    return fail(r,
                path.string() + " offset " + u64(offset) + " (after seq " + u64(seq) + "): " + what,
                true);
  };
  pb::JournalRecord rec;
  for (std::size_t i = 0; i < scan.frames.size(); ++i) {
    const auto& f = scan.frames[i];
    if (!rec.ParseFromString(f.payload)) return corrupt(f.offset, "record does not parse");
    if (i == 0) {
      if (rec.body_case() != pb::JournalRecord::kSegmentStart) {
        return corrupt(f.offset, "first record is not a SegmentStart");
      }
      const auto& s = rec.segment_start();
      if (s.segment_index() != seg.segment_index() || s.first_seq() != seg.first_seq() ||
          s.prev_hash() != seg.prev_hash() || s.node_id() != options_.node_id) {
        return corrupt(f.offset, "SegmentStart does not match MANIFEST");
      }
    } else if (rec.body_case() == pb::JournalRecord::kEvent) {
      const auto& ev = rec.event();
      if (ev.seq() != seq + 1) {
        return corrupt(f.offset, "seq " + u64(ev.seq()) + " breaks the sequence");
      }
      if (ev.prev_hash() != prev) return corrupt(f.offset, "prev_hash breaks the chain");
      // The event's bytes as written: the record's field 1 is the whole payload after its tag
      // and length.
      std::string_view payload(f.payload);
      std::size_t pos = 1;
      while (pos < payload.size() && (static_cast<unsigned char>(payload[pos]) & 0x80) != 0) ++pos;
      ++pos;
      std::string_view canonical;
      std::string_view hash;
      if (pos > payload.size() || !splitHashField(payload.substr(pos), canonical, hash) ||
          hash != ev.hash()) {
        return corrupt(f.offset, "event seq " + u64(ev.seq()) + " has no trailing hash field");
      }
      if (chainHash(prev, canonical) != hash) {
        return corrupt(f.offset, "event seq " + u64(ev.seq()) + ": hash mismatch");
      }
      seq = ev.seq();
      prev = std::string(hash);
    } else if (rec.body_case() == pb::JournalRecord::kCheckpoint) {
      const auto& c = rec.checkpoint();
      if (c.last_seq() != seq || c.chain_head() != prev || c.first_seq() > c.last_seq()) {
        return corrupt(f.offset, "checkpoint does not match the chain");
      }
      covered_last = seq;
    } else {
      return corrupt(f.offset, "unexpected record type");
    }
    good_end = f.offset + kFrameHeaderBytes + f.payload.size();
  }
  if (scan.frames.empty()) return corrupt(kSegmentMagic.size(), "no SegmentStart record");
  if (scan.stop != FrameStatus::End) {
    if (scan.valid_frame_after_stop) {
      return corrupt(scan.stop_offset, std::string(frameStatusName(scan.stop)) +
                                           ", and valid records follow (damage inside the file)");
    }
    const std::uint64_t torn = scan.file_size - good_end;
    const int fd = ops_.open(path.c_str(), O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0 || ops_.ftruncate(fd, static_cast<off_t>(good_end)) != 0 ||
        ops_.fdatasync(fd) != 0) {
      const int err = errno;
      if (fd >= 0) ops_.close(fd);
      return fail(r, "cannot truncate the torn tail of " + path.string() + ": " + errnoText(err));
    }
    ops_.close(fd);
    r.torn_tail_bytes = torn;
    if (metrics_) metrics::inc(metrics_->torn_tail_truncations);
    common::log(LogLevel::Warn, "journal torn tail truncated",
                {{"file", path.string()},
                 {"offset", u64(good_end)},
                 {"bytes", u64(torn)},
                 {"reason", frameStatusName(scan.stop)},
                 {"last_seq", u64(seq)}});
  }
  r.events_recovered = seq;
  seq_ = seq;
  hash_ = prev;
  seg_offset_ = good_end;
  seg_events_ = seq - (seg.first_seq() - 1);
  uncovered_first_ = covered_last + 1;
  fd_ = ops_.open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC, 0);
  if (fd_ < 0) return fail(r, "cannot open " + path.string() + ": " + errnoText(errno));
  if (uncovered_first_ <= seq_ && !writeCheckpointNow()) {
    // Not fatal: the next batch's checkpoint covers these events too.
    common::log(
        LogLevel::Warn, "journal could not checkpoint recovered events",
        {{"file", path.string()}, {"first_seq", u64(uncovered_first_)}, {"last_seq", u64(seq_)}});
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// appenders

void JournalImpl::append(std::string event_bytes, AppendCallback done) {
  if (event_bytes.size() > kMaxEventBytes) {
    // A programming error upstream (events are hundreds of bytes); no frame can hold it.
    common::log(LogLevel::Error, "journal event too large", {{"bytes", u64(event_bytes.size())}});
    done(AppendResult{AppendStatus::Unavailable, 0});
    return;
  }
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    done(AppendResult{AppendStatus::Stopped, 0});
    return;
  }
  if (queue_.size() >= options_.max_queue_events) {
    lock.unlock();
    if (metrics_) metrics::inc(metrics_->overloaded);
    done(AppendResult{AppendStatus::Overloaded, 0});
    return;
  }
  queue_.push_back(Pending{std::move(event_bytes), std::move(done)});
  const bool wake = writer_waiting_;
  writer_waiting_ = false;
  lock.unlock();
  if (wake) cv_.notify_one();
}

void JournalImpl::appendMany(std::vector<AppendRequest> requests) {
  std::vector<AppendRequest> refused;  // completed outside the lock
  AppendStatus refusal = AppendStatus::Unavailable;
  std::unique_lock lock(mu_);
  const std::size_t before = queue_.size();
  if (stopping_ || queue_.size() + requests.size() > options_.max_queue_events) {
    refusal = stopping_ ? AppendStatus::Stopped : AppendStatus::Overloaded;
    refused = std::move(requests);
  } else {
    for (AppendRequest& r : requests) {
      if (r.event_bytes.size() > kMaxEventBytes) {
        refused.push_back(std::move(r));  // a programming error upstream; see append()
        continue;
      }
      queue_.push_back(Pending{std::move(r.event_bytes), std::move(r.done)});
    }
  }
  const bool wake = writer_waiting_ && queue_.size() > before;
  if (wake) writer_waiting_ = false;
  lock.unlock();
  if (wake) cv_.notify_one();
  if (refusal == AppendStatus::Overloaded && metrics_) {
    metrics::inc(metrics_->overloaded, static_cast<double>(refused.size()));
  }
  for (AppendRequest& r : refused) r.done(AppendResult{refusal, 0});
}

void JournalImpl::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------------------------------------
// writer thread

void JournalImpl::run() {
  std::vector<Pending> items;
  items.reserve(std::min<std::size_t>(options_.max_queue_events, 1 << 16));
  event_at_.reserve(options_.max_batch_events);
  buf_.reserve(1 << 20);
  bool stopping = false;
  while (!stopping) {
    {
      std::unique_lock lock(mu_);
      while (queue_.empty() && !stopping_) {
        writer_waiting_ = true;
        cv_.wait_for(lock, kIdleTick);
        if (queue_.empty() && !stopping_) {
          writer_waiting_ = false;
          lock.unlock();
          housekeeping();
          lock.lock();
        }
      }
      writer_waiting_ = false;
      stopping = stopping_ && queue_.empty();
      items.swap(queue_);
    }
    if (metrics_) metrics::set(metrics_->queue_events, static_cast<double>(items.size()));
    for (std::size_t begin = 0; begin < items.size(); begin += options_.max_batch_events) {
      housekeeping();
      writeBatch(items, begin, std::min(items.size(), begin + options_.max_batch_events));
    }
    items.clear();
    if (metrics_) metrics::set(metrics_->queue_events, 0);
  }
  if (unsynced_) syncSegment();
}

void JournalImpl::housekeeping() {
  const auto mono = time_.monotonic();
  if (unsynced_ && options_.fsync == FsyncPolicy::Batch &&
      mono - last_sync_ >= options_.fsync_interval) {
    syncSegment();
  }
  if (!healthy() && mono >= next_probe_) {
    next_probe_ = mono + options_.retry_interval;
    // After a signer failure the disk may be fine: only a signature proves it works again.
    if (probeBlocking() && (!sign_failed_ || buildCheckpoint(uncovered_first_, seq_, hash_))) {
      sign_failed_ = false;
      becameHealthy("probe write succeeded");
    }
  }
  const auto now = time_.now();
  if (seg_events_ > 0 && mono >= next_rotation_ &&
      now - fromTimestamp(current().created()) >= options_.segment_max_age) {
    rotateBlocking("age");
  }
  if (options_.retention.count() > 0 && mono >= next_retention_) {
    next_retention_ = mono + kRetentionCheckPeriod;
    retentionBlocking();
  }
}

bool JournalImpl::buildCheckpoint(std::uint64_t first_seq, std::uint64_t last_seq,
                                  std::string_view chain_head) {
  checkpoint_.Clear();
  checkpoint_.set_node_id(options_.node_id);
  checkpoint_.set_first_seq(first_seq);
  checkpoint_.set_last_seq(last_seq);
  checkpoint_.set_chain_head(chain_head.data(), chain_head.size());
  setTimestamp(checkpoint_.mutable_time(), time_.now());
  // The signed bytes name the key; a signer answering with another key (first call, rotation)
  // makes us sign again over bytes naming that key. Three rounds cover a rotation mid-way.
  for (int round = 0; round < 3; ++round) {
    checkpoint_.set_key_id(key_id_);
    checkpoint_.set_algorithm(algorithm_);
    checkpoint_.clear_signature();
    serializeCanonical(checkpoint_, scratch_);
    auto sig = signer_ ? signer_(scratch_) : std::nullopt;
    if (!sig || sig->signature.empty()) return false;
    if (sig->key_id == key_id_ && sig->algorithm == algorithm_ && !key_id_.empty()) {
      checkpoint_.set_signature(std::move(sig->signature));
      record_.Clear();
      *record_.mutable_checkpoint() = checkpoint_;
      serializeCanonical(record_, scratch_);
      checkpoint_frame_.clear();
      appendFrame(checkpoint_frame_, scratch_);
      return true;
    }
    key_id_ = std::move(sig->key_id);
    algorithm_ = std::move(sig->algorithm);
  }
  return false;
}

void JournalImpl::completeFailed(std::vector<Pending>& items, std::size_t begin, std::size_t end,
                                 AppendStatus status) {
  for (std::size_t i = begin; i < end; ++i) items[i].done(AppendResult{status, 0});
}

void JournalImpl::ioFailed(std::string_view op, const fs::path& file, int err,
                           std::string_view detail) {
  const bool was_healthy = healthy_.exchange(false, std::memory_order_acq_rel);
  if (metrics_) {
    metrics::inc(metrics_->write_failures);
    metrics::set(metrics_->healthy, 0);
  }
  const auto mono = time_.monotonic();
  if (was_healthy) next_probe_ = mono + options_.retry_interval;
  if (was_healthy || mono >= next_failure_log_) {
    const std::string reason = detail.empty() ? errnoText(err) : std::string(detail);
    common::log(
        LogLevel::Error,
        "journal I/O failed: failing batches are refused, healthy=false until a write works",
        {{"op", op},
         {"file", file.string()},
         {"error", reason},
         {"suppressed", u64(suppressed_failures_)}});
    suppressed_failures_ = 0;
    next_failure_log_ =
        mono + std::max<steady_clock::duration>(options_.retry_interval, std::chrono::seconds(1));
  } else {
    ++suppressed_failures_;
  }
}

void JournalImpl::becameHealthy(std::string_view how) {
  if (healthy_.exchange(true, std::memory_order_acq_rel)) return;
  if (metrics_) metrics::set(metrics_->healthy, 1);
  common::log(LogLevel::Info, "journal writable again",
              {{"dir", options_.dir.string()}, {"how", how}});
}

bool JournalImpl::rollbackTo(std::uint64_t offset) {
  // The failed batch must vanish: a later batch is appended at seg_offset_, and recovery must
  // never see a frame of the failed batch as valid (its events were reported Unavailable).
  if (ops_.ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ops_.fdatasync(fd_) != 0) {
    dirty_ = true;
    return false;
  }
  dirty_ = false;
  return true;
}

bool JournalImpl::repairDirty() {
  if (!dirty_) return true;
  if (!rollbackTo(seg_offset_)) {
    ioFailed("ftruncate", segmentPath(), errno);
    return false;
  }
  return true;
}

bool JournalImpl::syncSegment() {
  const auto t0 = steady_clock::now();
  if (ops_.fdatasync(fd_) != 0) {
    ioFailed("fdatasync", segmentPath(), errno);
    return false;
  }
  if (metrics_) {
    metrics::observe(metrics_->fsync_seconds,
                     std::chrono::duration<double>(steady_clock::now() - t0).count());
  }
  unsynced_ = false;
  last_sync_ = time_.monotonic();
  return true;
}

bool JournalImpl::probeBlocking() {
  if (dirty_ && !rollbackTo(seg_offset_)) return false;
  const fs::path path = options_.dir / std::string(kProbeName);
  const int fd = ops_.open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  const std::string bytes(4096, 'p');
  const bool ok = writeAll(ops_, fd, bytes.data(), bytes.size()) && ops_.fdatasync(fd) == 0;
  ops_.close(fd);
  ops_.unlink(path.c_str());
  return ok;
}

void JournalImpl::publishHead() {
  std::lock_guard lock(head_mu_);
  head_.seq = seq_;
  head_.hash = hash_;
}

void JournalImpl::writeBatch(std::vector<Pending>& items, std::size_t begin, std::size_t end) {
  if (!repairDirty()) {
    completeFailed(items, begin, end, AppendStatus::Unavailable);
    return;
  }
  // Chain and frame every event into one buffer. Nothing of the journal's state changes until
  // the write succeeds.
  buf_.clear();
  event_at_.clear();
  std::uint64_t seq = seq_;
  char prev[kHashBytes];
  char hash[kHashBytes];
  std::memcpy(prev, hash_.data(), kHashBytes);
  for (std::size_t i = begin; i < end; ++i) {
    // The event is copied once, into the batch buffer; its chain fields follow it there.
    const std::string& ev = items[i].bytes;
    chain_.clear();
    appendSeqAndPrevHash(chain_, ++seq, std::string_view(prev, kHashBytes));
    chainHashInto(std::string_view(prev, kHashBytes), ev, chain_, hash);
    appendHashField(chain_, std::string_view(hash, kHashBytes));
    std::memcpy(prev, hash, kHashBytes);
    const std::size_t header = buf_.size();
    buf_.append(kFrameHeaderBytes, '\0');
    const std::size_t payload = buf_.size();
    buf_.push_back(0x0A);  // JournalRecord.event, length-delimited
    putVarint(buf_, ev.size() + chain_.size());
    const std::size_t at = buf_.size();
    buf_.append(ev);
    buf_.append(chain_);
    event_at_.push_back(EventAt{header, at, buf_.size() - at});
    const std::string_view p(buf_.data() + payload, buf_.size() - payload);
    putU32At(buf_, header, static_cast<std::uint32_t>(p.size()));
    putU32At(buf_, header + 4, common::crc32c(p));
  }
  const std::string_view head_hash(prev, kHashBytes);
  if (!buildCheckpoint(uncovered_first_, seq, head_hash)) {
    if (metrics_) metrics::inc(metrics_->sign_failures);
    sign_failed_ = true;
    ioFailed("sign checkpoint", segmentPath(), 0, "the signer returned no signature");
    completeFailed(items, begin, end, AppendStatus::Unavailable);
    return;
  }
  buf_.append(checkpoint_frame_);

  if (seg_events_ > 0 && seg_offset_ + buf_.size() > options_.segment_max_bytes &&
      time_.monotonic() >= next_rotation_) {
    rotateBlocking("size");  // on failure the batch still goes to the current segment
  }
  const std::uint64_t start = seg_offset_;
  const auto t0 = steady_clock::now();
  if (!writeAll(ops_, fd_, buf_.data(), buf_.size())) {
    const int err = errno;
    rollbackTo(start);
    ioFailed("write", segmentPath(), err);
    completeFailed(items, begin, end, AppendStatus::Unavailable);
    return;
  }
  const auto t1 = steady_clock::now();
  if (options_.fsync == FsyncPolicy::Always) {
    if (ops_.fdatasync(fd_) != 0) {
      const int err = errno;
      rollbackTo(start);
      ioFailed("fdatasync", segmentPath(), err);
      completeFailed(items, begin, end, AppendStatus::Unavailable);
      return;
    }
    last_sync_ = time_.monotonic();
    unsynced_ = false;
  } else {
    unsynced_ = true;
  }
  const auto t2 = steady_clock::now();

  const std::uint64_t first = seq_ + 1;
  seq_ = seq;
  hash_.assign(prev, kHashBytes);
  seg_offset_ += buf_.size();
  seg_events_ += end - begin;
  uncovered_first_ = seq + 1;
  sign_failed_ = false;
  publishHead();
  becameHealthy("batch written");
  if (metrics_) {
    metrics::inc(metrics_->batches);
    metrics::inc(metrics_->events, static_cast<double>(end - begin));
    metrics::observe(metrics_->batch_events, static_cast<double>(end - begin));
    metrics::observe(metrics_->write_seconds, std::chrono::duration<double>(t1 - t0).count());
    if (options_.fsync == FsyncPolicy::Always) {
      metrics::observe(metrics_->fsync_seconds, std::chrono::duration<double>(t2 - t1).count());
    }
  }
  // Observers first, completions after: whoever learns that an event is durable (the caller,
  // then the client the response goes to) can already find it through what the observers feed
  // (the citizen's event index) — read-your-writes for the digital space.
  // observer_ is set before the first append (contract), and the queue's mutex orders that
  // before this read.
  if (observer_) {
    for (std::size_t i = begin; i < end; ++i) {
      const EventAt& e = event_at_[i - begin];
      observer_(first + (i - begin), std::string_view(buf_.data() + e.at, e.size));
    }
  }
  if (located_observer_) {
    // Rotation happened before the write: the whole batch is in the current segment.
    CommittedEvent c;
    c.segment_index = current().segment_index();
    c.segment_first_seq = current().first_seq();
    for (std::size_t i = begin; i < end; ++i) {
      const EventAt& e = event_at_[i - begin];
      c.seq = first + (i - begin);
      c.event_bytes = std::string_view(buf_.data() + e.at, e.size);
      c.frame_offset = start + e.frame;
      c.frame_size = static_cast<std::uint32_t>(e.at + e.size - e.frame);
      located_observer_(c);
    }
  }
  for (std::size_t i = begin; i < end; ++i) {
    items[i].done(AppendResult{AppendStatus::Durable, first + (i - begin)});
  }
}

bool JournalImpl::writeCheckpointNow() {
  if (uncovered_first_ > seq_) return true;
  if (!buildCheckpoint(uncovered_first_, seq_, hash_)) return false;
  if (!repairDirty()) return false;
  const std::uint64_t start = seg_offset_;
  if (!writeAll(ops_, fd_, checkpoint_frame_.data(), checkpoint_frame_.size()) ||
      ops_.fdatasync(fd_) != 0) {
    const int err = errno;
    rollbackTo(start);
    ioFailed("write", segmentPath(), err);
    return false;
  }
  seg_offset_ += checkpoint_frame_.size();
  uncovered_first_ = seq_ + 1;
  return true;
}

bool JournalImpl::rotateBlocking(std::string_view reason) {
  // A failed attempt is retried after retry_interval, not before every batch.
  next_rotation_ = time_.monotonic() + options_.retry_interval;
  if (dirty_ && !repairDirty()) return false;
  if (!syncSegment()) return false;
  const auto now = time_.now();
  const auto& old = current();
  const std::uint64_t index = old.segment_index() + 1;
  int fd = -1;
  std::uint64_t size = 0;
  std::string error;
  if (!createSegmentFileBlocking(index, seq_ + 1, now, fd, size, error)) {
    ioFailed("create segment", options_.dir / segmentFileName(index, seq_ + 1), 0, error);
    return false;
  }
  pb::Manifest next = manifest_;
  auto* closed = next.mutable_segments(next.segments_size() - 1);
  closed->set_state(pb::Manifest::CLOSED);
  closed->set_last_seq(seq_);
  closed->set_last_hash(hash_);
  setTimestamp(closed->mutable_closed(), now);
  auto* seg = next.add_segments();
  seg->set_file_name(segmentFileName(index, seq_ + 1));
  seg->set_segment_index(index);
  seg->set_first_seq(seq_ + 1);
  seg->set_prev_hash(hash_);
  seg->set_state(pb::Manifest::OPEN);
  setTimestamp(seg->mutable_created(), now);
  std::string payload;
  serializeCanonical(next, payload);
  if (!writeManifestBlocking(options_.dir, payload, error, &ops_)) {
    const int err = errno;
    const fs::path path = options_.dir / seg->file_name();
    ops_.close(fd);
    ops_.unlink(path.c_str());
    ioFailed("write manifest", options_.dir / std::string(kManifestName), err, error);
    return false;
  }
  const std::string old_name = old.file_name();
  next_rotation_ = {};
  manifest_ = std::move(next);
  ops_.close(fd_);
  fd_ = fd;
  seg_offset_ = size;
  seg_events_ = 0;
  if (metrics_) metrics::inc(metrics_->segments_rotated);
  common::log(LogLevel::Info, "journal segment rotated",
              {{"reason", reason},
               {"closed", old_name},
               {"opened", current().file_name()},
               {"first_seq", u64(seq_ + 1)}});
  return true;
}

void JournalImpl::retentionBlocking() {
  const auto now = time_.now();
  for (int i = 0; i + 1 < manifest_.segments_size(); ++i) {
    const auto& s = manifest_.segments(i);
    if (s.state() != pb::Manifest::CLOSED) continue;
    if (now - fromTimestamp(s.closed()) < options_.retention) continue;
    if (!archiveSegmentBlocking(i)) {
      // Kept here; tried again after retry_interval.
      next_retention_ = time_.monotonic() + options_.retry_interval;
      if (metrics_) metrics::inc(metrics_->archive_failures);
      return;
    }
  }
}

bool JournalImpl::archiveSegmentBlocking(int index) {
  const std::string name = manifest_.segments(index).file_name();
  const fs::path src = options_.dir / name;
  const fs::path dst = options_.archive_dir / name;
  const fs::path tmp = options_.archive_dir / (name + ".tmp");
  auto failed = [&](const std::string& why) {
    common::log(LogLevel::Error, "journal archival failed: segment kept",
                {{"file", src.string()}, {"archive", dst.string()}, {"error", why}});
    return false;
  };
  std::error_code ec;
  fs::create_directories(options_.archive_dir, ec);
  if (ec) return failed("cannot create " + options_.archive_dir.string() + ": " + ec.message());

  // Copy through a temporary name, durable before it gets the final one.
  const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return failed("cannot open: " + errnoText(errno));
  const int out = ops_.open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    return failed("cannot create " + tmp.string() + ": " + errnoText(err));
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> chunk(1 << 20);
  std::uint64_t copied = 0;
  std::string why;
  for (;;) {
    const ssize_t n = ::read(in, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = "cannot read: " + errnoText(errno);
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, chunk.data(), static_cast<std::size_t>(n));
    if (!writeAll(ops_, out, chunk.data(), static_cast<std::size_t>(n))) {
      why = "cannot write " + tmp.string() + ": " + errnoText(errno);
      break;
    }
    copied += static_cast<std::uint64_t>(n);
  }
  std::string src_digest(kHashBytes, '\0');
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(src_digest.data()), &len);
  EVP_MD_CTX_free(ctx);
  ::close(in);
  if (why.empty() && ops_.fsync(out) != 0)
    why = "cannot fsync " + tmp.string() + ": " + errnoText(errno);
  ops_.close(out);
  if (why.empty() && ops_.rename(tmp.c_str(), dst.c_str()) != 0) {
    why = "cannot rename " + tmp.string() + ": " + errnoText(errno);
  }
  std::string error;
  if (why.empty() && !fsyncDirBlocking(options_.archive_dir, error, &ops_)) why = error;
  if (!why.empty()) {
    ::unlink(tmp.c_str());
    return failed(why);
  }
  // Read the copy back: what the archive holds must be what we had.
  std::string dst_digest;
  std::uint64_t dst_size = 0;
  if (!sha256FileBlocking(dst, dst_digest, dst_size, error)) return failed(error);
  if (dst_digest != src_digest || dst_size != copied) {
    return failed("the archived copy differs from the segment");
  }
  pb::Manifest next = manifest_;
  auto* s = next.mutable_segments(index);
  s->set_state(pb::Manifest::ARCHIVED);
  s->set_archive_path(dst.string());
  std::string payload;
  serializeCanonical(next, payload);
  if (!writeManifestBlocking(options_.dir, payload, error, &ops_)) return failed(error);
  manifest_ = std::move(next);
  if (ops_.unlink(src.c_str()) != 0 || !fsyncDirBlocking(options_.dir, error, &ops_)) {
    // Archived and recorded; the local copy is removed at the next open.
    common::log(LogLevel::Warn, "journal archived segment not removed",
                {{"file", src.string()}, {"error", errnoText(errno)}});
  }
  if (metrics_) metrics::inc(metrics_->segments_archived);
  common::log(LogLevel::Info, "journal segment archived",
              {{"file", name}, {"archive", dst.string()}, {"bytes", u64(copied)}});
  return true;
}

}  // namespace

std::string_view fsyncPolicyName(FsyncPolicy p) noexcept {
  switch (p) {
    case FsyncPolicy::Always:
      return "always";
    case FsyncPolicy::Batch:
      return "batch";
    case FsyncPolicy::None:
      return "none";
  }
  return "unknown";
}

OpenResult Journal::openBlocking(JournalOptions options, Signer signer,
                                 const common::TimeSource& time, metrics::JournalMetrics* metrics) {
  OpenResult r;
  auto impl = std::make_unique<JournalImpl>(std::move(options), std::move(signer), time, metrics);
  if (!impl->openBlocking(r)) return r;
  impl->start();
  r.journal = std::move(impl);
  return r;
}

}  // namespace qaqpa::journal
