#include "gateway/server/json_views.h"

#include <ctime>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/config/config.h"

namespace qaqpa::server {
namespace bhttp = boost::beast::http;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

boost::json::object localizedJson(const config::LocalizedText& text) {
  return boost::json::object{{"kk", text.kk}, {"ru", text.ru}, {"en", text.en}};
}

boost::json::object consentJson(const consent::Consent& c,
                                std::chrono::system_clock::time_point now,
                                const config::PolicyBundle* policy) {
  boost::json::object o;
  o["id"] = c.id;
  o["subject"] = c.subject.toString();
  o["client"] = c.client;
  if (policy != nullptr) {
    if (const config::System* s = policy->findSystem(c.client)) {
      o["clientName"] = localizedJson(s->name);
    }
  }
  boost::json::array services;
  boost::json::array names;
  for (const auto& s : c.services) {
    services.emplace_back(s);
    if (policy == nullptr) continue;
    if (const config::Service* svc = policy->findService(s)) {
      names.push_back(boost::json::object{{"id", s}, {"name", localizedJson(svc->name)}});
    }
  }
  o["services"] = std::move(services);
  if (policy != nullptr) o["serviceNames"] = std::move(names);
  o["purpose"] = c.purpose;
  if (policy != nullptr) {
    if (const config::Purpose* p = policy->findPurpose(c.purpose)) {
      o["purposeText"] = localizedJson(p->text);
    }
  }
  o["grantedAt"] = rfc3339(c.granted_at);
  o["expires"] = rfc3339(c.expires);
  if (c.revoked_at) o["revokedAt"] = rfc3339(*c.revoked_at);
  o["grantedBy"] = c.granted_by;
  o["state"] = c.revoked_at ? "REVOKED" : now >= c.expires ? "EXPIRED" : "ACTIVE";
  return o;
}

pipeline::Response jsonResponse(unsigned version, bhttp::status status,
                                const boost::json::value& body) {
  pipeline::Response res{status, version};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  return res;
}

namespace {
int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string queryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      const std::string_view raw = pair.substr(key.size() + 1);
      std::string out;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '%') {
          out.push_back(raw[i] == '+' ? ' ' : raw[i]);
          continue;
        }
        if (i + 2 >= raw.size()) return {};
        const int hi = hexDigit(raw[i + 1]);
        const int lo = hexDigit(raw[i + 2]);
        if (hi < 0 || lo < 0) return {};
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace qaqpa::server
