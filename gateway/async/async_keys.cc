#include "gateway/async/async_keys.h"

#include <cstdint>

#include "adapters/redis/redis_keys.h"

namespace qaqpa::async {
namespace {

std::string prefix(unsigned partition) {
  return "qaqpa:{async:" + std::to_string(partition) + "}:";
}

}  // namespace

unsigned partitionOf(std::string_view client, const common::Uuid& message_id,
                     unsigned partitions) noexcept {
  if (partitions <= 1) return 0;
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (char c : client) mix(static_cast<unsigned char>(c));
  mix('\n');
  for (auto b : message_id.bytes) mix(static_cast<unsigned char>(b));
  return static_cast<unsigned>(h % partitions);
}

std::string streamKey(unsigned partition) { return prefix(partition) + "stream"; }
std::string delayedKey(unsigned partition) { return prefix(partition) + "delayed"; }

std::string messageKey(unsigned partition, std::string_view client,
                       const common::Uuid& message_id) {
  std::string key = prefix(partition) + "msg:";
  key.reserve(key.size() + client.size() + 40);
  adapters::redis::appendEscapedKeyPart(key, client, "/");
  key.push_back(':');
  key.append(common::toString(message_id));
  return key;
}

}  // namespace qaqpa::async
