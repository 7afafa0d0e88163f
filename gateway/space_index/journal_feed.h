// The journal → index feed: the LocatedCommitObserver to install on the journal
// (Journal::setLocatedCommitObserver) before its first append. On the journal's writer thread,
// for each committed event it reads seq, time, kind, event id, subject, client and service ids
// from the event bytes (event_fields.h, no protobuf message built) and calls index.append() when
// the subject is an IIN or BIN. Events without such a subject are not indexed; malformed bytes
// (cannot happen: the writer framed them) are skipped.
//
// `index` must outlive the journal's writer thread (stop the journal first).
#pragma once

#include "gateway/journal/journal.h"
#include "gateway/space_index/event_index.h"

namespace qaqpa::space_index {

journal::LocatedCommitObserver makeJournalFeed(EventIndex& index);

}  // namespace qaqpa::space_index
