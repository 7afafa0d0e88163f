#include "gateway/consent/file_consent_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/common/log.h"
#include "gateway/consent/consent_log.h"

namespace qaqpa::consent {
namespace {

namespace asio = boost::asio;

Clock::time_point floorToMillis(Clock::time_point t) noexcept {
  return std::chrono::floor<std::chrono::milliseconds>(t);
}

bool sameSubject(const common::SubjectId& a, const common::SubjectId& b) noexcept {
  return a.kind == b.kind && a.digits == b.digits;
}

std::string errnoText(int err) { return std::system_category().message(err); }

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Makes a new directory entry durable: fsync of the directory that holds it.
bool fsyncDirBlocking(const std::filesystem::path& dir, std::string& error) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    error = "fsync of directory " + dir.string() + ": " + errnoText(errno);
    return false;
  }
  return true;
}

OpenResult openFailure(OpenError error, std::string message) {
  OpenResult result;
  result.error = error;
  result.message = std::move(message);
  return result;
}

// Read-only private mapping of the whole log for the replay scan; unmapped on scope exit.
class Mapping {
 public:
  Mapping(int fd, std::size_t size) : size_(size) {
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) data_ = p;
  }
  ~Mapping() {
    if (data_) ::munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  bool ok() const noexcept { return size_ == 0 || data_ != nullptr; }
  std::string_view bytes() const noexcept {
    return data_ ? std::string_view(static_cast<const char*>(data_), size_) : std::string_view();
  }

 private:
  std::size_t size_;
  void* data_ = nullptr;
};

}  // namespace

