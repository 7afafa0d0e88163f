// Journal append throughput and latency: one producer keeps `window` events in flight (like a
// worker with that many requests waiting for their event to be durable), for each fsync policy,
// with a free fake signer and with real Ed25519 / ECDSA P-256 signers (OpenSSL EVP directly, so
// the numbers do not move when gateway/signing changes). Events are ~600 bytes of canonical
// DigitalEvent. Counters: events/s, mean events per batch (= per signature), completion latency
// p50/p99 in µs. The journal lives in a fresh directory under /tmp (ext4 here, so fdatasync is
// real).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/journal/format.h"
#include "gateway/journal/journal.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace {

namespace pb = qaqpa::journal::v1;
using namespace qaqpa::journal;

std::string makeEvent(int i) {
  pb::DigitalEvent ev;
  ev.set_event_id("018f3c2e-7b1a-7c3d-9e4f-" + std::to_string(100000000000 + i));
  ev.set_node_id("kz-ast-1");
  ev.mutable_time()->set_seconds(1763900000);
  ev.mutable_time()->set_nanos(123456789);
  ev.set_zone(pb::STATE);
  ev.set_kind(pb::DATA_ACCESS);
  ev.mutable_client()->set_id("KZ/GOV/123456789012/registry");
  ev.mutable_client()->mutable_name()->set_kk("Тіркеу жүйесі");
  ev.mutable_client()->mutable_name()->set_ru("Система регистрации");
  ev.mutable_client()->mutable_name()->set_en("Registry system");
  ev.mutable_provider()->set_id("KZ/GOV/210987654321/population");
  ev.mutable_provider()->mutable_name()->set_ru("Регистр населения");
  ev.mutable_service()->set_id("population.person.v1");
  ev.mutable_service()->mutable_name()->set_kk("Жеке тұлға туралы мәліметтер");
  ev.mutable_service()->mutable_name()->set_ru("Сведения о физическом лице");
  ev.mutable_service()->mutable_name()->set_en("Person details");
  ev.set_subject("IIN:900101300123");
  ev.mutable_purpose()->set_code("SOCIAL_BENEFIT");
  ev.mutable_purpose()->mutable_text()->set_ru("Назначение социальной выплаты");
  ev.set_message_id("018f3c2e-7b1a-7c3d-9e4f-0a1b2c3d4e5f");
  ev.set_correlation_id("018f3c2e-7b1a-7c3d-9e4f-0a1b2c3d4e5f");
  ev.set_status("OK");
  ev.set_http_status(200);
  ev.set_latency_us(1834);
  ev.set_request_digest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
  ev.set_response_digest("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
  ev.add_data_categories("identity");
  ev.add_data_categories("address");
  return qaqpa::journal::canonicalBytes(ev);
}

struct KeySigner {
  std::shared_ptr<EVP_PKEY> key;
  std::string algorithm;
  std::atomic<std::uint64_t>* calls;
  std::optional<CheckpointSignature> operator()(std::string_view msg) const {
    calls->fetch_add(1, std::memory_order_relaxed);
    if (!key) return CheckpointSignature{"bench", "ed25519", std::string(64, 's')};  // fake
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::string sig(80, '\0');
    std::size_t len = sig.size();
    const EVP_MD* md = algorithm == "ed25519" ? nullptr : EVP_sha256();
    const bool ok =
        EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.get()) == 1 &&
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return std::nullopt;
    sig.resize(len);  // P-256: DER here; the format does not matter for the cost
    return CheckpointSignature{"bench", algorithm, std::move(sig)};
  }
};

double processCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

enum SignerKind { kFake = 0, kEd25519 = 1, kP256 = 2 };

void BM_Append(benchmark::State& state) {
  const auto policy = static_cast<FsyncPolicy>(state.range(0));
  const auto signer_kind = static_cast<SignerKind>(state.range(1));
  const auto window = static_cast<std::size_t>(state.range(2));

  char tmpl[] = "/tmp/qaqpa-journal-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::filesystem::path dir(tmpl);
  std::atomic<std::uint64_t> sign_calls{0};
  KeySigner signer{nullptr, "ed25519", &sign_calls};
  if (signer_kind == kEd25519) {
    signer.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  } else if (signer_kind == kP256) {
    signer.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
    signer.algorithm = "ecdsa-p256-sha256";
  }
  qaqpa::common::SystemTimeSource time;
  JournalOptions options;
  options.dir = dir / "journal";
  options.node_id = "kz-ast-1";
  options.fsync = policy;
  options.segment_max_bytes = 256ull << 20;
  auto opened = Journal::openBlocking(options, signer, time);
  if (!opened.journal) {
    state.SkipWithError(opened.error.c_str());
    return;
  }
  Journal& journal = *opened.journal;

  std::vector<std::string> events;
  for (int i = 0; i < 1024; ++i) events.push_back(makeEvent(i));
  std::mutex mu;
  std::condition_variable cv;
  std::size_t in_flight = 0;
  std::vector<std::uint32_t> latency_ns;
  latency_ns.reserve(1 << 22);
  std::uint64_t failed = 0;
  std::size_t i = 0;
  const std::uint64_t signs_before = sign_calls.load();
  const double cpu_before = processCpuSeconds();
  for (auto _ : state) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    const auto t0 = std::chrono::steady_clock::now();
    journal.append(events[i++ & 1023], [&, t0](const AppendResult& r) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
      std::lock_guard lock(mu);
      if (!r.ok()) ++failed;
      if (latency_ns.size() < latency_ns.capacity()) {
        latency_ns.push_back(static_cast<std::uint32_t>(std::min<long long>(ns, UINT32_MAX)));
      }
      --in_flight;
      cv.notify_one();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  const std::uint64_t batches = sign_calls.load() - signs_before;
  const double cpu = processCpuSeconds() - cpu_before;
  journal.stop();
  if (failed > 0) state.SkipWithError("appends failed");
  std::sort(latency_ns.begin(), latency_ns.end());
  auto pct = [&](double p) {
    if (latency_ns.empty()) return 0.0;
    return latency_ns[static_cast<std::size_t>(p * (latency_ns.size() - 1))] / 1000.0;
  };
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["ev/batch"] = static_cast<double>(state.iterations()) /
                               static_cast<double>(std::max<std::uint64_t>(1, batches));
  // Whole-process CPU (producer + writer + kernel) per event: the journal's share of a
  // request's CPU budget.
  state.counters["cpu_us/ev"] =
      cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
  state.counters["p50_us"] = pct(0.5);
  state.counters["p99_us"] = pct(0.99);
  state.SetLabel(std::string(fsyncPolicyName(policy)) + "/" +
                 (signer_kind == kFake      ? "fake"
                  : signer_kind == kEd25519 ? "ed25519"
                                            : "p256") +
                 "/window:" + std::to_string(window));
  opened.journal.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void args(benchmark::internal::Benchmark* b) {
  for (const auto policy : {FsyncPolicy::Always, FsyncPolicy::Batch, FsyncPolicy::None}) {
    for (const auto signer : {kFake, kEd25519, kP256}) {
      for (const int window : {1, 64, 1024}) {
        b->Args({static_cast<long>(policy), signer, window});
      }
    }
  }
}

// Real time: the producer waits for the writer thread, whose CPU is not in this thread's clock.
BENCHMARK(BM_Append)->Apply(args)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
