#include "gateway/consent/file_consent_store.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "gateway/consent/consent_log.h"
#include "tests/consent/manual_time_source.h"
#include "tests/consent/test_values.h"

namespace qaqpa::consent {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace test_values;
using test_support::ManualTimeSource;

// Runs awaitables on one io_context that outlives the stores of the test. The order matters: the
// writer thread's final post() to the caller signals the io_context's condition variable after
// unlocking it, so the io_context must not be destroyed until the store has joined its writer.
// (tests/support/runAwaitable destroys its io_context on return, which TSan rightly flags here.)
class Runner {
 public:
  template <class T>
  T run(asio::awaitable<T> task) {
    ioc_.restart();
    auto future = asio::co_spawn(ioc_, std::move(task), asio::use_future);
    ioc_.run();
    return future.get();
  }
  asio::io_context& ioc() { return ioc_; }

 private:
  asio::io_context ioc_;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "consent-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string log() const { return (path_ / kLogFileName).string(); }

 private:
  fs::path path_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void writeFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Blocks now() on any thread but the test's own while closed (the store reads granted_at on its
// writer thread), and counts such calls: lets a test hold the writer busy without sleeping.
class GatedTimeSource final : public ManualTimeSource {
 public:
  std::chrono::system_clock::time_point now() const noexcept override {
    if (std::this_thread::get_id() != owner_) {
      off_thread_calls_.fetch_add(1);
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return open_; });
    }
    return ManualTimeSource::now();
  }
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int offThreadCalls() const { return off_thread_calls_.load(); }

 private:
  const std::thread::id owner_ = std::this_thread::get_id();
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool open_ = true;
  mutable std::atomic<int> off_thread_calls_{0};
};

class FileConsentStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileConsentStore> open(FileConsentStoreOptions options = {}) {
    OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_, options);
    EXPECT_EQ(result.error, OpenError::None) << result.message;
    return std::move(result.store);
  }
  GrantResult grant(FileConsentStore& store, ConsentRequest r) {
    return runner_.run(store.grant(std::move(r)));
  }
  Consent grantOk(FileConsentStore& store, ConsentRequest r) {
    GrantResult result = grant(store, std::move(r));
    EXPECT_EQ(result.status, GrantStatus::Granted) << grantStatusName(result.status);
    return result.consent.value_or(Consent{});
  }
  RevokeResult revoke(FileConsentStore& store, std::string_view id, const common::SubjectId& by) {
    return runner_.run(store.revoke(id, by));
  }
  ConsentCheck check(const FileConsentStore& store, std::string_view id,
                     std::string_view service = "person.byIin") {
    return store.checkNow(id, kAlice, kClient, service, "TAX_AUDIT", time_.now());
  }

  Runner runner_;  // declared first: outlives every store a test opens
  TempDir dir_;
  ManualTimeSource time_;
};

TEST_F(FileConsentStoreTest, GrantThenCheckIsActive) {
  auto store = open();
  const Consent c = grantOk(*store, request(kAlice, time_.now() + 24h));
  EXPECT_TRUE(common::parseUuid(c.id));
  EXPECT_EQ(common::parseUuid(c.id)->version(), 7);
  EXPECT_EQ(c.granted_at, time_.now());
  EXPECT_EQ(c.granted_by, "citizen");
  EXPECT_FALSE(c.revoked_at);
  EXPECT_EQ(check(*store, c.id), ConsentCheck::Active);
  EXPECT_EQ(check(*store, c.id, "person.address"), ConsentCheck::Active);
  EXPECT_EQ(store->findNow(c.id), c);
  EXPECT_EQ(store->listBySubjectNow(kAlice), std::vector<Consent>{c});
  EXPECT_TRUE(store->listBySubjectNow(kBob).empty());
  EXPECT_EQ(store->stats().grants, 1u);
  EXPECT_EQ(store->stats().consents, 1u);
}

