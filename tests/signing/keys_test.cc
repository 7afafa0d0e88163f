#include "gateway/signing/keys.h"

#include <string>

#include <gtest/gtest.h>

#include "gateway/signing/structured_field.h"
#include "tests/signing/vectors.h"

namespace qaqpa::signing {
namespace {

using test::dataPath;
using test::readData;

// RFC 9421 Appendix B.1.4 test-key-ed25519 (a published test key).
constexpr std::string_view kRfcEd25519Private =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kRfcEd25519Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
    "-----END PUBLIC KEY-----\n";
// RFC 9421 Appendix B.2.6: signature base and signature (Ed25519 is deterministic).
constexpr std::string_view kRfcB26Base =
    "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
    "\"@method\": POST\n"
    "\"@path\": /foo\n"
    "\"@authority\": example.com\n"
    "\"content-type\": application/json\n"
    "\"content-length\": 18\n"
    "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
    "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
constexpr std::string_view kRfcB26Signature =
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==";

// Throwaway keys of types the gateway does not accept.
constexpr std::string_view kP384Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE4aH0ISsblqZ7H6IF771oJvgkhe2cT6ia\n"
    "lXjsUkJUEQ6BVGk+7GfVTX9K42qSNyPPmU7Z3W/ctlWw5BJAH+6g67F/fHlfRHMm\n"
    "Kf/M4YGxEatxVOKzQJyfM/WTwlYvHwn7\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kEd448Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MEMwBQYDK2VxAzoAv2rm662NEgDyDlnm47Q65YuR99fGb2iPyWMfsAZzJ92LFpjr\n"
    "VOQYFd62z8W9gm5GOfoJZytWwvoA\n"
    "-----END PUBLIC KEY-----\n";

TEST(Algorithm, NamesRoundTrip) {
  EXPECT_EQ(parseAlgorithm("ed25519"), Algorithm::Ed25519);
  EXPECT_EQ(parseAlgorithm("ecdsa-p256-sha256"), Algorithm::EcdsaP256Sha256);
  EXPECT_EQ(algorithmName(Algorithm::EcdsaP256Sha256), "ecdsa-p256-sha256");
  for (std::string_view bad : {"ED25519", "rsa-pss-sha512", "hmac-sha256", "", "ed25519 "}) {
    EXPECT_FALSE(parseAlgorithm(bad).has_value()) << bad;
  }
}

TEST(Keys, Rfc9421B26SignatureIsReproducedAndVerifies) {
  auto priv = PrivateKey::fromPem(kRfcEd25519Private);
  auto pub = PublicKey::fromPem(kRfcEd25519Public);
  ASSERT_TRUE(priv && pub);
  const auto sig = sign(*priv, kRfcB26Base);
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sf::base64Encode(*sig), kRfcB26Signature);
  EXPECT_TRUE(pub->verify(kRfcB26Base, *sf::base64Decode(kRfcB26Signature)));
  EXPECT_FALSE(pub->verify(std::string(kRfcB26Base) + " ", *sig));
}

TEST(Keys, LoadsTestKeysFromFiles) {
  std::string error;
  for (auto [name, alg] :
       {std::pair{"ed25519", Algorithm::Ed25519}, std::pair{"p256", Algorithm::EcdsaP256Sha256}}) {
    SCOPED_TRACE(name);
    auto priv = PrivateKey::loadPemFileBlocking(
        dataPath(std::string("test_") + name + "_private.pem"), &error);
    auto pub = PublicKey::loadPemFileBlocking(dataPath(std::string("test_") + name + "_public.pem"),
                                              &error);
    ASSERT_TRUE(priv.has_value()) << error;
    ASSERT_TRUE(pub.has_value()) << error;
    EXPECT_EQ(priv->algorithm(), alg);
    EXPECT_EQ(pub->algorithm(), alg);
    auto derived = priv->publicKey();
    ASSERT_TRUE(derived.has_value());
    EXPECT_EQ(derived->rawBytes(), pub->rawBytes());
    EXPECT_EQ(pub->rawBytes().size(), alg == Algorithm::Ed25519 ? 32u : 65u);

    const auto sig = sign(*priv, "message");
    ASSERT_TRUE(sig.has_value());
    EXPECT_EQ(sig->size(), 64u);
    EXPECT_TRUE(pub->verify("message", *sig));
    EXPECT_FALSE(pub->verify("messagE", *sig));
    EXPECT_FALSE(pub->verify("message", sig->substr(0, 63)));
    EXPECT_FALSE(pub->verify("message", *sig + "x"));
    EXPECT_FALSE(pub->verify("message", std::string(64, '\0')));

    auto raw = PublicKey::fromRaw(alg, pub->rawBytes(), &error);
    ASSERT_TRUE(raw.has_value()) << error;
    EXPECT_TRUE(raw->verify("message", *sig));
  }
}

TEST(Keys, EcdsaRawSignaturesAreFixedWidth) {
  auto priv = PrivateKey::loadPemFileBlocking(dataPath("test_p256_private.pem"));
  auto pub = PublicKey::loadPemFileBlocking(dataPath("test_p256_public.pem"));
  ASSERT_TRUE(priv && pub);
  // Over many signatures r or s is sometimes < 2^248 (a leading zero byte): still 64 bytes.
  for (int i = 0; i < 300; ++i) {
    const std::string msg = "m" + std::to_string(i);
    const auto sig = sign(*priv, msg);
    ASSERT_TRUE(sig.has_value());
    ASSERT_EQ(sig->size(), 64u);
    ASSERT_TRUE(pub->verify(msg, *sig)) << i;
  }
}

TEST(Keys, RejectsWhatIsNotASupportedKey) {
  std::string error;
  EXPECT_FALSE(PublicKey::fromPem("not a pem", &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(PublicKey::fromPem(kP384Public, &error));
  EXPECT_NE(error.find("unsupported"), std::string::npos);
  EXPECT_FALSE(PublicKey::fromPem(kEd448Public));
  EXPECT_FALSE(PublicKey::fromPem(kRfcEd25519Private));  // a private key is not a public key
  EXPECT_FALSE(PrivateKey::fromPem(kRfcEd25519Public));
  EXPECT_FALSE(PrivateKey::fromPem(""));
  EXPECT_FALSE(PublicKey::loadPemFileBlocking(dataPath("no_such_file.pem"), &error));
  EXPECT_NE(error.find("no_such_file.pem"), std::string::npos);

  EXPECT_FALSE(PublicKey::fromRaw(Algorithm::Ed25519, std::string(31, 'a')));
  std::string off_curve(65, '\x01');
  off_curve[0] = '\x04';
  EXPECT_FALSE(PublicKey::fromRaw(Algorithm::EcdsaP256Sha256, off_curve, &error));
  std::string compressed(33, '\x01');
  compressed[0] = '\x02';
  EXPECT_FALSE(PublicKey::fromRaw(Algorithm::EcdsaP256Sha256, compressed));
}

}  // namespace
}  // namespace qaqpa::signing
