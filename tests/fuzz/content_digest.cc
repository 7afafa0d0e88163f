// Fuzz target: Content-Digest verification. Input: <field value>\n<body>. Invariant: our own
// digest of the body always verifies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/signing/content_digest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using qaqpa::signing::DigestCheck;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = in.find('\n');
  const std::string_view header = in.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  (void)qaqpa::signing::verifyContentDigest(header, body);
  if (qaqpa::signing::verifyContentDigest(qaqpa::signing::contentDigestSha256(body), body) !=
      DigestCheck::Ok) {
    __builtin_trap();
  }
  return 0;
}
