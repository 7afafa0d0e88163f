// Reading the few fields the index keeps straight from an event's canonical bytes (protobuf wire
// format, journal.proto), without building a DigitalEvent: the journal writer thread calls this
// once per committed event (journal_feed.h), and the rebuild once per event on disk.
//
// Pure functions, any thread, no allocation; the views point into the input bytes.
#pragma once

#include <cstdint>
#include <string_view>

namespace qaqpa::space_index {

struct EventFields {
  std::uint64_t seq = 0;        // field 29
  std::int64_t time_us = 0;     // field 3 (Timestamp seconds, nanos) in microseconds
  int kind = 0;                 // field 5
  std::string_view event_id;    // field 1
  std::string_view subject;     // field 9
  std::string_view client_id;   // field 6 (Party) → its field 1
  std::string_view service_id;  // field 8 (ServiceRef) → its field 1
};

// False when the bytes are not a well-formed protobuf message (truncated, bad wire type, group).
// Unknown fields are skipped; a repeated scalar keeps its last value, like protobuf.
bool extractEventFields(std::string_view event_bytes, EventFields& out) noexcept;

// A JournalRecord payload holding an event (field 1) → its event bytes; false for a checkpoint,
// a segment start, or malformed bytes.
bool recordEventBytes(std::string_view record_payload, std::string_view& event_bytes) noexcept;

}  // namespace qaqpa::space_index
