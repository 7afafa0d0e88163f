#include "gateway/routing/routing_stage.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/parser.hpp>

namespace qaqpa::routing {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using common::StatusCode;

// Records what the stage sends and answers with a prepared result: the stage's contract is with
// the port, so this is the seam to observe it (the real pool has its own socket-level tests).
class RecordingUpstream final : public UpstreamClient {
 public:
  asio::awaitable<UpstreamResult> send(const config::Upstream& upstream,
                                       const UpstreamRequest& request,
                                       std::chrono::milliseconds timeout) override {
    seen_upstream = upstream;
    seen_method = request.method;
    // Parse what would go on the wire with Beast's own parser: the test sees the real bytes.
    bhttp::request_parser<bhttp::string_body> parser;
    parser.eager(true);
    boost::beast::error_code ec;
    const std::string wire = request.head + std::string(request.body);
    parser.put(asio::buffer(wire), ec);
    EXPECT_FALSE(ec) << ec.message() << "\n" << wire;
    EXPECT_TRUE(parser.is_done()) << wire;
    seen = parser.release();
    seen_timeout = timeout;
    co_return next;
  }
  config::Upstream seen_upstream;
  pipeline::Request seen;
  bhttp::verb seen_method = bhttp::verb::unknown;
  std::chrono::milliseconds seen_timeout{0};
  UpstreamResult next;
};

class RoutingStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto snap = std::make_shared<config::Snapshot>();
    snap->gateway.node_id = "kz-test-1";
    snap->gateway.upstream.default_timeout = std::chrono::milliseconds(1234);
    config::Service svc;
    svc.id = "person.byIin";
    svc.upstream = {"http", "10.1.2.3", 8180, "/api/v2"};
    snap->policy.services.emplace(svc.id, svc);
    snapshot_ = snap;
    service_ = &snap->policy.services.at("person.byIin");
    pipeline::Response ok;
    ok.result(bhttp::status::ok);
    ok.set(bhttp::field::content_type, "application/json");
    ok.set(bhttp::field::server, "provider/1.0");
    ok.set(bhttp::field::set_cookie, "s=1");
    ok.set(bhttp::field::location, "http://10.1.2.3/internal");
    ok.set("Qaqpa-Status", "SPOOFED");
    ok.set(bhttp::field::etag, "\"v1\"");
    ok.body() = R"({"iin":"900101300017"})";
    upstream_.next.response = ok;
  }

  pipeline::Exchange makeExchange() {
    pipeline::Request req{bhttp::verb::post, "/v1/services/person.byIin/x?y=1", 11};
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::accept, "application/json");
    req.set(bhttp::field::connection, "keep-alive, X-Hop");
    req.set("X-Hop", "secret-hop");
    req.set("X-End", "kept");
    req.set(bhttp::field::authorization, "Bearer client-token");
    req.set(bhttp::field::cookie, "c=1");
    req.set("Qaqpa-Gateway", "spoofed");
    req.set("Qaqpa-Consent", "c-1");
    req.set("Signature", "sig=:AA==:");
    req.body() = R"({"q":1})";
    pipeline::Exchange ex(snapshot_, config::Zone::State, std::move(req));
    ex.service = service_;
    ex.envelope.client = "KZ/GOV/240140000021/tax-service";
    ex.envelope.message_id = *common::parseUuid("0190a6f4-3c2b-7d1e-8f00-112233445566");
    ex.envelope.correlation_id = *common::parseUuid("0190a6f4-3c2b-7d1e-8f00-aabbccddeeff");
    ex.envelope.subject = common::parseSubject("IIN:900101300017").id;
    ex.envelope.purpose = "TAX_ADMINISTRATION";
    ex.envelope.consent_id = "c-1";
    ex.envelope.service_path = "/x";
    ex.envelope.query = "y=1";
    return ex;
  }

  pipeline::StageResult run(pipeline::Exchange& ex) {
    auto stage = makeRoutingStage(upstream_);
    asio::io_context ioc;
    auto fut = asio::co_spawn(ioc, stage->onRequest(ex), asio::use_future);
    ioc.run();
    return fut.get();
  }

  std::shared_ptr<const config::Snapshot> snapshot_;
  const config::Service* service_ = nullptr;
  RecordingUpstream upstream_;
};

