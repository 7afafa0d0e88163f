// Redis key layout of the digital-space index shared by gateway replicas (issue #6; README.md
// "Shared index"). Written by the outbox (gateway/outbox), read by RedisEventIndex. Every key of
// one citizen carries the hash tag {subj:<subject>}, every key of one node's checkpoints
// {ckpt:<node>}, the outbox cursor {outbox:<node>}: a multi-key command or script only ever
// touches keys of one tag, so all of it is legal in Redis Cluster.
//
//   qaqpa:{subj:<S>}:z        ZSET  member <ref>, score = event time in µs since the epoch
//                                   (exact in a double); equal scores are ordered by member
//                                   bytes, i.e. by node then seq: a total order across nodes
//   qaqpa:{subj:<S>}:h        HASH  e:<ref> → the event's bytes as journaled (canonical, with
//                                   seq, prev_hash and hash); m:<ref> → "<kind>|<service>|<client>"
//                                   (what the filters read); i:<event id> → <ref>;
//                                   n:<ref> → the hash of the node's next event, once shipped
//   qaqpa:{ckpt:<N>}:z        ZSET  member <last_seq:020>, score = last_seq
//   qaqpa:{ckpt:<N>}:h        HASH  <last_seq:020> → the Checkpoint's bytes (signed, canonical)
//   qaqpa:{outbox:<N>}:pos    STRING the last seq of node N shipped (every event ≤ it is in Redis)
//   qaqpa:{space}:cursor-key  STRING 32 random bytes: the page cursors' HMAC key, made by the
//                                   first replica that needs it (SET NX), read by the others
//
//   <S>   = "IIN:<12 digits>" | "BIN:<12 digits>" (checked by packSubject before use)
//   <ref> = "<node>|<seq:020>": node ids are [a-z0-9][a-z0-9._-]{0,62} (config), so '|', '{' and
//           '}' never occur in them, and a ref is unique per event and the same on every re-ship.
//
// Pure functions: any thread, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qaqpa::space_index {

std::string subjectIndexKey(std::string_view subject);  // qaqpa:{subj:<S>}:z
std::string subjectDataKey(std::string_view subject);   // qaqpa:{subj:<S>}:h
std::string checkpointIndexKey(std::string_view node);  // qaqpa:{ckpt:<N>}:z
std::string checkpointDataKey(std::string_view node);   // qaqpa:{ckpt:<N>}:h
std::string outboxCursorKey(std::string_view node);     // qaqpa:{outbox:<N>}:pos
std::string cursorKeyKey();                             // qaqpa:{space}:cursor-key

std::string eventRef(std::string_view node, std::uint64_t seq);  // "<node>|<seq:020>"
// Splits a ref; false when it is not "<non-empty node>|<20 digits>".
bool parseEventRef(std::string_view ref, std::string_view& node, std::uint64_t& seq) noexcept;
std::string seqField(std::uint64_t seq);  // "<seq:020>" (checkpoint members and fields)

// A node id the keys can carry: [a-z0-9][a-z0-9._-]{0,62} (what config accepts).
bool isKeySafeNodeId(std::string_view node) noexcept;

}  // namespace qaqpa::space_index
