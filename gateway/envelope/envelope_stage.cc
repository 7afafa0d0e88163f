#include "gateway/envelope/envelope_stage.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/core/string.hpp>

#include "gateway/common/failure.h"
#include "gateway/common/ids.h"

namespace qaqpa::envelope {
namespace {

using common::Failure;
using common::Reason;
using common::StatusCode;

enum class Header : std::size_t {
  Client,
  MessageId,
  CorrelationId,
  Subject,
  Purpose,
  Actor,
  Consent,
};
constexpr std::size_t kHeaderCount = 7;

// Canonical spelling: used for matching (case-insensitively) and as the public failure param.
constexpr std::array<std::string_view, kHeaderCount> kHeaderNames = {
    "Qaqpa-Client",  "Qaqpa-Message-Id", "Qaqpa-Correlation-Id", "Qaqpa-Subject",
    "Qaqpa-Purpose", "Qaqpa-Actor",      "Qaqpa-Consent",
};

constexpr std::string_view kServicesPrefix = "/v1/services/";
constexpr std::string_view kMessagesPrefix = "/v1/messages/";
constexpr std::size_t kMaxConsentLength = 128;
constexpr std::size_t kMaxEchoedServiceIdLength = 64;

struct HeaderSlot {
  std::string_view value;
  unsigned count = 0;
};
using HeaderSlots = std::array<HeaderSlot, kHeaderCount>;

Failure validationFailure(Reason reason, std::string_view param) {
  return Failure{StatusCode::ValidationFailed, reason, std::string{param}, {}};
}

Failure headerFailure(Reason reason, Header h) {
  return validationFailure(reason, kHeaderNames[static_cast<std::size_t>(h)]);
}

// One pass over the fields; views stay valid as long as the request is not modified.
HeaderSlots collectHeaders(const pipeline::Request& req) {
  HeaderSlots slots{};
  for (const auto& field : req) {
    const std::string_view name = field.name_string();
    if (name.size() < 7 || !boost::beast::iequals(name.substr(0, 6), "qaqpa-")) continue;
    for (std::size_t i = 0; i < kHeaderCount; ++i) {
      if (!boost::beast::iequals(name, kHeaderNames[i])) continue;
      if (slots[i].count++ == 0) slots[i].value = field.value();
      break;
    }
  }
  return slots;
}

constexpr bool isHex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Visible ASCII only: control bytes, space, DEL and raw non-ASCII never belong in a request-target
// (RFC 9112 §3.2), and '#' (a fragment) must not reach the provider.
constexpr bool isTargetByte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '#';
}

bool containsIgnoreCase(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (boost::beast::iequals(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// One path segment (between slashes), judged the way the most lenient provider might read it:
// percent-decoded once, with any ";params" ignored. Rejected: dot segments and anything with
// "..", backslashes, encoded slashes or control bytes, malformed escapes, and escapes that
// survive one decoding as an encoded '.', '/' or '\' (double encoding).
bool isSafeSegment(std::string_view segment) {
  std::string decoded;
  decoded.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '%') {
      if (i + 2 >= segment.size()) return false;
      if (!isHex(segment[i + 1]) || !isHex(segment[i + 2])) return false;
      c = static_cast<char>(hexValue(segment[i + 1]) * 16 + hexValue(segment[i + 2]));
      i += 2;
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '/') return false;
    }
    if (c == '\\') return false;
    decoded.push_back(c);
  }
  const std::string_view view = decoded;
  const std::string_view before_params = view.substr(0, view.find(';'));
  if (before_params == "." || view.find("..") != std::string_view::npos) return false;
  return !containsIgnoreCase(view, "%2e") && !containsIgnoreCase(view, "%2f") &&
         !containsIgnoreCase(view, "%5c");
}

// `path` is what follows the service id: "" or "/seg[/seg...]" (a trailing '/' is allowed).
bool isSafeServicePath(std::string_view path) {
  if (path.empty()) return true;
  path.remove_prefix(1);
  for (;;) {
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (slash == std::string_view::npos) return isSafeSegment(segment);
    if (segment.empty() || !isSafeSegment(segment)) return false;
    path.remove_prefix(slash + 1);
  }
}

// The raw id is attacker-controlled: it is echoed in the problem only when it is made of the
// service-id alphabet and short, which is what makes it harmless to show.
std::string_view echoableServiceId(std::string_view id) noexcept {
  if (id.size() > kMaxEchoedServiceIdLength) return {};
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return {};
  }
  return id;
}

