#include "gateway/server/key_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gateway/common/log.h"

namespace qaqpa::server {
namespace {

// A new private key of `alg` as unencrypted PKCS#8 PEM, or "" when OpenSSL fails.
std::string generatePem(std::string_view alg) {
  EVP_PKEY* key = alg == "ed25519" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return {};
  std::string pem;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr &&
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) pem.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// Writes `pem` to `path` (mode 0600) only if it does not exist yet (O_EXCL: never overwrites a
// key), then fsyncs the file and its directory.
bool writeNewKeyFile(const std::filesystem::path& path, const std::string& pem,
                     std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot create " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  std::string_view rest = pem;
  bool ok = true;
  while (ok && !rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    if (ok) rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    error = "cannot write " + path.string() + ": " + std::strerror(errno);
    std::filesystem::remove(path, ec);
    return false;
  }
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace

std::shared_ptr<const signing::GatewayKeySet> loadGatewayKeysBlocking(
    const config::SigningSettings& settings, std::string& error) {
  std::vector<signing::GatewayKeySpec> specs;
  for (const config::SigningKeyConfig& k : settings.keys) {
    if (!k.generate.empty() && !std::filesystem::exists(k.private_key_file)) {
      const std::string pem = generatePem(k.generate);
      if (pem.empty()) {
        error = "signing.keys " + k.kid + ": OpenSSL could not generate a " + k.generate + " key";
        return nullptr;
      }
      if (!writeNewKeyFile(k.private_key_file, pem, error)) return nullptr;
      common::log(common::LogLevel::Warn, "generated a demo signing key (demo mode only)",
                  {{"kid", k.kid}, {"alg", k.generate}, {"file", k.private_key_file}});
    }
    specs.push_back({k.kid, k.private_key_file, k.public_key_file, k.active});
  }
  std::vector<signing::GatewayKeyError> errors;
  auto set = signing::GatewayKeySet::loadBlocking(specs, errors);
  if (!set) {
    for (const auto& e : errors) {
      if (!error.empty()) error += "\n";
      error += "signing.keys";
      if (e.index != signing::GatewayKeyError::kWholeSet) {
        error += "[" + std::to_string(e.index) + "]";
      }
      if (!e.kid.empty()) error += " (" + e.kid + ")";
      error += ": " + e.message;
    }
  }
  return set;
}

}  // namespace qaqpa::server
