#include "gateway/signing/response_signature.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/signing/content_digest.h"
#include "gateway/signing/structured_field.h"

namespace qaqpa::signing {
namespace {

constexpr std::string_view kContentDigest = "Content-Digest";
constexpr std::string_view kSignature = "Signature";
constexpr std::string_view kSignatureInput = "Signature-Input";

// The response headers covered when present, in order, after "@status".
constexpr std::array<std::string_view, 4> kResponseHeaders = {"content-digest", "qaqpa-message-id",
                                                              "qaqpa-event-id", "qaqpa-status"};

bool isValueByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u <= 0x7e);
}

std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// RFC 9421 §2.1 value of a header on `fields`: every field line trimmed, joined with ", ". False
// when absent or when a byte cannot be carried. `out` is assigned (its capacity reused).
bool joinedField(const boost::beast::http::fields& fields, std::string_view name,
                 std::string& out) {
  out.clear();
  bool any = false;
  for (auto [it, end] = fields.equal_range(name); it != end; ++it) {
    if (any) out += ", ";
    out += trimOws(it->value());
    any = true;
  }
  return any && std::all_of(out.begin(), out.end(), isValueByte);
}

// Which of the candidate components (kCandidates order) a covered list holds: with the order
// fixed, this bit set identifies the list.
constexpr std::array<std::pair<std::string_view, bool>, 8> kCandidates = {
    {{"@status", false},
     {"content-digest", false},
     {"qaqpa-message-id", false},
     {"qaqpa-event-id", false},
     {"qaqpa-status", false},
     {"@method", true},
     {"@path", true},
     {"qaqpa-client", true}}};

unsigned coveredMask(const std::vector<Component>& components) {
  unsigned mask = 0;
  std::size_t next = 0;
  for (const Component& c : components) {
    while (next < kCandidates.size() &&
           (kCandidates[next].first != c.name || kCandidates[next].second != c.req)) {
      ++next;
    }
    if (next == kCandidates.size()) return ~0u;  // not a candidate: never equal to a cached mask
    mask |= 1u << next++;
  }
  return mask;
}

// Per-call scratch of signResponse, one per thread: after the first responses nothing here
// allocates (the strings keep their capacity).
struct Scratch {
  std::vector<Component> components;
  // The serialised inner list (serializeSignatureParams) of the last response signed on this
  // thread and what it was made of. Within one second, with the same key and the same covered
  // list, it is identical, so it is reused: serialising costs ~20 allocations.
  std::string serialized;
  unsigned mask = ~0u;
  std::int64_t created = 0;
  std::string keyid;
  Algorithm alg = Algorithm::Ed25519;
  std::string header;  // Signature-Input / Signature member value being built
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

VerifyResult failure(VerifyStatus status, std::string detail = {}) {
  VerifyResult r;
  r.status = status;
  r.label = std::string(kResponseSignatureLabel);
  r.detail = std::move(detail);
  return r;
}

std::optional<std::string> joined(const boost::beast::http::fields& fields, std::string_view name) {
  std::optional<std::string> out;
  for (auto [it, end] = fields.equal_range(name); it != end; ++it) {
    if (!out) {
      out.emplace();
    } else {
      *out += ", ";
    }
    *out += trimOws(it->value());
  }
  return out;
}

}  // namespace

void responseComponents(const pipeline::Request* req, const pipeline::Response& res,
                        std::vector<Component>& out) {
  std::size_t n = 0;
  // The next slot, reusing an existing element (and its string buffers) when there is one.
  auto next = [&](std::string_view name, bool is_req) -> Component& {
    if (n == out.size()) out.emplace_back();
    Component& c = out[n++];
    c.name.assign(name);
    c.req = is_req;
    return c;
  };

  {
    Component& status = next("@status", false);
    std::array<char, 8> digits{};
    const auto [end, ec] =
        std::to_chars(digits.data(), digits.data() + digits.size(), res.result_int());
    status.value.assign(digits.data(), ec == std::errc() ? end : digits.data());
  }
  for (std::string_view name : kResponseHeaders) {
    Component& c = next(name, false);
    if (!joinedField(res, name, c.value)) --n;  // absent: not covered
  }
  if (req != nullptr) {
    Component& method = next("@method", true);
    method.value.assign(req->method_string());
    if (method.value.empty() ||
        !std::all_of(method.value.begin(), method.value.end(), isValueByte)) {
      --n;
    }
    const std::string_view target = req->target();
    if (!target.empty() && target.front() == '/') {  // origin-form only, as for requests
      Component& path = next("@path", true);
      path.value.assign(target.substr(0, target.find('?')));
      if (!std::all_of(path.value.begin(), path.value.end(), isValueByte)) --n;
    }
    Component& client = next("qaqpa-client", true);
    if (!joinedField(*req, "qaqpa-client", client.value)) --n;
  }
  out.resize(n);
}

bool signResponse(const pipeline::Request* req, pipeline::Response& res, const GatewayKeySet& keys,
                  std::chrono::system_clock::time_point now) noexcept {
  return signResponse(req, res, keys, now, {});
}

