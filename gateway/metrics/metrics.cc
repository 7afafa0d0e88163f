#include "gateway/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace qaqpa::metrics {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& requests = prometheus::BuildCounter()
                       .Name("qaqpa_http_requests_total")
                       .Help("Requests answered, by listener and canonical status code")
                       .Register(*registry_);
  auto& duration = prometheus::BuildHistogram()
                       .Name("qaqpa_http_request_duration_seconds")
                       .Help("Time from a whole request read to its response ready, by listener")
                       .Register(*registry_);
  auto& active = prometheus::BuildGauge()
                     .Name("qaqpa_http_connections_active")
                     .Help("Open client connections, by listener")
                     .Register(*registry_);
  auto& accepted = prometheus::BuildCounter()
                       .Name("qaqpa_http_connections_accepted_total")
                       .Help("Client connections accepted, by listener")
                       .Register(*registry_);
  auto& rejected =
      prometheus::BuildCounter()
          .Name("qaqpa_http_connections_rejected_total")
          .Help("Client connections closed at once because max_connections was reached")
          .Register(*registry_);
  auto& bad = prometheus::BuildCounter()
                  .Name("qaqpa_http_bad_requests_total")
                  .Help("Requests rejected at the HTTP framing level (malformed, oversize)")
                  .Register(*registry_);
  auto& timeouts = prometheus::BuildCounter()
                       .Name("qaqpa_http_timeouts_total")
                       .Help("Client connections closed because a read or write deadline passed")
                       .Register(*registry_);
  auto& handshakes = prometheus::BuildCounter()
                         .Name("qaqpa_tls_handshake_failures_total")
                         .Help("TLS handshakes that failed, including rejected client certificates")
                         .Register(*registry_);
  // Buckets from 100 µs to 10 s: gateway overhead is tens of µs, providers take ms to seconds.
  const prometheus::Histogram::BucketBoundaries buckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  for (int k = 0; k < config::kListenerKindCount; ++k) {
    const std::string name{config::listenerName(static_cast<config::ListenerKind>(k))};
    auto& m = listeners_[k];
    for (int c = 0; c < common::kStatusCodeCount; ++c) {
      m.requests[c] = &requests.Add(
          {{"listener", name},
           {"code", std::string{common::codeName(static_cast<common::StatusCode>(c))}}});
    }
    m.duration = &duration.Add({{"listener", name}}, buckets);
    m.connections_active = &active.Add({{"listener", name}});
    m.connections_accepted = &accepted.Add({{"listener", name}});
    m.connections_rejected = &rejected.Add({{"listener", name}});
    m.bad_requests = &bad.Add({{"listener", name}});
    m.timeouts = &timeouts.Add({{"listener", name}});
    m.tls_handshake_failures = &handshakes.Add({{"listener", name}});
  }
  auto& up = prometheus::BuildCounter()
                 .Name("qaqpa_upstream_events_total")
                 .Help("Upstream connection pool events, by event")
                 .Register(*registry_);
  upstream_.connections_opened = &up.Add({{"event", "connection_opened"}});
  upstream_.connections_reused = &up.Add({{"event", "connection_reused"}});
  upstream_.stale_retries = &up.Add({{"event", "stale_retry"}});
  upstream_.connect_failures = &up.Add({{"event", "connect_failure"}});
  upstream_.timeouts = &up.Add({{"event", "timeout"}});
  upstream_.bad_responses = &up.Add({{"event", "bad_response"}});
  registerJournal();
  registerRedis();
  registerOutbox();
  registerAsync();
  registerSharedState();
  ready_ = &prometheus::BuildGauge()
                .Name("qaqpa_ready")
                .Help(
                    "1 when the gateway is ready to serve (config loaded, listeners bound, not "
                    "draining)")
                .Register(*registry_)
                .Add({});
  reloads_ = &prometheus::BuildCounter()
                  .Name("qaqpa_config_reloads_total")
                  .Help("Successful policy reloads")
                  .Register(*registry_)
                  .Add({});
  reload_failures_ = &prometheus::BuildCounter()
                          .Name("qaqpa_config_reload_failures_total")
                          .Help("Reloads refused because the new configuration had errors")
                          .Register(*registry_)
                          .Add({});
  sign_failures_ = &prometheus::BuildCounter()
                        .Name("qaqpa_signing_failures_total")
                        .Help("Responses sent unsigned because the signature could not be made")
                        .Register(*registry_)
                        .Add({});
  replay_evictions_ = &prometheus::BuildCounter()
                           .Name("qaqpa_replay_evictions_total")
                           .Help(
                               "Message ids forgotten before their replay window ended because "
                               "replay_max_entries was reached")
                           .Register(*registry_)
                           .Add({});
}

