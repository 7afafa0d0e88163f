// Builds the DigitalEvent of a call, a consent change or an operator action (PROTOCOL.md §6) as
// canonical protobuf bytes WITHOUT the chain fields (seq, prev_hash, hash): the journal writer
// appends those (gateway/journal/journal.h). Metadata only — never a payload.
//
// Pure functions of their inputs; called on worker threads (calls) or the control thread
// (operator actions); no I/O, no clock reads (times are passed in).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/failure.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/pipeline/exchange.h"

namespace qaqpa::server {

// Facts of one call on a zone listener that the Exchange does not hold itself.
struct CallFacts {
  std::string_view event_id;  // UUIDv7 text, also sent as Qaqpa-Event-Id
  std::string_view node_id;
  std::string_view request_digest;   // "sha-256=:…:" of the request body
  std::string_view response_digest;  // "sha-256=:…:" of the response body
  std::chrono::microseconds latency{0};
};

// The event of a call that went through the chain (forwarded, denied at any step, failed
// upstream). Kind: a failure from the provider (PROVIDER_*) is DELIVERY_FAILED, any other failure
// ACCESS_DENIED, success INTERNATIONAL_TRANSFER on the international zone and DATA_ACCESS
// elsewhere. The client is the verified system when the policy resolved it, else the Qaqpa-Client
// value as claimed (no name: it was not proven).
std::string buildCallEvent(const pipeline::Exchange& ex, const CallFacts& facts);

// The event of an asynchronous submission that was stored and queued (ex.status ACCEPTED, 202):
// like buildCallEvent, with kind MESSAGE_ACCEPTED (no data was accessed yet; docs/async.md).
std::string buildAcceptedEvent(const pipeline::Exchange& ex, const CallFacts& facts);

// The event of one asynchronous delivery attempt (the dispatcher's exchange, rebuilt from the
// stored submission, so messageId, correlationId, subject, client, service and purpose are the
// submission's): like buildCallEvent (DATA_ACCESS / INTERNATIONAL_TRANSFER when delivered,
// DELIVERY_FAILED with the reason when not), plus `detail` = "async attempt <n>/<max>: <outcome>"
// (outcome DELIVERED, RETRY or NOT_DELIVERED).
struct DeliveryAttempt {
  long long attempt = 0;
  unsigned max_attempts = 0;
  std::string_view outcome;
};
std::string buildDeliveryEvent(const pipeline::Exchange& ex, const CallFacts& facts,
                               const DeliveryAttempt& attempt);

// The event of a call refused before it became an exchange (unknown route, method not allowed
// on /v1/services): ACCESS_DENIED with what the request itself says.
struct RefusedCall {
  std::string_view event_id;
  std::string_view node_id;
  config::Zone zone = config::Zone::State;
  std::chrono::system_clock::time_point time;
  std::string_view claimed_client;  // Qaqpa-Client as sent (may be empty)
  std::string_view message_id;      // the one in the problem response
  common::StatusCode status = common::StatusCode::ValidationFailed;
  common::Reason reason = common::Reason::RouteUnknown;
  unsigned http_status = 400;
  std::string_view request_digest;
  std::string_view response_digest;
  std::chrono::microseconds latency{0};
};
std::string buildRefusedCallEvent(const RefusedCall& call);

// A consent granted or revoked (by the citizen in the digital space, or by an operator).
struct ConsentChange {
  bool granted = true;  // false: revoked
  std::string_view event_id;
  std::string_view node_id;
  std::chrono::system_clock::time_point time;
  bool by_operator = false;  // ADMIN zone when true, SPACE otherwise
  std::string_view actor;    // who acted: "admin:<name>" or the citizen's "IIN:…"
  std::string_view subject;  // "IIN:…"
  std::string_view consent_id;
  std::string_view client_id;                // the system the consent is for
  const config::System* client = nullptr;    // resolved in the current bundle, when registered
  std::vector<std::string> services;         // all in `detail`; the only one also as `service`
  const config::Service* service = nullptr;  // that only service, resolved, when there is one
  std::string_view purpose_code;
  const config::Purpose* purpose = nullptr;
};
std::string buildConsentEvent(const ConsentChange& change);

// An operator action on the admin listener: POLICY_CHANGED (detail = policy digest) or
// OPERATOR_ACCESS (subject = whose events were read, detail = the query).
struct OperatorAction {
  bool policy_change = true;  // false: OPERATOR_ACCESS
  std::string_view event_id;
  std::string_view node_id;
  std::chrono::system_clock::time_point time;
  std::string_view operator_name;  // recorded as client id "operator:<name>"
  std::string_view reason;         // the stated legal reason / trigger
  std::string_view subject;
  std::string_view detail;
  common::StatusCode status = common::StatusCode::Ok;
};
std::string buildOperatorEvent(const OperatorAction& action);

}  // namespace qaqpa::server
