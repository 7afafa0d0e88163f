#include "gateway/signing/request_signature.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/field.hpp>

#include "gateway/signing/content_digest.h"
#include "gateway/signing/structured_field.h"

namespace qaqpa::signing {
namespace {

constexpr std::array<std::string_view, 7> kDerivedComponents = {
    "@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"};

bool isDerivedSupported(std::string_view name) {
  return std::find(kDerivedComponents.begin(), kDerivedComponents.end(), name) !=
         kDerivedComponents.end();
}

// A lower-case RFC 9110 field name (tchar without upper-case letters).
bool isLowerFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isValueByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u <= 0x7e);
}

bool isPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u <= 0x7e;
  });
}

std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// All field lines of `name` (case-insensitive), each trimmed, joined with ", "; std::nullopt if
// the request has no such line.
std::optional<std::string> joinedField(const pipeline::Request& req, std::string_view name) {
  std::optional<std::string> out;
  for (auto [it, end] = req.equal_range(name); it != end; ++it) {
    if (!out) {
      out.emplace();
    } else {
      *out += ", ";
    }
    *out += trimOws(it->value());
  }
  return out;
}

sf::BareItem stringItem(std::string_view s) {
  sf::BareItem item;
  item.kind = sf::BareKind::String;
  item.text.assign(s);
  return item;
}

sf::BareItem integerItem(std::int64_t v) {
  sf::BareItem item;
  item.kind = sf::BareKind::Integer;
  item.integer = v;
  return item;
}

bool isSfKey(std::string_view key) {
  if (key.empty() || !((key[0] >= 'a' && key[0] <= 'z') || key[0] == '*')) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
           c == '*';
  });
}

VerifyResult outcome(VerifyStatus status, std::string detail = {}) {
  VerifyResult r;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

// A label whose parameters validated: everything needed to check its signature.
struct Candidate {
  std::string label;
  std::string keyid;
  const sf::InnerList* list = nullptr;
  const PublicKey* key = nullptr;
  std::string_view signature;
};

// Validates one Signature-Input member; on success fills `out`.
VerifyResult checkLabel(const sf::Member& member, const sf::Dictionary& signatures,
                        const pipeline::Request& req, const VerifyPolicy& policy,
                        const KeyLookup& lookup, std::int64_t now, Candidate& out) {
  if (!member.is_inner_list) return outcome(VerifyStatus::Malformed, "signature-input not a list");
  const sf::Member* sig = signatures.find(member.key);
  if (sig == nullptr) return outcome(VerifyStatus::Malformed, "no signature for label");
  if (sig->is_inner_list || sig->item.value.kind != sf::BareKind::ByteSequence) {
    return outcome(VerifyStatus::Malformed, "signature not a byte sequence");
  }

  const sf::InnerList& list = member.list;
  std::vector<std::string_view> covered;
  covered.reserve(list.items.size());
  for (const sf::Item& item : list.items) {
    if (item.value.kind != sf::BareKind::String) {
      return outcome(VerifyStatus::Malformed, "component not a string");
    }
    const std::string& name = item.value.text;
    if (!item.params.empty()) return outcome(VerifyStatus::UnsupportedComponent, name);
    if (!name.empty() && name[0] == '@') {
      if (!isDerivedSupported(name)) return outcome(VerifyStatus::UnsupportedComponent, name);
    } else if (!isLowerFieldName(name)) {
      return outcome(VerifyStatus::Malformed, "component name");
    }
    if (std::find(covered.begin(), covered.end(), name) != covered.end()) {
      return outcome(VerifyStatus::Malformed, "duplicate component " + name);
    }
    covered.push_back(name);
  }

  const sf::BareItem* created = sf::findParameter(list.params, "created");
  const sf::BareItem* expires = sf::findParameter(list.params, "expires");
  const sf::BareItem* keyid = sf::findParameter(list.params, "keyid");
  const sf::BareItem* alg = sf::findParameter(list.params, "alg");
  for (std::string_view name : {"nonce", "tag"}) {
    const sf::BareItem* p = sf::findParameter(list.params, name);
    if (p != nullptr && p->kind != sf::BareKind::String) {
      return outcome(VerifyStatus::Malformed, std::string(name));
    }
  }
  if (created != nullptr && created->kind != sf::BareKind::Integer) {
    return outcome(VerifyStatus::Malformed, "created");
  }
  if (expires != nullptr && expires->kind != sf::BareKind::Integer) {
    return outcome(VerifyStatus::Malformed, "expires");
  }
  if (keyid != nullptr && keyid->kind != sf::BareKind::String) {
    return outcome(VerifyStatus::Malformed, "keyid");
  }
  if (alg != nullptr && alg->kind != sf::BareKind::String) {
    return outcome(VerifyStatus::Malformed, "alg");
  }
  if (created == nullptr) return outcome(VerifyStatus::MissingParameter, "created");
  if (keyid == nullptr) return outcome(VerifyStatus::MissingParameter, "keyid");
  if (alg == nullptr) return outcome(VerifyStatus::MissingParameter, "alg");
  out.keyid = keyid->text;

  const std::optional<Algorithm> algorithm = parseAlgorithm(alg->text);
  if (!algorithm) return outcome(VerifyStatus::UnsupportedAlgorithm, alg->text);

  const std::int64_t skew = policy.max_skew.count();
  if (created->integer < now - skew) return outcome(VerifyStatus::StaleCreated);
  if (created->integer > now + skew) return outcome(VerifyStatus::CreatedInFuture);
  if (expires != nullptr && now > expires->integer) return outcome(VerifyStatus::Expired);

  auto isCovered = [&](std::string_view name) {
    return std::find(covered.begin(), covered.end(), name) != covered.end();
  };
  for (const std::string& name : policy.required_components) {
    if (!isCovered(name)) return outcome(VerifyStatus::MissingComponent, name);
  }
  for (const std::string& name : policy.required_if_present) {
    if (req.find(name) != req.end() && !isCovered(name)) {
      return outcome(VerifyStatus::MissingComponent, name);
    }
  }

  const PublicKey* key = lookup ? lookup(keyid->text) : nullptr;
  if (key == nullptr) return outcome(VerifyStatus::UnknownKey);
  if (key->algorithm() != *algorithm) {
    return outcome(VerifyStatus::AlgorithmMismatch, std::string(algorithmName(*algorithm)));
  }

  out.label = member.key;
  out.list = &list;
  out.key = key;
  out.signature = sig->item.value.text;
  return outcome(VerifyStatus::Ok);
}

}  // namespace

