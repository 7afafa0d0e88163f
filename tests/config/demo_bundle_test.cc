// The shipped demo bundle (policies/demo/, PRODUCT.md) loads cleanly and says what PRODUCT.md says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "gateway/common/ids.h"
#include "gateway/config/config.h"
#include "tests/config/config_fixture.h"

#ifndef QAQPA_SOURCE_DIR
#error "QAQPA_SOURCE_DIR must point at the repository (tests/config/CMakeLists.txt sets it)"
#endif

namespace qaqpa::config {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr const char* kPopulation = "KZ/GOV/240140000011/population-register";
constexpr const char* kLegal = "KZ/GOV/240140000041/legal-entity-register";
constexpr const char* kTax = "KZ/GOV/240140000021/tax-service";
constexpr const char* kSocial = "KZ/GOV/240140000031/social-benefits";
constexpr const char* kBank = "KZ/COM/990340000014/bank-core";
constexpr const char* kPeer = "AM/INT/AMGW/national-gateway";

class DemoBundle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    result_ = new LoadResult(
        loadSnapshotBlocking(std::string(QAQPA_SOURCE_DIR) + "/policies/demo/qaqpa.yaml"));
  }
  static void TearDownTestSuite() {
    delete result_;
    result_ = nullptr;
  }
  const Snapshot& snap() const { return *result_->snapshot; }
  const PolicyBundle& policy() const { return result_->snapshot->policy; }

  static LoadResult* result_;
};
LoadResult* DemoBundle::result_ = nullptr;

TEST_F(DemoBundle, LoadsWithoutErrors) {
  ASSERT_THAT(result_->errors, IsEmpty());
  ASSERT_NE(result_->snapshot, nullptr);
  EXPECT_THAT(snap().policy_digest, ::testing::MatchesRegex("[0-9a-f]{64}"));
}

TEST_F(DemoBundle, MemberBinsHaveValidCheckDigits) {
  for (const char* bin :
       {"240140000011", "240140000041", "240140000021", "240140000031", "990340000014"}) {
    EXPECT_TRUE(common::isValidIinBin(bin)) << bin;
  }
}

TEST_F(DemoBundle, GatewayFileMatchesTheDemoPorts) {
  ASSERT_NE(result_->snapshot, nullptr);
  const GatewayConfig& g = snap().gateway;
  EXPECT_EQ(g.node_id, "kz-qaqpa-demo-1");
  EXPECT_TRUE(g.demo_trust_client_header);
  ASSERT_THAT(g.listeners, SizeIs(5));
  const int expected[] = {8080, 8081, 8082, 8083, 9090};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(g.listeners[i].kind, static_cast<ListenerKind>(i));
    EXPECT_EQ(g.listeners[i].address, "127.0.0.1");
    EXPECT_EQ(g.listeners[i].port, expected[i]);
  }
  EXPECT_EQ(g.policy_dir, std::filesystem::path(std::string(QAQPA_SOURCE_DIR) + "/policies/demo")
                              .lexically_normal()
                              .string());
}

TEST_F(DemoBundle, SystemsAndZones) {
  ASSERT_NE(result_->snapshot, nullptr);
  EXPECT_THAT(policy().systems, SizeIs(6));
  for (const char* id : {kPopulation, kLegal, kTax, kSocial}) {
    ASSERT_NE(policy().findSystem(id), nullptr) << id;
    EXPECT_EQ(policy().findSystem(id)->zone, Zone::State) << id;
  }
  EXPECT_EQ(policy().findSystem(kBank)->zone, Zone::External);
  EXPECT_EQ(policy().findSystem(kPeer)->zone, Zone::International);
  for (const auto& [id, system] : policy().systems) {
    EXPECT_FALSE(system.name.kk.empty() || system.name.ru.empty() || system.name.en.empty());
  }
  EXPECT_THAT(policy().purposes, SizeIs(4));
  for (const char* code : {"TAX_ADMINISTRATION", "SOCIAL_BENEFITS", "CREDIT_SCORING", "KYC"}) {
    EXPECT_NE(policy().findPurpose(code), nullptr) << code;
  }
}

TEST_F(DemoBundle, Services) {
  ASSERT_NE(result_->snapshot, nullptr);
  EXPECT_THAT(policy().services, SizeIs(3));
  const Service* person = policy().findService("person.byIin");
  const Service* legal = policy().findService("legalEntity.byBin");
  const Service* tax = policy().findService("tax.debtStatus");
  ASSERT_TRUE(person && legal && tax);
  EXPECT_EQ(person->provider->id, kPopulation);
  EXPECT_TRUE(person->personal_data);
  EXPECT_EQ(person->upstream.port, 8180);
  EXPECT_THAT(person->exposed_zones, UnorderedElementsAre(Zone::State, Zone::External));
  EXPECT_EQ(legal->provider->id, kLegal);
  EXPECT_FALSE(legal->personal_data);
  EXPECT_EQ(legal->upstream.port, 8181);
  EXPECT_THAT(legal->exposed_zones,
              UnorderedElementsAre(Zone::State, Zone::External, Zone::International));
  EXPECT_EQ(tax->provider->id, kTax);
  EXPECT_TRUE(tax->personal_data);
  EXPECT_EQ(tax->upstream.port, 8182);
  EXPECT_THAT(tax->exposed_zones, UnorderedElementsAre(Zone::State));
}

TEST_F(DemoBundle, GrantsAsInProductMd) {
  ASSERT_NE(result_->snapshot, nullptr);
  EXPECT_THAT(policy().grants, SizeIs(6));
  auto allows = [&](const char* client, const char* service, const char* purpose) {
    const auto* grants = policy().findGrants(client, service);
    if (grants == nullptr) return false;
    for (const Grant* g : *grants) {
      if (g->allowsPurpose(purpose)) return true;
    }
    return false;
  };
  EXPECT_TRUE(allows(kTax, "person.byIin", "TAX_ADMINISTRATION"));
  EXPECT_TRUE(allows(kSocial, "person.byIin", "SOCIAL_BENEFITS"));
  EXPECT_TRUE(allows(kSocial, "tax.debtStatus", "SOCIAL_BENEFITS"));
  EXPECT_TRUE(allows(kBank, "person.byIin", "CREDIT_SCORING"));
  EXPECT_TRUE(allows(kBank, "legalEntity.byBin", "KYC"));
  EXPECT_NE(policy().findGrants(kPeer, "legalEntity.byBin"), nullptr);

  EXPECT_FALSE(allows(kTax, "person.byIin", "CREDIT_SCORING"));
  EXPECT_FALSE(allows(kBank, "person.byIin", "TAX_ADMINISTRATION"));
  EXPECT_EQ(policy().findGrants(kBank, "tax.debtStatus"), nullptr);
  EXPECT_EQ(policy().findGrants(kPeer, "person.byIin"), nullptr);
  for (const Grant& g : policy().grants) {
    EXPECT_FALSE(g.legal_basis.empty());
    EXPECT_THAT(g.source_file, ::testing::StartsWith("providers/"));
  }
}

}  // namespace
}  // namespace qaqpa::config
