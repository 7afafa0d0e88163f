#include "gateway/space/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "gateway/signing/gateway_keys.h"
#include "tests/space/test_tokens.h"

namespace qaqpa::space {
namespace {

using test::at;
using test::b64url;
using test::kNow;
using test::kNowSeconds;
using test::TestKey;
using ::testing::HasSubstr;

constexpr std::string_view kIss = "https://idp.egov.kz";
constexpr std::string_view kOtherIss = "https://idp.other.kz";
constexpr std::string_view kCitizen = "IIN:900101300126";

std::string edHeader(std::string_view kid = "ed-1") {
  return R"({"alg":"EdDSA","kid":")" + std::string(kid) + R"(","typ":"JWT"})";
}
std::string esHeader(std::string_view kid = "es-1") {
  return R"({"alg":"ES256","kid":")" + std::string(kid) + R"("})";
}

// Claims with the given overrides; `extra` is inserted verbatim (e.g. R"(,"nbf":1)").
struct Claims {
  std::string iss = std::string(kIss);
  std::string sub = std::string(kCitizen);
  std::string aud = R"("qaqpa-space")";  // JSON value
  std::int64_t iat = kNowSeconds - 10;
  std::int64_t exp = kNowSeconds + 600;
  std::string extra;
  std::string json() const {
    return R"({"iss":")" + iss + R"(","sub":")" + sub + R"(","aud":)" + aud + R"(,"iat":)" +
           std::to_string(iat) + R"(,"exp":)" + std::to_string(exp) + extra + "}";
  }
};

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<TrustedIssuer> issuers;
    issuers.push_back(TrustedIssuer{std::string(kIss), {}});
    issuers[0].keys.push_back(TrustedKey{"ed-1", JwsAlgorithm::EdDSA, ed_.publicKey()});
    issuers[0].keys.push_back(TrustedKey{"es-1", JwsAlgorithm::ES256, es_.publicKey()});
    issuers.push_back(TrustedIssuer{std::string(kOtherIss), {}});
    issuers[1].keys.push_back(TrustedKey{"other-1", JwsAlgorithm::EdDSA, other_.publicKey()});
    std::string error;
    registry_ = IdentityProviderRegistry::fromIssuers(policy_, std::move(issuers), error);
    ASSERT_NE(registry_, nullptr) << error;
  }

  TokenResult verify(std::string_view token, std::chrono::system_clock::time_point now = kNow) {
    return verifyCitizenToken(token, *registry_, now);
  }
  // The status of `token`, with the detail on failure for the test log.
  TokenStatus status(std::string_view token, std::chrono::system_clock::time_point now = kNow) {
    const TokenResult r = verify(token, now);
    if (!r.ok()) {
      EXPECT_FALSE(r.detail.empty()) << "every refusal says why";
      const std::size_t dot = token.rfind('.');
      if (dot != std::string_view::npos && token.size() - dot > 16) {
        EXPECT_EQ(r.detail.find(token.substr(dot + 1)), std::string::npos)
            << "the detail never quotes the signature";
      }
    }
    return r.status;
  }
  std::string edToken(const Claims& c) { return test::token(ed_, edHeader(), c.json()); }

  TestKey ed_{JwsAlgorithm::EdDSA};
  TestKey es_{JwsAlgorithm::ES256};
  TestKey other_{JwsAlgorithm::EdDSA};
  TokenPolicy policy_{"qaqpa-space", std::chrono::seconds(60), std::chrono::hours(1)};
  std::shared_ptr<const IdentityProviderRegistry> registry_;
};

TEST_F(JwtTest, ValidEdDsaTokenIsAccepted) {
  const TokenResult r = verify(edToken(Claims{}));
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.subject.kind, common::SubjectKind::Iin);
  EXPECT_EQ(r.subject.digits, "900101300126");
  EXPECT_EQ(r.issuer, kIss);
  EXPECT_EQ(r.kid, "ed-1");
  EXPECT_EQ(r.expires, at(kNowSeconds + 600));
  EXPECT_EQ(r.issued_at, at(kNowSeconds - 10));
  EXPECT_TRUE(r.detail.empty());
}

TEST_F(JwtTest, ValidEs256TokenIsAccepted) {
  const TokenResult r = verify(test::token(es_, esHeader(), Claims{}.json()));
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.kid, "es-1");
  EXPECT_EQ(r.subject.toString(), kCitizen);
}

TEST_F(JwtTest, SignatureFromTheSigningLibraryAlsoVerifies) {
  // signing::sign is what the demo identity provider uses: the same raw form.
  const std::string input = test::signingInput(esHeader(), Claims{}.json());
  const auto sig = signing::sign(es_.privateKey(), input);
  ASSERT_TRUE(sig);
  EXPECT_EQ(status(input + "." + b64url(*sig)), TokenStatus::Ok);
}

