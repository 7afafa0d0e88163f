#include "gateway/shared_state/redis_rate_limiter.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace qaqpa::shared_state {
namespace {

using adapters::redis::RedisErrc;
using adapters::redis::RedisScript;
using adapters::redis::RedisValue;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kMaxSpanNs = std::int64_t{1} << 62;

// KEYS[1]: the grant's TAT "<unix seconds> <ns within the second>". ARGV[1]: T ns. ARGV[2]: tau ns.
// Returns {1, 0} (allowed) or {0, retry-after ns}.
constexpr char kGcraLua[] = R"lua(
local t = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local now = redis.call('TIME')
local now_s = tonumber(now[1])
local now_ns = tonumber(now[2]) * 1000
local d = 0
local v = redis.call('GET', KEYS[1])
if v then
  local s, ns = string.match(v, '^(%-?%d+) (%d+)$')
  if s then
    d = (tonumber(s) - now_s) * 1000000000 + (tonumber(ns) - now_ns)
    if d < 0 then d = 0 end
    if d > tau + t then d = tau + t end
  end
end
if d > tau then
  return {0, d - tau}
end
local off = now_ns + d + t
local q = math.floor(off / 1000000000)
local r = off - q * 1000000000
redis.call('SET', KEYS[1], string.format('%d %d', now_s + q, r), 'PX',
           math.ceil((d + t) / 1000000))
return {1, 0}
)lua";

}  // namespace

std::int64_t gcraIntervalNs(double rate_per_second, std::uint32_t burst) noexcept {
  const std::uint32_t b = std::max<std::uint32_t>(burst, 1);
  const double raw = std::round(static_cast<double>(kNanosPerSecond) / rate_per_second);
  const double cap = static_cast<double>(kMaxSpanNs / (static_cast<std::int64_t>(b) + 1));
  return static_cast<std::int64_t>(std::clamp(raw, 1.0, cap));
}

const RedisScript& RedisRateLimiter::script() {
  static const RedisScript kScript(kGcraLua);
  return kScript;
}

boost::asio::awaitable<RedisRateLimiter::Result> RedisRateLimiter::tryAcquire(
    std::string_view redis_key, double rate_per_second, std::uint32_t burst,
    adapters::redis::RedisDeadline deadline) {
  const std::int64_t t_ns = gcraIntervalNs(rate_per_second, burst);
  const std::int64_t tau_ns =
      (static_cast<std::int64_t>(std::max<std::uint32_t>(burst, 1)) - 1) * t_ns;
  const std::string t_arg = std::to_string(t_ns);
  const std::string tau_arg = std::to_string(tau_ns);
  const std::array<std::string_view, 1> keys{redis_key};
  const std::array<std::string_view, 2> args{t_arg, tau_arg};
  adapters::redis::RedisReply reply = co_await client_.evalScript(script(), keys, args, deadline);

  Result result;
  result.errc = reply.errc;
  if (reply.errc != RedisErrc::Ok) co_return result;
  const RedisValue& v = reply.value;
  if (v.isError()) {
    result.error_reply = true;
    result.error = v.str;
    co_return result;
  }
  if (!v.isArray() || v.elements.size() != 2 || !v.elements[0].isInteger() ||
      !v.elements[1].isInteger()) {
    result.error_reply = true;
    result.error = "unexpected GCRA script answer";
    co_return result;
  }
  result.allowed = v.elements[0].integer == 1;
  result.retry_after = result.allowed ? std::chrono::nanoseconds(0)
                                      : std::chrono::nanoseconds(v.elements[1].integer);
  co_return result;
}

}  // namespace qaqpa::shared_state
