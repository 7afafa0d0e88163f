#include "gateway/server/space_routes.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/audit/event_json.h"
#include "gateway/common/i18n.h"
#include "gateway/common/ids.h"
#include "gateway/common/log.h"
#include "gateway/config/config.h"
#include "gateway/consent/consent_store.h"
#include "gateway/journal/format.h"
#include "gateway/pipeline/problem.h"
#include "gateway/server/event_builder.h"
#include "gateway/server/json_views.h"
#include "gateway/signing/structured_field.h"
#include "gateway/space/demo_idp.h"
#include "gateway/space/identity_providers.h"
#include "gateway/space/jwt.h"
#include "gateway/space_api/csv.h"
#include "gateway/space_api/query.h"
#include "gateway/space_index/event_reader.h"
#include "qaqpa/journal/v1/journal.pb.h"

namespace qaqpa::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace pb = qaqpa::journal::v1;
using common::Reason;
using common::StatusCode;

constexpr std::string_view kEventIdHeader = "Qaqpa-Event-Id";
constexpr std::size_t kMaxConsentBody = 16 * 1024;
constexpr std::size_t kMaxDemoLoginBody = 1024;
constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

Reason tokenReason(space::TokenStatus s) {
  using space::TokenStatus;
  switch (s) {
    case TokenStatus::Ok:
    case TokenStatus::Missing:
      return Reason::TokenMissing;
    case TokenStatus::Malformed:
      return Reason::TokenMalformed;
    case TokenStatus::TooLarge:
      return Reason::TokenTooLarge;
    case TokenStatus::AlgRefused:
      return Reason::TokenAlgRefused;
    case TokenStatus::HeaderRefused:
      return Reason::TokenHeaderRefused;
    case TokenStatus::IssuerUnknown:
      return Reason::TokenIssuerUnknown;
    case TokenStatus::KeyUnknown:
      return Reason::TokenKeyUnknown;
    case TokenStatus::SignatureInvalid:
      return Reason::TokenSignatureInvalid;
    case TokenStatus::ClaimsInvalid:
      return Reason::TokenClaimsInvalid;
    case TokenStatus::AudienceMismatch:
      return Reason::TokenAudienceMismatch;
    case TokenStatus::Expired:
      return Reason::TokenExpired;
    case TokenStatus::NotYetValid:
      return Reason::TokenNotYetValid;
    case TokenStatus::LifetimeTooLong:
      return Reason::TokenLifetimeTooLong;
    case TokenStatus::SubjectInvalid:
      return Reason::TokenSubjectInvalid;
  }
  return Reason::TokenMalformed;
}