std::string serializeSignatureParams(std::span<const Component> components,
                                     const SignatureParams& params) {
  sf::InnerList list;
  for (const Component& c : components) {
    sf::Item item;
    item.value = stringItem(c.name);
    if (c.req) item.params.push_back({"req", sf::BareItem{}});
    list.items.push_back(std::move(item));
  }
  list.params.push_back({"created", integerItem(params.created)});
  if (params.expires) list.params.push_back({"expires", integerItem(*params.expires)});
  if (!params.nonce.empty()) list.params.push_back({"nonce", stringItem(params.nonce)});
  list.params.push_back({"keyid", stringItem(params.keyid)});
  if (params.alg) list.params.push_back({"alg", stringItem(algorithmName(*params.alg))});
  if (!params.tag.empty()) list.params.push_back({"tag", stringItem(params.tag)});
  return sf::serializeInnerList(list);
}

std::string signatureBase(std::span<const Component> components,
                          std::string_view serialized_params) {
  std::string base;
  for (const Component& c : components) {
    base += '"';
    base += c.name;
    base += '"';
    if (c.req) base += ";req";
    base += ": ";
    base += c.value;
    base += '\n';
  }
  base += "\"@signature-params\": ";
  base += serialized_params;
  return base;
}

std::optional<std::string> resolveRequestComponent(const pipeline::Request& req,
                                                   std::string_view name, std::string_view scheme) {
  std::optional<std::string> value;
  if (name.empty()) return std::nullopt;
  if (name[0] != '@') {
    value = joinedField(req, name);
  } else if (name == "@method") {
    value.emplace(req.method_string());
  } else if (name == "@request-target") {
    value.emplace(req.target());
  } else if (name == "@scheme") {
    value = asciiLower(scheme);
  } else if (name == "@authority" || name == "@target-uri") {
    if (req.count(boost::beast::http::field::host) != 1) return std::nullopt;
    const std::string authority = asciiLower(trimOws(req[boost::beast::http::field::host]));
    if (name == "@authority") {
      value = authority;
    } else {
      const std::string_view target = req.target();
      if (target.empty() || target[0] != '/') return std::nullopt;
      value = asciiLower(scheme) + "://" + authority + std::string(target);
    }
  } else if (name == "@path" || name == "@query") {
    const std::string_view target = req.target();
    if (target.empty() || target[0] != '/') return std::nullopt;  // origin-form only
    const std::size_t q = target.find('?');
    if (name == "@path") {
      value.emplace(target.substr(0, q));
    } else {
      value.emplace(q == std::string_view::npos ? "?" : target.substr(q));
    }
  } else {
    return std::nullopt;
  }
  if (value && !std::all_of(value->begin(), value->end(), isValueByte)) return std::nullopt;
  return value;
}

std::optional<SignatureHeaders> signComponents(std::string_view label,
                                               std::span<const Component> components,
                                               const SignatureParams& params,
                                               const PrivateKey& key) {
  if (!isSfKey(label) || !isPrintableAscii(params.keyid) || !isPrintableAscii(params.nonce) ||
      !isPrintableAscii(params.tag)) {
    return std::nullopt;
  }
  if (params.alg && *params.alg != key.algorithm()) return std::nullopt;
  for (const Component& c : components) {
    if (!isPrintableAscii(c.name) || !std::all_of(c.value.begin(), c.value.end(), isValueByte)) {
      return std::nullopt;
    }
  }
  SignatureParams effective = params;
  effective.alg = key.algorithm();
  const std::string serialized = serializeSignatureParams(components, effective);
  const std::optional<std::string> signature = sign(key, signatureBase(components, serialized));
  if (!signature) return std::nullopt;
  SignatureHeaders out;
  out.signature_input = std::string(label) + "=" + serialized;
  out.signature = std::string(label) + "=:" + sf::base64Encode(*signature) + ":";
  return out;
}

