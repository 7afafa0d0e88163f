// Identifiers of qaqpa/1 (PROTOCOL.md §1–2): UUIDs (v7 assignment), IIN/BIN check digit,
// subject ids, system ids, service ids and purpose codes. Pure functions; thread-safe except
// UuidV7Generator, which is per-thread (one per worker) and not synchronised.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace qaqpa::common {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const Uuid&) const = default;
  int version() const noexcept { return bytes[6] >> 4; }
};

// Canonical 8-4-4-4-12 form, case-insensitive hex on input, lower-case on output.
std::optional<Uuid> parseUuid(std::string_view text) noexcept;
std::string toString(const Uuid& id);

// RFC 9562 UUIDv7: 48-bit Unix ms timestamp, then a 12-bit counter seeded randomly each ms
// (monotonic within one generator), then 62 random bits. One generator per thread.
class UuidV7Generator {
 public:
  UuidV7Generator();
  Uuid next(std::uint64_t unix_ms) noexcept;
  Uuid nextNow() noexcept;  // uses the system clock

 private:
  std::mt19937_64 rng_;
  std::uint64_t last_ms_ = 0;
  std::uint16_t counter_ = 0;
};

// 12 ASCII digits with a valid check digit (two-pass mod-11, PROTOCOL.md §1).
bool isValidIinBin(std::string_view digits) noexcept;

enum class SubjectKind : std::uint8_t { Iin, Bin };
struct SubjectId {
  SubjectKind kind = SubjectKind::Iin;
  std::string digits;            // 12 digits
  std::string toString() const;  // "IIN:..." / "BIN:..."
};

enum class SubjectError : std::uint8_t { Syntax, Checksum };
// "IIN:<12 digits>" or "BIN:<12 digits>"; prefix is case-sensitive. Returns the error kind so the
// caller can tell a bad checksum (a specific 400 detail) from bad syntax.
struct SubjectParse {
  std::optional<SubjectId> id;
  SubjectError error = SubjectError::Syntax;
};
SubjectParse parseSubject(std::string_view text);

// CC/CLASS/MEMBER/SYSTEM; for CC == "KZ" MEMBER must be a valid BIN.
struct SystemIdParts {
  std::string_view country, member_class, member, system;
};
std::optional<SystemIdParts> parseSystemId(std::string_view text) noexcept;
inline bool isValidSystemId(std::string_view text) noexcept {
  return parseSystemId(text).has_value();
}

bool isValidServiceId(std::string_view text) noexcept;    // [a-z][a-zA-Z0-9._-]{0,63}
bool isValidPurposeCode(std::string_view text) noexcept;  // [A-Z][A-Z0-9_]{1,47}

}  // namespace qaqpa::common
