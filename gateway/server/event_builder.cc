#include "gateway/server/event_builder.h"

#include "gateway/common/i18n.h"
#include "gateway/journal/format.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::server {
namespace {

namespace pb = qaqpa::journal::v1;

void setText(pb::LocalizedText* out, const config::LocalizedText& in) {
  out->set_kk(in.kk);
  out->set_ru(in.ru);
  out->set_en(in.en);
}

void setTime(google::protobuf::Timestamp* out, std::chrono::system_clock::time_point t) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::int64_t secs = us / 1'000'000;
  std::int64_t rem = us % 1'000'000;
  if (rem < 0) {
    rem += 1'000'000;
    --secs;
  }
  out->set_seconds(secs);
  out->set_nanos(static_cast<std::int32_t>(rem * 1000));
}

pb::Zone zoneOf(config::Zone z) {
  switch (z) {
    case config::Zone::State:
      return pb::STATE;
    case config::Zone::External:
      return pb::EXTERNAL;
    case config::Zone::International:
      return pb::INTERNATIONAL;
  }
  return pb::ZONE_UNSPECIFIED;
}

bool isProviderFailure(common::StatusCode c) {
  return c == common::StatusCode::ProviderError || c == common::StatusCode::ProviderUnavailable ||
         c == common::StatusCode::ProviderTimeout;
}

// The country part of a system id "CC/CLASS/MEMBER/SYSTEM" ("" when it has none).
std::string_view countryOf(std::string_view system_id) {
  const auto slash = system_id.find('/');
  if (slash != 2) return {};
  return system_id.substr(0, 2);
}

}  // namespace

std::string buildCallEvent(const pipeline::Exchange& ex, const CallFacts& facts) {
  pb::DigitalEvent e;
  e.set_event_id(std::string(facts.event_id));
  e.set_node_id(std::string(facts.node_id));
  setTime(e.mutable_time(), ex.received_at);
  e.set_zone(zoneOf(ex.zone));
  const bool failed = ex.failure.has_value();
  if (failed) {
    e.set_kind(isProviderFailure(ex.failure->code) ? pb::DELIVERY_FAILED : pb::ACCESS_DENIED);
    e.set_reason(std::string(common::reasonName(ex.failure->reason)));
  } else {
    e.set_kind(ex.zone == config::Zone::International ? pb::INTERNATIONAL_TRANSFER
                                                      : pb::DATA_ACCESS);
  }
  if (ex.client != nullptr) {
    e.mutable_client()->set_id(ex.client->id);
    setText(e.mutable_client()->mutable_name(), ex.client->name);
  } else if (!ex.envelope.client.empty()) {
    e.mutable_client()->set_id(ex.envelope.client);
  }
  if (ex.service != nullptr) {
    if (ex.service->provider != nullptr) {
      e.mutable_provider()->set_id(ex.service->provider->id);
      setText(e.mutable_provider()->mutable_name(), ex.service->provider->name);
    }
    e.mutable_service()->set_id(ex.service->id);
    setText(e.mutable_service()->mutable_name(), ex.service->name);
    for (const auto& c : ex.service->data_categories) e.add_data_categories(c);
  } else if (!ex.envelope.service_id.empty()) {
    e.mutable_service()->set_id(ex.envelope.service_id);
    // Refused before the policy resolved it: a service the bundle knows is still named, so
    // the citizen reads words, not an id.
    if (const config::Service* s =
            ex.snapshot ? ex.snapshot->policy.findService(ex.envelope.service_id) : nullptr) {
      setText(e.mutable_service()->mutable_name(), s->name);
      if (s->provider != nullptr) {
        e.mutable_provider()->set_id(s->provider->id);
        setText(e.mutable_provider()->mutable_name(), s->provider->name);
      }
    }
  }
  if (ex.envelope_parsed) {
    if (ex.envelope.subject) e.set_subject(ex.envelope.subject->toString());
    if (ex.envelope.actor) e.set_actor(ex.envelope.actor->toString());
    if (ex.purpose != nullptr) {
      e.mutable_purpose()->set_code(ex.purpose->code);
      setText(e.mutable_purpose()->mutable_text(), ex.purpose->text);
    } else if (!ex.envelope.purpose.empty()) {
      e.mutable_purpose()->set_code(ex.envelope.purpose);
      if (const config::Purpose* p =
              ex.snapshot ? ex.snapshot->policy.findPurpose(ex.envelope.purpose) : nullptr) {
        setText(e.mutable_purpose()->mutable_text(), p->text);
      }
    }
    e.set_consent_id(ex.envelope.consent_id);
    e.set_message_id(common::toString(ex.envelope.message_id));
    e.set_correlation_id(common::toString(ex.envelope.correlation_id));
  }
  e.set_status(std::string(common::codeName(ex.status)));
  e.set_http_status(ex.response.result_int());
  e.set_latency_us(static_cast<std::uint64_t>(std::max<std::int64_t>(0, facts.latency.count())));
  e.set_request_digest(std::string(facts.request_digest));
  e.set_response_digest(std::string(facts.response_digest));
  if (ex.zone == config::Zone::International) {
    const std::string_view id = ex.client != nullptr ? std::string_view(ex.client->id)
                                                     : std::string_view(ex.envelope.client);
    e.set_country(std::string(countryOf(id)));
  }
  return journal::canonicalBytes(e);
}

