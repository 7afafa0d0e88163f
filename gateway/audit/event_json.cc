#include "gateway/audit/event_json.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "gateway/signing/structured_field.h"

namespace qaqpa::audit {
namespace {

namespace json = boost::json;
namespace v1 = qaqpa::journal::v1;

void putString(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) o.emplace(key, json::string(value));
}

void putBytes(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) o.emplace(key, signing::sf::base64Encode(value));
}

void putUnsigned(json::object& o, std::string_view key, std::uint64_t value) {
  if (value != 0) o.emplace(key, value);
}

json::object localized(const v1::LocalizedText& t) {
  json::object o;
  putString(o, "kk", t.kk());
  putString(o, "ru", t.ru());
  putString(o, "en", t.en());
  return o;
}

// Adds `key: sub` only when `sub` has any member.
void putObject(json::object& o, std::string_view key, json::object sub) {
  if (!sub.empty()) o.emplace(key, std::move(sub));
}

json::object party(const std::string& id, const v1::LocalizedText* name) {
  json::object o;
  putString(o, "id", id);
  if (name != nullptr) putObject(o, "name", localized(*name));
  return o;
}

// `name` is the generated enum's name of `value` ("" for a value this build does not know).
void putEnum(json::object& o, std::string_view key, int value, const std::string& name) {
  if (value == 0) return;
  if (name.empty()) {
    o.emplace(key, value);
  } else {
    o.emplace(key, json::string(name));
  }
}

void putTime(json::object& o, std::string_view key, bool has,
             const google::protobuf::Timestamp& t) {
  if (has && (t.seconds() != 0 || t.nanos() != 0))
    o.emplace(key, formatTime(t.seconds(), t.nanos()));
}

}  // namespace

std::string formatTime(std::int64_t seconds, std::int32_t nanos) {
  // A tampered journal can hold any Timestamp: clamp to its valid range (years 0001..9999), so
  // gmtime_r cannot fail (it leaves `tm` half-written) and tm_year + 1900 cannot overflow.
  constexpr std::int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr std::int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  std::tm tm{};
  const std::time_t s = static_cast<std::time_t>(std::clamp(seconds, kMinSeconds, kMaxSeconds));
  gmtime_r(&s, &tm);
  char buf[64];
  const int micros = std::clamp(nanos, 0, 999999999) / 1000;
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

json::object eventToJson(const v1::DigitalEvent& e) {
  json::object o;
  o.reserve(32);
  putString(o, "eventId", e.event_id());
  putString(o, "nodeId", e.node_id());
  putUnsigned(o, "seq", e.seq());
  putTime(o, "time", e.has_time(), e.time());
  putEnum(o, "zone", e.zone(), v1::Zone_Name(e.zone()));
  putEnum(o, "kind", e.kind(), v1::Kind_Name(e.kind()));
  if (e.has_client()) {
    putObject(o, "client",
              party(e.client().id(), e.client().has_name() ? &e.client().name() : nullptr));
  }
  if (e.has_provider()) {
    putObject(o, "provider",
              party(e.provider().id(), e.provider().has_name() ? &e.provider().name() : nullptr));
  }
  if (e.has_service()) {
    putObject(o, "service",
              party(e.service().id(), e.service().has_name() ? &e.service().name() : nullptr));
  }
  putString(o, "subject", e.subject());
  putString(o, "actor", e.actor());
  if (e.has_purpose()) {
    json::object p;
    putString(p, "code", e.purpose().code());
    if (e.purpose().has_text()) putObject(p, "text", localized(e.purpose().text()));
    putObject(o, "purpose", std::move(p));
  }
  putString(o, "consentId", e.consent_id());
  putString(o, "messageId", e.message_id());
  putString(o, "correlationId", e.correlation_id());
  putString(o, "status", e.status());
  putUnsigned(o, "httpStatus", e.http_status());
  putUnsigned(o, "latencyUs", e.latency_us());
  putString(o, "requestDigest", e.request_digest());
  putString(o, "responseDigest", e.response_digest());
  if (e.data_categories_size() > 0) {
    json::array a;
    a.reserve(static_cast<std::size_t>(e.data_categories_size()));
    for (const auto& c : e.data_categories()) a.emplace_back(json::string(c));
    o.emplace("dataCategories", std::move(a));
  }
  putString(o, "country", e.country());
  putString(o, "reason", e.reason());
  putString(o, "operatorReason", e.operator_reason());
  putString(o, "detail", e.detail());
  putBytes(o, "prevHash", e.prev_hash());
  putBytes(o, "hash", e.hash());
  return o;
}

json::object checkpointToJson(const v1::Checkpoint& c) {
  json::object o;
  putString(o, "nodeId", c.node_id());
  putUnsigned(o, "firstSeq", c.first_seq());
  putUnsigned(o, "lastSeq", c.last_seq());
  putBytes(o, "chainHead", c.chain_head());
  putTime(o, "time", c.has_time(), c.time());
  putString(o, "keyId", c.key_id());
  putString(o, "algorithm", c.algorithm());
  putBytes(o, "signature", c.signature());
  return o;
}

}  // namespace qaqpa::audit
