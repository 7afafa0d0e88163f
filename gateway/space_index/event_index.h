// The per-citizen event index of the digital space (PROTOCOL.md §7, issue #5): which journaled
// digital events are about a subject (IIN:… / BIN:…), filterable and pageable newest first, each
// entry pointing at the event's frame in the journal's files (the journal stays the only copy of
// the event; reading it back is event_reader.h).
//
// The port. `MemoryEventIndex` (memory_event_index.h) is the embedded implementation; a
// Redis-backed one (issue #6) implements the same class.
//
// Who calls what:
//   - append: the journal's writer thread, through the feed (journal_feed.h), once per committed
//     event that names a subject, in seq order. Must be cheap and must not block on I/O.
//   - page / find: any thread (workers or the blocking pool); no I/O in the embedded index.
// Nothing here throws across the port (std::bad_alloc aside).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qaqpa::space_index {

// Where one event's frame lies: file segmentFileName(segment_index, segment_first_seq) in the
// journal directory (or in the archive directory once archived), frame_size bytes (header +
// JournalRecord{event}) at frame_offset.
struct EventLocation {
  std::uint64_t segment_index = 0;
  std::uint64_t segment_first_seq = 0;
  std::uint64_t offset = 0;
  std::uint32_t size = 0;
  bool operator==(const EventLocation&) const = default;
};

// A fixed-size key for an event id: the 16 bytes of a canonical lower-case UUID (what the
// gateway assigns), otherwise the first 16 bytes of SHA-256 of the text. The reader compares the
// key of the event it decodes with the entry's key before serving it.
using EventKey = std::array<std::uint8_t, 16>;
EventKey eventKey(std::string_view event_id) noexcept;

// What append() is given for one event (views: valid during the call; the index copies what it
// keeps).
struct EventRef {
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;  // DigitalEvent.time, microseconds since the Unix epoch (UTC)
  int kind = 0;              // qaqpa.journal.v1.Kind
  std::string_view event_id;
  std::string_view service_id;  // DigitalEvent.service.id ("" when none)
  std::string_view client_id;   // DigitalEvent.client.id ("" when none)
  EventLocation where;
};

// What page() and find() answer for one event: enough to read it (event_reader.h) and to check
// that what is read is this entry.
struct IndexEntry {
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
  int kind = 0;
  EventKey key{};
  EventLocation where;
};

inline constexpr std::size_t kMaxPageLimit = 200;

// Filters of GET /v1/space/events. Every set filter must match (AND).
struct Query {
  std::optional<std::chrono::system_clock::time_point> since;  // time >= since
  std::optional<std::chrono::system_clock::time_point> until;  // time < until
  std::string service_id;                                      // "" = any
  std::string client_id;                                       // "" = any
  std::optional<int> kind;                                     // qaqpa.journal.v1.Kind
  std::size_t limit = 50;                                      // 1..kMaxPageLimit
  std::string cursor;  // "" = the newest; else a Page::next_cursor of the same subject
};

struct Page {
  std::vector<IndexEntry> entries;  // newest first (descending seq)
  // Set when older matching events exist: pass it as Query::cursor for the next page. Opaque
  // text (base64url); bound to the subject and to this process (cursor.h).
  std::string next_cursor;
};

enum class IndexStatus : std::uint8_t {
  Ok,
  BadSubject,   // not "IIN:"/"BIN:" + 12 digits
  BadLimit,     // limit 0 or above kMaxPageLimit
  BadQuery,     // since >= until
  BadCursor,    // malformed, tampered, another subject's, or from another process: refused
  NotFound,     // find(): no such event for THIS subject (another subject's id included)
  Unavailable,  // the index is being rebuilt or its rebuild failed: try again later
};
std::string_view indexStatusName(IndexStatus s) noexcept;

// The query checks every index makes before reading: BadLimit (limit 0 or above kMaxPageLimit),
// BadQuery (since >= until), else Ok. The subject and the cursor are each index's own checks.
IndexStatus checkPageQuery(const Query& query) noexcept;

struct PageResult {
  IndexStatus status = IndexStatus::Unavailable;
  Page page;
};

struct FindResult {
  IndexStatus status = IndexStatus::Unavailable;
  IndexEntry entry;  // with Ok
};

class EventIndex {
 public:
  virtual ~EventIndex() = default;

  // Records that event `ref` (committed, seq increasing across calls) is about `subject`. Events
  // whose seq is not above the last one appended are ignored (duplicates of a hand-over), as
  // are subjects that are not IIN/BIN. Journal writer thread; never blocks on I/O.
  virtual void append(std::string_view subject, const EventRef& ref) = 0;

  // The subject's events matching `query`, newest first, at most query.limit, below the
  // cursor's position. Pagination is stable under concurrent appends: a cursor means "events
  // with seq below S", so events appended meanwhile (higher seq) never shift later pages.
  virtual PageResult page(std::string_view subject, const Query& query) const = 0;

  // The subject's event with this id. Another subject's event is NotFound, exactly like an
  // unknown id.
  virtual FindResult find(std::string_view subject, std::string_view event_id) const = 0;
};

// "IIN:" or "BIN:" followed by exactly 12 digits, packed into 64 bits (bit 40 = BIN); nullopt for
// anything else.
std::optional<std::uint64_t> packSubject(std::string_view subject) noexcept;

}  // namespace qaqpa::space_index
