#include "gateway/common/ids.h"

#include <chrono>
#include <cstddef>

namespace qaqpa::common {
namespace {

// Hand-written character checks: these run per request on untrusted header bytes, and std::regex
// is both slow and allocating. The <cctype> functions are locale-dependent, hence these.
constexpr bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool isUpper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
constexpr bool isLower(char c) noexcept { return c >= 'a' && c <= 'z'; }
constexpr bool isAlnum(char c) noexcept { return isDigit(c) || isUpper(c) || isLower(c); }

constexpr int hexValue(char c) noexcept {
  if (isDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::size_t kUuidTextLength = 36;
constexpr bool isUuidDashPosition(std::size_t i) noexcept {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

constexpr std::uint64_t kMaxUnixMs = (std::uint64_t{1} << 48) - 1;
constexpr std::uint16_t kCounterMax = 0x0FFF;

// RFC 9562 §6.2 method 1 suggests leaving the counter's top bit clear when seeding so that at
// least 2048 ids fit in one millisecond before the rollover path (borrowing the next ms) runs.
std::uint16_t seedCounter(std::mt19937_64& rng) noexcept {
  return static_cast<std::uint16_t>(rng() & 0x07FF);
}

std::mt19937_64 seededEngine() {
  // One 32-bit draw cannot fill the engine's state; eight words from the device make the
  // 62 random bits per id unpredictable across processes and generators.
  std::random_device device;
  std::seed_seq seq{device(), device(), device(), device(), device(), device(), device(), device()};
  return std::mt19937_64(seq);
}

constexpr std::size_t kIinBinLength = 12;

constexpr bool isSystemChar(char c) noexcept {
  return isLower(c) || isDigit(c) || c == '.' || c == '_' || c == '-';
}

}  // namespace

std::optional<Uuid> parseUuid(std::string_view text) noexcept {
  if (text.size() != kUuidTextLength) return std::nullopt;
  Uuid id;
  std::size_t out = 0;
  for (std::size_t i = 0; i < kUuidTextLength;) {
    if (isUuidDashPosition(i)) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int hi = hexValue(text[i]);
    const int lo = hexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[out++] = static_cast<std::uint8_t>((hi << 4) | lo);
    i += 2;
  }
  return id;
}

std::string toString(const Uuid& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(kUuidTextLength, '-');
  std::size_t pos = 0;
  for (std::size_t i = 0; i < id.bytes.size(); ++i) {
    if (isUuidDashPosition(pos)) ++pos;
    text[pos++] = kHex[id.bytes[i] >> 4];
    text[pos++] = kHex[id.bytes[i] & 0x0F];
  }
  return text;
}

UuidV7Generator::UuidV7Generator() : rng_(seededEngine()) {}

Uuid UuidV7Generator::next(std::uint64_t unix_ms) noexcept {
  unix_ms &= kMaxUnixMs;
  if (unix_ms > last_ms_) {
    last_ms_ = unix_ms;
    counter_ = seedCounter(rng_);
  } else if (counter_ < kCounterMax) {
    // Same millisecond, or the clock stepped back: keep the last timestamp so ids from this
    // generator stay strictly increasing whatever the wall clock does.
    ++counter_;
  } else {
    // Counter exhausted: borrow the next millisecond (RFC 9562 §6.2) rather than repeat or stall.
    last_ms_ = (last_ms_ + 1) & kMaxUnixMs;
    counter_ = seedCounter(rng_);
  }

  const std::uint64_t rand_b = rng_();
  Uuid id;
  auto& b = id.bytes;
  for (int i = 0; i < 6; ++i) {
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(last_ms_ >> (40 - 8 * i));
  }
  b[6] = static_cast<std::uint8_t>(0x70 | (counter_ >> 8));
  b[7] = static_cast<std::uint8_t>(counter_ & 0xFF);
  b[8] = static_cast<std::uint8_t>(0x80 | ((rand_b >> 56) & 0x3F));
  for (int i = 9; i < 16; ++i) {
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rand_b >> (8 * (15 - i)));
  }
  return id;
}

Uuid UuidV7Generator::nextNow() noexcept {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  return next(ms > 0 ? static_cast<std::uint64_t>(ms) : 0);
}

bool isValidIinBin(std::string_view digits) noexcept {
  if (digits.size() != kIinBinLength) return false;
  int d[kIinBinLength];
  for (std::size_t i = 0; i < kIinBinLength; ++i) {
    if (!isDigit(digits[i])) return false;
    d[i] = digits[i] - '0';
  }
  int sum = 0;
  for (int i = 0; i < 11; ++i) sum += d[i] * (i + 1);
  int check = sum % 11;
  if (check == 10) {
    static constexpr int kSecondWeights[11] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
    sum = 0;
    for (int i = 0; i < 11; ++i) sum += d[i] * kSecondWeights[i];
    check = sum % 11;
    if (check == 10) return false;
  }
  return check == d[11];
}

std::string SubjectId::toString() const {
  std::string text = kind == SubjectKind::Bin ? "BIN:" : "IIN:";
  text += digits;
  return text;
}

SubjectParse parseSubject(std::string_view text) {
  SubjectParse result;
  constexpr std::size_t kPrefixLength = 4;
  if (text.size() != kPrefixLength + kIinBinLength) return result;
  const std::string_view prefix = text.substr(0, kPrefixLength);
  SubjectKind kind;
  if (prefix == "IIN:") {
    kind = SubjectKind::Iin;
  } else if (prefix == "BIN:") {
    kind = SubjectKind::Bin;
  } else {
    return result;
  }
  const std::string_view digits = text.substr(kPrefixLength);
  for (char c : digits) {
    if (!isDigit(c)) return result;
  }
  if (!isValidIinBin(digits)) {
    result.error = SubjectError::Checksum;
    return result;
  }
  result.id = SubjectId{kind, std::string(digits)};
  return result;
}

std::optional<SystemIdParts> parseSystemId(std::string_view text) noexcept {
  std::string_view parts[4];
  std::size_t count = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      if (count == 4) return std::nullopt;
      parts[count++] = text.substr(start, i - start);
      start = i + 1;
    }
  }
  if (count != 4) return std::nullopt;
  const auto [country, member_class, member, system] = parts;

  if (country.size() != 2 || !isUpper(country[0]) || !isUpper(country[1])) return std::nullopt;

  if (member_class != "GOV" && member_class != "COM" && member_class != "NGO" &&
      member_class != "INT") {
    return std::nullopt;
  }

  if (country == "KZ") {
    if (!isValidIinBin(member)) return std::nullopt;
  } else {
    if (member.empty() || member.size() > 20) return std::nullopt;
    for (char c : member) {
      if (!isAlnum(c)) return std::nullopt;
    }
  }

  if (system.empty() || system.size() > 63) return std::nullopt;
  if (!isLower(system[0]) && !isDigit(system[0])) return std::nullopt;
  for (char c : system) {
    if (!isSystemChar(c)) return std::nullopt;
  }
  return SystemIdParts{country, member_class, member, system};
}

bool isValidServiceId(std::string_view text) noexcept {
  if (text.empty() || text.size() > 64 || !isLower(text[0])) return false;
  for (char c : text) {
    if (!isAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool isValidPurposeCode(std::string_view text) noexcept {
  if (text.size() < 2 || text.size() > 48 || !isUpper(text[0])) return false;
  for (char c : text) {
    if (!isUpper(c) && !isDigit(c) && c != '_') return false;
  }
  return true;
}

}  // namespace qaqpa::common