TEST_F(FileConsentStoreTest, EveryMismatchKind) {
  auto store = open();
  const Consent c = grantOk(*store, request(kAlice, time_.now() + 24h));
  const auto now = time_.now();
  EXPECT_EQ(store->checkNow("01890a5d-ac96-774b-bcce-b302099a8057", kAlice, kClient, "person.byIin",
                            "TAX_AUDIT", now),
            ConsentCheck::NotFound);
  EXPECT_EQ(store->checkNow("", kAlice, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::NotFound);
  EXPECT_EQ(store->checkNow(c.id, kBob, kClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::SubjectMismatch);
  EXPECT_EQ(store->checkNow(c.id, kAlice, kOtherClient, "person.byIin", "TAX_AUDIT", now),
            ConsentCheck::ClientMismatch);
  EXPECT_EQ(store->checkNow(c.id, kAlice, kClient, "person.family", "TAX_AUDIT", now),
            ConsentCheck::ServiceNotCovered);
  EXPECT_EQ(store->checkNow(c.id, kAlice, kClient, "person.byIin", "LOAN_SCORING", now),
            ConsentCheck::PurposeMismatch);
}

TEST_F(FileConsentStoreTest, ExpiresExactlyAtItsTime) {
  auto store = open();
  const Consent c = grantOk(*store, request(kAlice, time_.now() + 1h));
  time_.advance(1h - 1ms);
  EXPECT_EQ(check(*store, c.id), ConsentCheck::Active);
  time_.advance(1ms);
  EXPECT_EQ(check(*store, c.id), ConsentCheck::Expired);
}

TEST_F(FileConsentStoreTest, RevokeTakesEffectOnTheVeryNextCheck) {
  auto store = open();
  const Consent c = grantOk(*store, request(kAlice, time_.now() + 24h));
  time_.advance(5s);
  const RevokeResult r = revoke(*store, c.id, kAlice);
  EXPECT_EQ(r.status, RevokeStatus::Revoked);
  ASSERT_TRUE(r.consent);
  EXPECT_EQ(r.consent->revoked_at, time_.now());
  EXPECT_EQ(check(*store, c.id), ConsentCheck::Revoked);
  EXPECT_EQ(store->findNow(c.id)->revoked_at, time_.now());
  EXPECT_EQ(store->stats().revokes, 1u);
}

TEST_F(FileConsentStoreTest, RevokeOutcomes) {
  auto store = open();
  const Consent c = grantOk(*store, request(kAlice, time_.now() + 24h));
  EXPECT_EQ(revoke(*store, c.id, kBob).status, RevokeStatus::NotOwner);
  EXPECT_FALSE(revoke(*store, c.id, kBob).consent);  // nothing about it leaks to a non-owner
  EXPECT_EQ(check(*store, c.id), ConsentCheck::Active);
  EXPECT_EQ(revoke(*store, "01890a5d-ac96-774b-bcce-b302099a8057", kAlice).status,
            RevokeStatus::NotFound);
  EXPECT_EQ(revoke(*store, c.id, kAlice).status, RevokeStatus::Revoked);
  EXPECT_EQ(revoke(*store, c.id, kAlice).status, RevokeStatus::AlreadyRevoked);
  EXPECT_EQ(store->stats().revokes, 1u);
}

TEST_F(FileConsentStoreTest, RevokeOwnsItsArguments) {
  auto store = open();
  const Consent c = grantOk(*store, request(kAlice, time_.now() + 24h));
  asio::io_context& ioc = runner_.ioc();
  ioc.restart();
  std::optional<RevokeResult> result;
  // Both arguments are temporaries that die before the coroutine first runs.
  asio::co_spawn(ioc, store->revoke(std::string(c.id), common::SubjectId(kAlice)),
                 [&](std::exception_ptr, RevokeResult r) { result = std::move(r); });
  ioc.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, RevokeStatus::Revoked);
}

TEST_F(FileConsentStoreTest, InvalidRequestsAreRejectedAndWriteNothing) {
  auto store = open();
  auto bad_subject = request(iin("900101300018"), time_.now() + 1h);
  EXPECT_EQ(grant(*store, bad_subject).status, GrantStatus::InvalidSubject);
  auto bad_client = request(kAlice, time_.now() + 1h);
  bad_client.client = "";
  EXPECT_EQ(grant(*store, bad_client).status, GrantStatus::InvalidClient);
  auto bad_services = request(kAlice, time_.now() + 1h);
  bad_services.services = {};
  EXPECT_EQ(grant(*store, bad_services).status, GrantStatus::InvalidServices);
  auto bad_purpose = request(kAlice, time_.now() + 1h);
  bad_purpose.purpose = "";
  EXPECT_EQ(grant(*store, bad_purpose).status, GrantStatus::InvalidPurpose);
  EXPECT_EQ(grant(*store, request(kAlice, time_.now())).status, GrantStatus::InvalidExpires);
  EXPECT_EQ(grant(*store, request(kAlice, time_.now() + kMaxConsentLifetime + 1s)).status,
            GrantStatus::InvalidExpires);
  auto bad_by = request(kAlice, time_.now() + 1h);
  bad_by.granted_by = "admin:";
  EXPECT_EQ(grant(*store, bad_by).status, GrantStatus::InvalidGrantedBy);
  EXPECT_EQ(fs::file_size(dir_.log()), 0u);
  EXPECT_EQ(store->stats().consents, 0u);
}

TEST_F(FileConsentStoreTest, ActiveConsentsPerSubjectAreBounded) {
  FileConsentStoreOptions options;
  options.max_active_per_subject = 2;
  auto store = open(options);
  const Consent a = grantOk(*store, request(kAlice, time_.now() + 1h));
  grantOk(*store, request(kAlice, time_.now() + 24h));
  EXPECT_EQ(grant(*store, request(kAlice, time_.now() + 24h)).status, GrantStatus::LimitReached);
  grantOk(*store, request(kBob, time_.now() + 24h));  // per subject
  time_.advance(1h);                                  // `a` expires: no longer counted
  grantOk(*store, request(kAlice, time_.now() + 24h));
  EXPECT_EQ(grant(*store, request(kAlice, time_.now() + 24h)).status, GrantStatus::LimitReached);
  (void)a;
}

TEST_F(FileConsentStoreTest, ListsNewestFirstWithEveryState) {
  auto store = open();
  const Consent first = grantOk(*store, request(kAlice, time_.now() + 1h));
  time_.advance(1s);
  const Consent second = grantOk(*store, request(kAlice, time_.now() + 24h));
  const Consent third = grantOk(*store, request(kAlice, time_.now() + 24h));  // same ms
  ASSERT_EQ(revoke(*store, second.id, kAlice).status, RevokeStatus::Revoked);
  time_.advance(2h);
  const auto list = store->listBySubjectNow(kAlice);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, third.id);
  EXPECT_EQ(list[1].id, second.id);
  EXPECT_TRUE(list[1].revoked_at);
  EXPECT_EQ(list[2].id, first.id);
}

