// Shared by the config tests: a unique temporary directory per test holding a small valid gateway
// file and policy bundle, which each test breaks in one place.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>

#include "gateway/config/config.h"

namespace qaqpa::config {

inline void PrintTo(const ConfigError& e, std::ostream* os) {
  *os << "{" << e.where << ": " << e.message << "}";
}

namespace testing_support {

inline constexpr const char* kGatewayYaml = R"(node_id: test-node-1
data_dir: data
signing:
  keys:
    - {kid: test-key-1, private_key_file: gateway.key.pem, active: true}
listeners:
  state: {address: 127.0.0.1, port: 0}
  admin: {address: 127.0.0.1, port: 0}
)";

// What every complete gateway file needs besides listeners: where the journal goes and the key
// that signs responses and checkpoints (the fixture writes gateway.key.pem next to qaqpa.yaml).
inline constexpr const char* kDurableYaml = R"(data_dir: data
signing: {keys: [{kid: test-key-1, private_key_file: gateway.key.pem, active: true}]}
)";

inline constexpr const char* kSystemsYaml = R"(systems:
  - id: KZ/GOV/240140000011/population-register
    zone: state
    name: {kk: Халық тізілімі, ru: Регистр населения, en: Population register}
  - id: KZ/GOV/240140000021/tax-service
    zone: state
    name: {kk: Салық қызметі, ru: Налоговая служба, en: Tax service}
  - id: KZ/COM/990340000014/bank-core
    zone: external
    name: {kk: Банк, ru: Банк, en: Bank}
)";

inline constexpr const char* kPurposesYaml = R"(purposes:
  - code: TAX_ADMINISTRATION
    text: {kk: Салықтық әкімшілендіру, ru: Налоговое администрирование, en: Tax administration}
)";

inline constexpr const char* kPopulationYaml = R"(provider: KZ/GOV/240140000011/population-register
services:
  - id: person.byIin
    name: {kk: Жеке тұлға, ru: Физическое лицо, en: Person}
    upstream: http://127.0.0.1:8180
    exposed_zones: [state]
    personal_data: true
grants:
  - client: KZ/GOV/240140000021/tax-service
    services: [person.byIin]
    purposes: [TAX_ADMINISTRATION]
    legal_basis: Tax Code
)";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<unsigned> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::random_device rd;
    // Parameterised tests have '/' in their names; keep the directory one level deep.
    std::string name = std::string(info->test_suite_name()) + "-" + info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = std::filesystem::temp_directory_path() /
           ("qaqpa-config-" + name + "-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_ / "providers");
    write("qaqpa.yaml", kGatewayYaml);
    // The config layer checks that key files exist; parsing them is the signing layer's job.
    write("gateway.key.pem", "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n");
    write("systems.yaml", kSystemsYaml);
    write("purposes.yaml", kPurposesYaml);
    write("providers/population-register.yaml", kPopulationYaml);
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void write(const std::string& rel, const std::string& content) {
    const auto path = dir_ / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }

  // Appends `text` to the minimal gateway file (which has no trailing keys to clash with).
  void gatewayWith(const std::string& text) {
    write("qaqpa.yaml", std::string(kGatewayYaml) + text);
  }

  std::string gatewayPath() const { return (dir_ / "qaqpa.yaml").string(); }
  // The `where` of an error in the gateway file.
  std::string gw(const std::string& path) const { return gatewayPath() + ": " + path; }

  LoadResult load() { return loadSnapshotBlocking(gatewayPath()); }

  std::filesystem::path dir_;
};

// An error at exactly `where` whose message contains `text`.
inline auto HasError(const std::string& where, const std::string& text) {
  return ::testing::Contains(::testing::AllOf(
      ::testing::Field("where", &ConfigError::where, ::testing::Eq(where)),
      ::testing::Field("message", &ConfigError::message, ::testing::HasSubstr(text))));
}

}  // namespace testing_support
}  // namespace qaqpa::config
