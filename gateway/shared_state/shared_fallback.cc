#include "gateway/shared_state/shared_fallback.h"

#include <string>

#include "gateway/common/log.h"
#include "gateway/metrics/metrics.h"

namespace qaqpa::shared_state {
namespace {

using adapters::redis::RedisErrc;

FallbackReason reasonOf(RedisErrc errc) noexcept {
  switch (errc) {
    case RedisErrc::Timeout:
      return FallbackReason::Timeout;
    case RedisErrc::Overloaded:
      return FallbackReason::Overloaded;
    case RedisErrc::Ok:
      return FallbackReason::ErrorReply;
    case RedisErrc::Disconnected:
    case RedisErrc::Invalid:
      break;
  }
  return FallbackReason::Disconnected;
}

}  // namespace

std::string_view fallbackReasonName(FallbackReason r) noexcept {
  switch (r) {
    case FallbackReason::Timeout:
      return "timeout";
    case FallbackReason::Disconnected:
      return "disconnected";
    case FallbackReason::Overloaded:
      return "overloaded";
    case FallbackReason::ErrorReply:
      return "error_reply";
  }
  return "unknown";
}

SharedPolicyState::SharedPolicyState(adapters::redis::RedisClient& client,
                                     std::chrono::milliseconds replay_window,
                                     std::chrono::milliseconds timeout,
                                     const SharedStateMetrics* metrics)
    : rate_(client),
      replay_(client, replay_window),
      timeout_(timeout),
      metrics_(metrics != nullptr ? *metrics : SharedStateMetrics{}) {}

void SharedPolicyState::onShared(prometheus::Counter* c) {
  ++shared_;
  metrics::inc(c);
  if (degraded_) {
    degraded_ = false;
    const std::string n = std::to_string(local_in_outage_);
    common::log(common::LogLevel::Info, "shared state: Redis decisions again",
                {{"local_decisions", n}});
    local_in_outage_ = 0;
  }
}

void SharedPolicyState::onFallback(FallbackReason reason, prometheus::Counter* c,
                                   std::string_view check, std::string_view detail) {
  ++local_;
  ++local_in_outage_;
  ++fallbacks_[static_cast<std::size_t>(reason)];
  metrics::inc(c);
  metrics::inc(metrics_.fallbacks[static_cast<std::size_t>(reason)]);
  if (!degraded_) {
    degraded_ = true;
    common::log(common::LogLevel::Warn,
                "shared state: Redis gave no decision, local fallback (per-replica quotas and "
                "replay window) until it answers again",
                {{"check", check}, {"reason", fallbackReasonName(reason)}, {"detail", detail}});
  }
}

boost::asio::awaitable<SharedPolicyState::RateDecision> SharedPolicyState::tryAcquire(
    std::string_view redis_key, double rate_per_second, std::uint32_t burst, LocalRate local) {
  const RedisRateLimiter::Result r = co_await rate_.tryAcquire(
      redis_key, rate_per_second, burst, std::chrono::steady_clock::now() + timeout_);
  if (r.ok()) {
    onShared(metrics_.rate_shared);
    co_return RateDecision{r.allowed, r.retry_after, DecisionSource::Shared};
  }
  onFallback(reasonOf(r.errc), metrics_.rate_local, "rate",
             r.error_reply ? std::string_view(r.error) : adapters::redis::errcName(r.errc));
  const auto [allowed, retry_after] = local();
  co_return RateDecision{allowed, retry_after, DecisionSource::LocalFallback};
}

boost::asio::awaitable<SharedPolicyState::ReplayDecision> SharedPolicyState::firstSeen(
    std::string_view client, const common::Uuid& message_id, LocalReplay local) {
  const RedisReplayWindow::Result r =
      co_await replay_.firstSeen(client, message_id, std::chrono::steady_clock::now() + timeout_);
  if (r.ok()) {
    onShared(metrics_.replay_shared);
    // Mirror a first sighting locally; a local sighting Redis forgot is still a replay.
    const bool first = r.first_seen && local();
    co_return ReplayDecision{first, DecisionSource::Shared};
  }
  onFallback(reasonOf(r.errc), metrics_.replay_local, "replay",
             r.error_reply ? std::string_view(r.error) : adapters::redis::errcName(r.errc));
  co_return ReplayDecision{local(), DecisionSource::LocalFallback};
}

}  // namespace qaqpa::shared_state