TEST_F(FileConsentStoreTest, SameStateAfterReopen) {
  std::vector<Consent> alice_before, bob_before;
  std::string a_id, b_id;
  {
    auto store = open();
    a_id = grantOk(*store, request(kAlice, time_.now() + 24h)).id;
    time_.advance(1s);
    b_id = grantOk(*store, request(kAlice, time_.now() + 48h)).id;
    auto admin = request(kBob, time_.now() + 24h);
    admin.granted_by = "admin:operator-7";
    admin.services = {"person.byIin"};
    grantOk(*store, admin);
    time_.advance(1s);
    ASSERT_EQ(revoke(*store, a_id, kAlice).status, RevokeStatus::Revoked);
    alice_before = store->listBySubjectNow(kAlice);
    bob_before = store->listBySubjectNow(kBob);
  }
  OpenResult reopened = FileConsentStore::openBlocking(dir_.str(), time_);
  ASSERT_EQ(reopened.error, OpenError::None) << reopened.message;
  EXPECT_EQ(reopened.records_replayed, 4u);
  EXPECT_EQ(reopened.torn_tails_truncated, 0u);
  auto& store = *reopened.store;
  EXPECT_EQ(store.listBySubjectNow(kAlice), alice_before);
  EXPECT_EQ(store.listBySubjectNow(kBob), bob_before);
  EXPECT_EQ(check(store, a_id), ConsentCheck::Revoked);
  EXPECT_EQ(check(store, b_id), ConsentCheck::Active);
  // And it keeps working: new changes append after the replayed ones.
  EXPECT_EQ(revoke(store, b_id, kAlice).status, RevokeStatus::Revoked);
  EXPECT_EQ(check(store, b_id), ConsentCheck::Revoked);
}

