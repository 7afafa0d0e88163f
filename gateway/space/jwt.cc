#include "gateway/space/jwt.h"

#include <array>
#include <cmath>
#include <set>
#include <vector>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "gateway/signing/gateway_keys.h"

namespace qaqpa::space {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxHeaderPart = 1024;    // base64url characters
constexpr std::size_t kMaxSignaturePart = 256;  // base64url characters (64-byte signatures: 86)
constexpr std::size_t kMaxJsonDepth = 16;
// NumericDates beyond year 9999 are nonsense; the bound keeps the millisecond arithmetic exact.
constexpr double kMaxNumericDate = 253402300799.0;

TokenResult refuse(TokenStatus status, std::string detail) {
  TokenResult r;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

// A header value quoted in a detail: at most 32 printable ASCII characters.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 32)) out += (c >= ' ' && c < 0x7f) ? c : '?';
  if (s.size() > 32) out += "...";
  return out + "'";
}

// A SAX handler that accepts any JSON but fails on a repeated key within one object (RFC 7515
// §4 / RFC 7519 §4: a JWS/JWT with duplicate member names must be rejected or use the last —
// we reject: two parsers disagreeing on a claim is what an attacker wants).
class DuplicateKeyCheck {
 public:
  static constexpr std::size_t max_object_size = 256;
  static constexpr std::size_t max_array_size = 256;
  static constexpr std::size_t max_key_size = 256;
  static constexpr std::size_t max_string_size = kMaxTokenBytes;

  bool duplicate = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    keys_.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!keys_.back().insert(std::move(key_)).second) {
      duplicate = true;
      ec = json::error::syntax;
      return false;
    }
    key_.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string key_;
};

json::parse_options strictOptions() {
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  opts.allow_comments = false;
  opts.allow_trailing_commas = false;
  opts.allow_invalid_utf8 = false;
  return opts;
}

// A JSON object with unique keys, or std::nullopt with `why` set.
std::optional<json::object> parseObject(std::string_view text, std::string_view what,
                                        std::string& why) {
  const json::parse_options opts = strictOptions();
  {
    json::basic_parser<DuplicateKeyCheck> check(opts);
    json::error_code ec;
    const std::size_t n = check.write_some(false, text.data(), text.size(), ec);
    if (check.handler().duplicate) {
      why = std::string(what) + " repeats a member name";
      return std::nullopt;
    }
    if (ec || n != text.size()) {
      why = std::string(what) + " is not valid JSON";
      return std::nullopt;
    }
  }
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opts);
  if (ec || !v.is_object()) {
    why = std::string(what) + " is not a JSON object";
    return std::nullopt;
  }
  return std::move(v.as_object());
}

// A NumericDate (RFC 7519 §2: seconds since the epoch, possibly fractional) as a time point
// with millisecond precision; std::nullopt if absent-as-number, negative or absurd.
std::optional<Clock::time_point> numericDate(const json::value& v) {
  double seconds = 0;
  if (v.is_int64()) {
    seconds = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    seconds = static_cast<double>(v.get_uint64());
  } else if (v.is_double()) {
    seconds = v.get_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) return std::nullopt;
  const auto ms = static_cast<std::int64_t>(std::floor(seconds * 1000.0));
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(milliseconds(ms)));
}

bool equalsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

constexpr std::array<std::string_view, 10> kRefusedHeaders = {
    "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "cty", "b64", "zip"};

std::string seconds(milliseconds d) { return std::to_string(d.count() / 1000) + " s"; }

}  // namespace

std::string_view tokenStatusName(TokenStatus status) noexcept {
  switch (status) {
    case TokenStatus::Ok:
      return "OK";
    case TokenStatus::Missing:
      return "TOKEN_MISSING";
    case TokenStatus::Malformed:
      return "TOKEN_MALFORMED";
    case TokenStatus::TooLarge:
      return "TOKEN_TOO_LARGE";
    case TokenStatus::AlgRefused:
      return "TOKEN_ALG_REFUSED";
    case TokenStatus::HeaderRefused:
      return "TOKEN_HEADER_REFUSED";
    case TokenStatus::IssuerUnknown:
      return "TOKEN_ISSUER_UNKNOWN";
    case TokenStatus::KeyUnknown:
      return "TOKEN_KEY_UNKNOWN";
    case TokenStatus::SignatureInvalid:
      return "TOKEN_SIGNATURE_INVALID";
    case TokenStatus::ClaimsInvalid:
      return "TOKEN_CLAIMS_INVALID";
    case TokenStatus::AudienceMismatch:
      return "TOKEN_AUDIENCE_MISMATCH";
    case TokenStatus::Expired:
      return "TOKEN_EXPIRED";
    case TokenStatus::NotYetValid:
      return "TOKEN_NOT_YET_VALID";
    case TokenStatus::LifetimeTooLong:
      return "TOKEN_LIFETIME_TOO_LONG";
    case TokenStatus::SubjectInvalid:
      return "TOKEN_SUBJECT_INVALID";
  }
  return "TOKEN_MALFORMED";
}

