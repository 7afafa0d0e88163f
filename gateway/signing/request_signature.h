// HTTP Message Signatures (RFC 9421) for qaqpa/1 requests (PROTOCOL.md §2): verifying the
// Signature-Input / Signature pair of a received request against a key registry and the
// protocol's policy, and the symmetric signing helpers (used by clients in tests and by the
// gateway to sign responses).
//
// Signature base (RFC 9421 §2.5): one line `"<name>": <value>` per covered component, in the
// order of the Signature-Input inner list, then `"@signature-params": <inner list>` with no
// trailing newline. The inner list is the canonical RFC 8941 re-serialisation of what was parsed.
// Derived components supported: @method, @target-uri, @authority, @scheme, @request-target,
// @path, @query. Header components: lower-case names, each field line's value trimmed of SP/HTAB,
// several lines joined with ", ". Component parameters (;sf, ;key, ;bs, ;req, ;name, ;tr) and
// @query-param / @status are not accepted on requests (UnsupportedComponent).
//
// Label choice: Signature-Input may carry several labels. The labels are examined in the order
// they appear; the first whose parameters validate (has a Signature entry, components
// well formed, created/alg/keyid present, alg supported, inside the time window, every required
// component covered, key known and of the alg's type) is the one verified — and only that one:
// if its signature or digest then fails, verification fails (no fall-through to later labels).
// If no label validates, the result is the reason of the FIRST label. A duplicate label in
// either header is Malformed.
//
// All functions are pure, non-blocking (hashing the body and one signature verification) and
// safe to call concurrently from any worker; they never throw on bad input and never read the
// clock (`now` is passed in).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/pipeline/exchange.h"
#include "gateway/signing/keys.h"

namespace qaqpa::signing {

// One covered component with its resolved value.
struct Component {
  std::string name;  // "@method", "content-digest" (lower-case)
  bool req = false;  // serialised as ;req (a response component taken from its request)
  std::string value;
};

struct SignatureParams {
  std::int64_t created = 0;             // Unix seconds
  std::optional<std::int64_t> expires;  // Unix seconds
  std::string keyid;
  std::optional<Algorithm> alg;  // signComponents/signRequest fill it from the key when unset
  std::string nonce;             // omitted when empty
  std::string tag;               // omitted when empty
};

// The inner list `("<name>"[;req] ...);created=..;expires=..;nonce=..;keyid=..;alg=..;tag=..`
// (absent parameters omitted): the Signature-Input member value and the @signature-params value.
std::string serializeSignatureParams(std::span<const Component> components,
                                     const SignatureParams& params);

// RFC 9421 §2.5 signature base from resolved components and the serialised params.
std::string signatureBase(std::span<const Component> components,
                          std::string_view serialized_params);

// Value of a request component per RFC 9421 §2.1/§2.2 (see the list above); std::nullopt when
// the component is unsupported, the header is absent, the target is not in origin-form, or the
// value has a byte outside HTAB / %x20-7E. `scheme` is the listener's ("https" or "http").
std::optional<std::string> resolveRequestComponent(const pipeline::Request& req,
                                                   std::string_view name, std::string_view scheme);

// Member values for a label: signature_input = `<label>=<inner list>`, signature =
// `<label>=:<base64>:`. Add each to its header (comma-append if the header already exists).
struct SignatureHeaders {
  std::string signature_input;
  std::string signature;
};

// Signs already resolved components. std::nullopt when the label is not an RFC 8941 key, the
// params' strings are not printable ASCII, params.alg differs from the key's, or OpenSSL fails.
std::optional<SignatureHeaders> signComponents(std::string_view label,
                                               std::span<const Component> components,
                                               const SignatureParams& params,
                                               const PrivateKey& key);

// Resolves `component_names` on `req` (resolveRequestComponent) and signs them. Does not modify
// the request. `error` (optional) names the component that could not be resolved.
std::optional<SignatureHeaders> signRequest(const pipeline::Request& req,
                                            std::span<const std::string_view> component_names,
                                            std::string_view label, const SignatureParams& params,
                                            const PrivateKey& key, std::string_view scheme,
                                            std::string* error = nullptr);

enum class VerifyStatus : std::uint8_t {
  Ok,
  Missing,               // no Signature-Input or no Signature header (or empty)
  Malformed,             // structured-field syntax, wrong member/parameter types, duplicate
                         // label or component, label without a Signature entry, bad value bytes
  MissingParameter,      // created, keyid or alg absent (detail: which)
  UnsupportedAlgorithm,  // alg is not ed25519 / ecdsa-p256-sha256 (rsa-pss-sha512, hmac-sha256…)
  UnsupportedComponent,  // unknown derived component or a component parameter (detail: which)
  MissingComponent,      // a component the policy requires is not covered (detail: which)
  AbsentComponent,       // a covered component is not in the request (detail: which)
  StaleCreated,          // created < now - max_skew
  CreatedInFuture,       // created > now + max_skew
  Expired,               // expires present and now > expires
  UnknownKey,            // keyid not found by the lookup
  AlgorithmMismatch,     // alg differs from the key's algorithm
  BadSignature,          // the signature does not verify (includes wrong length)
  DigestMismatch,        // content-digest is covered but does not match the body
                         // (detail: digestCheckName)
};

std::string_view verifyStatusName(VerifyStatus status) noexcept;

// What the verifier demands beyond RFC 9421. The defaults are PROTOCOL.md §2.
struct VerifyPolicy {
  // Components every accepted signature must cover.
  std::vector<std::string> required_components = {
      "@method", "@path", "@query", "content-digest", "qaqpa-client", "qaqpa-message-id"};
  // Header components that must be covered when the request carries that header.
  std::vector<std::string> required_if_present = {"qaqpa-subject", "qaqpa-purpose"};
  std::chrono::seconds max_skew{300};  // |created - now| bound
  std::string scheme = "https";        // for @scheme and @target-uri
};

// Resolves a keyid to a key, or null when unknown. Called on the verifying thread; the returned
// key must stay alive for the duration of the verifyRequest call. A gateway should resolve only
// the keys registered to the client named in Qaqpa-Client (or check the result's keyid after).
using KeyLookup = std::function<const PublicKey*(std::string_view keyid)>;

struct VerifyResult {
  VerifyStatus status = VerifyStatus::Missing;
  std::string label;   // the label examined (the chosen one, or the first when none validated)
  std::string keyid;   // its keyid when present (attacker-controlled: log, don't echo raw)
  std::string detail;  // for logs only: parse error, parameter or component name
  bool ok() const noexcept { return status == VerifyStatus::Ok; }
};

VerifyResult verifyRequest(const pipeline::Request& req, const VerifyPolicy& policy,
                           const KeyLookup& lookup, std::chrono::system_clock::time_point now);

}  // namespace qaqpa::signing
