// The CSV export of the digital space, GET /v1/space/events.csv (docs/space.md "events.csv"):
// RFC 4180 (CRLF line ends, every field quoted, '"' doubled), UTF-8 with a byte-order mark, header
// row and words in the request's language.
//
// Columns: time (Asia/Almaty, "2026-11-23 14:17:01"), event (kindLabel), zone (zoneLabel),
// organisation and system (client name), client system id, service (name), service id, purpose
// (text), outcome (outcomeLabel), status code, data provider (name), event id, hash (lowercase
// hex); an event without a status has an empty outcome cell. A name or text is the LocalizedText in
// the request's language, else in the other two (kk → ru → en, ru → en → kk, en → ru → kk), else
// the id or code it names; an absent field is an empty cell.
//
// CSV injection (OWASP): every cell — header and data, whatever the column — that starts with
// '=', '+', '-', '@', TAB or CR is prefixed with '\'' before it is quoted. CR and LF inside a cell
// are kept (quoted fields may hold line breaks, RFC 4180 §2.6).
//
// Time zone: Kazakhstan has had one time zone, UTC+05:00 without daylight saving, since
// 2024-03-01 (Asia/Almaty was UTC+06:00 before). The gateway's events are all later than that, so
// every time is written at the fixed offset UTC+05:00 (an earlier time would also be shown at
// +05:00; the header says so).
//
// Pure functions: any thread, no I/O, nothing thrown except std::bad_alloc. `out` is appended
// to, never cleared.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/common/i18n.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::space_api {

inline constexpr std::size_t kMaxCsvEvents = 10000;
inline constexpr std::size_t kCsvColumns = 13;
inline constexpr std::string_view kCsvContentType = "text/csv; charset=utf-8; header=present";
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
inline constexpr std::int64_t kAlmatyOffsetSeconds = 5 * 3600;

// The UTF-8 BOM, then the header row (CRLF-terminated).
void appendCsvHeader(std::string& out, common::Lang lang);

// One event as one row (CRLF-terminated).
void appendCsvRow(std::string& out, const qaqpa::journal::v1::DigitalEvent& e, common::Lang lang);

// The OWASP prefix: "'" + cell when the cell starts with = + - @ TAB or CR, else the cell.
std::string neutralizeCell(std::string_view cell);

// "2026-11-23 14:17:01": the instant at UTC+05:00. Seconds outside years 0001..9999 (after the
// offset) are clamped to that range, like audit::formatTime, so the width is always 19.
std::string formatAlmatyTime(std::int64_t unix_seconds);

// "qaqpa-events-YYYYMMDD.csv", the date of `now` in Almaty (UTC+05:00).
std::string csvFileName(std::chrono::system_clock::time_point now);

}  // namespace qaqpa::space_api
