#include "gateway/shared_state/redis_replay_window.h"

#include <algorithm>

#include "gateway/shared_state/shared_keys.h"

namespace qaqpa::shared_state {

RedisReplayWindow::RedisReplayWindow(adapters::redis::RedisClient& client,
                                     std::chrono::milliseconds window)
    : client_(client),
      window_(std::max(window, std::chrono::milliseconds(1))),
      window_ms_(std::to_string(window_.count())) {}

boost::asio::awaitable<RedisReplayWindow::Result> RedisReplayWindow::firstSeen(
    std::string_view client, const common::Uuid& message_id,
    adapters::redis::RedisDeadline deadline) {
  const std::string key = replayKey(client, message_id);
  adapters::redis::RedisReply reply =
      co_await client_.exec(deadline, "SET", key, "1", "NX", "PX", window_ms_);
  Result result;
  result.errc = reply.errc;
  if (reply.errc != adapters::redis::RedisErrc::Ok) co_return result;
  if (reply.value.isOk()) {
    result.first_seen = true;
  } else if (!reply.value.isNil()) {
    result.error_reply = true;
    result.error = reply.value.isError() ? reply.value.str : "unexpected SET NX answer";
  }
  co_return result;
}

}  // namespace qaqpa::shared_state