Metrics::~Metrics() = default;

void Metrics::registerJournal() {
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto histogram = [&](const char* name, const char* help,
                       const prometheus::Histogram::BucketBoundaries& b) {
    return &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_).Add({}, b);
  };
  // Disk latencies from 10 µs (page cache) to 2.5 s (a stalled device).
  const prometheus::Histogram::BucketBoundaries io{
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
      0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   1,     2.5};
  auto& j = journal_;
  j.events = counter("qaqpa_journal_events_total", "Digital events made durable in the journal");
  j.batches = counter("qaqpa_journal_batches_total", "Journal group commits written");
  j.batch_events = histogram("qaqpa_journal_batch_events", "Events per journal group commit",
                             {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096});
  j.write_seconds = histogram("qaqpa_journal_write_seconds", "write(2) of one journal batch", io);
  j.fsync_seconds =
      histogram("qaqpa_journal_fsync_seconds", "fdatasync of the journal segment", io);
  j.write_failures = counter("qaqpa_journal_write_failures_total",
                             "Journal writes, syncs, truncations or checkpoint signatures that "
                             "failed (their batch was refused)");
  j.sign_failures = counter("qaqpa_journal_sign_failures_total",
                            "Journal batches refused because the checkpoint could not be signed");
  j.healthy = gauge("qaqpa_journal_healthy", "1 while the journal can write, 0 while it fails");
  j.queue_events = gauge("qaqpa_journal_queue_events", "Events the journal writer took at once");
  j.torn_tail_truncations = counter("qaqpa_journal_torn_tail_truncations_total",
                                    "Torn segment tails truncated when the journal was opened");
  j.segments_rotated = counter("qaqpa_journal_segments_rotated_total", "Journal segments closed");
  j.segments_archived = counter("qaqpa_journal_segments_archived_total",
                                "Closed journal segments copied to the archive and removed");
  j.archive_failures = counter("qaqpa_journal_archive_failures_total",
                               "Journal archival attempts that failed (the segment is kept)");
  j.overloaded = counter("qaqpa_journal_overloaded_total",
                         "Events refused because the journal queue was full");
}

void Metrics::registerOutbox() {
  outbox_.shipped = &prometheus::BuildCounter()
                         .Name("qaqpa_outbox_shipped_total")
                         .Help("Journal events this node's outbox has shipped to Redis")
                         .Register(*registry_)
                         .Add({});
  outbox_.lag = &prometheus::BuildGauge()
                     .Name("qaqpa_outbox_lag_events")
                     .Help("Committed journal events not yet shipped to Redis by the outbox")
                     .Register(*registry_)
                     .Add({});
  outbox_.errors = &prometheus::BuildCounter()
                        .Name("qaqpa_outbox_errors_total")
                        .Help("Outbox failures (Redis unreachable or refusing, journal unreadable)")
                        .Register(*registry_)
                        .Add({});
}

void Metrics::registerRedis() {
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto& r = redis_;
  r.commands = counter("qaqpa_redis_commands_total",
                       "Redis commands asked for by the workers (including refused ones)");
  auto& errors = prometheus::BuildCounter()
                     .Name("qaqpa_redis_errors_total")
                     .Help("Redis commands that failed, by kind")
                     .Register(*registry_);
  r.error_replies = &errors.Add({{"kind", "reply"}});
  r.timeouts = &errors.Add({{"kind", "timeout"}});
  r.disconnected = &errors.Add({{"kind", "disconnected"}});
  r.overloaded = &errors.Add({{"kind", "overloaded"}});
  r.late_replies = counter("qaqpa_redis_late_replies_total",
                           "Redis answers that arrived after their command's deadline (discarded)");
  r.reconnects = counter("qaqpa_redis_reconnects_total",
                         "Successful Redis connects after a worker's first one");
  r.connect_failures = counter("qaqpa_redis_connect_failures_total",
                               "Redis connect or handshake attempts that failed or timed out");
  r.connections_lost =
      counter("qaqpa_redis_connections_lost_total", "Established Redis connections that dropped");
  r.script_fallbacks = counter("qaqpa_redis_script_fallbacks_total",
                               "EVALSHA answered NOSCRIPT and the script body was sent");
  r.connected = &prometheus::BuildGauge()
                     .Name("qaqpa_redis_connected")
                     .Help("Worker connections to Redis that are up (one per worker when all are)")
                     .Register(*registry_)
                     .Add({});
  // Round trips from 50 µs (local socket) to 2.5 s.
  r.command_seconds = &prometheus::BuildHistogram()
                           .Name("qaqpa_redis_command_seconds")
                           .Help("One answered Redis call (command or pipeline), seconds")
                           .Register(*registry_)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                        0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5});
}

