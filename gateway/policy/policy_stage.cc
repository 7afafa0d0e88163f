#include "gateway/policy/policy_stage.h"

#include "gateway/policy/policy_runtime.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/failure.h"
#include "gateway/config/config.h"

namespace qaqpa::policy {
namespace {

using common::Failure;
using common::Reason;
using common::StatusCode;

constexpr std::string_view kSubjectHeader = "Qaqpa-Subject";
constexpr std::string_view kPurposeHeader = "Qaqpa-Purpose";

Failure deny(StatusCode code, Reason reason, std::string_view param = {}) {
  return Failure{code, reason, std::string{param}, {}};
}

bool certMatches(const config::System& system, const pipeline::TlsPeer& peer) {
  for (const std::string& fp : system.cert_fingerprints) {
    if (fp == peer.fingerprint_sha256) return true;
  }
  for (const config::CertSubject& s : system.cert_subjects) {
    if (!s.common_name.empty() && s.common_name != peer.common_name) continue;
    if (!s.bin.empty() && peer.organizational_unit != "BIN" + s.bin) continue;
    if (!s.iin.empty() && peer.serial_number != "IIN" + s.iin) continue;
    return true;
  }
  return false;
}

// The params below are ids the envelope stage already syntax-checked (system id, service id,
// purpose code), so echoing them cannot carry markup or internals.
Reason consentReason(consent::ConsentCheck c) {
  switch (c) {
    case consent::ConsentCheck::Revoked:
      return Reason::ConsentRevoked;
    case consent::ConsentCheck::Expired:
      return Reason::ConsentExpired;
    case consent::ConsentCheck::ServiceNotCovered:
    case consent::ConsentCheck::PurposeMismatch:
      return Reason::ConsentMismatch;
    default:
      // NotFound, SubjectMismatch, ClientMismatch read the same to the caller: a consent id of
      // someone else's must reveal nothing about it.
      return Reason::ConsentNotFound;
  }
}

std::optional<Failure> decide(pipeline::Exchange& ex, const consent::ConsentStore* consents) {
  if (!ex.snapshot || !ex.envelope_parsed || ex.envelope.client.empty() ||
      ex.envelope.service_id.empty()) {
    Failure f = deny(StatusCode::Internal, Reason::InternalError);
    f.internal = "policy stage ran without a snapshot or a parsed envelope";
    return f;
  }
  const config::PolicyBundle& policy = ex.snapshot->policy;
  const pipeline::Envelope& env = ex.envelope;

  // 1. Identity.
  const config::System* client = policy.findSystem(env.client);
  if (client == nullptr) return deny(StatusCode::AuthFailed, Reason::ClientUnknown, env.client);
  if (client->zone != ex.zone) {
    return deny(StatusCode::AuthFailed, Reason::ClientWrongZone, env.client);
  }
  // Proof: a verified client certificate must map to the claimed system (also in demo mode: a
  // presented certificate is never ignored). Without one, the header alone is trusted only when
  // the operator explicitly asked for it.
  if (ex.tls_peer != nullptr && ex.tls_peer->verified) {
    if (!certMatches(*client, *ex.tls_peer)) {
      // Failure path only: tell "someone else's certificate" from "nobody's" for the operator.
      const bool someone_elses =
          std::any_of(policy.systems.begin(), policy.systems.end(),
                      [&](const auto& kv) { return certMatches(kv.second, *ex.tls_peer); });
      return deny(StatusCode::AuthFailed,
                  someone_elses ? Reason::ClientCertMismatch : Reason::ClientCertUnknown,
                  someone_elses ? std::string_view{env.client} : std::string_view{});
    }
  } else if (!ex.snapshot->gateway.demo_trust_client_header) {
    return deny(StatusCode::AuthFailed, Reason::ClientNotProven);
  }
  ex.client = client;

  // 2. Service.
  const config::Service* service = policy.findService(env.service_id);
  if (service == nullptr) {
    return deny(StatusCode::ServiceNotFound, Reason::ServiceUnknown, env.service_id);
  }
  ex.service = service;
  if (!service->exposedTo(ex.zone)) {
    return deny(StatusCode::AccessDenied, Reason::ServiceNotExposed, service->id);
  }

  // 3. Validation the service demands.
  if (service->personal_data) {
    if (!env.subject)
      return deny(StatusCode::ValidationFailed, Reason::MissingHeader, kSubjectHeader);
    if (env.purpose.empty()) {
      return deny(StatusCode::ValidationFailed, Reason::MissingHeader, kPurposeHeader);
    }
  }

  // 4. Grant.
  const std::vector<const config::Grant*>* grants = policy.findGrants(client->id, service->id);
  if (grants == nullptr || grants->empty()) {
    return deny(StatusCode::AccessDenied, Reason::NoGrant, service->id);
  }
  const config::Purpose* purpose = nullptr;
  if (!env.purpose.empty()) {
    purpose = policy.findPurpose(env.purpose);
    if (purpose == nullptr) {
      return deny(StatusCode::AccessDenied, Reason::PurposeNotAllowed, env.purpose);
    }
  }
  const config::Grant* chosen = nullptr;
  bool matched_inactive = false;
  for (const config::Grant* grant : *grants) {
    // The index is trusted to be built right, but a grant is only ever used for its own client.
    if (grant == nullptr || grant->client != client) continue;
    if (purpose != nullptr && !grant->allowsPurpose(purpose->code)) continue;
    if (!grant->activeAt(ex.received_at)) {
      matched_inactive = true;
      continue;
    }
    chosen = grant;
    break;
  }
  if (chosen == nullptr) {
    if (matched_inactive)
      return deny(StatusCode::AccessDenied, Reason::GrantNotActive, service->id);
    if (purpose != nullptr) {
      return deny(StatusCode::AccessDenied, Reason::PurposeNotAllowed, purpose->code);
    }
    return deny(StatusCode::AccessDenied, Reason::NoGrant, service->id);
  }

  // 5. Consent, where the owner's grant demands it. No store means no consent can be shown:
  // fail closed.
  if (chosen->requires_consent) {
    if (env.consent_id.empty()) return deny(StatusCode::ConsentRequired, Reason::ConsentMissing);
    if (!env.subject || consents == nullptr) {
      return deny(StatusCode::ConsentRequired, Reason::ConsentNotFound);
    }
    const consent::ConsentCheck c = consents->check(
        env.consent_id, *env.subject, client->id, service->id,
        purpose != nullptr ? std::string_view{purpose->code} : std::string_view{}, ex.received_at);
    if (c != consent::ConsentCheck::Active) {
      Failure f = deny(StatusCode::ConsentRequired, consentReason(c));
      f.internal = std::string(consent::checkName(c));
      return f;
    }
  }
  ex.grant = chosen;
  ex.purpose = purpose;
  return std::nullopt;
}

class PolicyStage final : public pipeline::Stage {
 public:
  explicit PolicyStage(const PolicyContext& cx) : cx_(cx) {}
  const char* name() const noexcept override { return "policy"; }

