// Fuzz target: common::parseUuid. Invariant: an accepted UUID prints back as the lower-cased
// input, and that output parses to the same bytes.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/common/ids.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto id = qaqpa::common::parseUuid(in);
  if (id) {
    std::string lower(in);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string printed = qaqpa::common::toString(*id);
    if (printed != lower) __builtin_trap();
    const auto again = qaqpa::common::parseUuid(printed);
    if (!again || !(*again == *id)) __builtin_trap();
  }
  return 0;
}
