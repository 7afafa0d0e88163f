// Asymmetric keys for HTTP message signatures (RFC 9421 §3.3): `ed25519` and
// `ecdsa-p256-sha256`. Signatures cross this API as raw bytes exactly as they appear in the
// Signature header — 64 bytes for both algorithms (ECDSA: r||s, 32 bytes each, big-endian); the
// DER form OpenSSL uses never leaks out.
//
// Keys own an OpenSSL EVP_PKEY (OpenSSL headers stay out of this header). A loaded key is
// immutable; verify/sign/publicKey may be called concurrently from any thread on the same key
// (OpenSSL 3 keys are safe for concurrent read-only use). Parsing from memory is non-blocking;
// functions named ...Blocking read files and must run off the workers. Nothing throws; failures
// are std::nullopt / false with an optional human-readable error (never key material).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace qaqpa::signing {

enum class Algorithm : std::uint8_t { Ed25519, EcdsaP256Sha256 };

// RFC 9421 registry names: "ed25519", "ecdsa-p256-sha256".
std::string_view algorithmName(Algorithm alg) noexcept;
// Exact (case-sensitive) match of a registry name this gateway supports; anything else
// (rsa-pss-sha512, hmac-sha256, ...) is std::nullopt.
std::optional<Algorithm> parseAlgorithm(std::string_view name) noexcept;

namespace detail {
struct EvpPkeyDeleter {
  void operator()(evp_pkey_st* key) const noexcept;
};
using EvpPkeyPtr = std::unique_ptr<evp_pkey_st, EvpPkeyDeleter>;
}  // namespace detail

class PublicKey {
 public:
  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") of an Ed25519 or P-256 key; other key types
  // and curves are rejected.
  static std::optional<PublicKey> fromPem(std::string_view pem, std::string* error = nullptr);
  static std::optional<PublicKey> loadPemFileBlocking(const std::filesystem::path& path,
                                                      std::string* error = nullptr);
  // Raw public key: Ed25519 32 bytes; P-256 the 65-byte uncompressed point 04||x||y (a JWK's
  // x and y decoded and prefixed with 0x04).
  static std::optional<PublicKey> fromRaw(Algorithm alg, std::string_view bytes,
                                          std::string* error = nullptr);

  Algorithm algorithm() const noexcept { return alg_; }
  // The raw form accepted by fromRaw (for JWKS publication).
  std::string rawBytes() const;
  // RFC 9421 §3.3 verification of a raw signature over `message` (the signature base).
  // A signature of the wrong length is simply invalid.
  bool verify(std::string_view message, std::string_view signature) const noexcept;

 private:
  PublicKey(Algorithm alg, detail::EvpPkeyPtr key) : alg_(alg), key_(std::move(key)) {}
  friend class PrivateKey;
  Algorithm alg_;
  detail::EvpPkeyPtr key_;
};

class PrivateKey {
 public:
  // PKCS#8 ("BEGIN PRIVATE KEY") or SEC1 ("BEGIN EC PRIVATE KEY") PEM, unencrypted.
  static std::optional<PrivateKey> fromPem(std::string_view pem, std::string* error = nullptr);
  static std::optional<PrivateKey> loadPemFileBlocking(const std::filesystem::path& path,
                                                       std::string* error = nullptr);

  Algorithm algorithm() const noexcept { return alg_; }
  std::optional<PublicKey> publicKey() const;

 private:
  PrivateKey(Algorithm alg, detail::EvpPkeyPtr key) : alg_(alg), key_(std::move(key)) {}
  friend std::optional<std::string> sign(const PrivateKey&, std::string_view);
  Algorithm alg_;
  detail::EvpPkeyPtr key_;
};

// Raw signature bytes (64 for both algorithms; ECDSA converted from DER to r||s) over the
// signature base, or std::nullopt if OpenSSL fails. ECDSA signatures are randomised.
std::optional<std::string> sign(const PrivateKey& key, std::string_view signature_base);

}  // namespace qaqpa::signing
