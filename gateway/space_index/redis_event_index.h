// The digital-space index shared by gateway replicas through Redis (issue #6 item 3): a citizen's
// events from EVERY node, as shipped by each node's outbox (gateway/outbox), paged newest first
// across nodes, with the single event's proof and the checkpoint that covers it — so any replica
// serves any citizen. Key layout: redis_index_keys.h; contract of the routes: docs/space.md.
//
// The port is asynchronous (`SharedEventSource`): reading Redis is co_awaited on the worker that
// serves the request, never blocking it. `EventIndex` (event_index.h) stays the synchronous port
// of the embedded index, which the shared one replaces when `redis.space_index` is on.
//
// Order: time (µs) descending, then ref "<node>|<seq:020>" descending (Redis orders equal scores
// by member bytes) — deterministic, and the same on every replica. Paging is stable under
// concurrent appends from any node: a cursor names the last event a page considered (its score
// and ref); the next page starts right below it, wherever new events landed.
//
// Cursor (text, base64url without padding, ≤ 130 characters):
//   bytes := version (2) | time_us (i64le) | seq (u64le) | node length (u8) | node | mac (16)
//   mac   := first 16 bytes of HMAC-SHA256(key, "qaqpa-space-cursor-v2" | subject (u64le,
//            packSubject) | every byte before the mac)
// The key is 32 random bytes kept in Redis (qaqpa:{space}:cursor-key, made with SET NX by the
// first replica that needs it), so a cursor from one replica works on any other; it is bound to
// the subject and tamper-evident like the embedded index's (one answer, BadCursor, for a forged,
// altered or another subject's cursor). Each process caches the key (SharedCursorKey); a cursor
// that fails the cached key is checked once more against the key read again from Redis (the key
// is new when Redis lost its data: cursors issued before are then refused, and the citizen starts
// from the first page).
//
// Bounds: limit 1..kMaxPageLimit; a page's script examines at most `scan_budget` index entries
// (a very selective filter on a subject with many events may answer fewer than `limit` events
// with a next cursor: the client keeps paging); every call has a deadline.
//
// Errors: Redis down, overloaded or past the deadline → Unavailable (the routes answer 503
// INDEX_UNAVAILABLE — never a partial list); data in Redis that is not what the index says (an
// event of another subject or seq, unparseable bytes) → Unavailable too, logged at error.
//
// Threading: a RedisEventIndex belongs to one worker (it uses that worker's RedisClient); its
// awaitables run on that worker's io_context. SharedCursorKey is shared by all workers
// (thread-safe). Nothing here blocks.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "gateway/space_index/event_index.h"
#include "gateway/space_index/event_reader.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::adapters::redis {
class RedisClient;
}

namespace qaqpa::space_index {

struct SharedPageResult {
  IndexStatus status = IndexStatus::Unavailable;
  std::vector<qaqpa::journal::v1::DigitalEvent> events;  // with Ok: newest first
  std::string next_cursor;                               // "" = no older matching events
};

struct SharedProofResult {
  IndexStatus status = IndexStatus::Unavailable;  // Ok, NotFound, BadSubject, Unavailable
  Proof proof;  // with Ok; checkpoint from Redis (covered = false until one is shipped)
};

// The asynchronous port of a shared index (awaitables on the caller's worker).
class SharedEventSource {
 public:
  virtual ~SharedEventSource() = default;
  // Query as for EventIndex::page (same filters and limits); the cursor is this index's.
  virtual boost::asio::awaitable<SharedPageResult> page(std::string_view subject,
                                                        const Query& query) = 0;
  // The subject's event with this id and its proof. Another subject's event is NotFound.
  virtual boost::asio::awaitable<SharedProofResult> proof(std::string_view subject,
                                                          std::string_view event_id) = 0;
};

// The cursor key cache shared by every worker of a process. Thread-safe.
class SharedCursorKey {
 public:
  std::string get() const;  // "" = not known yet
  void set(std::string key);

 private:
  mutable std::mutex mu_;
  std::string key_;
};

struct RedisEventIndexOptions {
  std::chrono::milliseconds timeout{250};  // deadline of each Redis call (redis.command_timeout)
  std::size_t scan_budget = 2000;          // index entries one page may examine
};

class RedisEventIndex final : public SharedEventSource {
 public:
  // `client` (the worker's) and `key` must outlive this object.
  RedisEventIndex(adapters::redis::RedisClient& client, std::shared_ptr<SharedCursorKey> key,
                  RedisEventIndexOptions options = {});

  boost::asio::awaitable<SharedPageResult> page(std::string_view subject,
                                                const Query& query) override;
  boost::asio::awaitable<SharedProofResult> proof(std::string_view subject,
                                                  std::string_view event_id) override;

 private:
  // The cursor key: the cache, else read from Redis (made there when absent). "" on failure.
  boost::asio::awaitable<std::string> cursorKey(bool refresh);

  adapters::redis::RedisClient& client_;
  std::shared_ptr<SharedCursorKey> key_;
  RedisEventIndexOptions options_;
};

}  // namespace qaqpa::space_index
