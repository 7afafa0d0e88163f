// Metric handles, resolved once when the server is built (never Family::Add per request: it
// locks). prometheus-cpp counters/gauges/histograms are thread-safe atomics, so workers share the
// handles. Names: qaqpa_<area>_<thing>_<unit>[_total]; labels are bounded sets (listener, code).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "gateway/common/status.h"
#include "gateway/config/config.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace qaqpa::metrics {

struct ListenerMetrics {
  // requests by final canonical code
  std::array<prometheus::Counter*, common::kStatusCodeCount> requests{};
  prometheus::Histogram* duration = nullptr;  // seconds, whole request handling
  prometheus::Gauge* connections_active = nullptr;
  prometheus::Counter* connections_accepted = nullptr;
  prometheus::Counter* connections_rejected = nullptr;    // over max_connections
  prometheus::Counter* bad_requests = nullptr;            // malformed / oversize framing
  prometheus::Counter* timeouts = nullptr;                // read or write deadline passed
  prometheus::Counter* tls_handshake_failures = nullptr;  // incl. rejected client certificates
};

struct UpstreamMetrics {
  prometheus::Counter* connections_opened = nullptr;
  prometheus::Counter* connections_reused = nullptr;
  prometheus::Counter* stale_retries = nullptr;  // reused connection found dead, retried once
  prometheus::Counter* connect_failures = nullptr;
  prometheus::Counter* timeouts = nullptr;
  prometheus::Counter* bad_responses = nullptr;
};

// The journal writer (gateway/journal). Updated on the journal's writer thread, per batch.
struct JournalMetrics {
  prometheus::Counter* events = nullptr;                 // events made durable
  prometheus::Counter* batches = nullptr;                // group commits written
  prometheus::Histogram* batch_events = nullptr;         // events per group commit
  prometheus::Histogram* write_seconds = nullptr;        // the batch's write(2)
  prometheus::Histogram* fsync_seconds = nullptr;        // fdatasync of the segment
  prometheus::Counter* write_failures = nullptr;         // failed write/fsync/truncate/sign
  prometheus::Counter* sign_failures = nullptr;          // checkpoint signer answered nothing
  prometheus::Gauge* healthy = nullptr;                  // 1 writable, 0 failing (fail closed)
  prometheus::Gauge* queue_events = nullptr;             // events taken by the writer at once
  prometheus::Counter* torn_tail_truncations = nullptr;  // torn tails cut at open
  prometheus::Counter* segments_rotated = nullptr;
  prometheus::Counter* segments_archived = nullptr;
  prometheus::Counter* archive_failures = nullptr;  // archival attempts that kept the segment
  prometheus::Counter* overloaded = nullptr;        // appends refused: queue bound reached
};

// The Redis clients (adapters/redis; one per worker, all sharing these handles). The server maps
// them onto adapters::redis::RedisMetrics; `connected` is kept by the server itself (the number of
// worker connections that are up), not by the clients.
struct RedisClientMetrics {
  prometheus::Counter* commands = nullptr;           // qaqpa_redis_commands_total
  prometheus::Counter* error_replies = nullptr;      // qaqpa_redis_errors_total{kind=reply}
  prometheus::Counter* timeouts = nullptr;           // {kind=timeout}
  prometheus::Counter* disconnected = nullptr;       // {kind=disconnected}
  prometheus::Counter* overloaded = nullptr;         // {kind=overloaded}
  prometheus::Counter* late_replies = nullptr;       // qaqpa_redis_late_replies_total
  prometheus::Counter* reconnects = nullptr;         // qaqpa_redis_reconnects_total
  prometheus::Counter* connect_failures = nullptr;   // qaqpa_redis_connect_failures_total
  prometheus::Counter* connections_lost = nullptr;   // qaqpa_redis_connections_lost_total
  prometheus::Counter* script_fallbacks = nullptr;   // qaqpa_redis_script_fallbacks_total
  prometheus::Gauge* connected = nullptr;            // qaqpa_redis_connected (connections up)
  prometheus::Histogram* command_seconds = nullptr;  // qaqpa_redis_command_seconds
};

