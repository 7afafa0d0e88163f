// Content-Digest (RFC 9530) of an HTTP message body: producing `sha-256=:<base64>:` and checking a
// received field value against the body. Pure functions; thread-safe; non-blocking (hashing cost
// is linear in the body, which the listener bounds); never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qaqpa::signing {

// "sha-256=:<base64 of SHA-256(body)>:".
std::string contentDigestSha256(std::string_view body);

enum class DigestCheck : std::uint8_t {
  Ok,                    // every supported digest present matches the body
  Missing,               // empty or all-space field value (the header is absent)
  Malformed,             // not an RFC 8941 dictionary, or a sha-256/sha-512 member is not a byte
                         // sequence of the algorithm's length
  UnsupportedAlgorithm,  // well formed, but neither sha-256 nor sha-512 is present
  Mismatch,              // a supported digest differs from the body's
};

std::string_view digestCheckName(DigestCheck check) noexcept;

// `header_value` is the Content-Digest field value (several field lines joined with ", ").
// Algorithms other than sha-256 and sha-512 (md5, sha, unixsum, ...) are ignored as RFC 9530 §2
// allows; if both supported algorithms are present, both must match.
DigestCheck verifyContentDigest(std::string_view header_value, std::string_view body);

}  // namespace qaqpa::signing