TEST_F(FileConsentStoreTest, CreatesAMissingDirectory) {
  const std::string nested = (dir_.path() / "a" / "b").string();
  OpenResult result = FileConsentStore::openBlocking(nested, time_);
  ASSERT_EQ(result.error, OpenError::None) << result.message;
  EXPECT_TRUE(fs::exists(fs::path(nested) / kLogFileName));
}

TEST_F(FileConsentStoreTest, ASecondOpenOfTheSameLogIsRefused) {
  auto store = open();
  OpenResult second = FileConsentStore::openBlocking(dir_.str(), time_);
  EXPECT_EQ(second.error, OpenError::Locked);
  EXPECT_FALSE(second.store);
}

TEST_F(FileConsentStoreTest, OpenReportsAnUnusableDirectory) {
  const std::string file = (dir_.path() / "plain-file").string();
  writeFile(file, "x");
  OpenResult result = FileConsentStore::openBlocking(file, time_);
  EXPECT_EQ(result.error, OpenError::Io);
  EXPECT_FALSE(result.message.empty());
}

// Writes grant A, grant B, revoke A and returns the log bytes and the last record's offset.
struct ThreeRecordLog {
  std::string bytes;
  std::uint64_t last_offset = 0;
  std::string a_id, b_id;
};
ThreeRecordLog makeThreeRecordLog(Runner& runner, const TempDir& dir, ManualTimeSource& time) {
  ThreeRecordLog log;
  {
    OpenResult opened = FileConsentStore::openBlocking(dir.str(), time);
    auto& store = *opened.store;
    log.a_id = runner.run(store.grant(request(kAlice, time.now() + 24h))).consent->id;
    log.b_id = runner.run(store.grant(request(kAlice, time.now() + 24h))).consent->id;
    runner.run(store.revoke(log.a_id, kAlice));
  }
  log.bytes = readFile(dir.log());
  const ScanResult scan = scanLog(log.bytes);
  EXPECT_EQ(scan.records.size(), 3u);
  log.last_offset = scan.records.back().offset;
  return log;
}

TEST_F(FileConsentStoreTest, TornTailAtEveryByteOfTheLastRecordOpensWithThePrefix) {
  const ThreeRecordLog log = makeThreeRecordLog(runner_, dir_, time_);
  for (std::uint64_t cut = log.last_offset; cut < log.bytes.size(); ++cut) {
    SCOPED_TRACE(cut);
    writeFile(dir_.log(), std::string_view(log.bytes).substr(0, cut));
    OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_);
    ASSERT_EQ(result.error, OpenError::None) << result.message;
    EXPECT_EQ(result.records_replayed, 2u);
    EXPECT_EQ(result.torn_tails_truncated, cut == log.last_offset ? 0u : 1u);
    EXPECT_EQ(result.torn_tail_bytes, cut - log.last_offset);
    EXPECT_EQ(fs::file_size(dir_.log()), log.last_offset);
    EXPECT_EQ(check(*result.store, log.a_id), ConsentCheck::Active);  // the revoke never landed
    EXPECT_EQ(check(*result.store, log.b_id), ConsentCheck::Active);
  }
  // After the truncation the log is clean and appendable.
  {
    OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_);
    ASSERT_EQ(result.error, OpenError::None);
    EXPECT_EQ(revoke(*result.store, log.a_id, kAlice).status, RevokeStatus::Revoked);
  }
  OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_);
  ASSERT_EQ(result.error, OpenError::None);
  EXPECT_EQ(result.torn_tails_truncated, 0u);
  EXPECT_EQ(result.records_replayed, 3u);
  EXPECT_EQ(check(*result.store, log.a_id), ConsentCheck::Revoked);
}

