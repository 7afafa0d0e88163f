#include "gateway/signing/content_digest.h"

#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gateway/signing/structured_field.h"

namespace qaqpa::signing {
namespace {

// Empty on failure (out of memory in OpenSSL), which never equals a received digest.
std::string digest(const EVP_MD* md, std::string_view body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(body.data(), body.size(), out, &len, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

std::string contentDigestSha256(std::string_view body) {
  return "sha-256=:" + sf::base64Encode(digest(EVP_sha256(), body)) + ":";
}

std::string_view digestCheckName(DigestCheck check) noexcept {
  switch (check) {
    case DigestCheck::Ok:
      return "ok";
    case DigestCheck::Missing:
      return "missing";
    case DigestCheck::Malformed:
      return "malformed";
    case DigestCheck::UnsupportedAlgorithm:
      return "unsupported_algorithm";
    case DigestCheck::Mismatch:
      return "mismatch";
  }
  return "unknown";
}

DigestCheck verifyContentDigest(std::string_view header_value, std::string_view body) {
  const sf::DictionaryParse parsed = sf::parseDictionary(header_value);
  if (!parsed.ok()) return DigestCheck::Malformed;
  if (parsed.dict.members.empty()) return DigestCheck::Missing;

  struct Supported {
    std::string_view name;
    const EVP_MD* md;
    std::size_t size;
  };
  const Supported supported[] = {{"sha-256", EVP_sha256(), 32}, {"sha-512", EVP_sha512(), 64}};

  // Shape first, so a malformed member is reported even when another one would mismatch.
  bool any = false;
  for (const Supported& alg : supported) {
    const sf::Member* m = parsed.dict.find(alg.name);
    if (m == nullptr) continue;
    if (m->is_inner_list || m->item.value.kind != sf::BareKind::ByteSequence ||
        m->item.value.text.size() != alg.size) {
      return DigestCheck::Malformed;
    }
    any = true;
  }
  if (!any) return DigestCheck::UnsupportedAlgorithm;

  for (const Supported& alg : supported) {
    const sf::Member* m = parsed.dict.find(alg.name);
    if (m == nullptr) continue;
    const std::string actual = digest(alg.md, body);
    const std::string& expected = m->item.value.text;
    if (actual.size() != expected.size() ||
        CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) != 0) {
      return DigestCheck::Mismatch;
    }
  }
  return DigestCheck::Ok;
}

}  // namespace qaqpa::signing
