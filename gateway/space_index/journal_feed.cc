#include "gateway/space_index/journal_feed.h"

#include "gateway/space_index/event_fields.h"

namespace qaqpa::space_index {

journal::LocatedCommitObserver makeJournalFeed(EventIndex& index) {
  return [&index](const journal::CommittedEvent& c) {
    EventFields f;
    if (!extractEventFields(c.event_bytes, f) || !packSubject(f.subject)) return;
    EventRef ref;
    ref.seq = c.seq;
    ref.time_us = f.time_us;
    ref.kind = f.kind;
    ref.event_id = f.event_id;
    ref.service_id = f.service_id;
    ref.client_id = f.client_id;
    ref.where.segment_index = c.segment_index;
    ref.where.segment_first_seq = c.segment_first_seq;
    ref.where.offset = c.frame_offset;
    ref.where.size = c.frame_size;
    index.append(f.subject, ref);
  };
}

}  // namespace qaqpa::space_index
