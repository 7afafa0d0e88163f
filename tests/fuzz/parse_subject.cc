// Fuzz target: common::parseSubject ("IIN:<12 digits>" / "BIN:<12 digits>"). Invariant: an
// accepted subject prints back as its input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/common/ids.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const qaqpa::common::SubjectParse p = qaqpa::common::parseSubject(in);
  if (p.id && p.id->toString() != in) __builtin_trap();
  return 0;
}
