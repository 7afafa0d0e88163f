// Helpers shared by the journal fuzz targets (journal_frames, journal_verify).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "gateway/common/crc32c.h"
#include "gateway/journal/format.h"

namespace qaqpa::fuzz {

// Rewrites the CRC of every frame from `start` on, following the length fields, until a length is
// out of range or runs past the end. Inputs that ask for it (a flag bit) let the fuzzer mutate
// payloads without breaking the frames around them, so the record parsers see the mutations.
inline void fixFrameCrcs(std::string& bytes, std::size_t start) {
  std::size_t off = start;
  while (off <= bytes.size() && bytes.size() - off >= journal::kFrameHeaderBytes) {
    std::uint32_t len = 0;
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(bytes[off + i]);
    if (len == 0 || len > journal::kMaxFramePayloadBytes ||
        bytes.size() - off - journal::kFrameHeaderBytes < len) {
      return;
    }
    const std::uint32_t crc =
        common::crc32c(std::string_view(bytes).substr(off + journal::kFrameHeaderBytes, len));
    for (int i = 0; i < 4; ++i) bytes[off + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    off += journal::kFrameHeaderBytes + len;
  }
}

// Silences protobuf's log lines (every string field with invalid UTF-8 logs one): they would
// swamp the fuzzer's output and slow it down. Call once, from a static initializer.
inline bool quietProtobuf() {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}

}  // namespace qaqpa::fuzz