TokenResult verifyCitizenToken(std::string_view token, const IdentityProviderRegistry& registry,
                               Clock::time_point now) {
  // 1. Shape and size.
  if (token.empty()) return refuse(TokenStatus::Missing, "no token");
  if (token.size() > kMaxTokenBytes) {
    return refuse(TokenStatus::TooLarge,
                  "the token is over " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse(TokenStatus::Malformed, "a JWS has exactly three parts separated by '.'");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return refuse(TokenStatus::Malformed, "a JWS part is empty");
  }
  if (header_b64.size() > kMaxHeaderPart) {
    return refuse(TokenStatus::TooLarge, "the JWS header is over 1 KiB");
  }
  if (signature_b64.size() > kMaxSignaturePart) {
    return refuse(TokenStatus::TooLarge, "the JWS signature is over 256 characters");
  }
  const auto header_json = signing::base64UrlDecode(header_b64);
  const auto payload_json = signing::base64UrlDecode(payload_b64);
  const auto signature = signing::base64UrlDecode(signature_b64);
  if (!header_json || !payload_json || !signature) {
    return refuse(TokenStatus::Malformed,
                  "a JWS part is not base64url without padding (RFC 7515 §2)");
  }

  // 2. Header.
  std::string why;
  const auto header = parseObject(*header_json, "the JWS header", why);
  if (!header) return refuse(TokenStatus::Malformed, why);
  const json::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr || !alg_value->is_string()) {
    return refuse(TokenStatus::AlgRefused, "the JWS header has no alg");
  }
  const std::string_view alg_name(alg_value->get_string().data(), alg_value->get_string().size());
  const auto alg = parseJwsAlgorithm(alg_name);
  if (!alg) {
    return refuse(TokenStatus::AlgRefused,
                  "alg " + quote(alg_name) + " is refused; only EdDSA and ES256 are accepted");
  }
  for (std::string_view name : kRefusedHeaders) {
    if (header->contains(json::string_view(name.data(), name.size()))) {
      return refuse(TokenStatus::HeaderRefused,
                    "the JWS header parameter '" + std::string(name) +
                        "' is refused (keys come from the configuration only)");
    }
  }
  if (const json::value* typ = header->if_contains("typ")) {
    const bool jwt =
        typ->is_string() &&
        equalsIgnoreAsciiCase(std::string_view(typ->get_string().data(), typ->get_string().size()),
                              "JWT");
    if (!jwt) return refuse(TokenStatus::HeaderRefused, "typ must be JWT");
  }
  const json::value* kid_value = header->if_contains("kid");
  if (kid_value == nullptr || !kid_value->is_string() || kid_value->get_string().empty()) {
    return refuse(TokenStatus::KeyUnknown, "the JWS header has no kid");
  }
  const std::string_view kid(kid_value->get_string().data(), kid_value->get_string().size());

  // 3. Issuer and key (the payload is read before the signature is checked only to find them).
  const auto claims = parseObject(*payload_json, "the JWT claims set", why);
  if (!claims) return refuse(TokenStatus::Malformed, why);
  const json::value* iss_value = claims->if_contains("iss");
  if (iss_value == nullptr || !iss_value->is_string()) {
    return refuse(TokenStatus::IssuerUnknown, "the token has no iss claim");
  }
  const std::string_view iss(iss_value->get_string().data(), iss_value->get_string().size());
  const TrustedIssuer* issuer = registry.findIssuer(iss);
  if (issuer == nullptr) {
    return refuse(TokenStatus::IssuerUnknown, "the issuer is not a trusted identity provider");
  }
  const TrustedKey* key = IdentityProviderRegistry::findKey(*issuer, kid);
  if (key == nullptr) {
    return refuse(TokenStatus::KeyUnknown,
                  "kid " + quote(kid) + " is not a key of issuer " + quote(issuer->issuer));
  }
  if (key->alg != *alg) {
    return refuse(TokenStatus::AlgRefused, "kid " + quote(kid) + " is an " +
                                               std::string(jwsAlgorithmName(key->alg)) +
                                               " key; the header says " + quote(alg_name));
  }

  // 4. Signature over the JWS signing input (RFC 7515 §5.2).
  const std::string_view signing_input = token.substr(0, dot2);
  if (signature->size() != 64) {
    return refuse(TokenStatus::SignatureInvalid,
                  "the signature is " + std::to_string(signature->size()) +
                      " bytes; EdDSA and ES256 signatures are 64 (ES256: raw r||s, not DER)");
  }
  if (!key->key.verify(signing_input, *signature)) {
    return refuse(TokenStatus::SignatureInvalid, "the signature does not verify");
  }

  // 5. Claims.
  const TokenPolicy& policy = registry.policy();
  const json::value* exp_value = claims->if_contains("exp");
  const json::value* iat_value = claims->if_contains("iat");
  if (exp_value == nullptr || iat_value == nullptr) {
    return refuse(TokenStatus::ClaimsInvalid, "exp and iat are required");
  }
  const auto exp = numericDate(*exp_value);
  const auto iat = numericDate(*iat_value);
  if (!exp || !iat) {
    return refuse(TokenStatus::ClaimsInvalid, "exp and iat must be NumericDates (seconds)");
  }
  std::optional<Clock::time_point> nbf;
  if (const json::value* nbf_value = claims->if_contains("nbf")) {
    nbf = numericDate(*nbf_value);
    if (!nbf) return refuse(TokenStatus::ClaimsInvalid, "nbf must be a NumericDate (seconds)");
  }
  if (*exp <= *iat) return refuse(TokenStatus::ClaimsInvalid, "exp is not after iat");

  const json::value* aud_value = claims->if_contains("aud");
  if (aud_value == nullptr) {
    return refuse(TokenStatus::AudienceMismatch, "the token has no aud claim");
  }
  const json::string_view audience(policy.audience.data(), policy.audience.size());
  bool ours = false;
  if (aud_value->is_string()) {
    ours = aud_value->get_string() == audience;
  } else if (aud_value->is_array()) {
    for (const json::value& a : aud_value->get_array()) {
      if (!a.is_string()) return refuse(TokenStatus::ClaimsInvalid, "aud holds a non-string");
      ours = ours || a.get_string() == audience;
    }
  } else {
    return refuse(TokenStatus::ClaimsInvalid, "aud must be a string or an array of strings");
  }
  if (!ours) {
    return refuse(TokenStatus::AudienceMismatch,
                  "the token is not meant for audience " + quote(policy.audience));
  }

  const auto skew = std::chrono::duration_cast<Clock::duration>(policy.max_clock_skew);
  if (now >= *exp + skew) return refuse(TokenStatus::Expired, "the token has expired");
  if (nbf && now < *nbf - skew) {
    return refuse(TokenStatus::NotYetValid, "the token is not valid yet (nbf)");
  }
  if (now < *iat - skew) {
    return refuse(TokenStatus::NotYetValid, "the token was issued in the future (iat)");
  }
  if (*exp - *iat > std::chrono::duration_cast<Clock::duration>(policy.max_token_lifetime)) {
    return refuse(TokenStatus::LifetimeTooLong,
                  "exp - iat is over the accepted " + seconds(policy.max_token_lifetime));
  }

  const json::value* sub_value = claims->if_contains("sub");
  if (sub_value == nullptr || !sub_value->is_string()) {
    return refuse(TokenStatus::SubjectInvalid, "the token has no sub claim");
  }
  common::SubjectParse subject = common::parseSubject(
      std::string_view(sub_value->get_string().data(), sub_value->get_string().size()));
  if (!subject.id || subject.id->kind != common::SubjectKind::Iin) {
    const bool checksum = !subject.id && subject.error == common::SubjectError::Checksum;
    return refuse(TokenStatus::SubjectInvalid, checksum
                                                   ? "sub has an invalid IIN check digit"
                                                   : "sub must be IIN:<12 digits> (a citizen)");
  }

  TokenResult ok;
  ok.status = TokenStatus::Ok;
  ok.subject = std::move(*subject.id);
  ok.issuer = issuer->issuer;
  ok.kid = key->kid;
  ok.issued_at = *iat;
  ok.expires = *exp;
  return ok;
}

