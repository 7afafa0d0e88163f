#include "gateway/signing/response_signature.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/signing/content_digest.h"
#include "gateway/signing/structured_field.h"
#include "tests/signing/vectors.h"

namespace qaqpa::signing {
namespace {

namespace bhttp = boost::beast::http;
using test::dataPath;
using test::readData;

constexpr std::int64_t kNow = 1750000000;
constexpr std::string_view kClient = "KZ/GOV/240140000021/tax-service";
constexpr std::string_view kMessageId = "0190a6f4-3c2b-7d1e-8f00-112233445566";
constexpr std::string_view kEventId = "0190a6f4-3c2b-7d1e-8f00-aabbccddeeff";
// RFC 9530 §2 example: this body and its sha-256.
constexpr std::string_view kBody = "{\"hello\": \"world\"}";
constexpr std::string_view kBodyDigest = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
constexpr std::string_view kEmptyDigest = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";

std::chrono::system_clock::time_point at(std::int64_t unix_s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_s));
}

std::shared_ptr<const GatewayKeySet> keySet(const char* private_file, const char* kid) {
  std::vector<GatewayKeyMaterial> keys;
  keys.push_back({kid, PrivateKey::fromPem(readData(private_file)), std::nullopt, true});
  // A retired key, so that lookups are not trivially "the only key".
  keys.push_back({"retired", std::nullopt,
                  PublicKey::fromPem(
                      readData(std::string_view(private_file).find("p256") != std::string_view::npos
                                   ? "test_ed25519_public.pem"
                                   : "test_p256_public.pem")),
                  false});
  std::vector<GatewayKeyError> errors;
  auto set = GatewayKeySet::fromKeys(std::move(keys), errors);
  if (!set) ADD_FAILURE() << "key set: " << (errors.empty() ? "" : errors[0].message);
  return set;
}

KeyLookup lookupIn(const GatewayKeySet& set) {
  return [&set](std::string_view kid) { return set.find(kid); };
}

pipeline::Request makeRequest(
    std::string_view target = "/v1/services/person.byIin/900101300017?x=1",
    bool with_client = true) {
  pipeline::Request req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "gw.qaqpa.kz");
  if (with_client) req.set("Qaqpa-Client", kClient);
  req.set("Qaqpa-Subject", "IIN:900101300017");
  return req;
}

pipeline::Response makeResponse(unsigned status = 200, std::string_view body = kBody,
                                bool with_event = true) {
  pipeline::Response res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set("Qaqpa-Message-Id", kMessageId);
  if (with_event) res.set("Qaqpa-Event-Id", kEventId);
  res.set("Qaqpa-Status", status == 200 ? "OK" : "ACCESS_DENIED");
  res.body() = body;
  res.prepare_payload();
  return res;
}

std::vector<std::string> lines(const pipeline::Response& res, std::string_view name) {
  std::vector<std::string> out;
  for (auto [it, end] = res.equal_range(name); it != end; ++it) out.emplace_back(it->value());
  return out;
}

std::string covered(const pipeline::Response& res) {
  const std::string input(res["Signature-Input"]);
  return input.substr(0, input.find(')') + 1);
}

struct Alg {
  const char* private_file;
  const char* kid;
  const char* name;
};

class ResponseSigningTest : public ::testing::TestWithParam<Alg> {
 protected:
  void SetUp() override { keys_ = keySet(GetParam().private_file, GetParam().kid); }
  VerifyResult verify(const pipeline::Request* req, const pipeline::Response& res) const {
    return verifyResponse(req, res, lookupIn(*keys_));
  }
  std::shared_ptr<const GatewayKeySet> keys_;
};

INSTANTIATE_TEST_SUITE_P(Algorithms, ResponseSigningTest,
                         ::testing::Values(Alg{"test_ed25519_private.pem", "gw-ed", "ed25519"},
                                           Alg{"test_p256_private.pem", "gw-p256",
                                               "ecdsa-p256-sha256"}),
                         [](const auto& info) { return std::string(info.param.kid).substr(3); });

