// The policy bundle: registered systems, purpose codes and one file per provider with its
// services and the grants it gives (Digital Code Art. 24 p.3.1, 28: the owner of a resource sets
// the access conditions, so a provider file may only speak about its own services).
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "gateway/common/ids.h"
#include "gateway/config/loader.h"

namespace qaqpa::config::detail {
namespace {

namespace fs = std::filesystem;

constexpr Millis kMaxServiceTimeout{60LL * 60 * 1000};
constexpr const char* kSystemsFile = "systems.yaml";
constexpr const char* kPurposesFile = "purposes.yaml";
constexpr const char* kProvidersDir = "providers";

struct BundleFile {
  std::string name;  // relative to the bundle directory, '/'-separated
  std::string bytes;
  bool readable = true;
};

// A grant as written, resolved once every provider file has been read (so that naming another
// provider's service can be told apart from naming an unknown one).
struct RawRef {
  std::string value;
  YAML::Node node;
  std::string path;
};
struct RawGrant {
  std::string file;
  std::string path;
  YAML::Node node;
  std::string provider_id;
  std::optional<RawRef> client;
  std::vector<RawRef> services;
  std::vector<RawRef> purposes;
  bool purposes_listed = false;  // key present, even if every entry was bad
  std::string purposes_path;
  std::optional<std::string> legal_basis;
  Grant terms;  // requires_consent, limits, validity, schedule (already validated)
};

struct LoadState {
  PolicyBundle* out = nullptr;
  std::vector<ConfigError>* errors = nullptr;
  fs::path dir;                                                    // the bundle directory
  std::map<std::string, std::string, std::less<>> key_files;       // public_key_file -> bytes
  std::map<std::string, std::string, std::less<>> keyid_owner;     // keyid -> system id
  std::map<std::string, std::string, std::less<>> key_der_owner;   // SPKI DER -> "system keyid"
  std::map<std::string, std::string, std::less<>> provider_files;  // provider id -> file
  std::map<std::string, std::string, std::less<>> service_files;   // service id -> file
  std::map<std::string, std::string, std::less<>> service_owner;   // service id -> provider id
  std::vector<RawGrant> grants;
};

std::optional<std::string> readFile(const fs::path& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    error = fs::exists(path, ec) ? "cannot be read" : "file is missing";
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    error = "read failed";
    return std::nullopt;
  }
  return std::move(buf).str();
}

// parseSystemId() only says yes or no; operators need to know which part is wrong, above all a
// BIN whose check digit fails (a typo that otherwise looks fine).
std::string systemIdProblem(std::string_view id) {
  std::string msg = "'" + std::string(id) + "' is not a valid system id; expected " +
                    "CC/CLASS/MEMBER/SYSTEM, e.g. KZ/GOV/240140000011/population-register";
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = id.find('/', start);
    parts.push_back(id.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() == 4 && parts[0] == "KZ" && parts[2].size() == 12 &&
      std::all_of(parts[2].begin(), parts[2].end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      !common::isValidIinBin(parts[2])) {
    msg += " (MEMBER " + std::string(parts[2]) + " fails the BIN check digit)";
  }
  return msg;
}

std::optional<std::string> readSystemId(Diagnostics& diag, const YAML::Node& node,
                                        std::string_view path) {
  auto id = readString(diag, node, path);
  if (!id) return std::nullopt;
  if (!common::parseSystemId(*id)) {
    diag.error(path, node, systemIdProblem(*id));
    return std::nullopt;
  }
  return id;
}

// Lists of plain strings; each entry is handed to `each` with its path. Duplicates are reported.
template <typename Each>
void readStringList(Diagnostics& diag, const YAML::Node& node, std::string_view path, Each each) {
  if (!expectSequence(diag, node, path)) return;
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_path = indexPath(path, i);
    auto value = readString(diag, item, item_path);
    if (!value) continue;
    if (!seen.insert(*value).second) {
      diag.error(item_path, item, "'" + *value + "' is listed more than once");
      continue;
    }
    each(*value, item, item_path);
  }
}

bool isValidDataCategory(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() < 'a' || s.front() > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Lower-case hex of a SHA-256 fingerprint, accepting "AB:CD:…" and "abcd…" forms.
std::optional<std::string> normalizeFingerprint(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    hex.push_back(c);
  }
  if (hex.size() != 64) return std::nullopt;
  return hex;
}

void readCertificates(Diagnostics& diag, const YAML::Node& node, const std::string& path,
                      System& system) {
  if (!expectSequence(diag, node, path)) return;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = indexPath(path, i);
    MapReader item(diag, node[i], item_path, {"fingerprint_sha256", "subject"});
    if (!item.isMap()) continue;
    const auto fp = item.optional("fingerprint_sha256");
    const auto subject = item.optional("subject");
    if (fp.has_value() == subject.has_value()) {
      diag.error(item_path, node[i], "give exactly one of fingerprint_sha256 or subject");
      continue;
    }
    if (fp) {
      if (auto text = readString(diag, *fp, item.pathOf("fingerprint_sha256"))) {
        if (auto hex = normalizeFingerprint(*text)) {
          system.cert_fingerprints.push_back(*hex);
        } else {
          diag.error(item.pathOf("fingerprint_sha256"), *fp,
                     "expected 32 bytes of hex (64 digits, colons allowed)");
        }
      }
      continue;
    }
    MapReader sub(diag, *subject, item.pathOf("subject"), {"cn", "bin", "iin"});
    if (!sub.isMap()) continue;
    CertSubject cs;
    if (auto v = sub.optional("cn")) {
      if (auto t = readText(diag, *v, sub.pathOf("cn"))) cs.common_name = *t;
    }
    auto digits = [&](std::string_view key, std::string& out) {
      auto v = sub.optional(key);
      if (!v) return;
      auto t = readString(diag, *v, sub.pathOf(key));
      if (!t) return;
      if (!common::isValidIinBin(*t)) {
        diag.error(sub.pathOf(key), *v, "expected 12 digits with a valid check digit");
        return;
      }
      out = *t;
    };
    digits("bin", cs.bin);
    digits("iin", cs.iin);
    if (cs.common_name.empty() && cs.bin.empty() && cs.iin.empty()) {
      diag.error(sub.path(), *subject, "a subject needs at least one of cn, bin, iin");
      continue;
    }
    system.cert_subjects.push_back(std::move(cs));
  }
}

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

