// PolicyRuntime: state the policy stage derives from one config snapshot — the quota of each
// grant (kept across reloads by QuotaRegistry when the grant's key and limits are unchanged) and
// the usage counters per (client, service). Built off the workers when a snapshot is loaded or
// reloaded, then immutable; swapped together with the snapshot, so a request always sees the
// quotas of the grants it was decided with.
#pragma once

#include <memory>
#include <unordered_map>

#include "gateway/config/config.h"
#include "gateway/policy/quota_registry.h"

namespace qaqpa::metrics {
class Metrics;
}

namespace qaqpa::policy {

struct PolicyRuntime {
  std::shared_ptr<const config::Snapshot> snapshot;
  // Only grants with a rate or concurrency limit appear; others are unlimited.
  std::unordered_map<const config::Grant*, std::shared_ptr<GrantQuota>> quotas;
  UsageCounters usage;

  const std::shared_ptr<GrantQuota>* quotaOf(const config::Grant* g) const noexcept {
    auto it = quotas.find(g);
    return it == quotas.end() ? nullptr : &it->second;
  }
};

// Build time only (takes the registry's and metrics' locks).
std::shared_ptr<const PolicyRuntime> buildPolicyRuntime(
    std::shared_ptr<const config::Snapshot> snapshot, QuotaRegistry& registry,
    metrics::Metrics& metrics);

}  // namespace qaqpa::policy
