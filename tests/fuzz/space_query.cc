// Fuzz target: space_api::parseEventsQuery (the query string of GET /v1/space/events and
// events.csv, gateway/space_api/query.h) in both modes, plus isValidEventId, parseKindName,
// neutralizeCell and formatAlmatyTime on the same bytes.
//
// Input: the raw query string (what follows '?').
// Invariants:
//  - a refusal names a parameter of 1..32 characters of [A-Za-z0-9._~-?];
//  - an accepted query is at most 2048 bytes and every field it sets is valid on its own terms
//    (service id, system id, kind 1..8, limit 1..200, cursor 1..512 base64url, since < until);
//  - Csv mode is Page mode minus cursor and limit: Csv accepts ⇒ Page accepts the same query,
//    with no cursor and the default limit; Page accepts and Csv refuses ⇒ Csv names cursor or
//    limit;
//  - round trip: the accepted query, re-encoded with every byte percent-encoded (times in UTC
//    with nine fractional digits), parses to the same query;
//  - isValidEventId, parseKindName and neutralizeCell agree with their definitions;
//    formatAlmatyTime of the first 8 bytes (as int64) is always "YYYY-MM-DD hh:mm:ss".
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "gateway/common/ids.h"
#include "gateway/space_api/csv.h"
#include "gateway/space_api/query.h"

namespace {

using namespace qaqpa;
using space_api::ParsedQuery;
using space_api::QueryMode;

bool isBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

void checkRefusal(const ParsedQuery& r) {
  const std::string& p = r.error_param;
  if (p.empty() || p.size() > 32) __builtin_trap();
  for (const char c : p) {
    if (!(isBase64UrlChar(c) || c == '.' || c == '~' || c == '?')) __builtin_trap();
  }
}

void checkAccepted(const ParsedQuery& r, std::size_t raw_size) {
  const auto& q = r.query;
  if (raw_size > space_api::kMaxQueryBytes) __builtin_trap();
  if (!q.service_id.empty() && !common::isValidServiceId(q.service_id)) __builtin_trap();
  if (!q.client_id.empty() && !common::isValidSystemId(q.client_id)) __builtin_trap();
  if (q.kind && (*q.kind < 1 || *q.kind > 8)) __builtin_trap();
  if (q.limit < 1 || q.limit > 200) __builtin_trap();
  if (q.cursor.size() > 512) __builtin_trap();
  for (const char c : q.cursor) {
    if (!isBase64UrlChar(c)) __builtin_trap();
  }
  if (q.since && q.until && *q.since >= *q.until) __builtin_trap();
}

void percentEncodeAll(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

// RFC 3339 in UTC with nine fractional digits (system_clock is nanoseconds on our platforms; a
// coarser clock only pads with zeros).
std::string formatUtc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ns = duration_cast<nanoseconds>(t.time_since_epoch());
  const auto day = floor<days>(sys_time<nanoseconds>(ns));
  const year_month_day ymd{day};
  const auto in_day = sys_time<nanoseconds>(ns) - day;
  const hh_mm_ss<nanoseconds> hms{in_day};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%09lldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                static_cast<long long>(hms.subseconds().count()));
  return buf;
}

// Every value byte percent-encoded; or, when that would exceed the 2048 bytes, the values as
// they are (every accepted value is then made of characters a query may hold raw).
std::string reencode(const ParsedQuery& r, bool encode) {
  const auto& q = r.query;
  std::string out;
  auto add = [&out, encode](std::string_view key, std::string_view value) {
    if (!out.empty()) out.push_back('&');
    out.append(key);
    out.push_back('=');
    if (encode) {
      percentEncodeAll(out, value);
    } else {
      out.append(value);
    }
  };
  if (q.since) add("since", formatUtc(*q.since));
  if (q.until) add("until", formatUtc(*q.until));
  if (!q.service_id.empty()) add("service", q.service_id);
  if (!q.client_id.empty()) add("client", q.client_id);
  if (q.kind) add("kind", space_api::kindName(*q.kind));
  if (q.limit != space_api::kDefaultLimit) add("limit", std::to_string(q.limit));
  if (!q.cursor.empty()) add("cursor", q.cursor);
  return out;
}

bool sameQuery(const space_index::Query& a, const space_index::Query& b) {
  return a.since == b.since && a.until == b.until && a.service_id == b.service_id &&
         a.client_id == b.client_id && a.kind == b.kind && a.limit == b.limit &&
         a.cursor == b.cursor;
}

void checkSideFunctions(std::string_view in, const std::uint8_t* data, std::size_t size) {
  if (space_api::isValidEventId(in)) {
    if (in.empty() || in.size() > 64) __builtin_trap();
    for (const char c : in) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) __builtin_trap();
    }
  }
  if (const auto kind = space_api::parseKindName(in)) {
    if (space_api::kindName(*kind) != in) __builtin_trap();
  }
  const std::string cell = space_api::neutralizeCell(in);
  const bool dangerous = !in.empty() && std::string_view("=+-@\t\r").find(in[0]) != in.npos;
  if (cell != (dangerous ? "'" + std::string(in) : std::string(in))) __builtin_trap();
  if (size >= 8) {
    std::int64_t t;
    std::memcpy(&t, data, sizeof t);
    const std::string s = space_api::formatAlmatyTime(t);
    if (s.size() != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
        s[16] != ':') {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const ParsedQuery page = space_api::parseEventsQuery(in, QueryMode::Page);
  const ParsedQuery csv = space_api::parseEventsQuery(in, QueryMode::Csv);
  if (page.ok()) {
    checkAccepted(page, size);
    std::string text = reencode(page, true);
    if (text.size() > space_api::kMaxQueryBytes) text = reencode(page, false);
    const ParsedQuery again = space_api::parseEventsQuery(text, QueryMode::Page);
    if (!again.ok() || !sameQuery(again.query, page.query)) __builtin_trap();
  } else {
    checkRefusal(page);
  }
  if (csv.ok()) {
    checkAccepted(csv, size);
    if (!page.ok() || !sameQuery(csv.query, page.query) || !csv.query.cursor.empty() ||
        csv.query.limit != space_api::kDefaultLimit) {
      __builtin_trap();
    }
  } else {
    checkRefusal(csv);
    if (page.ok() && csv.error_param != "cursor" && csv.error_param != "limit") __builtin_trap();
  }
  checkSideFunctions(in, data, size);
  return 0;
}
