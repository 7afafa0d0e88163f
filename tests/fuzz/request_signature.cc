// Fuzz target: full RFC 9421 request verification (both structured-field parsers, component
// resolution, signature base, OpenSSL verification, digest check) on a request built from the
// input (fuzz_request.h). Keys are the test-only keys of tests/signing/data, so the corpus can
// hold validly signed requests (see make_seeds.py) and the fuzzer reaches every branch.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "gateway/signing/request_signature.h"
#include "tests/fuzz/fuzz_request.h"

namespace {

// tests/signing/data/test_ed25519_public.pem and test_p256_public.pem (test-only keys).
constexpr std::string_view kEd25519Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAYA2kKFkhOYgzaMqQosBPUDfMVk/GsjTzvXDqCQmBP+A=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kP256Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETome/jS9jIS6q5n6JdlGN/Dc0DDq\n"
    "UnnNn+FYLFTUkxJ5euNGYzirk20QVGdGvIr+FJ8p8MGdJEwVHLsws/8VTw==\n"
    "-----END PUBLIC KEY-----\n";

struct Keys {
  std::optional<qaqpa::signing::PublicKey> ed = qaqpa::signing::PublicKey::fromPem(kEd25519Public);
  std::optional<qaqpa::signing::PublicKey> p256 = qaqpa::signing::PublicKey::fromPem(kP256Public);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Keys keys;
  static const qaqpa::signing::VerifyPolicy policy;
  static const qaqpa::signing::KeyLookup lookup =
      [](std::string_view keyid) -> const qaqpa::signing::PublicKey* {
    if (keyid == "test-ed25519" && keys.ed) return &*keys.ed;
    if (keyid == "test-p256" && keys.p256) return &*keys.p256;
    return nullptr;
  };
  const qaqpa::pipeline::Request req = qaqpa::fuzz::requestFromBytes(data, size);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1750000000));
  if (!keys.ed || !keys.p256) __builtin_trap();  // the embedded keys must load
  const qaqpa::signing::VerifyResult r = qaqpa::signing::verifyRequest(req, policy, lookup, now);
  (void)qaqpa::signing::verifyStatusName(r.status);
  return 0;
}
