// Canonical bytes (journal.proto, top comment): protobuf's deterministic encoding. Pure; any
// thread.
#pragma once

#include <string>
#include <string_view>

#include "gateway/journal/format.h"

namespace qaqpa::audit {

// Canonical bytes themselves: journal::canonicalBytes (gateway/journal/format.h).
using journal::canonicalBytes;

// Lowercase hex of the first `max_bytes` bytes of `bytes`, "…" appended when cut; "(empty)" for
// none. For messages naming hashes.
std::string hexPrefix(std::string_view bytes, std::size_t max_bytes = 8);

}  // namespace qaqpa::audit
