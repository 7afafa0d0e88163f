// The query string of GET /v1/space/events and GET /v1/space/events.csv (docs/space.md "Events"),
// parsed strictly into a space_index::Query, and the syntax of an event id in
// GET /v1/space/events/{eventId}.
//
// Strict, as the contract says: every refusal is one 400 VALIDATION_FAILED naming a parameter.
//   - The raw string (after '?') is at most kMaxQueryBytes; longer: "query".
//   - Pairs are separated by '&'; an empty pair ("a=1&&b=2", a trailing '&') or an empty key
//     ("=1") is "query". A pair without '=' is a key with an empty value.
//   - Keys and values are percent-decoded strictly: '%' must be followed by two hex digits,
//     '+' is a space (application/x-www-form-urlencoded, so "+05:00" must be sent as "%2B05:00"),
//     raw bytes must be visible ASCII (0x21..0x7E); the decoded text must be valid UTF-8
//     (no overlong forms, no surrogates, nothing above U+10FFFF) without control characters
//     (NUL included). A key that fails this is "query"; a known key whose value fails it is the
//     key.
//   - Known keys: since, until, service, client, kind, limit, cursor; each at most once (a
//     repeated key names itself) with a non-empty value (an empty one names the key). Any other
//     key names itself, cut to its first 32 characters with every character outside
//     [A-Za-z0-9._~-] shown as '?' (so the name is safe to echo in a problem detail).
//   - since, until: RFC 3339 date-time with an offset ("Z" or "±hh:mm"), optional fraction
//     (config::parseRfc3339), years 1900..2199 (the range std::chrono::system_clock holds on
//     every platform we build for, with room for any offset); since >= until names "since".
//   - service: a service id (common::isValidServiceId); client: a system id
//     (common::parseSystemId); kind: a Kind name of journal.proto other than KIND_UNSPECIFIED,
//     exact case.
//   - limit: 1..200 in decimal, no sign, no leading zero; default 50.
//   - cursor: 1..512 characters of base64url without padding; only its syntax is checked here
//     (the index verifies its MAC and answers BadCursor).
//   - QueryMode::Csv refuses cursor and limit (each names itself).
// The first refusal in the string's order is the one reported.
//
// Pure functions: any thread, no I/O, nothing thrown except std::bad_alloc.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/space_index/event_index.h"

namespace qaqpa::space_api {

enum class QueryMode { Page, Csv };  // Csv: cursor and limit refused

inline constexpr std::size_t kMaxQueryBytes = 2048;
inline constexpr std::size_t kMaxCursorChars = 512;
inline constexpr std::size_t kMaxErrorParamChars = 32;
inline constexpr std::size_t kDefaultLimit = 50;

struct ParsedQuery {
  space_index::Query query;  // filled on success (limit default 50); default-constructed on failure
  // On failure: the parameter to name in the 400 problem ("since", "limit", "cursor", "query"
  // for an over-long or garbled string, or the unknown key itself, made safe and cut to 32
  // characters). Empty on success.
  std::string error_param;
  bool ok() const noexcept { return error_param.empty(); }
};

// `raw_query`: the query string after '?', without the '?' ("" when there is none).
ParsedQuery parseEventsQuery(std::string_view raw_query, QueryMode mode);

// "DATA_ACCESS" → 1, ... "OPERATOR_ACCESS" → 8 (qaqpa.journal.v1.Kind); anything else,
// KIND_UNSPECIFIED and other spellings included → nullopt.
std::optional<int> parseKindName(std::string_view name) noexcept;

// The Kind's enum name for 1..8, "" for anything else.
std::string_view kindName(int kind) noexcept;

// An event id as the events/{eventId} route accepts it: 1..64 characters of [0-9a-f-].
bool isValidEventId(std::string_view id) noexcept;

}  // namespace qaqpa::space_api
