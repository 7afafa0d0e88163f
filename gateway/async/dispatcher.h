// Dispatcher: delivers queued async messages to their providers (docs/async.md "Delivery"). One
// per worker, on the worker's io_context; every worker of every replica is a consumer
// (`<node id>/<worker index>`) of the consumer group qaqpa-dispatch on every partition stream.
//
// Loop: XREADGROUP without BLOCK on all partitions in one pipeline for as many entries as free
// delivery slots (async.max_in_flight); when nothing came, wait poll_interval or until a local
// submission nudges it. (BLOCK would hold the worker's only Redis connection, which submissions
// and the shared quotas use, for the whole block; a second connection per worker just to block
// buys a few ms of latency for remote submissions only, so the poll is bounded instead.) Each
// poll_interval the dispatcher also moves due retries back to their streams (worker 0 samples the
// queue depth once a second), and every claim period takes over entries idle longer than
// max(async.claim_idle, the longest service deadline + 5 s) with XAUTOCLAIM — the entries of a
// replica that died mid-delivery. Retries and claims are spread: a worker looks after the
// partitions p with p % worker_count == worker_index.
//
// One delivery: begin (QUEUED → DISPATCHED, attempts+1; a message already final is just acked),
// rebuild the exchange from the stored request against the CURRENT snapshot (service removed or
// not exposed to the zone any more → NOT_DELIVERED), forward it through the host (the worker's
// routing stage and upstream pool, the service's deadline, the gateway's Qaqpa-* headers with the
// original Qaqpa-Message-Id), journal the attempt's digital event (durable before the outcome is
// stored; if it cannot be journaled the entry is left pending and retried after claim_idle), then
// store the outcome: provider 1xx-4xx → DELIVERED; PROVIDER_* with attempts left → retry after a
// full-jitter backoff; else NOT_DELIVERED (DELIVERY_STOPPED when cancelled meanwhile).
//
// Callbacks: when the client system registered `callback`, the final state (DELIVERED,
// NOT_DELIVERED, DELIVERY_STOPPED) is POSTed there as {"messageId","state","attempts",
// "location", "providerStatus" | "status"} through the host (signed by the gateway), retried up to
// the message's max_attempts with the same backoff; at most max_in_flight callbacks per worker
// (beyond: not sent, logged); a failed callback never changes the message (the result stays
// available by GET); one still being retried when the worker stops is dropped.
//
// Threading: the worker's thread only; never blocks. stop(): no new entries are read; deliveries
// in flight finish, then `stopped` runs. What is not acknowledged stays pending in Redis and is
// claimed later (at least once; providers dedup on Qaqpa-Message-Id).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/async/message_store.h"
#include "gateway/metrics/metrics.h"
#include "gateway/pipeline/stage.h"

namespace qaqpa::async {

// One delivery attempt's facts for its digital event.
struct DeliveryFacts {
  long long attempt = 0;
  unsigned max_attempts = 0;
  bool final = false;                    // no further attempt follows
  std::string_view outcome;              // "DELIVERED", "RETRY", "NOT_DELIVERED"
  std::chrono::microseconds latency{0};  // this attempt, from its start
};

// What the dispatcher borrows from its worker (implemented by server::Worker).
class DispatchHost {
 public:
  virtual ~DispatchHost() = default;
  virtual std::shared_ptr<const config::Snapshot> currentSnapshot() = 0;
  virtual std::string newEventId() = 0;
  // Sends the exchange to its provider like the routing stage of a synchronous call does.
  virtual boost::asio::awaitable<pipeline::StageResult> forwardToProvider(
      pipeline::Exchange& ex) = 0;
  // Journals the attempt's event (id ex.event_id); true once durable (or the journal is off).
  virtual boost::asio::awaitable<bool> journalDelivery(const pipeline::Exchange& ex,
                                                       const DeliveryFacts& facts) = 0;
  // POSTs `body` (application/json) to the callback registered for `client`, signed by the
  // gateway; true when it answered 2xx (or the client has no callback any more).
  virtual boost::asio::awaitable<bool> sendCallback(const std::string& client,
                                                    const std::string& message_id,
                                                    const std::string& body) = 0;
};

class Dispatcher {
 public:
  Dispatcher(boost::asio::any_io_executor executor, MessageStore& store, DispatchHost& host,
             std::string consumer, unsigned worker_index, unsigned worker_count,
             metrics::AsyncMetrics* metrics);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void nudge();
  void stop(std::function<void()> stopped);
  std::size_t inFlight() const noexcept { return in_flight_; }

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> maintain(bool claim);
  boost::asio::awaitable<void> deliver(Entry entry);
  // The final state's notification to the client's callback, retried like deliveries.
  boost::asio::awaitable<void> callback(std::string client, std::string message_id,
                                        std::string body, unsigned max_attempts);
  void spawn(Entry entry);
  std::chrono::milliseconds claimIdle() const;
  void maybeStopped();

  boost::asio::any_io_executor executor_;
  MessageStore& store_;
  DispatchHost& host_;
  std::string consumer_;
  unsigned worker_index_;
  unsigned worker_count_;
  metrics::AsyncMetrics* metrics_;
  boost::asio::steady_timer wake_;
  std::mt19937_64 rng_;
  std::deque<Entry> backlog_;  // read, waiting for a free delivery slot
  std::chrono::steady_clock::time_point next_depth_sample_{};
  std::size_t in_flight_ = 0;
  std::size_t callbacks_in_flight_ = 0;
  bool started_ = false;
  bool running_ = false;  // the loop coroutine has not ended
  bool stopping_ = false;
  bool nudged_ = false;  // a local submission since the last read
  std::function<void()> stopped_;
};

}  // namespace qaqpa::async
