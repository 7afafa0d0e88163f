#include "gateway/space_index/cursor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace qaqpa::space_index {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kCursorBytes = 1 + 8 + kMacBytes;  // 25 → 34 base64url characters
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void putU64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t getU64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string base64Url(const unsigned char* data, std::size_t n) {
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict decoding of exactly kTextLength characters into kCursorBytes bytes: the unused low
// bits of the last character must be zero, so every cursor has exactly one text.
bool unBase64Url(std::string_view text, unsigned char* out) {
  if (text.size() != CursorCodec::kTextLength) return false;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t n = 0;
  for (const char c : text) {
    const int v = sextet(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<unsigned char>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return n == kCursorBytes && acc == 0;
}

}  // namespace

CursorCodec::CursorCodec(std::string key) : key_(std::move(key)) {
  if (key_.size() != kKeyBytes) throw std::invalid_argument("cursor key must be 32 bytes");
}

CursorCodec CursorCodec::random() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");  // at construction (startup), never per call
  }
  return CursorCodec(std::move(key));
}

bool CursorCodec::mac(std::uint64_t packed_subject, std::uint64_t seq_bound,
                      unsigned char out[kMacBytes]) const {
  unsigned char msg[1 + 8 + 8];
  msg[0] = kVersion;
  putU64(msg + 1, packed_subject);
  putU64(msg + 9, seq_bound);
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), msg, sizeof msg,
                       full, &len) != nullptr &&
                  len >= kMacBytes;
  if (ok) std::memcpy(out, full, kMacBytes);
  OPENSSL_cleanse(full, sizeof full);
  return ok;
}

std::string CursorCodec::encode(std::uint64_t packed_subject, std::uint64_t seq_bound) const {
  unsigned char bytes[kCursorBytes];
  bytes[0] = kVersion;
  putU64(bytes + 1, seq_bound);
  // No MAC, no cursor: the client sees the last page (never a cursor another subject could use).
  if (!mac(packed_subject, seq_bound, bytes + 9)) return {};
  return base64Url(bytes, sizeof bytes);
}

std::optional<std::uint64_t> CursorCodec::decode(std::uint64_t packed_subject,
                                                 std::string_view text) const {
  unsigned char bytes[kCursorBytes];
  if (!unBase64Url(text, bytes) || bytes[0] != kVersion) return std::nullopt;
  const std::uint64_t seq_bound = getU64(bytes + 1);
  unsigned char expected[kMacBytes];
  if (!mac(packed_subject, seq_bound, expected)) return std::nullopt;
  if (CRYPTO_memcmp(expected, bytes + 9, kMacBytes) != 0) return std::nullopt;
  return seq_bound;
}

}  // namespace qaqpa::space_index