std::string_view contentTypeOf(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::string etagOf(std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (unsigned i = 0; i < 12 && i < len; ++i) {
    tag.push_back(kHex[md[i] >> 4]);
    tag.push_back(kHex[md[i] & 15]);
  }
  tag.push_back('"');
  return tag;
}

// Headers every space response carries (docs/space.md "Common rules").
void addSpaceHeaders(pipeline::Response& res) {
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  if (res.find(bhttp::field::cache_control) == res.end()) {
    res.set(bhttp::field::cache_control, "no-store");
  }
}

// One request on the space listener.
class SpaceRequest {
 public:
  SpaceRequest(SpaceState& st, SpaceHost& host, const pipeline::Request& req)
      : st_(st),
        host_(host),
        req_(req),
        lang_(common::parseAcceptLanguage(req[bhttp::field::accept_language])) {
    const std::string_view target = req.target();
    const auto q = target.find('?');
    path_ = target.substr(0, q);
    if (q != std::string_view::npos) {
      query_ = target.substr(q + 1);
      has_query_ = true;
    }
  }

  asio::awaitable<pipeline::Response> run() {
    pipeline::Response res = co_await route();
    addSpaceHeaders(res);
    co_return res;
  }

 private:
  pipeline::Response problem(StatusCode code, Reason reason, std::string param = {}, int http = 0) {
    common::Failure f{code, reason, std::move(param), {}, http};
    return pipeline::renderBareProblem(f, lang_, req_.version(), host_.newId());
  }
  pipeline::Response methodNotAllowed(std::string_view allow) {
    auto r = problem(StatusCode::ValidationFailed, Reason::MethodNotAllowed,
                     std::string{req_.method_string()}, 405);
    r.set(bhttp::field::allow, allow);
    return r;
  }
  pipeline::Response notFound() {
    return problem(StatusCode::ServiceNotFound, Reason::RouteUnknown, {}, 404);
  }
  pipeline::Response unavailable(Reason reason) {
    auto r = problem(StatusCode::ProviderUnavailable, reason, {}, 503);
    r.set(bhttp::field::retry_after, "1");
    return r;
  }
  pipeline::Response json(bhttp::status status, const boost::json::value& body) {
    return jsonResponse(req_.version(), status, body);
  }
  bool isGet() const {
    return req_.method() == bhttp::verb::get || req_.method() == bhttp::verb::head;
  }

  asio::awaitable<pipeline::Response> route() {
    if (path_ == "/" || path_ == "/space") {
      if (st_.site == nullptr) co_return notFound();
      pipeline::Response r{bhttp::status::permanent_redirect, req_.version()};
      r.set(bhttp::field::location, "/space/");
      r.prepare_payload();
      co_return r;
    }
    if (path_.starts_with("/space/")) co_return servePage();
    if (path_ == "/v1/space/demo-login") co_return demoLogin();
    if (!path_.starts_with("/v1/space/")) co_return notFound();
    if (!authenticate()) co_return std::move(auth_failure_);

    if (path_ == "/v1/space/events") {
      if (!isGet()) co_return methodNotAllowed("GET, HEAD");
      co_return co_await listEvents();
    }
    if (path_ == "/v1/space/events.csv") {
      if (!isGet()) co_return methodNotAllowed("GET, HEAD");
      co_return co_await exportCsv();
    }
    if (path_.starts_with("/v1/space/events/")) {
      if (!isGet()) co_return methodNotAllowed("GET, HEAD");
      co_return co_await oneEvent(path_.substr(std::string_view("/v1/space/events/").size()));
    }
    if (path_ == "/v1/space/consents") {
      if (isGet()) co_return co_await listConsents();
      if (req_.method() == bhttp::verb::post) co_return co_await grantConsent();
      co_return methodNotAllowed("GET, HEAD, POST");
    }
    if (path_.starts_with("/v1/space/consents/")) {
      if (req_.method() != bhttp::verb::delete_) co_return methodNotAllowed("DELETE");
      co_return co_await revokeConsent(
          path_.substr(std::string_view("/v1/space/consents/").size()));
    }
    if (path_ == "/v1/space/consent-options") {
      if (!isGet()) co_return methodNotAllowed("GET, HEAD");
      co_return consentOptions();
    }
    co_return notFound();
  }

  // --- the page ---------------------------------------------------------------------------

  pipeline::Response servePage() {
    if (st_.site == nullptr) return notFound();
    if (!isGet()) return methodNotAllowed("GET, HEAD");
    const StaticSite::File* f = st_.site->find(path_.substr(std::string_view("/space/").size()));
    if (f == nullptr) return notFound();
    pipeline::Response r{bhttp::status::ok, req_.version()};
    r.set(bhttp::field::etag, f->etag);
    // Revalidated on every load (cheap 304s); the page's code never goes stale after an update.
    r.set(bhttp::field::cache_control, "no-cache");
    if (f->content_type.starts_with("text/html")) {
      r.set("Content-Security-Policy", kPageCsp);
    }
    if (req_[bhttp::field::if_none_match] == f->etag) {
      r.result(bhttp::status::not_modified);
      return r;
    }
    r.set(bhttp::field::content_type, f->content_type);
    r.body() = f->body;
    r.prepare_payload();
    return r;
  }

  // --- demo login (demo mode only) ----------------------------------------------------------

  pipeline::Response demoLogin() {
    if (st_.demo == nullptr) return notFound();
    if (isGet()) {
      boost::json::array citizens;
      for (const auto& c : st_.demo_citizens) citizens.emplace_back(c);
      return json(bhttp::status::ok, boost::json::object{{"citizens", std::move(citizens)}});
    }
    if (req_.method() != bhttp::verb::post) return methodNotAllowed("GET, HEAD, POST");
    if (req_.body().size() > kMaxDemoLoginBody) {
      return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "/");
    }
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(req_.body(), ec);
    if (ec || !body.is_object()) {
      return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "/");
    }
    const auto& o = body.as_object();
    for (const auto& kv : o) {
      if (kv.key() != "iin") return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "/");
    }
    const auto* iin = o.if_contains("iin");
    if (iin == nullptr || !iin->is_string()) {
      return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "iin");
    }
    std::string text(iin->as_string());
    if (!text.starts_with("IIN:")) text = "IIN:" + text;
    const auto parsed = common::parseSubject(text);
    if (!parsed.id || parsed.id->kind != common::SubjectKind::Iin) {
      return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "iin");
    }
    const std::string subject = parsed.id->toString();
    if (!st_.demo_citizens.empty() && std::find(st_.demo_citizens.begin(), st_.demo_citizens.end(),
                                                subject) == st_.demo_citizens.end()) {
      return problem(StatusCode::AccessDenied, Reason::DemoCitizenUnknown, {}, 403);
    }
    auto token = st_.demo->mint(*parsed.id, std::chrono::system_clock::now());
    if (!token) {
      common::log(common::LogLevel::Error, "demo identity provider could not sign a token");
      return problem(StatusCode::Internal, Reason::InternalError, {}, 500);
    }
    return json(bhttp::status::ok,
                boost::json::object{{"token", *token},
                                    {"tokenType", "Bearer"},
                                    {"expiresIn", st_.demo->tokenLifetime().count()},
                                    {"subject", subject}});
  }

  // --- authentication -------------------------------------------------------------------------

  bool authenticate() {
    std::optional<std::string_view> header;
    std::size_t count = 0;
    const auto range = req_.equal_range(bhttp::field::authorization);
    for (auto it = range.first; it != range.second; ++it) {
      ++count;
      header = it->value();
    }
    space::TokenResult t;
    if (count > 1) {
      t.status = space::TokenStatus::Malformed;
      t.detail = "several Authorization headers";
    } else {
      t = space::verifyBearerAuthorization(header, *st_.registry, std::chrono::system_clock::now());
    }
    if (t.ok()) {
      subject_ = t.subject.toString();
      citizen_ = t.subject;
      return true;
    }
    common::log(common::LogLevel::Debug, "space token refused",
                {{"reason", space::tokenStatusName(t.status)}, {"detail", t.detail}});
    auth_failure_ = problem(StatusCode::AuthFailed, tokenReason(t.status), {}, 401);
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    auth_failure_.set(
        bhttp::field::www_authenticate,
        t.status == space::TokenStatus::Missing
            ? std::string_view(R"(Bearer realm="qaqpa-space")")
            : std::string_view(R"(Bearer realm="qaqpa-space", error="invalid_token")"));
    return false;
  }

  // --- reading the journal's files off the worker --------------------------------------------

  // Runs `fn` on the read pool and resumes on this worker. False (nothing ran) when the pool
  // already has kMaxReadsInFlight reads.
  template <typename Fn>
  asio::awaitable<bool> offWorker(Fn fn) {
    if (st_.reads_in_flight.fetch_add(1, std::memory_order_acq_rel) >=
        SpaceState::kMaxReadsInFlight) {
      st_.reads_in_flight.fetch_sub(1, std::memory_order_acq_rel);
      co_return false;
    }
    const auto worker = co_await asio::this_coro::executor;
    co_await asio::post(asio::bind_executor(st_.reads.get_executor(), asio::use_awaitable));
    std::exception_ptr error;
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
    st_.reads_in_flight.fetch_sub(1, std::memory_order_acq_rel);
    co_await asio::post(worker, asio::use_awaitable);
    if (error) std::rethrow_exception(error);
    co_return true;
  }

  std::optional<pipeline::Response> indexFailure(space_index::IndexStatus s,
                                                 std::string_view what) {
    using space_index::IndexStatus;
    switch (s) {
      case IndexStatus::Ok:
        return std::nullopt;
      case IndexStatus::BadCursor:
        return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "cursor");
      case IndexStatus::BadLimit:
        return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "limit");
      case IndexStatus::BadQuery:
        return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "since");
      case IndexStatus::NotFound:
        return problem(StatusCode::ServiceNotFound, Reason::EventNotFound, {}, 404);
      case IndexStatus::Unavailable:
        return unavailable(Reason::IndexUnavailable);
      case IndexStatus::BadSubject:
        break;
    }
    common::log(common::LogLevel::Error, "space index refused a verified subject",
                {{"what", what}, {"status", space_index::indexStatusName(s)}});
    return problem(StatusCode::Internal, Reason::InternalError, {}, 500);
  }

  pipeline::Response readFailure(space_index::ReadStatus s, const std::string& error) {
    // The files no longer hold what the index points at (repaired, archived without an
    // archive_dir, damaged): nothing is served; the operator sees why.
    common::log(common::LogLevel::Error, "digital space could not read indexed events",
                {{"status", space_index::readStatusName(s)}, {"error", error}});
    return problem(StatusCode::Internal, Reason::InternalError, {}, 500);
  }

  // --- events -------------------------------------------------------------------------------

  asio::awaitable<pipeline::Response> listEvents() {
    const space_api::ParsedQuery q =
        space_api::parseEventsQuery(query_, space_api::QueryMode::Page);
    if (!q.ok())
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, q.error_param);
    if (st_.shared_index) co_return co_await listShared(q.query);
    if (st_.index == nullptr) co_return unavailable(Reason::IndexUnavailable);
    space_index::PageResult page = st_.index->page(subject_, q.query);
    if (auto failure = indexFailure(page.status, "page")) co_return std::move(*failure);
    space_index::ReadResult read;
    if (!page.page.entries.empty()) {
      const bool ran = co_await offWorker(
          [&] { read = space_index::readEventsBlocking(st_.files, subject_, page.page.entries); });
      if (!ran) co_return unavailable(Reason::Overloaded);
      if (read.status != space_index::ReadStatus::Ok) {
        co_return readFailure(read.status, read.error);
      }
    }
    boost::json::array events;
    events.reserve(read.events.size());
    for (const auto& e : read.events) events.push_back(audit::eventToJson(e));
    // Built as a value: passing an object where a value is expected would copy the whole page
    // (≈ 12 % of a page's CPU, benchmarks/RESULTS.md "digital space").
    boost::json::value body(boost::json::object_kind);
    body.as_object()["events"] = std::move(events);
    if (!page.page.next_cursor.empty()) body.as_object()["nextCursor"] = page.page.next_cursor;
    co_return json(bhttp::status::ok, body);
  }

  // The shared index (redis.space_index): every replica's events, read from Redis on this worker
  // (co_await, deadline per call); Redis down or late → 503 INDEX_UNAVAILABLE, never a partial
  // list.
  asio::awaitable<pipeline::Response> listShared(const space_index::Query& query) {
    space_index::SharedEventSource* shared = host_.sharedEvents();
    if (shared == nullptr) co_return unavailable(Reason::IndexUnavailable);
    space_index::SharedPageResult page = co_await shared->page(subject_, query);
    if (auto failure = indexFailure(page.status, "shared page")) co_return std::move(*failure);
    boost::json::array events;
    events.reserve(page.events.size());
    for (const auto& e : page.events) events.push_back(audit::eventToJson(e));
    boost::json::value body(boost::json::object_kind);
    body.as_object()["events"] = std::move(events);
    if (!page.next_cursor.empty()) body.as_object()["nextCursor"] = page.next_cursor;
    co_return json(bhttp::status::ok, body);
  }

  asio::awaitable<pipeline::Response> oneEvent(std::string_view id) {
    if (!space_api::isValidEventId(id)) {
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidPath);
    }
    if (has_query_) {
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "query");
    }
    space_index::ProofResult proof;
    if (st_.shared_index) {
      space_index::SharedEventSource* shared = host_.sharedEvents();
      if (shared == nullptr) co_return unavailable(Reason::IndexUnavailable);
      space_index::SharedProofResult r = co_await shared->proof(subject_, id);
      if (auto failure = indexFailure(r.status, "shared proof")) co_return std::move(*failure);
      proof.status = space_index::ReadStatus::Ok;
      proof.proof = std::move(r.proof);
    } else {
      if (st_.index == nullptr) co_return unavailable(Reason::IndexUnavailable);
      space_index::FindResult found = st_.index->find(subject_, id);
      if (auto failure = indexFailure(found.status, "find")) co_return std::move(*failure);
      const bool ran = co_await offWorker(
          [&] { proof = space_index::proofBlocking(st_.files, subject_, found.entry); });
      if (!ran) co_return unavailable(Reason::Overloaded);
      if (proof.status != space_index::ReadStatus::Ok) {
        co_return readFailure(proof.status, proof.error);
      }
    }
    const space_index::Proof& p = proof.proof;
    pb::DigitalEvent unhashed = p.event;
    unhashed.clear_hash();
    boost::json::object pj;
    pj["canonical"] = signing::sf::base64Encode(journal::canonicalBytes(unhashed));
    pj["prevHash"] = signing::sf::base64Encode(p.prev_hash);
    pj["hash"] = signing::sf::base64Encode(p.event.hash());
    if (p.next_hash) pj["nextHash"] = signing::sf::base64Encode(*p.next_hash);
    pj["covered"] = p.covered && p.checkpoint.has_value();
    if (p.checkpoint) {
      pj["checkpoint"] = audit::checkpointToJson(*p.checkpoint);
      pb::Checkpoint unsigned_cp = *p.checkpoint;
      unsigned_cp.clear_signature();
      pj["checkpointCanonical"] = signing::sf::base64Encode(journal::canonicalBytes(unsigned_cp));
    }
    co_return json(bhttp::status::ok, boost::json::object{{"event", audit::eventToJson(p.event)},
                                                          {"proof", std::move(pj)}});
  }

  asio::awaitable<pipeline::Response> exportCsv() {
    const space_api::ParsedQuery q = space_api::parseEventsQuery(query_, space_api::QueryMode::Csv);
    if (!q.ok())
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, q.error_param);
    if (st_.shared_index) co_return co_await exportSharedCsv(q.query);
    if (st_.index == nullptr) co_return unavailable(Reason::IndexUnavailable);
    // Gather up to kMaxCsvEvents entries page by page (memory only), then read and format them
    // on the read pool.
    std::vector<space_index::IndexEntry> entries;
    space_index::Query query = q.query;
    query.limit = space_index::kMaxPageLimit;
    bool complete = true;
    for (;;) {
      space_index::PageResult page = st_.index->page(subject_, query);
      if (auto failure = indexFailure(page.status, "csv")) co_return std::move(*failure);
      for (auto& e : page.page.entries) {
        if (entries.size() == space_api::kMaxCsvEvents) break;
        entries.push_back(e);
      }
      if (page.page.next_cursor.empty()) break;
      if (entries.size() == space_api::kMaxCsvEvents) {
        complete = false;
        break;
      }
      query.cursor = std::move(page.page.next_cursor);
    }
    std::string csv;
    space_index::ReadStatus status = space_index::ReadStatus::Ok;
    std::string error;
    const common::Lang lang = lang_;
    const bool ran = co_await offWorker([&] {
      space_index::ReadResult read;
      if (!entries.empty()) {
        read = space_index::readEventsBlocking(st_.files, subject_, entries);
        status = read.status;
        error = std::move(read.error);
        if (status != space_index::ReadStatus::Ok) return;
      }
      space_api::appendCsvHeader(csv, lang);
      for (const auto& e : read.events) space_api::appendCsvRow(csv, e, lang);
    });
    if (!ran) co_return unavailable(Reason::Overloaded);
    if (status != space_index::ReadStatus::Ok) co_return readFailure(status, error);
    pipeline::Response r{bhttp::status::ok, req_.version()};
    r.set(bhttp::field::content_type, "text/csv; charset=utf-8; header=present");
    r.set(bhttp::field::content_disposition,
          "attachment; filename=\"" + space_api::csvFileName(std::chrono::system_clock::now()) +
              "\"");
    r.set("Qaqpa-Export-Events", std::to_string(entries.size()));
    r.set("Qaqpa-Export-Complete", complete ? "true" : "false");
    r.body() = std::move(csv);
    r.prepare_payload();
    co_return r;
  }

  // The CSV from the shared index: pages of kMaxPageLimit from Redis (each with its deadline) up
  // to kMaxCsvEvents, formatted on the read pool like the embedded index's.
  asio::awaitable<pipeline::Response> exportSharedCsv(space_index::Query query) {
    space_index::SharedEventSource* shared = host_.sharedEvents();
    if (shared == nullptr) co_return unavailable(Reason::IndexUnavailable);
    query.limit = space_index::kMaxPageLimit;
    std::vector<qaqpa::journal::v1::DigitalEvent> events;
    bool complete = true;
    for (;;) {
      space_index::SharedPageResult page = co_await shared->page(subject_, query);
      if (auto failure = indexFailure(page.status, "shared csv")) co_return std::move(*failure);
      for (auto& e : page.events) {
        if (events.size() == space_api::kMaxCsvEvents) break;
        events.push_back(std::move(e));
      }
      if (page.next_cursor.empty()) break;
      if (events.size() == space_api::kMaxCsvEvents) {
        complete = false;
        break;
      }
      query.cursor = std::move(page.next_cursor);
    }
    std::string csv;
    const common::Lang lang = lang_;
    const bool ran = co_await offWorker([&] {
      space_api::appendCsvHeader(csv, lang);
      for (const auto& e : events) space_api::appendCsvRow(csv, e, lang);
    });
    if (!ran) co_return unavailable(Reason::Overloaded);
    pipeline::Response r{bhttp::status::ok, req_.version()};
    r.set(bhttp::field::content_type, "text/csv; charset=utf-8; header=present");
    r.set(bhttp::field::content_disposition,
          "attachment; filename=\"" + space_api::csvFileName(std::chrono::system_clock::now()) +
              "\"");
    r.set("Qaqpa-Export-Events", std::to_string(events.size()));
    r.set("Qaqpa-Export-Complete", complete ? "true" : "false");
    r.body() = std::move(csv);
    r.prepare_payload();
    co_return r;
  }

  // --- consents -----------------------------------------------------------------------------

  asio::awaitable<pipeline::Response> listConsents() {
    consent::ConsentStore* store = host_.consentStore();
    if (store == nullptr) {
      co_return problem(StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
    }
    if (has_query_) co_return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "query");
    const auto snap = host_.currentSnapshot();
    const auto now = std::chrono::system_clock::now();
    const consent::ConsentList found = co_await store->listBySubject(citizen_);
    if (!found.available) {
      co_return problem(StatusCode::ProviderUnavailable, Reason::ConsentStoreUnavailable, {}, 503);
    }
    boost::json::array list;
    for (const auto& c : found.consents) list.push_back(consentJson(c, now, &snap->policy));
    co_return json(bhttp::status::ok, boost::json::object{{"consents", std::move(list)}});
  }

  pipeline::Response consentOptions() {
    if (has_query_) return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "query");
    const auto snap = host_.currentSnapshot();
    const config::PolicyBundle& policy = snap->policy;
    // One option per client: the services and purposes of its grants that require consent.
    struct Option {
      std::set<std::string> services;
      std::set<std::string> purposes;
    };
    std::map<std::string, Option> options;
    for (const config::Grant& g : policy.grants) {
      if (!g.requires_consent || g.client == nullptr) continue;
      Option& o = options[g.client->id];
      for (const config::Service* s : g.services) o.services.insert(s->id);
      for (const config::Purpose* p : g.purposes) o.purposes.insert(p->code);
    }
    boost::json::array out;
    for (const auto& [client_id, o] : options) {
      const config::System* client = policy.findSystem(client_id);
      boost::json::array services;
      for (const auto& id : o.services) {
        const config::Service* s = policy.findService(id);
        services.push_back(boost::json::object{{"id", id}, {"name", localizedJson(s->name)}});
      }
      boost::json::array purposes;
      for (const auto& code : o.purposes) {
        const config::Purpose* p = policy.findPurpose(code);
        purposes.push_back(boost::json::object{{"code", code}, {"text", localizedJson(p->text)}});
      }
      out.push_back(boost::json::object{
          {"client", boost::json::object{{"id", client_id}, {"name", localizedJson(client->name)}}},
          {"services", std::move(services)},
          {"purposes", std::move(purposes)}});
    }
    return json(bhttp::status::ok, boost::json::object{{"options", std::move(out)}});
  }

  asio::awaitable<pipeline::Response> grantConsent() {
    consent::ConsentStore* store = host_.consentStore();
    if (store == nullptr) {
      co_return problem(StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
    }
    if (has_query_) co_return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "query");
    if (req_.body().size() > kMaxConsentBody) {
      co_return problem(StatusCode::ValidationFailed, Reason::BodyTooLarge, {}, 413);
    }
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(req_.body(), ec);
    if (ec || !body.is_object()) {
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "/");
    }
    const auto& o = body.as_object();
    for (const auto& kv : o) {
      const std::string_view k = kv.key();
      if (k != "client" && k != "services" && k != "purpose" && k != "expires") {
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "/");
      }
    }
    auto str = [&](std::string_view key) -> std::optional<std::string> {
      const auto* v = o.if_contains(key);
      if (v == nullptr || !v->is_string()) return std::nullopt;
      return std::string(v->as_string());
    };
    const auto snap = host_.currentSnapshot();
    const config::PolicyBundle& policy = snap->policy;
    consent::ConsentRequest r;
    r.subject = citizen_;
    r.granted_by = "citizen";
    const auto client = str("client");
    if (!client || policy.findSystem(*client) == nullptr) {
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "client");
    }
    r.client = *client;
    const auto purpose = str("purpose");
    if (!purpose || policy.findPurpose(*purpose) == nullptr) {
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "purpose");
    }
    r.purpose = *purpose;
    const auto* services = o.if_contains("services");
    if (services == nullptr || !services->is_array() || services->as_array().empty() ||
        services->as_array().size() > consent::kMaxServicesPerConsent) {
      co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "services");
    }
    for (const auto& item : services->as_array()) {
      if (!item.is_string()) {
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "services");
      }
      const std::string id(item.as_string());
      // Only what a grant of this client needs consent for, with this purpose: a consent for
      // anything else could never be used and would only confuse the citizen's list.
      bool needs_consent = false;
      bool covered = false;
      if (const auto* grants = policy.findGrants(r.client, id)) {
        for (const config::Grant* g : *grants) {
          if (!g->requires_consent) continue;
          needs_consent = true;
          if (g->allowsPurpose(r.purpose)) covered = true;
        }
      }
      if (!needs_consent) {
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "services");
      }
      if (!covered) {
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "purpose");
      }
      r.services.push_back(id);
    }
    const auto expires_text = str("expires");
    const auto expires = expires_text ? config::parseRfc3339(*expires_text) : std::nullopt;
    if (!expires) co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "expires");
    r.expires = *expires;
    consent::GrantResult g = co_await store->grant(std::move(r));
    switch (g.status) {
      case consent::GrantStatus::Granted: {
        std::string event_id;
        if (!co_await host_.journalConsentChange(*g.consent, true, subject_, event_id)) {
          co_return problem(StatusCode::ProviderUnavailable, Reason::JournalUnavailable, {}, 503);
        }
        auto res = json(bhttp::status::created,
                        consentJson(*g.consent, std::chrono::system_clock::now(), &policy));
        res.set(bhttp::field::location, "/v1/space/consents/" + g.consent->id);
        if (!event_id.empty()) res.set(kEventIdHeader, event_id);
        common::log(common::LogLevel::Info, "consent granted by citizen",
                    {{"consent", g.consent->id}, {"client", g.consent->client}});
        co_return res;
      }
      case consent::GrantStatus::LimitReached:
        co_return problem(StatusCode::ValidationFailed, Reason::ConsentLimitReached);
      case consent::GrantStatus::Overloaded:
      case consent::GrantStatus::StorageFailed:
        co_return problem(StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
      case consent::GrantStatus::InvalidExpires:
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "expires");
      case consent::GrantStatus::InvalidServices:
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "services");
      case consent::GrantStatus::InvalidClient:
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "client");
      case consent::GrantStatus::InvalidPurpose:
        co_return problem(StatusCode::ValidationFailed, Reason::InvalidBody, "purpose");
      case consent::GrantStatus::InvalidSubject:
      case consent::GrantStatus::InvalidGrantedBy:
        break;
    }
    common::log(common::LogLevel::Error, "consent store refused a citizen's verified grant",
                {{"status", consent::grantStatusName(g.status)}});
    co_return problem(StatusCode::Internal, Reason::InternalError, {}, 500);
  }

  asio::awaitable<pipeline::Response> revokeConsent(std::string_view id) {
    consent::ConsentStore* store = host_.consentStore();
    if (store == nullptr) {
      co_return problem(StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
    }
    if (has_query_) co_return problem(StatusCode::ValidationFailed, Reason::InvalidQuery, "query");
    if (!common::parseUuid(id)) {
      co_return problem(StatusCode::ServiceNotFound, Reason::ConsentIdUnknown, {}, 404);
    }
    consent::RevokeResult r = co_await store->revoke(id, citizen_);
    const auto snap = host_.currentSnapshot();
    switch (r.status) {
      case consent::RevokeStatus::Revoked: {
        std::string event_id;
        if (!co_await host_.journalConsentChange(*r.consent, false, subject_, event_id)) {
          co_return problem(StatusCode::ProviderUnavailable, Reason::JournalUnavailable, {}, 503);
        }
        auto res = json(bhttp::status::ok,
                        consentJson(*r.consent, std::chrono::system_clock::now(), &snap->policy));
        if (!event_id.empty()) res.set(kEventIdHeader, event_id);
        common::log(common::LogLevel::Info, "consent revoked by citizen",
                    {{"consent", r.consent->id}});
        co_return res;
      }
      case consent::RevokeStatus::AlreadyRevoked:
        co_return json(bhttp::status::ok,
                       consentJson(*r.consent, std::chrono::system_clock::now(), &snap->policy));
      case consent::RevokeStatus::NotFound:
      case consent::RevokeStatus::NotOwner:
        co_return problem(StatusCode::ServiceNotFound, Reason::ConsentIdUnknown, {}, 404);
      case consent::RevokeStatus::Overloaded:
      case consent::RevokeStatus::StorageFailed:
        break;
    }
    co_return problem(StatusCode::ProviderUnavailable, Reason::StoreUnavailable, {}, 503);
  }

  SpaceState& st_;
  SpaceHost& host_;
  const pipeline::Request& req_;
  const common::Lang lang_;
  std::string_view path_;
  std::string_view query_;
  bool has_query_ = false;
  std::string subject_;  // "IIN:…" of the verified token
  common::SubjectId citizen_;
  pipeline::Response auth_failure_;
};

}  // namespace

