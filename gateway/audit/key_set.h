// Public keys that checkpoint signatures are verified against, and the KeyResolver the verifier
// calls. Keys come from a JWKS (as served at GET /v1/keys: OKP/Ed25519 {kty, crv, x, kid} and
// EC/P-256 {kty, crv, x, y, kid}) or from SPKI PEM files named by key id.
//
// A KeySet is filled once (loading is ...Blocking for files) and then only read: resolver() may be
// called from any thread while the set is alive. Nothing throws; errors are false + a sentence.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/signing/keys.h"

namespace qaqpa::audit {

enum class KeyVerdict : std::uint8_t {
  Valid,
  BadSignature,  // the key exists but the signature does not verify (or the algorithm differs)
  UnknownKey,    // no key with this id
};

// "Is `signature` a valid signature by key `key_id` with `algorithm` over `message`?"
using KeyResolver = std::function<KeyVerdict(std::string_view key_id, std::string_view algorithm,
                                             std::string_view message, std::string_view signature)>;

class KeySet {
 public:
  // Adds (or replaces) one key.
  void add(std::string key_id, signing::PublicKey key);
  // Parses a JWKS document {"keys": [...]}; every key must be usable (kid present, a supported
  // kty/crv, valid coordinates) — a JWKS we can read only in part is an error, not a silent skip.
  bool addJwks(std::string_view jwks_json, std::string& error);
  bool addJwksFileBlocking(const std::filesystem::path& file, std::string& error);
  // "<kid>=<path to SPKI PEM>"
  bool addPemSpecBlocking(std::string_view kid_equals_path, std::string& error);

  std::size_t size() const noexcept { return keys_.size(); }
  // Valid while this KeySet is alive and unchanged.
  KeyResolver resolver() const;
  KeyVerdict check(std::string_view key_id, std::string_view algorithm, std::string_view message,
                   std::string_view signature) const;

 private:
  std::map<std::string, signing::PublicKey, std::less<>> keys_;
};

}  // namespace qaqpa::audit
