// Canonical bytes (journal.proto, top comment): protobuf's deterministic encoding. Pure; any
// thread.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

namespace qaqpa::audit {

// The deterministic serialization of `message` as it is (unknown fields included — drop them
// first with DiscardUnknownFields when the bytes must be canonical).
std::string canonicalBytes(const google::protobuf::MessageLite& message);

// Lowercase hex of the first `max_bytes` bytes of `bytes`, "…" appended when cut; "(empty)" for
// none. For messages naming hashes.
std::string hexPrefix(std::string_view bytes, std::size_t max_bytes = 8);

}  // namespace qaqpa::audit
