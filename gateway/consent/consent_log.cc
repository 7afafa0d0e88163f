#include "gateway/consent/consent_log.h"

#include <chrono>
#include <cstring>
#include <type_traits>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace qaqpa::consent {
namespace {

namespace json = boost::json;

constexpr std::int64_t kFormatVersion = 1;

std::int64_t toMillis(Clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Clock::time_point fromMillis(std::int64_t ms) noexcept {
  return Clock::time_point(std::chrono::milliseconds(ms));
}

void putU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint32_t getU32(const char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

json::object encodeGrant(const Consent& c) {
  json::array services;
  for (const auto& s : c.services) services.emplace_back(s);
  json::object o;
  o["v"] = kFormatVersion;
  o["op"] = "GRANT";
  o["id"] = c.id;
  o["subject"] = c.subject.toString();
  o["client"] = c.client;
  o["services"] = std::move(services);
  o["purpose"] = c.purpose;
  o["grantedAtMs"] = toMillis(c.granted_at);
  o["expiresMs"] = toMillis(c.expires);
  o["grantedBy"] = c.granted_by;
  return o;
}

json::object encodeRevoke(const RevokeRecord& r) {
  json::object o;
  o["v"] = kFormatVersion;
  o["op"] = "REVOKE";
  o["id"] = r.id;
  o["revokedAtMs"] = toMillis(r.revoked_at);
  o["by"] = r.by.toString();
  return o;
}

// Field readers: a missing member or a wrong type makes the whole record undecodable.
const json::string* str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}
std::optional<std::int64_t> int64(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (const auto* i = v->if_int64()) return *i;
  return std::nullopt;
}
std::optional<common::SubjectId> iin(const json::object& o, std::string_view key) {
  const auto* s = str(o, key);
  if (!s) return std::nullopt;
  auto parsed = common::parseSubject(*s);
  if (!parsed.id || parsed.id->kind != common::SubjectKind::Iin) return std::nullopt;
  return parsed.id;
}
std::optional<std::string> uuid(const json::object& o, std::string_view key) {
  const auto* s = str(o, key);
  if (!s || !common::parseUuid(*s)) return std::nullopt;
  return std::string(*s);
}

std::optional<LogRecord> decodeGrant(const json::object& o) {
  auto id = uuid(o, "id");
  auto subject = iin(o, "subject");
  const auto* client = str(o, "client");
  const auto* purpose = str(o, "purpose");
  const auto* granted_by = str(o, "grantedBy");
  const auto granted_at = int64(o, "grantedAtMs");
  const auto expires = int64(o, "expiresMs");
  const auto* services_value = o.if_contains("services");
  const auto* services = services_value ? services_value->if_array() : nullptr;
  if (!id || !subject || !client || !purpose || !granted_by || !granted_at || !expires ||
      !services || services->empty()) {
    return std::nullopt;
  }
  Consent c;
  c.id = std::move(*id);
  c.subject = std::move(*subject);
  c.client = std::string(*client);
  for (const auto& s : *services) {
    const auto* text = s.if_string();
    if (!text) return std::nullopt;
    c.services.emplace_back(*text);
  }
  c.purpose = std::string(*purpose);
  c.granted_at = fromMillis(*granted_at);
  c.expires = fromMillis(*expires);
  c.granted_by = std::string(*granted_by);
  return LogRecord{std::move(c)};
}

std::optional<LogRecord> decodeRevoke(const json::object& o) {
  auto id = uuid(o, "id");
  auto by = iin(o, "by");
  const auto revoked_at = int64(o, "revokedAtMs");
  if (!id || !by || !revoked_at) return std::nullopt;
  return LogRecord{RevokeRecord{std::move(*id), fromMillis(*revoked_at), std::move(*by)}};
}

enum class FrameStatus : std::uint8_t { Ok, BadLength, PastEnd, BadCrc };

struct Frame {
  FrameStatus status = FrameStatus::BadLength;
  std::string_view payload;
};

Frame frameAt(std::string_view bytes, std::uint64_t offset) noexcept {
  const std::uint64_t remaining = bytes.size() - offset;
  if (remaining < kRecordHeaderBytes) return {FrameStatus::PastEnd, {}};
  const char* p = bytes.data() + offset;
  const std::uint32_t length = getU32(p);
  if (length == 0 || length > kMaxRecordPayloadBytes) return {FrameStatus::BadLength, {}};
  if (remaining - kRecordHeaderBytes < length) return {FrameStatus::PastEnd, {}};
  const std::string_view payload(p + kRecordHeaderBytes, length);
  if (crc32c(payload) != getU32(p + 4)) return {FrameStatus::BadCrc, {}};
  return {FrameStatus::Ok, payload};
}

std::string_view frameReason(FrameStatus status) noexcept {
  switch (status) {
    case FrameStatus::Ok:
      return "ok";
    case FrameStatus::BadLength:
      return "record length out of range";
    case FrameStatus::PastEnd:
      return "record runs past the end of the file";
    case FrameStatus::BadCrc:
      return "record CRC-32C mismatch";
  }
  return "unknown";
}

}  // namespace

std::string encodeRecord(const LogRecord& record) {
  const std::string payload = std::visit(
      [](const auto& r) {
        if constexpr (std::is_same_v<std::decay_t<decltype(r)>, Consent>) {
          return json::serialize(encodeGrant(r));
        } else {
          return json::serialize(encodeRevoke(r));
        }
      },
      record);
  std::string out;
  out.reserve(kRecordHeaderBytes + payload.size());
  putU32(out, static_cast<std::uint32_t>(payload.size()));
  putU32(out, crc32c(payload));
  out += payload;
  return out;
}

std::optional<LogRecord> decodePayload(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec) return std::nullopt;
  const auto* o = value.if_object();
  if (!o || int64(*o, "v") != kFormatVersion) return std::nullopt;
  const auto* op = str(*o, "op");
  if (!op) return std::nullopt;
  if (*op == "GRANT") return decodeGrant(*o);
  if (*op == "REVOKE") return decodeRevoke(*o);
  return std::nullopt;
}

ScanResult scanLog(std::string_view bytes) {
  ScanResult result;
  std::uint64_t offset = 0;
  while (offset < bytes.size()) {
    const Frame frame = frameAt(bytes, offset);
    if (frame.status != FrameStatus::Ok) {
      result.bad_offset = offset;
      result.reason = std::string(frameReason(frame.status));
      // A crash can only cut the last write short. If any intact frame follows the bad one, the
      // damage is in the middle of acknowledged data and truncating would silently drop it.
      // Scanning every later byte offset costs little: this runs once, on a damaged file, and
      // random lengths are rejected before any CRC is computed.
      for (std::uint64_t next = offset + 1; next + kRecordHeaderBytes <= bytes.size(); ++next) {
        if (frameAt(bytes, next).status == FrameStatus::Ok) {
          result.outcome = ScanOutcome::Corrupt;
          result.next_valid_offset = next;
          return result;
        }
      }
      result.outcome = ScanOutcome::TornTail;
      return result;
    }
    auto record = decodePayload(frame.payload);
    if (!record) {
      // The CRC says these are the bytes we wrote: not a torn write but a bug or a foreign format.
      result.outcome = ScanOutcome::Corrupt;
      result.bad_offset = offset;
      result.reason = "record payload is not a valid consent record";
      return result;
    }
    result.records.push_back(ScannedRecord{offset, std::move(*record)});
    offset += kRecordHeaderBytes + frame.payload.size();
    result.valid_bytes = offset;
  }
  return result;
}

}  // namespace qaqpa::consent
