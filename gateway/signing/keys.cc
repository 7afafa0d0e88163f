#include "gateway/signing/keys.h"

#include <array>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

namespace qaqpa::signing {
namespace {

constexpr std::size_t kRawSignatureBytes = 64;  // both algorithms
constexpr std::size_t kEcScalarBytes = 32;
constexpr std::size_t kEd25519RawBytes = 32;
constexpr std::size_t kP256RawBytes = 65;
constexpr std::size_t kMaxPemBytes = 64 * 1024;

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};
struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};

void setError(std::string* error, std::string_view message) {
  if (error != nullptr) error->assign(message);
}

// Leaves the thread's OpenSSL error queue empty: errors are reported by return value here, and a
// stale entry would confuse the next OpenSSL user on this worker.
struct ErrorQueueGuard {
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

// Passphrase callback that refuses: encrypted keys are not supported and must not prompt.
int noPassphrase(char*, int, int, void*) { return -1; }

// Which supported algorithm the key is, if any.
std::optional<Algorithm> classify(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return Algorithm::Ed25519;
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0)) {
      return Algorithm::EcdsaP256Sha256;
    }
  }
  return std::nullopt;
}

std::optional<std::string> readFileBlocking(const std::filesystem::path& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    setError(error, "cannot open " + path.string());
    return std::nullopt;
  }
  std::string text;
  text.resize(kMaxPemBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    setError(error, "cannot read " + path.string());
    return std::nullopt;
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxPemBytes) {
    setError(error, path.string() + " is larger than a PEM key can be");
    return std::nullopt;
  }
  return text;
}

// DER ECDSA-Sig-Value -> r||s (32 bytes each).
std::optional<std::string> derToRaw(const unsigned char* der, std::size_t len) {
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(kRawSignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kEcScalarBytes) != static_cast<int>(kEcScalarBytes) ||
      BN_bn2binpad(s, out + kEcScalarBytes, kEcScalarBytes) != static_cast<int>(kEcScalarBytes)) {
    return std::nullopt;
  }
  return raw;
}

// r||s -> DER ECDSA-Sig-Value.
std::optional<std::string> rawToDer(std::string_view raw) {
  if (raw.size() != kRawSignatureBytes) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(in, kEcScalarBytes, nullptr));
  std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(in + kEcScalarBytes, kEcScalarBytes, nullptr));
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return std::nullopt;
  return der;
}

const EVP_MD* digestFor(Algorithm alg) {
  return alg == Algorithm::Ed25519 ? nullptr : EVP_sha256();  // Ed25519: no prehash
}

}  // namespace

void detail::EvpPkeyDeleter::operator()(evp_pkey_st* key) const noexcept { EVP_PKEY_free(key); }

std::string_view algorithmName(Algorithm alg) noexcept {
  switch (alg) {
    case Algorithm::Ed25519:
      return "ed25519";
    case Algorithm::EcdsaP256Sha256:
      return "ecdsa-p256-sha256";
  }
  return "unknown";
}

std::optional<Algorithm> parseAlgorithm(std::string_view name) noexcept {
  if (name == "ed25519") return Algorithm::Ed25519;
  if (name == "ecdsa-p256-sha256") return Algorithm::EcdsaP256Sha256;
  return std::nullopt;
}

namespace {

// Parses one PEM key with `read` (PEM_read_bio_PUBKEY or PEM_read_bio_PrivateKey) and checks it
// is a supported algorithm. `what` names the expected PEM in the error.
template <class Reader>
std::optional<std::pair<Algorithm, detail::EvpPkeyPtr>> readPemKey(std::string_view pem,
                                                                   Reader read, const char* what,
                                                                   std::string* error) {
  ErrorQueueGuard guard;
  if (pem.size() > kMaxPemBytes) {
    setError(error, "PEM too large");
    return std::nullopt;
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    setError(error, "out of memory");
    return std::nullopt;
  }
  detail::EvpPkeyPtr key(read(bio.get(), nullptr, noPassphrase, nullptr));
  if (!key) {
    setError(error, what);
    return std::nullopt;
  }
  const auto alg = classify(key.get());
  if (!alg) {
    setError(error, "unsupported key type (need Ed25519 or EC P-256)");
    return std::nullopt;
  }
  return std::make_pair(*alg, std::move(key));
}

}  // namespace

std::optional<PublicKey> PublicKey::fromPem(std::string_view pem, std::string* error) {
  auto parsed =
      readPemKey(pem, PEM_read_bio_PUBKEY, "not a PEM public key (SubjectPublicKeyInfo)", error);
  if (!parsed) return std::nullopt;
  return PublicKey(parsed->first, std::move(parsed->second));
}

std::optional<PublicKey> PublicKey::loadPemFileBlocking(const std::filesystem::path& path,
                                                        std::string* error) {
  const auto text = readFileBlocking(path, error);
  if (!text) return std::nullopt;
  auto key = fromPem(*text, error);
  if (!key && error != nullptr) *error = path.string() + ": " + *error;
  return key;
}

std::optional<PublicKey> PublicKey::fromRaw(Algorithm alg, std::string_view bytes,
                                            std::string* error) {
  ErrorQueueGuard guard;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (alg == Algorithm::Ed25519) {
    if (bytes.size() != kEd25519RawBytes) {
      setError(error, "an Ed25519 public key is 32 bytes");
      return std::nullopt;
    }
    detail::EvpPkeyPtr key(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, data, bytes.size()));
    if (!key) {
      setError(error, "invalid Ed25519 public key");
      return std::nullopt;
    }
    return PublicKey(alg, std::move(key));
  }
  if (bytes.size() != kP256RawBytes || data[0] != 0x04) {
    setError(error, "a P-256 public key is the 65-byte uncompressed point 04||x||y");
    return std::nullopt;
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<unsigned char*>(data),
                                        bytes.size()),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* raw_key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw_key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    setError(error, "invalid P-256 public key");
    return std::nullopt;
  }
  detail::EvpPkeyPtr key(raw_key);
  // fromdata does not check that the point is on the curve; do it before trusting the key.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    setError(error, "P-256 public key is not a valid curve point");
    return std::nullopt;
  }
  return PublicKey(alg, std::move(key));
}

