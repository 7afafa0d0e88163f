// serializeHead must produce what Beast's own parser reads back as the same message.
#include "gateway/pipeline/wire.h"

#include <gtest/gtest.h>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace qaqpa::pipeline {
namespace {

namespace bhttp = boost::beast::http;

template <bool isRequest>
bhttp::message<isRequest, bhttp::string_body> parse(const std::string& wire, bool head = false) {
  bhttp::parser<isRequest, bhttp::string_body> p;
  if constexpr (!isRequest) p.skip(head);
  boost::beast::error_code ec;
  p.eager(true);
  const std::size_t n = p.put(boost::asio::buffer(wire), ec);
  EXPECT_FALSE(ec) << ec.message() << "\n" << wire;
  EXPECT_EQ(n, wire.size());
  EXPECT_TRUE(p.is_done());
  return p.release();
}

TEST(Wire, ResponseRoundTrips) {
  Response res{bhttp::status::not_found, 11};
  res.set(bhttp::field::content_type, "application/problem+json");
  res.set("Qaqpa-Status", "SERVICE_NOT_FOUND");
  res.insert("Vary", "a");
  res.insert("Vary", "b");
  res.body() = R"({"code":"SERVICE_NOT_FOUND","title":"Сервис табылмады"})";
  res.prepare_payload();
  std::string head;
  serializeHead(res, head);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404 Not Found\r\n")) << head;
  auto back = parse<false>(head + res.body());
  EXPECT_EQ(back.result_int(), 404);
  EXPECT_EQ(back[bhttp::field::content_type], "application/problem+json");
  EXPECT_EQ(back["Qaqpa-Status"], "SERVICE_NOT_FOUND");
  EXPECT_EQ(std::distance(back.find("Vary"), back.end()) >= 2, true);
  EXPECT_EQ(back.body(), res.body());
}

TEST(Wire, MissingContentLengthIsAdded) {
  Response res{bhttp::status::ok, 11};
  res.body() = "hello";
  std::string head;
  serializeHead(res, head);
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_EQ(parse<false>(head + res.body()).body(), "hello");
}

TEST(Wire, ConnectionCloseAndHttp10AreKept) {
  Response res{bhttp::status::ok, 10};
  res.keep_alive(false);
  res.body() = "";
  res.prepare_payload();
  std::string head;
  serializeHead(res, head);
  EXPECT_TRUE(head.starts_with("HTTP/1.0 200 OK\r\n")) << head;
  auto back = parse<false>(head);
  EXPECT_FALSE(back.keep_alive());
}

TEST(Wire, HeadResponseKeepsLengthWithoutBody) {
  Response res{bhttp::status::ok, 11};
  res.content_length(42);  // what a GET would return; no body is sent for HEAD
  std::string head;
  serializeHead(res, head);
  EXPECT_NE(head.find("Content-Length: 42\r\n"), std::string::npos);
  auto back = parse<false>(head, /*head=*/true);
  EXPECT_EQ(back[bhttp::field::content_length], "42");
}

TEST(Wire, RequestRoundTrips) {
  Request req{bhttp::verb::post, "/api/v2/x?y=1", 11};
  req.set(bhttp::field::host, "10.1.2.3:8180");
  req.set("Qaqpa-Client", "KZ/GOV/240140000021/tax-service");
  req.body() = R"({"q":1})";
  std::string head;
  serializeHead(req, head);
  EXPECT_TRUE(head.starts_with("POST /api/v2/x?y=1 HTTP/1.1\r\n")) << head;
  auto back = parse<true>(head + req.body());
  EXPECT_EQ(back.method(), bhttp::verb::post);
  EXPECT_EQ(back.target(), "/api/v2/x?y=1");
  EXPECT_EQ(back["Qaqpa-Client"], "KZ/GOV/240140000021/tax-service");
  EXPECT_EQ(back.body(), R"({"q":1})");
}

TEST(Wire, BodylessRequestHasNoLength) {
  Request req{bhttp::verb::get, "/", 11};
  req.set(bhttp::field::host, "h");
  std::string head;
  serializeHead(req, head);
  EXPECT_EQ(head, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(Wire, BufferIsReusedWithoutGrowth) {
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = "{}";
  res.prepare_payload();
  std::string head;
  head.reserve(1024);
  const auto* data = head.data();
  for (int i = 0; i < 100; ++i) serializeHead(res, head);
  EXPECT_EQ(head.data(), data) << "no reallocation once the buffer is large enough";
}

}  // namespace
}  // namespace qaqpa::pipeline
