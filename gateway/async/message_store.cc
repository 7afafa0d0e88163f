#include "gateway/async/message_store.h"

#include <openssl/evp.h>

#include <array>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/async/async_keys.h"

namespace qaqpa::async {
namespace {

namespace json = boost::json;
using adapters::redis::RedisErrc;
using adapters::redis::RedisReply;
using adapters::redis::RedisScript;
using adapters::redis::RedisValue;

// Shared Lua prelude: Redis's clock in ms, finality, and acknowledging the entry being worked on.
#define QAQPA_ASYNC_LUA_PRELUDE                                              \
  "local function now_ms() local t = redis.call('TIME') "                    \
  "return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end\n"   \
  "local function final(s) return s == 'DELIVERED' or s == 'NOT_DELIVERED' " \
  "or s == 'DELIVERY_STOPPED' end\n"

// The dispatcher's scripts: KEYS[1] = message, KEYS[2] = stream, ARGV[1] = group, ARGV[2] = entry
// id. ack() settles the stream entry. For an attempt's outcome (ARGV[3] = attempt number),
// outcome_guard(st) is the reply when the message is gone or final (entry acked) or the attempt is
// no longer the current one (a claimed entry's late outcome), nil when the outcome may be stored.
#define QAQPA_ASYNC_LUA_ENTRY_PRELUDE                                                          \
  QAQPA_ASYNC_LUA_PRELUDE                                                                      \
  "local function ack() redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]) "                        \
  "redis.call('XDEL', KEYS[2], ARGV[2]) end\n"                                                 \
  "local function outcome_guard(st)\n"                                                         \
  "  if not st then ack() return {'GONE', 0, ''} end\n"                                        \
  "  if final(st) then ack() return {'FINAL', 0, st} end\n"                                    \
  "  if redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[3] then return {'STALE', 0, st} end\n" \
  "  return nil\n"                                                                             \
  "end\n"

// KEYS: msg, stream, delayed. ARGV: fingerprint, request json, body, max_queued.
const RedisScript& submitScript() {
  static const RedisScript s(QAQPA_ASYNC_LUA_PRELUDE R"lua(
local st = redis.call('HGET', KEYS[1], 'state')
if st then
  if redis.call('HGET', KEYS[1], 'fp') == ARGV[1] then return {'EXISTS', st} end
  return {'CONFLICT', st}
end
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('XLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) >= limit then
  return {'FULL', ''}
end
redis.call('HSET', KEYS[1], 'state', 'QUEUED', 'attempts', '0', 'fp', ARGV[1], 'req', ARGV[2],
           'body', ARGV[3], 'sub_ms', tostring(now_ms()))
redis.call('XADD', KEYS[2], '*', 'k', KEYS[1])
return {'CREATED', 'QUEUED'}
)lua");
  return s;
}

// KEYS: msg, stream. ARGV: group, entry id, consumer, ttl ms.
const RedisScript& beginScript() {
  static const RedisScript s(QAQPA_ASYNC_LUA_ENTRY_PRELUDE R"lua(
local st = redis.call('HGET', KEYS[1], 'state')
if not st then ack() return {'GONE'} end
if final(st) then ack() return {'FINAL', st} end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then
  redis.call('HSET', KEYS[1], 'state', 'DELIVERY_STOPPED', 'fin_ms', tostring(now_ms()))
  redis.call('HDEL', KEYS[1], 'body')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  ack()
  return {'STOPPED'}
end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'DISPATCHED', 'by', ARGV[3], 'entry', ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'req', 'body', 'sub_ms')
return {'GO', n, v[1] or '', v[2] or '', v[3] or '0'}
)lua");
  return s;
}

// KEYS: msg, stream. ARGV: group, entry id, attempt, outcome, ttl ms, field, value, ...
const RedisScript& finishScript() {
  static const RedisScript s(QAQPA_ASYNC_LUA_ENTRY_PRELUDE R"lua(
local st = redis.call('HGET', KEYS[1], 'state')
local settled = outcome_guard(st)
if settled then return settled end
local outcome = ARGV[4]
if outcome ~= 'DELIVERED' and redis.call('HGET', KEYS[1], 'cancel') == '1' then
  outcome = 'DELIVERY_STOPPED'
end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', outcome, 'fin_ms', tostring(now))
redis.call('HDEL', KEYS[1], 'body')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
ack()
return {'DONE', now - tonumber(redis.call('HGET', KEYS[1], 'sub_ms') or now), outcome}
)lua");
  return s;
}

// KEYS: msg, stream, delayed. ARGV: group, entry id, attempt, delay ms, ttl ms, problem json.
const RedisScript& retryScript() {
  static const RedisScript s(QAQPA_ASYNC_LUA_ENTRY_PRELUDE R"lua(
local st = redis.call('HGET', KEYS[1], 'state')
local settled = outcome_guard(st)
if settled then return settled end
local now = now_ms()
if redis.call('HGET', KEYS[1], 'cancel') == '1' then
  redis.call('HSET', KEYS[1], 'state', 'DELIVERY_STOPPED', 'pb', ARGV[6], 'fin_ms', tostring(now))
  redis.call('HDEL', KEYS[1], 'body')
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  ack()
  return {'STOPPED', now - tonumber(redis.call('HGET', KEYS[1], 'sub_ms') or now), 'DELIVERY_STOPPED'}
end
local due = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'state', 'QUEUED', 'pb', ARGV[6], 'retry_at', tostring(due))
redis.call('ZADD', KEYS[3], due, KEYS[1])
ack()
return {'RETRY', 0, 'QUEUED'}
)lua");
  return s;
}

// KEYS: delayed, stream. ARGV: limit. The message keys read from the ZSET are of the same
// partition, hence the same slot, as the declared keys.
const RedisScript& dueScript() {
  static const RedisScript s(QAQPA_ASYNC_LUA_PRELUDE R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, k in ipairs(due) do
  redis.call('ZREM', KEYS[1], k)
  if redis.call('HGET', k, 'state') == 'QUEUED' then redis.call('XADD', KEYS[2], '*', 'k', k) end
end
return #due
)lua");
  return s;
}

// KEYS: msg, delayed. ARGV: ttl ms.
const RedisScript& cancelScript() {
  static const RedisScript s(QAQPA_ASYNC_LUA_PRELUDE R"lua(
local st = redis.call('HGET', KEYS[1], 'state')
local n = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if not st then return {'NOTFOUND', '', 0} end
if final(st) then return {'FINAL', st, n} end
redis.call('HSET', KEYS[1], 'cancel', '1')
if st == 'DISPATCHED' then return {'REQUESTED', st, n} end
redis.call('HSET', KEYS[1], 'state', 'DELIVERY_STOPPED', 'fin_ms', tostring(now_ms()))
redis.call('HDEL', KEYS[1], 'body')
redis.call('ZREM', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {'STOPPED', 'DELIVERY_STOPPED', n}
)lua");
  return s;
}

#undef QAQPA_ASYNC_LUA_PRELUDE

// Element i of an array reply as text ("" when absent or not a string/status).
std::string textAt(const RedisValue& v, std::size_t i) {
  if (!v.isArray() || i >= v.elements.size()) return {};
  const RedisValue& e = v.elements[i];
  if (e.isInteger()) return std::to_string(e.integer);
  return e.str;
}

long long intAt(const RedisValue& v, std::size_t i) {
  if (!v.isArray() || i >= v.elements.size()) return 0;
  const RedisValue& e = v.elements[i];
  if (e.isInteger()) return e.integer;
  try {
    return e.str.empty() ? 0 : std::stoll(e.str);
  } catch (...) {
    return 0;
  }
}

// [[id, [field, value, ...]], ...] → entries whose field k is set.
void collectEntries(const RedisValue& list, unsigned partition, std::vector<Entry>& out) {
  if (!list.isArray()) return;
  for (const RedisValue& item : list.elements) {
    if (!item.isArray() || item.elements.size() < 2) continue;
    const RedisValue& fields = item.elements[1];
    if (!fields.isArray()) continue;  // deleted entry
    for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
      if (fields.elements[i].str == "k") {
        out.push_back(Entry{partition, item.elements[0].str, fields.elements[i + 1].str});
        break;
      }
    }
  }
}

std::string hexSha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

FinishResult finishResultOf(const RedisReply& r) {
  FinishResult out;
  if (!r.ok() || !r.value.isArray()) return out;
  const std::string tag = textAt(r.value, 0);
  out.latency_ms = intAt(r.value, 1);
  out.state = textAt(r.value, 2);
  if (tag == "DONE") {
    out.outcome = out.state == "DELIVERY_STOPPED" ? FinishOutcome::Stopped : FinishOutcome::Done;
  } else if (tag == "STOPPED") {
    out.outcome = FinishOutcome::Stopped;
  } else if (tag == "RETRY") {
    out.outcome = FinishOutcome::Retrying;
  } else if (tag == "FINAL") {
    out.outcome = FinishOutcome::AlreadyFinal;
  } else if (tag == "STALE") {
    out.outcome = FinishOutcome::Stale;
  } else if (tag == "GONE") {
    out.outcome = FinishOutcome::Gone;
  }
  return out;
}

}  // namespace

