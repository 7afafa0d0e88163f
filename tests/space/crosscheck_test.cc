// The C++ half of ctest space_python_crosscheck (crosscheck.py): verifies the tokens Python
// minted with an independent JWS implementation and mints tokens for Python to verify. Disabled
// unless run by crosscheck.py, which passes the exchange directory in QAQPA_SPACE_CROSSCHECK.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "gateway/space/demo_idp.h"
#include "gateway/space/identity_providers.h"
#include "gateway/space/jwt.h"
#include "tests/space/test_tokens.h"

namespace qaqpa::space {
namespace {

namespace json = boost::json;

json::value readJson(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

TEST(PythonCrossCheck, DISABLED_VerifyAndMint) {
  const char* dir_env = std::getenv("QAQPA_SPACE_CROSSCHECK");
  if (dir_env == nullptr) GTEST_SKIP() << "QAQPA_SPACE_CROSSCHECK not set";
  const std::filesystem::path dir = dir_env;
  const json::object cases = readJson(dir / "cases.json").as_object();
  const auto now = test::at(cases.at("now").as_int64());

  // The registry is built the way the gateway will build it: from config::SpaceSettings.
  config::SpaceSettings settings;
  config::IdentityProviderConfig idp;
  idp.issuer = str(cases.at("issuer"));
  for (const json::value& k : cases.at("keys").as_array()) {
    idp.keys.push_back({str(k.at("kid")), str(k.at("alg")), str(k.at("public_key_file"))});
  }
  settings.identity_providers.push_back(idp);
  std::string error;
  auto registry = IdentityProviderRegistry::loadBlocking(settings, nullptr, error);
  ASSERT_NE(registry, nullptr) << error;

  json::object results;
  for (const json::value& t : cases.at("tokens").as_array()) {
    const TokenResult r = verifyCitizenToken(str(t.at("token")), *registry, now);
    json::object out{{"status", tokenStatusName(r.status)}, {"detail", r.detail}};
    if (r.ok()) out["subject"] = r.subject.toString();
    results[str(t.at("name"))] = std::move(out);
  }

  json::array minted;
  for (const json::value& d : cases.at("demo").as_array()) {
    config::SpaceSettings demo_settings;
    demo_settings.demo_identity_provider.enabled = true;
    demo_settings.demo_identity_provider.kid = str(d.at("kid"));
    demo_settings.demo_identity_provider.private_key_file = str(d.at("private_key_file"));
    auto demo = DemoIdentityProvider::loadBlocking(demo_settings, error);
    ASSERT_NE(demo, nullptr) << error;
    for (std::string_view iin : {"IIN:900101300126", "IIN:870412450002"}) {
      const auto token = demo->mint(*common::parseSubject(iin).id, now);
      ASSERT_TRUE(token);
      minted.push_back(json::object{{"kid", demo->kid()},
                                    {"alg", jwsAlgorithmName(demo->algorithm())},
                                    {"issuer", demo->issuer()},
                                    {"subject", iin},
                                    {"lifetime", demo->tokenLifetime().count()},
                                    {"public_key_file", str(d.at("public_key_file"))},
                                    {"token", *token}});
    }
  }
  std::ofstream(dir / "results.json") << json::serialize(
      json::object{{"verified", std::move(results)}, {"minted", std::move(minted)}});
}

}  // namespace
}  // namespace qaqpa::space