TEST_F(FileConsentStoreTest, BadCrcInTheLastRecordIsATornTail) {
  const ThreeRecordLog log = makeThreeRecordLog(runner_, dir_, time_);
  std::string damaged = log.bytes;
  damaged.back() = static_cast<char>(damaged.back() ^ 0x01);
  writeFile(dir_.log(), damaged);
  OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_);
  ASSERT_EQ(result.error, OpenError::None) << result.message;
  EXPECT_EQ(result.torn_tails_truncated, 1u);
  EXPECT_EQ(result.records_replayed, 2u);
}

TEST_F(FileConsentStoreTest, AFlippedByteInTheMiddleRefusesToOpenNamingTheOffset) {
  const ThreeRecordLog log = makeThreeRecordLog(runner_, dir_, time_);
  const std::uint64_t second = scanLog(log.bytes).records[1].offset;
  for (std::uint64_t i = second; i < log.last_offset; ++i) {
    SCOPED_TRACE(i);
    std::string damaged = log.bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0xFF);
    writeFile(dir_.log(), damaged);
    OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_);
    ASSERT_EQ(result.error, OpenError::Corrupt);
    EXPECT_FALSE(result.store);
    EXPECT_EQ(result.corrupt_offset, second);
    EXPECT_NE(result.message.find("offset " + std::to_string(second)), std::string::npos)
        << result.message;
    EXPECT_EQ(readFile(dir_.log()), damaged);  // refused means untouched
  }
}

TEST_F(FileConsentStoreTest, AnInconsistentLogRefusesToOpen) {
  const ThreeRecordLog log = makeThreeRecordLog(runner_, dir_, time_);
  // A second revocation of A, correctly framed: a bug or a hand edit, not a crash.
  const std::string extra = encodeRecord(RevokeRecord{log.a_id, time_.now(), kAlice});
  writeFile(dir_.log(), log.bytes + extra);
  OpenResult result = FileConsentStore::openBlocking(dir_.str(), time_);
  EXPECT_EQ(result.error, OpenError::Corrupt);
  EXPECT_EQ(result.corrupt_offset, log.bytes.size());

  writeFile(dir_.log(), encodeRecord(RevokeRecord{log.a_id, time_.now(), kAlice}));
  EXPECT_EQ(FileConsentStore::openBlocking(dir_.str(), time_).error, OpenError::Corrupt);
}

TEST(FileConsentStoreThreads, MutationsRunOffTheCallerThreadAndResumeOnIt) {
  Runner runner;
  TempDir dir;
  GatedTimeSource time;
  OpenResult opened = FileConsentStore::openBlocking(dir.str(), time);
  ASSERT_EQ(opened.error, OpenError::None);
  auto& store = *opened.store;
  const auto caller = std::this_thread::get_id();
  const bool resumed_on_caller = runner.run([&]() -> asio::awaitable<bool> {
    const GrantResult g = co_await store.grant(request(kAlice, time.now() + 1h));
    bool same = std::this_thread::get_id() == caller && g.status == GrantStatus::Granted;
    const RevokeResult r = co_await store.revoke(g.consent->id, kAlice);
    same = same && std::this_thread::get_id() == caller && r.status == RevokeStatus::Revoked;
    co_return same;
  }());
  EXPECT_TRUE(resumed_on_caller);
  EXPECT_EQ(time.offThreadCalls(), 2);  // granted_at and revoked_at, read on the writer
}

