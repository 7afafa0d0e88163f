// The demo bundle's decision table (policies/demo/cases.yaml, issue #3): every case is run through
// the REAL envelope and policy stages against the demo bundle as loaded by loadSnapshotBlocking
// (or a variant built on a temporary copy of it), with a real FileConsentStore holding the
// consents the table's symbolic ids name. Each case is its own test, named after the case. The
// table's format is documented at the top of cases.yaml; any key it does not list is an error.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "gateway/common/i18n.h"
#include "gateway/common/ids.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/consent/file_consent_store.h"
#include "gateway/envelope/envelope_stage.h"
#include "gateway/metrics/metrics.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/policy/policy_runtime.h"
#include "gateway/policy/policy_stage.h"
#include "gateway/policy/quota_registry.h"
#include "gateway/policy/replay_window.h"
#include "gateway/signing/content_digest.h"
#include "gateway/signing/keys.h"
#include "gateway/signing/request_signature.h"
#include "tests/consent/manual_time_source.h"
#include "tests/support/test_keys.h"

#ifndef QAQPA_SOURCE_DIR
#error "QAQPA_SOURCE_DIR must name the source tree (tests/policy/CMakeLists.txt)"
#endif

namespace qaqpa::policy {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using pipeline::StageResult;

const fs::path kDemoDir = fs::path(QAQPA_SOURCE_DIR) / "policies" / "demo";
const fs::path kCasesFile = kDemoDir / "cases.yaml";

// ---------------------------------------------------------------------------------------------
// The table.

struct TlsCert {
  std::string fingerprint, cn, ou, serial;
  bool verified = true;
};

struct Expect {
  std::string code = "OK";
  std::optional<std::string> reason, param;
  std::optional<int> http;
};

// A signature the runner puts on the request (PROTOCOL.md §2 components) before the stages run.
struct Sign {
  std::string key;              // a test key name, also the keyid (kTestKeys)
  std::string tamper = "none";  // kTampers
};

struct Case {
  std::string name;
  std::string section;
  int line = 0;
  config::Zone zone = config::Zone::State;
  bool demo_trust = true;
  std::string bundle = "demo";
  // request
  std::optional<std::string> service, path, target, client, subject, purpose, actor, consent,
      message_id, at;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<TlsCert> tls_cert;
  std::optional<Sign> sign;
  bool repeat = false;
  int times = 1;
  Expect expect, expect_first;
  std::string known_bug;
  std::string table_error;  // set on the one pseudo-case reporting a malformed table
};

// gtest prints the parameter of a failed test: the case's name and line, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << " (cases.yaml:" << c.line << ")"; }

// Symbolic consent ids the runner creates (cases.yaml documents each).
const std::set<std::string> kSymbolicConsents = {
    "$active",        "$revoked",       "$expired",     "$other_subject",
    "$other_service", "$other_purpose", "$other_client"};

[[noreturn]] void tableError(const YAML::Node& at, const std::string& what) {
  std::ostringstream os;
  os << kCasesFile.string() << ":" << (at.Mark().line + 1) << ": " << what;
  throw std::runtime_error(os.str());
}

std::string joined(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Key pairs the runner generates per run (name -> OpenSSL key type); the name is the keyid.
const std::map<std::string, std::string> kTestKeys = {
    {"amgw-ed", "ED25519"}, {"amgw-p256", "EC"}, {"bank-p256", "EC"}};
const std::set<std::string> kTampers = {"none",        "body",           "header",
                                        "created_old", "created_future", "alg_mismatch"};

// Typo protection: every key of `map` must be in `allowed`.
void checkKeys(const YAML::Node& map, const std::set<std::string>& allowed,
               const std::string& where) {
  if (!map.IsMap()) tableError(map, where + " must be a mapping");
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.contains(key)) {
      tableError(kv.first,
                 "unknown key '" + key + "' in " + where + "; allowed: " + joined(allowed));
    }
  }
}

std::string scalar(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) tableError(n, what + " must be a scalar");
  return n.as<std::string>();
}

bool boolean(const YAML::Node& n, const std::string& what) {
  const std::string s = scalar(n, what);
  if (s != "true" && s != "false") tableError(n, what + " must be true or false, got '" + s + "'");
  return s == "true";
}

std::optional<std::string> optScalar(const YAML::Node& map, const char* key,
                                     const std::string& where) {
  if (!map[key]) return std::nullopt;
  return scalar(map[key], where + "." + key);
}

bool isKnownCode(const std::string& name) {
  for (int i = 0; i < common::kStatusCodeCount; ++i) {
    if (common::codeName(static_cast<common::StatusCode>(i)) == name) return true;
  }
  return false;
}

