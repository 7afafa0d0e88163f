// Fresh signing key pairs for tests (OpenSSL keygen in memory): the private key for signing and
// the public key as PEM, to register in a bundle. Throws on failure so a broken setup is loud.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "gateway/signing/keys.h"

namespace qaqpa::test_support {

struct TestKey {
  std::optional<signing::PrivateKey> priv;
  std::string public_pem;
};

// `type` is "ED25519" or "EC" (P-256).
inline TestKey generateKey(const std::string& type) {
  EVP_PKEY* raw = type == "ED25519" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (raw == nullptr) throw std::runtime_error("cannot generate a " + type + " key");
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv) {
      PEM_write_bio_PrivateKey(bio, raw, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, raw);
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
  };
  TestKey k;
  std::string error;
  k.priv = signing::PrivateKey::fromPem(pem(true), &error);
  k.public_pem = pem(false);
  EVP_PKEY_free(raw);
  if (!k.priv) throw std::runtime_error("generated " + type + " key does not load: " + error);
  return k;
}

}  // namespace qaqpa::test_support
