// The gateway's own signing keys (PROTOCOL.md §2 response signature, §6 checkpoints, and the JWKS
// served at GET /v1/keys): exactly one ACTIVE key that signs, plus any number of RETIRED keys that
// are only published so that signatures made before a rotation still verify.
//
// Built once per configuration snapshot on the blocking pool (loadBlocking reads PEM files) or from
// keys already in memory (fromKeys: tests, benchmarks, tools). Immutable afterwards: share it as
// std::shared_ptr<const GatewayKeySet>; every const member is safe to call concurrently from any
// thread and never blocks (sign() is one OpenSSL signature, ≈ 20–30 µs). Nothing throws on bad
// input; load problems are returned as a list (all of them, not the first).
//
// Rules checked by the builders:
//  - kid: 1..128 bytes of [A-Za-z0-9._~:+/=-] (base64/base64url thumbprints, RFC 7638, fit), so it
//    needs no escaping in JSON nor in an RFC 8941 string; unique across the set;
//  - each key is Ed25519 or ECDSA P-256 (RSA and other curves are refused);
//  - a key has a private key (PKCS#8 or SEC1 PEM), a public key (SPKI PEM), or both — then they
//    must be the same key pair;
//  - exactly one key is active, and it has its private key. Retired keys keep only their public
//    part (a private key given for a retired key is not kept).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/signing/keys.h"

namespace qaqpa::signing {

// One configured key (config: signing.keys[i]). Paths are used as given (the config layer resolves
// them against the config file's directory). Either file may be empty, not both.
struct GatewayKeySpec {
  std::string kid;
  std::filesystem::path private_key_file;  // PEM, PKCS#8 or SEC1, unencrypted
  std::filesystem::path public_key_file;   // PEM SubjectPublicKeyInfo (retired keys)
  bool active = false;
};

// The same, with the keys already parsed.
struct GatewayKeyMaterial {
  std::string kid;
  std::optional<PrivateKey> private_key;
  std::optional<PublicKey> public_key;
  bool active = false;
};

// One load problem. `index` is the key's position in the spec list (SIZE_MAX for a problem of the
// whole set, e.g. "no active key"); `kid` as configured (may be empty or invalid). Messages name
// files but never contain key material.
struct GatewayKeyError {
  static constexpr std::size_t kWholeSet = static_cast<std::size_t>(-1);
  std::size_t index = kWholeSet;
  std::string kid;
  std::string message;
};

// What GatewayKeySet::sign returns: the raw signature (64 bytes for both algorithms; ECDSA as
// r||s) with the key id and the RFC 9421 algorithm name to store next to it.
struct GatewaySignature {
  std::string_view kid;        // points into the key set: valid while the set lives
  std::string_view algorithm;  // "ed25519" | "ecdsa-p256-sha256" (static storage)
  std::string signature;
};

class GatewayKeySet {
 public:
  struct Entry {
    std::string kid;
    PublicKey public_key;
  };
  struct ActiveKey {
    std::string_view kid;
    const PrivateKey& key;
  };

  // Reads and checks every spec (file I/O: blocking pool only). On any problem returns null and
  // appends every problem found to `errors`.
  static std::shared_ptr<const GatewayKeySet> loadBlocking(std::span<const GatewayKeySpec> specs,
                                                           std::vector<GatewayKeyError>& errors);
  // Same checks on keys already in memory (consumed). Non-blocking.
  static std::shared_ptr<const GatewayKeySet> fromKeys(std::vector<GatewayKeyMaterial> keys,
                                                       std::vector<GatewayKeyError>& errors);

  ActiveKey active() const noexcept { return {entries_.front().kid, active_private_}; }
  Algorithm activeAlgorithm() const noexcept { return active_private_.algorithm(); }
  // Any published key (active or retired) by kid; null when unknown.
  const PublicKey* find(std::string_view kid) const noexcept;
  // All keys, the active one first, then the retired ones in configuration order.
  std::span<const Entry> keys() const noexcept { return entries_; }

  // RFC 7517 JWK Set of every key, active first (RFC 8037 OKP for Ed25519, EC P-256 with x and y),
  // each with kid, alg (EdDSA | ES256) and use "sig"; base64url without padding. Computed once.
  // Content type: application/jwk-set+json.
  const std::string& jwksJson() const noexcept { return jwks_; }

  // Signs `message` with the active key (checkpoints, tools). std::nullopt if OpenSSL fails.
  std::optional<GatewaySignature> sign(std::string_view message) const;

 private:
  GatewayKeySet(std::vector<Entry> entries, PrivateKey active)
      : entries_(std::move(entries)), active_private_(std::move(active)) {}

  std::vector<Entry> entries_;  // [0] is the active key
  PrivateKey active_private_;
  std::string jwks_;
};

// The JWK of one public key (one member of jwksJson()'s "keys" array).
std::string jwkJson(std::string_view kid, const PublicKey& key);

// RFC 4648 §5 base64url without padding (JWK coordinates, JWS parts).
std::string base64UrlEncode(std::string_view bytes);
// Its strict inverse: only [A-Za-z0-9_-], no padding or whitespace, length % 4 != 1, unused
// trailing bits zero (one encoding per byte string). std::nullopt otherwise. Used for JWKs
// (audit) and citizens' tokens (space).
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace qaqpa::signing
