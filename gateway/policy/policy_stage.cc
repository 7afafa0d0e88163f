#include "gateway/policy/policy_stage.h"

#include "gateway/policy/policy_runtime.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/common/failure.h"
#include "gateway/config/config.h"
#include "gateway/signing/request_signature.h"
#include "gateway/signing/structured_field.h"

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

// What the request's Signature-Input claims, read before anything is verified (step 1): whether
// a signature was presented at all, and whose keys its labels name. A keyid is public, so naming
// the client's key proves nothing yet; verification (step 6) completes the proof.
struct SignatureClaim {
  bool presented = false;                        // a Signature-Input or Signature field line
  bool names_client = false;                     // some label's keyid is one of the client's
  const config::System* other_system = nullptr;  // some label's keyid is another system's
};

SignatureClaim readSignatureClaim(const pipeline::Request& req, const PolicyRuntime* rt,
                                  const config::System* client) {
  SignatureClaim claim;
  std::string input;
  for (auto [it, end] = req.equal_range("Signature-Input"); it != end; ++it) {
    claim.presented = true;
    if (!input.empty()) input += ", ";
    input.append(it->value().data(), it->value().size());
  }
  if (req.find("Signature") != req.end()) claim.presented = true;
  if (input.empty() || rt == nullptr) return claim;
  const signing::sf::DictionaryParse parsed = signing::sf::parseDictionary(input);
  if (!parsed.ok()) return claim;  // the verifier reports it as malformed
  for (const signing::sf::Member& m : parsed.dict.members) {
    if (!m.is_inner_list) continue;
    const signing::sf::BareItem* keyid = signing::sf::findParameter(m.list.params, "keyid");
    if (keyid == nullptr || keyid->kind != signing::sf::BareKind::String) continue;
    const SignerKey* key = rt->signerKey(keyid->text);
    if (key == nullptr) continue;
    if (key->system == client) {
      claim.names_client = true;
    } else if (claim.other_system == nullptr) {
      claim.other_system = key->system;
    }
  }
  return claim;
}

// PROTOCOL.md §2 components, scheme from the listener (for @scheme / @target-uri if covered).
const signing::VerifyPolicy& verifyPolicy(bool tls) {
  static const signing::VerifyPolicy https = [] {
    signing::VerifyPolicy p;
    p.scheme = "https";
    return p;
  }();
  static const signing::VerifyPolicy http = [] {
    signing::VerifyPolicy p;
    p.scheme = "http";
    return p;
  }();
  return tls ? https : http;
}

Failure signatureFailure(const signing::VerifyResult& r) {
  using signing::VerifyStatus;
  Reason reason = Reason::SignatureMalformed;
  std::string param;
  switch (r.status) {
    case VerifyStatus::Missing:
      reason = Reason::SignatureMissing;
      break;
    case VerifyStatus::Ok:  // not a failure; never passed here
    case VerifyStatus::Malformed:
    case VerifyStatus::MissingParameter:
    case VerifyStatus::UnsupportedComponent:
    case VerifyStatus::AbsentComponent:
      reason = Reason::SignatureMalformed;
      break;
    case VerifyStatus::UnsupportedAlgorithm:
      reason = Reason::SignatureAlgUnsupported;
      break;
    case VerifyStatus::MissingComponent:
      // detail is a name from VerifyPolicy (ours, not the caller's): safe to echo.
      reason = Reason::SignatureComponentMissing;
      param = r.detail;
      break;
    case VerifyStatus::StaleCreated:
      reason = Reason::SignatureStale;
      break;
    case VerifyStatus::CreatedInFuture:
      reason = Reason::SignatureFromFuture;
      break;
    case VerifyStatus::Expired:
      reason = Reason::SignatureExpired;
      break;
    case VerifyStatus::UnknownKey:
      reason = Reason::SignatureKeyUnknown;
      break;
    case VerifyStatus::AlgorithmMismatch:
      reason = Reason::SignatureAlgMismatch;
      break;
    case VerifyStatus::BadSignature:
      reason = Reason::SignatureNotVerified;
      break;
    case VerifyStatus::DigestMismatch:
      reason = Reason::SignatureDigestMismatch;
      break;
  }
  Failure f = deny(StatusCode::SignatureInvalid, reason, param);
  f.internal = std::string(signing::verifyStatusName(r.status));
  if (!r.label.empty()) f.internal += " label=" + r.label;
  if (!r.detail.empty()) f.internal += " detail=" + r.detail;
  return f;
}

