#include "gateway/consent/consent_store.h"

#include <algorithm>

namespace qaqpa::consent {
namespace {

bool sameSubject(const common::SubjectId& a, const common::SubjectId& b) noexcept {
  return a.kind == b.kind && a.digits == b.digits;
}

bool isValidGrantedBy(std::string_view text) noexcept {
  if (text == "citizen") return true;
  constexpr std::string_view kAdminPrefix = "admin:";
  if (!text.starts_with(kAdminPrefix)) return false;
  const std::string_view op = text.substr(kAdminPrefix.size());
  if (op.empty() || op.size() > kMaxOperatorLength) return false;
  // Printable ASCII without space: the operator name ends up in logs and events verbatim.
  return std::all_of(op.begin(), op.end(), [](char c) { return c > ' ' && c <= '~'; });
}

}  // namespace

bool Consent::operator==(const Consent& other) const {
  return id == other.id && sameSubject(subject, other.subject) && client == other.client &&
         services == other.services && purpose == other.purpose && granted_at == other.granted_at &&
         expires == other.expires && revoked_at == other.revoked_at &&
         granted_by == other.granted_by;
}

std::string_view checkName(ConsentCheck check) noexcept {
  switch (check) {
    case ConsentCheck::Active:
      return "ACTIVE";
    case ConsentCheck::NotFound:
      return "NOT_FOUND";
    case ConsentCheck::Revoked:
      return "REVOKED";
    case ConsentCheck::Expired:
      return "EXPIRED";
    case ConsentCheck::SubjectMismatch:
      return "SUBJECT_MISMATCH";
    case ConsentCheck::ClientMismatch:
      return "CLIENT_MISMATCH";
    case ConsentCheck::ServiceNotCovered:
      return "SERVICE_NOT_COVERED";
    case ConsentCheck::PurposeMismatch:
      return "PURPOSE_MISMATCH";
    case ConsentCheck::Unavailable:
      return "UNAVAILABLE";
  }
  return "NOT_FOUND";
}

std::string_view grantStatusName(GrantStatus status) noexcept {
  switch (status) {
    case GrantStatus::Granted:
      return "GRANTED";
    case GrantStatus::InvalidSubject:
      return "INVALID_SUBJECT";
    case GrantStatus::InvalidClient:
      return "INVALID_CLIENT";
    case GrantStatus::InvalidServices:
      return "INVALID_SERVICES";
    case GrantStatus::InvalidPurpose:
      return "INVALID_PURPOSE";
    case GrantStatus::InvalidExpires:
      return "INVALID_EXPIRES";
    case GrantStatus::InvalidGrantedBy:
      return "INVALID_GRANTED_BY";
    case GrantStatus::LimitReached:
      return "LIMIT_REACHED";
    case GrantStatus::Overloaded:
      return "OVERLOADED";
    case GrantStatus::StorageFailed:
      return "STORAGE_FAILED";
  }
  return "STORAGE_FAILED";
}

std::string_view revokeStatusName(RevokeStatus status) noexcept {
  switch (status) {
    case RevokeStatus::Revoked:
      return "REVOKED";
    case RevokeStatus::NotFound:
      return "NOT_FOUND";
    case RevokeStatus::NotOwner:
      return "NOT_OWNER";
    case RevokeStatus::AlreadyRevoked:
      return "ALREADY_REVOKED";
    case RevokeStatus::Overloaded:
      return "OVERLOADED";
    case RevokeStatus::StorageFailed:
      return "STORAGE_FAILED";
  }
  return "STORAGE_FAILED";
}

GrantStatus validateRequest(const ConsentRequest& request, Clock::time_point now) {
  if (request.subject.kind != common::SubjectKind::Iin ||
      !common::isValidIinBin(request.subject.digits)) {
    return GrantStatus::InvalidSubject;
  }
  if (!common::isValidSystemId(request.client)) return GrantStatus::InvalidClient;
  const auto& services = request.services;
  if (services.empty() || services.size() > kMaxServicesPerConsent) {
    return GrantStatus::InvalidServices;
  }
  for (std::size_t i = 0; i < services.size(); ++i) {
    if (!common::isValidServiceId(services[i])) return GrantStatus::InvalidServices;
    // A duplicate is a client bug; rejecting it keeps stored consents canonical. n ≤ 64.
    if (std::find(services.begin(), services.begin() + static_cast<std::ptrdiff_t>(i),
                  services[i]) != services.begin() + static_cast<std::ptrdiff_t>(i)) {
      return GrantStatus::InvalidServices;
    }
  }
  if (!common::isValidPurposeCode(request.purpose)) return GrantStatus::InvalidPurpose;
  if (request.expires <= now || request.expires - now > kMaxConsentLifetime) {
    return GrantStatus::InvalidExpires;
  }
  if (!isValidGrantedBy(request.granted_by)) return GrantStatus::InvalidGrantedBy;
  return GrantStatus::Granted;
}

ConsentCheck checkConsent(const Consent& consent, const common::SubjectId& subject,
                          std::string_view client, std::string_view service,
                          std::string_view purpose, Clock::time_point now) noexcept {
  if (!sameSubject(consent.subject, subject)) return ConsentCheck::SubjectMismatch;
  if (consent.client != client) return ConsentCheck::ClientMismatch;
  if (consent.revoked_at) return ConsentCheck::Revoked;
  if (now >= consent.expires) return ConsentCheck::Expired;
  if (std::find(consent.services.begin(), consent.services.end(), service) ==
      consent.services.end()) {
    return ConsentCheck::ServiceNotCovered;
  }
  if (consent.purpose != purpose) return ConsentCheck::PurposeMismatch;
  return ConsentCheck::Active;
}

}  // namespace qaqpa::consent
