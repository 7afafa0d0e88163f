// Micro benchmarks of gateway/signing on the response hot path: raw sign/verify per algorithm,
// the whole signResponse for a typical 200 response (~100-byte body), the part of it that is not
// the signature, and Content-Digest for 100 B / 1 KiB / 64 KiB. Every benchmark reports heap
// allocations per iteration ("allocs") through a counting global operator new.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "gateway/signing/content_digest.h"
#include "gateway/signing/gateway_keys.h"
#include "gateway/signing/request_signature.h"
#include "gateway/signing/response_signature.h"
#include "gateway/signing/structured_field.h"
#include "tests/support/test_keys.h"

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace qaqpa::signing {
namespace {

namespace bhttp = boost::beast::http;

// Allocations per iteration, measured over the timed loop.
class AllocCounter {
 public:
  explicit AllocCounter(benchmark::State& state) : state_(state), start_(g_allocs.load()) {}
  ~AllocCounter() {
    const auto n = g_allocs.load() - start_;
    state_.counters["allocs"] =
        benchmark::Counter(static_cast<double>(n) /
                           static_cast<double>(std::max<std::int64_t>(state_.iterations(), 1)));
  }

 private:
  benchmark::State& state_;
  std::uint64_t start_;
};

const std::shared_ptr<const GatewayKeySet>& keySet(const char* type) {
  auto make = [](const char* t) {
    std::vector<GatewayKeyMaterial> keys;
    keys.push_back({"kz-qaqpa-bench-1", test_support::generateKey(t).priv, std::nullopt, true});
    std::vector<GatewayKeyError> errors;
    auto set = GatewayKeySet::fromKeys(std::move(keys), errors);
    if (!set) std::abort();
    return set;
  };
  static const std::shared_ptr<const GatewayKeySet> ed = make("ED25519");
  static const std::shared_ptr<const GatewayKeySet> p256 = make("EC");
  return std::string_view(type) == "ED25519" ? ed : p256;
}

pipeline::Request typicalRequest() {
  pipeline::Request req{bhttp::verb::get, "/v1/services/person.byIin/900101300017", 11};
  req.set(bhttp::field::host, "gw.qaqpa.kz");
  req.set("Qaqpa-Client", "KZ/GOV/240140000021/tax-service");
  req.set("Qaqpa-Subject", "IIN:900101300017");
  req.set("Qaqpa-Purpose", "TAX_ADMINISTRATION");
  return req;
}

pipeline::Response typicalResponse() {
  pipeline::Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set("Qaqpa-Message-Id", "0190a6f4-3c2b-7d1e-8f00-112233445566");
  res.set("Qaqpa-Event-Id", "0190a6f4-3c2b-7d1e-8f00-aabbccddeeff");
  res.set("Qaqpa-Status", "OK");
  res.body() =
      R"({"iin":"900101300017","name":"Айгерім Сәрсенова","birthDate":"1990-01-01","alive":true})";
  res.prepare_payload();
  return res;
}

// A signature base of the size signResponse signs (~480 bytes).
std::string typicalBase(const GatewayKeySet& keys) {
  const pipeline::Request req = typicalRequest();
  pipeline::Response res = typicalResponse();
  res.set("Content-Digest", contentDigestSha256(res.body()));
  std::vector<Component> components;
  responseComponents(&req, res, components);
  SignatureParams params;
  params.created = 1750000000;
  params.keyid = std::string(keys.active().kid);
  params.alg = keys.activeAlgorithm();
  return signatureBase(components, serializeSignatureParams(components, params));
}

void BM_Sign(benchmark::State& state, const char* type) {
  const GatewayKeySet& keys = *keySet(type);
  const std::string base = typicalBase(keys);
  AllocCounter allocs(state);
  for (auto _ : state) {
    auto sig = sign(keys.active().key, base);
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK_CAPTURE(BM_Sign, Ed25519, "ED25519");
BENCHMARK_CAPTURE(BM_Sign, P256, "EC");

void BM_Verify(benchmark::State& state, const char* type) {
  const GatewayKeySet& keys = *keySet(type);
  const std::string base = typicalBase(keys);
  const std::string sig = *sign(keys.active().key, base);
  const PublicKey& pub = keys.keys()[0].public_key;
  AllocCounter allocs(state);
  for (auto _ : state) {
    bool ok = pub.verify(base, sig);
    benchmark::DoNotOptimize(ok);
    if (!ok) state.SkipWithError("signature does not verify");
  }
}
BENCHMARK_CAPTURE(BM_Verify, Ed25519, "ED25519");
BENCHMARK_CAPTURE(BM_Verify, P256, "EC");

// The whole per-response step. Signing the same response again is the steady state: every call
// replaces Content-Digest, Signature-Input and Signature.
void BM_SignResponse(benchmark::State& state, const char* type) {
  const GatewayKeySet& keys = *keySet(type);
  const pipeline::Request req = typicalRequest();
  pipeline::Response res = typicalResponse();
  const auto now = std::chrono::system_clock::now();
  signResponse(&req, res, keys, now);  // warm the per-thread buffers
  AllocCounter allocs(state);
  for (auto _ : state) {
    bool ok = signResponse(&req, res, keys, now);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK_CAPTURE(BM_SignResponse, Ed25519, "ED25519");
BENCHMARK_CAPTURE(BM_SignResponse, P256, "EC");

// signResponse without the signature, step by step as it runs in the steady state (the serialised
// parameters reused within the second): digest, header edits, component list, base, base64 and
// the two signature headers; a fixed 64-byte value stands in for the signature.
void BM_SignResponseWithoutSignature(benchmark::State& state) {
  const GatewayKeySet& keys = *keySet("EC");
  const pipeline::Request req = typicalRequest();
  pipeline::Response res = typicalResponse();
  std::vector<Component> components;
  responseComponents(&req, res, components);
  SignatureParams params;
  params.created = 1750000000;
  params.keyid.assign(keys.active().kid);
  params.alg = keys.activeAlgorithm();
  const std::string serialized = serializeSignatureParams(components, params);
  const std::string fake_signature(64, '\x5a');
  std::string header;
  AllocCounter allocs(state);
  for (auto _ : state) {
    res.erase("Signature");
    res.erase("Signature-Input");
    res.set("Content-Digest", contentDigestSha256(res.body()));
    responseComponents(&req, res, components);
    const std::string base = signatureBase(components, serialized);
    benchmark::DoNotOptimize(base.data());
    header.assign("qaqpa=").append(serialized);
    res.set("Signature-Input", header);
    header.assign("qaqpa=:").append(sf::base64Encode(fake_signature)).append(":");
    res.set("Signature", header);
  }
}
BENCHMARK(BM_SignResponseWithoutSignature);

// What signResponse pays once per second per thread (or when the covered list changes): the
// canonical Signature-Input inner list.
void BM_SerializeSignatureParams(benchmark::State& state) {
  const GatewayKeySet& keys = *keySet("EC");
  const pipeline::Request req = typicalRequest();
  pipeline::Response res = typicalResponse();
  res.set("Content-Digest", contentDigestSha256(res.body()));
  std::vector<Component> components;
  responseComponents(&req, res, components);
  SignatureParams params;
  params.created = 1750000000;
  params.keyid.assign(keys.active().kid);
  params.alg = keys.activeAlgorithm();
  AllocCounter allocs(state);
  for (auto _ : state) {
    std::string serialized = serializeSignatureParams(components, params);
    benchmark::DoNotOptimize(serialized);
  }
}
BENCHMARK(BM_SerializeSignatureParams);

void BM_VerifyResponse(benchmark::State& state, const char* type) {
  const auto& keys = keySet(type);
  const pipeline::Request req = typicalRequest();
  pipeline::Response res = typicalResponse();
  signResponse(&req, res, *keys, std::chrono::system_clock::now());
  const KeyLookup lookup = [&keys](std::string_view kid) { return keys->find(kid); };
  AllocCounter allocs(state);
  for (auto _ : state) {
    const VerifyResult r = verifyResponse(&req, res, lookup);
    if (!r.ok()) state.SkipWithError("response does not verify");
  }
}
BENCHMARK_CAPTURE(BM_VerifyResponse, Ed25519, "ED25519");
BENCHMARK_CAPTURE(BM_VerifyResponse, P256, "EC");

void BM_ContentDigest(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  AllocCounter allocs(state);
  for (auto _ : state) {
    std::string d = contentDigestSha256(body);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ContentDigest)->Arg(100)->Arg(1024)->Arg(64 * 1024);

}  // namespace
}  // namespace qaqpa::signing