std::optional<SignatureHeaders> signRequest(const pipeline::Request& req,
                                            std::span<const std::string_view> component_names,
                                            std::string_view label, const SignatureParams& params,
                                            const PrivateKey& key, std::string_view scheme,
                                            std::string* error) {
  std::vector<Component> components;
  components.reserve(component_names.size());
  for (std::string_view name : component_names) {
    auto value = resolveRequestComponent(req, name, scheme);
    if (!value) {
      if (error != nullptr) error->assign(name);
      return std::nullopt;
    }
    components.push_back({std::string(name), false, std::move(*value)});
  }
  return signComponents(label, components, params, key);
}

std::string_view verifyStatusName(VerifyStatus status) noexcept {
  switch (status) {
    case VerifyStatus::Ok:
      return "ok";
    case VerifyStatus::Missing:
      return "missing";
    case VerifyStatus::Malformed:
      return "malformed";
    case VerifyStatus::MissingParameter:
      return "missing_parameter";
    case VerifyStatus::UnsupportedAlgorithm:
      return "unsupported_algorithm";
    case VerifyStatus::UnsupportedComponent:
      return "unsupported_component";
    case VerifyStatus::MissingComponent:
      return "missing_component";
    case VerifyStatus::AbsentComponent:
      return "absent_component";
    case VerifyStatus::StaleCreated:
      return "stale_created";
    case VerifyStatus::CreatedInFuture:
      return "created_in_future";
    case VerifyStatus::Expired:
      return "expired";
    case VerifyStatus::UnknownKey:
      return "unknown_key";
    case VerifyStatus::AlgorithmMismatch:
      return "algorithm_mismatch";
    case VerifyStatus::BadSignature:
      return "bad_signature";
    case VerifyStatus::DigestMismatch:
      return "digest_mismatch";
  }
  return "unknown";
}

VerifyResult verifyRequest(const pipeline::Request& req, const VerifyPolicy& policy,
                           const KeyLookup& lookup, std::chrono::system_clock::time_point now) {
  const std::optional<std::string> input_value = joinedField(req, "signature-input");
  const std::optional<std::string> signature_value = joinedField(req, "signature");
  if (!input_value || !signature_value) return outcome(VerifyStatus::Missing);

  const sf::DictionaryParse inputs = sf::parseDictionary(*input_value);
  if (!inputs.ok()) {
    return outcome(VerifyStatus::Malformed,
                   "signature-input: " + std::string(sf::parseErrorName(inputs.error)) + " at " +
                       std::to_string(inputs.offset));
  }
  const sf::DictionaryParse signatures = sf::parseDictionary(*signature_value);
  if (!signatures.ok()) {
    return outcome(VerifyStatus::Malformed,
                   "signature: " + std::string(sf::parseErrorName(signatures.error)) + " at " +
                       std::to_string(signatures.offset));
  }
  if (inputs.dict.members.empty() || signatures.dict.members.empty()) {
    return outcome(VerifyStatus::Missing);
  }

  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  Candidate chosen;
  std::optional<VerifyResult> first_failure;
  for (const sf::Member& member : inputs.dict.members) {
    Candidate candidate;
    VerifyResult r = checkLabel(member, signatures.dict, req, policy, lookup, now_s, candidate);
    if (r.ok()) {
      chosen = std::move(candidate);
      break;
    }
    if (!first_failure) {
      r.label = member.key;
      r.keyid = candidate.keyid;
      first_failure = std::move(r);
    }
  }
  if (chosen.list == nullptr) return *first_failure;

  VerifyResult result;
  result.label = chosen.label;
  result.keyid = chosen.keyid;

  std::vector<Component> components;
  components.reserve(chosen.list->items.size());
  for (const sf::Item& item : chosen.list->items) {
    const std::string& name = item.value.text;
    auto value = resolveRequestComponent(req, name, policy.scheme);
    if (!value) {
      result.status = VerifyStatus::AbsentComponent;
      result.detail = name;
      return result;
    }
    components.push_back({name, false, std::move(*value)});
  }
  const std::string base = signatureBase(components, sf::serializeInnerList(*chosen.list));
  if (!chosen.key->verify(base, chosen.signature)) {
    result.status = VerifyStatus::BadSignature;
    return result;
  }

  // The signature is authentic; now the covered digest must describe the body we hold.
  for (const Component& c : components) {
    if (c.name != "content-digest") continue;
    const DigestCheck check = verifyContentDigest(c.value, req.body());
    if (check != DigestCheck::Ok) {
      result.status = VerifyStatus::DigestMismatch;
      result.detail = std::string(digestCheckName(check));
      return result;
    }
  }
  result.status = VerifyStatus::Ok;
  return result;
}

}  // namespace qaqpa::signing
