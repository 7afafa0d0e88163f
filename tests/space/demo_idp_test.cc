#include "gateway/space/demo_idp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include "gateway/signing/gateway_keys.h"
#include "gateway/space/jwt.h"
#include "tests/space/test_tokens.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::space {
namespace {

using test::at;
using test::kNow;
using test::kNowSeconds;
using test::TestKey;
using ::testing::HasSubstr;

common::SubjectId citizen(std::string_view text) { return *common::parseSubject(text).id; }

boost::json::object decodePart(const std::string& token, int index) {
  std::size_t begin = 0;
  for (int i = 0; i < index; ++i) begin = token.find('.', begin) + 1;
  const std::size_t end = token.find('.', begin);
  const auto json = signing::base64UrlDecode(token.substr(begin, end - begin));
  EXPECT_TRUE(json);
  return boost::json::parse(json.value_or("{}")).as_object();
}

class DemoIdpTest : public ::testing::TestWithParam<JwsAlgorithm> {
 protected:
  std::shared_ptr<const DemoIdentityProvider> make(std::chrono::seconds lifetime) {
    std::string error;
    auto demo = DemoIdentityProvider::fromKey("urn:qaqpa:demo-idp", "demo-idp-1", key_.privateKey(),
                                              "qaqpa-space", lifetime, error);
    EXPECT_NE(demo, nullptr) << error;
    return demo;
  }
  std::shared_ptr<const IdentityProviderRegistry> registryFor(const DemoIdentityProvider& demo) {
    std::vector<TrustedIssuer> issuers;
    issuers.push_back(*demo.trustedIssuer());
    std::string error;
    auto r = IdentityProviderRegistry::fromIssuers(TokenPolicy{}, std::move(issuers), error);
    EXPECT_NE(r, nullptr) << error;
    return r;
  }
  TestKey key_{GetParam()};
};

TEST_P(DemoIdpTest, MintedTokensVerifyAndCarryTheExpectedClaims) {
  auto demo = make(std::chrono::minutes(15));
  ASSERT_NE(demo, nullptr);
  EXPECT_EQ(demo->algorithm(), GetParam());
  auto registry = registryFor(*demo);
  const auto token = demo->mint(citizen("IIN:900101300126"), at(kNowSeconds, 750));
  ASSERT_TRUE(token);
  const TokenResult r = verifyCitizenToken(*token, *registry, kNow);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.subject.toString(), "IIN:900101300126");
  EXPECT_EQ(r.kid, "demo-idp-1");
  EXPECT_EQ(r.expires, at(kNowSeconds + 900));

  const auto header = decodePart(*token, 0);
  EXPECT_EQ(header.at("alg").as_string(), jwsAlgorithmName(GetParam()));
  EXPECT_EQ(header.at("kid").as_string(), "demo-idp-1");
  EXPECT_EQ(header.at("typ").as_string(), "JWT");
  EXPECT_EQ(header.size(), 3u);
  const auto claims = decodePart(*token, 1);
  EXPECT_EQ(claims.at("iss").as_string(), "urn:qaqpa:demo-idp");
  EXPECT_EQ(claims.at("sub").as_string(), "IIN:900101300126");
  EXPECT_EQ(claims.at("aud").as_string(), "qaqpa-space");
  EXPECT_EQ(claims.at("iat").as_int64(), kNowSeconds) << "whole seconds, rounded down";
  EXPECT_EQ(claims.at("exp").as_int64(), kNowSeconds + 900);

  // It is an ordinary token: it expires, and another citizen's IIN cannot be swapped in.
  EXPECT_EQ(verifyCitizenToken(*token, *registry, at(kNowSeconds + 960)).status,
            TokenStatus::Expired);
  const auto other = demo->mint(citizen("IIN:870412450002"), kNow);
  ASSERT_TRUE(other);
  const std::string spliced =
      token->substr(0, token->find('.') + 1) +
      other->substr(other->find('.') + 1, other->rfind('.') - other->find('.') - 1) +
      token->substr(token->rfind('.'));
  EXPECT_EQ(verifyCitizenToken(spliced, *registry, kNow).status, TokenStatus::SignatureInvalid);
}

