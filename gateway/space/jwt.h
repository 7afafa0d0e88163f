// Verification of citizens' Bearer tokens on the `space` listener (PROTOCOL.md §7): JWT (RFC
// 7519) in JWS compact serialisation (RFC 7515), signed EdDSA (Ed25519, RFC 8037) or ES256
// (ECDSA P-256, RFC 7518 §3.4: the signature is raw r||s, 64 bytes — never DER) by a key of a
// trusted identity provider (identity_providers.h).
//
// Strict on purpose; every refusal has its own TokenStatus with a stable name (the `reason` of
// the later 401 problem). Checks, in this order:
//  1. size: the token ≤ kMaxTokenBytes; three non-empty dot-separated parts; header ≤ 1 KiB and
//     signature ≤ 256 bytes of base64url, each part strict base64url (RFC 4648 §5 alphabet, no
//     padding, no whitespace, unused bits zero);
//  2. header: a JSON object (no duplicate keys, UTF-8, depth ≤ 16); `alg` exactly "EdDSA" or
//     "ES256" (case-sensitive; `none`, HS*, RS*, PS*, ... refused); `typ`, if present, "JWT"
//     (ASCII case-insensitive, RFC 7515 §4.1.9); `crit`, `jku`, `jwk`, `x5u`, `x5c`, `x5t`,
//     `x5t#S256`, `cty`, `b64`, `zip` refused (keys are never fetched or taken from the token);
//     `kid` a non-empty string;
//  3. payload: a JSON object under the same rules; `iss` a string naming a trusted issuer, `kid`
//     one of THAT issuer's keys (a kid of another issuer is unknown); the key's type is `alg`;
//  4. the signature over ASCII(header "." payload) with that key;
//  5. claims (only now, after the signature): `exp` and `iat` required NumericDates, `nbf`
//     optional; `exp` > `iat`; `aud` a string or an array of strings containing the configured
//     audience; `exp` + skew > now; `nbf` − skew ≤ now; `iat` − skew ≤ now;
//     `exp` − `iat` ≤ max_token_lifetime; `sub` = "IIN:<12 digits>" with a valid check digit
//     (common::parseSubject; a BIN is refused).
//
// Pure functions: no I/O, no clock (time is passed in), memory bounded by the token's size;
// safe to call concurrently from any thread, including workers. Nothing throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/common/ids.h"
#include "gateway/space/identity_providers.h"

namespace qaqpa::space {

inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;

enum class TokenStatus : std::uint8_t {
  Ok,
  Missing,           // no Authorization header, an empty one, or not the Bearer scheme
  Malformed,         // not three strict base64url parts of JSON objects; duplicate JSON keys
  TooLarge,          // the token or one of its parts over its bound
  AlgRefused,        // alg not EdDSA/ES256, or not the type of the named key
  HeaderRefused,     // crit, jku, jwk, x5u, x5c, ... present; typ not JWT
  IssuerUnknown,     // iss missing, not a string, or not a trusted issuer
  KeyUnknown,        // kid missing or not one of the issuer's keys
  SignatureInvalid,  // the signature does not verify (wrong length included: DER ES256)
  ClaimsInvalid,     // exp/iat missing or not numbers, exp <= iat, aud of the wrong type
  AudienceMismatch,  // aud does not name the configured audience
  Expired,           // exp + skew <= now
  NotYetValid,       // nbf - skew > now, or iat - skew > now (issued in the future)
  LifetimeTooLong,   // exp - iat > max_token_lifetime
  SubjectInvalid,    // sub missing or not IIN:<12 digits> with a valid check digit
};
// "OK", "TOKEN_MISSING", "TOKEN_MALFORMED", "TOKEN_TOO_LARGE", "TOKEN_ALG_REFUSED",
// "TOKEN_HEADER_REFUSED", "TOKEN_ISSUER_UNKNOWN", "TOKEN_KEY_UNKNOWN", "TOKEN_SIGNATURE_INVALID",
// "TOKEN_CLAIMS_INVALID", "TOKEN_AUDIENCE_MISMATCH", "TOKEN_EXPIRED", "TOKEN_NOT_YET_VALID",
// "TOKEN_LIFETIME_TOO_LONG", "TOKEN_SUBJECT_INVALID". Stable: clients may match on them.
std::string_view tokenStatusName(TokenStatus status) noexcept;

struct TokenResult {
  TokenStatus status = TokenStatus::Malformed;
  // Filled only when status == Ok: the citizen and who vouched for them.
  common::SubjectId subject;  // kind Iin
  std::string issuer;
  std::string kid;
  std::chrono::system_clock::time_point issued_at{};
  std::chrono::system_clock::time_point expires{};
  // For logs and the problem's detail: what was wrong, in English. Never contains the token,
  // a signature or key material; may quote a header value (alg, typ) cut to 32 characters.
  std::string detail;

  bool ok() const noexcept { return status == TokenStatus::Ok; }
};

TokenResult verifyCitizenToken(std::string_view token, const IdentityProviderRegistry& registry,
                               std::chrono::system_clock::time_point now);

// The credentials of an `Authorization` header value (RFC 9110 §11.6.2, RFC 6750 §2.1):
// optional surrounding spaces/tabs, the scheme "Bearer" (ASCII case-insensitive), one or more
// spaces, then exactly one b64token ([A-Za-z0-9._~+/-]+ followed by optional '='), nothing
// after it. Status Missing for an empty value or another scheme (Basic, ...), Malformed for a
// Bearer value without exactly one well-formed token, TooLarge for a token over kMaxTokenBytes;
// on Ok `token` views into `header_value`.
struct BearerToken {
  TokenStatus status = TokenStatus::Missing;
  std::string_view token;
};
BearerToken parseBearerAuthorization(std::string_view header_value) noexcept;

// parseBearerAuthorization then verifyCitizenToken. Pass std::nullopt when the request has no
// Authorization header (TokenStatus::Missing). A request with several Authorization headers
// must be refused by the caller (Malformed) before this: which one counts would be ambiguous.
TokenResult verifyBearerAuthorization(std::optional<std::string_view> header_value,
                                      const IdentityProviderRegistry& registry,
                                      std::chrono::system_clock::time_point now);

}  // namespace qaqpa::space
