#include "gateway/space/demo_idp.h"

#include <filesystem>

#include <boost/json.hpp>

#include "gateway/common/log.h"
#include "gateway/signing/gateway_keys.h"
#include "gateway/signing/key_generation.h"

namespace qaqpa::space {

std::shared_ptr<const DemoIdentityProvider> DemoIdentityProvider::fromKey(
    std::string issuer, std::string kid, signing::PrivateKey key, std::string audience,
    std::chrono::seconds token_lifetime, std::string& error) {
  if (issuer.empty() || kid.empty() || audience.empty() || token_lifetime.count() <= 0) {
    error =
        "space.demo_identity_provider: issuer, kid, audience and a positive token_lifetime "
        "are required";
    return nullptr;
  }
  return std::make_shared<const DemoIdentityProvider>(
      std::move(issuer), std::move(kid), std::move(key), std::move(audience), token_lifetime);
}

std::shared_ptr<const DemoIdentityProvider> DemoIdentityProvider::loadBlocking(
    const config::SpaceSettings& settings, std::string& error) {
  const config::DemoIdentityProviderConfig& d = settings.demo_identity_provider;
  if (!d.enabled) {
    error = "space.demo_identity_provider: not enabled";
    return nullptr;
  }
  std::error_code ec;
  if (!d.generate.empty() && !std::filesystem::exists(d.private_key_file, ec)) {
    const auto alg = signing::parseAlgorithm(d.generate);  // the loader admitted only these
    std::string why;
    if (!alg || !signing::generatePrivateKeyFileBlocking(*alg, d.private_key_file, why)) {
      error = "space.demo_identity_provider: " + (alg ? why : "unknown algorithm " + d.generate);
      return nullptr;
    }
    common::log(common::LogLevel::Warn, "generated the demo identity provider's key (demo only)",
                {{"kid", d.kid}, {"alg", d.generate}, {"file", d.private_key_file}});
  }
  std::string why;
  auto key = signing::PrivateKey::loadPemFileBlocking(d.private_key_file, &why);
  if (!key) {
    error = "space.demo_identity_provider.private_key_file: " + d.private_key_file + ": " + why;
    return nullptr;
  }
  return fromKey(d.issuer, d.kid, std::move(*key), settings.audience,
                 std::chrono::duration_cast<std::chrono::seconds>(d.token_lifetime), error);
}

std::optional<std::string> DemoIdentityProvider::mint(
    const common::SubjectId& citizen, std::chrono::system_clock::time_point now) const {
  if (citizen.kind != common::SubjectKind::Iin || !common::isValidIinBin(citizen.digits)) {
    return std::nullopt;
  }
  const std::int64_t iat =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  boost::json::object header;
  header["alg"] = jwsAlgorithmName(algorithm());
  header["kid"] = kid_;
  header["typ"] = "JWT";
  boost::json::object claims;
  claims["iss"] = issuer_;
  claims["sub"] = citizen.toString();
  claims["aud"] = audience_;
  claims["iat"] = iat;
  claims["exp"] = iat + lifetime_.count();
  std::string input = signing::base64UrlEncode(boost::json::serialize(header));
  input += '.';
  input += signing::base64UrlEncode(boost::json::serialize(claims));
  const auto signature = signing::sign(key_, input);
  if (!signature) return std::nullopt;
  input += '.';
  input += signing::base64UrlEncode(*signature);
  return input;
}

std::optional<TrustedIssuer> DemoIdentityProvider::trustedIssuer() const {
  auto pub = key_.publicKey();
  if (!pub) return std::nullopt;
  TrustedIssuer issuer{issuer_, {}};
  issuer.keys.push_back(TrustedKey{kid_, algorithm(), std::move(*pub)});
  return issuer;
}

}  // namespace qaqpa::space
