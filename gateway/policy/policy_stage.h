// PolicyStage: the access decision of PROTOCOL.md §3 for one exchange, read from ex.snapshot
// (the request's own snapshot, never a newer one). Deny by default: only a request that passes
// every check continues.
//
// Order (PROTOCOL.md §3; the numbers below are this file's, the protocol's are in brackets):
//   1. identity   [2] Qaqpa-Client registered (AUTH_FAILED/CLIENT_UNKNOWN), registered in this
//                 listener's zone (CLIENT_WRONG_ZONE), proven by one of: a verified mTLS
//                 certificate mapped to the client (else CLIENT_CERT_MISMATCH / _UNKNOWN); a
//                 Signature-Input naming a keyid registered to the client (the proof is
//                 completed by step 6); demo_trust_client_header. A signature whose keyids belong
//                 only to other systems is AUTH_FAILED/SIGNATURE_KEY_MISMATCH. Nothing of that:
//                 CLIENT_NOT_PROVEN, or, when a signature naming no known key of the client was
//                 sent, SIGNATURE_INVALID with the verifier's reason
//   2. service    [4] exists (SERVICE_NOT_FOUND/SERVICE_UNKNOWN), exposed to the zone
//                 (ACCESS_DENIED/SERVICE_NOT_EXPOSED)
//   3. validation [3] personal-data services require Qaqpa-Subject and Qaqpa-Purpose
//                 (VALIDATION_FAILED/MISSING_HEADER)
//   4. grant      [5] some grant gives the client the service (ACCESS_DENIED/NO_GRANT); when a
//                 purpose is given it must be in the catalogue and allowed by one of those grants
//                 (ACCESS_DENIED/PURPOSE_NOT_ALLOWED)
//   5. consent    [5] grants with requires_consent need Qaqpa-Consent naming an active consent of
//                 the subject for this client, service and purpose (CONSENT_REQUIRED/
//                 CONSENT_MISSING, _NOT_FOUND, _REVOKED, _EXPIRED, _MISMATCH); a grant outside
//                 its validity period or schedule is ACCESS_DENIED/GRANT_NOT_ACTIVE
//   6. signature  [7] when the client's registration requires a signature or one was presented:
//                 RFC 9421 verification with the client's keys only (PolicyRuntime::signer_keys),
//                 components and ±300 s of PROTOCOL.md §2, now = received_at
//                 (SIGNATURE_INVALID/SIGNATURE_MISSING, _MALFORMED, _KEY_UNKNOWN, ...)
//   7. quota      [6] the grant's rate and concurrency limits (RATE_LIMITED). Deliberately AFTER
//                 the signature, unlike the protocol's list: a keyid is public, so if a request
//                 with a forged signature consumed quota, anyone could exhaust another system's
//                 rate limit or hold its concurrency permits. The only visible difference is
//                 that a badly signed request over the limit answers 401, not 429.
//   8. replay     the client's message id was not accepted before within the replay window
//                 (DUPLICATE/MESSAGE_REPLAYED). Checked last so that only a proven, allowed
//                 request consumes its id: nobody can burn another system's ids with denied
//                 requests, and a client may retry a denied request with the same id.
// On success sets ex.client, ex.service, ex.grant, ex.purpose (null when no purpose was given).
// On failure, ex.client / ex.service stay set if they were resolved before the failing check (the
// journal records them), except that ex.client is cleared again when a signature that was the
// only proof of identity fails verification; ex.grant and ex.purpose are set only on success.
//
// GET/DELETE /v1/messages/{id} (ex.envelope.messages_target, no service id): only step 1 and,
// where it applies, the step-6 signature verification run; on success ex.client is set (ex.service,
// ex.grant, ex.purpose stay null) and the request continues to the async stage, which answers only
// the message's own client. No grant, quota or replay check applies to it.
// An async submission (ex.envelope.async_requested with PolicyContext::async_enabled) skips step 8:
// its repeat is answered idempotently by the async stage, so its id is neither checked nor
// recorded.
//
// Requires the envelope stage to have run (ex.envelope_parsed); otherwise fails INTERNAL.
// One stage per worker, called only on that worker's thread; stateless, non-blocking, no throw.
#pragma once

#include <memory>

#include "gateway/consent/consent_store.h"
#include "gateway/pipeline/stage.h"
#include "gateway/policy/replay_window.h"
#include "gateway/shared_state/shared_fallback.h"

namespace qaqpa::policy {

// Process-wide services the stage consults. The stage keeps a reference and reads the pointers
// per request; the context and everything it points to must outlive the stage.
struct PolicyContext {
  ReplayWindow* replay = nullptr;                   // required
  const consent::ConsentStore* consents = nullptr;  // null: consent-requiring grants always deny
  // True when the async exchange is configured (Redis): a service call with
  // `Prefer: respond-async` is then an async submission, whose repeat by message id is answered
  // idempotently by the async stage instead of DUPLICATE, so the replay window is not consulted.
  bool async_enabled = false;
};

// `shared`: the worker's slot of its shared (Redis) quota and replay checks
// (gateway/shared_state), read per request like the context (the server fills it once the
// worker's Redis client exists, before the worker runs). A null slot, or an empty one, is today's
// local behaviour exactly. With one, step 7's rate limit and step 8 ask Redis first (one limit and
// one replay window for all replicas) and the local RateLimiter / ReplayWindow decide only when
// Redis gives no decision within `redis.policy_timeout` (counted and logged:
// shared_state/README.md "Local fallback"); every id Redis confirms is mirrored into the local
// window. The concurrency limit stays per replica on purpose: a semaphore shared across replicas
// needs leases (a replica that dies holding permits would leak them until they expire) and a
// Redis round trip on release too; the rate limit is the shared one.
std::unique_ptr<pipeline::Stage> makePolicyStage(
    const PolicyContext& cx,
    const std::unique_ptr<shared_state::SharedPolicyState>* shared = nullptr);

}  // namespace qaqpa::policy
