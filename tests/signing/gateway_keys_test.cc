#include "gateway/signing/gateway_keys.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/signing/structured_field.h"
#include "tests/signing/gateway_key_files.h"

namespace qaqpa::signing {
namespace {

using test::KeyFiles;
using test::TempDir;
using ::testing::HasSubstr;

std::string describe(const std::vector<GatewayKeyError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += "[" +
           (e.index == GatewayKeyError::kWholeSet ? std::string("set") : std::to_string(e.index)) +
           " " + e.kid + "] " + e.message + "\n";
  }
  return out;
}

// base64url without padding -> bytes (strict enough for what jwksJson produces).
std::string base64UrlDecode(std::string_view in) {
  std::string b64(in);
  for (char& c : b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (b64.size() % 4 != 0) b64 += '=';
  auto out = sf::base64Decode(b64);
  if (!out) throw std::runtime_error("bad base64url: " + std::string(in));
  return *out;
}

class GatewayKeysTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(GatewayKeysTest, LoadsBothAlgorithmsWithRetiredPublicOnlyKeys) {
  const KeyFiles ed = KeyFiles::generate(dir_.path(), "ed", "ED25519");
  const KeyFiles p256 = KeyFiles::generate(dir_.path(), "p256", "EC");
  const KeyFiles old = KeyFiles::generate(dir_.path(), "old", "EC");
  const std::vector<GatewayKeySpec> specs = {
      {"old-2025", {}, old.public_pem, false},
      {"gw-p256", p256.pkcs8_pem, {}, true},
      {"gw-ed", ed.pkcs8_pem, ed.public_pem, false},  // retired, both files given: kept public
  };
  std::vector<GatewayKeyError> errors;
  const auto set = GatewayKeySet::loadBlocking(specs, errors);
  ASSERT_TRUE(set) << describe(errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(set->active().kid, "gw-p256");
  EXPECT_EQ(set->activeAlgorithm(), Algorithm::EcdsaP256Sha256);
  ASSERT_EQ(set->keys().size(), 3u);
  EXPECT_EQ(set->keys()[0].kid, "gw-p256");  // active first, then configuration order
  EXPECT_EQ(set->keys()[1].kid, "old-2025");
  EXPECT_EQ(set->keys()[2].kid, "gw-ed");
  ASSERT_NE(set->find("old-2025"), nullptr);
  EXPECT_EQ(set->find("old-2025")->rawBytes(), old.publicKey().rawBytes());
  EXPECT_EQ(set->find("gw-ed")->algorithm(), Algorithm::Ed25519);
  EXPECT_EQ(set->find("gw-p256")->rawBytes(), p256.publicKey().rawBytes());
  EXPECT_EQ(set->find("nobody"), nullptr);
  EXPECT_EQ(set->find(""), nullptr);
}

TEST_F(GatewayKeysTest, Sec1AndPkcs8PrivateKeysLoad) {
  const KeyFiles p256 = KeyFiles::generate(dir_.path(), "p256", "EC");
  for (const auto& file : {p256.pkcs8_pem, p256.sec1_pem}) {
    SCOPED_TRACE(file.string());
    std::vector<GatewayKeyError> errors;
    const std::vector<GatewayKeySpec> specs = {{"k1", file, {}, true}};
    const auto set = GatewayKeySet::loadBlocking(specs, errors);
    ASSERT_TRUE(set) << describe(errors);
    EXPECT_EQ(set->find("k1")->rawBytes(), p256.publicKey().rawBytes());
  }
  std::ifstream in(p256.sec1_pem);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("BEGIN EC PRIVATE KEY"));  // the SEC1 file really is SEC1
}

TEST_F(GatewayKeysTest, SignUsesTheActiveKey) {
  for (const char* type : {"ED25519", "EC"}) {
    SCOPED_TRACE(type);
    const KeyFiles k = KeyFiles::generate(dir_.path(), type, type);
    const KeyFiles other = KeyFiles::generate(dir_.path(), std::string(type) + "-o", type);
    std::vector<GatewayKeyError> errors;
    const std::vector<GatewayKeySpec> specs = {{"retired", {}, other.public_pem, false},
                                               {"current", k.pkcs8_pem, {}, true}};
    const auto set = GatewayKeySet::loadBlocking(specs, errors);
    ASSERT_TRUE(set) << describe(errors);
    const auto sig = set->sign("checkpoint bytes");
    ASSERT_TRUE(sig);
    EXPECT_EQ(sig->kid, "current");
    EXPECT_EQ(sig->algorithm, std::string(type) == "EC" ? "ecdsa-p256-sha256" : "ed25519");
    EXPECT_EQ(sig->signature.size(), 64u);
    EXPECT_TRUE(k.publicKey().verify("checkpoint bytes", sig->signature));
    EXPECT_FALSE(k.publicKey().verify("checkpoint bytez", sig->signature));
    EXPECT_FALSE(other.publicKey().verify("checkpoint bytes", sig->signature));
  }
}

TEST_F(GatewayKeysTest, ErrorsAreAllCollectedWithIndexAndKid) {
  const KeyFiles a = KeyFiles::generate(dir_.path(), "a", "ED25519");
  const KeyFiles b = KeyFiles::generate(dir_.path(), "b", "EC");
  const auto rsa = dir_.path() / "rsa.pem";
  test::writeRsaPrivateKey(rsa);
  const auto garbage = dir_.path() / "garbage.pem";
  std::ofstream(garbage) << "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n";

  const std::vector<GatewayKeySpec> specs = {
      {"k0", a.pkcs8_pem, {}, true},
      {"k0", b.pkcs8_pem, {}, true},                   // duplicate kid, second active
      {"k 2", {}, b.public_pem, false},                // bad kid
      {"k3", garbage, {}, false},                      // bad PEM
      {"k4", rsa, {}, false},                          // RSA refused
      {"k5", dir_.path() / "missing.pem", {}, false},  // no file
      {"k6", {}, {}, false},                           // nothing configured
      {"k7", a.pkcs8_pem, b.public_pem, false},        // files of two different keys
  };
  std::vector<GatewayKeyError> errors;
  EXPECT_FALSE(GatewayKeySet::loadBlocking(specs, errors));
  const std::string all = describe(errors);
  auto find = [&](std::size_t index) -> std::string {
    std::string out;
    for (const auto& e : errors) {
      if (e.index == index) out += e.kid + ": " + e.message + "\n";
    }
    return out;
  };
  EXPECT_THAT(find(1), HasSubstr("duplicate kid")) << all;
  EXPECT_THAT(find(2), HasSubstr("kid must be")) << all;
  EXPECT_THAT(find(2), HasSubstr("k 2")) << all;
  EXPECT_THAT(find(3), HasSubstr("garbage.pem")) << all;
  EXPECT_THAT(find(4), HasSubstr("unsupported key type")) << all;
  EXPECT_THAT(find(4), HasSubstr("k4")) << all;
  EXPECT_THAT(find(5), HasSubstr("missing.pem")) << all;
  EXPECT_THAT(find(6), HasSubstr("has no key")) << all;
  EXPECT_THAT(find(7), HasSubstr("is not the public key of")) << all;
  EXPECT_THAT(find(GatewayKeyError::kWholeSet), HasSubstr("2 active signing keys")) << all;
  EXPECT_EQ(find(0), "") << all;
  // Keys whose file failed are reported once, for the file.
  for (std::size_t i : {3u, 4u, 5u}) {
    int n = 0;
    for (const auto& e : errors) n += e.index == i;
    EXPECT_EQ(n, 1) << i << "\n" << all;
  }
}

TEST_F(GatewayKeysTest, NoActiveKeyIsAnError) {
  const KeyFiles a = KeyFiles::generate(dir_.path(), "a", "ED25519");
  std::vector<GatewayKeyError> errors;
  const std::vector<GatewayKeySpec> specs = {{"k0", a.pkcs8_pem, {}, false}};
  EXPECT_FALSE(GatewayKeySet::loadBlocking(specs, errors));
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_EQ(errors[0].index, GatewayKeyError::kWholeSet);
  EXPECT_THAT(errors[0].message, HasSubstr("no active signing key"));

  errors.clear();
  EXPECT_FALSE(GatewayKeySet::loadBlocking({}, errors));
  EXPECT_THAT(describe(errors), HasSubstr("no active signing key"));
}

TEST_F(GatewayKeysTest, ActiveKeyWithoutPrivateKeyIsAnError) {
  const KeyFiles a = KeyFiles::generate(dir_.path(), "a", "EC");
  std::vector<GatewayKeyError> errors;
  const std::vector<GatewayKeySpec> specs = {{"pub-only", {}, a.public_pem, true}};
  EXPECT_FALSE(GatewayKeySet::loadBlocking(specs, errors));
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_EQ(errors[0].index, 0u);
  EXPECT_EQ(errors[0].kid, "pub-only");
  EXPECT_THAT(errors[0].message, HasSubstr("needs its private key"));
}

TEST_F(GatewayKeysTest, KidRules) {
  const KeyFiles a = KeyFiles::generate(dir_.path(), "a", "ED25519");
  for (const std::string& kid :
       std::vector<std::string>{"gw-2026-11", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                                "a.b~c:d+e/f=", std::string(128, 'k')}) {
    std::vector<GatewayKeyError> errors;
    const std::vector<GatewayKeySpec> specs = {{kid, a.pkcs8_pem, {}, true}};
    EXPECT_TRUE(GatewayKeySet::loadBlocking(specs, errors)) << kid << describe(errors);
  }
  for (const std::string& kid :
       std::vector<std::string>{"", "a b", "a\"b", "a\\b", "ключ", std::string(129, 'k'), "a,b"}) {
    std::vector<GatewayKeyError> errors;
    const std::vector<GatewayKeySpec> specs = {{kid, a.pkcs8_pem, {}, true}};
    EXPECT_FALSE(GatewayKeySet::loadBlocking(specs, errors)) << kid;
  }
}

// The JWKS is parsed as JSON, each JWK's public key rebuilt from x (and y) alone, and a signature
// made with the corresponding private key verifies with it.
TEST_F(GatewayKeysTest, JwksPublishesEveryKeyAndItsCoordinatesVerify) {
  const KeyFiles ed = KeyFiles::generate(dir_.path(), "ed", "ED25519");
  const KeyFiles p256 = KeyFiles::generate(dir_.path(), "p256", "EC");
  const KeyFiles old_ed = KeyFiles::generate(dir_.path(), "old-ed", "ED25519");
  for (bool ed_active : {true, false}) {
    SCOPED_TRACE(ed_active);
    const std::vector<GatewayKeySpec> specs = {
        {"ed", ed.pkcs8_pem, {}, ed_active},
        {"p256", p256.sec1_pem, {}, !ed_active},
        {"old", {}, old_ed.public_pem, false},
    };
    std::vector<GatewayKeyError> errors;
    const auto set = GatewayKeySet::loadBlocking(specs, errors);
    ASSERT_TRUE(set) << describe(errors);

    const boost::json::value doc = boost::json::parse(set->jwksJson());
    const auto& keys = doc.as_object().at("keys").as_array();
    ASSERT_EQ(doc.as_object().size(), 1u);
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_EQ(keys[0].as_object().at("kid").as_string(), ed_active ? "ed" : "p256");
    EXPECT_EQ(keys[2].as_object().at("kid").as_string(), "old");

    for (const auto& v : keys) {
      const auto& jwk = v.as_object();
      const std::string kid(jwk.at("kid").as_string());
      SCOPED_TRACE(kid);
      EXPECT_EQ(jwk.at("use").as_string(), "sig");
      const std::string x(jwk.at("x").as_string());
      EXPECT_EQ(x.find('='), std::string::npos);
      EXPECT_EQ(x.find_first_of("+/"), std::string::npos);
      std::optional<PublicKey> rebuilt;
      if (jwk.at("kty").as_string() == "OKP") {
        EXPECT_EQ(jwk.size(), 6u);
        EXPECT_EQ(jwk.at("crv").as_string(), "Ed25519");
        EXPECT_EQ(jwk.at("alg").as_string(), "EdDSA");
        EXPECT_EQ(x.size(), 43u);
        rebuilt = PublicKey::fromRaw(Algorithm::Ed25519, base64UrlDecode(x));
      } else {
        EXPECT_EQ(jwk.size(), 7u);
        EXPECT_EQ(jwk.at("kty").as_string(), "EC");
        EXPECT_EQ(jwk.at("crv").as_string(), "P-256");
        EXPECT_EQ(jwk.at("alg").as_string(), "ES256");
        const std::string y(jwk.at("y").as_string());
        EXPECT_EQ(x.size(), 43u);
        EXPECT_EQ(y.size(), 43u);
        rebuilt = PublicKey::fromRaw(Algorithm::EcdsaP256Sha256,
                                     "\x04" + base64UrlDecode(x) + base64UrlDecode(y));
      }
      ASSERT_TRUE(rebuilt);
      EXPECT_EQ(rebuilt->rawBytes(), set->find(kid)->rawBytes());
      const KeyFiles& owner = kid == "ed" ? ed : kid == "p256" ? p256 : old_ed;
      const auto sig = signing::sign(owner.privateKey(), "message");
      ASSERT_TRUE(sig);
      EXPECT_TRUE(rebuilt->verify("message", *sig));
      EXPECT_FALSE(rebuilt->verify("massage", *sig));
    }
  }
}

TEST(Base64Url, Rfc4648Vectors) {
  EXPECT_EQ(base64UrlEncode(""), "");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64UrlEncode("\xfb\xff\xbf"), "-_-_");
}

TEST_F(GatewayKeysTest, SharedAcrossThreads) {
  const KeyFiles k = KeyFiles::generate(dir_.path(), "k", "EC");
  std::vector<GatewayKeyError> errors;
  const std::vector<GatewayKeySpec> specs = {{"k", k.pkcs8_pem, {}, true}};
  std::shared_ptr<const GatewayKeySet> set = GatewayKeySet::loadBlocking(specs, errors);
  ASSERT_TRUE(set);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([set, &ok, &k, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string msg = "m" + std::to_string(t * 1000 + i);
        const auto sig = set->sign(msg);
        if (sig && k.publicKey().verify(msg, sig->signature)) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
}

}  // namespace
}  // namespace qaqpa::signing
