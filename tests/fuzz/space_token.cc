// Fuzz target: space::verifyCitizenToken, parseBearerAuthorization and base64UrlDecodeStrict
// (gateway/space/jwt.h) against a fixed registry: issuer "https://idp.egov.kz", kid "fuzz-ed",
// the RFC 9421 Appendix B.1.4 Ed25519 test key (published, test-only), audience "qaqpa-space",
// now = 1750000000.
//
// Input, first byte:
//  - 'T': the rest is a token (and an Authorization value), verified as is. Forging a signature
//    is out of reach, so this mode fuzzes the shape, base64url, header and issuer/key stages.
//  - 'S': the rest is "<header JSON>\n<claims JSON>"; the harness signs it with the test key, so
//    the claim checks after the signature are fuzzed too.
//  - anything else: ignored.
// Invariants: nothing crashes; an accepted token has an IIN subject with a valid check digit,
// our issuer and kid, expires after now - skew; a token accepted as 'T' input was not modified
// (one bit flipped anywhere is refused); a strict base64url decode re-encodes to its input
// (one encoding per byte string); a parsed Bearer token is a non-empty piece of the input.
// Seeds (corpus/space_token/seed_*): 'T' with a validly signed token, 'S' pairs (valid claims,
// audience arrays, nbf, BIN subject, duplicate keys, refused headers).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/signing/gateway_keys.h"
#include "gateway/signing/keys.h"
#include "gateway/space/identity_providers.h"
#include "gateway/space/jwt.h"

namespace {

using namespace qaqpa;

constexpr std::string_view kPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
    "-----END PRIVATE KEY-----\n";
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1750000000));

struct Fixture {
  signing::PrivateKey key = *signing::PrivateKey::fromPem(kPrivatePem);
  std::shared_ptr<const space::IdentityProviderRegistry> registry;
  Fixture() {
    std::vector<space::TrustedIssuer> issuers;
    issuers.push_back(space::TrustedIssuer{"https://idp.egov.kz", {}});
    issuers[0].keys.push_back(
        space::TrustedKey{"fuzz-ed", space::JwsAlgorithm::EdDSA, *key.publicKey()});
    std::string error;
    registry = space::IdentityProviderRegistry::fromIssuers(space::TokenPolicy{},
                                                            std::move(issuers), error);
    if (!registry) __builtin_trap();
  }
};

void checkAccepted(const space::TokenResult& r) {
  if (!r.ok()) return;
  if (r.subject.kind != common::SubjectKind::Iin || !common::isValidIinBin(r.subject.digits) ||
      r.issuer != "https://idp.egov.kz" || r.kid != "fuzz-ed" ||
      r.expires + std::chrono::seconds(60) <= kNow || r.expires <= r.issued_at) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture fixture;
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 'T') {
    const space::TokenResult r = space::verifyCitizenToken(in, *fixture.registry, kNow);
    checkAccepted(r);
    if (r.ok()) {
      std::string flipped(in);
      flipped[flipped.size() / 2] ^= 0x01;
      if (space::verifyCitizenToken(flipped, *fixture.registry, kNow).ok()) __builtin_trap();
    }
    if (const auto decoded = signing::base64UrlDecode(in)) {
      if (signing::base64UrlEncode(*decoded) != in) __builtin_trap();
    }
    const space::BearerToken bearer = space::parseBearerAuthorization(in);
    if (bearer.status == space::TokenStatus::Ok) {
      if (bearer.token.empty() || bearer.token.data() < in.data() ||
          bearer.token.data() + bearer.token.size() > in.data() + in.size()) {
        __builtin_trap();
      }
      checkAccepted(space::verifyCitizenToken(bearer.token, *fixture.registry, kNow));
    }
  } else if (data[0] == 'S') {
    const std::size_t nl = in.find('\n');
    if (nl == std::string_view::npos) return 0;
    std::string token = signing::base64UrlEncode(in.substr(0, nl)) + "." +
                        signing::base64UrlEncode(in.substr(nl + 1));
    const auto sig = signing::sign(fixture.key, token);
    if (!sig) return 0;
    token += "." + signing::base64UrlEncode(*sig);
    checkAccepted(space::verifyCitizenToken(token, *fixture.registry, kNow));
  }
  return 0;
}
