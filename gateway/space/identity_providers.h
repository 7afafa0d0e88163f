// The trusted identity providers of the citizen's digital space (PROTOCOL.md §7): for each
// issuer (the `iss` claim) the public keys that may sign its citizens' tokens, plus the bounds
// every token must meet (audience, clock skew, lifetime). jwt.h verifies tokens against it.
//
// Built once per configuration snapshot: loadBlocking() reads the PEM files named by
// config::SpaceSettings (file I/O: control thread or blocking pool, never a worker), or
// fromIssuers() takes keys already in memory (tests, tools). Immutable afterwards: share it as
// std::shared_ptr<const IdentityProviderRegistry>; every const member may be called concurrently
// from any thread and never blocks. Nothing throws; build problems are returned in `error`, all of
// them, one per line, each with its config path (never key material).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/signing/keys.h"

namespace qaqpa::space {

class DemoIdentityProvider;

// JWS `alg` values this gateway accepts (RFC 7518 §3.1 / RFC 8037 §3.1). Nothing else: not
// `none`, no HMAC (HS256/384/512), no RSA.
enum class JwsAlgorithm : std::uint8_t { EdDSA, ES256 };
std::string_view jwsAlgorithmName(JwsAlgorithm alg) noexcept;  // "EdDSA", "ES256"
// Exact, case-sensitive match; anything else is std::nullopt.
std::optional<JwsAlgorithm> parseJwsAlgorithm(std::string_view name) noexcept;
// EdDSA <-> Ed25519, ES256 <-> ECDSA P-256 with SHA-256.
signing::Algorithm keyAlgorithmOf(JwsAlgorithm alg) noexcept;
JwsAlgorithm jwsAlgorithmOf(signing::Algorithm alg) noexcept;

struct TrustedKey {
  std::string kid;
  JwsAlgorithm alg = JwsAlgorithm::EdDSA;
  signing::PublicKey key;  // its type matches `alg` (checked by the builders)
};

struct TrustedIssuer {
  std::string issuer;  // compared byte for byte with `iss`
  std::vector<TrustedKey> keys;
};

struct TokenPolicy {
  std::string audience = "qaqpa-space";
  std::chrono::milliseconds max_clock_skew{60'000};
  std::chrono::milliseconds max_token_lifetime{3'600'000};
};

class IdentityProviderRegistry {
 public:
  // From the `space:` config section: every identity_providers[i].keys[j] file is read and must
  // be an SPKI PEM of the type its `alg` names. `demo`, when not null, is added as one more
  // issuer (its issuer name and kid must be unused). Null with `error` set on any problem.
  static std::shared_ptr<const IdentityProviderRegistry> loadBlocking(
      const config::SpaceSettings& settings, const DemoIdentityProvider* demo, std::string& error);
  // Same checks on keys in memory: issuers non-empty and unique, each with >= 1 key, kids
  // non-empty and unique across all issuers, key type == alg.
  static std::shared_ptr<const IdentityProviderRegistry> fromIssuers(
      TokenPolicy policy, std::vector<TrustedIssuer> issuers, std::string& error);

  const TokenPolicy& policy() const noexcept { return policy_; }
  // Null when `iss` is not a trusted issuer.
  const TrustedIssuer* findIssuer(std::string_view iss) const noexcept;
  // Null when `kid` is not one of `issuer`'s keys (a kid of another issuer is not found).
  static const TrustedKey* findKey(const TrustedIssuer& issuer, std::string_view kid) noexcept;
  const std::vector<TrustedIssuer>& issuers() const noexcept { return issuers_; }

 private:
  IdentityProviderRegistry(TokenPolicy policy, std::vector<TrustedIssuer> issuers)
      : policy_(std::move(policy)), issuers_(std::move(issuers)) {}
  TokenPolicy policy_;
  std::vector<TrustedIssuer> issuers_;
};

}  // namespace qaqpa::space