TEST(FileConsentStoreThreads, PendingWritesAreBounded) {
  Runner runner;
  TempDir dir;
  GatedTimeSource time;
  FileConsentStoreOptions options;
  options.max_pending_writes = 3;
  OpenResult opened = FileConsentStore::openBlocking(dir.str(), time, options);
  ASSERT_EQ(opened.error, OpenError::None);
  auto& store = *opened.store;

  time.close();  // the writer will block on its first granted_at
  asio::io_context& ioc = runner.ioc();
  std::vector<std::optional<GrantResult>> results(5);
  for (auto& slot : results) {
    asio::co_spawn(ioc, store.grant(request(kAlice, time.now() + 1h)),
                   [&slot](std::exception_ptr, GrantResult r) { slot = std::move(r); });
  }
  ioc.poll();  // every grant starts; three are queued, two are refused at once
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(results[i]) << i;
  for (int i = 3; i < 5; ++i) {
    ASSERT_TRUE(results[i]) << i;
    EXPECT_EQ(results[i]->status, GrantStatus::Overloaded);
  }
  EXPECT_EQ(store.stats().pending_writes, 3u);
  EXPECT_EQ(store.stats().overloaded, 2u);

  time.open();
  ioc.run();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i]) << i;
    EXPECT_EQ(results[i]->status, GrantStatus::Granted);
  }
  EXPECT_EQ(store.stats().pending_writes, 0u);
  EXPECT_EQ(store.stats().consents, 3u);
}

TEST(FileConsentStoreThreads, ConcurrentChecksSeeEveryRevocationAsSoonAsItReturns) {
  Runner runner;
  TempDir dir;
  ManualTimeSource time;
  OpenResult opened = FileConsentStore::openBlocking(dir.str(), time);
  ASSERT_EQ(opened.error, OpenError::None);
  auto& store = *opened.store;

  constexpr int kConsents = 24;
  std::vector<std::string> ids;
  for (int i = 0; i < kConsents; ++i) {
    ids.push_back(runner.run(store.grant(request(kAlice, time.now() + 24h))).consent->id);
  }
  std::vector<std::atomic<bool>> revoked(kConsents);
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<long> checks{0};
  constexpr int kReaders = 4;
  std::latch started(kReaders + 1);

  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      started.arrive_and_wait();
      bool last_pass = false;
      while (!last_pass) {
        last_pass = done.load(std::memory_order_acquire);
        for (int i = 0; i < kConsents; ++i) {
          const bool must_be_revoked = revoked[i].load(std::memory_order_acquire);
          const ConsentCheck c =
              store.checkNow(ids[i], kAlice, kClient, "person.byIin", "TAX_AUDIT", time.now());
          if (c != ConsentCheck::Revoked && (must_be_revoked || c != ConsentCheck::Active)) {
            violations.fetch_add(1);
          }
          checks.fetch_add(1, std::memory_order_relaxed);
        }
        if (store.listBySubjectNow(kAlice).size() < kConsents) violations.fetch_add(1);
        if (!store.findNow(ids[0])) violations.fetch_add(1);
      }
    });
  }
  started.arrive_and_wait();
  runner.run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < kConsents; ++i) {
      const GrantResult g = co_await store.grant(request(kAlice, time.now() + 24h));
      EXPECT_EQ(g.status, GrantStatus::Granted);
      const RevokeResult r = co_await store.revoke(ids[i], kAlice);
      EXPECT_EQ(r.status, RevokeStatus::Revoked);
      revoked[i].store(true, std::memory_order_release);
    }
  }());
  done.store(true, std::memory_order_release);
  for (auto& reader : readers) reader.join();

  EXPECT_EQ(violations.load(), 0);
  EXPECT_GE(checks.load(), kReaders * kConsents);
  EXPECT_EQ(store.stats().consents, 2u * kConsents);
}

}  // namespace
}  // namespace qaqpa::consent