// A keyid travels as an RFC 8941 string in Signature-Input: printable ASCII. Quotes, backslashes
// and spaces are refused too, so that a keyid is always written the same way.
bool isValidKeyid(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c > ' ' && c <= '~' && c != '"' && c != '\\'; });
}

// Relative to the bundle directory and staying inside it: the key files belong to the bundle
// (they are part of its digest and are reviewed with it).
bool isInsideBundle(std::string_view rel) {
  if (rel.empty() || rel.find('\\') != std::string_view::npos) return false;
  const fs::path p(rel);
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) return false;
  return std::none_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".."; });
}

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

// The RFC 9421 algorithm name of an SPKI PEM public key (Ed25519 or EC P-256) and the key's DER
// encoding (to spot one key registered twice), or nullopt with `error` set. The same test
// signing::PublicKey::fromPem applies when the policy runtime parses the key again; it is done
// here, with OpenSSL directly, so that a bad key fails the load or reload like any other
// configuration error, naming the file, before anything is swapped in.
std::optional<std::pair<std::string, std::string>> inspectPublicKey(std::string_view pem,
                                                                    std::string& error) {
  if (pem.find("PRIVATE KEY") != std::string_view::npos) {
    error =
        "contains a private key; the policy bundle holds public keys only (remove it and "
        "treat the private key as disclosed)";
    return std::nullopt;
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  if (!key) {
    error = "is not a PEM public key (-----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)";
    return std::nullopt;
  }
  std::string alg;
  if (EVP_PKEY_is_a(key.get(), "ED25519")) {
    alg = "ed25519";
  } else if (EVP_PKEY_is_a(key.get(), "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &len) == 1 &&
        (std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256")) {
      alg = "ecdsa-p256-sha256";
    }
  }
  if (alg.empty()) {
    ERR_clear_error();
    error = "holds an unsupported key type; expected Ed25519 or EC P-256";
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_PUBKEY(key.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    error = "could not be re-encoded";
    return std::nullopt;
  }
  std::string der_bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_len));
  OPENSSL_free(der);
  return std::make_pair(std::move(alg), std::move(der_bytes));
}

void readSignatureKeys(Diagnostics& diag, const YAML::Node& node, const std::string& path,
                       const std::string& system_id, System& system, LoadState& st) {
  if (!expectSequence(diag, node, path)) return;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = indexPath(path, i);
    MapReader item(diag, node[i], item_path, {"keyid", "alg", "public_key_file"});
    if (!item.isMap()) continue;
    SignatureKey key;
    bool ok = true;
    if (auto v = item.required("keyid")) {
      if (auto text = readString(diag, *v, item.pathOf("keyid"))) {
        if (!isValidKeyid(*text)) {
          diag.error(item.pathOf("keyid"), *v,
                     "a keyid is 1-128 printable ASCII characters without spaces, quotes or "
                     "backslashes");
          ok = false;
        } else if (auto [it, inserted] = st.keyid_owner.emplace(*text, system_id); !inserted) {
          diag.error(item.pathOf("keyid"), *v,
                     "keyid '" + *text + "' is already registered (system '" + it->second +
                         "'); a keyid names exactly one key");
          ok = false;
        } else {
          key.keyid = *text;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = item.required("alg")) {
      if (auto text = readString(diag, *v, item.pathOf("alg"))) {
        if (*text != "ed25519" && *text != "ecdsa-p256-sha256") {
          diag.error(item.pathOf("alg"), *v,
                     "unknown alg '" + *text + "'; expected ed25519 or ecdsa-p256-sha256");
          ok = false;
        } else {
          key.alg = *text;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    auto v = item.required("public_key_file");
    if (!v) continue;
    auto rel = readString(diag, *v, item.pathOf("public_key_file"));
    if (!rel) continue;
    const std::string file_path = item.pathOf("public_key_file");
    if (!isInsideBundle(*rel)) {
      diag.error(file_path, *v,
                 "'" + *rel +
                     "' must be a path relative to the policy bundle directory, without "
                     "'..'");
      continue;
    }
    auto cached = st.key_files.find(*rel);
    if (cached == st.key_files.end()) {
      std::string problem;
      std::error_code ec;
      const fs::path full = st.dir / *rel;
      if (fs::is_regular_file(full, ec) && fs::file_size(full, ec) > kMaxKeyFileBytes) {
        diag.error(file_path, *v, "'" + *rel + "' is larger than 64 KiB; not a public key");
        continue;
      }
      auto bytes = readFile(full, problem);
      if (!bytes) {
        diag.error(file_path, *v, "'" + *rel + "': " + problem + " (" + full.string() + ")");
        continue;
      }
      cached = st.key_files.emplace(*rel, std::move(*bytes)).first;
    }
    std::string problem;
    auto inspected = inspectPublicKey(cached->second, problem);
    if (!inspected) {
      diag.error(file_path, *v, "'" + *rel + "' " + problem);
      continue;
    }
    if (!key.alg.empty() && inspected->first != key.alg) {
      diag.error(file_path, *v,
                 "'" + *rel + "' holds an " + inspected->first + " key but alg is " + key.alg);
      continue;
    }
    if (auto [it, inserted] =
            st.key_der_owner.emplace(inspected->second, system_id + " keyid " + key.keyid);
        !inserted) {
      diag.error(file_path, *v,
                 "'" + *rel + "' is the same public key as " + it->second +
                     "; a key may be registered once");
      continue;
    }
    if (!ok) continue;
    key.pem = cached->second;
    key.file = *rel;
    system.signature_keys.push_back(std::move(key));
  }
}

void loadSystems(const BundleFile& file, LoadState& st) {
  Diagnostics diag(file.name, *st.errors);
  auto root = parseDocument(diag, file.bytes);
  if (!root) return;
  MapReader map(diag, *root, "", {"systems"});
  auto list = map.required("systems");
  if (!list || !expectSequence(diag, *list, "systems")) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const YAML::Node item = (*list)[i];
    const std::string path = indexPath("systems", i);
    MapReader sys(
        diag, item, path,
        {"id", "zone", "name", "certificates", "signature_keys", "require_signature", "callback"});
    if (!sys.isMap()) continue;
    System system;
    std::optional<std::string> id;
    if (auto v = sys.required("id")) id = readSystemId(diag, *v, sys.pathOf("id"));
    if (auto v = sys.required("zone")) {
      if (auto text = readString(diag, *v, sys.pathOf("zone"))) {
        if (auto zone = parseZone(*text)) {
          system.zone = *zone;
        } else {
          diag.error(sys.pathOf("zone"), *v,
                     "unknown zone '" + *text + "'; expected state, external or international");
        }
      }
    }
    if (auto v = sys.required("name")) {
      if (auto name = readLocalizedText(diag, *v, sys.pathOf("name"))) system.name = *name;
    }
    if (auto v = sys.optional("certificates")) {
      readCertificates(diag, *v, sys.pathOf("certificates"), system);
    }
    bool keys_listed = false;  // a non-empty list, even if an entry was bad
    if (auto v = sys.optional("signature_keys")) {
      keys_listed = v->IsSequence() && v->size() > 0;
      readSignatureKeys(diag, *v, sys.pathOf("signature_keys"), id.value_or("?"), system, st);
    }
    // PROTOCOL.md §2: international requests are always signed; elsewhere the registration says.
    system.require_signature = system.zone == Zone::International;
    if (auto v = sys.optional("require_signature")) {
      if (auto required = readBool(diag, *v, sys.pathOf("require_signature"))) {
        if (!*required && system.zone == Zone::International) {
          diag.error(sys.pathOf("require_signature"), *v,
                     "international systems always sign their requests (PROTOCOL.md §2); remove "
                     "require_signature or set it to true");
        } else if (*required && !keys_listed) {
          diag.error(sys.pathOf("require_signature"), *v,
                     "require_signature: true needs at least one signature_keys entry");
        } else {
          system.require_signature = *required;
        }
      }
    }
    if (auto v = sys.optional("callback")) {
      // The async exchange's result notifications (docs/async.md "Callbacks").
      if (auto url = readString(diag, *v, sys.pathOf("callback"))) {
        std::string problem;
        if (auto target = parseUpstreamUrl(*url, problem)) {
          system.callback = *target;
        } else {
          diag.error(sys.pathOf("callback"), *v, problem);
        }
      }
    }
    if (!id) continue;
    system.id = *id;
    // Registered even if another field was bad, so references to it do not cascade into
    // "unknown system" errors; the bundle is rejected anyway.
    if (!st.out->systems.emplace(*id, std::move(system)).second) {
      diag.error(sys.pathOf("id"), item, "system '" + *id + "' is declared more than once");
    }
  }
}

void loadPurposes(const BundleFile& file, LoadState& st) {
  Diagnostics diag(file.name, *st.errors);
  auto root = parseDocument(diag, file.bytes);
  if (!root) return;
  MapReader map(diag, *root, "", {"purposes"});
  auto list = map.required("purposes");
  if (!list || !expectSequence(diag, *list, "purposes")) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const YAML::Node item = (*list)[i];
    const std::string path = indexPath("purposes", i);
    MapReader pur(diag, item, path, {"code", "text"});
    if (!pur.isMap()) continue;
    Purpose purpose;
    std::optional<std::string> code;
    if (auto v = pur.required("code")) {
      code = readString(diag, *v, pur.pathOf("code"));
      if (code && !common::isValidPurposeCode(*code)) {
        diag.error(pur.pathOf("code"), *v,
                   "'" + *code + "' is not a valid purpose code; expected [A-Z][A-Z0-9_]{1,47}");
        code.reset();
      }
    }
    if (auto v = pur.required("text")) {
      if (auto text = readLocalizedText(diag, *v, pur.pathOf("text"))) purpose.text = *text;
    }
    if (!code) continue;
    purpose.code = *code;
    if (!st.out->purposes.emplace(*code, std::move(purpose)).second) {
      diag.error(pur.pathOf("code"), item, "purpose '" + *code + "' is declared more than once");
    }
  }
}

void loadService(Diagnostics& diag, const YAML::Node& item, const std::string& path,
                 const std::string& provider_id, const System* provider, LoadState& st) {
  MapReader svc(diag, item, path,
                {"id", "name", "upstream", "exposed_zones", "personal_data", "data_categories",
                 "timeout", "async"});
  if (!svc.isMap()) return;
  Service service;
  service.provider = provider;
  std::optional<std::string> id;
  if (auto v = svc.required("id")) {
    id = readString(diag, *v, svc.pathOf("id"));
    if (id && !common::isValidServiceId(*id)) {
      diag.error(svc.pathOf("id"), *v,
                 "'" + *id + "' is not a valid service id; expected [a-z][a-zA-Z0-9._-]{0,63}");
      id.reset();
    }
  }
  if (auto v = svc.required("name")) {
    if (auto name = readLocalizedText(diag, *v, svc.pathOf("name"))) service.name = *name;
  }
  if (auto v = svc.required("upstream")) {
    if (auto url = readString(diag, *v, svc.pathOf("upstream"))) {
      std::string problem;
      if (auto upstream = parseUpstreamUrl(*url, problem)) {
        service.upstream = *upstream;
      } else {
        diag.error(svc.pathOf("upstream"), *v, problem);
      }
    }
  }
  if (auto v = svc.required("exposed_zones")) {
    readStringList(
        diag, *v, svc.pathOf("exposed_zones"),
        [&](const std::string& name, const YAML::Node& node, const std::string& p) {
          if (auto zone = parseZone(name)) {
            service.exposed_zones.push_back(*zone);
          } else if (parseListenerKind(name)) {
            diag.error(p, node,
                       "'" + name + "' is a listener, not a zone; a service can be " +
                           "exposed only to state, external or international");
          } else {
            diag.error(p, node,
                       "unknown zone '" + name + "'; expected state, external or international");
          }
        });
    if (v->IsSequence() && v->size() == 0) {
      diag.error(svc.pathOf("exposed_zones"), *v,
                 "list at least one zone; a service exposed nowhere cannot be called");
    }
  }
  if (auto v = svc.required("personal_data")) {
    if (auto b = readBool(diag, *v, svc.pathOf("personal_data"))) service.personal_data = *b;
  }
  if (auto v = svc.optional("data_categories")) {
    readStringList(diag, *v, svc.pathOf("data_categories"),
                   [&](const std::string& name, const YAML::Node& node, const std::string& p) {
                     if (isValidDataCategory(name)) {
                       service.data_categories.push_back(name);
                     } else {
                       diag.error(p, node,
                                  "'" + name + "' is not a valid data category; expected " +
                                      "[a-z][a-z0-9_]{0,63}");
                     }
                   });
  }
  if (auto v = svc.optional("timeout")) {
    // Zero would mean "the default", which omitting the key already says.
    if (auto d = readDuration(diag, *v, svc.pathOf("timeout"), Millis{1}, kMaxServiceTimeout)) {
      service.timeout = *d;
    }
  }
  if (auto v = svc.optional("async")) {
    // Asynchronous deliveries of this service (docs/async.md): {max_attempts: 1..100}.
    MapReader async(diag, *v, svc.pathOf("async"), {"max_attempts"});
    if (async.isMap()) {
      if (auto n = async.optional("max_attempts")) {
        if (auto m = readUnsigned(diag, *n, async.pathOf("max_attempts"), 1, 100)) {
          service.max_attempts = static_cast<unsigned>(*m);
        }
      }
    }
  }
  if (!id) return;
  service.id = *id;
  auto [it, inserted] = st.service_files.emplace(*id, diag.file());
  if (!inserted) {
    diag.error(svc.pathOf("id"), item,
               "service '" + *id + "' is already declared in " + it->second +
                   "; service ids are unique across the bundle");
    return;
  }
  st.service_owner.emplace(*id, provider_id);
  st.out->services.emplace(*id, std::move(service));
}

// "HH:MM" → minutes of the day; "24:00" allowed as an end.
std::optional<int> parseClock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto d = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -100; };
  const int h = d(0) * 10 + d(1), m = d(3) * 10 + d(4);
  if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

void readSchedule(Diagnostics& diag, const YAML::Node& node, const std::string& path,
                  Schedule& out) {
  MapReader map(diag, node, path, {"weekdays", "hours", "utc_offset"});
  if (!map.isMap()) return;
  if (auto v = map.optional("weekdays")) {
    static constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    std::uint8_t mask = 0;
    readStringList(diag, *v, map.pathOf("weekdays"),
                   [&](const std::string& day, const YAML::Node& n, const std::string& p) {
                     for (int i = 0; i < 7; ++i) {
                       if (day == kDays[i]) {
                         mask |= static_cast<std::uint8_t>(1u << i);
                         return;
                       }
                     }
                     diag.error(p, n, "unknown weekday '" + day + "'; use mon, tue, … sun");
                   });
    if (mask == 0) diag.error(map.pathOf("weekdays"), *v, "list at least one weekday");
    out.weekdays = mask;
  }
  if (auto v = map.optional("hours")) {
    if (auto text = readString(diag, *v, map.pathOf("hours"))) {
      const auto dash = text->find('-');
      std::optional<int> from, to;
      if (dash != std::string::npos) {
        from = parseClock(std::string_view(*text).substr(0, dash));
        to = parseClock(std::string_view(*text).substr(dash + 1));
      }
      if (!from || !to || *from >= *to) {
        diag.error(map.pathOf("hours"), *v,
                   "expected \"HH:MM-HH:MM\" with the start before the end (e.g. "
                   "\"09:00-18:00\"); split a window over midnight into two grants");
      } else {
        out.start_minute = *from;
        out.end_minute = *to;
      }
    }
  }
  if (auto v = map.optional("utc_offset")) {
    if (auto text = readString(diag, *v, map.pathOf("utc_offset"))) {
      std::optional<int> hm;
      if (text->size() == 6 && ((*text)[0] == '+' || (*text)[0] == '-')) {
        hm = parseClock(std::string_view(*text).substr(1));
      }
      if (!hm || *hm > 14 * 60) {
        diag.error(map.pathOf("utc_offset"), *v, "expected \"+HH:MM\" or \"-HH:MM\"");
      } else {
        out.utc_offset_minutes = (*text)[0] == '-' ? -*hm : *hm;
      }
    }
  }
}

void readGrantTerms(Diagnostics& diag, MapReader& map, Grant& g) {
  if (auto v = map.optional("requires_consent")) {
    if (auto b = readBool(diag, *v, map.pathOf("requires_consent"))) g.requires_consent = *b;
  }
  if (auto v = map.optional("rate_limit")) {
    MapReader rl(diag, *v, map.pathOf("rate_limit"), {"per_second", "per_minute", "burst"});
    if (rl.isMap()) {
      const auto ps = rl.optional("per_second");
      const auto pm = rl.optional("per_minute");
      if (ps.has_value() == pm.has_value()) {
        diag.error(rl.path(), *v, "give exactly one of per_second or per_minute");
      } else if (ps) {
        if (auto n = readUnsigned(diag, *ps, rl.pathOf("per_second"), 1, 1'000'000)) {
          g.rate_per_second = static_cast<double>(*n);
        }
      } else if (auto n = readUnsigned(diag, *pm, rl.pathOf("per_minute"), 1, 60'000'000)) {
        g.rate_per_second = static_cast<double>(*n) / 60.0;
      }
      g.burst = g.rate_per_second >= 1 ? static_cast<std::uint32_t>(g.rate_per_second) : 1;
      if (auto b = rl.optional("burst")) {
        if (auto n = readUnsigned(diag, *b, rl.pathOf("burst"), 1, 1'000'000)) {
          g.burst = static_cast<std::uint32_t>(*n);
        }
      }
    }
  }
  if (auto v = map.optional("max_concurrent")) {
    if (auto n = readUnsigned(diag, *v, map.pathOf("max_concurrent"), 1, 1'000'000)) {
      g.max_concurrent = static_cast<std::uint32_t>(*n);
    }
  }
  auto time = [&](std::string_view key, std::optional<std::chrono::system_clock::time_point>& out) {
    if (auto v = map.optional(key)) {
      if (auto text = readString(diag, *v, map.pathOf(key))) {
        out = parseRfc3339(*text);
        if (!out) {
          diag.error(map.pathOf(key), *v,
                     "expected an RFC 3339 time with offset, e.g. \"2026-01-01T00:00:00+05:00\"");
        }
      }
    }
  };
  time("valid_from", g.valid_from);
  time("valid_until", g.valid_until);
  if (g.valid_from && g.valid_until && *g.valid_from >= *g.valid_until) {
    diag.error(map.pathOf("valid_until"), *map.optional("valid_until"),
               "valid_until must be after valid_from");
  }
  if (auto v = map.optional("schedule")) readSchedule(diag, *v, map.pathOf("schedule"), g.schedule);
}

void loadGrant(Diagnostics& diag, const YAML::Node& item, const std::string& path,
               const std::string& provider_id, LoadState& st) {
  MapReader map(diag, item, path,
                {"client", "services", "purposes", "legal_basis", "requires_consent", "rate_limit",
                 "max_concurrent", "valid_from", "valid_until", "schedule"});
  if (!map.isMap()) return;
  RawGrant grant;
  grant.file = diag.file();
  grant.path = path;
  grant.node = item;
  grant.provider_id = provider_id;
  grant.purposes_path = map.pathOf("purposes");
  if (auto v = map.required("client")) {
    if (auto id = readSystemId(diag, *v, map.pathOf("client"))) {
      grant.client = RawRef{*id, *v, map.pathOf("client")};
    }
  }
  if (auto v = map.required("services")) {
    readStringList(diag, *v, map.pathOf("services"),
                   [&](const std::string& id, const YAML::Node& node, const std::string& p) {
                     grant.services.push_back(RawRef{id, node, p});
                   });
    if (v->IsSequence() && v->size() == 0) {
      diag.error(map.pathOf("services"), *v, "list at least one service");
    }
  }
  if (auto v = map.optional("purposes")) {
    grant.purposes_listed = v->IsSequence() && v->size() > 0;
    readStringList(diag, *v, map.pathOf("purposes"),
                   [&](const std::string& code, const YAML::Node& node, const std::string& p) {
                     grant.purposes.push_back(RawRef{code, node, p});
                   });
  }
  if (auto v = map.required("legal_basis")) {
    grant.legal_basis = readText(diag, *v, map.pathOf("legal_basis"));
  }
  readGrantTerms(diag, map, grant.terms);
  st.grants.push_back(std::move(grant));
}

void loadProvider(const BundleFile& file, LoadState& st) {
  Diagnostics diag(file.name, *st.errors);
  auto root = parseDocument(diag, file.bytes);
  if (!root) return;
  MapReader map(diag, *root, "", {"provider", "services", "grants"});
  std::string provider_id;
  const System* provider = nullptr;
  if (auto v = map.required("provider")) {
    if (auto id = readSystemId(diag, *v, "provider")) {
      provider_id = *id;
      provider = st.out->findSystem(*id);
      if (!provider) {
        diag.error("provider", *v,
                   "provider '" + *id + "' is not a registered system; add it to systems.yaml");
      }
      auto [it, inserted] = st.provider_files.emplace(*id, file.name);
      if (!inserted) {
        diag.error("provider", *v,
                   "provider '" + *id + "' already has a policy file, " + it->second +
                       "; keep one file per provider");
      }
    }
  }
  if (auto v = map.optional("services"); v && expectSequence(diag, *v, "services")) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      loadService(diag, (*v)[i], indexPath("services", i), provider_id, provider, st);
    }
  }
  if (auto v = map.optional("grants"); v && expectSequence(diag, *v, "grants")) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      loadGrant(diag, (*v)[i], indexPath("grants", i), provider_id, st);
    }
  }
}

