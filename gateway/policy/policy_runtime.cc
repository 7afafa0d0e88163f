#include "gateway/policy/policy_runtime.h"

#include "gateway/metrics/metrics.h"

namespace qaqpa::policy {

std::shared_ptr<const PolicyRuntime> buildPolicyRuntime(
    std::shared_ptr<const config::Snapshot> snapshot, QuotaRegistry& registry,
    metrics::Metrics& metrics) {
  auto rt = std::make_shared<PolicyRuntime>();
  for (const config::Grant& g : snapshot->policy.grants) {
    if (g.rate_per_second <= 0 && g.max_concurrent == 0) continue;
    rt->quotas.emplace(&g, registry.forGrant(g.key, g.rate_per_second, g.burst, g.max_concurrent));
  }
  rt->usage = UsageCounters(metrics, snapshot->policy);
  rt->snapshot = std::move(snapshot);
  return rt;
}

}  // namespace qaqpa::policy