BearerToken parseBearerAuthorization(std::string_view value) noexcept {
  auto ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!value.empty() && ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && ows(value.back())) value.remove_suffix(1);
  if (value.empty()) return {TokenStatus::Missing, {}};
  const std::size_t space = value.find_first_of(" \t");
  const std::string_view scheme = value.substr(0, space);
  if (!equalsIgnoreAsciiCase(scheme, "Bearer")) return {TokenStatus::Missing, {}};
  if (space == std::string_view::npos) return {TokenStatus::Malformed, {}};
  std::string_view rest = value.substr(space);
  // RFC 9110 §11.4: the scheme and the credentials are separated by 1*SP.
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) return {TokenStatus::Malformed, {}};
  // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  std::size_t i = 0;
  auto token_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  };
  while (i < rest.size() && token_char(rest[i])) ++i;
  if (i == 0) return {TokenStatus::Malformed, {}};
  while (i < rest.size() && rest[i] == '=') ++i;
  if (i != rest.size()) return {TokenStatus::Malformed, {}};
  if (rest.size() > kMaxTokenBytes) return {TokenStatus::TooLarge, {}};
  return {TokenStatus::Ok, rest};
}

TokenResult verifyBearerAuthorization(std::optional<std::string_view> header_value,
                                      const IdentityProviderRegistry& registry,
                                      Clock::time_point now) {
  if (!header_value) return refuse(TokenStatus::Missing, "no Authorization header");
  const BearerToken bearer = parseBearerAuthorization(*header_value);
  switch (bearer.status) {
    case TokenStatus::Ok:
      break;
    case TokenStatus::Missing:
      return refuse(TokenStatus::Missing, "the Authorization header holds no Bearer token");
    case TokenStatus::TooLarge:
      return refuse(TokenStatus::TooLarge,
                    "the token is over " + std::to_string(kMaxTokenBytes) + " bytes");
    default:
      return refuse(TokenStatus::Malformed,
                    "the Authorization header is not 'Bearer <one token>' (RFC 6750 §2.1)");
  }
  return verifyCitizenToken(bearer.token, registry, now);
}

}  // namespace qaqpa::space
