// RoutingStage: the terminal stage of the synchronous REST binding (PROTOCOL.md §2). Addresses the
// request to the service's upstream (base path + service path + query), forwards only end-to-end
// headers plus the gateway's verified Qaqpa-* headers, sends it through the worker's
// UpstreamClient and maps the answer: provider 1xx-4xx are passed through (status, allowed headers,
// body; Qaqpa-Status OK), 5xx becomes PROVIDER_ERROR 502, transport failures become 503/504.
// One per worker; the body is moved to the provider request and back, never copied.
#pragma once

#include <memory>

#include "gateway/pipeline/stage.h"
#include "gateway/routing/upstream_client.h"

namespace qaqpa::routing {

// `client` must outlive the stage (both belong to the same worker).
std::unique_ptr<pipeline::Stage> makeRoutingStage(UpstreamClient& client);

// Header policy, exposed for tests and documentation.
bool forwardRequestHeader(std::string_view name) noexcept;   // client → provider
bool forwardResponseHeader(std::string_view name) noexcept;  // provider → client

}  // namespace qaqpa::routing
