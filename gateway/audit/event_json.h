// The JSON projection of digital events and checkpoints (PROTOCOL.md §6). One stable, documented
// shape, written by hand (not protobuf's JsonFormat: slower, and its shape follows the library):
// `qaqpa journal export`, the admin export and the citizen's digital-space API all emit exactly
// these objects.
//
// Shape of an event (keys in this order; a field that is unset, 0, "" or empty is omitted):
//   eventId, nodeId, seq (number), time, zone, kind, client {id, name {kk, ru, en}},
//   provider {id, name}, service {id, name}, subject, actor, purpose {code, text {kk, ru, en}},
//   consentId, messageId, correlationId, status, httpStatus (number), latencyUs (number),
//   requestDigest, responseDigest, dataCategories [..], country, reason, operatorReason, detail,
//   prevHash, hash
// - time: RFC 3339 in UTC with exactly six fractional digits, "2026-11-23T12:17:01.250000Z"
//   (fixed width, so strings sort as times; nanoseconds beyond the microsecond are truncated;
//   a time outside protobuf's Timestamp range, years 0001..9999, is clamped to it).
// - zone, kind: the enum value names of journal.proto ("STATE", "DATA_ACCESS"); a value this
//   build does not know is emitted as its number.
// - prevHash, hash, chainHead, signature: standard base64 with padding (RFC 4648 §4), like proto3
//   JSON for bytes.
// - seq, httpStatus, latencyUs, firstSeq, lastSeq: JSON numbers (integers below 2^53 in practice;
//   Boost.JSON keeps uint64 exact).
// A checkpoint: nodeId, firstSeq, lastSeq, chainHead, time, keyId, algorithm, signature.
//
// Pure functions: any thread, no I/O, nothing thrown (Boost.JSON may throw std::bad_alloc only).
#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::audit {

boost::json::object eventToJson(const qaqpa::journal::v1::DigitalEvent& event);
boost::json::object checkpointToJson(const qaqpa::journal::v1::Checkpoint& checkpoint);

// The time format above, from a protobuf Timestamp's fields.
std::string formatTime(std::int64_t seconds, std::int32_t nanos);

}  // namespace qaqpa::audit
