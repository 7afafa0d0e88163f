// The outbox: ships this node's committed digital events that name a subject (and every signed
// checkpoint, which the proofs need) from the local journal's files to Redis, in seq order, so
// that every replica can serve every citizen (gateway/space_index/redis_event_index.h; keys in
// redis_index_keys.h). README.md has the design; the journal stays the source of truth.
//
// Loop (one coroutine on the shipper's own thread and io_context, with its own RedisClient):
//   1. GET qaqpa:{outbox:<node>}:pos (absent → 0: Redis never saw this node or lost its data,
//      so everything is shipped again from the journal's files);
//   2. JournalTail::seekBlocking(pos) — the event at pos itself is read again (idempotent) so
//      the "next hash" of the last shipped event can still be written;
//   3. read committed records (seq ≤ the journal's committed head) up to batch_events /
//      batch_bytes, preferring to end a batch on a checkpoint; build per event
//      HSET {subj:S}:h e:<ref> … m:<ref> … i:<id> <ref>, then ZADD {subj:S}:z <time µs> <ref>,
//      per checkpoint HSET/ZADD under {ckpt:<node>}; one pipeline (execBatch);
//   4. every reply OK → SET pos <last seq read> (a separate round trip: a pipeline does not stop
//      at a failed command), then rate-bound (max_events_per_second) and go on; any failure →
//      errors_total, back off (exponential, jitter), re-read pos and seek again.
//   When nothing committed is left, wait for the journal's commit observer (`observer()`), or
//   a tick. Re-shipping writes the same members and fields: a crash between a batch and its SET
//   pos shows the citizen no duplicate.
//
// Threading: createBlocking/start/stop from the owning (startup) thread; observer() is called on
// the journal's writer thread (an atomic store, and a post when the shipper sleeps); state(),
// lag(), shippedSeq() from any thread. Blocking file I/O happens only on the shipper's thread.
// Stop the journal before destroying the shipper (the observer points at it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/journal/journal.h"
#include "gateway/metrics/metrics.h"

namespace qaqpa::outbox {

// qaqpa_outbox_shipped_total, _lag_events, _errors_total (gateway/metrics).
using ShipperMetrics = metrics::OutboxMetrics;

struct ShipperOptions {
  std::string node_id;                // [a-z0-9][a-z0-9._-]{0,62}
  std::filesystem::path dir;          // the journal directory
  std::filesystem::path archive_dir;  // "" = none
  adapters::redis::RedisSettings redis;
  std::size_t batch_events = 512;        // events per pipeline (soft: ends on a checkpoint)
  std::size_t batch_bytes = 4u << 20;    // bytes of event data per pipeline
  double max_events_per_second = 20000;  // shipping rate bound (catch-up after data loss)
  std::chrono::milliseconds command_timeout{2000};  // deadline of one pipeline
  std::chrono::milliseconds retry_initial{100};     // backoff after a failure, doubled…
  std::chrono::milliseconds retry_max{5000};        // …up to this
  std::chrono::milliseconds idle_tick{1000};        // re-check without a wake-up
};

class Shipper {
 public:
  enum class State : std::uint8_t {
    Starting,  // not yet positioned
    CaughtUp,  // everything committed is in Redis
    Lagging,   // shipping
    Down,      // Redis unreachable or failing: retrying; the journal keeps growing locally
  };
  static std::string_view stateName(State s) noexcept;  // "starting", "caught-up", "lag", "down"

  // Makes the Redis client (reads the password file: blocking). Null with `error`.
  static std::unique_ptr<Shipper> createBlocking(ShipperOptions options,
                                                 const ShipperMetrics* metrics,
                                                 const adapters::redis::RedisMetrics* redis_metrics,
                                                 std::string& error);
  ~Shipper();  // stop()
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // Starts the thread. `committed_seq`: the journal's head when the observer was installed.
  void start(std::uint64_t committed_seq);
  // Stops shipping (what is not shipped yet is shipped by the next start) and joins.
  void stop();

  // The journal's commit feed: install with Journal::setCommitObserver before the first append.
  journal::CommitObserver observer();
  // The same, for callers that compose observers: the journal committed up to `seq`.
  void notifyCommitted(std::uint64_t seq) noexcept;

  // CaughtUp only while nothing committed is unshipped: the journal's observer moves the
  // committed seq before the append's caller learns the event is durable, so a caller that saw
  // its event acknowledged and then CaughtUp knows the event is in Redis.
  State state() const noexcept {
    const State s = state_.load(std::memory_order_acquire);
    return s == State::CaughtUp && lag() > 0 ? State::Lagging : s;
  }
  std::uint64_t shippedSeq() const noexcept { return shipped_.load(std::memory_order_relaxed); }
  std::uint64_t committedSeq() const noexcept { return committed_.load(std::memory_order_relaxed); }
  std::uint64_t lag() const noexcept;

 private:
  Shipper(ShipperOptions options, const ShipperMetrics* metrics);
  boost::asio::awaitable<void> run();
  // Idle wait: ended early by a commit (wake_) or stop().
  boost::asio::awaitable<void> idleFor(std::chrono::nanoseconds d);
  // Backoff / rate pause: ended early only by stop().
  boost::asio::awaitable<void> pauseFor(std::chrono::nanoseconds d);
  void setState(State s) noexcept;

  ShipperOptions options_;
  const ShipperMetrics* metrics_;
  boost::asio::io_context ioc_{1};
  boost::asio::steady_timer wake_{ioc_};
  boost::asio::steady_timer pause_{ioc_};
  std::unique_ptr<adapters::redis::RedisClient> client_;
  std::thread thread_;
  std::atomic<std::uint64_t> committed_{0};
  std::atomic<std::uint64_t> shipped_{0};
  std::atomic<State> state_{State::Starting};
  std::atomic<bool> wake_posted_{false};
  std::atomic<bool> stopping_{false};
  bool connection_lost_ = false;  // shipper thread only
};

}  // namespace qaqpa::outbox
