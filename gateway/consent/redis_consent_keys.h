// Redis key layout of the consents shared by gateway replicas (RedisConsentStore, README.md
// "Redis store"). Every key of one citizen carries the hash tag {subj:<IIN>}, so the grant and
// revoke scripts (which touch a consent and its subject's indexes) stay on one Redis Cluster slot;
// the id → subject key has its own tag and is never used in a script with the others.
//
//   qaqpa:{subj:<IIN>}:consent:<id>      hash: the consent (fields in redis_consent_store.cc)
//   qaqpa:{subj:<IIN>}:consents          sorted set: every consent id of the subject, score =
//                                        granted_at (Unix ms); the list, newest first
//   qaqpa:{subj:<IIN>}:consents:active   sorted set: unrevoked ids, score = expires (Unix ms);
//                                        expired ones are dropped by the next grant script; its
//                                        size is what max_active_per_subject bounds
//   qaqpa:{consent:<id>}:subject         string: the subject's IIN, for find(id) without one
//
// <IIN> is 12 digits and <id> a canonical UUID (the store checks both before building a key), so
// no key can carry '{' or '}'. Pure functions: any thread, no blocking.
#pragma once

#include <string>
#include <string_view>

namespace qaqpa::consent {

std::string consentKey(std::string_view iin, std::string_view id);
std::string subjectConsentsKey(std::string_view iin);
std::string subjectActiveKey(std::string_view iin);
std::string consentSubjectKey(std::string_view id);

}  // namespace qaqpa::consent
