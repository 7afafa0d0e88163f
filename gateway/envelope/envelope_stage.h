// EnvelopeStage: the first stage of the synchronous REST binding (PROTOCOL.md §2). Turns the
// request target and the Qaqpa-* request headers into the typed pipeline::Envelope, or fails with
// VALIDATION_FAILED and a specific reason (param = the header name, never the raw value).
//
// Order: Qaqpa-Message-Id first (given UUID of any version, or a fresh UUIDv7), so that every
// later problem echoes it (ex.envelope_parsed is set as soon as it is known); then the target
// "/v1/services/{serviceId}[/{path}][?{query}]" (path traversal made impossible: no "..", "//",
// "\", control or non-ASCII bytes, '#', encoded '/', '\' or dot segments, double encodings); then
// Qaqpa-Client (required system id), Qaqpa-Correlation-Id (defaults to the message id),
// Qaqpa-Subject, Qaqpa-Purpose, Qaqpa-Actor (IIN only), Qaqpa-Consent. Header names are
// case-insensitive; any of these headers given twice is DuplicateHeader. Whether the headers are
// *required* for a given service is the policy stage's decision.
//
// One stage per worker (it owns that worker's UUIDv7 generator); called only on that worker's
// thread. Non-blocking; never throws on bad input.
#pragma once

#include <memory>

#include "gateway/pipeline/stage.h"

namespace qaqpa::envelope {

std::unique_ptr<pipeline::Stage> makeEnvelopeStage();

}  // namespace qaqpa::envelope