std::string StoredRequest::toJson() const {
  json::array h;
  for (const auto& [name, value] : headers) h.push_back(json::array{name, value});
  json::object o{{"m", method},       {"s", service_id},   {"p", service_path},
                 {"q", query},        {"h", std::move(h)}, {"z", config::zoneName(zone)},
                 {"c", client},       {"mid", message_id}, {"cid", correlation_id},
                 {"sub", subject},    {"pur", purpose},    {"act", actor},
                 {"con", consent_id}, {"lang", lang}};
  return json::serialize(o);
}

std::optional<StoredRequest> StoredRequest::fromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  StoredRequest r;
  r.method = str(o, "m");
  r.service_id = str(o, "s");
  r.service_path = str(o, "p");
  r.query = str(o, "q");
  const auto zone = config::parseZone(str(o, "z"));
  if (!zone || r.method.empty() || r.service_id.empty()) return std::nullopt;
  r.zone = *zone;
  r.client = str(o, "c");
  r.message_id = str(o, "mid");
  r.correlation_id = str(o, "cid");
  r.subject = str(o, "sub");
  r.purpose = str(o, "pur");
  r.actor = str(o, "act");
  r.consent_id = str(o, "con");
  r.lang = str(o, "lang");
  if (const json::value* h = o.if_contains("h"); h != nullptr && h->is_array()) {
    for (const json::value& pair : h->as_array()) {
      if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string() ||
          !pair.as_array()[1].is_string()) {
        return std::nullopt;
      }
      r.headers.emplace_back(std::string(pair.as_array()[0].as_string()),
                             std::string(pair.as_array()[1].as_string()));
    }
  }
  return r;
}