TEST_P(ResponseSigningTest, SuccessRoundTrip) {
  const pipeline::Request req = makeRequest();
  pipeline::Response res = makeResponse();
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow)));

  EXPECT_EQ(res["Content-Digest"], kBodyDigest);
  EXPECT_EQ(res["Signature-Input"],
            "qaqpa=(\"@status\" \"content-digest\" \"qaqpa-message-id\" \"qaqpa-event-id\" "
            "\"qaqpa-status\" \"@method\";req \"@path\";req \"qaqpa-client\";req);created=" +
                std::to_string(kNow) + ";keyid=\"" + GetParam().kid + "\";alg=\"" +
                GetParam().name + "\"");
  const std::string sig(res["Signature"]);
  ASSERT_THAT(sig, ::testing::StartsWith("qaqpa=:"));
  const auto raw = sf::base64Decode(std::string_view(sig).substr(7, sig.size() - 8));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 64u);

  // The base written out by hand, checked against the signature with the bare public key.
  const std::string base =
      "\"@status\": 200\n"
      "\"content-digest\": " +
      std::string(kBodyDigest) +
      "\n"
      "\"qaqpa-message-id\": " +
      std::string(kMessageId) +
      "\n"
      "\"qaqpa-event-id\": " +
      std::string(kEventId) +
      "\n"
      "\"qaqpa-status\": OK\n"
      "\"@method\";req: GET\n"
      "\"@path\";req: /v1/services/person.byIin/900101300017\n"
      "\"qaqpa-client\";req: " +
      std::string(kClient) +
      "\n"
      "\"@signature-params\": " +
      std::string(res["Signature-Input"]).substr(6);
  EXPECT_TRUE(keys_->find(GetParam().kid)->verify(base, *raw));

  const VerifyResult r = verify(&req, res);
  EXPECT_TRUE(r.ok()) << verifyStatusName(r.status) << " " << r.detail;
  EXPECT_EQ(r.keyid, GetParam().kid);
}

TEST_P(ResponseSigningTest, EmptyBodyAndHeadHaveTheEmptyDigest) {
  for (bhttp::verb method : {bhttp::verb::head, bhttp::verb::get}) {
    pipeline::Request req = makeRequest();
    req.method(method);
    pipeline::Response res = makeResponse(200, "");
    ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow)));
    EXPECT_EQ(res["Content-Digest"], kEmptyDigest);
    EXPECT_TRUE(verify(&req, res).ok());
  }
}

TEST_P(ResponseSigningTest, PrecomputedDigestIsUsedAsGiven) {
  const pipeline::Request req = makeRequest();
  pipeline::Response res = makeResponse();
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow), kBodyDigest));
  EXPECT_EQ(res["Content-Digest"], kBodyDigest);
  EXPECT_TRUE(verify(&req, res).ok());

  // A caller that passes the wrong digest gets a response every verifier refuses.
  pipeline::Response wrong = makeResponse();
  ASSERT_TRUE(signResponse(&req, wrong, *keys_, at(kNow), kEmptyDigest));
  EXPECT_EQ(wrong["Content-Digest"], kEmptyDigest);
  EXPECT_EQ(verify(&req, wrong).status, VerifyStatus::DigestMismatch);
}

TEST_P(ResponseSigningTest, AbsentResponseHeaderIsNotCovered) {
  const pipeline::Request req = makeRequest();
  pipeline::Response res = makeResponse(403, "{}", /*with_event=*/false);
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow)));
  EXPECT_EQ(covered(res),
            "qaqpa=(\"@status\" \"content-digest\" \"qaqpa-message-id\" \"qaqpa-status\" "
            "\"@method\";req \"@path\";req \"qaqpa-client\";req)");
  EXPECT_TRUE(verify(&req, res).ok());

  // No message id and no status either (a transport refusal before anything was known).
  pipeline::Response bare{bhttp::status::bad_request, 11};
  ASSERT_TRUE(signResponse(nullptr, bare, *keys_, at(kNow)));
  EXPECT_EQ(covered(bare), "qaqpa=(\"@status\" \"content-digest\")");
  EXPECT_TRUE(verify(nullptr, bare).ok());
}

