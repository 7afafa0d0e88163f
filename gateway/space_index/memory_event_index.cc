#include "gateway/space_index/memory_event_index.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "gateway/journal/format.h"
#include "gateway/space_index/event_fields.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::space_index {
namespace {

namespace fs = std::filesystem;
namespace v1 = qaqpa::journal::v1;

constexpr std::uint32_t kSizeMask = (1u << 24) - 1;

std::int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// Heap bytes of one node of an unordered_map<K, V> (libstdc++: next pointer + value + cached
// hash) plus its bucket pointer.
template <class K, class V>
constexpr std::size_t kNodeBytes = sizeof(void*) + sizeof(std::pair<const K, V>) + sizeof(void*) +
                                   sizeof(std::size_t);

}  // namespace

MemoryEventIndex::MemoryEventIndex(CursorCodec codec) : codec_(std::move(codec)) {
  names_.emplace_back();
  name_ids_.emplace(std::string(), 0);
}

MemoryEventIndex::~MemoryEventIndex() = default;

std::uint32_t MemoryEventIndex::internLocked(std::string_view name) {
  if (name.empty()) return 0;
  // A reused probe string: no allocation per call once it has grown (the writer thread's path).
  thread_local std::string probe;
  probe.assign(name);
  const auto it = name_ids_.find(probe);
  if (it != name_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(names_.size());
  names_.emplace_back(name);
  name_ids_.emplace(names_.back(), id);
  return id;
}

std::uint32_t MemoryEventIndex::internSegmentLocked(std::uint64_t index, std::uint64_t first_seq) {
  const auto it = segment_ids_.find(index);
  if (it != segment_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(segments_.size());
  segments_.emplace_back(index, first_seq);
  segment_ids_.emplace(index, id);
  return id;
}

bool MemoryEventIndex::makeEntryLocked(const EventRef& ref, Entry& e) {
  if (ref.where.size > kSizeMask) return false;  // not a journal frame (<= 1 MiB + header)
  e.seq = ref.seq;
  e.time_us = ref.time_us;
  e.offset = ref.where.offset;
  const auto kind = static_cast<std::uint32_t>(std::clamp(ref.kind, 0, 255));
  e.size_kind = ref.where.size | (kind << 24);
  e.segment = internSegmentLocked(ref.where.segment_index, ref.where.segment_first_seq);
  e.service = internLocked(ref.service_id);
  e.client = internLocked(ref.client_id);
  return true;
}

IndexEntry MemoryEventIndex::toIndexEntryLocked(const Entry& e) const {
  IndexEntry out;
  out.seq = e.seq;
  out.time_us = e.time_us;
  out.kind = static_cast<int>(e.size_kind >> 24);
  out.key = e.key;
  out.where.segment_index = segments_[e.segment].first;
  out.where.segment_first_seq = segments_[e.segment].second;
  out.where.offset = e.offset;
  out.where.size = e.size_kind & kSizeMask;
  return out;
}

void MemoryEventIndex::append(std::string_view subject, const EventRef& ref) {
  const auto packed = packSubject(subject);
  if (!packed) return;
  Entry e;
  e.key = eventKey(ref.event_id);  // outside the lock (a hash for non-UUID ids)
  {
    std::lock_guard lock(names_mu_);
    if (ref.seq <= last_seq_) {
      ++duplicates_;
      return;
    }
    if (!makeEntryLocked(ref, e)) return;
    last_seq_ = ref.seq;
  }
  Shard& shard = shardOf(*packed);
  std::lock_guard lock(shard.mu);
  shard.subjects[*packed].push_back(e);
}

PageResult MemoryEventIndex::page(std::string_view subject, const Query& query) const {
  PageResult r;
  if (state_.load(std::memory_order_acquire) != State::Ready) {
    r.status = IndexStatus::Unavailable;
    return r;
  }
  const auto packed = packSubject(subject);
  if (!packed) {
    r.status = IndexStatus::BadSubject;
    return r;
  }
  if (const IndexStatus checked = checkPageQuery(query); checked != IndexStatus::Ok) {
    r.status = checked;
    return r;
  }
  std::uint64_t bound = std::numeric_limits<std::uint64_t>::max();
  if (!query.cursor.empty()) {
    const auto decoded = codec_.decode(*packed, query.cursor);
    if (!decoded) {
      r.status = IndexStatus::BadCursor;
      return r;
    }
    bound = *decoded;
  }
  r.status = IndexStatus::Ok;
  // Kinds are stored in 8 bits, 255 meaning "255 or above" (none exist): no such kind, no match.
  if (query.kind && (*query.kind < 0 || *query.kind >= 255)) return r;
  std::optional<std::uint32_t> service;
  std::optional<std::uint32_t> client;
  {
    std::lock_guard lock(names_mu_);
    auto lookup = [&](const std::string& name, std::optional<std::uint32_t>& id) {
      if (name.empty()) return true;
      const auto it = name_ids_.find(name);
      if (it == name_ids_.end()) return false;  // never seen: nothing can match
      id = it->second;
      return true;
    };
    if (!lookup(query.service_id, service) || !lookup(query.client_id, client)) return r;
  }
  const std::int64_t since = query.since ? micros(*query.since) : 0;
  const std::int64_t until = query.until ? micros(*query.until) : 0;
  std::vector<Entry> hits;
  hits.reserve(query.limit);
  bool more = false;
  {
    const Shard& shard = shardOf(*packed);
    std::lock_guard lock(shard.mu);
    const auto it = shard.subjects.find(*packed);
    if (it == shard.subjects.end()) return r;
    const std::vector<Entry>& v = it->second;
    auto end = std::lower_bound(v.begin(), v.end(), bound,
                                [](const Entry& e, std::uint64_t s) { return e.seq < s; });
    for (auto i = end; i != v.begin();) {
      const Entry& e = *--i;
      if (query.since && e.time_us < since) continue;
      if (query.until && e.time_us >= until) continue;
      if (service && e.service != *service) continue;
      if (client && e.client != *client) continue;
      if (query.kind && static_cast<int>(e.size_kind >> 24) != *query.kind) continue;
      if (hits.size() == query.limit) {
        more = true;  // one more match exists below the page
        break;
      }
      hits.push_back(e);
    }
  }
  {
    std::lock_guard lock(names_mu_);
    r.page.entries.reserve(hits.size());
    for (const Entry& e : hits) r.page.entries.push_back(toIndexEntryLocked(e));
  }
  if (more) r.page.next_cursor = codec_.encode(*packed, hits.back().seq);
  return r;
}

FindResult MemoryEventIndex::find(std::string_view subject, std::string_view event_id) const {
  FindResult r;
  if (state_.load(std::memory_order_acquire) != State::Ready) {
    r.status = IndexStatus::Unavailable;
    return r;
  }
  r.status = IndexStatus::NotFound;
  const auto packed = packSubject(subject);
  if (!packed) return r;  // nobody's events: as unknown
  const EventKey key = eventKey(event_id);
  Entry found;
  {
    const Shard& shard = shardOf(*packed);
    std::lock_guard lock(shard.mu);
    const auto it = shard.subjects.find(*packed);
    if (it == shard.subjects.end()) return r;
    const std::vector<Entry>& v = it->second;
    // Newest first: the single-event view is mostly opened from a recent page.
    const auto hit =
        std::find_if(v.rbegin(), v.rend(), [&](const Entry& e) { return e.key == key; });
    if (hit == v.rend()) return r;
    found = *hit;
  }
  std::lock_guard lock(names_mu_);
  r.entry = toIndexEntryLocked(found);
  r.status = IndexStatus::Ok;
  return r;
}

std::string_view MemoryEventIndex::stateName() const noexcept {
  switch (state_.load(std::memory_order_acquire)) {
    case State::Ready:
      return "ready";
    case State::Rebuilding:
      return "rebuilding";
    case State::Failed:
      return "failed";
  }
  return "failed";
}

RebuildResult MemoryEventIndex::fail(RebuildResult r, std::string error) {
  r.ok = false;
  r.error = std::move(error);
  state_.store(State::Failed, std::memory_order_release);
  return r;
}

RebuildResult MemoryEventIndex::rebuildBlocking(const JournalFiles& files,
                                                std::uint64_t through_seq) {
  state_.store(State::Rebuilding, std::memory_order_release);
  RebuildResult r;
  r.through_seq = through_seq;
  std::unordered_map<std::uint64_t, std::vector<Entry>> built;
  std::uint64_t expected = 1;  // the next seq the files must hold
  if (through_seq > 0) {
    bool absent = false;
    std::string error;
    const auto bytes = journal::readManifestBlocking(files.dir, error, absent);
    if (!bytes) return fail(r, error);
    v1::Manifest manifest;
    if (!manifest.ParseFromString(bytes->payload)) {
      return fail(r, (files.dir / journal::kManifestName).string() + ": not a Manifest");
    }
    for (const auto& s : manifest.segments()) {
      if (expected > through_seq) break;
      if (s.first_seq() != expected) {
        return fail(r, s.file_name() + " starts at seq " + std::to_string(s.first_seq()) +
                           ", expected " + std::to_string(expected));
      }
      fs::path path = files.dir / s.file_name();
      const bool archived = s.state() == v1::Manifest::ARCHIVED;
      if (archived) {
        if (files.archive_dir.empty()) {
          ++r.archived_skipped;
          expected = s.last_seq() + 1;
          continue;
        }
        path = files.archive_dir / s.file_name();
      }
      journal::SegmentScan scan = journal::scanSegmentBlocking(path);
      if (!scan.opened && !archived && !files.archive_dir.empty()) {
        // Archived by retention since the MANIFEST was read.
        path = files.archive_dir / s.file_name();
        scan = journal::scanSegmentBlocking(path);
      }
      if (!scan.opened) return fail(r, scan.error);
      if (!scan.magic_ok) return fail(r, path.string() + ": not a segment (bad magic)");
      ++r.segments_read;
      for (const auto& f : scan.frames) {
        std::string_view ev;
        if (!recordEventBytes(f.payload, ev)) continue;  // checkpoint / segment start
        EventFields fields;
        if (!extractEventFields(ev, fields)) {
          return fail(
              r, path.string() + " offset " + std::to_string(f.offset) + ": event does not parse");
        }
        if (fields.seq > through_seq) break;
        if (fields.seq != expected) {
          return fail(r, path.string() + " offset " + std::to_string(f.offset) + ": seq " +
                             std::to_string(fields.seq) + ", expected " + std::to_string(expected));
        }
        ++expected;
        ++r.events_scanned;
        const auto packed = packSubject(fields.subject);
        if (!packed) continue;
        EventRef ref;
        ref.seq = fields.seq;
        ref.time_us = fields.time_us;
        ref.kind = fields.kind;
        ref.event_id = fields.event_id;
        ref.service_id = fields.service_id;
        ref.client_id = fields.client_id;
        ref.where.segment_index = s.segment_index();
        ref.where.segment_first_seq = s.first_seq();
        ref.where.offset = f.offset;
        ref.where.size = static_cast<std::uint32_t>(journal::kFrameHeaderBytes + f.payload.size());
        Entry e;
        e.key = eventKey(ref.event_id);
        {
          std::lock_guard lock(names_mu_);
          if (!makeEntryLocked(ref, e)) continue;
        }
        built[*packed].push_back(e);
        ++r.events_indexed;
      }
      if (scan.stop != journal::FrameStatus::End && expected <= through_seq) {
        return fail(r, path.string() + " offset " + std::to_string(scan.stop_offset) + ": " +
                           std::string(journal::frameStatusName(scan.stop)) + " before seq " +
                           std::to_string(through_seq));
      }
    }
    if (expected <= through_seq) {
      return fail(r, "the journal's files end at seq " + std::to_string(expected - 1) +
                         ", its head is " + std::to_string(through_seq));
    }
  }
  // Merge: rebuilt entries (seq <= through_seq), then what the feed appended meanwhile (> it).
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (auto& [packed, v] : shard.subjects) {
      const auto keep = std::upper_bound(v.begin(), v.end(), through_seq,
                                         [](std::uint64_t s, const Entry& e) { return s < e.seq; });
      if (keep == v.begin()) continue;
      v.erase(v.begin(), keep);
    }
  }
  for (auto& [packed, v] : built) {
    Shard& shard = shardOf(packed);
    std::lock_guard lock(shard.mu);
    std::vector<Entry>& live = shard.subjects[packed];
    v.insert(v.end(), live.begin(), live.end());
    v.shrink_to_fit();
    live.swap(v);
  }
  {
    std::lock_guard lock(names_mu_);
    last_seq_ = std::max(last_seq_, through_seq);
  }
  state_.store(State::Ready, std::memory_order_release);
  r.ok = true;
  return r;
}

MemoryEventIndex::Stats MemoryEventIndex::stats() const {
  Stats s;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    s.subjects += shard.subjects.size();
    s.bytes += shard.subjects.bucket_count() * sizeof(void*) +
               shard.subjects.size() * kNodeBytes<std::uint64_t, std::vector<Entry>>;
    for (const auto& [packed, v] : shard.subjects) {
      s.entries += v.size();
      s.bytes += v.capacity() * sizeof(Entry);
    }
  }
  std::lock_guard lock(names_mu_);
  for (const std::string& n : names_) s.bytes += 2 * (sizeof(std::string) + n.capacity());
  s.bytes += name_ids_.bucket_count() * sizeof(void*) +
             name_ids_.size() * kNodeBytes<std::string, std::uint32_t>;
  s.bytes += segments_.capacity() * sizeof(segments_[0]) +
             segment_ids_.bucket_count() * sizeof(void*) +
             segment_ids_.size() * kNodeBytes<std::uint64_t, std::uint32_t>;
  s.duplicates_ignored = duplicates_;
  s.last_seq = last_seq_;
  return s;
}

}  // namespace qaqpa::space_index
