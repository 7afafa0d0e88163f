#include "gateway/consent/redis_consent_store.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include <boost/asio/this_coro.hpp>

#include "gateway/common/log.h"
#include "gateway/consent/redis_consent_keys.h"

namespace qaqpa::consent {
namespace {

namespace asio = boost::asio;
using adapters::redis::RedisArgv;
using adapters::redis::RedisReply;
using adapters::redis::RedisScript;
using adapters::redis::RedisValue;

// Hash fields of a consent. services: the ids joined by one space (service ids have none).
constexpr std::string_view kId = "id";
constexpr std::string_view kSubject = "subject";
constexpr std::string_view kClient = "client";
constexpr std::string_view kServices = "services";
constexpr std::string_view kPurpose = "purpose";
constexpr std::string_view kGrantedAt = "granted_at";
constexpr std::string_view kExpires = "expires";
constexpr std::string_view kGrantedBy = "granted_by";
constexpr std::string_view kRevokedAt = "revoked_at";

// KEYS: consent hash, active set, index. ARGV: now ms, limit, id, granted_at ms, expires ms, then
// the hash's field/value pairs. Answers 1 (granted), 0 (limit reached), -1 (id already used).
const RedisScript& grantScript() {
  static const RedisScript s(R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
)lua");
  return s;
}

// KEYS: consent hash, active set. ARGV: revoked_at ms, id. Answers {0} when absent, else
// {1 (revoked now) | 2 (already revoked), field, value, ...} of the stored hash.
const RedisScript& revokeScript() {
  static const RedisScript s(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local status = 2
if not redis.call('HGET', KEYS[1], 'revoked_at') then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  status = 1
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, status)
return out
)lua");
  return s;
}

std::int64_t toMillis(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Clock::time_point fromMillis(std::int64_t ms) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}
Clock::time_point floorMillis(Clock::time_point t) { return fromMillis(toMillis(t)); }

std::optional<std::int64_t> parseMillis(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool validIin(const common::SubjectId& s) {
  return s.kind == common::SubjectKind::Iin && s.digits.size() == 12 &&
         std::all_of(s.digits.begin(), s.digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Only canonical UUID text reaches a key (a consent id comes from a header or a path).
bool canonicalId(std::string_view id) {
  const std::optional<common::Uuid> u = common::parseUuid(id);
  return u && common::toString(*u) == id;
}

// The consent of a HGETALL answer (field, value, ... from `first`); nullopt when malformed.
std::optional<Consent> decode(std::span<const RedisValue> pairs) {
  if (pairs.size() % 2 != 0) return std::nullopt;
  Consent c;
  bool granted_at = false;
  bool expires = false;
  std::string subject;
  for (std::size_t i = 0; i + 1 < pairs.size(); i += 2) {
    const std::string& f = pairs[i].str;
    const std::string& v = pairs[i + 1].str;
    if (f == kId) {
      c.id = v;
    } else if (f == kSubject) {
      subject = v;
    } else if (f == kClient) {
      c.client = v;
    } else if (f == kServices) {
      std::string_view rest = v;
      while (!rest.empty()) {
        const auto sp = rest.find(' ');
        c.services.emplace_back(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      }
    } else if (f == kPurpose) {
      c.purpose = v;
    } else if (f == kGrantedBy) {
      c.granted_by = v;
    } else if (f == kGrantedAt || f == kExpires || f == kRevokedAt) {
      const std::optional<std::int64_t> ms = parseMillis(v);
      if (!ms) return std::nullopt;
      if (f == kGrantedAt) {
        c.granted_at = fromMillis(*ms);
        granted_at = true;
      } else if (f == kExpires) {
        c.expires = fromMillis(*ms);
        expires = true;
      } else {
        c.revoked_at = fromMillis(*ms);
      }
    }
  }
  c.subject.kind = common::SubjectKind::Iin;
  c.subject.digits = std::move(subject);
  if (c.id.empty() || !validIin(c.subject) || c.client.empty() || c.services.empty() ||
      !granted_at || !expires) {
    return std::nullopt;
  }
  return c;
}

std::optional<Consent> decodeReply(const RedisValue& v) {
  if (!v.isArray()) return std::nullopt;
  return decode(std::span<const RedisValue>(v.elements));
}

void logMalformed(std::string_view key) {
  common::log(common::LogLevel::Error, "consent in Redis is malformed; treated as absent",
              {{"key", key}});
}

}  // namespace

struct RedisConsentStore::Worker {
  const asio::execution_context* context = nullptr;
  adapters::redis::RedisClient* client = nullptr;
  common::UuidV7Generator ids;  // this worker's thread only
};

RedisConsentStore::RedisConsentStore(const common::TimeSource& time,
                                     RedisConsentStoreOptions options)
    : time_(time), options_(options) {}

RedisConsentStore::~RedisConsentStore() = default;

void RedisConsentStore::addClient(asio::execution_context& context,
                                  adapters::redis::RedisClient& client) {
  auto w = std::make_unique<Worker>();
  w->context = &context;
  w->client = &client;
  workers_.push_back(std::move(w));
}

RedisConsentStore::Worker* RedisConsentStore::workerOf(const asio::any_io_executor& ex) const {
  const asio::execution_context* context = &asio::query(ex, asio::execution::context);
  for (const auto& w : workers_) {
    if (w->context == context) return w.get();
  }
  return nullptr;
}

adapters::redis::RedisDeadline RedisConsentStore::deadline() const {
  return std::chrono::steady_clock::now() + options_.timeout;
}

asio::awaitable<ConsentCheck> RedisConsentStore::check(
    std::string_view consent_id, const common::SubjectId& subject, std::string_view client,
    std::string_view service, std::string_view purpose, Clock::time_point now) const {
  if (!validIin(subject) || !canonicalId(consent_id)) co_return ConsentCheck::NotFound;
  Worker* w = workerOf(co_await asio::this_coro::executor);
  if (w == nullptr) co_return ConsentCheck::Unavailable;
  const std::string key = consentKey(subject.digits, consent_id);
  const RedisReply r = co_await w->client->exec(deadline(), "HGETALL", key);
  if (!r.ok() || !r.value.isArray()) co_return ConsentCheck::Unavailable;
  if (r.value.elements.empty()) co_return ConsentCheck::NotFound;
  const std::optional<Consent> c = decodeReply(r.value);
  if (!c || c->id != consent_id || c->subject.digits != subject.digits) {
    logMalformed(key);
    co_return ConsentCheck::NotFound;
  }
  co_return checkConsent(*c, subject, client, service, purpose, now);
}

asio::awaitable<ConsentList> RedisConsentStore::listBySubject(
    const common::SubjectId& subject) const {
  if (!validIin(subject)) co_return ConsentList{};
  Worker* w = workerOf(co_await asio::this_coro::executor);
  if (w == nullptr) co_return ConsentList{false, {}};
  const std::string index = subjectConsentsKey(subject.digits);
  const std::string last = std::to_string(kMaxListed - 1);
  const RedisReply ids = co_await w->client->exec(deadline(), "ZREVRANGE", index, "0", last);
  if (!ids.ok() || !ids.value.isArray()) co_return ConsentList{false, {}};
  ConsentList out;
  if (ids.value.elements.empty()) co_return out;
  std::vector<std::string> keys;
  keys.reserve(ids.value.elements.size());
  for (const RedisValue& id : ids.value.elements) {
    keys.push_back(consentKey(subject.digits, id.str));
  }
  std::vector<RedisArgv> batch;
  batch.reserve(keys.size());
  for (const std::string& k : keys) batch.push_back(RedisArgv{"HGETALL", k});
  const std::vector<RedisReply> replies = co_await w->client->execBatch(batch, deadline());
  if (replies.size() != keys.size()) co_return ConsentList{false, {}};
  out.consents.reserve(replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].ok() || !replies[i].value.isArray()) co_return ConsentList{false, {}};
    if (replies[i].value.elements.empty()) continue;  // an index entry without its hash
    std::optional<Consent> c = decodeReply(replies[i].value);
    if (!c || c->subject.digits != subject.digits) {
      logMalformed(keys[i]);
      continue;
    }
    out.consents.push_back(std::move(*c));
  }
  std::sort(out.consents.begin(), out.consents.end(), [](const Consent& a, const Consent& b) {
    return a.granted_at != b.granted_at ? a.granted_at > b.granted_at : a.id > b.id;
  });
  co_return out;
}

asio::awaitable<ConsentLookup> RedisConsentStore::find(std::string_view id) const {
  if (!canonicalId(id)) co_return ConsentLookup{};
  Worker* w = workerOf(co_await asio::this_coro::executor);
  if (w == nullptr) co_return ConsentLookup{false, {}};
  const std::string subject_key = consentSubjectKey(id);
  const RedisReply subject = co_await w->client->exec(deadline(), "GET", subject_key);
  if (!subject.ok()) co_return ConsentLookup{false, {}};
  if (!subject.value.isString()) co_return ConsentLookup{};
  const std::string key = consentKey(subject.value.str, id);
  const RedisReply r = co_await w->client->exec(deadline(), "HGETALL", key);
  if (!r.ok() || !r.value.isArray()) co_return ConsentLookup{false, {}};
  if (r.value.elements.empty()) co_return ConsentLookup{};
  std::optional<Consent> c = decodeReply(r.value);
  if (!c || c->id != id) {
    logMalformed(key);
    co_return ConsentLookup{};
  }
  co_return ConsentLookup{true, std::move(c)};
}

asio::awaitable<GrantResult> RedisConsentStore::grant(ConsentRequest request) {
  const Clock::time_point now = floorMillis(time_.now());
  if (const GrantStatus v = validateRequest(request, now); v != GrantStatus::Granted) {
    co_return GrantResult{v, std::nullopt};
  }
  Worker* w = workerOf(co_await asio::this_coro::executor);
  if (w == nullptr) co_return GrantResult{GrantStatus::StorageFailed, std::nullopt};
  Consent c;
  c.id = common::toString(w->ids.next(static_cast<std::uint64_t>(toMillis(now))));
  c.subject = std::move(request.subject);
  c.client = std::move(request.client);
  c.services = std::move(request.services);
  c.purpose = std::move(request.purpose);
  c.granted_at = now;
  c.expires = floorMillis(request.expires);
  c.granted_by = std::move(request.granted_by);
  const std::string& iin = c.subject.digits;

  // The id → subject key first: a consent is never without it (find needs it); a refused grant
  // removes it again.
  const std::string subject_key = consentSubjectKey(c.id);
  const RedisReply mapped = co_await w->client->exec(deadline(), "SET", subject_key, iin);
  if (!mapped.ok()) co_return GrantResult{GrantStatus::StorageFailed, std::nullopt};

  std::string services;
  for (const std::string& s : c.services) {
    if (!services.empty()) services.push_back(' ');
    services += s;
  }
  const std::string now_ms = std::to_string(toMillis(now));
  const std::string limit = std::to_string(options_.max_active_per_subject);
  const std::string expires_ms = std::to_string(toMillis(c.expires));
  const std::array<std::string, 3> keys_owned = {consentKey(iin, c.id), subjectActiveKey(iin),
                                                 subjectConsentsKey(iin)};
  const std::array<std::string_view, 3> keys = {keys_owned[0], keys_owned[1], keys_owned[2]};
  const std::array<std::string_view, 21> args = {
      now_ms,    limit,      c.id,    now_ms,   expires_ms, kId,        c.id,
      kSubject,  iin,        kClient, c.client, kServices,  services,   kPurpose,
      c.purpose, kGrantedAt, now_ms,  kExpires, expires_ms, kGrantedBy, c.granted_by};
  const RedisReply r = co_await w->client->evalScript(grantScript(), keys, args, deadline());
  if (!r.ok() || !r.value.isInteger()) {
    common::log(
        common::LogLevel::Warn, "consent grant: Redis gave no answer",
        {{"consent", c.id},
         {"error", r.errc == adapters::redis::RedisErrc::Ok ? std::string_view(r.value.str)
                                                            : adapters::redis::errcName(r.errc)}});
    co_return GrantResult{GrantStatus::StorageFailed, std::nullopt};
  }
  if (r.value.integer != 1) {
    co_await w->client->exec(deadline(), "DEL", subject_key);  // best effort
    if (r.value.integer == 0) co_return GrantResult{GrantStatus::LimitReached, std::nullopt};
    co_return GrantResult{GrantStatus::StorageFailed, std::nullopt};  // id collision: never
  }
  co_return GrantResult{GrantStatus::Granted, std::move(c)};
}

asio::awaitable<RevokeResult> RedisConsentStore::revoke(std::string_view id,
                                                        const common::SubjectId& by_subject) {
  return revokeOwned(std::string(id), by_subject);
}

asio::awaitable<RevokeResult> RedisConsentStore::revokeOwned(std::string id,
                                                             common::SubjectId by_subject) {
  if (!canonicalId(id) || !validIin(by_subject)) co_return RevokeResult{RevokeStatus::NotFound, {}};
  Worker* w = workerOf(co_await asio::this_coro::executor);
  if (w == nullptr) co_return RevokeResult{RevokeStatus::StorageFailed, {}};
  const std::string& iin = by_subject.digits;
  const std::string revoked_ms = std::to_string(toMillis(floorMillis(time_.now())));
  const std::array<std::string, 2> keys_owned = {consentKey(iin, id), subjectActiveKey(iin)};
  const std::array<std::string_view, 2> keys = {keys_owned[0], keys_owned[1]};
  const std::array<std::string_view, 2> args = {revoked_ms, id};
  const RedisReply r = co_await w->client->evalScript(revokeScript(), keys, args, deadline());
  if (!r.ok() || !r.value.isArray() || r.value.elements.empty() ||
      !r.value.elements[0].isInteger()) {
    co_return RevokeResult{RevokeStatus::StorageFailed, {}};
  }
  const long long status = r.value.elements[0].integer;
  if (status == 0) {
    // Not this subject's: someone else's (NotOwner) or nobody's (NotFound).
    const std::string subject_key = consentSubjectKey(id);
    const RedisReply owner = co_await w->client->exec(deadline(), "GET", subject_key);
    if (!owner.ok()) co_return RevokeResult{RevokeStatus::StorageFailed, {}};
    const bool someone_elses = owner.value.isString() && owner.value.str != iin;
    co_return RevokeResult{someone_elses ? RevokeStatus::NotOwner : RevokeStatus::NotFound, {}};
  }
  std::optional<Consent> c = decode(std::span<const RedisValue>(r.value.elements).subspan(1));
  if (!c) {
    logMalformed(keys_owned[0]);
    co_return RevokeResult{RevokeStatus::StorageFailed, {}};
  }
  const RevokeStatus done = status == 1 ? RevokeStatus::Revoked : RevokeStatus::AlreadyRevoked;
  co_return RevokeResult{done, std::move(c)};
}

}  // namespace qaqpa::consent
