// Failure: the one typed error that crosses the stage edge (ARCHITECTURE.md "Errors").
// `reason` selects the localized public detail (i18n.h); `param` is substituted into it and must
// never carry internals (addresses, key material, stack traces). `internal` is for logs only.
#pragma once

#include <cstdint>
#include <string>

#include "gateway/common/status.h"

namespace qaqpa::common {

// Specific reasons. Each has a localized detail text in kk/ru/en (i18n.cc). Add new reasons at
// the end of their group; the names are stable and appear in logs and metrics.
enum class Reason : std::uint16_t {
  // Validation (400 / 413 / 431)
  MalformedRequest,        // HTTP framing could not be parsed
  HeaderTooLarge,          // header section over the listener limit (431)
  BodyTooLarge,            // body over the listener limit (413)
  MissingHeader,           // param: header name
  InvalidHeader,           // param: header name
  DuplicateHeader,         // param: header name
  InvalidSubjectChecksum,  // param: header name
  InvalidServiceId,        // param: the service id as given (already syntax-checked safe chars)
  InvalidPath,             // target not a /v1/services/... path or contains forbidden bytes
  MethodNotAllowed,        // param: method
  InvalidBody,             // param: the field (JSON pointer-ish) that is missing or wrong
  InvalidQuery,            // param: the query parameter that is unknown, repeated or wrong
  ConsentLimitReached,     // the citizen already has the maximum number of active consents
  // Identity (401)
  ClientUnknown,         // param: client system id
  ClientWrongZone,       // param: client system id
  ClientNotProven,       // no mTLS/signature proof and demo trust is off
  ClientCertMismatch,    // param: client id; the TLS certificate belongs to another system
  ClientCertUnknown,     // the TLS certificate is valid but mapped to no registered system
  SignatureKeyMismatch,  // param: client id; the signature's keyid belongs to another system
  // Citizen's Bearer token on the space listener (401 AUTH_FAILED; gateway/space/jwt.h names
  // each refusal, docs/space.md lists them)
  TokenMissing,
  TokenMalformed,
  TokenTooLarge,
  TokenAlgRefused,
  TokenHeaderRefused,
  TokenIssuerUnknown,
  TokenKeyUnknown,
  TokenSignatureInvalid,
  TokenClaimsInvalid,
  TokenAudienceMismatch,
  TokenExpired,
  TokenNotYetValid,
  TokenLifetimeTooLong,
  TokenSubjectInvalid,
  // Request signature (401 SIGNATURE_INVALID; PROTOCOL.md §2)
  SignatureMissing,           // no Signature-Input/Signature and the registration requires one
  SignatureMalformed,         // unparseable, created/keyid/alg absent, a covered component is
                              // unsupported or not in the request
  SignatureKeyUnknown,        // keyid is not a key registered to the client
  SignatureAlgUnsupported,    // alg is not ed25519 / ecdsa-p256-sha256
  SignatureAlgMismatch,       // alg differs from the registered key's algorithm
  SignatureStale,             // created more than 300 s in the past
  SignatureFromFuture,        // created more than 300 s in the future
  SignatureExpired,           // its expires parameter has passed
  SignatureComponentMissing,  // param: a component the protocol requires that is not covered
  SignatureDigestMismatch,    // Content-Digest missing, malformed or not matching the body
  SignatureNotVerified,       // the signature does not verify with the key
  // Access (403)
  ServiceNotExposed,   // param: service id
  NoGrant,             // param: service id
  PurposeNotAllowed,   // param: purpose code
  GrantNotActive,      // param: service id; outside the grant's validity period or schedule
  DemoCitizenUnknown,  // demo login for an IIN that is not a demo citizen
  // Consent (403 CONSENT_REQUIRED)
  ConsentMissing,   // the grant requires consent and Qaqpa-Consent is absent
  ConsentNotFound,  // no such consent for this subject and client
  ConsentRevoked,   // the citizen revoked it
  ConsentExpired,   // its expiry passed
  ConsentMismatch,  // it does not cover this service or purpose
  // Quota (429 RATE_LIMITED, with Retry-After)
  RateExceeded,         // the grant's rate limit
  ConcurrencyExceeded,  // the grant's limit of concurrent requests
  // Replay (409)
  MessageReplayed,    // Qaqpa-Message-Id already used by this client inside the window
  MessageIdConflict,  // async: this client's message id was submitted with another request
  MessageFinal,       // async: DELETE of a message already DELIVERED / NOT_DELIVERED / STOPPED
  // Service (404)
  ServiceUnknown,    // param: service id
  RouteUnknown,      // no such endpoint on this listener
  EventNotFound,     // the citizen has no event with this id (someone else's included)
  ConsentIdUnknown,  // the citizen has no consent with this id (someone else's included)
  AsyncNotEnabled,   // /v1/messages/... while the async exchange is off (no Redis)
  MessageUnknown,    // no async message with this id for this client (someone else's included)
  // Provider (502/503/504)
  ProviderBadResponse,
  ProviderServerError,
  ProviderUnreachable,
  ProviderDeadline,
  // Gateway (503/500)
  Overloaded,
  ShuttingDown,
  StoreUnavailable,         // a durable store is not configured, overloaded or failed
  JournalUnavailable,       // the digital event cannot be made durable (disk full, I/O error): the
                            // call fails closed (PROTOCOL.md §5, §6)
  IndexUnavailable,         // the digital-space event index is being rebuilt; retry shortly
  ConsentStoreUnavailable,  // the consent store (Redis) gave no answer: a consent-requiring call
                            // or a consent change fails closed; retry shortly
  AsyncStoreUnavailable,    // async: the message store (Redis) did not confirm; nothing accepted
  AsyncQueueFull,           // async: the partition's queue is at async.max_queued (Retry-After)
  InternalError,            // keep last: kReasonCount depends on it
};

inline constexpr int kReasonCount = static_cast<int>(Reason::InternalError) + 1;

struct Failure {
  StatusCode code = StatusCode::Internal;
  Reason reason = Reason::InternalError;
  std::string param;     // substituted into the localized detail; public
  std::string internal;  // log-only detail
  int http_status = 0;   // 0 = defaultHttpStatus(code)
  bool retryable = false;

  int httpStatus() const noexcept {
    return http_status != 0 ? http_status : defaultHttpStatus(code);
  }
};

}  // namespace qaqpa::common