TEST_F(JwtTest, OptionalClaimsAndFormsAreHonoured) {
  Claims c;
  c.aud = R"(["other-app","qaqpa-space"])";
  EXPECT_EQ(status(edToken(c)), TokenStatus::Ok) << "an audience array containing ours";
  c = Claims{};
  c.extra = R"(,"nbf":)" + std::to_string(kNowSeconds - 5) + R"(,"jti":"x","acr":{"a":[1,2]})";
  EXPECT_EQ(status(edToken(c)), TokenStatus::Ok) << "nbf in the past; unknown claims ignored";
  // Fractional NumericDates (RFC 7519 §2).
  const std::string fractional = R"({"iss":"https://idp.egov.kz","sub":"IIN:900101300126",)"
                                 R"("aud":"qaqpa-space","iat":1749999990.5,"exp":1750000300.25})";
  EXPECT_EQ(status(test::token(ed_, edHeader(), fractional)), TokenStatus::Ok);
  // typ is compared ASCII case-insensitively; absent is fine (esHeader has none).
  EXPECT_EQ(
      status(test::token(ed_, R"({"typ":"jwt","kid":"ed-1","alg":"EdDSA"})", Claims{}.json())),
      TokenStatus::Ok);
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  const std::string none_header = R"({"alg":"none","kid":"ed-1"})";
  const std::string input = test::signingInput(none_header, Claims{}.json());
  EXPECT_EQ(status(input + "."), TokenStatus::Malformed) << "the classic unsecured JWS form";
  EXPECT_EQ(status(input + "." + b64url("x")), TokenStatus::AlgRefused);
  // Whatever the signature, `none` never reaches verification.
  EXPECT_EQ(status(input + "." + b64url(ed_.signJws(input))), TokenStatus::AlgRefused);
  for (std::string_view alg : {"None", "NONE", "nOnE"}) {
    const std::string h = R"({"alg":")" + std::string(alg) + R"(","kid":"ed-1"})";
    EXPECT_EQ(status(test::token(ed_, h, Claims{}.json())), TokenStatus::AlgRefused) << alg;
  }
}

TEST_F(JwtTest, OnlyEdDsaAndEs256AreAccepted) {
  for (std::string_view alg : {"eddsa", "EDDSA", "es256", "Es256", "ES384", "ES512", "RS256",
                               "PS256", "HS256", "HS384", "HS512", "Ed25519", "", "EdDSA "}) {
    const std::string h = R"({"alg":")" + std::string(alg) + R"(","kid":"ed-1"})";
    const TokenResult r = verify(test::token(ed_, h, Claims{}.json()));
    EXPECT_EQ(r.status, TokenStatus::AlgRefused) << "'" << alg << "'";
  }
  EXPECT_EQ(status(test::token(ed_, R"({"kid":"ed-1"})", Claims{}.json())),
            TokenStatus::AlgRefused);
  EXPECT_EQ(status(test::token(ed_, R"({"alg":["EdDSA"],"kid":"ed-1"})", Claims{}.json())),
            TokenStatus::AlgRefused);
}

TEST_F(JwtTest, HmacWithThePublicKeyAsSecretIsRefused) {
  // The key-confusion attack: HS256 "signed" with the issuer's public key (PEM, or its raw bytes)
  // as the HMAC secret, under a kid that names a real EdDSA / ES256 key.
  for (const TestKey* key : {&ed_, &es_}) {
    const std::string kid = key == &ed_ ? "ed-1" : "es-1";
    const std::string h = R"({"alg":"HS256","kid":")" + kid + R"(","typ":"JWT"})";
    const std::string input = test::signingInput(h, Claims{}.json());
    for (const std::string& secret : {key->publicPem(), key->publicKey().rawBytes()}) {
      const std::string forged = input + "." + b64url(test::hmacSha256(secret, input));
      const TokenResult r = verify(forged);
      EXPECT_EQ(r.status, TokenStatus::AlgRefused) << kid;
      EXPECT_THAT(r.detail, HasSubstr("HS256"));
    }
    // Same MAC under the key's own alg: 32 bytes, not a signature.
    const std::string own = (key == &ed_ ? edHeader() : esHeader());
    const std::string input2 = test::signingInput(own, Claims{}.json());
    EXPECT_EQ(status(input2 + "." + b64url(test::hmacSha256(key->publicPem(), input2))),
              TokenStatus::SignatureInvalid);
  }
}