std::string buildAcceptedEvent(const pipeline::Exchange& ex, const CallFacts& facts) {
  // The call event, re-read and re-kinded: one place decides what a call event holds.
  pb::DigitalEvent e;
  e.ParseFromString(buildCallEvent(ex, facts));
  e.set_kind(pb::MESSAGE_ACCEPTED);
  return journal::canonicalBytes(e);
}

std::string buildDeliveryEvent(const pipeline::Exchange& ex, const CallFacts& facts,
                               const DeliveryAttempt& attempt) {
  pb::DigitalEvent e;
  e.ParseFromString(buildCallEvent(ex, facts));
  e.set_detail("async attempt " + std::to_string(attempt.attempt) + "/" +
               std::to_string(attempt.max_attempts) + ": " + std::string(attempt.outcome));
  return journal::canonicalBytes(e);
}

std::string buildRefusedCallEvent(const RefusedCall& call) {
  pb::DigitalEvent e;
  e.set_event_id(std::string(call.event_id));
  e.set_node_id(std::string(call.node_id));
  setTime(e.mutable_time(), call.time);
  e.set_zone(zoneOf(call.zone));
  e.set_kind(pb::ACCESS_DENIED);
  e.set_reason(std::string(common::reasonName(call.reason)));
  if (!call.claimed_client.empty()) e.mutable_client()->set_id(std::string(call.claimed_client));
  e.set_message_id(std::string(call.message_id));
  e.set_status(std::string(common::codeName(call.status)));
  e.set_http_status(call.http_status);
  e.set_latency_us(static_cast<std::uint64_t>(std::max<std::int64_t>(0, call.latency.count())));
  e.set_request_digest(std::string(call.request_digest));
  e.set_response_digest(std::string(call.response_digest));
  return journal::canonicalBytes(e);
}

std::string buildConsentEvent(const ConsentChange& change) {
  pb::DigitalEvent e;
  e.set_event_id(std::string(change.event_id));
  e.set_node_id(std::string(change.node_id));
  setTime(e.mutable_time(), change.time);
  e.set_zone(change.by_operator ? pb::ADMIN : pb::SPACE);
  e.set_kind(change.granted ? pb::CONSENT_GRANTED : pb::CONSENT_REVOKED);
  e.mutable_client()->set_id(std::string(change.client_id));
  if (change.client != nullptr) setText(e.mutable_client()->mutable_name(), change.client->name);
  e.set_subject(std::string(change.subject));
  e.set_actor(std::string(change.actor));
  if (!change.purpose_code.empty()) {
    e.mutable_purpose()->set_code(std::string(change.purpose_code));
    if (change.purpose != nullptr)
      setText(e.mutable_purpose()->mutable_text(), change.purpose->text);
  }
  e.set_consent_id(std::string(change.consent_id));
  if (change.services.size() == 1) {
    // The usual consent names one service: the citizen sees which, and whose.
    e.mutable_service()->set_id(change.services.front());
    if (change.service != nullptr) {
      setText(e.mutable_service()->mutable_name(), change.service->name);
      if (change.service->provider != nullptr) {
        e.mutable_provider()->set_id(change.service->provider->id);
        setText(e.mutable_provider()->mutable_name(), change.service->provider->name);
      }
    }
  }
  std::string services;
  for (const auto& s : change.services) {
    if (!services.empty()) services += ',';
    services += s;
  }
  e.set_detail(services);
  e.set_status("OK");
  return journal::canonicalBytes(e);
}

std::string buildOperatorEvent(const OperatorAction& action) {
  pb::DigitalEvent e;
  e.set_event_id(std::string(action.event_id));
  e.set_node_id(std::string(action.node_id));
  setTime(e.mutable_time(), action.time);
  e.set_zone(pb::ADMIN);
  e.set_kind(action.policy_change ? pb::POLICY_CHANGED : pb::OPERATOR_ACCESS);
  e.mutable_client()->set_id("operator:" + std::string(action.operator_name));
  e.set_subject(std::string(action.subject));
  e.set_operator_reason(std::string(action.reason));
  e.set_detail(std::string(action.detail));
  e.set_status(std::string(common::codeName(action.status)));
  return journal::canonicalBytes(e);
}

}  // namespace qaqpa::server
