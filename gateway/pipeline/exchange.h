// Exchange: the per-request context every stage reads and writes (ARCHITECTURE.md "Stages").
// Created by the transport session on its worker thread; touched only by that thread; lives for
// one request/response. Stages meet here and never include each other.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/common/failure.h"
#include "gateway/common/i18n.h"
#include "gateway/common/ids.h"
#include "gateway/config/config.h"

namespace qaqpa::pipeline {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// Typed envelope of PROTOCOL.md §2, filled by the envelope stage from the request headers.
struct Envelope {
  std::string client;  // Qaqpa-Client as sent (syntax-checked)
  common::Uuid message_id;
  bool message_id_assigned = false;  // true when the gateway generated it
  common::Uuid correlation_id;
  std::optional<common::SubjectId> subject;
  std::string purpose;                     // empty when absent
  std::optional<common::SubjectId> actor;  // always an IIN
  std::string consent_id;
  std::string service_id;
  std::string service_path;  // "/..." after the service id, "" when none (no query)
  std::string query;         // without '?', "" when none

  // Asynchronous exchange (PROTOCOL.md §4, issue #6), both set by the envelope stage:
  // `Prefer: respond-async` (RFC 7240) on a service call. Whether it is applied is the async
  // stage's decision (no Redis: ignored, the call is synchronous).
  bool async_requested = false;
  // GET/DELETE /v1/messages/{messageId}: the policy stage checks only the caller's identity;
  // service_id stays empty and the async stage answers.
  bool messages_target = false;
  common::Uuid target_message_id;  // with messages_target: the {messageId} of the path
};

// The client certificate of a mutual-TLS connection, verified by the transport against the
// listener's trust anchors (chain, validity period, key usage for TLS clients). Owned by the
// connection; an exchange only points at it.
struct TlsPeer {
  bool verified = false;            // a certificate was presented and passed verification
  std::string fingerprint_sha256;   // lower-case hex of SHA-256 over the DER certificate
  std::string common_name;          // subject CN
  std::string organizational_unit;  // subject OU (NCA profile: "BIN<12 digits>")
  std::string serial_number;        // subject serialNumber (NCA profile: "IIN<12 digits>")
};

struct Exchange {
  Exchange(std::shared_ptr<const config::Snapshot> snap, config::Zone z, Request&& req)
      : snapshot(std::move(snap)), zone(z), request(std::move(req)) {}

  std::shared_ptr<const config::Snapshot> snapshot;  // kept for the whole request
  config::Zone zone;
  Request request;
  Response response;
  common::Lang lang = common::Lang::Kk;
  const TlsPeer* tls_peer = nullptr;  // null on plain-HTTP listeners
  std::chrono::steady_clock::time_point started{};
  std::chrono::system_clock::time_point received_at{};  // wall time, for validity and consent

  Envelope envelope;
  bool envelope_parsed = false;  // message id known: it is echoed in every response
  // The id of this call's digital event, when it will be journaled: problems carry it as
  // `eventId` (PROTOCOL.md §5), so a refusal can be quoted and found in the digital space.
  std::string event_id;

  // Resolved by the policy stage.
  const config::System* client = nullptr;
  const config::Service* service = nullptr;
  const config::Grant* grant = nullptr;
  const config::Purpose* purpose = nullptr;

  // Opaque per-stage state: what the policy derived from this snapshot (quotas), and what it holds
  // until the exchange ends (a concurrency permit). Owned here so its lifetime is the request's.
  std::shared_ptr<const void> policy_state;
  std::shared_ptr<void> policy_hold;
  int retry_after_seconds = 0;  // with RATE_LIMITED: the Retry-After value

  // Set when a stage failed; the chain renders it as problem+json.
  std::optional<common::Failure> failure;
  common::StatusCode status = common::StatusCode::Ok;  // final canonical code (Qaqpa-Status)
};

}  // namespace qaqpa::pipeline
