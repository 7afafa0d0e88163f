#include "gateway/routing/routing_stage.h"

#include <array>

#include <boost/beast/http/field.hpp>

#include "gateway/common/log.h"

namespace qaqpa::routing {
namespace {

namespace bhttp = boost::beast::http;
using common::Failure;
using common::Reason;
using common::StatusCode;

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool istartsWith(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// True when `token` is one of the comma-separated tokens of `list` (case-insensitive).
bool listedIn(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Hop-by-hop (RFC 9110 §7.6.1) and headers that belong to the client↔gateway hop only: the
// gateway's own identity/signature headers are re-issued by the gateway, credentials and cookies
// of the caller are not the provider's business, and Host/Content-Length are recomputed.
constexpr std::array<std::string_view, 17> kDroppedRequestHeaders{"connection",
                                                                  "keep-alive",
                                                                  "proxy-connection",
                                                                  "proxy-authenticate",
                                                                  "proxy-authorization",
                                                                  "te",
                                                                  "trailer",
                                                                  "transfer-encoding",
                                                                  "upgrade",
                                                                  "host",
                                                                  "content-length",
                                                                  "authorization",
                                                                  "cookie",
                                                                  "signature",
                                                                  "signature-input",
                                                                  "forwarded",
                                                                  "expect"};

// Provider response headers a client may see; everything else (Server, Set-Cookie, Location with
// internal addresses, hop-by-hop, the provider's own Qaqpa-*) stays inside.
constexpr std::array<std::string_view, 10> kAllowedResponseHeaders{
    "content-type",        "content-language", "content-encoding",
    "content-disposition", "cache-control",    "etag",
    "last-modified",       "expires",          "vary",
    "retry-after"};

class RoutingStage final : public pipeline::Stage {
 public:
  explicit RoutingStage(UpstreamClient& client) : client_(client) {}
  const char* name() const noexcept override { return "routing"; }

  boost::asio::awaitable<pipeline::StageResult> onRequest(pipeline::Exchange& ex) override {
    const config::Service* service = ex.service;
    if (service == nullptr) {
      // The policy stage resolves the service; reaching here without one is a wiring bug.
      co_return pipeline::StageResult::fail(
          Failure{StatusCode::Internal, Reason::InternalError, {}, "routing without service"});
    }
    const config::Upstream& up = service->upstream;
    UpstreamRequest out;
    out.method = ex.request.method();
    out.body = ex.request.body();  // a view: the exchange keeps the one buffer
    std::string& h = out.head;
    h.reserve(512);
    h.append(ex.request.method_string());
    h.push_back(' ');
    h.append(up.base_path);
    h.append(ex.envelope.service_path);
    if (up.base_path.empty() && ex.envelope.service_path.empty()) h.push_back('/');
    if (!ex.envelope.query.empty()) {
      h.push_back('?');
      h.append(ex.envelope.query);
    }
    h.append(" HTTP/1.1\r\n");
    auto field = [&h](std::string_view name, std::string_view value) {
      h.append(name);
      h.append(": ");
      h.append(value);
      h.append("\r\n");
    };

    // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    const std::string_view connection = ex.request[bhttp::field::connection];
    for (const auto& f : ex.request) {
      const std::string_view name = f.name_string();
      if (forwardRequestHeader(name) && !listedIn(connection, name)) field(name, f.value());
    }
    h.append("Host: ");
    h.append(up.host);
    if (up.port != 80) {
      h.push_back(':');
      h.append(std::to_string(up.port));
    }
    h.append("\r\n");
    addVerifiedHeaders(ex, field);
    if (!out.body.empty() || bhttp::verb::post == out.method || bhttp::verb::put == out.method ||
        bhttp::verb::patch == out.method) {
      field("Content-Length", std::to_string(out.body.size()));
    }
    h.append("\r\n");

    const auto timeout = service->timeout.count() > 0
                             ? service->timeout
                             : ex.snapshot->gateway.upstream.default_timeout;
    UpstreamResult r = co_await client_.send(up, out, timeout);

    if (!r.response) {
      r.failure.param.clear();  // never leak upstream details to the client
      if (common::logEnabled(common::LogLevel::Warn)) {
        common::log(common::LogLevel::Warn, "upstream failure",
                    {{"service", service->id},
                     {"code", common::codeName(r.failure.code)},
                     {"detail", r.failure.internal}});
      }
      co_return pipeline::StageResult::fail(std::move(r.failure));
    }
    pipeline::Response& pr = *r.response;
    if (pr.result_int() >= 500) {
      common::log(common::LogLevel::Warn, "provider answered 5xx",
                  {{"service", service->id}, {"status", std::to_string(pr.result_int())}});
      co_return pipeline::StageResult::fail(
          Failure{StatusCode::ProviderError,
                  Reason::ProviderServerError,
                  {},
                  "provider status " + std::to_string(pr.result_int())});
    }
    // Filter the provider's message in place and move it: no per-field copy.
    for (auto it = pr.begin(); it != pr.end();) {
      it = forwardResponseHeader(it->name_string()) ? std::next(it) : pr.erase(it);
    }
    pr.version(ex.request.version());
    ex.response = std::move(pr);
    ex.response.prepare_payload();
    ex.status = StatusCode::Ok;
    co_return pipeline::StageResult::respond();
  }

 private:
  template <class Field>
  static void addVerifiedHeaders(const pipeline::Exchange& ex, Field& field) {
    const pipeline::Envelope& env = ex.envelope;
    field("Qaqpa-Client", env.client);
    field("Qaqpa-Message-Id", common::toString(env.message_id));
    field("Qaqpa-Correlation-Id", common::toString(env.correlation_id));
    if (env.subject) field("Qaqpa-Subject", env.subject->toString());
    if (!env.purpose.empty()) field("Qaqpa-Purpose", env.purpose);
    if (env.actor) field("Qaqpa-Actor", env.actor->toString());
    field("Qaqpa-Gateway", ex.snapshot->gateway.node_id);
  }

  UpstreamClient& client_;
};

}  // namespace

bool forwardRequestHeader(std::string_view name) noexcept {
  if (istartsWith(name, "qaqpa-")) return false;
  for (std::string_view d : kDroppedRequestHeaders) {
    if (iequals(name, d)) return false;
  }
  return true;
}

bool forwardResponseHeader(std::string_view name) noexcept {
  for (std::string_view a : kAllowedResponseHeaders) {
    if (iequals(name, a)) return true;
  }
  return false;
}

std::unique_ptr<pipeline::Stage> makeRoutingStage(UpstreamClient& client) {
  return std::make_unique<RoutingStage>(client);
}

}  // namespace qaqpa::routing