TEST_F(JwtTest, KeysAreFoundOnlyUnderTheirIssuer) {
  EXPECT_EQ(status(test::token(ed_, edHeader("ed-9"), Claims{}.json())), TokenStatus::KeyUnknown);
  // other-1 exists, but belongs to the other issuer; signed with it, claiming our issuer.
  EXPECT_EQ(status(test::token(other_, edHeader("other-1"), Claims{}.json())),
            TokenStatus::KeyUnknown);
  // ... and the other issuer cannot use our kid either.
  Claims c;
  c.iss = std::string(kOtherIss);
  EXPECT_EQ(status(test::token(ed_, edHeader("ed-1"), c.json())), TokenStatus::KeyUnknown);
  EXPECT_EQ(status(test::token(other_, edHeader("other-1"), c.json())), TokenStatus::Ok);
  EXPECT_EQ(status(test::token(ed_, R"({"alg":"EdDSA"})", Claims{}.json())),
            TokenStatus::KeyUnknown);
  EXPECT_EQ(status(test::token(ed_, R"({"alg":"EdDSA","kid":""})", Claims{}.json())),
            TokenStatus::KeyUnknown);
  EXPECT_EQ(status(test::token(ed_, R"({"alg":"EdDSA","kid":7})", Claims{}.json())),
            TokenStatus::KeyUnknown);
  EXPECT_EQ(status(test::token(ed_, R"({"alg":"EdDSA","kid":"ED-1"})", Claims{}.json())),
            TokenStatus::KeyUnknown)
      << "kids compare exactly";
}

TEST_F(JwtTest, IssuerMustBeTrusted) {
  Claims c;
  c.iss = "https://evil.example";
  EXPECT_EQ(status(edToken(c)), TokenStatus::IssuerUnknown);
  c.iss = "https://idp.egov.kz/";
  EXPECT_EQ(status(edToken(c)), TokenStatus::IssuerUnknown) << "compared byte for byte";
  const std::string no_iss = R"({"sub":"IIN:900101300126","aud":"qaqpa-space","iat":1749999990,)"
                             R"("exp":1750000300})";
  EXPECT_EQ(status(test::token(ed_, edHeader(), no_iss)), TokenStatus::IssuerUnknown);
  const std::string numeric_iss = R"({"iss":1,"sub":"IIN:900101300126","aud":"qaqpa-space",)"
                                  R"("iat":1749999990,"exp":1750000300})";
  EXPECT_EQ(status(test::token(ed_, edHeader(), numeric_iss)), TokenStatus::IssuerUnknown);
}

TEST_F(JwtTest, HeaderAlgMustMatchTheKey) {
  // es-1 is an ES256 key; an EdDSA header naming it is refused before any verification.
  EXPECT_EQ(status(test::token(ed_, R"({"alg":"EdDSA","kid":"es-1"})", Claims{}.json())),
            TokenStatus::AlgRefused);
  EXPECT_EQ(status(test::token(es_, R"({"alg":"ES256","kid":"ed-1"})", Claims{}.json())),
            TokenStatus::AlgRefused);
}

TEST_F(JwtTest, TamperingBreaksTheSignature) {
  const std::string good = edToken(Claims{});
  ASSERT_EQ(status(good), TokenStatus::Ok);
  const std::size_t dot1 = good.find('.');
  const std::size_t dot2 = good.find('.', dot1 + 1);
  // Another citizen's IIN in the payload, the original signature.
  Claims c;
  c.sub = "IIN:870412450002";
  const std::string other_payload = b64url(c.json());
  const std::string swapped = good.substr(0, dot1 + 1) + other_payload + good.substr(dot2);
  EXPECT_EQ(status(swapped), TokenStatus::SignatureInvalid);
  // A later exp, the original signature.
  c = Claims{};
  c.exp += 3000;
  EXPECT_EQ(status(good.substr(0, dot1 + 1) + b64url(c.json()) + good.substr(dot2)),
            TokenStatus::SignatureInvalid);
  // One bit of the signature flipped (every byte position tried for one bit).
  const std::string sig = *signing::base64UrlDecode(good.substr(dot2 + 1));
  for (std::size_t i = 0; i < sig.size(); ++i) {
    std::string bad = sig;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    ASSERT_EQ(status(good.substr(0, dot2 + 1) + b64url(bad)), TokenStatus::SignatureInvalid) << i;
  }
  // The header changed (typ removed): the signing input differs.
  EXPECT_EQ(status(b64url(R"({"alg":"EdDSA","kid":"ed-1"})") + good.substr(dot1)),
            TokenStatus::SignatureInvalid);
  // Signed by another Ed25519 key under our kid.
  EXPECT_EQ(status(test::token(other_, edHeader(), Claims{}.json())),
            TokenStatus::SignatureInvalid);
  // ES256: tampered payload and tampered signature.
  const std::string es = test::token(es_, esHeader(), Claims{}.json());
  ASSERT_EQ(status(es), TokenStatus::Ok);
  const std::size_t es_dot1 = es.find('.');
  const std::size_t es_dot2 = es.find('.', es_dot1 + 1);
  EXPECT_EQ(status(es.substr(0, es_dot1 + 1) + other_payload + es.substr(es_dot2)),
            TokenStatus::SignatureInvalid);
  std::string es_sig = *signing::base64UrlDecode(es.substr(es_dot2 + 1));
  es_sig[40] = static_cast<char>(es_sig[40] ^ 0x80);
  EXPECT_EQ(status(es.substr(0, es_dot2 + 1) + b64url(es_sig)), TokenStatus::SignatureInvalid);
}

