// Fuzz target: common::parseAcceptLanguage (RFC 9110 q-values). Invariant: the answer is one of
// the three supported languages.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/common/i18n.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const qaqpa::common::Lang lang = qaqpa::common::parseAcceptLanguage(in);
  const std::string_view tag = qaqpa::common::langTag(lang);
  if (tag != "kk" && tag != "ru" && tag != "en") __builtin_trap();
  return 0;
}
