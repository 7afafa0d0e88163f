// Fuzz target: the RFC 8941 dictionary parser behind Signature-Input, Signature and
// Content-Digest, plus the strict base64 decoder. Invariants: canonical output re-parses to the
// same dictionary; a decoded byte sequence re-encodes to exactly its input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/signing/structured_field.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sf = qaqpa::signing::sf;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const sf::DictionaryParse parsed = sf::parseDictionary(in);
  if (parsed.ok()) {
    const std::string canonical = sf::serializeDictionary(parsed.dict);
    // ", " separators can make the canonical form longer than the bound the parser enforces.
    if (canonical.size() <= sf::kMaxInputBytes) {
      const sf::DictionaryParse again = sf::parseDictionary(canonical);
      if (!again.ok() || !(again.dict == parsed.dict)) __builtin_trap();
    }
  } else if (parsed.offset > in.size() && parsed.error != sf::ParseError::TooLong) {
    __builtin_trap();
  }
  if (const auto bytes = sf::base64Decode(in)) {
    if (sf::base64Encode(*bytes) != in) __builtin_trap();
  }
  return 0;
}