// Verifies the request's signature with the keys registered to `client` only, so the label
// that verifies is always one of the client's keys.
signing::VerifyResult verifySignature(const pipeline::Exchange& ex, const PolicyRuntime& rt,
                                      const config::System* client) {
  const signing::KeyLookup lookup = [&rt, client](std::string_view keyid) {
    const SignerKey* k = rt.signerKey(keyid);
    return k != nullptr && k->system == client ? &k->key : nullptr;
  };
  return signing::verifyRequest(ex.request, verifyPolicy(ex.tls_peer != nullptr), lookup,
                                ex.received_at);
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

// What step 1 leaves for step 6: the signature claim, and whether the identity rests on that
// signature alone (then a failed verification un-attributes the request).
struct Identity {
  SignatureClaim claim;
  bool proof_pending = false;
};

std::optional<Failure> checkInputs(const pipeline::Exchange& ex) {
  // A /v1/messages/{id} request names no service; every other request does.
  if (!ex.snapshot || !ex.envelope_parsed || ex.envelope.client.empty() ||
      (ex.envelope.service_id.empty() && !ex.envelope.messages_target)) {
    Failure f = deny(StatusCode::Internal, Reason::InternalError);
    f.internal = "policy stage ran without a snapshot or a parsed envelope";
    return f;
  }
  return std::nullopt;
}

// Step 1. On success sets ex.client and fills `id`.
std::optional<Failure> decideIdentity(pipeline::Exchange& ex, const PolicyRuntime* rt,
                                      Identity& id) {
  const config::PolicyBundle& policy = ex.snapshot->policy;
  const pipeline::Envelope& env = ex.envelope;
  const config::System* client = policy.findSystem(env.client);
  if (client == nullptr) return deny(StatusCode::AuthFailed, Reason::ClientUnknown, env.client);
  if (client->zone != ex.zone) {
    return deny(StatusCode::AuthFailed, Reason::ClientWrongZone, env.client);
  }
  // Proof: a verified client certificate must map to the claimed system (also in demo mode: a
  // presented certificate is never ignored), or a signature must name one of the client's keys
  // (verified in step 6). Without either, the header alone is trusted only when the operator
  // explicitly asked for it. A signature naming another system's key is refused whatever else
  // the request shows.
  id.claim = readSignatureClaim(ex.request, rt, client);
  const SignatureClaim& claim = id.claim;
  bool proven = false;
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
    proven = true;
  }
  if (claim.other_system != nullptr && !claim.names_client) {
    Failure f = deny(StatusCode::AuthFailed, Reason::SignatureKeyMismatch, env.client);
    f.internal = "keyid of " + claim.other_system->id;
    return f;
  }
  // Identity resting on the signature alone is confirmed only in step 6.
  id.proof_pending =
      !proven && claim.names_client && !ex.snapshot->gateway.demo_trust_client_header;
  proven = proven || claim.names_client || ex.snapshot->gateway.demo_trust_client_header;
  if (!proven) {
    if (!claim.presented) return deny(StatusCode::AuthFailed, Reason::ClientNotProven);
    // A signature that names none of the client's keys: say what is wrong with it. No key
    // matches, so this never reaches the signature arithmetic.
    if (rt == nullptr) return deny(StatusCode::AuthFailed, Reason::ClientNotProven);
    return signatureFailure(verifySignature(ex, *rt, client));
  }
  ex.client = client;
  return std::nullopt;
}

// Step 6, for the client step 1 set: where the registration requires a signature or one was
// presented (a presented signature is never ignored: a bad one is refused even where none is
// required).
std::optional<Failure> decideSignature(pipeline::Exchange& ex, const PolicyRuntime* rt,
                                       const Identity& id) {
  const config::System* client = ex.client;
  if (!client->require_signature && !id.claim.presented) return std::nullopt;
  if (rt == nullptr) {
    Failure f = deny(StatusCode::Internal, Reason::InternalError);
    f.internal = "signature to verify but no policy runtime";
    return f;
  }
  const signing::VerifyResult v = verifySignature(ex, *rt, client);
  if (!v.ok()) {
    if (id.proof_pending) ex.client = nullptr;  // never proven: not attributed to the system
    return signatureFailure(v);
  }
  return std::nullopt;
}