TEST_F(RoutingStageTest, AddressesTheUpstreamAndKeepsTheBody) {
  auto ex = makeExchange();
  auto r = run(ex);
  ASSERT_EQ(r.action, pipeline::StageResult::Action::Respond);
  EXPECT_EQ(upstream_.seen.target(), "/api/v2/x?y=1");
  EXPECT_EQ(upstream_.seen.method(), bhttp::verb::post);
  EXPECT_EQ(upstream_.seen[bhttp::field::host], "10.1.2.3:8180");
  EXPECT_EQ(upstream_.seen.body(), R"({"q":1})");
  EXPECT_EQ(upstream_.seen[bhttp::field::content_length], "7");
  EXPECT_EQ(upstream_.seen_timeout, std::chrono::milliseconds(1234));
  EXPECT_EQ(upstream_.seen_method, bhttp::verb::post);
  EXPECT_EQ(ex.request.body(), R"({"q":1})") << "the exchange keeps its body";
}

TEST_F(RoutingStageTest, RootTargetWhenNoPathAtAll) {
  const_cast<config::Service*>(service_)->upstream.base_path = "";
  auto ex = makeExchange();
  ex.envelope.service_path = "";
  ex.envelope.query = "";
  run(ex);
  EXPECT_EQ(upstream_.seen.target(), "/");
  EXPECT_EQ(upstream_.seen[bhttp::field::host], "10.1.2.3:8180");
}

TEST_F(RoutingStageTest, ServiceTimeoutOverridesDefault) {
  const_cast<config::Service*>(service_)->timeout = std::chrono::milliseconds(50);
  auto ex = makeExchange();
  run(ex);
  EXPECT_EQ(upstream_.seen_timeout, std::chrono::milliseconds(50));
}

TEST_F(RoutingStageTest, ForwardsOnlyEndToEndHeadersPlusVerifiedQaqpaHeaders) {
  auto ex = makeExchange();
  run(ex);
  const auto& s = upstream_.seen;
  EXPECT_EQ(s["X-End"], "kept");
  EXPECT_EQ(s[bhttp::field::content_type], "application/json");
  EXPECT_EQ(s[bhttp::field::accept], "application/json");
  EXPECT_EQ(s.count("X-Hop"), 0u) << "named in Connection: hop-by-hop";
  EXPECT_EQ(s.count(bhttp::field::connection), 0u);
  EXPECT_EQ(s.count(bhttp::field::authorization), 0u);
  EXPECT_EQ(s.count(bhttp::field::cookie), 0u);
  EXPECT_EQ(s.count("Signature"), 0u);
  EXPECT_EQ(s.count("Qaqpa-Consent"), 0u) << "not in PROTOCOL.md §2's forward list";
  EXPECT_EQ(s["Qaqpa-Gateway"], "kz-test-1") << "client value replaced by the node id";
  EXPECT_EQ(s.count("Qaqpa-Gateway"), 1u);
  EXPECT_EQ(s["Qaqpa-Client"], "KZ/GOV/240140000021/tax-service");
  EXPECT_EQ(s["Qaqpa-Message-Id"], "0190a6f4-3c2b-7d1e-8f00-112233445566");
  EXPECT_EQ(s["Qaqpa-Correlation-Id"], "0190a6f4-3c2b-7d1e-8f00-aabbccddeeff");
  EXPECT_EQ(s["Qaqpa-Subject"], "IIN:900101300017");
  EXPECT_EQ(s["Qaqpa-Purpose"], "TAX_ADMINISTRATION");
  EXPECT_EQ(s.count("Qaqpa-Actor"), 0u);
}

