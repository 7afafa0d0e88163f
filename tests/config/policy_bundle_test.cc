// The policy bundle: one failing fixture per rule, references, the grant index and the digest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/config/config.h"
#include "tests/config/config_fixture.h"

namespace qaqpa::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing_support::ConfigTest;
using testing_support::HasError;
using testing_support::kPopulationYaml;
using testing_support::kSystemsYaml;

constexpr const char* kPop = "providers/population-register.yaml";

// The population-register file with its single service replaced by `service` (a YAML mapping
// written at list-item indentation, without the leading "- ").
std::string popWithService(const std::string& service, const std::string& grants = "") {
  return "provider: KZ/GOV/240140000011/population-register\nservices:\n  - " + service +
         (grants.empty() ? "" : "grants:\n" + grants);
}

constexpr const char* kPersonService = R"(id: person.byIin
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8180
    exposed_zones: [state]
    personal_data: true
)";

std::string popWithGrant(const std::string& grant) {
  return popWithService(kPersonService, "  - " + grant);
}

TEST_F(ConfigTest, ValidBundleIsResolved) {
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const PolicyBundle& p = r.snapshot->policy;
  const Service* svc = p.findService("person.byIin");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(svc->provider, p.findSystem("KZ/GOV/240140000011/population-register"));
  EXPECT_EQ(svc->upstream.host, "127.0.0.1");
  EXPECT_EQ(svc->upstream.port, 8180);
  EXPECT_EQ(svc->upstream.base_path, "");
  EXPECT_EQ(svc->timeout, Millis{0});
  EXPECT_TRUE(svc->exposedTo(Zone::State));
  EXPECT_FALSE(svc->exposedTo(Zone::External));
  ASSERT_THAT(p.grants, SizeIs(1));
  EXPECT_EQ(p.grants[0].source_file, kPop);
  EXPECT_EQ(p.grants[0].legal_basis, "Tax Code");
  const auto* grants = p.findGrants("KZ/GOV/240140000021/tax-service", "person.byIin");
  ASSERT_NE(grants, nullptr);
  EXPECT_THAT(*grants, ElementsAre(&p.grants[0]));
  EXPECT_EQ(p.findGrants("KZ/COM/990340000014/bank-core", "person.byIin"), nullptr);
  EXPECT_EQ(p.findGrants("KZ/GOV/240140000021/tax-service", "person.byIi"), nullptr);
  EXPECT_EQ(r.snapshot->policy_digest.size(), 64u);
}

TEST_F(ConfigTest, MissingBundleFilesAreErrors) {
  std::filesystem::remove(dir_ / "systems.yaml");
  std::filesystem::remove(dir_ / "purposes.yaml");
  auto r = load();
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_THAT(r.errors, HasError("systems.yaml", "file is missing"));
  EXPECT_THAT(r.errors, HasError("purposes.yaml", "file is missing"));
}

TEST_F(ConfigTest, ProvidersDirectoryIsRequired) {
  std::filesystem::remove_all(dir_ / "providers");
  EXPECT_THAT(load().errors, HasError("providers/", "directory is missing"));
}

TEST_F(ConfigTest, StrayFilesInProvidersAreErrors) {
  write("providers/bank.yml", "provider: x\n");
  write("providers/notes.txt", "hello\n");
  write("providers/.population-register.yaml.swp", "editor junk");  // dotfiles are ignored
  std::filesystem::create_directories(dir_ / "providers" / "sub");
  auto r = load();
  EXPECT_THAT(r.errors, HasError("providers/", "'providers/bank.yml'; provider files must end"));
  EXPECT_THAT(r.errors, HasError("providers/", "'providers/notes.txt'"));
  EXPECT_THAT(r.errors, HasError("providers/", "unexpected entry 'providers/sub'"));
  EXPECT_THAT(r.errors, SizeIs(3));
}

TEST_F(ConfigTest, SystemIdsAreValidated) {
  write("systems.yaml", std::string(kSystemsYaml) + R"(  - id: KZ/GOV/240140000012/bad-bin
    zone: state
    name: {kk: a, ru: b, en: c}
  - id: kz/gov/x
    zone: state
    name: {kk: a, ru: b, en: c}
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].id", "fails the BIN check digit"));
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[4].id", "not a valid system id"));
}

TEST_F(ConfigTest, SystemZoneAndNameAreValidated) {
  write("systems.yaml", std::string(kSystemsYaml) + R"(  - id: KZ/GOV/240140000031/social-benefits
    zone: space
    name: {kk: a, ru: "  ", de: c}
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].zone", "unknown zone 'space'"));
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].name.ru", "must not be empty"));
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].name.de", "unknown key 'de'"));
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].name.en", "required key 'en'"));
}