void resolveGrants(LoadState& st) {
  PolicyBundle& out = *st.out;
  for (RawGrant& raw : st.grants) {
    Diagnostics diag(raw.file, *st.errors);
    const std::size_t errors_before = diag.count();
    Grant grant = std::move(raw.terms);
    grant.source_file = raw.file;
    if (raw.client) {
      grant.client = out.findSystem(raw.client->value);
      if (!grant.client) {
        diag.error(raw.client->path, raw.client->node,
                   "client '" + raw.client->value +
                       "' is not a registered system; add it to systems.yaml");
      }
    }
    const Service* personal = nullptr;
    for (const RawRef& ref : raw.services) {
      const Service* service = out.findService(ref.value);
      if (!service) {
        diag.error(ref.path, ref.node, "unknown service '" + ref.value + "'");
        continue;
      }
      auto owner = st.service_owner.find(ref.value);
      if (owner != st.service_owner.end() && owner->second != raw.provider_id) {
        diag.error(ref.path, ref.node,
                   "service '" + ref.value + "' belongs to provider '" + owner->second +
                       "'; a provider grants access only to its own services (Digital Code " +
                       "Art. 24 p.3.1, 28)");
        continue;
      }
      if (service->personal_data && !personal) personal = service;
      grant.services.push_back(service);
    }
    for (const RawRef& ref : raw.purposes) {
      const Purpose* purpose = out.findPurpose(ref.value);
      if (!purpose) {
        diag.error(ref.path, ref.node,
                   "unknown purpose code '" + ref.value + "'; declare it in purposes.yaml");
        continue;
      }
      grant.purposes.push_back(purpose);
    }
    if (personal && !raw.purposes_listed) {
      diag.error(raw.purposes_path, raw.node,
                 "service '" + personal->id + "' returns personal data: the grant must list at " +
                     "least one purpose (Digital Code Art. 37 p.3, 64 p.4)");
    }
    // Digital Code Art. 37 p.3, 64 p.4: personal data reaches a non-state system only with the
    // subject's consent (the legal basis of a state body does not extend to it).
    if (personal && grant.client && grant.client->zone == Zone::External &&
        !grant.requires_consent) {
      diag.error(raw.path + ".requires_consent", raw.node,
                 "service '" + personal->id + "' returns personal data to the non-state system '" +
                     grant.client->id +
                     "': the grant must set requires_consent: true (Digital Code Art. 37 p.3, "
                     "64 p.4)");
    }
    if (raw.legal_basis) grant.legal_basis = *raw.legal_basis;
    if (grant.client) {
      std::vector<std::string> ids;
      for (const Service* s : grant.services) ids.push_back(s->id);
      std::sort(ids.begin(), ids.end());
      grant.key = raw.file + "|" + grant.client->id;
      for (const auto& id : ids) grant.key += "|" + id;
    }
    if (diag.count() == errors_before && grant.client && raw.legal_basis) {
      out.grants.push_back(std::move(grant));
    }
  }
  // Built only now: grant_index points into `grants`, which must no longer grow.
  for (const Grant& grant : out.grants) {
    for (const Service* service : grant.services) {
      out.grant_index[{grant.client->id, service->id}].push_back(&grant);
    }
  }
  // Grants that overlap on (client, service, purpose) must agree on consent and limits; otherwise
  // which one applies would depend on declaration order. Different validity periods or schedules
  // are fine (e.g. a renewal that starts when the old grant ends).
  for (const auto& [pair, grants] : out.grant_index) {
    for (std::size_t i = 0; i < grants.size(); ++i) {
      for (std::size_t j = i + 1; j < grants.size(); ++j) {
        const Grant& a = *grants[i];
        const Grant& b = *grants[j];
        // A call to a non-personal service may state no purpose and then matches every grant of
        // the pair, so all of them overlap.
        const Service* service = out.findService(pair.second);
        bool shared_purpose = (a.purposes.empty() && b.purposes.empty()) ||
                              (service != nullptr && !service->personal_data);
        for (const Purpose* p : a.purposes) shared_purpose |= b.allowsPurpose(p->code);
        if (!shared_purpose) continue;
        std::string what;
        if (a.requires_consent != b.requires_consent)
          what = "requires_consent";
        else if (a.rate_per_second != b.rate_per_second || a.burst != b.burst)
          what = "rate_limit";
        else if (a.max_concurrent != b.max_concurrent)
          what = "max_concurrent";
        if (what.empty()) continue;
        st.errors->push_back(
            ConfigError{b.source_file + ": grants",
                        "grants for client '" + pair.first + "' and service '" + pair.second +
                            "' overlap on a purpose but disagree on " + what + " (other grant in " +
                            a.source_file + "); make them agree or split the purposes"});
      }
    }
  }
}

