#include "gateway/common/crc32c.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/crc.hpp>

namespace qaqpa::common {
namespace {

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

// The accelerated path must agree with the bytewise definition at every length and alignment.
TEST(Crc32c, AgreesWithTableAtEveryLengthAndOffset) {
  std::string data(300, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  for (std::size_t off = 0; off < 9; ++off) {
    for (std::size_t len = 0; off + len <= data.size(); len += 7) {
      boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> ref;
      ref.process_bytes(data.data() + off, len);
      ASSERT_EQ(crc32c(std::string_view(data).substr(off, len)), ref.checksum())
          << "off " << off << " len " << len;
    }
  }
}

}  // namespace
}  // namespace qaqpa::common
