// Redis key layout of the state shared by gateway replicas (README.md "Keys"). Every key of one
// grant, or of one client, carries the same Redis Cluster hash tag ({grant:...} / {client:...}),
// so a grant's or a client's keys always live in one slot and a script touching several of them
// stays legal in Cluster.
//
//   qaqpa:{grant:<h>}:gcra               GCRA state of a grant's rate quota; <h> = first 16
//                                        bytes of SHA-256(grant key), 32 lower-case hex digits
//   qaqpa:{client:<c>}:msg:<message id>  replay window entry; <c> = the client id with every byte
//                                        outside [A-Za-z0-9._-] written %XX (injective, and never
//                                        contains '{' or '}'), message id canonical UUID text
//
// Pure functions: any thread, no blocking; sha256 may allocate.
#pragma once

#include <string>
#include <string_view>

#include "gateway/common/ids.h"

namespace qaqpa::shared_state {

std::string grantRateKey(std::string_view grant_key);
std::string replayKey(std::string_view client, const common::Uuid& message_id);

// The hash tag Redis Cluster hashes for `key`: the text between the first '{' and the first '}'
// after it when that is non-empty, else the whole key (the Cluster specification's rule).
std::string_view clusterHashTag(std::string_view key) noexcept;

}  // namespace qaqpa::shared_state
