// PolicyRuntime: state the policy stage derives from one config snapshot — the quota of each
// grant (kept across reloads by QuotaRegistry when the grant's key and limits are unchanged), the
// usage counters per (client, service) and the parsed request-signature keys of every system.
// Built off the workers when a snapshot is loaded or reloaded, then immutable; swapped together
// with the snapshot, so a request always sees the quotas and keys of the policy it was decided
// with.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/config/config.h"
#include "gateway/policy/quota_registry.h"
#include "gateway/signing/keys.h"

namespace qaqpa::metrics {
class Metrics;
}

namespace qaqpa::policy {

// A registered request-signature key and the system it proves.
struct SignerKey {
  const config::System* system = nullptr;  // points into PolicyRuntime::snapshot
  signing::PublicKey key;
};

struct PolicyRuntime {
  std::shared_ptr<const config::Snapshot> snapshot;
  // keyid -> key, over every system of the bundle (keyids are unique per bundle). The loader
  // has already checked each PEM; a key that still fails to parse here is left out (its
  // signatures then fail as an unknown key) and logged.
  std::map<std::string, SignerKey, std::less<>> signer_keys;
  // Only grants with a rate or concurrency limit appear; others are unlimited.
  std::unordered_map<const config::Grant*, std::shared_ptr<GrantQuota>> quotas;
  UsageCounters usage;

  const std::shared_ptr<GrantQuota>* quotaOf(const config::Grant* g) const noexcept {
    auto it = quotas.find(g);
    return it == quotas.end() ? nullptr : &it->second;
  }
  const SignerKey* signerKey(std::string_view keyid) const noexcept {
    auto it = signer_keys.find(keyid);
    return it == signer_keys.end() ? nullptr : &it->second;
  }
};

// Build time only (takes the registry's and metrics' locks).
std::shared_ptr<const PolicyRuntime> buildPolicyRuntime(
    std::shared_ptr<const config::Snapshot> snapshot, QuotaRegistry& registry,
    metrics::Metrics& metrics);

}  // namespace qaqpa::policy
