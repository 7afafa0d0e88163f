#include "gateway/signing/gateway_keys.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

#include "gateway/signing/structured_field.h"

namespace qaqpa::signing {
namespace {

constexpr std::size_t kMaxKidBytes = 128;

bool isKidChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("._~:+/=-").find(c) != std::string_view::npos;
}

bool isValidKid(std::string_view kid) {
  return !kid.empty() && kid.size() <= kMaxKidBytes &&
         std::all_of(kid.begin(), kid.end(), isKidChar);
}

}  // namespace

std::string base64UrlEncode(std::string_view bytes) {
  std::string out = sf::base64Encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits (2 or 4) must be zero, or two encodings would decode to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string jwkJson(std::string_view kid, const PublicKey& key) {
  const std::string raw = key.rawBytes();
  std::string out;
  out.reserve(200);
  if (key.algorithm() == Algorithm::Ed25519) {
    out += R"({"kty":"OKP","crv":"Ed25519","x":")";
    out += base64UrlEncode(raw);
    out += R"(","kid":")";
    out += kid;
    out += R"(","alg":"EdDSA","use":"sig"})";
    return out;
  }
  // 04 || x || y, 32 bytes each.
  const std::string_view point(raw);
  out += R"({"kty":"EC","crv":"P-256","x":")";
  out += base64UrlEncode(point.substr(1, 32));
  out += R"(","y":")";
  out += base64UrlEncode(point.substr(33, 32));
  out += R"(","kid":")";
  out += kid;
  out += R"(","alg":"ES256","use":"sig"})";
  return out;
}

std::shared_ptr<const GatewayKeySet> GatewayKeySet::loadBlocking(
    std::span<const GatewayKeySpec> specs, std::vector<GatewayKeyError>& errors) {
  std::vector<GatewayKeyError> file_errors;
  std::vector<GatewayKeyMaterial> keys;
  keys.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const GatewayKeySpec& spec = specs[i];
    GatewayKeyMaterial m;
    m.kid = spec.kid;
    m.active = spec.active;
    std::string error;
    if (!spec.private_key_file.empty()) {
      m.private_key = PrivateKey::loadPemFileBlocking(spec.private_key_file, &error);
      if (!m.private_key) file_errors.push_back({i, spec.kid, error});
    }
    if (!spec.public_key_file.empty()) {
      m.public_key = PublicKey::loadPemFileBlocking(spec.public_key_file, &error);
      if (!m.public_key) file_errors.push_back({i, spec.kid, error});
    }
    keys.push_back(std::move(m));
  }
  // The set checks run even when files failed, so one pass reports every problem; a key whose file
  // failed is not reported a second time for what follows from it ("has no key", ...).
  std::vector<GatewayKeyError> set_errors;
  auto set = fromKeys(std::move(keys), set_errors);
  const bool files_ok = file_errors.empty();
  for (GatewayKeyError& e : set_errors) {
    const bool explained =
        e.index != GatewayKeyError::kWholeSet &&
        std::any_of(file_errors.begin(), file_errors.end(),
                    [&](const GatewayKeyError& f) { return f.index == e.index; });
    if (!explained) file_errors.push_back(std::move(e));
  }
  std::stable_sort(
      file_errors.begin(), file_errors.end(),
      [](const GatewayKeyError& a, const GatewayKeyError& b) { return a.index < b.index; });
  errors.insert(errors.end(), std::make_move_iterator(file_errors.begin()),
                std::make_move_iterator(file_errors.end()));
  return files_ok ? set : nullptr;
}

std::shared_ptr<const GatewayKeySet> GatewayKeySet::fromKeys(std::vector<GatewayKeyMaterial> keys,
                                                             std::vector<GatewayKeyError>& errors) {
  const std::size_t errors_before = errors.size();
  std::vector<Entry> entries;
  entries.reserve(keys.size());
  std::optional<PrivateKey> active_private;
  std::size_t active_count = 0;
  std::optional<std::size_t> active_entry;

  for (std::size_t i = 0; i < keys.size(); ++i) {
    GatewayKeyMaterial& k = keys[i];
    auto fail = [&](std::string message) { errors.push_back({i, k.kid, std::move(message)}); };
    if (!isValidKid(k.kid)) {
      fail("kid must be 1-128 characters of A-Z a-z 0-9 . _ ~ : + / = -");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (keys[j].kid == k.kid) {
        fail("duplicate kid (also signing key #" + std::to_string(j) + ")");
        break;
      }
    }
    if (k.active) ++active_count;

    std::optional<PublicKey> pub;
    if (k.private_key) {
      pub = k.private_key->publicKey();
      if (!pub) {
        fail("cannot derive the public key from the private key");
        continue;
      }
      if (k.public_key && (k.public_key->algorithm() != pub->algorithm() ||
                           k.public_key->rawBytes() != pub->rawBytes())) {
        fail("public_key_file is not the public key of private_key_file");
        continue;
      }
    } else if (k.public_key) {
      pub = std::move(k.public_key);
    } else {
      fail("has no key: set private_key_file or public_key_file");
      continue;
    }
    if (k.active) {
      if (!k.private_key) {
        fail("the active key needs its private key (private_key_file)");
        continue;
      }
      if (!active_entry) {
        active_entry = entries.size();
        active_private = std::move(k.private_key);
      }
    }
    entries.push_back({k.kid, std::move(*pub)});
  }

  if (active_count == 0) {
    errors.push_back(
        {GatewayKeyError::kWholeSet, "", "no active signing key (exactly one needed)"});
  } else if (active_count > 1) {
    errors.push_back({GatewayKeyError::kWholeSet, "",
                      std::to_string(active_count) + " active signing keys (exactly one needed)"});
  }
  if (errors.size() != errors_before || !active_entry || !active_private) return nullptr;

  // Active first, the others in configuration order.
  std::rotate(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(*active_entry),
              entries.begin() + static_cast<std::ptrdiff_t>(*active_entry) + 1);
  std::shared_ptr<GatewayKeySet> set(
      new GatewayKeySet(std::move(entries), std::move(*active_private)));
  std::string jwks = R"({"keys":[)";
  for (std::size_t i = 0; i < set->entries_.size(); ++i) {
    if (i != 0) jwks += ',';
    jwks += jwkJson(set->entries_[i].kid, set->entries_[i].public_key);
  }
  jwks += "]}";
  set->jwks_ = std::move(jwks);
  return set;
}

const PublicKey* GatewayKeySet::find(std::string_view kid) const noexcept {
  for (const Entry& e : entries_) {
    if (e.kid == kid) return &e.public_key;
  }
  return nullptr;
}

std::optional<GatewaySignature> GatewayKeySet::sign(std::string_view message) const {
  std::optional<std::string> sig = signing::sign(active_private_, message);
  if (!sig) return std::nullopt;
  return GatewaySignature{entries_.front().kid, algorithmName(active_private_.algorithm()),
                          std::move(*sig)};
}

}  // namespace qaqpa::signing
