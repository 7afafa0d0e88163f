// The consent port (issue #3, PROTOCOL.md §3 step 5 and §7): a citizen's consent that one client
// system may call some services about them for one purpose until a time. The policy asks
// `check()` on the hot path for grants with `requires_consent`; the space listener lists, grants
// and revokes. `FileConsentStore` (file_consent_store.h) is the embedded implementation,
// `RedisConsentStore` (redis_consent_store.h) the one shared by gateway replicas.
//
// Threading contract for every implementation:
// - `check`, `listBySubject`, `find` are awaitables, `co_await`ed on a worker thread (any worker,
//   concurrently); they never block the worker. The file store answers at once from memory; the
//   Redis store asks Redis (one round trip, bounded by a deadline) and never caches, so a change
//   made through any replica is seen by the very next read on every replica. Their string_view
//   and reference arguments must stay alive until the co_await completes (callers co_await at
//   once). A store that cannot answer (Redis down or late) says so: ConsentCheck::Unavailable,
//   `available == false` — never a stale or guessed answer.
// - `grant` / `revoke` are awaitables to be `co_await`ed on a worker: the durable write happens on
//   the store's own writer, never on the calling worker, and the coroutine resumes on the caller's
//   executor. A result is returned only once the change is durable, and the in-memory state is
//   updated before the caller resumes: after `revoke` returns `Revoked`, the very next `check`
//   from any thread answers `Revoked`.
// - Arguments of `grant` / `revoke` are copied before the call returns (the awaitable owns them),
//   so temporaries and views of request buffers are safe to pass.
// - The store must outlive every awaitable it handed out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "gateway/common/ids.h"

namespace qaqpa::consent {

using Clock = std::chrono::system_clock;

// Longest lifetime a consent may be granted for (expires - granted_at).
inline constexpr std::chrono::years kMaxConsentLifetime{5};
// At most this many services in one consent.
inline constexpr std::size_t kMaxServicesPerConsent = 64;
// `granted_by` is "citizen" or "admin:<operator>", operator 1..64 printable ASCII, no spaces.
inline constexpr std::size_t kMaxOperatorLength = 64;

struct Consent {
  std::string id;                     // UUIDv7, canonical lower-case text
  common::SubjectId subject;          // always an IIN
  std::string client;                 // system id (PROTOCOL.md §1)
  std::vector<std::string> services;  // service ids, non-empty, no duplicates
  std::string purpose;                // purpose code
  Clock::time_point granted_at;       // millisecond precision
  Clock::time_point expires;          // millisecond precision; active while now < expires
  std::optional<Clock::time_point> revoked_at;
  std::string granted_by;  // "citizen" | "admin:<operator>"
  bool operator==(const Consent&) const;
};

// Outcome of the hot-path check. Every value but Active means 403 CONSENT_REQUIRED; the value
// picks the specific detail. Checks run in this order, first failure wins: NotFound,
// SubjectMismatch, ClientMismatch (so a caller holding someone else's consent id learns nothing
// more about it), Revoked, Expired, ServiceNotCovered, PurposeMismatch.
enum class ConsentCheck : std::uint8_t {
  Active,
  NotFound,
  Revoked,
  Expired,
  SubjectMismatch,
  ClientMismatch,
  ServiceNotCovered,
  PurposeMismatch,
  Unavailable,  // the store gave no answer (Redis down or late): fail closed, 503 not 403
};
// "ACTIVE", "NOT_FOUND", ... (stable names for logs and the problem's reason).
std::string_view checkName(ConsentCheck check) noexcept;

struct ConsentRequest {
  common::SubjectId subject;  // must be an IIN with a valid check digit
  std::string client;
  std::vector<std::string> services;
  std::string purpose;
  Clock::time_point expires;  // after now, at most kMaxConsentLifetime ahead
  std::string granted_by = "citizen";
};

enum class GrantStatus : std::uint8_t {
  Granted,
  InvalidSubject,    // not an IIN, or bad check digit
  InvalidClient,     // empty or not a system id
  InvalidServices,   // empty, too many, a bad service id, or a duplicate
  InvalidPurpose,    // empty or not a purpose code
  InvalidExpires,    // not after now, or more than kMaxConsentLifetime ahead
  InvalidGrantedBy,  // not "citizen" / "admin:<operator>"
  LimitReached,      // the subject already has max_active_per_subject active consents
  Overloaded,        // max_pending_writes mutations already queued; retry later (503)
  StorageFailed,     // the durable write failed (file: the store refuses mutations until
                     // restarted; Redis: no answer in time, the change may or may not be applied)
};
std::string_view grantStatusName(GrantStatus status) noexcept;

// listBySubject / find: `available` is false when the store gave no answer (then nothing else is
// set); the caller answers 503.
struct ConsentList {
  bool available = true;
  std::vector<Consent> consents;
};
struct ConsentLookup {
  bool available = true;
  std::optional<Consent> consent;
};

struct GrantResult {
  GrantStatus status = GrantStatus::StorageFailed;
  std::optional<Consent> consent;  // set iff status == Granted
};

enum class RevokeStatus : std::uint8_t {
  Revoked,
  NotFound,
  NotOwner,  // the consent belongs to another subject (answer as NotFound to a citizen)
  AlreadyRevoked,
  Overloaded,
  StorageFailed,
};
std::string_view revokeStatusName(RevokeStatus status) noexcept;

struct RevokeResult {
  RevokeStatus status = RevokeStatus::StorageFailed;
  std::optional<Consent> consent;  // the consent as stored after the call (set unless NotFound,
                                   // NotOwner, Overloaded)
};

// Pure validation of a grant request against `now`, shared by implementations (no I/O).
GrantStatus validateRequest(const ConsentRequest& request, Clock::time_point now);

// Pure check of one consent against a request (what `ConsentStore::check` does once found).
ConsentCheck checkConsent(const Consent& consent, const common::SubjectId& subject,
                          std::string_view client, std::string_view service,
                          std::string_view purpose, Clock::time_point now) noexcept;

class ConsentStore {
 public:
  virtual ~ConsentStore() = default;

  // Hot path. The file store answers at once without allocating; the Redis store with one round
  // trip. A consent id unknown for this subject is NotFound.
  virtual boost::asio::awaitable<ConsentCheck> check(
      std::string_view consent_id, const common::SubjectId& subject, std::string_view client,
      std::string_view service, std::string_view purpose, Clock::time_point now) const = 0;

  // All consents of the subject (active, expired and revoked), newest first (granted_at, then id).
  virtual boost::asio::awaitable<ConsentList> listBySubject(
      const common::SubjectId& subject) const = 0;
  virtual boost::asio::awaitable<ConsentLookup> find(std::string_view id) const = 0;

  // Validates, assigns a UUIDv7 id and granted_at = the store's TimeSource now, makes the consent
  // durable, then returns it. Never throws for a bad request: see GrantStatus.
  virtual boost::asio::awaitable<GrantResult> grant(ConsentRequest request) = 0;

  // Revokes `id` if `by_subject` owns it; revoked_at = the store's TimeSource now.
  virtual boost::asio::awaitable<RevokeResult> revoke(std::string_view id,
                                                      const common::SubjectId& by_subject) = 0;
};

}  // namespace qaqpa::consent