std::string requestFingerprint(const StoredRequest& r, std::string_view body) {
  std::string text;
  text.reserve(r.method.size() + r.service_id.size() + r.service_path.size() + r.query.size() + 80);
  for (std::string_view part : {std::string_view(r.method), std::string_view(r.service_id),
                                std::string_view(r.service_path), std::string_view(r.query)}) {
    text.append(std::to_string(part.size()));
    text.push_back(':');
    text.append(part);
  }
  text.append(hexSha256(body));
  return hexSha256(text);
}

MessageStore::MessageStore(adapters::redis::RedisClient& redis, const config::AsyncConfig& settings,
                           std::chrono::milliseconds timeout)
    : redis_(redis), settings_(settings), timeout_(timeout) {}

Deadline MessageStore::deadline() const { return std::chrono::steady_clock::now() + timeout_; }

boost::asio::awaitable<SubmitResult> MessageStore::submit(const StoredRequest& request,
                                                          std::string_view body) {
  SubmitResult out;
  const auto id = common::parseUuid(request.message_id);
  if (!id) co_return out;
  const unsigned p = partitionOf(request.client, *id, settings_.partitions);
  const std::string msg = messageKey(p, request.client, *id);
  const std::string stream = streamKey(p);
  const std::string delayed = delayedKey(p);
  const std::string fp = requestFingerprint(request, body);
  const std::string req = request.toJson();
  const std::string limit = std::to_string(settings_.max_queued);
  const std::array<std::string_view, 3> keys{msg, stream, delayed};
  const std::array<std::string_view, 4> args{fp, req, body, limit};
  const RedisReply r = co_await redis_.evalScript(submitScript(), keys, args, deadline());
  if (!r.ok() || !r.value.isArray()) co_return out;
  const std::string tag = textAt(r.value, 0);
  out.state = textAt(r.value, 1);
  if (tag == "CREATED") {
    out.outcome = SubmitOutcome::Created;
  } else if (tag == "EXISTS") {
    out.outcome = SubmitOutcome::Exists;
  } else if (tag == "CONFLICT") {
    out.outcome = SubmitOutcome::Conflict;
  } else if (tag == "FULL") {
    out.outcome = SubmitOutcome::Full;
  }
  co_return out;
}