OpenResult FileConsentStore::openBlocking(const std::string& dir, const common::TimeSource& time,
                                          FileConsentStoreOptions options) {
  namespace fs = std::filesystem;
  std::string error;
  const fs::path dir_path(dir);
  std::error_code ec;
  const bool created_dir = fs::create_directories(dir_path, ec);
  if (ec) return openFailure(OpenError::Io, "create directory " + dir + ": " + ec.message());
  if (created_dir) {
    const fs::path parent = fs::absolute(dir_path, ec).parent_path();
    if (!ec && !fsyncDirBlocking(parent, error)) return openFailure(OpenError::Io, error);
  }

  const std::string path = (dir_path / kLogFileName).string();
  Fd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (fd.get() < 0 && errno == ENOENT) {
    fd.reset(::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_CREAT | O_EXCL, 0600));
    // The file's own fdatasyncs do not make its directory entry durable.
    if (fd.get() >= 0 && !fsyncDirBlocking(dir_path, error)) {
      return openFailure(OpenError::Io, error);
    }
  }
  if (fd.get() < 0) return openFailure(OpenError::Io, "open " + path + ": " + errnoText(errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    return openFailure(err == EWOULDBLOCK ? OpenError::Locked : OpenError::Io,
                       "lock " + path + ": " + errnoText(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return openFailure(OpenError::Io, "stat " + path + ": " + errnoText(errno));
  }

  ById by_id;
  BySubject by_subject;
  OpenResult result;
  {
    const Mapping mapping(fd.get(), static_cast<std::size_t>(st.st_size));
    if (!mapping.ok()) return openFailure(OpenError::Io, "mmap " + path + ": " + errnoText(errno));
    ScanResult scan = scanLog(mapping.bytes());
    if (scan.outcome == ScanOutcome::Corrupt) {
      std::string message = path + ": corrupt record at offset " + std::to_string(scan.bad_offset) +
                            " (" + scan.reason + ")";
      if (scan.next_valid_offset != 0) {
        message +=
            ", followed by a valid record at offset " + std::to_string(scan.next_valid_offset);
      }
      message +=
          "; refusing to open. Save a copy, inspect, and cut the file at that offset only "
          "if the records after it may be lost";
      result = openFailure(OpenError::Corrupt, std::move(message));
      result.corrupt_offset = scan.bad_offset;
      return result;
    }
    // Replay. The log is written only by this code, so an inconsistency here means a bug or a
    // hand-edited file: refuse rather than guess which record is right.
    for (auto& [offset, record] : scan.records) {
      std::string problem;
      if (auto* grant = std::get_if<Consent>(&record)) {
        if (by_id.contains(grant->id)) {
          problem = "duplicate consent id";
        } else {
          by_subject[grant->subject.digits].push_back(grant->id);
          std::string id = grant->id;
          by_id.emplace(std::move(id), std::move(*grant));
        }
      } else {
        const auto& revoke = std::get<RevokeRecord>(record);
        const auto it = by_id.find(revoke.id);
        if (it == by_id.end()) {
          problem = "revocation of an unknown consent";
        } else if (it->second.revoked_at) {
          problem = "second revocation of a consent";
        } else if (!sameSubject(it->second.subject, revoke.by)) {
          problem = "revocation by a subject that does not own the consent";
        } else {
          it->second.revoked_at = revoke.revoked_at;
        }
      }
      if (!problem.empty()) {
        result = openFailure(OpenError::Corrupt, path + ": inconsistent record at offset " +
                                                     std::to_string(offset) + " (" + problem +
                                                     "); refusing to open");
        result.corrupt_offset = offset;
        return result;
      }
    }
    result.records_replayed = scan.records.size();
    if (scan.outcome == ScanOutcome::TornTail) {
      result.torn_tails_truncated = 1;
      result.torn_tail_bytes = static_cast<std::uint64_t>(st.st_size) - scan.valid_bytes;
      const std::string offset_text = std::to_string(scan.valid_bytes);
      const std::string bytes_text = std::to_string(result.torn_tail_bytes);
      common::log(common::LogLevel::Error,
                  "consent log has a torn tail (a write cut short by a crash); truncating it",
                  {{"path", path},
                   {"offset", offset_text},
                   {"dropped_bytes", bytes_text},
                   {"reason", scan.reason}});
      if (::ftruncate(fd.get(), static_cast<off_t>(scan.valid_bytes)) != 0 ||
          ::fsync(fd.get()) != 0) {
        return openFailure(OpenError::Io, "truncate " + path + ": " + errnoText(errno));
      }
    }
  }

  result.store.reset(new FileConsentStore(path, fd.release(), time, options, std::move(by_id),
                                          std::move(by_subject)));
  return result;
}

FileConsentStore::FileConsentStore(std::string path, int fd, const common::TimeSource& time,
                                   FileConsentStoreOptions options, ById by_id,
                                   BySubject by_subject)
    : path_(std::move(path)),
      fd_(fd),
      time_(time),
      options_(options),
      by_id_(std::move(by_id)),
      by_subject_(std::move(by_subject)) {}

FileConsentStore::~FileConsentStore() {
  // join() without stop(): every queued mutation runs to completion and resumes its caller.
  writer_.join();
  ::close(fd_);
}

boost::asio::awaitable<ConsentCheck> FileConsentStore::check(
    std::string_view consent_id, const common::SubjectId& subject, std::string_view client,
    std::string_view service, std::string_view purpose, Clock::time_point now) const {
  co_return checkNow(consent_id, subject, client, service, purpose, now);
}

boost::asio::awaitable<ConsentList> FileConsentStore::listBySubject(
    const common::SubjectId& subject) const {
  co_return ConsentList{true, listBySubjectNow(subject)};
}

boost::asio::awaitable<ConsentLookup> FileConsentStore::find(std::string_view id) const {
  co_return ConsentLookup{true, findNow(id)};
}

ConsentCheck FileConsentStore::checkNow(std::string_view consent_id,
                                        const common::SubjectId& subject, std::string_view client,
                                        std::string_view service, std::string_view purpose,
                                        Clock::time_point now) const {
  std::shared_lock lock(mutex_);
  const auto it = by_id_.find(consent_id);
  if (it == by_id_.end()) return ConsentCheck::NotFound;
  return checkConsent(it->second, subject, client, service, purpose, now);
}

std::vector<Consent> FileConsentStore::listBySubjectNow(const common::SubjectId& subject) const {
  std::vector<Consent> out;
  if (subject.kind != common::SubjectKind::Iin) return out;
  {
    std::shared_lock lock(mutex_);
    const auto it = by_subject_.find(subject.digits);
    if (it == by_subject_.end()) return out;
    out.reserve(it->second.size());
    for (const auto& id : it->second) out.push_back(by_id_.find(id)->second);
  }
  // Log order is grant order, but a wall clock can step back; sort on what we show.
  std::sort(out.begin(), out.end(), [](const Consent& a, const Consent& b) {
    return a.granted_at != b.granted_at ? a.granted_at > b.granted_at : a.id > b.id;
  });
  return out;
}

std::optional<Consent> FileConsentStore::findNow(std::string_view id) const {
  std::shared_lock lock(mutex_);
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

FileConsentStore::Stats FileConsentStore::stats() const {
  Stats s;
  s.grants = grants_.load(std::memory_order_relaxed);
  s.revokes = revokes_.load(std::memory_order_relaxed);
  s.overloaded = overloaded_.load(std::memory_order_relaxed);
  s.write_failures = write_failures_.load(std::memory_order_relaxed);
  s.pending_writes = pending_.load(std::memory_order_relaxed);
  std::shared_lock lock(mutex_);
  s.consents = by_id_.size();
  return s;
}

bool FileConsentStore::reserveWrite() noexcept {
  const std::size_t limit = std::max<std::size_t>(options_.max_pending_writes, 1);
  if (pending_.fetch_add(1, std::memory_order_relaxed) >= limit) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    overloaded_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

boost::asio::awaitable<GrantResult> FileConsentStore::grant(ConsentRequest request) {
  if (const auto status = validateRequest(request, time_.now()); status != GrantStatus::Granted) {
    co_return GrantResult{status, std::nullopt};
  }
  if (failed()) co_return GrantResult{GrantStatus::StorageFailed, std::nullopt};
  if (!reserveWrite()) co_return GrantResult{GrantStatus::Overloaded, std::nullopt};

  const auto caller = co_await asio::this_coro::executor;
  // bind_executor is what moves the coroutine: a plain post(writer, use_awaitable) would run an
  // empty handler on the writer and resume us on our own executor (Boost 1.81).
  co_await asio::post(asio::bind_executor(writer_.get_executor(), asio::use_awaitable));
  GrantResult result = grantOnWriterBlocking(std::move(request));
  pending_.fetch_sub(1, std::memory_order_relaxed);
  co_await asio::post(caller, asio::use_awaitable);
  co_return result;
}

boost::asio::awaitable<RevokeResult> FileConsentStore::revoke(std::string_view id,
                                                              const common::SubjectId& by_subject) {
  // Not a coroutine: Asio coroutines start suspended, so the arguments are copied here, while the
  // caller's views are certainly alive.
  return revokeOwned(std::string(id), by_subject);
}

std::optional<RevokeResult> FileConsentStore::precheckRevoke(
    std::string_view id, const common::SubjectId& by_subject) const {
  std::shared_lock lock(mutex_);
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return RevokeResult{RevokeStatus::NotFound, std::nullopt};
  if (!sameSubject(it->second.subject, by_subject)) {
    return RevokeResult{RevokeStatus::NotOwner, std::nullopt};
  }
  if (it->second.revoked_at) return RevokeResult{RevokeStatus::AlreadyRevoked, it->second};
  return std::nullopt;
}

boost::asio::awaitable<RevokeResult> FileConsentStore::revokeOwned(std::string id,
                                                                   common::SubjectId by_subject) {
  // Cheap answers without queueing a write; the writer checks again, authoritatively.
  if (auto early = precheckRevoke(id, by_subject)) co_return std::move(*early);
  if (failed()) co_return RevokeResult{RevokeStatus::StorageFailed, std::nullopt};
  if (!reserveWrite()) co_return RevokeResult{RevokeStatus::Overloaded, std::nullopt};

  const auto caller = co_await asio::this_coro::executor;
  co_await asio::post(asio::bind_executor(writer_.get_executor(), asio::use_awaitable));
  RevokeResult result = revokeOnWriterBlocking(id, by_subject);
  pending_.fetch_sub(1, std::memory_order_relaxed);
  co_await asio::post(caller, asio::use_awaitable);
  co_return result;
}

GrantResult FileConsentStore::grantOnWriterBlocking(ConsentRequest request) {
  if (failed()) return {GrantStatus::StorageFailed, std::nullopt};
  const auto now = floorToMillis(time_.now());
  const auto expires = floorToMillis(request.expires);
  // Validated against the clock on the caller; the queue may have taken us past it.
  if (expires <= now) return {GrantStatus::InvalidExpires, std::nullopt};

  // Only this thread mutates the maps, so reading them here needs no lock.
  if (const auto it = by_subject_.find(request.subject.digits); it != by_subject_.end()) {
    const auto active = std::count_if(it->second.begin(), it->second.end(), [&](const auto& id) {
      const Consent& c = by_id_.find(id)->second;
      return !c.revoked_at && now < c.expires;
    });
    if (static_cast<std::size_t>(active) >= options_.max_active_per_subject) {
      return {GrantStatus::LimitReached, std::nullopt};
    }
  }

  Consent consent;
  consent.id = common::toString(ids_.next(static_cast<std::uint64_t>(std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(), 0))));
  consent.subject = std::move(request.subject);
  consent.client = std::move(request.client);
  consent.services = std::move(request.services);
  consent.purpose = std::move(request.purpose);
  consent.granted_at = now;
  consent.expires = expires;
  consent.granted_by = std::move(request.granted_by);

  if (!appendBlocking(encodeRecord(consent))) return {GrantStatus::StorageFailed, std::nullopt};
  {
    std::unique_lock lock(mutex_);
    by_subject_[consent.subject.digits].push_back(consent.id);
    by_id_.emplace(consent.id, consent);
  }
  grants_.fetch_add(1, std::memory_order_relaxed);
  return {GrantStatus::Granted, std::move(consent)};
}

RevokeResult FileConsentStore::revokeOnWriterBlocking(const std::string& id,
                                                      const common::SubjectId& by_subject) {
  // A revoke of the same id may have been queued ahead of us.
  if (auto early = precheckRevoke(id, by_subject)) return std::move(*early);
  if (failed()) return {RevokeStatus::StorageFailed, std::nullopt};

  const auto now = floorToMillis(time_.now());
  const bool durable = appendBlocking(encodeRecord(RevokeRecord{id, now, by_subject}));
  // Applied even when the write failed: stopping access at once is the safe side; the caller is
  // told it may not survive a restart.
  std::optional<Consent> revoked;
  {
    std::unique_lock lock(mutex_);
    Consent& consent = by_id_.find(id)->second;
    consent.revoked_at = now;
    revoked = consent;
  }
  if (!durable) return {RevokeStatus::StorageFailed, std::move(revoked)};
  revokes_.fetch_add(1, std::memory_order_relaxed);
  return {RevokeStatus::Revoked, std::move(revoked)};
}

bool FileConsentStore::appendBlocking(std::string_view bytes) {
  const char* data = bytes.data();
  std::size_t left = bytes.size();
  int err = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fdatasync(fd_) != 0) err = errno;
  if (err == 0) return true;

  failed_.store(true, std::memory_order_release);
  write_failures_.fetch_add(1, std::memory_order_relaxed);
  const std::string err_text = errnoText(err);
  common::log(common::LogLevel::Error,
              "consent log write failed; consent changes are refused until restart",
              {{"path", path_}, {"error", err_text}});
  return false;
}

}  // namespace qaqpa::consent
