// RedisReplayWindow: the replay window shared by every gateway replica, the Redis twin of
// policy::ReplayWindow (PROTOCOL.md §2: a client's message id repeated inside the window is
// DUPLICATE). One command per check:
//     SET qaqpa:{client:<c>}:msg:<message id> 1 NX PX <window ms>
// OK → first seen (recorded; Redis forgets it after the window); nil → a replay. SET NX is atomic,
// so of several replicas racing on one id exactly one sees "first" (tested). Memory is bounded by
// the traffic of one window (each entry expires), not by a count: size Redis's maxmemory for it
// (README.md).
//
// Threading: like the RedisClient it uses — that client's worker thread only; non-blocking; never
// throws. The client must outlive the window.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "adapters/redis/redis_client.h"
#include "gateway/common/ids.h"

namespace qaqpa::shared_state {

class RedisReplayWindow {
 public:
  struct Result {
    // As RedisRateLimiter::Result: first_seen is meaningful only when ok().
    adapters::redis::RedisErrc errc = adapters::redis::RedisErrc::Disconnected;
    bool error_reply = false;
    std::string error;
    bool first_seen = false;
    bool ok() const noexcept { return errc == adapters::redis::RedisErrc::Ok && !error_reply; }
  };

  // window >= 1 ms.
  RedisReplayWindow(adapters::redis::RedisClient& client, std::chrono::milliseconds window);

  boost::asio::awaitable<Result> firstSeen(std::string_view client, const common::Uuid& message_id,
                                           adapters::redis::RedisDeadline deadline);

  std::chrono::milliseconds window() const noexcept { return window_; }

 private:
  adapters::redis::RedisClient& client_;
  std::chrono::milliseconds window_;
  std::string window_ms_;
};

}  // namespace qaqpa::shared_state
