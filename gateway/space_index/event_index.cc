#include "gateway/space_index/event_index.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "gateway/common/ids.h"

namespace qaqpa::space_index {

EventKey eventKey(std::string_view event_id) noexcept {
  EventKey key{};
  // Only the canonical lower-case form maps to the UUID's bytes, so that two different texts
  // never share a key by construction.
  const bool lower =
      std::none_of(event_id.begin(), event_id.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  if (lower) {
    if (const auto uuid = common::parseUuid(event_id)) {
      std::memcpy(key.data(), uuid->bytes.data(), key.size());
      return key;
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(event_id.data(), event_id.size(), digest, &len, EVP_sha256(), nullptr) == 1 &&
      len >= key.size()) {
    std::memcpy(key.data(), digest, key.size());
  }
  return key;
}

std::optional<std::uint64_t> packSubject(std::string_view subject) noexcept {
  if (subject.size() != 16) return std::nullopt;
  std::uint64_t kind = 0;
  if (subject.starts_with("IIN:")) {
    kind = 0;
  } else if (subject.starts_with("BIN:")) {
    kind = 1;
  } else {
    return std::nullopt;
  }
  std::uint64_t digits = 0;
  for (const char c : subject.substr(4)) {
    if (c < '0' || c > '9') return std::nullopt;
    digits = digits * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return (kind << 40) | digits;  // 10^12 < 2^40
}

IndexStatus checkPageQuery(const Query& query) noexcept {
  if (query.limit == 0 || query.limit > kMaxPageLimit) return IndexStatus::BadLimit;
  if (query.since && query.until && *query.since >= *query.until) return IndexStatus::BadQuery;
  return IndexStatus::Ok;
}

std::string_view indexStatusName(IndexStatus s) noexcept {
  switch (s) {
    case IndexStatus::Ok:
      return "ok";
    case IndexStatus::BadSubject:
      return "bad subject";
    case IndexStatus::BadLimit:
      return "bad limit";
    case IndexStatus::BadQuery:
      return "bad query";
    case IndexStatus::BadCursor:
      return "bad cursor";
    case IndexStatus::NotFound:
      return "not found";
    case IndexStatus::Unavailable:
      return "unavailable";
  }
  return "unknown";
}

}  // namespace qaqpa::space_index
