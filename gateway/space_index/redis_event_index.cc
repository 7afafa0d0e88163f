#include "gateway/space_index/redis_event_index.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>
#include <optional>

#include "adapters/redis/redis_client.h"
#include "gateway/common/log.h"
#include "gateway/space_index/redis_index_keys.h"

namespace qaqpa::space_index {
namespace {

namespace asio = boost::asio;
namespace pb = qaqpa::journal::v1;
using adapters::redis::RedisClient;
using adapters::redis::RedisReply;
using adapters::redis::RedisScript;
using adapters::redis::RedisValue;

// One page, in one script run (atomic: appends of other nodes never interleave with it).
// KEYS: the subject's zset and hash. ARGV: cursor ref, cursor score, until µs (exclusive), since
// µs (inclusive), kind, service, client ('' = not set), limit, scan budget.
// Returns {state ('more'|'end'), last ref, last score, ref1, score1, event1, ...}.
const RedisScript& pageScript() {
  static const RedisScript s(R"lua(
local z, h = KEYS[1], KEYS[2]
local cref, cscore, untl, since = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local kind, svc, cli = ARGV[5], ARGV[6], ARGV[7]
local limit, budget = tonumber(ARGV[8]), tonumber(ARGV[9])
local start = 0
if untl ~= '' then start = redis.call('ZCOUNT', z, untl, '+inf') end
if cref ~= '' then
  local r = redis.call('ZREVRANK', z, cref)
  if r then
    if r + 1 > start then start = r + 1 end
  else
    local n = redis.call('ZCOUNT', z, cscore, '+inf')
    if n > start then start = n end
  end
end
local sincen = nil
if since ~= '' then sincen = tonumber(since) end
local filtered = kind ~= '' or svc ~= '' or cli ~= ''
local out = {'end', '', ''}
local found, scanned = 0, 0
local last_ref, last_score = '', ''
local pos, chunk = start, 64
while true do
  local r = redis.call('ZRANGE', z, pos, pos + chunk - 1, 'REV', 'WITHSCORES')
  if #r == 0 then break end
  local stop = false
  for i = 1, #r, 2 do
    local ref, score = r[i], r[i + 1]
    if sincen and tonumber(score) < sincen then stop = true break end
    if scanned >= budget then out[1] = 'more' stop = true break end
    local ok = true
    if filtered then
      local m = redis.call('HGET', h, 'm:' .. ref)
      if not m then
        ok = false
      else
        local k, s, c = string.match(m, '^([^|]*)|([^|]*)|(.*)$')
        if (kind ~= '' and k ~= kind) or (svc ~= '' and s ~= svc) or (cli ~= '' and c ~= cli) then
          ok = false
        end
      end
    end
    if ok and found == limit then out[1] = 'more' stop = true break end
    scanned = scanned + 1
    if ok then
      local ev = redis.call('HGET', h, 'e:' .. ref)
      if ev then
        found = found + 1
        out[#out + 1] = ref
        out[#out + 1] = score
        out[#out + 1] = ev
      end
    end
    last_ref, last_score = ref, score
  end
  if stop or #r < chunk * 2 then break end
  pos = pos + chunk
end
out[2], out[3] = last_ref, last_score
return out
)lua");
  return s;
}

// KEYS: the subject's hash. ARGV: event id. Returns {} or {ref, event bytes, next hash or ''}.
const RedisScript& findScript() {
  static const RedisScript s(R"lua(
local ref = redis.call('HGET', KEYS[1], 'i:' .. ARGV[1])
if not ref then return {} end
local ev = redis.call('HGET', KEYS[1], 'e:' .. ref)
if not ev then return {} end
return {ref, ev, redis.call('HGET', KEYS[1], 'n:' .. ref) or ''}
)lua");
  return s;
}

// KEYS: a node's checkpoint zset and hash. ARGV: seq. The first checkpoint with last_seq ≥ seq.
const RedisScript& checkpointScript() {
  static const RedisScript s(R"lua(
local m = redis.call('ZRANGE', KEYS[1], ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, 1)
if #m == 0 then return false end
return redis.call('HGET', KEYS[2], m[1])
)lua");
  return s;
}

// --- the cursor ---------------------------------------------------------------------------------

constexpr std::uint8_t kCursorVersion = 2;
constexpr std::size_t kMacBytes = 16;
constexpr std::string_view kMacLabel = "qaqpa-space-cursor-v2";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct Position {
  std::int64_t time_us = 0;
  std::string node;
  std::uint64_t seq = 0;
};

void putU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t getU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string base64Url(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char ch : in) {
    acc = (acc << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

// Strict: only the alphabet, no padding, no impossible length, unused low bits zero.
std::optional<std::string> unBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const char* p = c == '\0' ? nullptr : std::strchr(kAlphabet, c);
    if (p == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return std::nullopt;
  return out;
}

bool cursorMac(const std::string& key, std::uint64_t packed_subject, std::string_view body,
               unsigned char out[kMacBytes]) {
  std::string msg(kMacLabel);
  putU64(msg, packed_subject);
  msg += body;
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), full, &len) != nullptr &&
      len >= kMacBytes;
  if (ok) std::memcpy(out, full, kMacBytes);
  OPENSSL_cleanse(full, sizeof full);
  return ok;
}

std::string encodeCursor(const std::string& key, std::uint64_t packed_subject, const Position& p) {
  std::string body;
  body.push_back(static_cast<char>(kCursorVersion));
  putU64(body, static_cast<std::uint64_t>(p.time_us));
  putU64(body, p.seq);
  body.push_back(static_cast<char>(p.node.size()));
  body += p.node;
  unsigned char mac[kMacBytes];
  if (!cursorMac(key, packed_subject, body, mac)) return {};
  body.append(reinterpret_cast<const char*>(mac), kMacBytes);
  return base64Url(body);
}

std::optional<Position> decodeCursor(const std::string& key, std::uint64_t packed_subject,
                                     std::string_view text) {
  const auto bytes = unBase64Url(text);
  if (!bytes || bytes->size() < 1 + 8 + 8 + 1 + 1 + kMacBytes) return std::nullopt;
  const std::string& b = *bytes;
  if (static_cast<std::uint8_t>(b[0]) != kCursorVersion) return std::nullopt;
  const std::size_t node_len = static_cast<unsigned char>(b[17]);
  if (b.size() != 18 + node_len + kMacBytes) return std::nullopt;
  const std::string_view body(b.data(), 18 + node_len);
  unsigned char expected[kMacBytes];
  if (!cursorMac(key, packed_subject, body, expected)) return std::nullopt;
  if (CRYPTO_memcmp(expected, b.data() + body.size(), kMacBytes) != 0) return std::nullopt;
  Position p;
  p.time_us = static_cast<std::int64_t>(getU64(b.data() + 1));
  p.seq = getU64(b.data() + 9);
  p.node.assign(b.data() + 18, node_len);
  if (!isKeySafeNodeId(p.node)) return std::nullopt;
  return p;
}

std::optional<std::int64_t> parseScore(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string microsOf(std::chrono::system_clock::time_point t) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

adapters::redis::RedisDeadline deadlineAfter(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}

// The event bytes under `ref` must be the subject's event with that node and seq.
bool parseIndexed(std::string_view bytes, std::string_view subject, std::string_view ref,
                  pb::DigitalEvent& out) {
  std::string_view node;
  std::uint64_t seq = 0;
  if (!parseEventRef(ref, node, seq)) return false;
  if (!out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  return out.subject() == subject && out.node_id() == node && out.seq() == seq;
}

void logBadData(std::string_view what, std::string_view ref) {
  common::log(common::LogLevel::Error,
              "shared digital-space index holds data that is not what it indexes; answering 503",
              {{"what", what}, {"ref", ref}});
}

}  // namespace

std::string SharedCursorKey::get() const {
  std::lock_guard lock(mu_);
  return key_;
}

void SharedCursorKey::set(std::string key) {
  std::lock_guard lock(mu_);
  key_ = std::move(key);
}

RedisEventIndex::RedisEventIndex(RedisClient& client, std::shared_ptr<SharedCursorKey> key,
                                 RedisEventIndexOptions options)
    : client_(client), key_(std::move(key)), options_(options) {}

asio::awaitable<std::string> RedisEventIndex::cursorKey(bool refresh) {
  if (!refresh) {
    std::string cached = key_->get();
    if (!cached.empty()) co_return cached;
  }
  const std::string name = cursorKeyKey();
  RedisReply r = co_await client_.exec(deadlineAfter(options_.timeout), "GET", name);
  if (!r.ok()) co_return std::string();
  if (r.value.isNil()) {
    std::string fresh(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()),
                   static_cast<int>(fresh.size())) != 1) {
      co_return std::string();
    }
    RedisReply set = co_await client_.exec(deadlineAfter(options_.timeout), "SET", name, fresh,
                                           std::string_view("NX"));
    if (!set.ok()) co_return std::string();
    r = co_await client_.exec(deadlineAfter(options_.timeout), "GET", name);
    if (!r.ok()) co_return std::string();
  }
  if (!r.value.isString() || r.value.str.size() != 32) co_return std::string();
  key_->set(r.value.str);
  co_return r.value.str;
}

asio::awaitable<SharedPageResult> RedisEventIndex::page(std::string_view subject_view,
                                                        const Query& query) {
  SharedPageResult out;
  const std::string subject(subject_view);
  const auto packed = packSubject(subject);
  if (!packed) {
    out.status = IndexStatus::BadSubject;
    co_return out;
  }
  if (const IndexStatus checked = checkPageQuery(query); checked != IndexStatus::Ok) {
    out.status = checked;
    co_return out;
  }
  const std::string service = query.service_id;
  const std::string client = query.client_id;
  const std::string kind = query.kind ? std::to_string(*query.kind) : std::string();
  const std::uint64_t limit = query.limit;
  std::string key;
  std::optional<Position> from;
  if (!query.cursor.empty()) {
    key = co_await cursorKey(false);
    if (key.empty()) co_return out;  // Unavailable
    from = decodeCursor(key, *packed, query.cursor);
    if (!from) {
      // The key may have been made anew (Redis lost its data) or by another replica first.
      key = co_await cursorKey(true);
      if (key.empty()) co_return out;
      from = decodeCursor(key, *packed, query.cursor);
    }
    if (!from) {
      out.status = IndexStatus::BadCursor;
      co_return out;
    }
  }
  const std::string z = subjectIndexKey(subject);
  const std::string h = subjectDataKey(subject);
  const std::string cref = from ? eventRef(from->node, from->seq) : std::string();
  const std::string cscore = from ? std::to_string(from->time_us) : std::string();
  const std::string until = query.until ? microsOf(*query.until) : std::string();
  const std::string since = query.since ? microsOf(*query.since) : std::string();
  const std::string limit_text = std::to_string(limit);
  const std::string budget_text = std::to_string(options_.scan_budget);
  const std::string_view keys[] = {z, h};
  const std::string_view args[] = {cref,    cscore, until,      since,      kind,
                                   service, client, limit_text, budget_text};
  RedisReply r =
      co_await client_.evalScript(pageScript(), keys, args, deadlineAfter(options_.timeout));
  if (!r.ok() || !r.value.isArray() || r.value.elements.size() < 3 ||
      (r.value.elements.size() - 3) % 3 != 0) {
    if (r.errc == adapters::redis::RedisErrc::Ok) logBadData("page reply", r.value.str);
    co_return out;
  }
  const auto& el = r.value.elements;
  out.events.reserve((el.size() - 3) / 3);
  for (std::size_t i = 3; i + 2 < el.size(); i += 3) {
    pb::DigitalEvent ev;
    if (!parseIndexed(el[i + 2].str, subject, el[i].str, ev)) {
      logBadData("event", el[i].str);
      out.events.clear();
      co_return out;
    }
    out.events.push_back(std::move(ev));
  }
  if (el[0].str == "more" && !el[1].str.empty()) {
    Position next;
    std::string_view node;
    const auto score = parseScore(el[2].str);
    if (!parseEventRef(el[1].str, node, next.seq) || !score) {
      logBadData("cursor position", el[1].str);
      out.events.clear();
      co_return out;
    }
    next.node = std::string(node);
    next.time_us = *score;
    if (key.empty()) key = co_await cursorKey(false);
    if (key.empty()) {
      out.events.clear();
      co_return out;  // Unavailable: never a page without the way to the next one
    }
    out.next_cursor = encodeCursor(key, *packed, next);
  }
  out.status = IndexStatus::Ok;
  co_return out;
}

asio::awaitable<SharedProofResult> RedisEventIndex::proof(std::string_view subject_view,
                                                          std::string_view event_id_view) {
  SharedProofResult out;
  const std::string subject(subject_view);
  const std::string event_id(event_id_view);
  if (!packSubject(subject)) {
    out.status = IndexStatus::BadSubject;
    co_return out;
  }
  const std::string h = subjectDataKey(subject);
  {
    const std::string_view keys[] = {h};
    const std::string_view args[] = {event_id};
    RedisReply r =
        co_await client_.evalScript(findScript(), keys, args, deadlineAfter(options_.timeout));
    if (!r.ok() || !r.value.isArray()) co_return out;
    if (r.value.elements.empty()) {
      out.status = IndexStatus::NotFound;
      co_return out;
    }
    const auto& el = r.value.elements;
    if (el.size() != 3 || !parseIndexed(el[1].str, subject, el[0].str, out.proof.event) ||
        out.proof.event.event_id() != event_id) {
      logBadData("event", el.empty() ? std::string_view() : std::string_view(el[0].str));
      co_return out;
    }
    out.proof.prev_hash = out.proof.event.prev_hash();
    if (el[2].str.size() == 32) out.proof.next_hash = el[2].str;
  }
  const std::string node = out.proof.event.node_id();
  const std::uint64_t seq = out.proof.event.seq();
  const std::string cz = checkpointIndexKey(node);
  const std::string ch = checkpointDataKey(node);
  const std::string seq_text = std::to_string(seq);
  const std::string_view keys[] = {cz, ch};
  const std::string_view args[] = {seq_text};
  RedisReply r =
      co_await client_.evalScript(checkpointScript(), keys, args, deadlineAfter(options_.timeout));
  if (!r.ok()) co_return out;
  if (r.value.isString()) {
    pb::Checkpoint cp;
    if (!cp.ParseFromString(r.value.str) || cp.node_id() != node || cp.first_seq() > seq ||
        cp.last_seq() < seq ||
        (cp.last_seq() == seq && cp.chain_head() != out.proof.event.hash())) {
      logBadData("checkpoint", node);
      co_return out;
    }
    out.proof.checkpoint = std::move(cp);
    out.proof.covered = true;
  }
  out.status = IndexStatus::Ok;
  co_return out;
}

}  // namespace qaqpa::space_index
