// Building Redis keys from caller-supplied text (issue #6): the one escaping rule every key
// layout of the gateway uses for ids it does not control the bytes of (client system ids).
// Pure functions: any thread, no I/O, no allocation beyond the output string.
#pragma once

#include <string>
#include <string_view>

namespace qaqpa::adapters::redis {

// Appends `part` to `key`, every byte outside [A-Za-z0-9._-] and `also_plain` written as %xx
// (lower-case hex). Injective, and the output never holds '{', '}', ':' or '%' unescaped unless
// the caller lists them in `also_plain` — so a part can neither open a Redis Cluster hash tag
// nor forge another key's separators.
void appendEscapedKeyPart(std::string& key, std::string_view part,
                          std::string_view also_plain = {});

}  // namespace qaqpa::adapters::redis
