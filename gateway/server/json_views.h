// Small JSON helpers shared by the admin and the digital-space handlers: consent objects (docs/
// space.md "Consents"), RFC 3339 times, JSON responses, query parameters.
//
// Pure functions: any thread, no I/O. Boost.JSON may throw std::bad_alloc only.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "gateway/consent/consent_store.h"
#include "gateway/pipeline/exchange.h"

namespace qaqpa::config {
struct PolicyBundle;
struct LocalizedText;
}  // namespace qaqpa::config

namespace qaqpa::server {

// "2026-11-23T09:17:01Z" (UTC, whole seconds).
std::string rfc3339(std::chrono::system_clock::time_point t);

// {kk, ru, en}.
boost::json::object localizedJson(const config::LocalizedText& text);

// A consent as the APIs show it: id, subject, client, services, purpose, grantedAt, expires,
// revokedAt?, grantedBy, state (ACTIVE | EXPIRED | REVOKED). With `policy`, also the names the
// citizen reads: clientName, serviceNames [{id, name}], purposeText (each only when the policy
// still knows the id).
boost::json::object consentJson(const consent::Consent& c,
                                std::chrono::system_clock::time_point now,
                                const config::PolicyBundle* policy = nullptr);

pipeline::Response jsonResponse(unsigned version, boost::beast::http::status status,
                                const boost::json::value& body);

// The value of `key` in a query string, percent-decoded ("" when absent or malformed). Lenient:
// for the operator API; the citizen's API parses strictly (gateway/space_api/query.h).
std::string queryParam(std::string_view query, std::string_view key);

}  // namespace qaqpa::server