bool signResponse(const pipeline::Request* req, pipeline::Response& res, const GatewayKeySet& keys,
                  std::chrono::system_clock::time_point now,
                  std::string_view body_digest) noexcept {
  try {
    res.erase(kSignature);
    res.erase(kSignatureInput);
    if (body_digest.empty()) {
      res.set(kContentDigest, contentDigestSha256(res.body()));
    } else {
      res.set(kContentDigest, body_digest);
    }

    Scratch& s = scratch();
    responseComponents(req, res, s.components);

    const GatewayKeySet::ActiveKey active = keys.active();
    const Algorithm alg = active.key.algorithm();
    const std::int64_t created =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const unsigned mask = coveredMask(s.components);
    if (mask != s.mask || created != s.created || alg != s.alg || active.kid != s.keyid) {
      // Every value was checked by responseComponents (HTAB / %x20-7E) and the kid at load, so the
      // serialisation is valid RFC 8941 (what signComponents would check).
      SignatureParams params;
      params.created = created;
      params.keyid.assign(active.kid);
      params.alg = alg;
      s.mask = ~0u;  // until the new value is complete
      s.serialized = serializeSignatureParams(s.components, params);
      s.mask = mask;
      s.created = created;
      s.alg = alg;
      s.keyid.assign(active.kid);
    }
    const std::optional<std::string> signature =
        sign(active.key, signatureBase(s.components, s.serialized));
    if (!signature) return false;

    s.header.assign(kResponseSignatureLabel).append("=").append(s.serialized);
    res.set(kSignatureInput, s.header);
    s.header.assign(kResponseSignatureLabel)
        .append("=:")
        .append(sf::base64Encode(*signature))
        .append(":");
    res.set(kSignature, s.header);
    return true;
  } catch (...) {
    // Out of memory (or a field Beast refuses): never leave a partial signature behind.
    try {
      res.erase(kSignature);
      res.erase(kSignatureInput);
    } catch (...) {
    }
    return false;
  }
}

VerifyResult verifyResponse(const pipeline::Request* req, const pipeline::Response& res,
                            const KeyLookup& lookup) {
  const std::optional<std::string> input_value = joined(res, "signature-input");
  const std::optional<std::string> signature_value = joined(res, "signature");
  if (!input_value || !signature_value) return failure(VerifyStatus::Missing);
  const sf::DictionaryParse inputs = sf::parseDictionary(*input_value);
  const sf::DictionaryParse signatures = sf::parseDictionary(*signature_value);
  if (!inputs.ok() || !signatures.ok()) return failure(VerifyStatus::Malformed, "structured field");
  const sf::Member* input = inputs.dict.find(kResponseSignatureLabel);
  const sf::Member* sig = signatures.dict.find(kResponseSignatureLabel);
  if (input == nullptr || sig == nullptr) return failure(VerifyStatus::Missing);
  if (!input->is_inner_list) return failure(VerifyStatus::Malformed, "signature-input");
  if (sig->is_inner_list || sig->item.value.kind != sf::BareKind::ByteSequence) {
    return failure(VerifyStatus::Malformed, "signature");
  }
  const sf::InnerList& list = input->list;

  const sf::BareItem* created = sf::findParameter(list.params, "created");
  const sf::BareItem* keyid = sf::findParameter(list.params, "keyid");
  const sf::BareItem* alg = sf::findParameter(list.params, "alg");
  if (created == nullptr) return failure(VerifyStatus::MissingParameter, "created");
  if (keyid == nullptr) return failure(VerifyStatus::MissingParameter, "keyid");
  if (alg == nullptr) return failure(VerifyStatus::MissingParameter, "alg");
  if (created->kind != sf::BareKind::Integer || keyid->kind != sf::BareKind::String ||
      alg->kind != sf::BareKind::String) {
    return failure(VerifyStatus::Malformed, "parameter type");
  }
  VerifyResult result = failure(VerifyStatus::Ok);
  result.keyid = keyid->text;
  const std::optional<Algorithm> algorithm = parseAlgorithm(alg->text);
  if (!algorithm) {
    result.status = VerifyStatus::UnsupportedAlgorithm;
    return result;
  }

  // What is covered must be exactly what exists on this exchange.
  std::vector<Component> expected;
  responseComponents(req, res, expected);
  auto covers = [&](const Component& c) {
    return std::any_of(list.items.begin(), list.items.end(), [&](const sf::Item& item) {
      return item.value.text == c.name &&
             (sf::findParameter(item.params, "req") != nullptr) == c.req;
    });
  };
  for (const Component& c : expected) {
    if (!covers(c)) {
      result.status = VerifyStatus::MissingComponent;  // exists, but the signature omits it
      result.detail = c.name;
      return result;
    }
  }
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const sf::Item& item = list.items[i];
    const bool item_req = sf::findParameter(item.params, "req") != nullptr;
    const bool same = i < expected.size() && item.value.kind == sf::BareKind::String &&
                      item.value.text == expected[i].name && item_req == expected[i].req &&
                      item.params.size() == (item_req ? 1u : 0u);
    if (!same) {
      // Every existing component is covered, so this one is extra (covered, absent here), carries
      // another parameter, or is out of order.
      result.status = VerifyStatus::AbsentComponent;
      result.detail = item.value.text;
      return result;
    }
  }

  const PublicKey* key = lookup ? lookup(keyid->text) : nullptr;
  if (key == nullptr) {
    result.status = VerifyStatus::UnknownKey;
    return result;
  }
  if (key->algorithm() != *algorithm) {
    result.status = VerifyStatus::AlgorithmMismatch;
    return result;
  }
  const std::string base = signatureBase(expected, sf::serializeInnerList(list));
  if (!key->verify(base, sig->item.value.text)) {
    result.status = VerifyStatus::BadSignature;
    return result;
  }
  const auto digest = std::find_if(expected.begin(), expected.end(),
                                   [](const Component& c) { return c.name == "content-digest"; });
  if (digest == expected.end()) {
    result.status = VerifyStatus::MissingComponent;
    result.detail = "content-digest";
    return result;
  }
  const DigestCheck check = verifyContentDigest(digest->value, res.body());
  if (check != DigestCheck::Ok) {
    result.status = VerifyStatus::DigestMismatch;
    result.detail = std::string(digestCheckName(check));
    return result;
  }
  return result;
}

}  // namespace qaqpa::signing
