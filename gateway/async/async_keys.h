// Redis key layout of the asynchronous exchange (docs/async.md "Keys"). Messages are spread over
// P partitions; every key of one partition carries the Redis Cluster hash tag {async:<p>}, so the
// partition's stream, its delayed set and all its messages live in one slot and every Lua script
// of message_store.cc touches one slot only.
//
//   qaqpa:{async:<p>}:stream                     the partition's stream (consumer group
//                                                qaqpa-dispatch); entry field k = message key
//   qaqpa:{async:<p>}:delayed                    ZSET of message keys waiting for a retry, scored
//                                                by the due time (Redis TIME, ms)
//   qaqpa:{async:<p>}:msg:<client>:<message id>  HASH: the stored request, state, result
//
// <p> = FNV-1a 64 of "<client>\n<message id>" mod P (so a client's repeat lands on the same key);
// <client> is the system id with every byte outside [A-Za-z0-9._/-] written %XX (system ids never
// need it; it keeps '{', '}' and ':' out of keys whatever happens), message id canonical UUID text.
//
// Pure functions: any thread, no blocking.
#pragma once

#include <string>
#include <string_view>

#include "gateway/common/ids.h"

namespace qaqpa::async {

inline constexpr std::string_view kConsumerGroup = "qaqpa-dispatch";

unsigned partitionOf(std::string_view client, const common::Uuid& message_id,
                     unsigned partitions) noexcept;
std::string streamKey(unsigned partition);
std::string delayedKey(unsigned partition);
std::string messageKey(unsigned partition, std::string_view client, const common::Uuid& message_id);

}  // namespace qaqpa::async
