// The per-call cost of turning an exchange into DigitalEvent bytes (gateway/server/event_builder),
// and of the two body digests that go into it — the worker-side part of level L3.
#include <benchmark/benchmark.h>

#include "gateway/server/event_builder.h"
#include "gateway/signing/content_digest.h"
#include "tests/support/test_snapshot.h"

namespace {

using qaqpa::config::Zone;

constexpr const char* kTax = "KZ/GOV/240140000021/tax-service";
constexpr const char* kPop = "KZ/GOV/240140000011/population-register";

struct Fixture {
  Fixture()
      : snap(qaqpa::test_support::SnapshotBuilder()
                 .system(kTax, Zone::State)
                 .system(kPop, Zone::State)
                 .purpose("TAX_ADMINISTRATION")
                 .service("person.byIin", kPop, {Zone::State}, true)
                 .grant(kTax, {"person.byIin"}, {"TAX_ADMINISTRATION"})
                 .build()),
        ex(snap, Zone::State, qaqpa::pipeline::Request{}) {
    ex.response.result(200);
    ex.response.body() = std::string(100, 'x');
    ex.received_at = std::chrono::system_clock::now();
    ex.envelope_parsed = true;
    ex.envelope.client = kTax;
    ex.envelope.subject = qaqpa::common::SubjectId{qaqpa::common::SubjectKind::Iin, "900101300017"};
    ex.envelope.purpose = "TAX_ADMINISTRATION";
    qaqpa::common::UuidV7Generator ids;
    ex.envelope.message_id = ids.nextNow();
    ex.envelope.correlation_id = ex.envelope.message_id;
    ex.client = snap->policy.findSystem(kTax);
    ex.service = snap->policy.findService("person.byIin");
    ex.purpose = snap->policy.findPurpose("TAX_ADMINISTRATION");
  }
  std::shared_ptr<const qaqpa::config::Snapshot> snap;
  qaqpa::pipeline::Exchange ex;
};

void BM_BuildCallEvent(benchmark::State& state) {
  Fixture f;
  const std::string id = "018f0000-0000-7000-8000-000000000001";
  const std::string digest = qaqpa::signing::contentDigestSha256(f.ex.response.body());
  for (auto _ : state) {
    std::string bytes = qaqpa::server::buildCallEvent(
        f.ex, {id, "kz-qaqpa-1", digest, digest, std::chrono::microseconds(1234)});
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_BuildCallEvent);

void BM_BodyDigestsOfACall(benchmark::State& state) {
  const std::string request_body;  // a GET
  const std::string response_body(100, 'x');
  for (auto _ : state) {
    std::string a = qaqpa::signing::contentDigestSha256(request_body);
    std::string b = qaqpa::signing::contentDigestSha256(response_body);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_BodyDigestsOfACall);

}  // namespace
