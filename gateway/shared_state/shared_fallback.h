// SharedPolicyState: the shared (Redis) quota and replay checks with the local fallback of issue #6
// item 3 (README.md "Local fallback"). One per worker, next to that worker's RedisClient.
//
// Each check first asks Redis, with a short deadline (`timeout`). When Redis gives no decision —
// errc Timeout / Disconnected / Overloaded, or an error reply (OOM, LOADING, READONLY, script or
// Cluster errors) — the caller's local check decides instead, the decision says so
// (source == LocalFallback) and the fallback is counted (per reason, here and in the optional
// prometheus counters). A Redis client that is Down fails at once (RedisClient never queues), so
// an outage costs no latency; the next call after the client reconnects is shared again.
// The first fallback of an outage is logged at warn, the return to shared decisions at info with
// the number of local ones in between.
//
// The local checks are callbacks so this layer does not depend on gateway/policy (which will call
// it): typically policy::RateLimiter::tryAcquire(now) and policy::ReplayWindow::firstSeen(...).
// The replay callback is also called after Redis said "first seen" (mirroring the id into the
// local window, so a replica still detects its own replays during an outage); if the local window
// has seen the id, the answer is a replay even though Redis forgot it (restart without
// persistence). The rate callback is called only on fallback.
//
// Threading: the worker thread of the RedisClient only; non-blocking; never throws. The client,
// the metrics struct and its counters must outlive this object. A check's string arguments must
// stay alive until its co_await completes.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/common/ids.h"
#include "gateway/shared_state/redis_rate_limiter.h"
#include "gateway/shared_state/redis_replay_window.h"

namespace prometheus {
class Counter;
}

namespace qaqpa::shared_state {

enum class DecisionSource : std::uint8_t { Shared, LocalFallback };

enum class FallbackReason : std::uint8_t { Timeout, Disconnected, Overloaded, ErrorReply };
inline constexpr std::size_t kFallbackReasons = 4;
std::string_view fallbackReasonName(FallbackReason r) noexcept;

// Suggested names: qaqpa_shared_state_decisions_total{check=rate|replay,source=shared|local} and
// qaqpa_shared_state_fallbacks_total{reason=timeout|disconnected|overloaded|error_reply}. Any
// pointer may be null.
struct SharedStateMetrics {
  prometheus::Counter* rate_shared = nullptr;
  prometheus::Counter* rate_local = nullptr;
  prometheus::Counter* replay_shared = nullptr;
  prometheus::Counter* replay_local = nullptr;
  std::array<prometheus::Counter*, kFallbackReasons> fallbacks{};  // indexed by FallbackReason
};

class SharedPolicyState {
 public:
  struct RateDecision {
    bool allowed = false;
    std::chrono::nanoseconds retry_after{0};  // as policy::RateLimiter::Decision
    DecisionSource source = DecisionSource::Shared;
  };
  struct ReplayDecision {
    bool first_seen = false;
    DecisionSource source = DecisionSource::Shared;
  };
  // The local decision: {allowed, retry_after}.
  using LocalRate = std::function<std::pair<bool, std::chrono::nanoseconds>()>;
  // Records the id locally; true when it was not seen within the window.
  using LocalReplay = std::function<bool()>;

  // timeout: the deadline of each Redis call (a few ms on a healthy LAN; README.md).
  SharedPolicyState(adapters::redis::RedisClient& client, std::chrono::milliseconds replay_window,
                    std::chrono::milliseconds timeout, const SharedStateMetrics* metrics = nullptr);

  // redis_key: grantRateKey(grant key), computed once per grant.
  boost::asio::awaitable<RateDecision> tryAcquire(std::string_view redis_key,
                                                  double rate_per_second, std::uint32_t burst,
                                                  LocalRate local);
  boost::asio::awaitable<ReplayDecision> firstSeen(std::string_view client,
                                                   const common::Uuid& message_id,
                                                   LocalReplay local);

  // Counters of this object (the prometheus ones aggregate all workers).
  std::uint64_t sharedDecisions() const noexcept { return shared_; }
  std::uint64_t localDecisions() const noexcept { return local_; }
  std::uint64_t fallbacks(FallbackReason r) const noexcept {
    return fallbacks_[static_cast<std::size_t>(r)];
  }
  // True from the first fallback until the next shared decision (for readiness or status).
  bool degraded() const noexcept { return degraded_; }

 private:
  void onShared(prometheus::Counter* c);
  void onFallback(FallbackReason reason, prometheus::Counter* c, std::string_view check,
                  std::string_view detail);

  RedisRateLimiter rate_;
  RedisReplayWindow replay_;
  std::chrono::milliseconds timeout_;
  SharedStateMetrics metrics_;
  std::uint64_t shared_ = 0;
  std::uint64_t local_ = 0;
  std::uint64_t local_in_outage_ = 0;
  std::array<std::uint64_t, kFallbackReasons> fallbacks_{};
  bool degraded_ = false;
};

}  // namespace qaqpa::shared_state
