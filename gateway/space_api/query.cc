#include "gateway/space_api/query.h"

#include <array>
#include <cstdint>

#include "gateway/common/ids.h"
#include "gateway/config/config.h"

namespace qaqpa::space_api {
namespace {

constexpr std::array<std::string_view, 9> kKindNames = {
    "DATA_ACCESS",     "ACCESS_DENIED",   "DELIVERY_FAILED",
    "CONSENT_GRANTED", "CONSENT_REVOKED", "INTERNATIONAL_TRANSFER",
    "POLICY_CHANGED",  "OPERATOR_ACCESS", "MESSAGE_ACCEPTED"};

enum Key : std::uint8_t { kSince, kUntil, kService, kClient, kKind, kLimit, kCursor, kKeyCount };
constexpr std::array<std::string_view, kKeyCount> kKeyNames = {
    "since", "until", "service", "client", "kind", "limit", "cursor"};

int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 (RFC 3629): shortest form only, no surrogates, at most U+10FFFF; and no control
// characters (C0, DEL, C1).
bool isCleanUtf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      if (b0 < 0x20 || b0 == 0x7F) return false;
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0Fu;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07u;
    } else {
      return false;  // a continuation byte first, C0/C1 (overlong two-byte), or F5..FF
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F)) {
      return false;
    }
    i += len;
  }
  return true;
}

// application/x-www-form-urlencoded decoding, strict (see query.h). False on any fault.
bool formDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return false;
      const int hi = hexValue(in[i + 1]);
      const int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+') {
      out.push_back(' ');
    } else if (c >= 0x21 && c <= 0x7E) {
      out.push_back(c);
    } else {
      return false;  // space, control, non-ASCII: not allowed raw in a query (RFC 3986)
    }
  }
  return isCleanUtf8(out);
}

bool isSafeNameChar(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '-';
}

// An unknown key (valid UTF-8) as it may be echoed: one '?' per character outside the safe set.
std::string safeName(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (out.size() == kMaxErrorParamChars) break;
    if (isSafeNameChar(c)) {
      out.push_back(c);
    } else if ((static_cast<unsigned char>(c) & 0xC0u) != 0x80u) {
      out.push_back('?');  // one per character: continuation bytes add nothing
    }
  }
  return out;
}

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) noexcept {
  // Years outside 1900..2199 would not fit system_clock's nanoseconds on every platform; refuse
  // them before converting.
  if (text.size() < 4) return std::nullopt;
  int year = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    year = year * 10 + (text[i] - '0');
  }
  if (year < 1900 || year > 2199) return std::nullopt;
  return config::parseRfc3339(text);
}

std::optional<std::size_t> parseLimit(std::string_view text) noexcept {
  if (text.empty() || text.size() > 3 || text[0] == '0') return std::nullopt;
  std::size_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  if (v < 1 || v > space_index::kMaxPageLimit) return std::nullopt;
  return v;
}

bool isValidCursor(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxCursorChars) return false;
  for (const char c : text) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

ParsedQuery refuse(std::string param) {
  ParsedQuery r;
  r.error_param = std::move(param);
  return r;
}

}  // namespace

std::optional<int> parseKindName(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<int>(i + 1);
  }
  return std::nullopt;
}

std::string_view kindName(int kind) noexcept {
  if (kind < 1 || kind > static_cast<int>(kKindNames.size())) return {};
  return kKindNames[static_cast<std::size_t>(kind - 1)];
}

bool isValidEventId(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) return false;
  }
  return true;
}

ParsedQuery parseEventsQuery(std::string_view raw, QueryMode mode) {
  if (raw.size() > kMaxQueryBytes) return refuse("query");
  ParsedQuery result;
  if (raw.empty()) return result;

  std::array<bool, kKeyCount> seen{};
  std::string key;
  std::string value;
  std::size_t start = 0;
  while (true) {
    const std::size_t amp = raw.find('&', start);
    const std::string_view pair =
        raw.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (pair.empty()) return refuse("query");  // "&&", a leading or trailing '&'

    const std::size_t eq = pair.find('=');
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (raw_key.empty() || !formDecode(raw_key, key)) return refuse("query");

    std::size_t k = 0;
    while (k < kKeyCount && kKeyNames[k] != key) ++k;
    if (k == kKeyCount) return refuse(safeName(key));
    const std::string_view name = kKeyNames[k];
    if (seen[k]) return refuse(std::string(name));
    seen[k] = true;
    if (mode == QueryMode::Csv && (k == kLimit || k == kCursor)) return refuse(std::string(name));
    if (raw_value.empty() || !formDecode(raw_value, value) || value.empty()) {
      return refuse(std::string(name));
    }

    space_index::Query& q = result.query;
    bool good = true;
    switch (static_cast<Key>(k)) {
      case kSince:
        q.since = parseTime(value);
        good = q.since.has_value();
        break;
      case kUntil:
        q.until = parseTime(value);
        good = q.until.has_value();
        break;
      case kService:
        good = common::isValidServiceId(value);
        if (good) q.service_id = value;
        break;
      case kClient:
        good = common::parseSystemId(value).has_value();
        if (good) q.client_id = value;
        break;
      case kKind:
        q.kind = parseKindName(value);
        good = q.kind.has_value();
        break;
      case kLimit:
        if (const auto limit = parseLimit(value)) {
          q.limit = *limit;
        } else {
          good = false;
        }
        break;
      case kCursor:
        good = isValidCursor(value);
        if (good) q.cursor = value;
        break;
      case kKeyCount:
        good = false;
        break;
    }
    if (!good) return refuse(std::string(name));

    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  if (result.query.since && result.query.until && *result.query.since >= *result.query.until) {
    return refuse("since");
  }
  return result;
}

}  // namespace qaqpa::space_api