bool isKnownReason(const std::string& name) {
  for (int i = 0; i < common::kReasonCount; ++i) {
    if (common::reasonName(static_cast<common::Reason>(i)) == name) return true;
  }
  return false;
}

Expect parseExpect(const YAML::Node& n, const std::string& where) {
  checkKeys(n, {"code", "reason", "param", "http"}, where);
  Expect e;
  if (!n["code"]) tableError(n, where + " needs 'code'");
  e.code = scalar(n["code"], where + ".code");
  if (!isKnownCode(e.code)) tableError(n["code"], "unknown canonical code '" + e.code + "'");
  e.reason = optScalar(n, "reason", where);
  if (e.reason && !isKnownReason(*e.reason)) {
    tableError(n["reason"], "unknown reason '" + *e.reason + "'");
  }
  if (e.code == "OK" && e.reason) tableError(n, where + ": an OK outcome has no reason");
  if (e.code != "OK" && !e.reason) tableError(n, where + ": a denial needs its reason");
  e.param = optScalar(n, "param", where);
  if (n["http"]) e.http = n["http"].as<int>();
  return e;
}

TlsCert parseTlsCert(const YAML::Node& n, const std::string& where) {
  checkKeys(n, {"fingerprint", "cn", "ou", "serial", "verified"}, where);
  TlsCert c;
  c.fingerprint = optScalar(n, "fingerprint", where).value_or("");
  c.cn = optScalar(n, "cn", where).value_or("");
  c.ou = optScalar(n, "ou", where).value_or("");
  c.serial = optScalar(n, "serial", where).value_or("");
  if (n["verified"]) c.verified = boolean(n["verified"], where + ".verified");
  return c;
}

Case parseCase(const YAML::Node& n, const std::string& section, bool section_trust,
               const std::string& section_bundle, const std::set<std::string>& variants) {
  Case c;
  c.section = section;
  c.line = n.Mark().line + 1;
  c.demo_trust = section_trust;
  c.bundle = section_bundle;
  checkKeys(n,
            {"name", "zone", "demo_trust", "bundle", "request", "repeat", "times", "sign", "expect",
             "expect_first", "known_bug", "note"},
            "a case");
  if (!n["name"]) tableError(n, "a case needs 'name'");
  c.name = scalar(n["name"], "name");
  if (c.name.empty() || !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
      })) {
    tableError(n["name"], "case name '" + c.name + "' must match [a-z0-9_]+");
  }
  const std::string where = "case '" + c.name + "'";
  if (!n["zone"]) tableError(n, where + " needs 'zone'");
  const auto zone = config::parseZone(scalar(n["zone"], where + ".zone"));
  if (!zone) tableError(n["zone"], where + ": zone must be state, external or international");
  c.zone = *zone;
  if (n["demo_trust"]) c.demo_trust = boolean(n["demo_trust"], where + ".demo_trust");
  if (n["bundle"]) c.bundle = scalar(n["bundle"], where + ".bundle");
  if (c.bundle != "demo" && !variants.contains(c.bundle)) {
    tableError(n, where + ": unknown bundle variant '" + c.bundle + "'");
  }
  if (n["repeat"]) c.repeat = boolean(n["repeat"], where + ".repeat");
  if (n["times"]) {
    c.times = n["times"].as<int>();
    if (c.times < 1 || c.times > 1000) tableError(n["times"], where + ": times must be 1..1000");
    if (c.repeat) tableError(n["times"], where + ": times and repeat exclude each other");
  }
  if (n["sign"]) {
    const YAML::Node s = n["sign"];
    checkKeys(s, {"key", "tamper"}, where + ".sign");
    Sign sg;
    if (!s["key"]) tableError(s, where + ".sign needs 'key'");
    sg.key = scalar(s["key"], where + ".sign.key");
    if (!kTestKeys.contains(sg.key))
      tableError(s["key"], where + ": unknown test key '" + sg.key + "'");
    if (s["tamper"]) sg.tamper = scalar(s["tamper"], where + ".sign.tamper");
    if (!kTampers.contains(sg.tamper)) {
      tableError(s["tamper"],
                 where + ": unknown tamper '" + sg.tamper + "'; known: " + joined(kTampers));
    }
    c.sign = sg;
  }
  if (n["known_bug"]) c.known_bug = scalar(n["known_bug"], where + ".known_bug");
  if (!n["expect"]) tableError(n, where + " needs 'expect'");
  c.expect = parseExpect(n["expect"], where + ".expect");
  if (n["expect_first"]) {
    if (!c.repeat) tableError(n["expect_first"], where + ": expect_first needs repeat: true");
    c.expect_first = parseExpect(n["expect_first"], where + ".expect_first");
  }

  if (!n["request"]) tableError(n, where + " needs 'request'");
  const YAML::Node r = n["request"];
  const std::string rw = where + ".request";
  checkKeys(r,
            {"service", "path", "target", "client", "subject", "purpose", "actor", "consent",
             "message_id", "headers", "tls_cert", "at"},
            rw);
  c.service = optScalar(r, "service", rw);
  c.path = optScalar(r, "path", rw);
  c.target = optScalar(r, "target", rw);
  if (c.service.has_value() == c.target.has_value()) {
    tableError(r, rw + ": give exactly one of 'service' (with optional 'path') or 'target'");
  }
  if (c.target && c.path) tableError(r, rw + ": 'path' goes with 'service', not 'target'");
  c.client = optScalar(r, "client", rw);
  c.subject = optScalar(r, "subject", rw);
  c.purpose = optScalar(r, "purpose", rw);
  c.actor = optScalar(r, "actor", rw);
  c.consent = optScalar(r, "consent", rw);
  if (c.consent && c.consent->starts_with("$") && !kSymbolicConsents.contains(*c.consent)) {
    tableError(r["consent"], rw + ": unknown symbolic consent '" + *c.consent +
                                 "'; known: " + joined(kSymbolicConsents));
  }
  c.message_id = optScalar(r, "message_id", rw);
  if (c.times > 1 && c.message_id) {
    tableError(r, where + ": times sends fresh message ids; give no message_id");
  }
  if (c.repeat && !c.message_id) {
    tableError(r, where + ": repeat: true needs a message_id (else each request gets a new one)");
  }
  c.at = optScalar(r, "at", rw);
  if (c.at && !config::parseRfc3339(*c.at)) {
    tableError(r["at"], rw + ".at: not an RFC 3339 time with offset: '" + *c.at + "'");
  }
  if (r["headers"]) {
    if (!r["headers"].IsSequence()) tableError(r["headers"], rw + ".headers must be a list");
    for (const auto& h : r["headers"]) {
      const std::string line = scalar(h, rw + ".headers[]");
      const auto colon = line.find(':');
      if (colon == std::string::npos || colon == 0) {
        tableError(h, rw + ".headers: expected \"Name: value\", got '" + line + "'");
      }
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      c.headers.emplace_back(line.substr(0, colon), value);
    }
  }
  if (r["tls_cert"]) c.tls_cert = parseTlsCert(r["tls_cert"], rw + ".tls_cert");
  return c;
}