TEST_P(ResponseSigningTest, UnresolvableRequestComponentsAreNotCovered) {
  pipeline::Response res = makeResponse();
  ASSERT_TRUE(signResponse(nullptr, res, *keys_, at(kNow)));
  EXPECT_EQ(covered(res),
            "qaqpa=(\"@status\" \"content-digest\" \"qaqpa-message-id\" \"qaqpa-event-id\" "
            "\"qaqpa-status\")");
  EXPECT_TRUE(verify(nullptr, res).ok());

  const pipeline::Request no_client = makeRequest("/v1/keys", /*with_client=*/false);
  res = makeResponse();
  ASSERT_TRUE(signResponse(&no_client, res, *keys_, at(kNow)));
  EXPECT_THAT(covered(res), ::testing::EndsWith("\"@method\";req \"@path\";req)"));
  EXPECT_TRUE(verify(&no_client, res).ok());

  const pipeline::Request absolute = makeRequest("http://gw.qaqpa.kz/v1/keys");
  res = makeResponse();
  ASSERT_TRUE(signResponse(&absolute, res, *keys_, at(kNow)));
  EXPECT_THAT(covered(res), ::testing::EndsWith("\"@method\";req \"qaqpa-client\";req)"));
  EXPECT_TRUE(verify(&absolute, res).ok());
}

TEST_P(ResponseSigningTest, ProviderSignatureAndDigestAreReplaced) {
  const pipeline::Request req = makeRequest();
  pipeline::Response res = makeResponse();
  res.insert("Signature-Input", "prov=(\"@status\");created=1;keyid=\"p\";alg=\"ed25519\"");
  res.insert("Signature", "prov=:AAAA:");
  res.insert("signature", "qaqpa=:AAAA:");
  res.insert("Content-Digest", "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
  res.insert("content-digest", "sha-512=:AAAA:");
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow)));
  EXPECT_THAT(lines(res, "Content-Digest"), ::testing::ElementsAre(std::string(kBodyDigest)));
  ASSERT_EQ(lines(res, "Signature").size(), 1u);
  ASSERT_EQ(lines(res, "Signature-Input").size(), 1u);
  EXPECT_THAT(lines(res, "Signature")[0], ::testing::StartsWith("qaqpa=:"));
  EXPECT_THAT(lines(res, "Signature-Input")[0], ::testing::StartsWith("qaqpa=("));
  EXPECT_TRUE(verify(&req, res).ok());
}

TEST_P(ResponseSigningTest, ResigningReplacesTheFirstSignature) {
  const pipeline::Request req = makeRequest();
  pipeline::Response res = makeResponse();
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow)));
  res.set("Qaqpa-Status", "PROVIDER_ERROR");
  res.result(bhttp::status::bad_gateway);
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow + 1)));
  EXPECT_EQ(lines(res, "Signature").size(), 1u);
  EXPECT_TRUE(verify(&req, res).ok());
}

