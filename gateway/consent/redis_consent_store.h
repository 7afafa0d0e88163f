// RedisConsentStore: the ConsentStore shared by gateway replicas (issue #6). Every consent lives in
// Redis (keys: redis_consent_keys.h, all of one citizen under the hash tag {subj:<IIN>}); nothing
// is cached, so a grant or revocation made through any replica is seen by the very next check on
// every replica.
//
// - check: one HGETALL of the consent under the subject's key, then the pure checkConsent. A
//   consent of another subject is simply not under this subject's key: NotFound (the file store
//   says SubjectMismatch; both read CONSENT_NOT_FOUND to the caller).
// - listBySubject: ZREVRANGE of the subject's index (at most kMaxListed ids), then one pipelined
//   HGETALL per id, sorted newest first like the file store.
// - find: GET qaqpa:{consent:<id>}:subject, then HGETALL.
// - grant: validateRequest, a UUIDv7 id, SET of the id → subject key, then ONE Lua script on the
//   subject's slot: drop expired ids from the active set, refuse when it already holds
//   max_active_per_subject (atomic: two replicas racing cannot both pass the limit), write the
//   hash and both indexes. A refused grant deletes its id → subject key again (best effort; a
//   leftover one points at nothing and is harmless).
// - revoke: ONE Lua script: set revoked_at unless already set, drop the id from the active set,
//   answer the stored consent. NotOwner comes from the id → subject key.
// Durability is Redis's: with appendonly yes and appendfsync always (the deployment's redis.conf;
// docs/configuration.md) a change is on disk before Redis answers, hence before the caller hears
// back.
//
// Failures: Redis down, late (past `timeout`) or answering an error → check says Unavailable,
// reads say available = false, grant/revoke say StorageFailed (then the change may or may not have
// been applied: a retried revoke answers AlreadyRevoked, a retried grant makes a second consent).
// Never a stale answer. Malformed stored data reads as NotFound (fail closed) and is logged.
//
// Threading: every call is co_awaited on a worker whose io_context was registered with
// addClient() (its own RedisClient answers there; a call from an unregistered executor fails as
// unavailable). addClient is startup-only (before the workers run). Non-blocking; no exceptions.
// Arguments of grant / revoke are copied before the call returns. The clients must outlive the
// store's last call; the store must outlive every awaitable it handed out.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/execution_context.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/common/ids.h"
#include "gateway/common/time_source.h"
#include "gateway/consent/consent_store.h"

namespace qaqpa::consent {

struct RedisConsentStoreOptions {
  std::size_t max_active_per_subject = 256;  // as FileConsentStoreOptions
  std::chrono::milliseconds timeout{250};    // deadline of one call to Redis (a read or a change)
};

class RedisConsentStore final : public ConsentStore {
 public:
  // At most this many consents are listed per subject (the newest).
  static constexpr std::size_t kMaxListed = 10'000;

  // `time` (granted_at, revoked_at, the active-set expiry) must outlive the store.
  explicit RedisConsentStore(const common::TimeSource& time, RedisConsentStoreOptions options = {});
  ~RedisConsentStore() override;
  RedisConsentStore(const RedisConsentStore&) = delete;
  RedisConsentStore& operator=(const RedisConsentStore&) = delete;

  // Registers the client calls on `context`'s threads use. Startup only, before any call.
  void addClient(boost::asio::execution_context& context, adapters::redis::RedisClient& client);

  boost::asio::awaitable<ConsentCheck> check(std::string_view consent_id,
                                             const common::SubjectId& subject,
                                             std::string_view client, std::string_view service,
                                             std::string_view purpose,
                                             Clock::time_point now) const override;
  boost::asio::awaitable<ConsentList> listBySubject(
      const common::SubjectId& subject) const override;
  boost::asio::awaitable<ConsentLookup> find(std::string_view id) const override;

  boost::asio::awaitable<GrantResult> grant(ConsentRequest request) override;
  boost::asio::awaitable<RevokeResult> revoke(std::string_view id,
                                              const common::SubjectId& by_subject) override;

 private:
  struct Worker;
  Worker* workerOf(const boost::asio::any_io_executor& ex) const;
  adapters::redis::RedisDeadline deadline() const;
  boost::asio::awaitable<RevokeResult> revokeOwned(std::string id, common::SubjectId by_subject);

  const common::TimeSource& time_;
  const RedisConsentStoreOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace qaqpa::consent