boost::asio::awaitable<LookupResult> MessageStore::lookup(std::string_view client,
                                                          const common::Uuid& message_id) {
  LookupResult out;
  const unsigned p = partitionOf(client, message_id, settings_.partitions);
  const std::string msg = messageKey(p, client, message_id);
  const RedisReply r = co_await redis_.exec(deadline(), "HMGET", msg, "state", "attempts", "cancel",
                                            "rs", "rct", "rh", "rb", "pb");
  if (!r.ok() || !r.value.isArray()) co_return out;
  out.ok = true;
  const RedisValue& v = r.value;
  if (v.elements.empty() || v.elements[0].isNil()) co_return out;
  MessageStatus s;
  s.state = textAt(v, 0);
  s.attempts = intAt(v, 1);
  s.cancel_requested = textAt(v, 2) == "1";
  s.result_status = static_cast<int>(intAt(v, 3));
  s.content_type = textAt(v, 4);
  s.headers_json = textAt(v, 5);
  s.body = textAt(v, 6);
  s.problem_json = textAt(v, 7);
  out.found = std::move(s);
  co_return out;
}

boost::asio::awaitable<CancelResult> MessageStore::cancel(std::string_view client,
                                                          const common::Uuid& message_id) {
  CancelResult out;
  const unsigned p = partitionOf(client, message_id, settings_.partitions);
  const std::string msg = messageKey(p, client, message_id);
  const std::string delayed = delayedKey(p);
  const std::string ttl = std::to_string(settings_.result_ttl.count());
  const std::array<std::string_view, 2> keys{msg, delayed};
  const std::array<std::string_view, 1> args{ttl};
  const RedisReply r = co_await redis_.evalScript(cancelScript(), keys, args, deadline());
  if (!r.ok() || !r.value.isArray()) co_return out;
  const std::string tag = textAt(r.value, 0);
  out.state = textAt(r.value, 1);
  out.attempts = intAt(r.value, 2);
  if (tag == "STOPPED") {
    out.outcome = CancelOutcome::Stopped;
  } else if (tag == "REQUESTED") {
    out.outcome = CancelOutcome::Requested;
  } else if (tag == "FINAL") {
    out.outcome = CancelOutcome::AlreadyFinal;
  } else if (tag == "NOTFOUND") {
    out.outcome = CancelOutcome::NotFound;
  }
  co_return out;
}