struct Table {
  YAML::Node variants;  // name -> {certificates, add_grants}
  std::vector<Case> cases;
};

Table parseTable() {
  Table t;
  const YAML::Node root = YAML::LoadFile(kCasesFile.string());
  checkKeys(root, {"variants", "sections"}, "the top level");
  std::set<std::string> variant_names;
  if (root["variants"]) {
    t.variants = root["variants"];
    if (!t.variants.IsMap()) tableError(t.variants, "variants must be a mapping");
    for (const auto& kv : t.variants) {
      const std::string name = kv.first.as<std::string>();
      if (name == "demo") tableError(kv.first, "'demo' is the pristine bundle; pick another name");
      checkKeys(kv.second, {"certificates", "add_grants", "patch_grants", "signature_keys", "note"},
                "variant '" + name + "'");
      variant_names.insert(name);
    }
  }
  if (!root["sections"] || !root["sections"].IsSequence()) {
    tableError(root, "'sections' must be a list");
  }
  std::set<std::string> names;
  for (const auto& s : root["sections"]) {
    checkKeys(s, {"name", "demo_trust", "bundle", "cases", "note"}, "a section");
    if (!s["name"]) tableError(s, "a section needs 'name'");
    const std::string section = scalar(s["name"], "section name");
    const bool trust = s["demo_trust"] ? boolean(s["demo_trust"], "section demo_trust") : true;
    const std::string bundle = s["bundle"] ? scalar(s["bundle"], "section bundle") : "demo";
    if (!s["cases"] || !s["cases"].IsSequence()) {
      tableError(s, "section '" + section + "' needs a 'cases' list");
    }
    for (const auto& n : s["cases"]) {
      Case c = parseCase(n, section, trust, bundle, variant_names);
      if (!names.insert(c.name).second) tableError(n, "duplicate case name '" + c.name + "'");
      t.cases.push_back(std::move(c));
    }
  }
  return t;
}

// Parsed once; a malformed table becomes a single failing pseudo-case carrying the error, so the
// test binary still starts (and every other test still runs) while the table test fails loudly.
const Table& table() {
  static const Table t = [] {
    try {
      return parseTable();
    } catch (const std::exception& e) {
      Table bad;
      Case c;
      c.name = "cases_yaml_is_malformed";
      c.table_error = e.what();
      bad.cases.push_back(std::move(c));
      return bad;
    }
  }();
  return t;
}

