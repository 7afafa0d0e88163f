// Citizen-facing words for digital events in Kazakh, Russian and English (common::Lang): what
// the CSV export of the digital space writes instead of enum names (docs/space.md "events.csv").
// The web page at /space/ keeps its own copy of these words in JavaScript; change both together.
//
// Pure functions over static tables: any thread, no allocation, nothing thrown. The returned
// views point at static storage (valid for the whole program).
#pragma once

#include <string_view>

#include "gateway/common/i18n.h"

namespace qaqpa::space_api {

// qaqpa.journal.v1.Kind: "Data used" / "Деректер пайдаланылды" / "Данные использованы", ...;
// KIND_UNSPECIFIED or a kind this build does not know: "Other event".
std::string_view kindLabel(int kind, common::Lang lang) noexcept;

// qaqpa.journal.v1.Zone: state systems / non-state systems (external) / international exchange /
// digital space / gateway operator (admin); ZONE_UNSPECIFIED or unknown: "Not specified".
std::string_view zoneLabel(int zone, common::Lang lang) noexcept;

// DigitalEvent.status (a canonical code of PROTOCOL.md §5):
//   OK → "Provided"; ACCEPTED → "Accepted";
//   ACCESS_DENIED, CONSENT_REQUIRED, AUTH_FAILED, SIGNATURE_INVALID, VALIDATION_FAILED,
//   SERVICE_NOT_FOUND, RATE_LIMITED, DUPLICATE → "Refused: <why in a few words>";
//   PROVIDER_ERROR, PROVIDER_UNAVAILABLE, PROVIDER_TIMEOUT → "Not delivered";
//   INTERNAL → "Not completed: gateway error"; anything else ("" included) → "Outcome unknown".
std::string_view outcomeLabel(std::string_view status_code, common::Lang lang) noexcept;

}  // namespace qaqpa::space_api