TEST_F(ConfigTest, DuplicateSystemsAreErrors) {
  write("systems.yaml", std::string(kSystemsYaml) + R"(  - id: KZ/COM/990340000014/bank-core
    zone: external
    name: {kk: a, ru: b, en: c}
)");
  EXPECT_THAT(load().errors, HasError("systems.yaml: systems[3].id", "declared more than once"));
}

TEST_F(ConfigTest, PurposesAreValidated) {
  write("purposes.yaml", R"(purposes:
  - code: TAX_ADMINISTRATION
    text: {kk: a, ru: b, en: c}
  - code: TAX_ADMINISTRATION
    text: {kk: a, ru: b, en: c}
  - code: kyc
    text: {kk: a, ru: b, en: c}
  - code: KYC
    text: just one language
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError("purposes.yaml: purposes[1].code", "declared more than once"));
  EXPECT_THAT(r.errors, HasError("purposes.yaml: purposes[2].code", "not a valid purpose code"));
  EXPECT_THAT(r.errors, HasError("purposes.yaml: purposes[3].text", "expected a mapping"));
  EXPECT_THAT(r.errors, SizeIs(3));
}

TEST_F(ConfigTest, ProviderMustBeARegisteredSystem) {
  write("providers/ghost.yaml", "provider: KZ/GOV/240140000031/social-benefits\n");
  EXPECT_THAT(load().errors, HasError("providers/ghost.yaml: provider", "not a registered system"));
}

TEST_F(ConfigTest, OneFilePerProvider) {
  write("providers/again.yaml", "provider: KZ/GOV/240140000011/population-register\n");
  // "again" sorts first, so the original file is the one reported.
  EXPECT_THAT(load().errors, HasError(std::string(kPop) + ": provider",
                                      "already has a policy file, providers/again.yaml"));
}

TEST_F(ConfigTest, GrantsOnlyForOwnServices) {
  write("providers/tax-service.yaml", R"(provider: KZ/GOV/240140000021/tax-service
grants:
  - client: KZ/COM/990340000014/bank-core
    services: [person.byIin]
    purposes: [TAX_ADMINISTRATION]
    legal_basis: none really
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError("providers/tax-service.yaml: grants[0].services[0]",
                                 "belongs to provider 'KZ/GOV/240140000011/population-register'"));
  EXPECT_THAT(r.errors, SizeIs(1));
}

