// CRC-32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected, init/xorout 0xFFFFFFFF):
// the checksum of every record frame in the durable logs (consent log, journal). Pure, thread
// safe, non-blocking. Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise;
// both give the same value (check: crc32c("123456789") == 0xE3069283).
#pragma once

#include <cstdint>
#include <string_view>

namespace qaqpa::common {

std::uint32_t crc32c(std::string_view bytes) noexcept;

}  // namespace qaqpa::common