// ---------------------------------------------------------------------------------------------
// The world the cases run in: bundles, the consent store, an io_context for its awaitables.

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void writeYaml(const fs::path& path, const YAML::Node& root) {
  YAML::Emitter out;
  out << root;
  writeFile(path, std::string(out.c_str()) + "\n");
}

common::SubjectId subjectOf(const std::string& text) {
  auto parsed = common::parseSubject(text);
  if (!parsed.id) throw std::runtime_error("bad subject in the runner: " + text);
  return *parsed.id;
}

const std::string kBank = "KZ/COM/990340000014/bank-core";
const std::string kTax = "KZ/GOV/240140000021/tax-service";
const std::string kCitizen = "IIN:900101300017";
const std::string kOtherCitizen = "IIN:850615300129";

using test_support::generateKey;
using test_support::TestKey;

// A message id no case names (the table's literal ids use the variant nibble 8, these 9).
std::string freshMessageId() {
  static unsigned long long counter = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "0190a6f4-3c2b-7d1e-9f00-%012llx", ++counter);
  return buf;
}

class World {
 public:
  World() {
    for (const auto& [name, type] : kTestKeys) keys_.emplace(name, generateKey(type));
    std::string pattern = (fs::temp_directory_path() / "qaqpa-cases-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    openConsents();
  }

  ~World() {
    store_.reset();  // joins the writer before the io_context and the time source go
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  const consent::ConsentStore* store() const { return store_.get(); }
  metrics::Metrics& metrics() { return metrics_; }

  std::string consentId(const std::string& symbolic) const { return consent_ids_.at(symbolic); }
  const TestKey& key(const std::string& name) const { return keys_.at(name); }

  // Runs an awaitable to completion on this world's io_context (which outlives the store).
  template <class T>
  T run(asio::awaitable<T> task) {
    ioc_.restart();
    auto future = asio::co_spawn(ioc_, std::move(task), asio::use_future);
    ioc_.run();
    return future.get();
  }

  // The snapshot a case runs against; variants are built once on a copy of policies/demo.
  std::shared_ptr<const config::Snapshot> snapshot(const std::string& bundle, bool demo_trust,
                                                   const YAML::Node& variants) {
    const std::string key = bundle + (demo_trust ? "" : "+no-demo-trust");
    if (auto it = snapshots_.find(key); it != snapshots_.end()) return it->second;
    fs::path gateway_file = kDemoDir / "qaqpa.yaml";
    if (bundle != "demo" || !demo_trust)
      gateway_file = buildVariant(key, bundle, demo_trust, variants);
    config::LoadResult r = config::loadSnapshotBlocking(gateway_file.string());
    if (!r.errors.empty()) {
      std::string all = "bundle '" + key + "' (" + gateway_file.string() + ") does not load:";
      for (const auto& e : r.errors) all += "\n  " + e.where + ": " + e.message;
      throw std::runtime_error(all);
    }
    snapshots_.emplace(key, r.snapshot);
    return r.snapshot;
  }

 private:
  void openConsents() {
    auto opened = consent::FileConsentStore::openBlocking((dir_ / "consents").string(), time_);
    if (!opened.store) throw std::runtime_error("consent store: " + opened.message);
    store_ = std::move(opened.store);

    auto grant = [&](const std::string& symbolic, const std::string& subject,
                     const std::string& client, std::vector<std::string> services,
                     const std::string& purpose, Clock::time_point expires) {
      consent::ConsentRequest req;
      req.subject = subjectOf(subject);
      req.client = client;
      req.services = std::move(services);
      req.purpose = purpose;
      req.expires = expires;
      consent::GrantResult res = run(store_->grant(std::move(req)));
      if (res.status != consent::GrantStatus::Granted) {
        throw std::runtime_error("granting " + symbolic +
                                 " failed: " + std::string(consent::grantStatusName(res.status)));
      }
      consent_ids_[symbolic] = res.consent->id;
    };

    // $expired: granted and expired in the past, so it is expired at the time of any run.
    time_.set(*config::parseRfc3339("2026-01-01T00:00:00Z"));
    grant("$expired", kCitizen, kBank, {"person.byIin"}, "CREDIT_SCORING",
          *config::parseRfc3339("2026-06-01T00:00:00Z"));

    // The others: granted now, valid for four years.
    const Clock::time_point now = Clock::now();
    time_.set(now);
    const Clock::time_point later = now + std::chrono::days(4 * 365);
    grant("$active", kCitizen, kBank, {"person.byIin"}, "CREDIT_SCORING", later);
    grant("$revoked", kCitizen, kBank, {"person.byIin"}, "CREDIT_SCORING", later);
    grant("$other_subject", kOtherCitizen, kBank, {"person.byIin"}, "CREDIT_SCORING", later);
    grant("$other_service", kCitizen, kBank, {"legalEntity.byBin"}, "CREDIT_SCORING", later);
    grant("$other_purpose", kCitizen, kBank, {"person.byIin"}, "KYC", later);
    grant("$other_client", kCitizen, kTax, {"person.byIin"}, "CREDIT_SCORING", later);
    consent::RevokeResult rev =
        run(store_->revoke(consent_ids_.at("$revoked"), subjectOf(kCitizen)));
    if (rev.status != consent::RevokeStatus::Revoked) {
      throw std::runtime_error("revoking $revoked failed: " +
                               std::string(consent::revokeStatusName(rev.status)));
    }
  }

  fs::path buildVariant(const std::string& key, const std::string& bundle, bool demo_trust,
                        const YAML::Node& variants) {
    const fs::path dir = dir_ / ("bundle-" + key);
    fs::create_directories(dir);
    fs::copy(kDemoDir, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    fs::remove(dir / "cases.yaml");

    if (bundle != "demo") {
      const YAML::Node v = variants[bundle];
      if (v["certificates"]) {
        YAML::Node systems = YAML::LoadFile((dir / "systems.yaml").string());
        std::set<std::string> wanted;
        for (const auto& kv : v["certificates"]) wanted.insert(kv.first.as<std::string>());
        for (YAML::Node s : systems["systems"]) {
          const std::string id = s["id"].as<std::string>();
          const YAML::Node certs = v["certificates"][id];
          if (!certs) continue;
          wanted.erase(id);
          for (const auto& c : certs) s["certificates"].push_back(YAML::Clone(c));
        }
        if (!wanted.empty()) {
          throw std::runtime_error("variant '" + bundle + "': certificates for unregistered " +
                                   "systems: " + joined(wanted));
        }
        writeYaml(dir / "systems.yaml", systems);
      }
      if (v["add_grants"]) {
        for (const auto& kv : v["add_grants"]) {
          const fs::path file = dir / kv.first.as<std::string>();
          if (!fs::exists(file)) {
            throw std::runtime_error("variant '" + bundle + "': no bundle file " +
                                     kv.first.as<std::string>());
          }
          YAML::Node provider = YAML::LoadFile(file.string());
          for (const auto& g : kv.second) provider["grants"].push_back(YAML::Clone(g));
          writeYaml(file, provider);
        }
      }
      if (v["patch_grants"]) {
        // provider file -> [{client, service, set: {key: value...}}]: `set` is merged into every
        // grant of `client` that lists `service`.
        for (const auto& kv : v["patch_grants"]) {
          const fs::path file = dir / kv.first.as<std::string>();
          if (!fs::exists(file)) {
            throw std::runtime_error("variant '" + bundle + "': no bundle file " +
                                     kv.first.as<std::string>());
          }
          YAML::Node provider = YAML::LoadFile(file.string());
          for (const auto& patch : kv.second) {
            const std::string client = patch["client"].as<std::string>();
            const std::string service = patch["service"].as<std::string>();
            int matched = 0;
            for (YAML::Node g : provider["grants"]) {
              if (g["client"].as<std::string>() != client) continue;
              bool lists = false;
              for (const auto& sv : g["services"]) lists |= sv.as<std::string>() == service;
              if (!lists) continue;
              ++matched;
              for (const auto& set : patch["set"])
                g[set.first.as<std::string>()] = YAML::Clone(set.second);
            }
            if (matched == 0) {
              throw std::runtime_error("variant '" + bundle +
                                       "': patch_grants matches no grant of " + client + " for " +
                                       service);
            }
          }
          writeYaml(file, provider);
        }
      }
      if (v["signature_keys"]) {
        // system id -> [{keyid, alg}]: keyid names a key the runner generated (kTestKeys); its
        // public PEM is written to keys/<keyid>.pem in the copy.
        fs::create_directories(dir / "keys");
        YAML::Node systems = YAML::LoadFile((dir / "systems.yaml").string());
        std::set<std::string> wanted;
        for (const auto& kv : v["signature_keys"]) wanted.insert(kv.first.as<std::string>());
        for (YAML::Node s : systems["systems"]) {
          const std::string id = s["id"].as<std::string>();
          const YAML::Node list = v["signature_keys"][id];
          if (!list) continue;
          wanted.erase(id);
          for (const auto& k : list) {
            const std::string keyid = k["keyid"].as<std::string>();
            if (!keys_.contains(keyid)) {
              throw std::runtime_error("variant '" + bundle + "': no test key '" + keyid + "'");
            }
            writeFile(dir / "keys" / (keyid + ".pem"), keys_.at(keyid).public_pem);
            YAML::Node entry;
            entry["keyid"] = keyid;
            entry["alg"] = k["alg"].as<std::string>();
            entry["public_key_file"] = "keys/" + keyid + ".pem";
            s["signature_keys"].push_back(entry);
          }
        }
        if (!wanted.empty()) {
          throw std::runtime_error("variant '" + bundle + "': signature_keys for unregistered " +
                                   "systems: " + joined(wanted));
        }
        writeYaml(dir / "systems.yaml", systems);
      }
    }

    YAML::Node gw = YAML::LoadFile((dir / "qaqpa.yaml").string());
    gw["data_dir"] = (dir_ / "data").string();
    // The citizen's page and demo login are not what these cases decide (and web_root is
    // relative to the committed file, not to this copy).
    gw.remove("space");
    if (!demo_trust) {
      // Without demo trust the loader demands mTLS on external and international; the files must
      // exist but are read only when listeners bind, which this test never does.
      for (const char* f : {"tls-cert.pem", "tls-key.pem", "client-ca.pem", "gateway-key.pem"}) {
        writeFile(dir / f, "not read by this test\n");
      }
      gw["demo_trust_client_header"] = false;
      // Outside demo mode the gateway key is provisioned, never generated at start.
      YAML::Node key;
      key["kid"] = "cases-key-1";
      key["private_key_file"] = "gateway-key.pem";
      key["active"] = true;
      YAML::Node keys(YAML::NodeType::Sequence);
      keys.push_back(key);
      gw["signing"]["keys"] = keys;
      for (const char* zone : {"external", "international"}) {
        YAML::Node tls;
        tls["cert_file"] = "tls-cert.pem";
        tls["key_file"] = "tls-key.pem";
        tls["client_ca_file"] = "client-ca.pem";
        tls["client_auth"] = "required";
        gw["listeners"][zone]["tls"] = tls;
      }
    }
    writeYaml(dir / "qaqpa.yaml", gw);
    return dir / "qaqpa.yaml";
  }

  // Destroyed in reverse: the store (reset first in the destructor anyway) before the time source
  // and the io_context its writer posts completions to.
  asio::io_context ioc_;
  test_support::ManualTimeSource time_;
  fs::path dir_;
  std::unique_ptr<consent::FileConsentStore> store_;
  metrics::Metrics metrics_;
  std::map<std::string, std::string> consent_ids_;
  std::map<std::string, TestKey> keys_;
  std::map<std::string, std::shared_ptr<const config::Snapshot>> snapshots_;
};

// ---------------------------------------------------------------------------------------------
// Running one request.

struct Outcome {
  std::string code = "OK";
  std::string reason;  // "" for OK
  std::string param;
  int http = 200;
  std::string internal;

  std::string describe() const {
    if (code == "OK") return "OK";
    std::string s = code + "/" + reason + " (param '" + param + "', http " + std::to_string(http);
    if (!internal.empty()) s += ", internal '" + internal + "'";
    return s + ")";
  }
};

std::string describe(const Expect& e) {
  if (e.code == "OK") return "OK";
  std::string s = e.code + "/" + e.reason.value_or("?");
  if (e.param) s += " (param '" + *e.param + "')";
  if (e.http) s += " http " + std::to_string(*e.http);
  return s;
}

std::vector<std::string> mismatches(const Expect& e, const Outcome& o) {
  std::vector<std::string> out;
  if (e.code != o.code) out.push_back("code");
  if (e.reason && *e.reason != o.reason) out.push_back("reason");
  if (e.param && *e.param != o.param) out.push_back("param");
  if (e.http && *e.http != o.http) out.push_back("http");
  return out;
}

class CasesTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    try {
      world_ = std::make_unique<World>();
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { world_.reset(); }

  Outcome runOnce(const Case& c, const std::shared_ptr<const config::Snapshot>& snap,
                  const std::shared_ptr<const PolicyRuntime>& runtime, pipeline::Stage& envelope,
                  pipeline::Stage& policy, Clock::time_point received_at,
                  const std::optional<std::string>& message_id) {
    const std::string target =
        c.target ? *c.target : "/v1/services/" + *c.service + c.path.value_or("");
    pipeline::Request req{bhttp::verb::get, target, 11};
    auto add = [&req](const char* name, const std::optional<std::string>& value) {
      if (value) req.insert(name, *value);
    };
    add("Qaqpa-Client", c.client);
    add("Qaqpa-Message-Id", message_id);
    add("Qaqpa-Subject", c.subject);
    add("Qaqpa-Purpose", c.purpose);
    add("Qaqpa-Actor", c.actor);
    if (c.consent) {
      req.insert("Qaqpa-Consent",
                 c.consent->starts_with("$") ? world_->consentId(*c.consent) : *c.consent);
    }
    for (const auto& [name, value] : c.headers) req.insert(name, value);
    if (c.sign) sign(*c.sign, req, received_at, c.tls_cert ? "https" : "http");

    pipeline::Exchange ex(snap, c.zone, std::move(req));
    ex.started = std::chrono::steady_clock::now();
    ex.policy_state = runtime;  // as the server does: the quotas derived from this snapshot
    ex.received_at = received_at;
    pipeline::TlsPeer peer;
    if (c.tls_cert) {
      peer.verified = c.tls_cert->verified;
      peer.fingerprint_sha256 = c.tls_cert->fingerprint;
      peer.common_name = c.tls_cert->cn;
      peer.organizational_unit = c.tls_cert->ou;
      peer.serial_number = c.tls_cert->serial;
      ex.tls_peer = &peer;
    }

    StageResult r = world_->run(envelope.onRequest(ex));
    if (r.action == StageResult::Action::Continue) r = world_->run(policy.onRequest(ex));
    Outcome o;
    if (r.action == StageResult::Action::Fail) {
      o.code = common::codeName(r.failure.code);
      o.reason = common::reasonName(r.failure.reason);
      o.param = r.failure.param;
      o.http = r.failure.httpStatus();
      o.internal = r.failure.internal;
    } else if (r.action == StageResult::Action::Respond) {
      o.code = "RESPOND";
    }
    return o;
  }

  // Signs `req` as its client would (label sig1, PROTOCOL.md §2 components, created = the case's
  // time), then applies the tamper. A GET has an empty body: Content-Digest is that of "".
  static void sign(const Sign& s, pipeline::Request& req, Clock::time_point at,
                   const std::string& scheme) {
    req.set("Content-Digest", signing::contentDigestSha256(""));
    std::vector<std::string_view> components = {
        "@method", "@path", "@query", "content-digest", "qaqpa-client", "qaqpa-message-id"};
    if (req.find("Qaqpa-Subject") != req.end()) components.push_back("qaqpa-subject");
    if (req.find("Qaqpa-Purpose") != req.end()) components.push_back("qaqpa-purpose");
    Clock::time_point created = at;
    if (s.tamper == "created_old") created -= std::chrono::seconds(301);
    if (s.tamper == "created_future") created += std::chrono::seconds(301);
    signing::SignatureParams params;
    params.created =
        std::chrono::duration_cast<std::chrono::seconds>(created.time_since_epoch()).count();
    params.keyid = s.key;
    std::string error;
    auto headers = signing::signRequest(req, components, "sig1", params, *world_->key(s.key).priv,
                                        scheme, &error);
    if (!headers) throw std::runtime_error("signing with " + s.key + " failed: " + error);
    std::string input = headers->signature_input;
    if (s.tamper == "alg_mismatch") {
      // Claim the other algorithm than the key's.
      const bool ed = world_->key(s.key).priv->algorithm() == signing::Algorithm::Ed25519;
      const std::string have =
          std::string("alg=\"") + (ed ? "ed25519" : "ecdsa-p256-sha256") + "\"";
      const std::string want =
          std::string("alg=\"") + (ed ? "ecdsa-p256-sha256" : "ed25519") + "\"";
      const auto pos = input.find(have);
      if (pos == std::string::npos) throw std::runtime_error("no " + have + " in " + input);
      input.replace(pos, have.size(), want);
    }
    req.set("Signature-Input", input);
    req.set("Signature", headers->signature);
    if (s.tamper == "body") req.body() = R"({"iin":"900101300017"})";
    if (s.tamper == "header") req.set("Qaqpa-Message-Id", freshMessageId());
  }

  static std::unique_ptr<World> world_;
  static std::string setup_error_;
};

std::unique_ptr<World> CasesTest::world_;
std::string CasesTest::setup_error_;

TEST_P(CasesTest, Decides) {
  const Case& c = GetParam();
  if (!c.table_error.empty()) FAIL() << "policies/demo/cases.yaml is malformed: " << c.table_error;
  ASSERT_TRUE(setup_error_.empty()) << "the table's world could not be built: " << setup_error_;
  const std::string where = "case '" + c.name + "' (section '" + c.section + "', " +
                            kCasesFile.string() + ":" + std::to_string(c.line) + ")";
  SCOPED_TRACE(where);
  if (!c.known_bug.empty()) GTEST_SKIP() << "known bug, " << where << ": " << c.known_bug;

  std::shared_ptr<const config::Snapshot> snap;
  try {
    snap = world_->snapshot(c.bundle, c.demo_trust, table().variants);
  } catch (const std::exception& e) {
    FAIL() << where << ": " << e.what();
  }
  ASSERT_EQ(snap->gateway.demo_trust_client_header, c.demo_trust);

  // Every case starts afresh: its own replay record and quota state.
  ReplayWindow replay{std::chrono::minutes(10), 4096};
  QuotaRegistry quotas;
  const std::shared_ptr<const PolicyRuntime> runtime =
      buildPolicyRuntime(snap, quotas, world_->metrics());
  PolicyContext context{&replay, world_->store()};
  std::unique_ptr<pipeline::Stage> envelope = envelope::makeEnvelopeStage();
  std::unique_ptr<pipeline::Stage> policy = makePolicyStage(context);

  // One instant for all the case's requests; a signed or repeated request needs a message id.
  const Clock::time_point at = c.at ? *config::parseRfc3339(*c.at) : Clock::now();
  std::optional<std::string> message_id = c.message_id;
  if (!message_id && c.sign) message_id = freshMessageId();
  std::string earlier;
  try {
    for (int i = 1; i < c.times; ++i) {
      earlier += (earlier.empty() ? "" : ", ") +
                 runOnce(c, snap, runtime, *envelope, *policy, at, freshMessageId()).describe();
    }
  } catch (const std::exception& e) {
    FAIL() << where << ": " << e.what();
  }
  if (c.times > 1) message_id = freshMessageId();

  if (c.repeat) {
    const Outcome first = runOnce(c, snap, runtime, *envelope, *policy, at, message_id);
    const auto bad = mismatches(c.expect_first, first);
    ASSERT_TRUE(bad.empty()) << where << ": the first of the two requests should be "
                             << describe(c.expect_first) << ", got " << first.describe();
  }
  Outcome got;
  try {
    got = runOnce(c, snap, runtime, *envelope, *policy, at, message_id);
  } catch (const std::exception& e) {
    FAIL() << where << ": " << e.what();
  }
  const auto bad = mismatches(c.expect, got);
  if (!bad.empty()) {
    std::string which;
    for (const auto& b : bad) which += (which.empty() ? "" : ", ") + b;
    ADD_FAILURE() << where << (c.repeat ? " (second request)" : "")
                  << (c.times > 1
                          ? " (request " + std::to_string(c.times) + ", earlier: " + earlier + ")"
                          : std::string())
                  << ": expected " << describe(c.expect) << ", got " << got.describe()
                  << " [differs in " << which << "]";
  }
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(DemoBundle, CasesTest, ::testing::ValuesIn(table().cases), caseName);

// The table itself: big enough, and covering every zone and every reason the two stages produce
// on their own, the rate limit and the request signature.
TEST(CasesTableTest, CoversEveryZoneAndReason) {
  const Table& t = table();
  ASSERT_FALSE(t.cases.empty());
  ASSERT_TRUE(t.cases.front().table_error.empty()) << t.cases.front().table_error;
  EXPECT_GE(t.cases.size(), 45u);
  std::set<config::Zone> zones;
  std::set<std::string> reasons, codes;
  for (const Case& c : t.cases) {
    zones.insert(c.zone);
    codes.insert(c.expect.code);
    if (c.expect.reason) reasons.insert(*c.expect.reason);
  }
  EXPECT_EQ(zones.size(), 3u);
  for (const char* r : {"MISSING_HEADER",         "INVALID_HEADER",
                        "DUPLICATE_HEADER",       "INVALID_SUBJECT_CHECKSUM",
                        "INVALID_SERVICE_ID",     "INVALID_PATH",
                        "CLIENT_UNKNOWN",         "CLIENT_WRONG_ZONE",
                        "CLIENT_NOT_PROVEN",      "CLIENT_CERT_MISMATCH",
                        "CLIENT_CERT_UNKNOWN",    "SERVICE_UNKNOWN",
                        "SERVICE_NOT_EXPOSED",    "NO_GRANT",
                        "PURPOSE_NOT_ALLOWED",    "GRANT_NOT_ACTIVE",
                        "CONSENT_MISSING",        "CONSENT_NOT_FOUND",
                        "CONSENT_REVOKED",        "CONSENT_EXPIRED",
                        "CONSENT_MISMATCH",       "MESSAGE_REPLAYED",
                        "RATE_EXCEEDED",          "SIGNATURE_MISSING",
                        "SIGNATURE_KEY_MISMATCH", "SIGNATURE_DIGEST_MISMATCH",
                        "SIGNATURE_NOT_VERIFIED", "SIGNATURE_STALE",
                        "SIGNATURE_FROM_FUTURE",  "SIGNATURE_ALG_MISMATCH"}) {
    EXPECT_TRUE(reasons.contains(r)) << "no case expects " << r;
  }
  EXPECT_TRUE(codes.contains("OK"));
}

}  // namespace
}  // namespace qaqpa::policy
