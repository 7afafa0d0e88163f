// RFC 9457 problem+json rendering of a Failure, localized by ex.lang (PROTOCOL.md §5).
#pragma once

#include "gateway/common/failure.h"
#include "gateway/pipeline/exchange.h"

namespace qaqpa::pipeline {

// Fills ex.response (status, Content-Type: application/problem+json, body) and ex.status, and
// adds the gateway response headers (addGatewayHeaders). Never includes f.internal.
void renderProblem(Exchange& ex, const common::Failure& f);

// Same, for a request that never became an Exchange (malformed HTTP, oversize): builds a whole
// response. `message_id` may be empty.
// `event_id`, when not empty, is the body's `eventId` (the refusal's digital event).
Response renderBareProblem(const common::Failure& f, common::Lang lang, unsigned http_version,
                           std::string_view message_id, std::string_view event_id = {});

// Qaqpa-Message-Id (when known), Qaqpa-Status; later issues add Qaqpa-Event-Id and the signature.
void addGatewayHeaders(Exchange& ex);

}  // namespace qaqpa::pipeline
