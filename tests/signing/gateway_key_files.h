// Test-only gateway key files: fresh key pairs written as PEM into a per-test temp dir (PKCS#8,
// SEC1 for EC, SPKI public), plus an RSA key the loader must refuse. Throws on setup failure so a
// broken fixture is loud.
#pragma once

#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "gateway/signing/keys.h"
#include "tests/support/temp_dir.h"

namespace qaqpa::signing::test {

using test_support::TempDir;

namespace detail {

inline void writeBio(BIO* bio, const std::filesystem::path& path) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
  std::fwrite(data, 1, static_cast<std::size_t>(len), f);
  std::fclose(f);
}

template <class Write>
void writePem(EVP_PKEY* key, const std::filesystem::path& path, Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || write(bio, key) != 1) {
    BIO_free(bio);
    throw std::runtime_error("cannot serialise a key for " + path.string());
  }
  writeBio(bio, path);
  BIO_free(bio);
}

}  // namespace detail

struct KeyFiles {
  std::filesystem::path pkcs8_pem;   // BEGIN PRIVATE KEY
  std::filesystem::path sec1_pem;    // BEGIN EC PRIVATE KEY (EC); same as pkcs8_pem for Ed25519
  std::filesystem::path public_pem;  // BEGIN PUBLIC KEY

  // `type`: "ED25519" or "EC" (P-256). Files are <dir>/<name>.{pkcs8,sec1,pub}.pem.
  static KeyFiles generate(const std::filesystem::path& dir, const std::string& name,
                           const std::string& type) {
    EVP_PKEY* raw = type == "ED25519" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (raw == nullptr) throw std::runtime_error("cannot generate a " + type + " key");
    KeyFiles k;
    k.pkcs8_pem = dir / (name + ".pkcs8.pem");
    k.public_pem = dir / (name + ".pub.pem");
    detail::writePem(raw, k.pkcs8_pem, [](BIO* b, EVP_PKEY* key) {
      return PEM_write_bio_PKCS8PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    });
    detail::writePem(raw, k.public_pem,
                     [](BIO* b, EVP_PKEY* key) { return PEM_write_bio_PUBKEY(b, key); });
    if (type == "EC") {
      k.sec1_pem = dir / (name + ".sec1.pem");
      detail::writePem(raw, k.sec1_pem, [](BIO* b, EVP_PKEY* key) {
        return PEM_write_bio_PrivateKey_traditional(b, key, nullptr, nullptr, 0, nullptr, nullptr);
      });
    } else {
      k.sec1_pem = k.pkcs8_pem;
    }
    EVP_PKEY_free(raw);
    std::string error;
    k.priv_ = PrivateKey::loadPemFileBlocking(k.pkcs8_pem, &error);
    k.pub_ = PublicKey::loadPemFileBlocking(k.public_pem, &error);
    if (!k.priv_ || !k.pub_) throw std::runtime_error("generated key does not load: " + error);
    return k;
  }

  const PrivateKey& privateKey() const { return *priv_; }
  const PublicKey& publicKey() const { return *pub_; }

 private:
  std::optional<PrivateKey> priv_;
  std::optional<PublicKey> pub_;
};

// A 2048-bit RSA private key (PKCS#8): a type the gateway refuses.
inline void writeRsaPrivateKey(const std::filesystem::path& path) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  if (raw == nullptr) throw std::runtime_error("cannot generate an RSA key");
  detail::writePem(raw, path, [](BIO* b, EVP_PKEY* key) {
    return PEM_write_bio_PKCS8PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  EVP_PKEY_free(raw);
}

}  // namespace qaqpa::signing::test
