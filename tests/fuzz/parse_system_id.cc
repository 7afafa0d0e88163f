// Fuzz target: common::parseSystemId (CC/CLASS/MEMBER/SYSTEM). Invariant: the parts are views
// into the input and rejoin to it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/common/ids.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto parts = qaqpa::common::parseSystemId(in);
  if (parts) {
    const std::string joined = std::string(parts->country) + "/" +
                               std::string(parts->member_class) + "/" + std::string(parts->member) +
                               "/" + std::string(parts->system);
    if (joined != in) __builtin_trap();
  }
  return 0;
}