// True when one of the Prefer field values (RFC 7240 §2: 1#preference, each a token with an
// optional "=value" and ";parameters") names the respond-async preference, case-insensitively.
// Other preferences are ignored; quoted strings may contain commas.
bool prefersRespondAsync(const pipeline::Request& req) {
  for (const auto& field : req) {
    if (!boost::beast::iequals(field.name_string(), "prefer")) continue;
    const std::string_view v = field.value();
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i <= v.size(); ++i) {
      if (i < v.size() && v[i] == '"') quoted = !quoted;
      if (i < v.size() && v[i] == '\\' && quoted) {
        ++i;
        continue;
      }
      if (i < v.size() && (quoted || v[i] != ',')) continue;
      std::string_view element = v.substr(start, i - start);
      start = i + 1;
      const std::size_t end = element.find_first_of("=;");
      std::string_view token = element.substr(0, end);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
        token.remove_suffix(1);
      }
      if (boost::beast::iequals(token, "respond-async")) return true;
    }
  }
  return false;
}

// GET|DELETE /v1/messages/{messageId} (PROTOCOL.md §4): the id must be a UUID; other methods 405.
std::optional<Failure> parseMessagesTarget(const pipeline::Request& req, std::string_view path,
                                           std::string_view query, pipeline::Envelope& env) {
  if (req.method() != boost::beast::http::verb::get &&
      req.method() != boost::beast::http::verb::delete_) {
    Failure f = validationFailure(Reason::MethodNotAllowed, req.method_string());
    f.http_status = 405;
    return f;
  }
  const std::optional<common::Uuid> id = common::parseUuid(path.substr(kMessagesPrefix.size()));
  if (!id || !query.empty()) return validationFailure(Reason::InvalidPath, {});
  env.messages_target = true;
  env.target_message_id = *id;
  return std::nullopt;
}

std::optional<Failure> parseTarget(const pipeline::Request& req, pipeline::Envelope& env) {
  const std::string_view target = req.target();
  for (char c : target) {
    if (!isTargetByte(c)) return validationFailure(Reason::InvalidPath, {});
  }
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  if (path.starts_with(kMessagesPrefix)) return parseMessagesTarget(req, path, query, env);
  if (!path.starts_with(kServicesPrefix)) return validationFailure(Reason::InvalidPath, {});

  const std::string_view rest = path.substr(kServicesPrefix.size());
  const std::size_t slash = rest.find('/');
  const std::string_view service_id = rest.substr(0, slash);
  const std::string_view service_path =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (!common::isValidServiceId(service_id)) {
    return validationFailure(Reason::InvalidServiceId, echoableServiceId(service_id));
  }
  if (!isSafeServicePath(service_path)) return validationFailure(Reason::InvalidPath, {});

  env.service_id = service_id;
  env.service_path = service_path;
  env.query = query;
  env.async_requested = prefersRespondAsync(req);
  return std::nullopt;
}