// The asynchronous exchange (gateway/async, docs/async.md); shared by every worker.
struct AsyncMetrics {
  prometheus::Counter* submitted = nullptr;       // qaqpa_async_submitted_total (new messages)
  prometheus::Counter* delivered = nullptr;       // qaqpa_async_delivered_total{outcome=delivered}
  prometheus::Counter* not_delivered = nullptr;   // ...{outcome=not_delivered}
  prometheus::Counter* stopped = nullptr;         // ...{outcome=delivery_stopped}
  prometheus::Counter* attempts = nullptr;        // qaqpa_async_attempts_total
  prometheus::Counter* retries = nullptr;         // qaqpa_async_retries_total (scheduled)
  prometheus::Counter* claimed = nullptr;         // qaqpa_async_claimed_total (XAUTOCLAIM)
  prometheus::Counter* store_failures = nullptr;  // qaqpa_async_store_failures_total
  prometheus::Gauge* queue_depth = nullptr;       // qaqpa_async_queue_depth (sampled)
  prometheus::Histogram* delivery_latency = nullptr;  // qaqpa_async_delivery_latency_seconds
};

// The outbox (gateway/outbox): the shipper thread updates them.
struct OutboxMetrics {
  prometheus::Counter* shipped = nullptr;  // qaqpa_outbox_shipped_total (events)
  prometheus::Gauge* lag = nullptr;        // qaqpa_outbox_lag_events
  prometheus::Counter* errors = nullptr;   // qaqpa_outbox_errors_total
};

// Shared policy state (gateway/shared_state, issue #6): which decisions Redis made and which the
// local fallback made, and why. Shared by every worker; the server maps them onto
// shared_state::SharedStateMetrics.
struct SharedStateCounters {
  prometheus::Counter* rate_shared = nullptr;    // qaqpa_shared_state_decisions_total{check=rate,..
  prometheus::Counter* rate_local = nullptr;     // ..source=shared|local}
  prometheus::Counter* replay_shared = nullptr;  // {check=replay,source=shared}
  prometheus::Counter* replay_local = nullptr;   // {check=replay,source=local}
  // qaqpa_shared_state_fallbacks_total{reason=timeout|disconnected|overloaded|error_reply}
  std::array<prometheus::Counter*, 4> fallbacks{};
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  ListenerMetrics& listener(config::ListenerKind k) { return listeners_[static_cast<int>(k)]; }
  UpstreamMetrics& upstream() { return upstream_; }
  JournalMetrics& journal() { return journal_; }
  RedisClientMetrics& redis() { return redis_; }
  OutboxMetrics& outbox() { return outbox_; }
  AsyncMetrics& async() { return async_; }
  SharedStateCounters& sharedState() { return shared_state_; }
  prometheus::Gauge* ready() { return ready_; }
  prometheus::Counter* reloads() { return reloads_; }
  prometheus::Counter* reloadFailures() { return reload_failures_; }
  prometheus::Counter* replayEvictions() { return replay_evictions_; }
  // qaqpa_signing_failures_total: responses that went out unsigned because OpenSSL failed.
  prometheus::Counter* signFailures() { return sign_failures_; }
  // qaqpa_usage_requests_total{client, service} (billing of paid access), registered on first
  // use. Build time only (takes a mutex and the registry's lock): resolve the handle when a
  // snapshot is built, then inc() it per request. Returns the same handle for the same pair.
  prometheus::Counter* usageCounter(std::string_view client, std::string_view service);

  // Prometheus text exposition format of everything registered. Thread-safe; takes registry
  // locks, so only for the admin listener.
  std::string serialize() const;

 private:
  void registerJournal();
  void registerRedis();
  void registerOutbox();
  void registerAsync();
  void registerSharedState();

  std::shared_ptr<prometheus::Registry> registry_;
  std::array<ListenerMetrics, config::kListenerKindCount> listeners_{};
  UpstreamMetrics upstream_;
  JournalMetrics journal_;
  RedisClientMetrics redis_;
  OutboxMetrics outbox_;
  AsyncMetrics async_;
  SharedStateCounters shared_state_;
  prometheus::Gauge* ready_ = nullptr;
  prometheus::Counter* reloads_ = nullptr;
  prometheus::Counter* reload_failures_ = nullptr;
  prometheus::Counter* sign_failures_ = nullptr;
  prometheus::Counter* replay_evictions_ = nullptr;
  std::mutex usage_mu_;
  prometheus::Family<prometheus::Counter>* usage_family_ = nullptr;  // first usageCounter()
};

// Hot-path helpers so callers need not include prometheus headers.
void inc(prometheus::Counter* c) noexcept;
void inc(prometheus::Counter* c, double v) noexcept;
void add(prometheus::Gauge* g, double v) noexcept;
void set(prometheus::Gauge* g, double v) noexcept;
void observe(prometheus::Histogram* h, double v) noexcept;

}  // namespace qaqpa::metrics
