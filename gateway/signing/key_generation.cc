#include "gateway/signing/key_generation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace qaqpa::signing {
namespace {

// A new private key of `alg` as unencrypted PKCS#8 PEM, or "" when OpenSSL fails.
std::string generatePem(Algorithm alg) {
  EVP_PKEY* key = alg == Algorithm::Ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
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

bool generatePrivateKeyFileBlocking(Algorithm alg, const std::filesystem::path& path,
                                    std::string& error) {
  const std::string pem = generatePem(alg);
  if (pem.empty()) {
    error = "OpenSSL could not generate a " + std::string(algorithmName(alg)) + " key";
    return false;
  }
  return writeNewKeyFile(path, pem, error);
}

}  // namespace qaqpa::signing
