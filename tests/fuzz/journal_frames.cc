// Fuzz target: the journal's record layer on a segment body (format.h, journal.proto) — the bytes
// `qaqpa journal verify` / `export` read from a possibly tampered file. readFrame front to back,
// JournalRecord parsing, eventToJson / checkpointToJson of what parses, splitHashField and the
// chain hash of event bytes.
// Input: one flags byte, then the body (the segment magic is skipped when present). Flag bit 0:
// rewrite every frame's CRC first (fuzz_journal.h), so payload mutations reach the parsers.
// Invariants: readFrame's Ok frames re-encode to the same bytes with appendFrame; deterministic
// re-encoding of a parsed record is a fixed point; the JSON projections serialize to valid JSON;
// splitHashField splits into parts that rebuild the input; chainHashInto equals chainHash; every
// time formats in the fixed width of event_json.h.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/audit/event_json.h"
#include "gateway/journal/format.h"
#include "qaqpa/journal/v1/journal.pb.h"
#include "tests/fuzz/fuzz_journal.h"

namespace {

namespace journal = qaqpa::journal;
namespace v1 = qaqpa::journal::v1;

// Every time formats as fixed-width RFC 3339 (27 characters), whatever the Timestamp holds (it
// once printed negative or 11-digit years, overflowing int on the way).
void checkTime(const google::protobuf::Timestamp& t) {
  const std::string text = qaqpa::audit::formatTime(t.seconds(), t.nanos());
  if (text.size() != 27 || text[4] != '-' || text[10] != 'T' || text.back() != 'Z') {
    __builtin_trap();
  }
}

void checkJson(const boost::json::object& o) {
  const std::string text = boost::json::serialize(o);
  boost::system::error_code ec;
  const boost::json::value back = boost::json::parse(text, ec);
  if (ec || !back.is_object()) __builtin_trap();
}

// splitHashField and the chain hash on `event` (bytes of a DigitalEvent, or anything).
void checkEventBytes(std::string_view event) {
  std::string_view without_hash, hash;
  if (journal::splitHashField(event, without_hash, hash)) {
    if (hash.size() != journal::kHashBytes) __builtin_trap();
    if (without_hash.data() != event.data() ||
        without_hash.size() + 3 + journal::kHashBytes != event.size() ||
        hash.data() != event.data() + event.size() - journal::kHashBytes) {
      __builtin_trap();
    }
    const std::string prev(journal::kHashBytes, '\0');
    const std::string whole = journal::chainHash(prev, without_hash);
    std::string split(journal::kHashBytes, '\0');
    const std::size_t cut = without_hash.size() / 2;
    journal::chainHashInto(prev, without_hash.substr(0, cut), without_hash.substr(cut),
                           split.data());
    if (whole != split) __builtin_trap();
  }
}

void checkRecord(std::string_view payload) {
  v1::JournalRecord rec;
  if (!rec.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  const std::string canonical = journal::canonicalBytes(rec);
  v1::JournalRecord again;
  if (!again.ParseFromString(canonical)) __builtin_trap();
  if (journal::canonicalBytes(again) != canonical) __builtin_trap();
  switch (rec.body_case()) {
    case v1::JournalRecord::kEvent: {
      checkJson(qaqpa::audit::eventToJson(rec.event()));
      if (rec.event().has_time()) checkTime(rec.event().time());
      // The event's bytes as the writer wraps them (tag 0x0A, varint length) when that is the
      // payload's shape, and as re-encoded.
      if (payload.size() > 2 && payload[0] == 0x0A) {
        std::size_t pos = 1;
        std::uint64_t len = 0;
        for (int shift = 0; pos < payload.size() && shift < 35; shift += 7) {
          const auto b = static_cast<unsigned char>(payload[pos++]);
          len |= static_cast<std::uint64_t>(b & 0x7F) << shift;
          if ((b & 0x80) == 0) {
            if (len == payload.size() - pos) {
              const std::string_view event = payload.substr(pos);
              checkEventBytes(event);
              if (journal::wrapEventRecord(event) != payload) __builtin_trap();
            }
            break;
          }
        }
      }
      checkEventBytes(journal::canonicalBytes(rec.event()));
      break;
    }
    case v1::JournalRecord::kCheckpoint:
      checkJson(qaqpa::audit::checkpointToJson(rec.checkpoint()));
      if (rec.checkpoint().has_time()) checkTime(rec.checkpoint().time());
      break;
    case v1::JournalRecord::kSegmentStart:
      if (rec.segment_start().has_created()) {
        checkTime(rec.segment_start().created());
      }
      break;
    case v1::JournalRecord::BODY_NOT_SET:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  [[maybe_unused]] static const bool quiet = qaqpa::fuzz::quietProtobuf();
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t off = std::string_view(body).starts_with(journal::kSegmentMagic)
                        ? journal::kSegmentMagic.size()
                        : 0;
  if (flags & 1) qaqpa::fuzz::fixFrameCrcs(body, off);
  const std::string_view all(body);
  for (;;) {
    const journal::Frame f = journal::readFrame(all.substr(off));
    if (f.status != journal::FrameStatus::Ok) {
      if (f.status == journal::FrameStatus::End && off != all.size()) __builtin_trap();
      if (f.size != 0 || !f.payload.empty()) __builtin_trap();
      (void)journal::frameStatusName(f.status);
      break;
    }
    if (f.size != journal::kFrameHeaderBytes + f.payload.size() || f.size > all.size() - off ||
        f.payload.empty() || f.payload.size() > journal::kMaxFramePayloadBytes) {
      __builtin_trap();
    }
    std::string reencoded;
    journal::appendFrame(reencoded, f.payload);
    if (reencoded != all.substr(off, f.size)) __builtin_trap();
    checkRecord(f.payload);
    checkEventBytes(f.payload);
    off += f.size;
  }
  return 0;
}
