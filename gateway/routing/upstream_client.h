// UpstreamClient: the port through which the routing stage reaches providers. Implemented by
// adapters/http (per-worker keep-alive pool); later by shep/national/async adapters.
// One instance per worker; called only on that worker's thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include <boost/asio/awaitable.hpp>

#include "gateway/common/failure.h"
#include "gateway/config/config.h"
#include "gateway/pipeline/exchange.h"

namespace qaqpa::routing {

// A request ready for the wire: the serialized request line and header section (ending in an
// empty line, with Host and, when there is a body, Content-Length) and a view of the body, which
// stays owned by the exchange. Built once by the routing stage; no header map in between.
struct UpstreamRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string head;
  std::string_view body;
};

struct UpstreamResult {
  std::optional<pipeline::Response> response;  // set on success (any HTTP status)
  common::Failure failure;                     // when !response: ProviderUnavailable/Timeout/Error
};

class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // Sends `request` to `upstream` and reads the whole response within `timeout` (from the moment
  // the request is written; connect has its own deadline). `request` must stay valid until the
  // awaitable completes. Never throws.
  virtual boost::asio::awaitable<UpstreamResult> send(const config::Upstream& upstream,
                                                      const UpstreamRequest& request,
                                                      std::chrono::milliseconds timeout) = 0;
};

}  // namespace qaqpa::routing