TEST_P(ResponseSigningTest, TamperingIsDetected) {
  const pipeline::Request req = makeRequest();
  pipeline::Response signed_res = makeResponse();
  ASSERT_TRUE(signResponse(&req, signed_res, *keys_, at(kNow)));
  ASSERT_TRUE(verify(&req, signed_res).ok());

  struct Case {
    const char* name;
    VerifyStatus expect;
    void (*mutate)(pipeline::Response&);
  };
  const Case cases[] = {
      {"status", VerifyStatus::BadSignature,
       [](pipeline::Response& r) { r.result(bhttp::status::not_found); }},
      {"body", VerifyStatus::DigestMismatch, [](pipeline::Response& r) { r.body() += " "; }},
      {"body and digest", VerifyStatus::BadSignature,
       [](pipeline::Response& r) {
         r.body() += " ";
         r.set("Content-Digest", contentDigestSha256(r.body()));
       }},
      {"event id", VerifyStatus::BadSignature,
       [](pipeline::Response& r) {
         r.set("Qaqpa-Event-Id", "0190a6f4-3c2b-7d1e-8f00-aabbccddeef0");
       }},
      {"event id removed", VerifyStatus::AbsentComponent,
       [](pipeline::Response& r) { r.erase("Qaqpa-Event-Id"); }},
      {"message id", VerifyStatus::BadSignature,
       [](pipeline::Response& r) {
         r.set("Qaqpa-Message-Id", "0190a6f4-3c2b-7d1e-8f00-112233445567");
       }},
      {"qaqpa status", VerifyStatus::BadSignature,
       [](pipeline::Response& r) { r.set("Qaqpa-Status", "ACCESS_DENIED"); }},
      {"second event id line", VerifyStatus::BadSignature,
       [](pipeline::Response& r) { r.insert("Qaqpa-Event-Id", "x"); }},
      {"created", VerifyStatus::BadSignature,
       [](pipeline::Response& r) {
         std::string v(r["Signature-Input"]);
         v.replace(v.find("created=") + 8, 10, std::to_string(kNow + 1));
         r.set("Signature-Input", v);
       }},
      {"signature bit", VerifyStatus::BadSignature,
       [](pipeline::Response& r) {
         std::string v(r["Signature"]);
         v[10] = v[10] == 'A' ? 'B' : 'A';
         r.set("Signature", v);
       }},
      {"no signature", VerifyStatus::Missing, [](pipeline::Response& r) { r.erase("Signature"); }},
      {"other label", VerifyStatus::Missing,
       [](pipeline::Response& r) {
         std::string v(r["Signature"]);
         r.set("Signature", "other" + v.substr(5));
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    pipeline::Response res = signed_res;
    c.mutate(res);
    const VerifyResult r = verify(&req, res);
    EXPECT_EQ(verifyStatusName(r.status), verifyStatusName(c.expect)) << r.detail;
  }

  // A response signed without an event id, which then gains one: the new header is not covered.
  pipeline::Response no_event = makeResponse(403, "{}", false);
  ASSERT_TRUE(signResponse(&req, no_event, *keys_, at(kNow)));
  no_event.set("Qaqpa-Event-Id", kEventId);
  EXPECT_EQ(verify(&req, no_event).status, VerifyStatus::MissingComponent);
  EXPECT_EQ(verify(&req, no_event).detail, "qaqpa-event-id");

  // The request side is bound: another path, method or client does not verify.
  pipeline::Request other = makeRequest("/v1/services/person.byIin/900101300025?x=1");
  EXPECT_EQ(verify(&other, signed_res).status, VerifyStatus::BadSignature);
  other = makeRequest();
  other.method(bhttp::verb::post);
  EXPECT_EQ(verify(&other, signed_res).status, VerifyStatus::BadSignature);
  other = makeRequest();
  other.set("Qaqpa-Client", "KZ/GOV/240140000031/social-benefits");
  EXPECT_EQ(verify(&other, signed_res).status, VerifyStatus::BadSignature);
  // ... and a verifier that has no request cannot accept a signature that covers it.
  EXPECT_EQ(verify(nullptr, signed_res).status, VerifyStatus::AbsentComponent);
}

TEST_P(ResponseSigningTest, UnknownKeyAndWrongAlgorithm) {
  const pipeline::Request req = makeRequest();
  pipeline::Response res = makeResponse();
  ASSERT_TRUE(signResponse(&req, res, *keys_, at(kNow)));
  EXPECT_EQ(verifyResponse(&req, res, [](std::string_view) { return nullptr; }).status,
            VerifyStatus::UnknownKey);
  const PublicKey* retired = keys_->find("retired");  // the other algorithm
  EXPECT_EQ(verifyResponse(&req, res, [retired](std::string_view) { return retired; }).status,
            VerifyStatus::AlgorithmMismatch);
}

// Scratch buffers are reused per thread: a long response then a short one must not leak
// components or values of the first.
TEST_P(ResponseSigningTest, ConsecutiveResponsesDoNotShareState) {
  const pipeline::Request req = makeRequest();
  pipeline::Response first = makeResponse(200, std::string(5000, 'x'));
  ASSERT_TRUE(signResponse(&req, first, *keys_, at(kNow)));
  pipeline::Response second{bhttp::status::payload_too_large, 11};
  ASSERT_TRUE(signResponse(nullptr, second, *keys_, at(kNow)));
  EXPECT_EQ(covered(second), "qaqpa=(\"@status\" \"content-digest\")");
  EXPECT_TRUE(verify(nullptr, second).ok());
  EXPECT_TRUE(verify(&req, first).ok());
}

// signResponse reuses the serialised parameters of the previous response on the thread while
// second, key and covered list are the same: any change must produce a new, valid Signature-Input.
TEST(ResponseSigning, ReusedParametersFollowKeyTimeAndComponents) {
  const auto ed = keySet("test_ed25519_private.pem", "gw-a");
  const auto p256 = keySet("test_p256_private.pem", "gw-a");   // same kid, other alg
  const auto p256b = keySet("test_p256_private.pem", "gw-b");  // same alg, other kid
  const pipeline::Request req = makeRequest();
  struct Step {
    const GatewayKeySet* keys;
    std::int64_t now;
    bool event;
    bool with_request;
  };
  const Step steps[] = {{ed.get(), kNow, true, true},          {ed.get(), kNow, true, true},
                        {ed.get(), kNow, false, true},         {ed.get(), kNow, false, false},
                        {p256.get(), kNow, false, false},      {p256b.get(), kNow, false, false},
                        {p256b.get(), kNow + 1, false, false}, {ed.get(), kNow + 1, true, true}};
  for (std::size_t i = 0; i < std::size(steps); ++i) {
    SCOPED_TRACE(i);
    const Step& st = steps[i];
    pipeline::Response res = makeResponse(200, kBody, st.event);
    const pipeline::Request* r = st.with_request ? &req : nullptr;
    ASSERT_TRUE(signResponse(r, res, *st.keys, at(st.now)));
    const VerifyResult v = verifyResponse(r, res, lookupIn(*st.keys));
    EXPECT_TRUE(v.ok()) << verifyStatusName(v.status) << " " << v.detail;
    const std::string input(res["Signature-Input"]);
    EXPECT_THAT(input, ::testing::HasSubstr("created=" + std::to_string(st.now) + ";"));
    EXPECT_THAT(input, ::testing::HasSubstr(std::string("keyid=\"") +
                                            std::string(st.keys->active().kid) + "\""));
    EXPECT_EQ(input.find("qaqpa-event-id") != std::string::npos, st.event);
    EXPECT_EQ(input.find(";req") != std::string::npos, st.with_request);
  }
}

TEST(ResponseComponents, RequestValuesMatchTheRequestResolver) {
  const pipeline::Request req = makeRequest("/v1/services/a.b/c%20d?q=1");
  pipeline::Response res = makeResponse();
  res.set("Content-Digest", contentDigestSha256(res.body()));
  std::vector<Component> components;
  responseComponents(&req, res, components);
  ASSERT_EQ(components.size(), 8u);
  for (const Component& c : components) {
    if (!c.req) continue;
    EXPECT_EQ(c.value, resolveRequestComponent(req, c.name, "https").value_or("<none>")) << c.name;
  }
  EXPECT_EQ(components[0].value, "200");
  EXPECT_EQ(components[6].value, "/v1/services/a.b/c%20d");
}

TEST(ResponseComponents, HeaderWithUnrepresentableByteIsNotCovered) {
  pipeline::Response res = makeResponse();
  res.set("Content-Digest", kBodyDigest);
  res.set("Qaqpa-Event-Id", "caf\xc3\xa9");
  std::vector<Component> components;
  responseComponents(nullptr, res, components);
  for (const Component& c : components) EXPECT_NE(c.name, "qaqpa-event-id");
  EXPECT_EQ(components.size(), 4u);
}

// Not a test: run by crosscheck.py (ctest signing_python_crosscheck), which rebuilds every
// signature base in Python from the raw messages exported here and verifies the signature and
// the Content-Digest independently of this code.
TEST(ResponseSigningExport, DISABLED_ExportForPython) {
  const char* dir = std::getenv("QAQPA_SIGNING_EXPORT");
  if (dir == nullptr) GTEST_SKIP() << "QAQPA_SIGNING_EXPORT not set";
  boost::json::array out;
  auto fields = [](const auto& message) {
    boost::json::array a;
    for (const auto& f : message) a.push_back(boost::json::array{f.name_string(), f.value()});
    return a;
  };
  std::int64_t n = 0;
  for (auto [file, kid, pub] :
       {std::tuple{"test_ed25519_private.pem", "gw-ed", "test_ed25519_public.pem"},
        std::tuple{"test_p256_private.pem", "gw-p256", "test_p256_public.pem"}}) {
    const auto keys = keySet(file, kid);
    ASSERT_TRUE(keys);
    struct Shape {
      const char* name;
      bool has_request;
      bool has_client;
      const char* target;
      unsigned status;
      std::string body;
      bool event;
    };
    const Shape shapes[] = {
        {"success", true, true, "/v1/services/person.byIin/900101300017?x=1", 200,
         std::string(kBody), true},
        {"denied", true, true, "/v1/services/person.byIin/900101300017", 403, "{\"code\":1}", true},
        {"no_event", true, true, "/v1/services/nope", 404, "{}", false},
        {"keys_no_client", true, false, "/v1/keys", 200, "{\"keys\":[]}", false},
        {"no_request", false, false, "", 400, "{\"code\":\"VALIDATION_FAILED\"}", false},
        {"empty_body", true, true, "/v1/services/a", 204, "", true},
        {"large_body", true, true, "/v1/services/a", 200, std::string(70000, 'z'), true},
        {"provider_headers", true, true, "/v1/services/a", 502, "{}", true},
    };
    for (const Shape& s : shapes) {
      const pipeline::Request req = makeRequest(s.target, s.has_client);
      pipeline::Response res = makeResponse(s.status, s.body, s.event);
      if (std::string_view(s.name) == "provider_headers") {
        res.insert("Signature", "prov=:AAAA:");
        res.insert("Signature-Input", "prov=(\"@status\");created=1;keyid=\"p\";alg=\"ed25519\"");
        res.insert("Content-Digest", "sha-256=:AAAA:");
      }
      ASSERT_TRUE(signResponse(s.has_request ? &req : nullptr, res, *keys, at(kNow + n)));
      boost::json::object e{{"name", s.name},
                            {"kid", kid},
                            {"public_key", dataPath(pub)},
                            {"status", res.result_int()},
                            {"headers", fields(res)},
                            {"body", res.body()}};
      if (s.has_request) {
        e["request"] = boost::json::object{
            {"method", req.method_string()}, {"target", req.target()}, {"headers", fields(req)}};
      }
      out.push_back(std::move(e));
      ++n;
    }
  }
  std::ofstream(std::string(dir) + "/responses.json") << boost::json::serialize(out);
}

}  // namespace
}  // namespace qaqpa::signing
