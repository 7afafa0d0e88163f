// RedisRateLimiter: a grant's request-rate quota shared by every gateway replica, the Redis twin of
// policy::RateLimiter (same GCRA, same rate / burst / retry-after semantics; README.md).
//
// Algorithm: one Lua script, run atomically by Redis (EVALSHA, EVAL on NOSCRIPT), keeps the
// grant's theoretical arrival time (TAT) under grantRateKey(grant key) as "<unix s> <ns>". With
// T = intervalNs(rate, burst) and tau = (burst - 1) * T (exactly as policy::RateLimiter), at
// now = Redis server time (TIME, so replicas with skewed clocks agree):
//     d = clamp(TAT - now, 0, tau + T);  allowed iff d <= tau;  then TAT := now + d + T
// and a refused request writes nothing and gets retry_after = d - tau. A missing key is "long ago"
// (a full bucket); every write sets PX = ceil((d + T) / 1 ms), the time to refill entirely, so
// idle grants leave no key behind. The clamp only matters if Redis's clock jumped back: a grant
// is then refused for at most T instead of the size of the jump.
// Every admission is one atomic script run on one key, so N replicas together never admit more
// than rate * t + burst over any interval t (tested with concurrent clients on several threads).
// Precision: exact while tau + T < 2^53 ns (~104 days; Lua numbers are doubles); Redis TIME has
// microsecond resolution, so "now" is a whole microsecond.
//
// Threading: like the RedisClient it uses — the worker thread that runs that client's io_context
// only; non-blocking; never throws. The client must outlive the limiter.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "adapters/redis/redis_client.h"

namespace qaqpa::shared_state {

// policy::RateLimiter's emission interval T in ns, computed identically: 1e9 / rate rounded, then
// clamped to [1, 2^62 / (burst + 1)]. rate > 0 and finite, burst >= 1 (burst 0 counts as 1).
std::int64_t gcraIntervalNs(double rate_per_second, std::uint32_t burst) noexcept;

class RedisRateLimiter {
 public:
  struct Result {
    // Ok: Redis answered; error_reply says whether the answer was an error (script error, OOM,
    // MOVED in Cluster, ...), with its text in error. Other values: RedisClient's (no decision).
    adapters::redis::RedisErrc errc = adapters::redis::RedisErrc::Disconnected;
    bool error_reply = false;
    std::string error;
    bool allowed = false;
    std::chrono::nanoseconds retry_after{0};  // zero when allowed; exact ns otherwise
    bool ok() const noexcept { return errc == adapters::redis::RedisErrc::Ok && !error_reply; }
  };

  explicit RedisRateLimiter(adapters::redis::RedisClient& client) noexcept : client_(client) {}

  // One request against the grant whose key is redis_key (grantRateKey(grant key); compute it
  // once per grant). rate_per_second > 0 finite, burst >= 1: the config layer validates them.
  // Callers using one key with different limits (a reload that changed them) continue from the
  // stored TAT under their limits, unlike policy::QuotaRegistry, which starts a fresh bucket.
  boost::asio::awaitable<Result> tryAcquire(std::string_view redis_key, double rate_per_second,
                                            std::uint32_t burst,
                                            adapters::redis::RedisDeadline deadline);

  // The Lua source, for SCRIPT LOAD at startup (RedisClient::loadScript) and for documentation.
  static const adapters::redis::RedisScript& script();

 private:
  adapters::redis::RedisClient& client_;
};

}  // namespace qaqpa::shared_state