std::shared_ptr<const StaticSite> StaticSite::loadBlocking(const std::string& root,
                                                           std::string& error) {
  namespace fs = std::filesystem;
  auto site = std::shared_ptr<StaticSite>(new StaticSite());
  std::size_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) {
    error = "space.web_root " + root + ": " + ec.message();
    return nullptr;
  }
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      error = "space.web_root " + root + ": " + ec.message();
      return nullptr;
    }
    const std::string name = it->path().filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || name.ends_with(".md")) continue;
    const std::string rel = fs::relative(it->path(), root).generic_string();
    if (site->files_.size() == kMaxFiles) {
      error = "space.web_root " + root + ": more than " + std::to_string(kMaxFiles) + " files";
      return nullptr;
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) {
      error = "space.web_root: cannot read " + it->path().string();
      return nullptr;
    }
    total += body.size();
    if (total > kMaxTotalBytes) {
      error = "space.web_root " + root + ": more than " + std::to_string(kMaxTotalBytes) + " bytes";
      return nullptr;
    }
    File f;
    f.content_type = std::string(contentTypeOf(name));
    f.etag = etagOf(body);
    f.body = std::move(body);
    site->files_.emplace(rel, std::move(f));
  }
  if (site->files_.find("index.html") == site->files_.end()) {
    error = "space.web_root " + root + " has no index.html";
    return nullptr;
  }
  return site;
}

const StaticSite::File* StaticSite::find(std::string_view rel) const {
  if (rel.empty()) rel = "index.html";
  const auto it = files_.find(rel);
  return it == files_.end() ? nullptr : &it->second;
}

asio::awaitable<pipeline::Response> handleSpace(SpaceState& state, SpaceHost& host,
                                                const pipeline::Request& req) {
  SpaceRequest r(state, host, req);
  co_return co_await r.run();
}

}  // namespace qaqpa::server