// Steps 2-6 for the client step 1 proved. A coroutine only for the consent store's check.
boost::asio::awaitable<std::optional<Failure>> decideAccess(pipeline::Exchange& ex,
                                                            const consent::ConsentStore* consents,
                                                            const PolicyRuntime* rt,
                                                            const Identity& id) {
  const config::PolicyBundle& policy = ex.snapshot->policy;
  const pipeline::Envelope& env = ex.envelope;
  const config::System* client = ex.client;

  // 2. Service.
  const config::Service* service = policy.findService(env.service_id);
  if (service == nullptr) {
    co_return deny(StatusCode::ServiceNotFound, Reason::ServiceUnknown, env.service_id);
  }
  ex.service = service;
  if (!service->exposedTo(ex.zone)) {
    co_return deny(StatusCode::AccessDenied, Reason::ServiceNotExposed, service->id);
  }

  // 3. Validation the service demands.
  if (service->personal_data) {
    if (!env.subject)
      co_return deny(StatusCode::ValidationFailed, Reason::MissingHeader, kSubjectHeader);
    if (env.purpose.empty()) {
      co_return deny(StatusCode::ValidationFailed, Reason::MissingHeader, kPurposeHeader);
    }
  }

  // 4. Grant.
  const std::vector<const config::Grant*>* grants = policy.findGrants(client->id, service->id);
  if (grants == nullptr || grants->empty()) {
    co_return deny(StatusCode::AccessDenied, Reason::NoGrant, service->id);
  }
  const config::Purpose* purpose = nullptr;
  if (!env.purpose.empty()) {
    purpose = policy.findPurpose(env.purpose);
    if (purpose == nullptr) {
      co_return deny(StatusCode::AccessDenied, Reason::PurposeNotAllowed, env.purpose);
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
      co_return deny(StatusCode::AccessDenied, Reason::GrantNotActive, service->id);
    if (purpose != nullptr) {
      co_return deny(StatusCode::AccessDenied, Reason::PurposeNotAllowed, purpose->code);
    }
    co_return deny(StatusCode::AccessDenied, Reason::NoGrant, service->id);
  }

  // 5. Consent, where the owner's grant demands it. No store means no consent can be shown:
  // fail closed.
  if (chosen->requires_consent) {
    if (env.consent_id.empty()) co_return deny(StatusCode::ConsentRequired, Reason::ConsentMissing);
    if (!env.subject || consents == nullptr) {
      co_return deny(StatusCode::ConsentRequired, Reason::ConsentNotFound);
    }
    // Hoisted: GCC 12 miscompiles ?: inside a co_await full-expression.
    const std::string_view purpose_code =
        purpose != nullptr ? std::string_view{purpose->code} : std::string_view{};
    const consent::ConsentCheck c = co_await consents->check(
        env.consent_id, *env.subject, client->id, service->id, purpose_code, ex.received_at);
    if (c == consent::ConsentCheck::Unavailable) {
      // Fail closed: without the store's answer no consent can be shown. 503, not 403: the
      // caller's consent may well be valid, so it should retry rather than ask the citizen.
      Failure f = deny(StatusCode::ProviderUnavailable, Reason::ConsentStoreUnavailable);
      f.internal = "consent store gave no answer";
      co_return f;
    }
    if (c != consent::ConsentCheck::Active) {
      Failure f = deny(StatusCode::ConsentRequired, consentReason(c));
      f.internal = std::string(consent::checkName(c));
      co_return f;
    }
  }

  // 6. Signature.
  if (std::optional<Failure> f = decideSignature(ex, rt, id)) co_return f;
  ex.grant = chosen;
  ex.purpose = purpose;
  co_return std::nullopt;
}

boost::asio::awaitable<std::optional<Failure>> decide(pipeline::Exchange& ex,
                                                      const consent::ConsentStore* consents,
                                                      const PolicyRuntime* rt) {
  if (std::optional<Failure> f = checkInputs(ex)) co_return f;
  Identity id;
  if (std::optional<Failure> f = decideIdentity(ex, rt, id)) co_return f;
  // GET/DELETE /v1/messages/{id}: who asks is all the async stage needs to know (it answers
  // only the message's own client). No service, grant, quota or replay applies.
  if (ex.envelope.messages_target) co_return decideSignature(ex, rt, id);
  co_return co_await decideAccess(ex, consents, rt, id);
}

// The quota of step 7 with the rate asked of Redis first (admit()'s order: the concurrency slot
// first, then the rate; a refusal for either holds nothing).
boost::asio::awaitable<QuotaTicket> admitShared(const std::shared_ptr<GrantQuota>& quota,
                                                std::chrono::steady_clock::time_point now,
                                                shared_state::SharedPolicyState& shared) {
  QuotaTicket t = admitConcurrency(quota);
  if (!t.allowed() || !quota) co_return t;
  if (RateLimiter* r = quota->rateLimiter()) {
    auto local = [r, now]() -> std::pair<bool, std::chrono::nanoseconds> {
      const RateLimiter::Decision d = r->tryAcquire(now);
      return {d.allowed, d.retry_after};
    };
    const shared_state::SharedPolicyState::RateDecision d = co_await shared.tryAcquire(
        quota->redisKey(), quota->ratePerSecond(), quota->burst(), local);
    if (!d.allowed) refuseForRate(t, d.retry_after);
  }
  co_return t;
}

class PolicyStage final : public pipeline::Stage {
 public:
  PolicyStage(const PolicyContext& cx,
              const std::unique_ptr<shared_state::SharedPolicyState>* shared)
      : cx_(cx), shared_(shared) {}
  const char* name() const noexcept override { return "policy"; }

  boost::asio::awaitable<pipeline::StageResult> onRequest(pipeline::Exchange& ex) override {
    const auto* rt = static_cast<const PolicyRuntime*>(ex.policy_state.get());
    if (std::optional<Failure> f = co_await decide(ex, cx_.consents, rt))
      co_return pipeline::StageResult::fail(std::move(*f));
    if (ex.envelope.messages_target) co_return pipeline::StageResult::next();  // identity only
    // Quota after the decision (signature included) and before the replay record, so a refused
    // (429) request does not use up its message id: clients retry rate-limited calls with the
    // same id.
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
      shared_state::SharedPolicyState* shared = sharedState();
      QuotaTicket ticket;
      if (shared != nullptr && (*quota)->rateLimiter() != nullptr) {
        ticket = co_await admitShared(*quota, ex.started, *shared);
      } else {
        ticket = admit(*quota, ex.started);
      }
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
    // An id the gateway assigned itself (UUIDv7 from this process) can never repeat: recording it
    // would only fill the window (the benchmark showed it reaching its bound).
    // An async submission's repeat is answered idempotently by the async stage (same id, same
    // message), so the window is neither checked nor filled for it.
    const bool async_submission = ex.envelope.async_requested && cx_.async_enabled;
    if (!ex.envelope.message_id_assigned && !async_submission && !co_await firstSeen(ex)) {
      ex.grant = nullptr;
      ex.purpose = nullptr;
      co_return pipeline::StageResult::fail(
          Failure{StatusCode::Duplicate, Reason::MessageReplayed, {}, {}});
    }
    if (rt != nullptr) rt->usage.count(ex.client, ex.service);
    co_return pipeline::StageResult::next();
  }

 private:
  shared_state::SharedPolicyState* sharedState() const noexcept {
    return shared_ != nullptr ? shared_->get() : nullptr;
  }

  // Step 8: Redis's window first when there is one (the local window mirrors it and decides
  // when Redis gives no decision), else the local window alone.
  boost::asio::awaitable<bool> firstSeen(const pipeline::Exchange& ex) {
    const std::string& client = ex.client->id;
    const common::Uuid& id = ex.envelope.message_id;
    shared_state::SharedPolicyState* shared = sharedState();
    if (shared == nullptr) co_return cx_.replay->firstSeen(client, id, ex.started);
    // Two pointers captured: std::function keeps the callable inline (no allocation per request).
    const shared_state::SharedPolicyState::ReplayDecision d =
        co_await shared->firstSeen(client, id, [this, &ex] {
          return cx_.replay->firstSeen(ex.client->id, ex.envelope.message_id, ex.started);
        });
    co_return d.first_seen;
  }

  const PolicyContext& cx_;  // read per request: the server opens stores after building stages
  const std::unique_ptr<shared_state::SharedPolicyState>* shared_;  // the worker's; may be null
};

}  // namespace

std::unique_ptr<pipeline::Stage> makePolicyStage(
    const PolicyContext& cx, const std::unique_ptr<shared_state::SharedPolicyState>* shared) {
  return std::make_unique<PolicyStage>(cx, shared);
}

}  // namespace qaqpa::policy
