// Valid identifiers shared by the consent tests.
#pragma once

#include <chrono>
#include <string>

#include "gateway/common/ids.h"
#include "gateway/consent/consent_store.h"

namespace qaqpa::consent::test_values {

inline common::SubjectId iin(const char* digits) {
  return common::SubjectId{common::SubjectKind::Iin, digits};
}
inline const common::SubjectId kAlice = iin("900101300017");
inline const common::SubjectId kBob = iin("850615300129");
inline const std::string kClient = "KZ/GOV/240140000021/tax-service";
inline const std::string kOtherClient = "KZ/GOV/240140000031/social-benefits";

inline ConsentRequest request(const common::SubjectId& subject,
                              std::chrono::system_clock::time_point expires) {
  ConsentRequest r;
  r.subject = subject;
  r.client = kClient;
  r.services = {"person.byIin", "person.address"};
  r.purpose = "TAX_AUDIT";
  r.expires = expires;
  return r;
}

}  // namespace qaqpa::consent::test_values