TEST_F(JwtTest, DerEncodedEs256SignatureIsRefused) {
  const std::string input = test::signingInput(esHeader(), Claims{}.json());
  const std::string der = es_.signNative(input);
  ASSERT_GE(der.size(), 8u);
  ASSERT_EQ(der[0], 0x30) << "an ASN.1 SEQUENCE: OpenSSL's DER form";
  const TokenResult r = verify(input + "." + b64url(der));
  EXPECT_EQ(r.status, TokenStatus::SignatureInvalid);
  EXPECT_THAT(r.detail, HasSubstr("not DER"));
  // The very same signature in JWS form verifies: the refusal is about the encoding.
  EXPECT_EQ(status(input + "." + b64url(es_.signJws(input))), TokenStatus::Ok);
}

TEST_F(JwtTest, ExpiryHonoursTheSkewExactlyAtTheBound) {
  Claims c;
  c.exp = kNowSeconds + 100;
  const std::string t = edToken(c);
  // Valid while now < exp + skew (60 s).
  EXPECT_EQ(status(t, at(kNowSeconds + 160, -1)), TokenStatus::Ok);
  EXPECT_EQ(status(t, at(kNowSeconds + 160)), TokenStatus::Expired);
  EXPECT_EQ(status(t, at(kNowSeconds + 10'000)), TokenStatus::Expired);
  const TokenResult r = verify(t, at(kNowSeconds + 161));
  EXPECT_EQ(r.status, TokenStatus::Expired);
  EXPECT_TRUE(r.subject.digits.empty()) << "nothing of a refused token is handed out";
  EXPECT_TRUE(r.issuer.empty());
}

TEST_F(JwtTest, NotBeforeAndIssuedAtHonourTheSkewExactlyAtTheBound) {
  Claims c;
  c.iat = kNowSeconds - 10;
  c.extra = R"(,"nbf":)" + std::to_string(kNowSeconds + 100);
  const std::string nbf = edToken(c);
  EXPECT_EQ(status(nbf, at(kNowSeconds + 40)), TokenStatus::Ok) << "now == nbf - skew";
  EXPECT_EQ(status(nbf, at(kNowSeconds + 40, -1)), TokenStatus::NotYetValid);
  EXPECT_EQ(status(nbf, at(kNowSeconds)), TokenStatus::NotYetValid);

  c = Claims{};
  c.iat = kNowSeconds + 60;
  c.exp = kNowSeconds + 600;
  const std::string future = edToken(c);
  EXPECT_EQ(status(future, at(kNowSeconds)), TokenStatus::Ok) << "now == iat - skew";
  EXPECT_EQ(status(future, at(kNowSeconds, -1)), TokenStatus::NotYetValid);
  c.iat = kNowSeconds + 61;
  const TokenResult r = verify(edToken(c));
  EXPECT_EQ(r.status, TokenStatus::NotYetValid);
  EXPECT_THAT(r.detail, HasSubstr("iat"));
}

TEST_F(JwtTest, ZeroSkewMeansNoTolerance) {
  std::vector<TrustedIssuer> issuers;
  issuers.push_back(TrustedIssuer{std::string(kIss), {}});
  issuers[0].keys.push_back(TrustedKey{"ed-1", JwsAlgorithm::EdDSA, ed_.publicKey()});
  std::string error;
  auto strict = IdentityProviderRegistry::fromIssuers(
      TokenPolicy{"qaqpa-space", std::chrono::seconds(0), std::chrono::hours(1)},
      std::move(issuers), error);
  ASSERT_NE(strict, nullptr) << error;
  Claims c;
  c.iat = kNowSeconds;
  c.exp = kNowSeconds + 100;
  const std::string t = edToken(c);
  EXPECT_TRUE(verifyCitizenToken(t, *strict, at(kNowSeconds)).ok());
  EXPECT_EQ(verifyCitizenToken(t, *strict, at(kNowSeconds, -1)).status, TokenStatus::NotYetValid);
  EXPECT_TRUE(verifyCitizenToken(t, *strict, at(kNowSeconds + 100, -1)).ok());
  EXPECT_EQ(verifyCitizenToken(t, *strict, at(kNowSeconds + 100)).status, TokenStatus::Expired);
}

TEST_F(JwtTest, AudienceMustNameUs) {
  Claims c;
  c.aud = R"("qaqpa-admin")";
  EXPECT_EQ(status(edToken(c)), TokenStatus::AudienceMismatch);
  c.aud = R"("QAQPA-SPACE")";
  EXPECT_EQ(status(edToken(c)), TokenStatus::AudienceMismatch) << "compared exactly";
  c.aud = R"(["a","b","qaqpa-space-x"])";
  EXPECT_EQ(status(edToken(c)), TokenStatus::AudienceMismatch) << "an array without ours";
  c.aud = R"([])";
  EXPECT_EQ(status(edToken(c)), TokenStatus::AudienceMismatch);
  c.aud = R"(["qaqpa-space",7])";
  EXPECT_EQ(status(edToken(c)), TokenStatus::ClaimsInvalid);
  c.aud = R"({"qaqpa-space":true})";
  EXPECT_EQ(status(edToken(c)), TokenStatus::ClaimsInvalid);
  const std::string no_aud = R"({"iss":"https://idp.egov.kz","sub":"IIN:900101300126",)"
                             R"("iat":1749999990,"exp":1750000300})";
  EXPECT_EQ(status(test::token(ed_, edHeader(), no_aud)), TokenStatus::AudienceMismatch);
}

TEST_F(JwtTest, SubjectMustBeAValidIin) {
  for (std::string_view sub :
       {"900101300126x", "IIN:90010130012", "IIN:9001013001266", "iin:900101300126", "900101300126",
        "IIN: 900101300126", "IIN:900101300123" /* bad check digit */,
        "BIN:240140000011" /* a valid BIN: not a citizen */, ""}) {
    Claims c;
    c.sub = std::string(sub);
    EXPECT_EQ(status(edToken(c)), TokenStatus::SubjectInvalid) << sub;
  }
  Claims c;
  c.sub = "IIN:900101300123";
  EXPECT_THAT(verify(edToken(c)).detail, HasSubstr("check digit"));
  const std::string numeric_sub = R"({"iss":"https://idp.egov.kz","sub":900101300126,)"
                                  R"("aud":"qaqpa-space","iat":1749999990,"exp":1750000300})";
  EXPECT_EQ(status(test::token(ed_, edHeader(), numeric_sub)), TokenStatus::SubjectInvalid);
  const std::string no_sub = R"({"iss":"https://idp.egov.kz","aud":"qaqpa-space",)"
                             R"("iat":1749999990,"exp":1750000300})";
  EXPECT_EQ(status(test::token(ed_, edHeader(), no_sub)), TokenStatus::SubjectInvalid);
}

TEST_F(JwtTest, LifetimeIsBounded) {
  Claims c;
  c.iat = kNowSeconds - 100;
  c.exp = c.iat + 3600;
  EXPECT_EQ(status(edToken(c)), TokenStatus::Ok) << "exactly max_token_lifetime";
  c.exp = c.iat + 3601;
  EXPECT_EQ(status(edToken(c)), TokenStatus::LifetimeTooLong);
  c.iat = kNowSeconds - 100;
  c.exp = kNowSeconds + 365LL * 86400;
  EXPECT_EQ(status(edToken(c)), TokenStatus::LifetimeTooLong);
}

TEST_F(JwtTest, TimeClaimsAreRequiredNumericDates) {
  auto with = [&](std::string_view times) {
    return test::token(ed_, edHeader(),
                       R"({"iss":"https://idp.egov.kz","sub":"IIN:900101300126",)"
                       R"("aud":"qaqpa-space")" +
                           std::string(times) + "}");
  };
  EXPECT_EQ(status(with(R"(,"exp":1750000300)")), TokenStatus::ClaimsInvalid) << "no iat";
  EXPECT_EQ(status(with(R"(,"iat":1749999990)")), TokenStatus::ClaimsInvalid) << "no exp";
  EXPECT_EQ(status(with(R"(,"iat":"1749999990","exp":1750000300)")), TokenStatus::ClaimsInvalid);
  EXPECT_EQ(status(with(R"(,"iat":1749999990,"exp":null)")), TokenStatus::ClaimsInvalid);
  EXPECT_EQ(status(with(R"(,"iat":-5,"exp":1750000300)")), TokenStatus::ClaimsInvalid);
  EXPECT_EQ(status(with(R"(,"iat":1749999990,"exp":1e300)")), TokenStatus::ClaimsInvalid);
  EXPECT_EQ(status(with(R"(,"iat":1749999990,"exp":18446744073709551615)")),
            TokenStatus::ClaimsInvalid);
  EXPECT_EQ(status(with(R"(,"iat":1750000300,"exp":1750000300)")), TokenStatus::ClaimsInvalid)
      << "exp not after iat";
  EXPECT_EQ(status(with(R"(,"iat":1749999990,"exp":1750000300,"nbf":"soon")")),
            TokenStatus::ClaimsInvalid);
}

TEST_F(JwtTest, DuplicateJsonMemberNamesAreRefused) {
  const std::string dup_claim = R"({"iss":"https://idp.egov.kz","sub":"IIN:900101300126",)"
                                R"("aud":"qaqpa-space","iat":1749999990,"exp":1750000300,)"
                                R"("sub":"IIN:870412450002"})";
  const TokenResult r = verify(test::token(ed_, edHeader(), dup_claim));
  EXPECT_EQ(r.status, TokenStatus::Malformed);
  EXPECT_THAT(r.detail, HasSubstr("repeats a member name"));
  EXPECT_EQ(
      status(test::token(ed_, R"({"alg":"EdDSA","kid":"ed-1","alg":"HS256"})", Claims{}.json())),
      TokenStatus::Malformed);
  // Escapes that spell the same name are the same name.
  EXPECT_EQ(status(test::token(ed_, edHeader(),
                               R"({"iss":"https://idp.egov.kz","sub":"IIN:900101300126",)"
                               R"("aud":"qaqpa-space","iat":1749999990,"exp":1750000300,)"
                               R"("\u0073ub":"IIN:870412450002"})")),
            TokenStatus::Malformed);
  // Nested objects are checked too; the same name in two different objects is fine.
  Claims c;
  c.extra = R"(,"x":{"a":1,"a":2})";
  EXPECT_EQ(status(edToken(c)), TokenStatus::Malformed);
  c.extra = R"(,"x":{"iss":1},"y":[{"iss":2}])";
  EXPECT_EQ(status(edToken(c)), TokenStatus::Ok);
}

TEST_F(JwtTest, HeaderParametersThatBringKeysOrExtensionsAreRefused) {
  for (std::string_view param :
       {R"("crit":["exp"])", R"("jku":"https://evil.example/jwks")",
        R"("jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA"})", R"("x5u":"https://evil.example/c")",
        R"("x5c":["MIIB"])", R"("x5t":"abc")", R"("x5t#S256":"abc")", R"("cty":"JWT")",
        R"("b64":false)", R"("zip":"DEF")"}) {
    const std::string h = R"({"alg":"EdDSA","kid":"ed-1",)" + std::string(param) + "}";
    EXPECT_EQ(status(test::token(ed_, h, Claims{}.json())), TokenStatus::HeaderRefused) << param;
  }
  for (std::string_view typ : {R"("at+jwt")", R"("JOSE")", R"("")", "1"}) {
    const std::string h = R"({"alg":"EdDSA","kid":"ed-1","typ":)" + std::string(typ) + "}";
    EXPECT_EQ(status(test::token(ed_, h, Claims{}.json())), TokenStatus::HeaderRefused) << typ;
  }
}

TEST_F(JwtTest, Base64UrlIsStrict) {
  const std::string good = edToken(Claims{});
  ASSERT_EQ(status(good), TokenStatus::Ok);
  const std::size_t dot1 = good.find('.');
  const std::size_t dot2 = good.find('.', dot1 + 1);
  const std::string header = good.substr(0, dot1);
  const std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string sig = good.substr(dot2 + 1);
  // Padding: the 64-byte signature is 86 characters; padded base64url would add "==".
  ASSERT_EQ(sig.size(), 86u);
  EXPECT_EQ(status(header + "." + payload + "." + sig + "=="), TokenStatus::Malformed);
  EXPECT_EQ(status(header + "==." + payload + "." + sig), TokenStatus::Malformed);
  // The standard base64 alphabet instead of the URL one.
  std::string std_sig = sig;
  bool changed = false;
  for (char& ch : std_sig) {
    if (ch == '-') ch = '+', changed = true;
    if (ch == '_') ch = '/', changed = true;
  }
  if (changed) {
    EXPECT_EQ(status(header + "." + payload + "." + std_sig), TokenStatus::Malformed);
  }
  EXPECT_EQ(status(header + "." + payload + "." + sig.substr(0, 85) + "+"), TokenStatus::Malformed);
  EXPECT_EQ(status(header + "." + payload + "." + sig.substr(0, 85) + "/"), TokenStatus::Malformed);
  EXPECT_EQ(status(header + "." + payload + " ." + sig), TokenStatus::Malformed);
  EXPECT_EQ(status(header + "." + payload + "." + sig.substr(0, 40) + "\n" + sig.substr(40)),
            TokenStatus::Malformed);
  // Non-zero unused bits: 86 characters carry 516 bits for 512; the last character must have its
  // low 4 bits clear.
  std::string loose = sig;
  loose.back() = 'B';  // value 1: a set unused bit
  EXPECT_EQ(status(header + "." + payload + "." + loose), TokenStatus::Malformed);
  EXPECT_EQ(signing::base64UrlDecode("AB"), std::nullopt) << "AB: 12 bits, low 4 must be zero";
  EXPECT_EQ(signing::base64UrlDecode("AQ"), std::string("\x01", 1));
}

TEST(Base64UrlDecodeStrict, DecodesRfc4648Vectors) {
  EXPECT_EQ(signing::base64UrlDecode(""), "");
  EXPECT_EQ(signing::base64UrlDecode("Zg"), "f");
  EXPECT_EQ(signing::base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(signing::base64UrlDecode("Zm9v"), "foo");
  EXPECT_EQ(signing::base64UrlDecode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(signing::base64UrlDecode("-_8"), "\xfb\xff");
  for (std::string_view bad :
       {"Z", "Zg==", "Zg=", "Zm9v\n", "+/8", "Zh", "Zm9", "Zm-", "Zm9v YmFy"}) {
    EXPECT_EQ(signing::base64UrlDecode(bad), std::nullopt) << bad;
  }
}

TEST_F(JwtTest, ShapeAndSizeAreBounded) {
  const std::string good = edToken(Claims{});
  const std::size_t dot1 = good.find('.');
  const std::size_t dot2 = good.find('.', dot1 + 1);
  EXPECT_EQ(status(""), TokenStatus::Missing);
  EXPECT_EQ(status(good + ".x"), TokenStatus::Malformed) << "four parts";
  EXPECT_EQ(status(good + "."), TokenStatus::Malformed);
  EXPECT_EQ(status(good.substr(0, dot2)), TokenStatus::Malformed) << "two parts";
  EXPECT_EQ(status(".."), TokenStatus::Malformed);
  EXPECT_EQ(status("." + good.substr(dot1 + 1)), TokenStatus::Malformed) << "empty header";
  EXPECT_EQ(status(good.substr(0, dot1 + 1) + good.substr(dot2)), TokenStatus::Malformed)
      << "empty payload";
  EXPECT_EQ(status(good.substr(0, dot2 + 1)), TokenStatus::Malformed) << "empty signature";
  EXPECT_EQ(status("abc"), TokenStatus::Malformed);
  // A detached-payload JWS (RFC 7515 Appendix F) is not a JWT.
  EXPECT_EQ(status(good.substr(0, dot1) + ".." + good.substr(dot2 + 1)), TokenStatus::Malformed);

  // Oversized: a validly signed token whose claims push it over 8 KiB.
  Claims c;
  c.extra = R"(,"pad":")" + std::string(6000, 'x') + "\"";
  const std::string big = edToken(c);
  ASSERT_GT(big.size(), kMaxTokenBytes);
  EXPECT_EQ(status(big), TokenStatus::TooLarge);
  c.extra = R"(,"pad":")" + std::string(5000, 'x') + "\"";
  const std::string fits = edToken(c);
  ASSERT_LE(fits.size(), kMaxTokenBytes);
  EXPECT_EQ(status(fits), TokenStatus::Ok) << "large but within the bound";
  // The header over 1 KiB; the signature part over 256 characters.
  const std::string big_header =
      R"({"alg":"EdDSA","kid":"ed-1","p":")" + std::string(900, 'x') + R"("})";
  EXPECT_EQ(status(test::token(ed_, big_header, Claims{}.json())), TokenStatus::TooLarge);
  EXPECT_EQ(status(good.substr(0, dot2 + 1) + std::string(300, 'A')), TokenStatus::TooLarge);
}

TEST_F(JwtTest, PartsMustBeJsonObjects) {
  auto raw = [&](std::string_view header, std::string_view claims) {
    return test::token(ed_, header, claims);
  };
  EXPECT_EQ(status(raw("not json", Claims{}.json())), TokenStatus::Malformed);
  EXPECT_EQ(status(raw(R"(["alg","EdDSA"])", Claims{}.json())), TokenStatus::Malformed);
  EXPECT_EQ(status(raw(edHeader() + " {}", Claims{}.json())), TokenStatus::Malformed);
  EXPECT_EQ(status(raw(R"({"alg":"EdDSA","kid":"ed-1",})", Claims{}.json())),
            TokenStatus::Malformed)
      << "no trailing commas";
  EXPECT_EQ(status(raw(R"({"alg":"EdDSA",/*c*/"kid":"ed-1"})", Claims{}.json())),
            TokenStatus::Malformed)
      << "no comments";
  EXPECT_EQ(status(raw(edHeader(), "\"IIN:900101300126\"")), TokenStatus::Malformed);
  EXPECT_EQ(status(raw(edHeader(), "{\"iss\":\"\xff\"}")), TokenStatus::Malformed)
      << "invalid UTF-8";
  std::string deep = Claims{}.json();
  deep.pop_back();
  deep += R"(,"d":)" + std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_EQ(status(raw(edHeader(), deep)), TokenStatus::Malformed) << "depth bound";
}

TEST(BearerAuthorization, ParsesExactlyOneToken) {
  EXPECT_EQ(parseBearerAuthorization("Bearer abc.def.ghi").token, "abc.def.ghi");
  EXPECT_EQ(parseBearerAuthorization("Bearer abc.def.ghi").status, TokenStatus::Ok);
  EXPECT_EQ(parseBearerAuthorization("bearer abc").token, "abc");
  EXPECT_EQ(parseBearerAuthorization("BEARER   abc").token, "abc");
  EXPECT_EQ(parseBearerAuthorization(" \tBeArEr abc \t").token, "abc");
  EXPECT_EQ(parseBearerAuthorization("Bearer a-b_c~d+e/f==").token, "a-b_c~d+e/f==");

  for (std::string_view missing :
       {"", "   ", "Basic dXNlcjpwYXNz", "Bearerabc", "Token abc", "Bear abc", "DPoP abc"}) {
    EXPECT_EQ(parseBearerAuthorization(missing).status, TokenStatus::Missing) << missing;
  }
  for (std::string_view bad :
       {"Bearer", "Bearer ", "Bearer a b", "Bearer a.b.c d", "Bearer a,b", "Bearer \"abc\"",
        "Bearer\tabc", "Bearer =abc", "Bearer ab=c", "Bearer a\tb", "Bearer a;b", "Bearer é"}) {
    const BearerToken t = parseBearerAuthorization(bad);
    EXPECT_EQ(t.status, TokenStatus::Malformed) << bad;
    EXPECT_TRUE(t.token.empty()) << bad;
  }
  EXPECT_EQ(parseBearerAuthorization("Bearer " + std::string(kMaxTokenBytes + 1, 'a')).status,
            TokenStatus::TooLarge);
  EXPECT_EQ(parseBearerAuthorization("Bearer " + std::string(kMaxTokenBytes, 'a')).status,
            TokenStatus::Ok);
}

TEST_F(JwtTest, VerifyBearerAuthorizationCombinesBoth) {
  const std::string t = edToken(Claims{});
  EXPECT_TRUE(verifyBearerAuthorization("Bearer " + t, *registry_, kNow).ok());
  EXPECT_TRUE(verifyBearerAuthorization("bearer  " + t + " ", *registry_, kNow).ok());
  EXPECT_EQ(verifyBearerAuthorization(std::nullopt, *registry_, kNow).status, TokenStatus::Missing);
  EXPECT_EQ(verifyBearerAuthorization("Basic abc", *registry_, kNow).status, TokenStatus::Missing);
  EXPECT_EQ(verifyBearerAuthorization("Bearer " + t + " " + t, *registry_, kNow).status,
            TokenStatus::Malformed);
  EXPECT_EQ(verifyBearerAuthorization(t, *registry_, kNow).status, TokenStatus::Missing)
      << "a bare token without the scheme";
  EXPECT_EQ(verifyBearerAuthorization("Bearer " + t, *registry_, at(kNowSeconds + 3600)).status,
            TokenStatus::Expired);
}

TEST(TokenStatusNames, AreStableAndDistinct) {
  const std::vector<std::pair<TokenStatus, std::string_view>> expected = {
      {TokenStatus::Ok, "OK"},
      {TokenStatus::Missing, "TOKEN_MISSING"},
      {TokenStatus::Malformed, "TOKEN_MALFORMED"},
      {TokenStatus::TooLarge, "TOKEN_TOO_LARGE"},
      {TokenStatus::AlgRefused, "TOKEN_ALG_REFUSED"},
      {TokenStatus::HeaderRefused, "TOKEN_HEADER_REFUSED"},
      {TokenStatus::IssuerUnknown, "TOKEN_ISSUER_UNKNOWN"},
      {TokenStatus::KeyUnknown, "TOKEN_KEY_UNKNOWN"},
      {TokenStatus::SignatureInvalid, "TOKEN_SIGNATURE_INVALID"},
      {TokenStatus::ClaimsInvalid, "TOKEN_CLAIMS_INVALID"},
      {TokenStatus::AudienceMismatch, "TOKEN_AUDIENCE_MISMATCH"},
      {TokenStatus::Expired, "TOKEN_EXPIRED"},
      {TokenStatus::NotYetValid, "TOKEN_NOT_YET_VALID"},
      {TokenStatus::LifetimeTooLong, "TOKEN_LIFETIME_TOO_LONG"},
      {TokenStatus::SubjectInvalid, "TOKEN_SUBJECT_INVALID"},
  };
  std::set<std::string_view> names;
  for (const auto& [status, name] : expected) {
    EXPECT_EQ(tokenStatusName(status), name);
    names.insert(tokenStatusName(status));
  }
  EXPECT_EQ(names.size(), expected.size());
}

TEST_F(JwtTest, ConcurrentVerificationIsSafe) {
  const std::string good = edToken(Claims{});
  const std::string es = test::token(es_, esHeader(), Claims{}.json());
  Claims c;
  c.aud = R"("nope")";
  const std::string bad = edToken(c);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!verify(good).ok() || !verify(es).ok() ||
            verify(bad).status != TokenStatus::AudienceMismatch) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace qaqpa::space