boost::asio::awaitable<bool> MessageStore::ensureGroups() {
  std::vector<std::string> streams;
  for (unsigned p = 0; p < settings_.partitions; ++p) streams.push_back(streamKey(p));
  std::vector<adapters::redis::RedisArgv> commands;
  for (const std::string& s : streams) {
    commands.push_back({"XGROUP", "CREATE", s, kConsumerGroup, "0", "MKSTREAM"});
  }
  const auto replies = co_await redis_.execBatch(commands, deadline());
  for (const RedisReply& r : replies) {
    if (r.errc != RedisErrc::Ok) co_return false;
    if (r.value.isError() && !r.value.str.starts_with("BUSYGROUP")) co_return false;
  }
  co_return replies.size() == commands.size();
}

boost::asio::awaitable<std::vector<Entry>> MessageStore::readNew(std::string_view consumer,
                                                                 std::size_t count, bool& ok) {
  std::vector<Entry> out;
  ok = false;
  if (count == 0) {
    ok = true;
    co_return out;
  }
  const std::string n = std::to_string(count);
  std::vector<std::string> streams;
  for (unsigned p = 0; p < settings_.partitions; ++p) streams.push_back(streamKey(p));
  std::vector<adapters::redis::RedisArgv> commands;
  for (const std::string& s : streams) {
    commands.push_back(
        {"XREADGROUP", "GROUP", kConsumerGroup, consumer, "COUNT", n, "STREAMS", s, ">"});
  }
  const auto replies = co_await redis_.execBatch(commands, deadline());
  bool any = false;
  for (std::size_t p = 0; p < replies.size(); ++p) {
    const RedisReply& r = replies[p];
    if (!r.ok()) continue;
    any = true;
    if (!r.value.isArray()) continue;  // nil: nothing new
    for (const RedisValue& stream : r.value.elements) {
      if (stream.isArray() && stream.elements.size() == 2) {
        collectEntries(stream.elements[1], static_cast<unsigned>(p), out);
      }
    }
  }
  ok = any;
  co_return out;
}

boost::asio::awaitable<std::vector<Entry>> MessageStore::claimIdle(
    unsigned partition, std::string_view consumer, std::chrono::milliseconds min_idle,
    std::size_t count) {
  std::vector<Entry> out;
  const std::string stream = streamKey(partition);
  const std::string idle = std::to_string(min_idle.count());
  const std::string n = std::to_string(count);
  const RedisReply r = co_await redis_.exec(deadline(), "XAUTOCLAIM", stream, kConsumerGroup,
                                            consumer, idle, "0-0", "COUNT", n);
  if (r.ok() && r.value.isArray() && r.value.elements.size() >= 2) {
    collectEntries(r.value.elements[1], partition, out);
  }
  co_return out;
}

boost::asio::awaitable<Attempt> MessageStore::begin(const Entry& entry, std::string_view consumer) {
  Attempt out;
  const std::string stream = streamKey(entry.partition);
  const std::string ttl = std::to_string(settings_.result_ttl.count());
  const std::array<std::string_view, 2> keys{entry.key, stream};
  const std::array<std::string_view, 4> args{kConsumerGroup, entry.id, consumer, ttl};
  RedisReply r = co_await redis_.evalScript(beginScript(), keys, args, deadline());
  if (!r.ok() || !r.value.isArray()) co_return out;
  const std::string tag = textAt(r.value, 0);
  if (tag == "GO" && r.value.elements.size() >= 5) {
    out.kind = Attempt::Kind::Go;
    out.number = intAt(r.value, 1);
    out.request_json = std::move(r.value.elements[2].str);
    out.body = std::move(r.value.elements[3].str);
    out.submitted_ms = intAt(r.value, 4);
  } else if (tag == "FINAL") {
    out.kind = Attempt::Kind::Final;
  } else if (tag == "STOPPED") {
    out.kind = Attempt::Kind::Stopped;
  } else if (tag == "GONE") {
    out.kind = Attempt::Kind::Gone;
  }
  co_return out;
}