TEST_F(RoutingStageTest, PassesThroughStatusBodyAndAllowedResponseHeadersOnly) {
  auto ex = makeExchange();
  run(ex);
  EXPECT_EQ(ex.status, StatusCode::Ok);
  EXPECT_EQ(ex.response.result_int(), 200);
  EXPECT_EQ(ex.response.body(), R"({"iin":"900101300017"})");
  EXPECT_EQ(ex.response[bhttp::field::content_type], "application/json");
  EXPECT_EQ(ex.response[bhttp::field::etag], "\"v1\"");
  EXPECT_EQ(ex.response.count(bhttp::field::server), 0u);
  EXPECT_EQ(ex.response.count(bhttp::field::set_cookie), 0u);
  EXPECT_EQ(ex.response.count(bhttp::field::location), 0u);
  EXPECT_EQ(ex.response.count("Qaqpa-Status"), 0u) << "the provider cannot set gateway headers";
}

TEST_F(RoutingStageTest, Provider4xxIsPassedThrough) {
  upstream_.next.response->result(bhttp::status::not_found);
  auto ex = makeExchange();
  auto r = run(ex);
  EXPECT_EQ(r.action, pipeline::StageResult::Action::Respond);
  EXPECT_EQ(ex.response.result_int(), 404);
  EXPECT_EQ(ex.status, StatusCode::Ok);
}

TEST_F(RoutingStageTest, Provider5xxBecomesProviderError) {
  upstream_.next.response->result(bhttp::status::internal_server_error);
  upstream_.next.response->body() = "stack trace at 10.1.2.3";
  auto ex = makeExchange();
  auto r = run(ex);
  ASSERT_EQ(r.action, pipeline::StageResult::Action::Fail);
  EXPECT_EQ(r.failure.code, StatusCode::ProviderError);
  EXPECT_EQ(r.failure.reason, common::Reason::ProviderServerError);
  EXPECT_TRUE(r.failure.param.empty());
}

TEST_F(RoutingStageTest, TransportFailureIsReturnedWithoutPublicDetail) {
  upstream_.next.response.reset();
  upstream_.next.failure = {StatusCode::ProviderTimeout, common::Reason::ProviderDeadline,
                            "10.1.2.3:8180", "deadline"};
  auto ex = makeExchange();
  auto r = run(ex);
  ASSERT_EQ(r.action, pipeline::StageResult::Action::Fail);
  EXPECT_EQ(r.failure.code, StatusCode::ProviderTimeout);
  EXPECT_TRUE(r.failure.param.empty()) << "upstream address must not reach the client";
  EXPECT_EQ(ex.request.body(), R"({"q":1})");
}

TEST(RoutingHeaderPolicy, RequestHeaders) {
  for (auto h : {"Connection", "keep-alive", "TE", "Transfer-Encoding", "Upgrade", "Host",
                 "Content-Length", "Qaqpa-Client", "qaqpa-anything", "Proxy-Authorization",
                 "Authorization", "Signature-Input", "Expect"}) {
    EXPECT_FALSE(forwardRequestHeader(h)) << h;
  }
  for (auto h : {"Content-Type", "Accept", "Accept-Language", "Content-Digest", "X-Request-Id",
                 "If-None-Match"}) {
    EXPECT_TRUE(forwardRequestHeader(h)) << h;
  }
}

TEST(RoutingHeaderPolicy, ResponseHeaders) {
  for (auto h : {"Content-Type", "content-language", "ETag", "Cache-Control", "Retry-After"}) {
    EXPECT_TRUE(forwardResponseHeader(h)) << h;
  }
  for (auto h : {"Server", "Set-Cookie", "Location", "Connection", "Qaqpa-Status", "X-Powered-By",
                 "Transfer-Encoding"}) {
    EXPECT_FALSE(forwardResponseHeader(h)) << h;
  }
}

}  // namespace
}  // namespace qaqpa::routing
