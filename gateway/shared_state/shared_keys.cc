#include "gateway/shared_state/shared_keys.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

#include "adapters/redis/redis_keys.h"

namespace qaqpa::shared_state {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string grantRateKey(std::string_view grant_key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(grant_key.data(), grant_key.size(), md.data(), &len, EVP_sha256(), nullptr);
  std::string key = "qaqpa:{grant:";
  for (unsigned int i = 0; i < 16 && i < len; ++i) {
    key.push_back(kHex[md[i] >> 4]);
    key.push_back(kHex[md[i] & 0xF]);
  }
  key.append("}:gcra");
  return key;
}

std::string replayKey(std::string_view client, const common::Uuid& message_id) {
  std::string key = "qaqpa:{client:";
  key.reserve(key.size() + client.size() + 48);
  adapters::redis::appendEscapedKeyPart(key, client);
  key.append("}:msg:");
  key.append(common::toString(message_id));
  return key;
}

std::string_view clusterHashTag(std::string_view key) noexcept {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

}  // namespace qaqpa::shared_state