std::string PublicKey::rawBytes() const {
  ErrorQueueGuard guard;
  if (alg_ == Algorithm::Ed25519) {
    std::string out(kEd25519RawBytes, '\0');
    size_t len = out.size();
    if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()),
                                    &len) != 1) {
      return {};
    }
    out.resize(len);
    return out;
  }
  std::string out(kP256RawBytes, '\0');
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                      reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                      &len) != 1) {
    return {};
  }
  out.resize(len);
  return out;
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const noexcept {
  ErrorQueueGuard guard;
  if (signature.size() != kRawSignatureBytes) return false;
  std::string der;
  std::string_view sig = signature;
  if (alg_ == Algorithm::EcdsaP256Sha256) {
    auto converted = rawToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
    sig = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, digestFor(alg_), nullptr, key_.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::optional<PrivateKey> PrivateKey::fromPem(std::string_view pem, std::string* error) {
  auto parsed =
      readPemKey(pem, PEM_read_bio_PrivateKey, "not an unencrypted PEM private key", error);
  if (!parsed) return std::nullopt;
  return PrivateKey(parsed->first, std::move(parsed->second));
}

std::optional<PrivateKey> PrivateKey::loadPemFileBlocking(const std::filesystem::path& path,
                                                          std::string* error) {
  auto text = readFileBlocking(path, error);
  if (!text) return std::nullopt;
  auto key = fromPem(*text, error);
  OPENSSL_cleanse(text->data(), text->size());
  if (!key && error != nullptr) *error = path.string() + ": " + *error;
  return key;
}

std::optional<PublicKey> PrivateKey::publicKey() const {
  ErrorQueueGuard guard;
  // Round-trip through SubjectPublicKeyInfo DER: drops the private part, works for both types.
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key_.get(), &der);
  if (len <= 0) return std::nullopt;
  const unsigned char* p = der;
  detail::EvpPkeyPtr pub(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  if (!pub) return std::nullopt;
  return PublicKey(alg_, std::move(pub));
}

namespace {

// Per-thread signing context for the last key the thread signed with. EVP_DigestSignInit fetches
// the signature and digest implementations and builds the provider context on every call; copying
// an initialised template is cheaper (P-256 sign 25 -> 22 µs, Ed25519 32 -> 30.5 µs CPU on the
// reference machine; benchmarks/micro/README.md, signing_bench). The template holds a reference
// to the key, so `key` cannot be freed and its address reused while it is cached: pointer
// equality identifies the key. One entry: a gateway signs with one active key; after a rotation
// each thread replaces the entry at its next signature (a thread that never signs again keeps the
// old key's reference until it exits).
struct SignContextCache {
  EVP_PKEY* key = nullptr;
  EVP_MD_CTX* templ = nullptr;  // initialised for `key`, never used to sign
  EVP_MD_CTX* work = nullptr;   // a copy of templ per signature
  ~SignContextCache() {
    EVP_MD_CTX_free(templ);
    EVP_MD_CTX_free(work);
  }
};

// An initialised context for `key` owned by the thread's cache, or null (the caller falls back
// to a fresh context).
EVP_MD_CTX* cachedSignContext(EVP_PKEY* key, const EVP_MD* md) {
  thread_local SignContextCache cache;
  if (cache.key != key) {
    EVP_MD_CTX_free(cache.templ);
    cache.templ = nullptr;
    cache.key = nullptr;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> templ(EVP_MD_CTX_new());
    if (!templ || EVP_DigestSignInit(templ.get(), nullptr, md, nullptr, key) != 1) return nullptr;
    cache.templ = templ.release();
    cache.key = key;
  }
  if (cache.work == nullptr && (cache.work = EVP_MD_CTX_new()) == nullptr) return nullptr;
  if (EVP_MD_CTX_copy_ex(cache.work, cache.templ) != 1) return nullptr;
  return cache.work;
}

}  // namespace

std::optional<std::string> sign(const PrivateKey& key, std::string_view signature_base) {
  ErrorQueueGuard guard;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> fresh;
  EVP_MD_CTX* ctx = cachedSignContext(key.key_.get(), digestFor(key.alg_));
  if (ctx == nullptr) {
    fresh.reset(EVP_MD_CTX_new());
    if (!fresh || EVP_DigestSignInit(fresh.get(), nullptr, digestFor(key.alg_), nullptr,
                                     key.key_.get()) != 1) {
      return std::nullopt;
    }
    ctx = fresh.get();
  }
  const auto* msg = reinterpret_cast<const unsigned char*>(signature_base.data());
  // Both algorithms produce at most 72 bytes (ECDSA DER r,s) here: one call, no size query.
  unsigned char buf[80];
  size_t len = sizeof(buf);
  if (EVP_DigestSign(ctx, buf, &len, msg, signature_base.size()) != 1) return std::nullopt;
  if (key.alg_ == Algorithm::Ed25519) return std::string(reinterpret_cast<const char*>(buf), len);
  return derToRaw(buf, len);
}

}  // namespace qaqpa::signing
