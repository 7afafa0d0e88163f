// UpstreamClient: the port through which the routing stage reaches providers. Implemented by
// adapters/http (per-worker keep-alive pool); later by shep/national/async adapters.
// One instance per worker; called only on that worker's thread.
#pragma once

#include <chrono>
#include <optional>

#include <boost/asio/awaitable.hpp>

#include "gateway/common/failure.h"
#include "gateway/config/config.h"
#include "gateway/pipeline/exchange.h"

namespace qaqpa::routing {

struct UpstreamResult {
  std::optional<pipeline::Response> response;  // set on success (any HTTP status)
  common::Failure failure;                     // when !response: ProviderUnavailable/Timeout/Error
};

class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // Sends `request` (already addressed: target, Host, headers) to `upstream` and reads the whole
  // response within `timeout` (from the moment the request is written; connect has its own
  // deadline). Never throws.
  virtual boost::asio::awaitable<UpstreamResult> send(const config::Upstream& upstream,
                                                      pipeline::Request& request,
                                                      std::chrono::milliseconds timeout) = 0;
};

}  // namespace qaqpa::routing
