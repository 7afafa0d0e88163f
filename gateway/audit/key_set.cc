#include "gateway/audit/key_set.h"

#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/signing/gateway_keys.h"

namespace qaqpa::audit {
namespace {

namespace json = boost::json;

const json::string* member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr ? nullptr : v->if_string();
}

}  // namespace

void KeySet::add(std::string key_id, signing::PublicKey key) {
  keys_.insert_or_assign(std::move(key_id), std::move(key));
}

bool KeySet::addJwks(std::string_view jwks_json, std::string& error) {
  boost::system::error_code ec;
  const json::value doc = json::parse(jwks_json, ec);
  if (ec) {
    error = "JWKS is not JSON: " + ec.message();
    return false;
  }
  const json::array* keys = nullptr;
  if (const auto* o = doc.if_object()) {
    if (const auto* k = o->if_contains("keys")) keys = k->if_array();
  }
  if (keys == nullptr) {
    error = "JWKS has no \"keys\" array";
    return false;
  }
  std::size_t index = 0;
  for (const json::value& v : *keys) {
    const std::string where = "JWKS keys[" + std::to_string(index++) + "]";
    const json::object* k = v.if_object();
    if (k == nullptr) {
      error = where + " is not an object";
      return false;
    }
    const json::string* kid = member(*k, "kid");
    const json::string* kty = member(*k, "kty");
    const json::string* crv = member(*k, "crv");
    const json::string* x = member(*k, "x");
    if (kid == nullptr || kid->empty() || kty == nullptr || crv == nullptr || x == nullptr) {
      error = where + " needs kid, kty, crv and x";
      return false;
    }
    const auto xb = signing::base64UrlDecode(*x);
    if (!xb) {
      error = where + " (" + std::string(*kid) + "): x is not base64url";
      return false;
    }
    std::optional<signing::PublicKey> key;
    std::string key_error;
    if (*kty == "OKP" && *crv == "Ed25519") {
      key = signing::PublicKey::fromRaw(signing::Algorithm::Ed25519, *xb, &key_error);
    } else if (*kty == "EC" && *crv == "P-256") {
      const json::string* y = member(*k, "y");
      const auto yb = y == nullptr ? std::nullopt : signing::base64UrlDecode(*y);
      if (!yb || yb->size() != 32 || xb->size() != 32) {
        error = where + " (" + std::string(*kid) + "): P-256 needs 32-byte x and y";
        return false;
      }
      key = signing::PublicKey::fromRaw(signing::Algorithm::EcdsaP256Sha256,
                                        std::string(1, '\x04') + *xb + *yb, &key_error);
    } else {
      error = where + " (" + std::string(*kid) + "): unsupported kty/crv " + std::string(*kty) +
              "/" + std::string(*crv) + " (OKP/Ed25519 and EC/P-256 only)";
      return false;
    }
    if (!key) {
      error = where + " (" + std::string(*kid) + "): " + key_error;
      return false;
    }
    add(std::string(*kid), std::move(*key));
  }
  return true;
}

bool KeySet::addJwksFileBlocking(const std::filesystem::path& file, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot read " + file.string();
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!addJwks(ss.str(), error)) {
    error = file.string() + ": " + error;
    return false;
  }
  return true;
}

bool KeySet::addPemSpecBlocking(std::string_view spec, std::string& error) {
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == spec.size()) {
    error = "--key wants <kid>=<public-key.pem>, got \"" + std::string(spec) + "\"";
    return false;
  }
  std::string key_error;
  auto key = signing::PublicKey::loadPemFileBlocking(std::string(spec.substr(eq + 1)), &key_error);
  if (!key) {
    error = std::string(spec.substr(eq + 1)) + ": " + key_error;
    return false;
  }
  add(std::string(spec.substr(0, eq)), std::move(*key));
  return true;
}

KeyVerdict KeySet::check(std::string_view key_id, std::string_view algorithm,
                         std::string_view message, std::string_view signature) const {
  const auto it = keys_.find(key_id);
  if (it == keys_.end()) return KeyVerdict::UnknownKey;
  const auto alg = signing::parseAlgorithm(algorithm);
  if (!alg || *alg != it->second.algorithm()) return KeyVerdict::BadSignature;
  return it->second.verify(message, signature) ? KeyVerdict::Valid : KeyVerdict::BadSignature;
}

KeyResolver KeySet::resolver() const {
  return
      [this](std::string_view key_id, std::string_view algorithm, std::string_view message,
             std::string_view signature) { return check(key_id, algorithm, message, signature); };
}

}  // namespace qaqpa::audit
