#include "gateway/space/identity_providers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/space/demo_idp.h"
#include "gateway/space/jwt.h"
#include "tests/space/test_tokens.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::space {
namespace {

using test::kNow;
using test::kNowSeconds;
using test::TestKey;
using ::testing::HasSubstr;

TEST(JwsAlgorithmNames, RoundTripExactly) {
  EXPECT_EQ(parseJwsAlgorithm("EdDSA"), JwsAlgorithm::EdDSA);
  EXPECT_EQ(parseJwsAlgorithm("ES256"), JwsAlgorithm::ES256);
  EXPECT_EQ(jwsAlgorithmName(JwsAlgorithm::EdDSA), "EdDSA");
  EXPECT_EQ(jwsAlgorithmName(JwsAlgorithm::ES256), "ES256");
  for (std::string_view bad : {"eddsa", "es256", "none", "HS256", "RS256", "Ed25519", ""}) {
    EXPECT_EQ(parseJwsAlgorithm(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(keyAlgorithmOf(JwsAlgorithm::ES256), signing::Algorithm::EcdsaP256Sha256);
  EXPECT_EQ(jwsAlgorithmOf(signing::Algorithm::Ed25519), JwsAlgorithm::EdDSA);
}

TEST(IdentityProviderRegistry, FromIssuersChecksTheSet) {
  TestKey ed(JwsAlgorithm::EdDSA);
  TestKey es(JwsAlgorithm::ES256);
  auto issuers = [&] {
    std::vector<TrustedIssuer> v;
    v.push_back(TrustedIssuer{"https://a", {}});
    v[0].keys.push_back(TrustedKey{"k1", JwsAlgorithm::EdDSA, ed.publicKey()});
    v.push_back(TrustedIssuer{"https://b", {}});
    v[1].keys.push_back(TrustedKey{"k2", JwsAlgorithm::ES256, es.publicKey()});
    return v;
  };
  std::string error;
  auto ok = IdentityProviderRegistry::fromIssuers(TokenPolicy{}, issuers(), error);
  ASSERT_NE(ok, nullptr) << error;
  EXPECT_EQ(ok->policy().audience, "qaqpa-space");
  ASSERT_NE(ok->findIssuer("https://b"), nullptr);
  EXPECT_EQ(ok->findIssuer("https://c"), nullptr);
  EXPECT_NE(IdentityProviderRegistry::findKey(*ok->findIssuer("https://a"), "k1"), nullptr);
  EXPECT_EQ(IdentityProviderRegistry::findKey(*ok->findIssuer("https://a"), "k2"), nullptr);

  auto dup_kid = issuers();
  dup_kid[1].keys[0].kid = "k1";
  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::fromIssuers(TokenPolicy{}, std::move(dup_kid), error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("duplicate key id 'k1'"));

  auto dup_iss = issuers();
  dup_iss[1].issuer = "https://a";
  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::fromIssuers(TokenPolicy{}, std::move(dup_iss), error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("duplicate issuer"));

  auto wrong_type = issuers();
  wrong_type[0].keys[0].alg = JwsAlgorithm::ES256;  // an Ed25519 key declared ES256
  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::fromIssuers(TokenPolicy{}, std::move(wrong_type), error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("is not an ES256 key"));

  auto no_keys = issuers();
  no_keys[1].keys.clear();
  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::fromIssuers(TokenPolicy{}, std::move(no_keys), error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("no keys"));

  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::fromIssuers(TokenPolicy{"", {}, std::chrono::hours(1)},
                                                  issuers(), error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("space.audience"));
}

class RegistryFilesTest : public ::testing::Test {
 protected:
  config::SpaceSettings settings() {
    config::SpaceSettings s;
    s.audience = "qaqpa-space";
    s.identity_providers.push_back(config::IdentityProviderConfig{
        "https://idp.egov.kz",
        {{"egov-ed", "EdDSA", dir_.write("ed.pub.pem", ed_.publicPem())},
         {"egov-es", "ES256", dir_.write("es.pub.pem", es_.publicPem())}}});
    return s;
  }
  test_support::TempDir dir_;
  TestKey ed_{JwsAlgorithm::EdDSA};
  TestKey es_{JwsAlgorithm::ES256};
};

TEST_F(RegistryFilesTest, LoadsTheConfiguredKeysAndTheyVerifyTokens) {
  std::string error;
  auto registry = IdentityProviderRegistry::loadBlocking(settings(), nullptr, error);
  ASSERT_NE(registry, nullptr) << error;
  const std::string claims = R"({"iss":"https://idp.egov.kz","sub":"IIN:900101300126",)"
                             R"("aud":"qaqpa-space","iat":1749999990,"exp":1750000300})";
  EXPECT_TRUE(verifyCitizenToken(test::token(es_, R"({"alg":"ES256","kid":"egov-es"})", claims),
                                 *registry, kNow)
                  .ok());
  EXPECT_TRUE(verifyCitizenToken(test::token(ed_, R"({"alg":"EdDSA","kid":"egov-ed"})", claims),
                                 *registry, kNow)
                  .ok());
}

TEST_F(RegistryFilesTest, EveryBadKeyFileIsReportedWithItsPath) {
  config::SpaceSettings s = settings();
  s.identity_providers[0].keys[0].alg = "ES256";  // the file holds an Ed25519 key
  s.identity_providers[0].keys[1].public_key_file = (dir_.path() / "missing.pem").string();
  s.identity_providers.push_back(config::IdentityProviderConfig{
      "https://other", {{"junk", "EdDSA", dir_.write("junk.pem", "not a key")}}});
  std::string error;
  EXPECT_EQ(IdentityProviderRegistry::loadBlocking(s, nullptr, error), nullptr);
  EXPECT_THAT(error, HasSubstr("space.identity_providers[0].keys[0] (egov-ed)"));
  EXPECT_THAT(error, HasSubstr("is not an ES256 key"));
  EXPECT_THAT(error, HasSubstr("space.identity_providers[0].keys[1] (egov-es)"));
  EXPECT_THAT(error, HasSubstr("space.identity_providers[1].keys[0] (junk)"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 2) << error;
}

TEST_F(RegistryFilesTest, TheDemoProviderJoinsAsAnIssuer) {
  std::string error;
  auto demo = DemoIdentityProvider::fromKey("urn:qaqpa:demo-idp", "demo-idp-1",
                                            TestKey(JwsAlgorithm::EdDSA).privateKey(),
                                            "qaqpa-space", std::chrono::minutes(15), error);
  ASSERT_NE(demo, nullptr) << error;
  auto registry = IdentityProviderRegistry::loadBlocking(settings(), demo.get(), error);
  ASSERT_NE(registry, nullptr) << error;
  EXPECT_EQ(registry->issuers().size(), 2u);
  const auto token = demo->mint(*common::parseSubject("IIN:900101300126").id, kNow);
  ASSERT_TRUE(token);
  const TokenResult r = verifyCitizenToken(*token, *registry, kNow);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.issuer, "urn:qaqpa:demo-idp");

  // A demo provider posing as the e-gov issuer, or reusing one of its kids, is refused.
  auto posing = DemoIdentityProvider::fromKey("https://idp.egov.kz", "demo-idp-1",
                                              TestKey(JwsAlgorithm::EdDSA).privateKey(),
                                              "qaqpa-space", std::chrono::minutes(15), error);
  ASSERT_NE(posing, nullptr);
  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::loadBlocking(settings(), posing.get(), error), nullptr);
  EXPECT_THAT(error, HasSubstr("duplicate issuer"));
  auto same_kid = DemoIdentityProvider::fromKey("urn:qaqpa:demo-idp", "egov-ed",
                                                TestKey(JwsAlgorithm::EdDSA).privateKey(),
                                                "qaqpa-space", std::chrono::minutes(15), error);
  error.clear();
  EXPECT_EQ(IdentityProviderRegistry::loadBlocking(settings(), same_kid.get(), error), nullptr);
  EXPECT_THAT(error, HasSubstr("duplicate key id 'egov-ed'"));
  (void)kNowSeconds;
}

}  // namespace
}  // namespace qaqpa::space