  boost::asio::awaitable<pipeline::StageResult> onRequest(pipeline::Exchange& ex) override {
    if (std::optional<Failure> f = decide(ex, cx_.consents))
      co_return pipeline::StageResult::fail(std::move(*f));
    // Quota after the decision and before the replay record, so a refused (429) request does
    // not use up its message id: clients retry rate-limited calls with the same id.
    const auto* rt = static_cast<const PolicyRuntime*>(ex.policy_state.get());
    const bool limited = ex.grant->rate_per_second > 0 || ex.grant->max_concurrent > 0;
    if (limited) {
      const std::shared_ptr<GrantQuota>* quota = rt != nullptr ? rt->quotaOf(ex.grant) : nullptr;
      if (quota == nullptr) {
        // Fail closed: a limited grant without its quota state would be unlimited.
        ex.grant = nullptr;
        ex.purpose = nullptr;
        co_return pipeline::StageResult::fail(Failure{
            StatusCode::Internal, Reason::InternalError, {}, "limited grant without quota state"});
      }
      QuotaTicket ticket = admit(*quota, ex.started);
      if (!ticket.allowed()) {
        ex.retry_after_seconds = static_cast<int>(ticket.retryAfterSeconds());
        const Reason reason = ticket.verdict == QuotaVerdict::ConcurrencyExceeded
                                  ? Reason::ConcurrencyExceeded
                                  : Reason::RateExceeded;
        ex.grant = nullptr;
        ex.purpose = nullptr;
        co_return pipeline::StageResult::fail(Failure{StatusCode::RateLimited, reason, {}, {}});
      }
      if (ticket.permit) ex.policy_hold = std::make_shared<QuotaTicket>(std::move(ticket));
    }
    if (!cx_.replay->firstSeen(ex.client->id, ex.envelope.message_id, ex.started)) {
      ex.grant = nullptr;
      ex.purpose = nullptr;
      co_return pipeline::StageResult::fail(
          Failure{StatusCode::Duplicate, Reason::MessageReplayed, {}, {}});
    }
    if (rt != nullptr) rt->usage.count(ex.client, ex.service);
    co_return pipeline::StageResult::next();
  }

 private:
  const PolicyContext& cx_;  // read per request: the server opens stores after building stages
};

}  // namespace

std::unique_ptr<pipeline::Stage> makePolicyStage(const PolicyContext& cx) {
  return std::make_unique<PolicyStage>(cx);
}

}  // namespace qaqpa::policy