TEST_F(ConfigTest, GrantReferencesMustExist) {
  write(kPop, popWithGrant(R"(client: KZ/GOV/240140000031/social-benefits
    services: [person.byIin, person.byName]
    purposes: [TAX_ADMINISTRATION, MARKETING]
    legal_basis: x
)"));
  auto r = load();
  EXPECT_THAT(r.errors, HasError(std::string(kPop) + ": grants[0].client", "not a registered"));
  EXPECT_THAT(r.errors, HasError(std::string(kPop) + ": grants[0].services[1]", "unknown service"));
  EXPECT_THAT(r.errors,
              HasError(std::string(kPop) + ": grants[0].purposes[1]", "unknown purpose code"));
  EXPECT_THAT(r.errors, SizeIs(3));
}

TEST_F(ConfigTest, PersonalDataGrantNeedsAPurpose) {
  write(kPop, popWithGrant(R"(client: KZ/GOV/240140000021/tax-service
    services: [person.byIin]
    legal_basis: x
)"));
  EXPECT_THAT(load().errors, HasError(std::string(kPop) + ": grants[0].purposes",
                                      "returns personal data: the grant must list at least one"));
  write(kPop, popWithGrant(R"(client: KZ/GOV/240140000021/tax-service
    services: [person.byIin]
    purposes: []
    legal_basis: x
)"));
  EXPECT_THAT(load().errors, HasError(std::string(kPop) + ": grants[0].purposes", "at least one"));
}

TEST_F(ConfigTest, NonPersonalGrantMayOmitPurposes) {
  write(kPop, popWithService(R"(id: registry.stats
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8180
    exposed_zones: [state]
    personal_data: false
)",
                             R"(  - client: KZ/GOV/240140000021/tax-service
    services: [registry.stats]
    legal_basis: public statistics
)"));
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const auto* grants =
      r.snapshot->policy.findGrants("KZ/GOV/240140000021/tax-service", "registry.stats");
  ASSERT_NE(grants, nullptr);
  EXPECT_THAT((*grants)[0]->purposes, IsEmpty());
  EXPECT_FALSE((*grants)[0]->allowsPurpose("TAX_ADMINISTRATION"));
}

TEST_F(ConfigTest, GrantFieldsAreValidated) {
  write(kPop, popWithGrant(R"(client: KZ/GOV/240140000021/tax-service
    services: []
    purposes: [TAX_ADMINISTRATION, TAX_ADMINISTRATION]
    legal_basis: ""
    expires: 2030-01-01
)"));
  auto r = load();
  const std::string g = std::string(kPop) + ": grants[0]";
  EXPECT_THAT(r.errors, HasError(g + ".services", "list at least one service"));
  EXPECT_THAT(r.errors, HasError(g + ".purposes[1]", "listed more than once"));
  EXPECT_THAT(r.errors, HasError(g + ".legal_basis", "must not be empty"));
  EXPECT_THAT(r.errors, HasError(g + ".expires", "unknown key 'expires'"));
  write(kPop, popWithGrant("client: KZ/GOV/240140000021/tax-service\n"
                           "    services: [person.byIin]\n    purposes: [TAX_ADMINISTRATION]\n"));
  EXPECT_THAT(load().errors, HasError(g + ".legal_basis", "required key 'legal_basis'"));
}

TEST_F(ConfigTest, ServiceIdsAreValidatedAndUnique) {
  write("providers/tax-service.yaml", R"(provider: KZ/GOV/240140000021/tax-service
services:
  - id: person.byIin
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8182
    exposed_zones: [state]
    personal_data: true
  - id: Tax.debt
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8182
    exposed_zones: [state]
    personal_data: true
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError("providers/tax-service.yaml: services[0].id",
                                 "already declared in providers/population-register.yaml"));
  EXPECT_THAT(r.errors,
              HasError("providers/tax-service.yaml: services[1].id", "not a valid service id"));
  EXPECT_THAT(r.errors, SizeIs(2));
}

TEST_F(ConfigTest, ServicesAreExposedOnlyToZones) {
  write(kPop, popWithService(R"(id: person.byIin
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8180
    exposed_zones: [state, space, mars, state]
    personal_data: true
)"));
  auto r = load();
  const std::string s = std::string(kPop) + ": services[0].exposed_zones";
  EXPECT_THAT(r.errors, HasError(s + "[1]", "'space' is a listener, not a zone"));
  EXPECT_THAT(r.errors, HasError(s + "[2]", "unknown zone 'mars'"));
  EXPECT_THAT(r.errors, HasError(s + "[3]", "listed more than once"));
  write(kPop, popWithService(R"(id: person.byIin
    name: {kk: a, ru: b, en: c}
    upstream: http://127.0.0.1:8180
    exposed_zones: []
    personal_data: true
)"));
  EXPECT_THAT(load().errors, HasError(s, "list at least one zone"));
}

TEST_F(ConfigTest, ServiceRequiredKeysAndTypes) {
  write(kPop, popWithService(R"(id: person.byIin
    upstrem: http://127.0.0.1:8180
    exposed_zones: state
    personal_data: "true"
    data_categories: [Identity]
    timeout: 0s
)"));
  auto r = load();
  const std::string s = std::string(kPop) + ": services[0]";
  EXPECT_THAT(r.errors, HasError(s + ".upstrem", "unknown key 'upstrem'; allowed here: id, name"));
  EXPECT_THAT(r.errors, HasError(s + ".upstream", "required key 'upstream' is missing"));
  EXPECT_THAT(r.errors, HasError(s + ".name", "required key 'name' is missing"));
  EXPECT_THAT(r.errors, HasError(s + ".exposed_zones", "expected a list"));
  EXPECT_THAT(r.errors, HasError(s + ".personal_data", "expected true or false"));
  EXPECT_THAT(r.errors, HasError(s + ".data_categories[0]", "not a valid data category"));
  EXPECT_THAT(r.errors, HasError(s + ".timeout", "out of range"));
  EXPECT_THAT(r.errors, SizeIs(7));
}

struct UpstreamCase {
  const char* url;
  const char* error;  // nullptr: valid
  const char* host = "";
  int port = 0;
  const char* base_path = "";
};

class UpstreamUrlTest : public ConfigTest, public ::testing::WithParamInterface<UpstreamCase> {};

TEST_P(UpstreamUrlTest, IsValidated) {
  const UpstreamCase& c = GetParam();
  write(kPop, popWithService("id: person.byIin\n    name: {kk: a, ru: b, en: c}\n"
                             "    upstream: \"" +
                             std::string(c.url) +
                             "\"\n"
                             "    exposed_zones: [state]\n    personal_data: true\n"));
  auto r = load();
  if (c.error == nullptr) {
    ASSERT_THAT(r.errors, IsEmpty());
    const Upstream& u = r.snapshot->policy.findService("person.byIin")->upstream;
    EXPECT_EQ(u.scheme, "http");
    EXPECT_EQ(u.host, c.host);
    EXPECT_EQ(u.port, c.port);
    EXPECT_EQ(u.base_path, c.base_path);
  } else {
    EXPECT_THAT(r.errors, HasError(std::string(kPop) + ": services[0].upstream", c.error));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Urls, UpstreamUrlTest,
    ::testing::Values(
        UpstreamCase{"http://127.0.0.1:8180", nullptr, "127.0.0.1", 8180, ""},
        UpstreamCase{"http://reg.gov.kz:1/base/", nullptr, "reg.gov.kz", 1, "/base"},
        UpstreamCase{"HTTP://h:65535/a/b", nullptr, "h", 65535, "/a/b"},
        UpstreamCase{"http://reg.gov.kz/api", nullptr, "reg.gov.kz", 80, "/api"},
        UpstreamCase{"http://[::1]:8180/", nullptr, "::1", 8180, ""},
        UpstreamCase{"https://127.0.0.1:8443", "https upstreams are not supported yet"},
        UpstreamCase{"ftp://127.0.0.1:21", "expected http://host:port[/path]"},
        UpstreamCase{"127.0.0.1:8180", "expected http://host:port[/path]"},
        UpstreamCase{"http://:8180/x", "host is empty"}, UpstreamCase{"http://", "host is empty"},
        UpstreamCase{"http://h:0", "port must be 1..65535"},
        UpstreamCase{"http://h:65536", "port must be 1..65535"},
        UpstreamCase{"http://h:", "port must be 1..65535"},
        UpstreamCase{"http://h:80x", "port must be 1..65535"},
        UpstreamCase{"http://h_1:80", "invalid upstream host"},
        UpstreamCase{"http://u@h:80", "without spaces, user info"},
        UpstreamCase{"http://h:80/a?b=1", "query"}, UpstreamCase{"http://h:80/a b", "spaces"},
        UpstreamCase{"http://[::1:80", "unterminated IPv6"}));

TEST_F(ConfigTest, SyntaxErrorInAProviderFileNamesFileAndLine) {
  write(kPop, "provider: KZ/GOV/240140000011/population-register\nservices: [\n");
  auto r = load();
  EXPECT_THAT(r.errors,
              ::testing::Contains(::testing::Field(
                  &ConfigError::where,
                  ::testing::MatchesRegex("providers/population-register\\.yaml:[0-9]+:[0-9]+"))));
  // The tax service's grant still loads; only the broken file is reported.
  EXPECT_THAT(r.errors, SizeIs(1));
}

TEST_F(ConfigTest, NulBytesAreRejected) {
  write("purposes.yaml", std::string("purposes: []\n\0", 14));
  EXPECT_THAT(load().errors, HasError("purposes.yaml", "NUL byte"));
}

TEST_F(ConfigTest, EveryErrorIsCollectedAcrossFiles) {
  gatewayWith("workers: many\n");
  write("systems.yaml", std::string(kSystemsYaml) + "  - id: KZ/GOV/240140000031/x\n");
  write("purposes.yaml", "purposes:\n  - code: TAX_ADMINISTRATION\n    text: {kk: a, ru: b}\n");
  write(kPop, std::string(kPopulationYaml) + "extra: 1\n");
  auto r = load();
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_THAT(r.errors, HasError(gw("workers"), "expected an integer"));
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].zone", "required key 'zone'"));
  EXPECT_THAT(r.errors, HasError("systems.yaml: systems[3].name", "required key 'name'"));
  EXPECT_THAT(r.errors, HasError("purposes.yaml: purposes[0].text.en", "required key 'en'"));
  EXPECT_THAT(r.errors, HasError(std::string(kPop) + ": extra", "unknown key 'extra'"));
  EXPECT_THAT(r.errors, SizeIs(5));
}

TEST_F(ConfigTest, ErrorsCarryTheLine) {
  write(kPop, std::string(kPopulationYaml) + "extra: 1\n");
  EXPECT_THAT(load().errors, HasError(std::string(kPop) + ": extra", "(line 13)"));
}

TEST_F(ConfigTest, DigestTracksBundleBytesOnly) {
  auto first = load();
  ASSERT_THAT(first.errors, IsEmpty());
  const std::string digest = first.snapshot->policy_digest;
  EXPECT_THAT(digest, ::testing::MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(load().snapshot->policy_digest, digest);  // stable

  gatewayWith("workers: 2\n");  // the gateway file is not part of the bundle
  EXPECT_EQ(load().snapshot->policy_digest, digest);

  write(kPop, std::string(kPopulationYaml) + "# a comment is a change too\n");
  const std::string changed = load().snapshot->policy_digest;
  EXPECT_NE(changed, digest);

  write(kPop, kPopulationYaml);
  EXPECT_EQ(load().snapshot->policy_digest, digest);

  // Same bytes under another name is another bundle.
  std::filesystem::rename(dir_ / kPop, dir_ / "providers/population.yaml");
  EXPECT_NE(load().snapshot->policy_digest, digest);
}

}  // namespace
}  // namespace qaqpa::config
