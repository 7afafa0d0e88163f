// PolicyStage: the access decision of PROTOCOL.md §3 for one exchange, read from ex.snapshot
// (the request's own snapshot, never a newer one). Deny by default: only a request that passes
// every check continues.
//
// Order (this release; mTLS/signature proof, consent and quota come in later issues):
//   1. identity   Qaqpa-Client registered (AUTH_FAILED/CLIENT_UNKNOWN), registered in this
//                 listener's zone (CLIENT_WRONG_ZONE), proven (CLIENT_NOT_PROVEN unless the
//                 gateway runs with demo_trust_client_header)
//   2. service    exists (SERVICE_NOT_FOUND/SERVICE_UNKNOWN), exposed to the zone
//                 (ACCESS_DENIED/SERVICE_NOT_EXPOSED)
//   3. validation personal-data services require Qaqpa-Subject and Qaqpa-Purpose
//                 (VALIDATION_FAILED/MISSING_HEADER)
//   4. grant      some grant gives the client the service (ACCESS_DENIED/NO_GRANT); when a purpose
//                 is given it must be in the catalogue and allowed by one of those grants
//                 (ACCESS_DENIED/PURPOSE_NOT_ALLOWED)
//   5. consent    grants with requires_consent need Qaqpa-Consent naming an active consent of
//                 the subject for this client, service and purpose (CONSENT_REQUIRED/
//                 CONSENT_MISSING, _NOT_FOUND, _REVOKED, _EXPIRED, _MISMATCH); a grant outside
//                 its validity period or schedule is ACCESS_DENIED/GRANT_NOT_ACTIVE
//   6. replay     the client's message id was not accepted before within the replay window
//                 (DUPLICATE/MESSAGE_REPLAYED). Checked last so that only a proven, allowed
//                 request consumes its id: nobody can burn another system's ids with denied
//                 requests, and a client may retry a denied request with the same id.
// On success sets ex.client, ex.service, ex.grant, ex.purpose (null when no purpose was given).
// On failure, ex.client / ex.service stay set if they were resolved before the failing check (the
// journal records them); ex.grant and ex.purpose are set only on success.
//
// Requires the envelope stage to have run (ex.envelope_parsed); otherwise fails INTERNAL.
// One stage per worker, called only on that worker's thread; stateless, non-blocking, no throw.
#pragma once

#include <memory>

#include "gateway/consent/consent_store.h"
#include "gateway/pipeline/stage.h"
#include "gateway/policy/replay_window.h"

namespace qaqpa::policy {

// Process-wide services the stage consults. The stage keeps a reference and reads the pointers
// per request; the context and everything it points to must outlive the stage.
struct PolicyContext {
  ReplayWindow* replay = nullptr;                   // required
  const consent::ConsentStore* consents = nullptr;  // null: consent-requiring grants always deny
};

std::unique_ptr<pipeline::Stage> makePolicyStage(const PolicyContext& cx);

}  // namespace qaqpa::policy