boost::asio::awaitable<FinishResult> MessageStore::finish(const Entry& entry, long long attempt,
                                                          std::string_view outcome,
                                                          std::vector<std::string_view> fields) {
  const std::string stream = streamKey(entry.partition);
  const std::string n = std::to_string(attempt);
  const std::string ttl = std::to_string(settings_.result_ttl.count());
  const std::array<std::string_view, 2> keys{entry.key, stream};
  std::vector<std::string_view> args{kConsumerGroup, entry.id, n, outcome, ttl};
  args.insert(args.end(), fields.begin(), fields.end());
  const RedisReply r = co_await redis_.evalScript(finishScript(), keys, args, deadline());
  co_return finishResultOf(r);
}

boost::asio::awaitable<FinishResult> MessageStore::deliver(const Entry& entry, long long attempt,
                                                           int status,
                                                           std::string_view content_type,
                                                           std::string_view headers_json,
                                                           std::string_view body) {
  const std::string s = std::to_string(status);
  // A named vector, not a braced list in the co_await expression (GCC 12, redis_client.h).
  std::vector<std::string_view> fields{"rs",         s,    "rct", content_type, "rh",
                                       headers_json, "rb", body};
  co_return co_await finish(entry, attempt, "DELIVERED", std::move(fields));
}

boost::asio::awaitable<FinishResult> MessageStore::fail(const Entry& entry, long long attempt,
                                                        std::string_view problem_json) {
  std::vector<std::string_view> fields{"pb", problem_json};
  co_return co_await finish(entry, attempt, "NOT_DELIVERED", std::move(fields));
}

boost::asio::awaitable<FinishResult> MessageStore::retry(const Entry& entry, long long attempt,
                                                         std::chrono::milliseconds delay,
                                                         std::string_view problem_json) {
  const std::string stream = streamKey(entry.partition);
  const std::string delayed = delayedKey(entry.partition);
  const std::string n = std::to_string(attempt);
  const std::string d = std::to_string(delay.count());
  const std::string ttl = std::to_string(settings_.result_ttl.count());
  const std::array<std::string_view, 3> keys{entry.key, stream, delayed};
  const std::array<std::string_view, 6> args{kConsumerGroup, entry.id, n, d, ttl, problem_json};
  const RedisReply r = co_await redis_.evalScript(retryScript(), keys, args, deadline());
  co_return finishResultOf(r);
}

boost::asio::awaitable<long long> MessageStore::moveDue(unsigned partition, std::size_t limit) {
  const std::string delayed = delayedKey(partition);
  const std::string stream = streamKey(partition);
  const std::string n = std::to_string(limit);
  const std::array<std::string_view, 2> keys{delayed, stream};
  const std::array<std::string_view, 1> args{n};
  const RedisReply r = co_await redis_.evalScript(dueScript(), keys, args, deadline());
  if (!r.ok() || !r.value.isInteger()) co_return -1;
  co_return r.value.integer;
}

boost::asio::awaitable<long long> MessageStore::depth() {
  std::vector<std::string> keys;
  for (unsigned p = 0; p < settings_.partitions; ++p) {
    keys.push_back(streamKey(p));
    keys.push_back(delayedKey(p));
  }
  std::vector<adapters::redis::RedisArgv> commands;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    commands.push_back(
        {i % 2 == 0 ? std::string_view("XLEN") : std::string_view("ZCARD"), keys[i]});
  }
  const auto replies = co_await redis_.execBatch(commands, deadline());
  long long total = 0;
  for (const RedisReply& r : replies) {
    if (!r.ok() || !r.value.isInteger()) co_return -1;
    total += r.value.integer;
  }
  co_return total;
}

}  // namespace qaqpa::async
