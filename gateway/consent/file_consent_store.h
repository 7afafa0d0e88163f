// FileConsentStore: the embedded ConsentStore. All consents live in memory (two maps under one
// std::shared_mutex: by id, by subject); every change is first appended to `<dir>/consents.log`
// (format and recovery: consent_log.h) and fdatasync'ed on the store's single writer thread.
//
// Threading: see ConsentStore. `openBlocking` and the destructor block (file I/O, joining the
// writer): call them from startup/shutdown code or a blocking pool, never on a worker. Mutations
// are serialized on the writer thread in arrival order; at most `max_pending_writes` may be queued
// or in flight, further ones get Overloaded at once.
//
// Failure: a failed append or fdatasync makes the store refuse every later mutation
// (StorageFailed, `failed()` true) until it is reopened — a partly written record may sit at the
// tail, and appending after it would turn a recoverable torn tail into mid-file corruption.
// Reads keep working. A revoke whose write failed is still applied in memory (fail closed: access
// stops now) but answers StorageFailed, since it may not survive a restart.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "gateway/common/ids.h"
#include "gateway/common/time_source.h"
#include "gateway/consent/consent_store.h"

namespace qaqpa::consent {

struct FileConsentStoreOptions {
  std::size_t max_pending_writes = 1024;     // queued + in-flight mutations; 0 is taken as 1
  std::size_t max_active_per_subject = 256;  // unrevoked, unexpired consents per citizen
};

enum class OpenError : std::uint8_t {
  None,
  Io,       // cannot create/open/read/truncate the directory or file (message has errno text)
  Locked,   // another FileConsentStore (this or another process) holds the log
  Corrupt,  // damaged or inconsistent record before the tail; message and offset name it
};

class FileConsentStore;

struct OpenResult {
  std::unique_ptr<FileConsentStore> store;  // null unless error == None
  OpenError error = OpenError::None;
  std::string message;               // names the file and, for Corrupt, the byte offset
  std::uint64_t corrupt_offset = 0;  // Corrupt: offset of the first bad record
  std::uint64_t records_replayed = 0;
  std::uint64_t torn_tails_truncated = 0;  // 0 or 1
  std::uint64_t torn_tail_bytes = 0;       // bytes cut off the end of the log
};

class FileConsentStore final : public ConsentStore {
 public:
  // Creates `dir` and the log if missing (fsyncing the directories that gained an entry), takes an
  // exclusive flock on the log, replays it into memory, truncates a torn tail (logged at error
  // level) and starts the writer thread. `time` must outlive the store. Blocking.
  static OpenResult openBlocking(const std::string& dir, const common::TimeSource& time,
                                 FileConsentStoreOptions options = {});

  // Waits for every queued mutation to finish (their callers resume on their own executors,
  // which must still be running), then closes the log. Blocking.
  ~FileConsentStore() override;
  FileConsentStore(const FileConsentStore&) = delete;
  FileConsentStore& operator=(const FileConsentStore&) = delete;

  // The port's reads answer at once (co_return) with the synchronous ones below.
  boost::asio::awaitable<ConsentCheck> check(std::string_view consent_id,
                                             const common::SubjectId& subject,
                                             std::string_view client, std::string_view service,
                                             std::string_view purpose,
                                             Clock::time_point now) const override;
  boost::asio::awaitable<ConsentList> listBySubject(
      const common::SubjectId& subject) const override;
  boost::asio::awaitable<ConsentLookup> find(std::string_view id) const override;

  // The same reads, synchronous: any thread, memory only (a short reader lock); checkNow does not
  // allocate.
  ConsentCheck checkNow(std::string_view consent_id, const common::SubjectId& subject,
                        std::string_view client, std::string_view service, std::string_view purpose,
                        Clock::time_point now) const;
  std::vector<Consent> listBySubjectNow(const common::SubjectId& subject) const;
  std::optional<Consent> findNow(std::string_view id) const;

  boost::asio::awaitable<GrantResult> grant(ConsentRequest request) override;
  boost::asio::awaitable<RevokeResult> revoke(std::string_view id,
                                              const common::SubjectId& by_subject) override;

  // Counters for server/ to export (qaqpa_consent_*); any thread, relaxed reads.
  struct Stats {
    std::uint64_t grants = 0;
    std::uint64_t revokes = 0;
    std::uint64_t overloaded = 0;      // mutations refused by the pending-writes bound
    std::uint64_t write_failures = 0;  // 0 or 1: the store turns read-only after the first
    std::size_t pending_writes = 0;
    std::size_t consents = 0;
  };
  Stats stats() const;
  // True after a failed durable write: readiness should report it.
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  const std::string& path() const noexcept { return path_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using ById = std::unordered_map<std::string, Consent, StringHash, std::equal_to<>>;
  // IIN digits → consent ids in log order.
  using BySubject =
      std::unordered_map<std::string, std::vector<std::string>, StringHash, std::equal_to<>>;

  FileConsentStore(std::string path, int fd, const common::TimeSource& time,
                   FileConsentStoreOptions options, ById by_id, BySubject by_subject);

  boost::asio::awaitable<RevokeResult> revokeOwned(std::string id, common::SubjectId by_subject);
  bool reserveWrite() noexcept;
  // Writer thread only.
  GrantResult grantOnWriterBlocking(ConsentRequest request);
  RevokeResult revokeOnWriterBlocking(const std::string& id, const common::SubjectId& by_subject);
  bool appendBlocking(std::string_view bytes);
  std::optional<RevokeResult> precheckRevoke(std::string_view id,
                                             const common::SubjectId& by_subject) const;

  const std::string path_;
  const int fd_;
  const common::TimeSource& time_;
  const FileConsentStoreOptions options_;

  mutable std::shared_mutex mutex_;  // guards by_id_ and by_subject_; only the writer mutates
  ById by_id_;
  BySubject by_subject_;

  common::UuidV7Generator ids_;  // writer thread only
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> grants_{0};
  std::atomic<std::uint64_t> revokes_{0};
  std::atomic<std::uint64_t> overloaded_{0};
  std::atomic<std::uint64_t> write_failures_{0};

  boost::asio::thread_pool writer_{1};  // last: its thread starts once everything above exists
};

}  // namespace qaqpa::consent
