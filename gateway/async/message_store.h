// MessageStore: the asynchronous exchange's durable state in Redis (docs/async.md): submit
// (create-if-absent + XADD, one Lua script), the state machine of a delivery (begin, deliver,
// retry, fail), due retries moved back to the stream, cancellation, lookup, consumer groups,
// XREADGROUP and XAUTOCLAIM. Every script touches the keys of one partition only (async_keys.h).
//
// State machine of a message (field `state` of its hash):
//   QUEUED ──begin──► DISPATCHED ──deliver──► DELIVERED
//     ▲  │                │ ├──retry──► QUEUED (+ delayed ZSET until due, then a new entry)
//     │  └─cancel─► DELIVERY_STOPPED  └──fail──► NOT_DELIVERED (DELIVERY_STOPPED if cancelled)
// A cancel of a DISPATCHED message sets `cancel`; its attempt's end decides (a delivery stays
// DELIVERED, anything else becomes DELIVERY_STOPPED). Final messages expire after result_ttl.
// The stream entry of a message is acknowledged (XACK + XDEL) only by the script that stores the
// outcome of the attempt it started, so a consumer dying mid-delivery leaves the entry pending
// for XAUTOCLAIM. An outcome reported for an attempt that is no longer the latest one is STALE
// and changes nothing.
//
// Threading: the RedisClient's worker only; never blocks; every call has a deadline and reports
// Redis failures as `ok == false` / Unavailable (nothing is assumed stored).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/common/ids.h"
#include "gateway/config/config.h"

namespace qaqpa::async {

using Deadline = adapters::redis::RedisDeadline;

// What is stored of a submitted request (besides its body): enough to rebuild the exchange and
// its events at delivery time, on any replica.
struct StoredRequest {
  std::string method;  // "POST"
  std::string service_id;
  std::string service_path;                                  // "" or "/..."
  std::string query;                                         // without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // end-to-end headers as received
  config::Zone zone = config::Zone::State;
  std::string client;      // verified system id
  std::string message_id;  // UUID text
  std::string correlation_id;
  std::string subject;  // "IIN:..." or ""
  std::string purpose;
  std::string actor;
  std::string consent_id;
  std::string lang;  // "kk" / "ru" / "en": problems of the delivery are in this language

  std::string toJson() const;
  static std::optional<StoredRequest> fromJson(std::string_view json);
};

// A digest of what makes two submissions "the same request": method, service, path, query, body.
std::string requestFingerprint(const StoredRequest& r, std::string_view body);

enum class SubmitOutcome { Created, Exists, Conflict, Full, Unavailable };
struct SubmitResult {
  SubmitOutcome outcome = SubmitOutcome::Unavailable;
  std::string state;  // Created/Exists/Conflict: the message's state now
};

struct MessageStatus {
  std::string state;
  long long attempts = 0;
  bool cancel_requested = false;
  int result_status = 0;     // DELIVERED: the provider's HTTP status
  std::string content_type;  // DELIVERED
  std::string headers_json;  // DELIVERED: [[name, value], ...] allowed provider headers
  std::string body;          // DELIVERED: provider body
  std::string problem_json;  // NOT_DELIVERED / DELIVERY_STOPPED / retry-waiting: last failure
};
struct LookupResult {
  bool ok = false;                     // false: Redis gave no answer
  std::optional<MessageStatus> found;  // nullopt: no such message (for this client)
};

enum class CancelOutcome { Stopped, Requested, AlreadyFinal, NotFound, Unavailable };
struct CancelResult {
  CancelOutcome outcome = CancelOutcome::Unavailable;
  std::string state;  // the state after the call
  long long attempts = 0;
};

struct Entry {
  unsigned partition = 0;
  std::string id;   // stream entry id
  std::string key;  // message key
};

struct Attempt {
  enum class Kind { Go, Final, Gone, Stopped, Unavailable } kind = Kind::Unavailable;
  long long number = 0;  // Go: this attempt's number (1-based)
  std::string request_json;
  std::string body;
  long long submitted_ms = 0;  // Redis TIME at submit
};

enum class FinishOutcome { Done, Retrying, Stopped, AlreadyFinal, Stale, Gone, Unavailable };
struct FinishResult {
  FinishOutcome outcome = FinishOutcome::Unavailable;
  long long latency_ms = 0;  // Done/Stopped: submit → final, by Redis's clock
  std::string state;         // the final state written (Done/Stopped)
};

class MessageStore {
 public:
  // `redis` must outlive the store; `timeout` is the deadline of one call (redis.command_timeout).
  MessageStore(adapters::redis::RedisClient& redis, const config::AsyncConfig& settings,
               std::chrono::milliseconds timeout);

  const config::AsyncConfig& settings() const noexcept { return settings_; }
  Deadline deadline() const;

  // Client side (async stage).
  boost::asio::awaitable<SubmitResult> submit(const StoredRequest& request, std::string_view body);
  boost::asio::awaitable<LookupResult> lookup(std::string_view client,
                                              const common::Uuid& message_id);
  boost::asio::awaitable<CancelResult> cancel(std::string_view client,
                                              const common::Uuid& message_id);

  // Dispatcher side.
  // XGROUP CREATE ... 0 MKSTREAM for every partition (BUSYGROUP is fine); true when all exist.
  boost::asio::awaitable<bool> ensureGroups();
  // XREADGROUP ... COUNT count STREAMS <stream> > on every partition (one pipeline); at most
  // `count` entries in all. ok=false when Redis gave no answer.
  boost::asio::awaitable<std::vector<Entry>> readNew(std::string_view consumer, std::size_t count,
                                                     bool& ok);
  // XAUTOCLAIM on one partition: entries idle longer than min_idle become this consumer's.
  boost::asio::awaitable<std::vector<Entry>> claimIdle(unsigned partition,
                                                       std::string_view consumer,
                                                       std::chrono::milliseconds min_idle,
                                                       std::size_t count);
  boost::asio::awaitable<Attempt> begin(const Entry& entry, std::string_view consumer);
  // Provider answered: DELIVERED with its status, content type, allowed headers, body.
  boost::asio::awaitable<FinishResult> deliver(const Entry& entry, long long attempt, int status,
                                               std::string_view content_type,
                                               std::string_view headers_json,
                                               std::string_view body);
  // Final failure: NOT_DELIVERED (or DELIVERY_STOPPED when a cancel was requested).
  boost::asio::awaitable<FinishResult> fail(const Entry& entry, long long attempt,
                                            std::string_view problem_json);
  // Failure with attempts left: back to QUEUED, due after `delay` (delayed ZSET).
  boost::asio::awaitable<FinishResult> retry(const Entry& entry, long long attempt,
                                             std::chrono::milliseconds delay,
                                             std::string_view problem_json);
  // Moves up to `limit` due retries of a partition back to its stream; -1 when Redis failed.
  boost::asio::awaitable<long long> moveDue(unsigned partition, std::size_t limit);
  // XLEN + ZCARD summed over partitions; -1 when Redis failed.
  boost::asio::awaitable<long long> depth();

 private:
  boost::asio::awaitable<FinishResult> finish(const Entry& entry, long long attempt,
                                              std::string_view outcome,
                                              std::vector<std::string_view> fields);

  adapters::redis::RedisClient& redis_;
  config::AsyncConfig settings_;
  std::chrono::milliseconds timeout_;
};

}  // namespace qaqpa::async
