// The built-in demo identity provider (PROTOCOL.md §7, demo mode only): it mints citizen tokens —
// compact JWS, EdDSA or ES256 according to its key — for POST /v1/space/demo-login. It appears in
// the IdentityProviderRegistry as one more trusted issuer, so its tokens go through exactly the
// same verification (jwt.h) as those of a real identity provider.
//
// Built once at start: loadBlocking() reads (and, with `generate`, first creates) the private key
// file — file I/O, control thread only. The config loader refuses an enabled demo provider unless
// demo_trust_client_header is true; this class does not check that again. Immutable afterwards;
// mint() may be called concurrently from any thread and never blocks (one signature, ≈ 20-30 µs).
// Nothing throws.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/common/ids.h"
#include "gateway/config/config.h"
#include "gateway/signing/keys.h"
#include "gateway/space/identity_providers.h"

namespace qaqpa::space {

class DemoIdentityProvider {
 public:
  // From space.demo_identity_provider (which must be enabled) and space.audience. With
  // `generate`, a missing private_key_file is created first (signing::generatePrivateKeyFile-
  // Blocking, mode 0600, logged as a warning). Null with `error` set on failure.
  static std::shared_ptr<const DemoIdentityProvider> loadBlocking(
      const config::SpaceSettings& settings, std::string& error);
  // A key in memory (tests). Null with `error` set if the issuer or kid is empty or the
  // lifetime is not positive.
  static std::shared_ptr<const DemoIdentityProvider> fromKey(std::string issuer, std::string kid,
                                                             signing::PrivateKey key,
                                                             std::string audience,
                                                             std::chrono::seconds token_lifetime,
                                                             std::string& error);

  // A token for `citizen` (an IIN; a BIN is refused: std::nullopt) with claims
  // {iss, sub: "IIN:…", aud, iat: now (whole seconds), exp: iat + token_lifetime} and header
  // {alg, kid, typ: "JWT"}. std::nullopt also if OpenSSL fails to sign.
  std::optional<std::string> mint(const common::SubjectId& citizen,
                                  std::chrono::system_clock::time_point now) const;

  const std::string& issuer() const noexcept { return issuer_; }
  const std::string& kid() const noexcept { return kid_; }
  JwsAlgorithm algorithm() const noexcept { return jwsAlgorithmOf(key_.algorithm()); }
  std::chrono::seconds tokenLifetime() const noexcept { return lifetime_; }
  // This provider as a registry entry (its public key under its kid); std::nullopt only if
  // OpenSSL cannot derive the public key.
  std::optional<TrustedIssuer> trustedIssuer() const;

  DemoIdentityProvider(std::string issuer, std::string kid, signing::PrivateKey key,
                       std::string audience, std::chrono::seconds lifetime)
      : issuer_(std::move(issuer)),
        kid_(std::move(kid)),
        key_(std::move(key)),
        audience_(std::move(audience)),
        lifetime_(lifetime) {}

 private:
  std::string issuer_;
  std::string kid_;
  signing::PrivateKey key_;
  std::string audience_;
  std::chrono::seconds lifetime_;
};

}  // namespace qaqpa::space
