#include "gateway/server/key_files.h"

#include <filesystem>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/signing/key_generation.h"

namespace qaqpa::server {

std::shared_ptr<const signing::GatewayKeySet> loadGatewayKeysBlocking(
    const config::SigningSettings& settings, std::string& error) {
  std::vector<signing::GatewayKeySpec> specs;
  for (const config::SigningKeyConfig& k : settings.keys) {
    if (!k.generate.empty() && !std::filesystem::exists(k.private_key_file)) {
      const auto alg = signing::parseAlgorithm(k.generate);  // the loader admitted only these
      std::string why;
      if (!alg || !signing::generatePrivateKeyFileBlocking(*alg, k.private_key_file, why)) {
        error = "signing.keys " + k.kid + ": " + (alg ? why : "unknown algorithm " + k.generate);
        return nullptr;
      }
      common::log(common::LogLevel::Warn, "generated a demo signing key (demo mode only)",
                  {{"kid", k.kid}, {"alg", k.generate}, {"file", k.private_key_file}});
    }
    specs.push_back({k.kid, k.private_key_file, k.public_key_file, k.active});
  }
  std::vector<signing::GatewayKeyError> errors;
  auto set = signing::GatewayKeySet::loadBlocking(specs, errors);
  if (!set) {
    for (const auto& e : errors) {
      if (!error.empty()) error += "\n";
      error += "signing.keys";
      if (e.index != signing::GatewayKeyError::kWholeSet) {
        error += "[" + std::to_string(e.index) + "]";
      }
      if (!e.kid.empty()) error += " (" + e.kid + ")";
      error += ": " + e.message;
    }
  }
  return set;
}

}  // namespace qaqpa::server
