#include "gateway/common/crc32c.h"

#include <cstring>

#include <boost/crc.hpp>

namespace qaqpa::common {
namespace {

std::uint32_t crc32cTable(std::string_view bytes) noexcept {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

#if defined(__x86_64__)
// The crc32 instruction computes exactly CRC-32C over the reflected bit order, 8 bytes a step.
__attribute__((target("sse4.2"))) std::uint32_t crc32cSse42(std::string_view bytes) noexcept {
  std::uint64_t crc = 0xFFFFFFFFu;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
    p += 8;
    n -= 8;
  }
  auto c = static_cast<std::uint32_t>(crc);
  while (n > 0) {
    c = __builtin_ia32_crc32qi(c, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return c ^ 0xFFFFFFFFu;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

std::uint32_t crc32c(std::string_view bytes) noexcept {
#if defined(__x86_64__)
  if (kHaveSse42) return crc32cSse42(bytes);
#endif
  return crc32cTable(bytes);
}

}  // namespace qaqpa::common
