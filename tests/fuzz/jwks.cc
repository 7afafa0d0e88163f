// Fuzz target: audit::KeySet::addJwks (a JWKS document comes from outside: `qaqpa journal verify
// --jwks`, fetched from GET /v1/keys), then the KeyResolver on a fixed message with valid
// signatures by the test-only keys of tests/signing/data (so a seed publishing those keys reaches
// the Valid verdict), and base64UrlDecode on the raw input.
// Invariants: addJwks fails with a sentence or succeeds without one; after success every listed
// kid resolves (never UnknownKey) and the set holds at most as many keys as the document lists;
// base64UrlDecode yields exactly floor(6n/8) bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/audit/key_set.h"
#include "gateway/signing/gateway_keys.h"

namespace {

constexpr std::string_view kMessage = "qaqpa fuzz jwks message";

std::string fromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

// kMessage signed by tests/signing/data/test_ed25519_private.pem and test_p256_private.pem (raw
// r‖s), made once with Python's cryptography package.
const std::string kEd25519Signature = fromHex(
    "a21e7885f470867c82c0c2b05b8b0f4cf629499a6986c545ffcad57f44c7a2e2"
    "9d6ee245d6a4bea02dff6fc5b7cf8815fb2e4aec7807d70dfd98f738a5e57608");
const std::string kP256Signature = fromHex(
    "71d155575eb203ae532c334b8746b1c9255ca4e89e8b6ec14cd3d5cac4a25c54"
    "19adb48a821741f013e18be3afb9a26301b28f1db39f38dd6430bdefd83cfd1a");

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto decoded = qaqpa::signing::base64UrlDecode(input)) {
    if (decoded->size() != size * 6 / 8) __builtin_trap();
  }

  qaqpa::audit::KeySet set;
  std::string error;
  const bool ok = set.addJwks(input, error);
  if (ok != error.empty()) __builtin_trap();

  if (ok) {
    // The document is JSON with a "keys" array of objects with a string kid (addJwks said so).
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(input, ec);
    if (ec || !doc.is_object()) __builtin_trap();
    const boost::json::value* keys = doc.get_object().if_contains("keys");
    if (keys == nullptr || !keys->is_array()) __builtin_trap();
    if (set.size() > keys->get_array().size()) __builtin_trap();
    for (const boost::json::value& k : keys->get_array()) {
      const boost::json::value* kid = k.is_object() ? k.get_object().if_contains("kid") : nullptr;
      if (kid == nullptr || !kid->is_string()) __builtin_trap();
      const std::string_view id = kid->get_string();
      if (set.check(id, "ed25519", kMessage, kEd25519Signature) ==
          qaqpa::audit::KeyVerdict::UnknownKey) {
        __builtin_trap();
      }
    }
  }

  const qaqpa::audit::KeyResolver resolve = set.resolver();
  for (const std::string_view kid : {"test-ed25519", "test-p256", "k1"}) {
    for (const std::string_view alg : {"ed25519", "ecdsa-p256-sha256", "rsa-pss-sha512"}) {
      (void)resolve(kid, alg, kMessage, kEd25519Signature);
      (void)resolve(kid, alg, kMessage, kP256Signature);
      (void)resolve(kid, alg, kMessage, std::string_view(kP256Signature).substr(0, 31));
      (void)resolve(kid, alg, kMessage, {});
    }
  }
  return 0;
}
