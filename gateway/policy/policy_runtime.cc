#include "gateway/policy/policy_runtime.h"

#include "gateway/common/log.h"
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
  for (const auto& [id, system] : snapshot->policy.systems) {
    for (const config::SignatureKey& k : system.signature_keys) {
      std::string error;
      std::optional<signing::PublicKey> key = signing::PublicKey::fromPem(k.pem, &error);
      const std::optional<signing::Algorithm> alg = signing::parseAlgorithm(k.alg);
      if (key && (!alg || key->algorithm() != *alg)) error = "algorithm differs from alg";
      if (!key || !error.empty()) {
        common::log(common::LogLevel::Error, "signature key left out; its signatures will fail",
                    {{"system", id}, {"keyid", k.keyid}, {"file", k.file}, {"error", error}});
        continue;
      }
      rt->signer_keys.emplace(k.keyid, SignerKey{&system, std::move(*key)});
    }
  }
  rt->snapshot = std::move(snapshot);
  return rt;
}

}  // namespace qaqpa::policy
