// The gateway's RFC 9421 signature on every response it sends (PROTOCOL.md §2, last paragraph),
// and the matching verifier (unit tests, tools, clients written in C++).
//
// signResponse sets, on the response:
//   Content-Digest: sha-256=:<base64 SHA-256 of res.body()>:   (RFC 9530)
//   Signature-Input: qaqpa=("@status" "content-digest" "qaqpa-message-id" "qaqpa-event-id"
//       "qaqpa-status" "@method";req "@path";req "qaqpa-client";req);created=<unix s>;
//       keyid="<active kid>";alg="<ed25519|ecdsa-p256-sha256>"
//   Signature: qaqpa=:<base64 raw signature>:
// Any Content-Digest, Signature or Signature-Input already on the response (e.g. sent by the
// provider) is replaced: the gateway vouches for the bytes it sends, and its signature is the only
// one — a provider's signature covers a response the gateway has since filtered and re-framed, so
// it would not verify for the client and would only look like a second authority.
//
// Absent components (protocol extension, docs/protocol-extensions): the covered list is the one
// above, in that order, minus every component that does not exist on this exchange —
//   - a response header that is absent (no Qaqpa-Event-Id on a framing error or oversize refusal,
//     no Qaqpa-Message-Id before the envelope was read) is simply not covered;
//   - a request component that cannot be resolved is not covered: no request was parsed (null
//     `req`), the request has no Qaqpa-Client header, or its target is not in origin-form (@path);
//   - a header value with a byte outside HTAB / %x20-7E is treated as absent (RFC 9421 §2.1 cannot
//     carry it).
// "@status" and "content-digest" are therefore always covered. A verifier must check that what is
// covered is exactly what exists (responseComponents gives the list), otherwise an attacker could
// strip a header and present a signature that does not mention it; verifyResponse does.
//
// Content-Digest is over res.body() as it will be sent: the empty body's digest for HEAD, 204, 304.
//
// Call signResponse LAST, after every header and the body are final, on the worker that owns the
// exchange. `req` must still hold the request's method, target and headers (the body is not read).
// Threading: any worker, concurrently; the key set is shared read-only. Non-blocking: one SHA-256
// over the body and one signature (≈ 21 µs P-256, ≈ 29 µs Ed25519 CPU on the reference machine);
// the rest (≈ 1.6 µs, 13 allocations) reuses per-thread buffers, including the serialised
// Signature-Input while second, key and covered list stay the same (benchmarks/micro/README.md,
// signing_bench). Never throws.
#pragma once

#include <chrono>
#include <string_view>
#include <vector>

#include "gateway/pipeline/exchange.h"
#include "gateway/signing/gateway_keys.h"
#include "gateway/signing/request_signature.h"

namespace qaqpa::signing {

inline constexpr std::string_view kResponseSignatureLabel = "qaqpa";

// The covered components of the gateway's response signature, with their values, in signing order
// (the rules above). `out` is overwritten; its elements' buffers are reused, so a caller that keeps
// the vector (per thread) allocates nothing after warm-up. The response's Content-Digest must be
// set already. Shared by signResponse and verifyResponse.
void responseComponents(const pipeline::Request* req, const pipeline::Response& res,
                        std::vector<Component>& out);

// Sets Content-Digest, Signature-Input and Signature (label qaqpa) on `res`, signed with the
// active key of `keys`; created = `now`. `req` is null when no request was parsed. Returns false
// only when OpenSSL fails to sign (or memory runs out): the response then carries Content-Digest
// but no Signature / Signature-Input, and the caller decides (count it; fail closed or send).
bool signResponse(const pipeline::Request* req, pipeline::Response& res, const GatewayKeySet& keys,
                  std::chrono::system_clock::time_point now) noexcept;
// The same, with the body's Content-Digest value already computed by the caller
// (contentDigestSha256(res.body()) — the server needs it for the digital event too): hashing a
// large body twice is the expensive part. An empty `body_digest` computes it here.
bool signResponse(const pipeline::Request* req, pipeline::Response& res, const GatewayKeySet& keys,
                  std::chrono::system_clock::time_point now, std::string_view body_digest) noexcept;

// Verifies the gateway's signature on a response the way a client would: the `qaqpa` label must
// exist; its covered components must be exactly responseComponents(req, res) (names, ;req and
// order); created, keyid, alg present; the key known (lookup) and of that alg; the signature
// valid over the base rebuilt from the received Signature-Input; Content-Digest matching the body.
// No time window (a stored response stays verifiable); the caller may check created itself.
// Status: Ok, Missing (no qaqpa label), Malformed, MissingParameter, UnsupportedAlgorithm,
// MissingComponent / AbsentComponent (covered list differs: detail names the first difference),
// UnknownKey, AlgorithmMismatch, BadSignature, DigestMismatch. Pure; thread-safe.
VerifyResult verifyResponse(const pipeline::Request* req, const pipeline::Response& res,
                            const KeyLookup& lookup);

}  // namespace qaqpa::signing
