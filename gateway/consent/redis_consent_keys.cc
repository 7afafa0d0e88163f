#include "gateway/consent/redis_consent_keys.h"

namespace qaqpa::consent {
namespace {

std::string subjectPrefix(std::string_view iin) {
  std::string key = "qaqpa:{subj:";
  key.append(iin);
  key.append("}:");
  return key;
}

}  // namespace

std::string consentKey(std::string_view iin, std::string_view id) {
  std::string key = subjectPrefix(iin);
  key.append("consent:");
  key.append(id);
  return key;
}

std::string subjectConsentsKey(std::string_view iin) { return subjectPrefix(iin) + "consents"; }

std::string subjectActiveKey(std::string_view iin) {
  return subjectPrefix(iin) + "consents:active";
}

std::string consentSubjectKey(std::string_view id) {
  std::string key = "qaqpa:{consent:";
  key.append(id);
  key.append("}:subject");
  return key;
}

}  // namespace qaqpa::consent