TEST_P(DemoIdpTest, RefusesToMintForABinOrAnInvalidIin) {
  auto demo = make(std::chrono::minutes(15));
  EXPECT_EQ(demo->mint(citizen("BIN:240140000011"), kNow), std::nullopt);
  common::SubjectId forged{common::SubjectKind::Iin, "900101300123"};  // bad check digit
  EXPECT_EQ(demo->mint(forged, kNow), std::nullopt);
}

TEST_P(DemoIdpTest, ALifetimeOverThePolicyIsRefusedByTheVerifier) {
  auto demo = make(std::chrono::hours(2));
  auto registry = registryFor(*demo);
  const auto token = demo->mint(citizen("IIN:900101300126"), kNow);
  ASSERT_TRUE(token);
  EXPECT_EQ(verifyCitizenToken(*token, *registry, kNow).status, TokenStatus::LifetimeTooLong);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, DemoIdpTest,
                         ::testing::Values(JwsAlgorithm::EdDSA, JwsAlgorithm::ES256),
                         [](const auto& info) {
                           return std::string(jwsAlgorithmName(info.param));
                         });

TEST(DemoIdpFiles, GeneratesTheKeyOnceAndKeepsIt) {
  test_support::TempDir dir;
  config::SpaceSettings s;
  s.demo_identity_provider.enabled = true;
  s.demo_identity_provider.generate = "ecdsa-p256-sha256";
  s.demo_identity_provider.private_key_file = (dir.path() / "run" / "demo-idp.pem").string();
  std::string error;
  auto first = DemoIdentityProvider::loadBlocking(s, error);
  ASSERT_NE(first, nullptr) << error;
  EXPECT_EQ(first->algorithm(), JwsAlgorithm::ES256);
  EXPECT_EQ(first->tokenLifetime(), std::chrono::minutes(15));
  struct stat st {};
  ASSERT_EQ(::stat(s.demo_identity_provider.private_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A restart loads the same key: tokens minted before still verify.
  auto second = DemoIdentityProvider::loadBlocking(s, error);
  ASSERT_NE(second, nullptr) << error;
  std::vector<TrustedIssuer> issuers;
  issuers.push_back(*second->trustedIssuer());
  auto registry = IdentityProviderRegistry::fromIssuers(TokenPolicy{}, std::move(issuers), error);
  ASSERT_NE(registry, nullptr) << error;
  const auto token = first->mint(citizen("IIN:950715400010"), kNow);
  ASSERT_TRUE(token);
  EXPECT_TRUE(verifyCitizenToken(*token, *registry, kNow).ok());
}

TEST(DemoIdpFiles, LoadsAnEd25519KeyFileAndReportsProblems) {
  test_support::TempDir dir;
  TestKey key(JwsAlgorithm::EdDSA);
  config::SpaceSettings s;
  s.audience = "my-space";
  s.demo_identity_provider.enabled = true;
  s.demo_identity_provider.kid = "d1";
  s.demo_identity_provider.private_key_file = dir.write("demo.pem", key.privatePem());
  std::string error;
  auto demo = DemoIdentityProvider::loadBlocking(s, error);
  ASSERT_NE(demo, nullptr) << error;
  EXPECT_EQ(demo->algorithm(), JwsAlgorithm::EdDSA);
  EXPECT_EQ(demo->kid(), "d1");
  const auto token = demo->mint(citizen("IIN:900101300126"), kNow);
  ASSERT_TRUE(token);
  EXPECT_EQ(decodePart(*token, 1).at("aud").as_string(), "my-space");

  s.demo_identity_provider.private_key_file = (dir.path() / "absent.pem").string();
  error.clear();
  EXPECT_EQ(DemoIdentityProvider::loadBlocking(s, error), nullptr) << "no generate: must exist";
  EXPECT_THAT(error, HasSubstr("space.demo_identity_provider.private_key_file"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "absent.pem"));

  s.demo_identity_provider.private_key_file = dir.write("junk.pem", "junk");
  error.clear();
  EXPECT_EQ(DemoIdentityProvider::loadBlocking(s, error), nullptr);

  s.demo_identity_provider.enabled = false;
  error.clear();
  EXPECT_EQ(DemoIdentityProvider::loadBlocking(s, error), nullptr);
  EXPECT_THAT(error, HasSubstr("not enabled"));
}

}  // namespace
}  // namespace qaqpa::space
