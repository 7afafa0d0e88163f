#include "gateway/space_index/event_fields.h"

namespace qaqpa::space_index {
namespace {

// A cursor over protobuf wire bytes.
class Wire {
 public:
  explicit Wire(std::string_view b) : p_(b.data()), end_(b.data() + b.size()) {}
  bool done() const { return p_ == end_; }

  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const auto byte = static_cast<std::uint8_t>(*p_++);
      v |= std::uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80u) == 0) return true;
    }
    return false;  // more than 10 bytes
  }
  // The next field: its number, wire type, and (for wire type 2) its bytes; for 0 the value.
  bool field(int& number, int& type, std::uint64_t& value, std::string_view& bytes) {
    std::uint64_t tag = 0;
    if (!varint(tag)) return false;
    number = static_cast<int>(tag >> 3);
    type = static_cast<int>(tag & 7);
    if (number == 0) return false;
    switch (type) {
      case 0:
        return varint(value);
      case 1:
        return skip(8);
      case 5:
        return skip(4);
      case 2: {
        std::uint64_t len = 0;
        if (!varint(len) || len > static_cast<std::uint64_t>(end_ - p_)) return false;
        bytes = std::string_view(p_, static_cast<std::size_t>(len));
        p_ += len;
        return true;
      }
      default:
        return false;  // groups (3, 4) and reserved types: not in journal.proto
    }
  }

 private:
  bool skip(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const char* p_;
  const char* end_;
};

// Field 1 of a length-delimited sub-message (Party.id, ServiceRef.id).
bool firstString(std::string_view msg, std::string_view& out) {
  Wire w(msg);
  while (!w.done()) {
    int number = 0, type = 0;
    std::uint64_t v = 0;
    std::string_view b;
    if (!w.field(number, type, v, b)) return false;
    if (number == 1 && type == 2) out = b;
  }
  return true;
}

bool timestampMicros(std::string_view msg, std::int64_t& out) {
  Wire w(msg);
  std::int64_t seconds = 0;
  std::int64_t nanos = 0;
  while (!w.done()) {
    int number = 0, type = 0;
    std::uint64_t v = 0;
    std::string_view b;
    if (!w.field(number, type, v, b)) return false;
    if (type != 0) continue;
    if (number == 1) seconds = static_cast<std::int64_t>(v);
    if (number == 2) nanos = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  }
  // protobuf's Timestamp range (years 0001..9999): anything outside cannot be a real event and
  // would overflow the microseconds below.
  constexpr std::int64_t kMinSeconds = -62135596800;
  constexpr std::int64_t kMaxSeconds = 253402300799;
  if (seconds < kMinSeconds || seconds > kMaxSeconds) return false;
  out = seconds * 1000000 + nanos / 1000;
  return true;
}

}  // namespace

bool extractEventFields(std::string_view event_bytes, EventFields& out) noexcept {
  out = EventFields{};
  Wire w(event_bytes);
  while (!w.done()) {
    int number = 0, type = 0;
    std::uint64_t v = 0;
    std::string_view b;
    if (!w.field(number, type, v, b)) return false;
    if (type == 0) {
      if (number == 5) out.kind = static_cast<int>(static_cast<std::int32_t>(v));
      if (number == 29) out.seq = v;
    } else if (type == 2) {
      switch (number) {
        case 1:
          out.event_id = b;
          break;
        case 3:
          if (!timestampMicros(b, out.time_us)) return false;
          break;
        case 6:
          if (!firstString(b, out.client_id)) return false;
          break;
        case 8:
          if (!firstString(b, out.service_id)) return false;
          break;
        case 9:
          out.subject = b;
          break;
        default:
          break;
      }
    }
  }
  return true;
}

bool recordEventBytes(std::string_view record_payload, std::string_view& event_bytes) noexcept {
  Wire w(record_payload);
  int number = 0, type = 0;
  std::uint64_t v = 0;
  std::string_view b;
  // The writer's record is exactly one field; anything after it would be a different record.
  if (!w.field(number, type, v, b) || number != 1 || type != 2 || !w.done()) return false;
  event_bytes = b;
  return true;
}

}  // namespace qaqpa::space_index
