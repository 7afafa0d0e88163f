// The page cursor of the digital space: an opaque position "events with seq below S" that only
// the subject it was issued to can use, and only in the process that issued it.
//
//   bytes  := version (1, = 1) | seq_bound (u64le) | mac (16)
//   mac    := first 16 bytes of HMAC-SHA256(key, version | subject (u64le, packSubject) |
//   seq_bound) text   := base64url of bytes without padding (34 characters)
//
// The subject is not in the text: it is in the MAC, so a cursor presented by another subject
// (or altered in any bit, or forged without the key) fails the MAC and is refused — one answer
// (BadCursor) for all of them, so the refusal says nothing about whose cursor it was. The key is
// random per process (CursorCodec::random): cursors do not survive a restart (the client starts
// from the first page again); a shared key would be needed across nodes (issue #6).
//
// Thread-safe after construction (const); no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qaqpa::space_index {

class CursorCodec {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::size_t kTextLength = 34;

  // `key`: kKeyBytes bytes (tests pass a fixed one to check a restart refuses old cursors).
  explicit CursorCodec(std::string key);
  // A fresh key from the OpenSSL CSPRNG.
  static CursorCodec random();

  std::string encode(std::uint64_t packed_subject, std::uint64_t seq_bound) const;
  // The seq bound, or nullopt when the text is malformed or its MAC does not match this subject
  // and key. The MAC comparison is constant-time.
  std::optional<std::uint64_t> decode(std::uint64_t packed_subject, std::string_view text) const;

 private:
  bool mac(std::uint64_t packed_subject, std::uint64_t seq_bound, unsigned char out[16]) const;
  std::string key_;
};

}  // namespace qaqpa::space_index
