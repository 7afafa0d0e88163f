#include "gateway/space/identity_providers.h"

#include <algorithm>

#include "gateway/space/demo_idp.h"

namespace qaqpa::space {

std::string_view jwsAlgorithmName(JwsAlgorithm alg) noexcept {
  return alg == JwsAlgorithm::EdDSA ? "EdDSA" : "ES256";
}

std::optional<JwsAlgorithm> parseJwsAlgorithm(std::string_view name) noexcept {
  if (name == "EdDSA") return JwsAlgorithm::EdDSA;
  if (name == "ES256") return JwsAlgorithm::ES256;
  return std::nullopt;
}

signing::Algorithm keyAlgorithmOf(JwsAlgorithm alg) noexcept {
  return alg == JwsAlgorithm::EdDSA ? signing::Algorithm::Ed25519
                                    : signing::Algorithm::EcdsaP256Sha256;
}

JwsAlgorithm jwsAlgorithmOf(signing::Algorithm alg) noexcept {
  return alg == signing::Algorithm::Ed25519 ? JwsAlgorithm::EdDSA : JwsAlgorithm::ES256;
}

namespace {

void addError(std::string& error, const std::string& line) {
  if (!error.empty()) error += "\n";
  error += line;
}

}  // namespace

std::shared_ptr<const IdentityProviderRegistry> IdentityProviderRegistry::fromIssuers(
    TokenPolicy policy, std::vector<TrustedIssuer> issuers, std::string& error) {
  const std::size_t errors_before = error.size();
  if (policy.audience.empty()) addError(error, "space.audience: must not be empty");
  if (policy.max_clock_skew.count() < 0) addError(error, "space.max_clock_skew: negative");
  if (policy.max_token_lifetime.count() <= 0) {
    addError(error, "space.max_token_lifetime: must be positive");
  }
  std::vector<std::string_view> kids;
  for (std::size_t i = 0; i < issuers.size(); ++i) {
    const TrustedIssuer& issuer = issuers[i];
    const std::string where = "identity provider '" + issuer.issuer + "'";
    if (issuer.issuer.empty())
      addError(error, "identity provider #" + std::to_string(i) + ": the issuer is empty");
    for (std::size_t j = 0; j < i; ++j) {
      if (issuers[j].issuer == issuer.issuer) addError(error, where + ": duplicate issuer");
    }
    if (issuer.keys.empty()) addError(error, where + ": no keys");
    for (const TrustedKey& key : issuer.keys) {
      if (key.kid.empty()) addError(error, where + ": a key has an empty kid");
      if (std::find(kids.begin(), kids.end(), key.kid) != kids.end()) {
        addError(error, where + ": duplicate key id '" + key.kid + "'");
      }
      kids.push_back(key.kid);
      if (key.key.algorithm() != keyAlgorithmOf(key.alg)) {
        addError(error, where + ": key '" + key.kid + "' is not an " +
                            std::string(jwsAlgorithmName(key.alg)) + " key");
      }
    }
  }
  if (error.size() != errors_before) return nullptr;
  return std::shared_ptr<const IdentityProviderRegistry>(
      new IdentityProviderRegistry(std::move(policy), std::move(issuers)));
}

std::shared_ptr<const IdentityProviderRegistry> IdentityProviderRegistry::loadBlocking(
    const config::SpaceSettings& settings, const DemoIdentityProvider* demo, std::string& error) {
  TokenPolicy policy{settings.audience, settings.max_clock_skew, settings.max_token_lifetime};
  std::vector<TrustedIssuer> issuers;
  bool ok = true;
  for (std::size_t i = 0; i < settings.identity_providers.size(); ++i) {
    const config::IdentityProviderConfig& idp = settings.identity_providers[i];
    TrustedIssuer issuer{idp.issuer, {}};
    for (std::size_t j = 0; j < idp.keys.size(); ++j) {
      const config::IdentityProviderKeyConfig& k = idp.keys[j];
      const std::string where = "space.identity_providers[" + std::to_string(i) + "].keys[" +
                                std::to_string(j) + "] (" + k.kid + ")";
      const auto alg = parseJwsAlgorithm(k.alg);
      if (!alg) {
        addError(error, where + ": unsupported alg '" + k.alg + "'");
        ok = false;
        continue;
      }
      std::string why;
      auto key = signing::PublicKey::loadPemFileBlocking(k.public_key_file, &why);
      if (!key) {
        addError(error, where + ": " + k.public_key_file + ": " + why);
        ok = false;
        continue;
      }
      if (key->algorithm() != keyAlgorithmOf(*alg)) {
        addError(error, where + ": " + k.public_key_file + " is not an " + k.alg + " key (" +
                            std::string(signing::algorithmName(key->algorithm())) + ")");
        ok = false;
        continue;
      }
      issuer.keys.push_back(TrustedKey{k.kid, *alg, std::move(*key)});
    }
    issuers.push_back(std::move(issuer));
  }
  if (demo != nullptr) {
    auto entry = demo->trustedIssuer();
    if (!entry) {
      addError(error, "space.demo_identity_provider: cannot derive its public key");
      ok = false;
    } else {
      issuers.push_back(std::move(*entry));
    }
  }
  if (!ok) return nullptr;
  return fromIssuers(std::move(policy), std::move(issuers), error);
}

const TrustedIssuer* IdentityProviderRegistry::findIssuer(std::string_view iss) const noexcept {
  for (const TrustedIssuer& issuer : issuers_) {
    if (issuer.issuer == iss) return &issuer;
  }
  return nullptr;
}

const TrustedKey* IdentityProviderRegistry::findKey(const TrustedIssuer& issuer,
                                                    std::string_view kid) noexcept {
  for (const TrustedKey& key : issuer.keys) {
    if (key.kid == kid) return &key;
  }
  return nullptr;
}

}  // namespace qaqpa::space