bool isValidConsentId(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxConsentLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Qaqpa-Subject / Qaqpa-Actor: a bad check digit is its own reason so the client can tell a typo
// in the number from a malformed header.
std::optional<Failure> parseSubjectHeader(std::string_view value, Header h,
                                          std::optional<common::SubjectId>& out) {
  common::SubjectParse parsed = common::parseSubject(value);
  if (!parsed.id) {
    return headerFailure(parsed.error == common::SubjectError::Checksum
                             ? Reason::InvalidSubjectChecksum
                             : Reason::InvalidHeader,
                         h);
  }
  out = std::move(parsed.id);
  return std::nullopt;
}

class EnvelopeStage final : public pipeline::Stage {
 public:
  const char* name() const noexcept override { return "envelope"; }

  boost::asio::awaitable<pipeline::StageResult> onRequest(pipeline::Exchange& ex) override {
    if (std::optional<Failure> f = parse(ex)) co_return pipeline::StageResult::fail(std::move(*f));
    co_return pipeline::StageResult::next();
  }

 private:
  std::optional<Failure> parse(pipeline::Exchange& ex) {
    pipeline::Envelope& env = ex.envelope;
    const HeaderSlots slots = collectHeaders(ex.request);
    auto slot = [&slots](Header h) -> const HeaderSlot& {
      return slots[static_cast<std::size_t>(h)];
    };

    // The message id comes first so every later problem can echo it; a repeated or malformed
    // one leaves it unknown.
    const HeaderSlot& message_id = slot(Header::MessageId);
    if (message_id.count > 1) return headerFailure(Reason::DuplicateHeader, Header::MessageId);
    if (message_id.count == 1) {
      const std::optional<common::Uuid> id = common::parseUuid(message_id.value);
      if (!id) return headerFailure(Reason::InvalidHeader, Header::MessageId);
      env.message_id = *id;
      env.message_id_assigned = false;
    } else {
      env.message_id = uuids_.nextNow();
      env.message_id_assigned = true;
    }
    ex.envelope_parsed = true;

    for (std::size_t i = 0; i < kHeaderCount; ++i) {
      if (slots[i].count > 1) return headerFailure(Reason::DuplicateHeader, static_cast<Header>(i));
    }

    if (std::optional<Failure> f = parseTarget(ex.request, env)) return f;

    const HeaderSlot& client = slot(Header::Client);
    if (client.count == 0) return headerFailure(Reason::MissingHeader, Header::Client);
    if (!common::isValidSystemId(client.value)) {
      return headerFailure(Reason::InvalidHeader, Header::Client);
    }
    env.client = client.value;

    const HeaderSlot& correlation = slot(Header::CorrelationId);
    if (correlation.count == 1) {
      const std::optional<common::Uuid> id = common::parseUuid(correlation.value);
      if (!id) return headerFailure(Reason::InvalidHeader, Header::CorrelationId);
      env.correlation_id = *id;
    } else {
      env.correlation_id = env.message_id;
    }

    if (const HeaderSlot& subject = slot(Header::Subject); subject.count == 1) {
      if (auto f = parseSubjectHeader(subject.value, Header::Subject, env.subject)) return f;
    }

    if (const HeaderSlot& purpose = slot(Header::Purpose); purpose.count == 1) {
      if (!common::isValidPurposeCode(purpose.value)) {
        return headerFailure(Reason::InvalidHeader, Header::Purpose);
      }
      env.purpose = purpose.value;
    }

    if (const HeaderSlot& actor = slot(Header::Actor); actor.count == 1) {
      if (auto f = parseSubjectHeader(actor.value, Header::Actor, env.actor)) return f;
      if (env.actor->kind != common::SubjectKind::Iin) {
        env.actor.reset();
        return headerFailure(Reason::InvalidHeader, Header::Actor);
      }
    }

    if (const HeaderSlot& consent = slot(Header::Consent); consent.count == 1) {
      if (!isValidConsentId(consent.value)) {
        return headerFailure(Reason::InvalidHeader, Header::Consent);
      }
      env.consent_id = consent.value;
    }
    return std::nullopt;
  }

  common::UuidV7Generator uuids_;
};

}  // namespace

std::unique_ptr<pipeline::Stage> makeEnvelopeStage() { return std::make_unique<EnvelopeStage>(); }

}  // namespace qaqpa::envelope
