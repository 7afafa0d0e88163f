// Canonical status codes of qaqpa/1 (PROTOCOL.md §5) and the one table that maps them to HTTP.
// Thread-safe, allocation-free, header-only.
#pragma once

#include <cstdint>
#include <string_view>

namespace qaqpa::common {

enum class StatusCode : std::uint8_t {
  Ok,
  Accepted,
  ValidationFailed,
  AuthFailed,
  SignatureInvalid,
  AccessDenied,
  ConsentRequired,
  ServiceNotFound,
  Duplicate,
  RateLimited,
  ProviderError,
  ProviderUnavailable,
  ProviderTimeout,
  Internal,
};

// "ACCESS_DENIED" etc., exactly as on the wire.
constexpr std::string_view codeName(StatusCode c) noexcept {
  switch (c) {
    case StatusCode::Ok:
      return "OK";
    case StatusCode::Accepted:
      return "ACCEPTED";
    case StatusCode::ValidationFailed:
      return "VALIDATION_FAILED";
    case StatusCode::AuthFailed:
      return "AUTH_FAILED";
    case StatusCode::SignatureInvalid:
      return "SIGNATURE_INVALID";
    case StatusCode::AccessDenied:
      return "ACCESS_DENIED";
    case StatusCode::ConsentRequired:
      return "CONSENT_REQUIRED";
    case StatusCode::ServiceNotFound:
      return "SERVICE_NOT_FOUND";
    case StatusCode::Duplicate:
      return "DUPLICATE";
    case StatusCode::RateLimited:
      return "RATE_LIMITED";
    case StatusCode::ProviderError:
      return "PROVIDER_ERROR";
    case StatusCode::ProviderUnavailable:
      return "PROVIDER_UNAVAILABLE";
    case StatusCode::ProviderTimeout:
      return "PROVIDER_TIMEOUT";
    case StatusCode::Internal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

// Default HTTP status of a code. `Ok` has no fixed status (the provider's 2xx is passed through);
// 200 is returned for it. A Failure may override (413/431 for VALIDATION_FAILED on size limits).
constexpr int defaultHttpStatus(StatusCode c) noexcept {
  switch (c) {
    case StatusCode::Ok:
      return 200;
    case StatusCode::Accepted:
      return 202;
    case StatusCode::ValidationFailed:
      return 400;
    case StatusCode::AuthFailed:
      return 401;
    case StatusCode::SignatureInvalid:
      return 401;
    case StatusCode::AccessDenied:
      return 403;
    case StatusCode::ConsentRequired:
      return 403;
    case StatusCode::ServiceNotFound:
      return 404;
    case StatusCode::Duplicate:
      return 409;
    case StatusCode::RateLimited:
      return 429;
    case StatusCode::ProviderError:
      return 502;
    case StatusCode::ProviderUnavailable:
      return 503;
    case StatusCode::ProviderTimeout:
      return 504;
    case StatusCode::Internal:
      return 500;
  }
  return 500;
}

inline constexpr int kStatusCodeCount = static_cast<int>(StatusCode::Internal) + 1;

}  // namespace qaqpa::common
