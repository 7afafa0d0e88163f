#include "adapters/redis/redis_keys.h"

namespace qaqpa::adapters::redis {

void appendEscapedKeyPart(std::string& key, std::string_view part, std::string_view also_plain) {
  constexpr char kHex[] = "0123456789abcdef";
  key.reserve(key.size() + part.size());
  for (const char ch : part) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-' ||
                       also_plain.find(ch) != std::string_view::npos;
    if (plain) {
      key.push_back(ch);
    } else {
      key.push_back('%');
      key.push_back(kHex[c >> 4]);
      key.push_back(kHex[c & 0xF]);
    }
  }
}

}  // namespace qaqpa::adapters::redis
