// HttpUpstreamPool: the http adapter behind routing::UpstreamClient. One pool per worker; every
// method runs on that worker's thread only (no locks). Keeps idle keep-alive connections per
// (host, port), newest first, up to max_idle_per_host; a pooled connection older than
// idle_keepalive, or one the peer has closed (checked with a non-blocking MSG_PEEK before reuse),
// is discarded. A reused connection that fails before any response byte arrives is retried once
// on a fresh connection for idempotent methods (the provider may have closed it concurrently).
//
// Deadlines: connect_timeout for resolve+connect; the caller's timeout for write + whole response.
// Failures: connect/resolve/write errors → PROVIDER_UNAVAILABLE; deadline → PROVIDER_TIMEOUT;
// unparsable or oversize response → PROVIDER_ERROR.
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "gateway/config/config.h"
#include "gateway/metrics/metrics.h"
#include "gateway/routing/upstream_client.h"

namespace qaqpa::adapters::http {

class HttpUpstreamPool final : public routing::UpstreamClient {
 public:
  HttpUpstreamPool(boost::asio::any_io_executor executor, config::UpstreamSettings settings,
                   metrics::UpstreamMetrics* metrics);
  ~HttpUpstreamPool() override;

  boost::asio::awaitable<routing::UpstreamResult> send(const config::Upstream& upstream,
                                                       const routing::UpstreamRequest& request,
                                                       std::chrono::milliseconds timeout) override;

  // Closes every idle connection (drain). In-flight requests keep theirs until they finish.
  void closeIdle() noexcept;

  std::size_t idleCount() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qaqpa::adapters::http