// Provider files in name order; anything else in providers/ is an error, because a misnamed file
// (".yml", "tax.yaml.bak") would silently drop a provider's policy.
std::vector<std::string> listProviderFiles(const fs::path& dir, Diagnostics& diag) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    diag.error("", "directory is missing; it holds one <provider>.yaml per provider system");
    return names;
  }
  fs::directory_iterator it(dir, ec), end;
  if (ec) {
    diag.error("", "cannot be listed: " + ec.message());
    return names;
  }
  for (; it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.') continue;  // editor swap files, .gitkeep
    const std::string rel = std::string(kProvidersDir) + "/" + name;
    if (!it->is_regular_file(ec)) {
      diag.error("", "unexpected entry '" + rel + "'; providers/ holds only <provider>.yaml files");
      continue;
    }
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".yaml") != 0) {
      diag.error("", "unexpected file '" + rel + "'; provider files must end in .yaml");
      continue;
    }
    names.push_back(rel);
  }
  if (ec) diag.error("", "cannot be listed: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

void loadPolicyBundle(const fs::path& dir, std::vector<ConfigError>& errors, PolicyBundle& out,
                      std::string& digest) {
  LoadState st;
  st.out = &out;
  st.errors = &errors;
  st.dir = dir;

  std::vector<std::string> names = {kSystemsFile, kPurposesFile};
  {
    Diagnostics diag(std::string(kProvidersDir) + "/", errors);
    auto providers = listProviderFiles(dir / kProvidersDir, diag);
    names.insert(names.end(), providers.begin(), providers.end());
  }

  // Each file is read once: the digest covers exactly the bytes that were validated.
  std::vector<BundleFile> files;
  bool all_read = true;
  for (const std::string& name : names) {
    std::string problem;
    auto bytes = readFile(dir / name, problem);
    if (bytes && bytes->find('\0') != std::string::npos) {
      problem = "contains a NUL byte; policy files are UTF-8 YAML text";
      bytes.reset();
    }
    if (!bytes) {
      errors.push_back(ConfigError{name, problem + " (" + (dir / name).string() + ")"});
      all_read = false;
      files.push_back(BundleFile{name, std::string(), false});
      continue;
    }
    files.push_back(BundleFile{name, std::move(*bytes)});
  }

  // Systems and purposes first: provider files refer to both.
  if (files[0].readable) loadSystems(files[0], st);
  if (files[1].readable) loadPurposes(files[1], st);
  for (std::size_t i = 2; i < files.size(); ++i) {
    if (files[i].readable) loadProvider(files[i], st);
  }
  resolveGrants(st);

  digest.clear();
  if (!all_read) return;
  // Signature key files are part of the policy: rotating a key changes the digest.
  for (auto& [name, bytes] : st.key_files) files.push_back(BundleFile{name, std::move(bytes)});
  std::sort(files.begin(), files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.name < b.name; });
  std::string material;
  for (const BundleFile& file : files) {
    material += file.name;
    material += '\0';
    material += file.bytes;
  }
  digest = sha256Hex(material);
}

}  // namespace qaqpa::config::detail
