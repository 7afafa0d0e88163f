#include "gateway/audit/canonical.h"

#include <algorithm>

namespace qaqpa::audit {

std::string hexPrefix(std::string_view bytes, std::size_t max_bytes) {
  if (bytes.empty()) return "(empty)";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min(bytes.size(), max_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  if (n < bytes.size()) out += "…";
  return out;
}

}  // namespace qaqpa::audit