prometheus::Counter* Metrics::usageCounter(std::string_view client, std::string_view service) {
  std::lock_guard lock(usage_mu_);
  if (usage_family_ == nullptr) {
    usage_family_ = &prometheus::BuildCounter()
                         .Name("qaqpa_usage_requests_total")
                         .Help(
                             "Requests admitted by policy and quota, by client system and "
                             "service (billing of paid access)")
                         .Register(*registry_);
  }
  return &usage_family_->Add({{"client", std::string(client)}, {"service", std::string(service)}});
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

void inc(prometheus::Counter* c) noexcept {
  if (c) c->Increment();
}
void inc(prometheus::Counter* c, double v) noexcept {
  if (c) c->Increment(v);
}
void add(prometheus::Gauge* g, double v) noexcept {
  if (g) g->Increment(v);
}
void set(prometheus::Gauge* g, double v) noexcept {
  if (g) g->Set(v);
}
void observe(prometheus::Histogram* h, double v) noexcept {
  if (h) h->Observe(v);
}

}  // namespace qaqpa::metrics

namespace qaqpa::metrics {

void Metrics::registerAsync() {
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto& a = async_;
  a.submitted = counter("qaqpa_async_submitted_total",
                        "Asynchronous messages accepted (stored and queued; repeats not counted)");
  auto& outcome = prometheus::BuildCounter()
                      .Name("qaqpa_async_delivered_total")
                      .Help("Asynchronous messages that reached a final state, by outcome")
                      .Register(*registry_);
  a.delivered = &outcome.Add({{"outcome", "delivered"}});
  a.not_delivered = &outcome.Add({{"outcome", "not_delivered"}});
  a.stopped = &outcome.Add({{"outcome", "delivery_stopped"}});
  a.attempts = counter("qaqpa_async_attempts_total", "Delivery attempts to providers");
  a.retries = counter("qaqpa_async_retries_total", "Delivery retries scheduled after a failure");
  a.claimed = counter("qaqpa_async_claimed_total",
                      "Pending entries taken over from an idle consumer (XAUTOCLAIM)");
  a.store_failures = counter("qaqpa_async_store_failures_total",
                             "Message store (Redis) calls that gave no answer in time");
  a.queue_depth = &prometheus::BuildGauge()
                       .Name("qaqpa_async_queue_depth")
                       .Help("Messages queued or waiting for a retry, all partitions (sampled)")
                       .Register(*registry_)
                       .Add({});
  a.delivery_latency =
      &prometheus::BuildHistogram()
           .Name("qaqpa_async_delivery_latency_seconds")
           .Help("From submission to the final state of a message")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5, 1, 2.5, 5, 10, 30, 60, 300});
}

}  // namespace qaqpa::metrics

namespace qaqpa::metrics {

void Metrics::registerSharedState() {
  auto& decisions = prometheus::BuildCounter()
                        .Name("qaqpa_shared_state_decisions_total")
                        .Help(
                            "Grant rate and replay decisions, by who made them: Redis (shared by "
                            "all replicas) or this replica alone (local fallback)")
                        .Register(*registry_);
  shared_state_.rate_shared = &decisions.Add({{"check", "rate"}, {"source", "shared"}});
  shared_state_.rate_local = &decisions.Add({{"check", "rate"}, {"source", "local"}});
  shared_state_.replay_shared = &decisions.Add({{"check", "replay"}, {"source", "shared"}});
  shared_state_.replay_local = &decisions.Add({{"check", "replay"}, {"source", "local"}});
  auto& fallbacks =
      prometheus::BuildCounter()
          .Name("qaqpa_shared_state_fallbacks_total")
          .Help("Shared checks decided locally because Redis gave no decision, by cause")
          .Register(*registry_);
  const char* reasons[] = {"timeout", "disconnected", "overloaded", "error_reply"};
  for (std::size_t i = 0; i < shared_state_.fallbacks.size(); ++i) {
    shared_state_.fallbacks[i] = &fallbacks.Add({{"reason", reasons[i]}});
  }
}

}  // namespace qaqpa::metrics
