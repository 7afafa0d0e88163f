// The gateway file: node identity, listeners, limits, upstream pool settings, policy location.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "gateway/common/ids.h"
#include "gateway/config/loader.h"

namespace qaqpa::config::detail {
namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kMaxWorkers = 1024;
constexpr Millis kMaxDuration{24LL * 60 * 60 * 1000};  // a day: anything longer is a typo
constexpr Millis kOneMs{1};

// [a-z0-9][a-z0-9._-]{0,62}: the node id ends up in events, metric labels and file names.
bool isValidNodeId(std::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(id.front())) return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return lower_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool isIpLiteral(const std::string& address, bool& is_wildcard) {
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, address.c_str(), buf.data()) == 1) {
    is_wildcard = address == "0.0.0.0";
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), buf.data()) == 1) {
    is_wildcard = std::all_of(buf.begin(), buf.end(), [](unsigned char b) { return b == 0; });
    return true;
  }
  return false;
}

std::optional<TlsSettings> readTls(Diagnostics& diag, const YAML::Node& node,
                                   const std::string& path, ListenerKind kind,
                                   const std::filesystem::path& base_dir) {
  MapReader map(diag, node, path,
                {"cert_file", "key_file", "client_ca_file", "client_auth", "min_version"});
  if (!map.isMap()) return std::nullopt;
  TlsSettings tls;
  bool ok = true;
  auto file = [&](std::string_view key, std::string& out, bool required) {
    auto v = required ? map.required(key) : map.optional(key);
    if (!v) {
      if (required) ok = false;
      return;
    }
    auto text = readText(diag, *v, map.pathOf(key));
    if (!text) {
      ok = false;
      return;
    }
    const std::filesystem::path p = (base_dir / *text).lexically_normal();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) {
      diag.error(map.pathOf(key), *v, "file '" + p.string() + "' does not exist");
      ok = false;
      return;
    }
    out = p.string();
  };
  file("cert_file", tls.cert_file, true);
  file("key_file", tls.key_file, true);
  file("client_ca_file", tls.client_ca_file, false);
  // Zones of non-state systems require client certificates unless told otherwise.
  tls.client_auth = (kind == ListenerKind::External || kind == ListenerKind::International)
                        ? ClientAuth::Required
                        : ClientAuth::None;
  if (auto v = map.optional("client_auth")) {
    if (auto text = readString(diag, *v, map.pathOf("client_auth"))) {
      if (*text == "none") {
        tls.client_auth = ClientAuth::None;
      } else if (*text == "optional") {
        tls.client_auth = ClientAuth::Optional;
      } else if (*text == "required") {
        tls.client_auth = ClientAuth::Required;
      } else {
        diag.error(map.pathOf("client_auth"), *v,
                   "expected none, optional or required, got '" + *text + "'");
        ok = false;
      }
    }
  }
  if (auto v = map.optional("min_version")) {
    if (auto text = readString(diag, *v, map.pathOf("min_version"))) {
      if (*text == "1.3") {
        tls.tls13_only = true;
      } else if (*text != "1.2") {
        diag.error(map.pathOf("min_version"), *v,
                   "expected \"1.2\" or \"1.3\" (older TLS versions are not offered), got '" +
                       *text + "'");
        ok = false;
      }
    }
  }
  if (tls.client_auth != ClientAuth::None && tls.client_ca_file.empty() && ok) {
    diag.error(map.pathOf("client_ca_file"), node,
               "client certificates are requested (client_auth) but no client_ca_file gives "
               "the trust anchors to check them");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return tls;
}

void readListeners(Diagnostics& diag, const YAML::Node& node, GatewayConfig& out,
                   const std::filesystem::path& base_dir) {
  MapReader map(diag, node, "listeners", {"state", "external", "international", "space", "admin"});
  if (!map.isMap()) return;
  struct Bound {
    ListenerConfig config;
    bool wildcard = false;
  };
  std::vector<Bound> bound;
  for (const auto& [name, value] : map.entries()) {
    const ListenerKind kind = *parseListenerKind(name);  // MapReader admitted only known kinds
    const std::string path = map.pathOf(name);
    MapReader listener(diag, value, path, {"address", "port", "tls"});
    if (!listener.isMap()) continue;
    ListenerConfig config;
    config.kind = kind;
    bool ok = true;
    bool wildcard = false;
    if (auto address = listener.optional("address")) {
      auto text = readString(diag, *address, listener.pathOf("address"));
      if (text && !isIpLiteral(*text, wildcard)) {
        diag.error(
            listener.pathOf("address"), *address,
            "expected an IPv4 or IPv6 address literal (e.g. 127.0.0.1, 0.0.0.0, ::1), got '" +
                *text + "'");
        text.reset();
      }
      if (text)
        config.address = *text;
      else
        ok = false;
    } else {
      isIpLiteral(config.address, wildcard);
    }
    if (auto port = listener.required("port")) {
      auto value_port = readUnsigned(diag, *port, listener.pathOf("port"), 0, 65535);
      if (value_port)
        config.port = static_cast<std::uint16_t>(*value_port);
      else
        ok = false;
    } else {
      ok = false;
    }
    if (auto tls = listener.optional("tls")) {
      config.tls = readTls(diag, *tls, listener.pathOf("tls"), kind, base_dir);
      if (!config.tls) ok = false;
    }
    if (!ok) continue;
    // Port 0 asks the kernel for a free port, so several listeners may use it (tests).
    if (config.port != 0) {
      for (const Bound& other : bound) {
        if (other.config.port != config.port) continue;
        if (other.config.address == config.address || other.wildcard || wildcard) {
          diag.error(path, value,
                     "listener " + config.address + ":" + std::to_string(config.port) +
                         " overlaps listener '" + std::string(listenerName(other.config.kind)) +
                         "' (" + other.config.address + ":" + std::to_string(other.config.port) +
                         "); every listener needs its own address:port");
          ok = false;
          break;
        }
      }
    }
    if (ok) bound.push_back(Bound{config, wildcard});
    out.listeners.push_back(config);
  }
  std::sort(out.listeners.begin(), out.listeners.end(),
            [](const ListenerConfig& a, const ListenerConfig& b) { return a.kind < b.kind; });

  const bool has_zone = std::any_of(map.entries().begin(), map.entries().end(), [](const auto& e) {
    return zoneOf(*parseListenerKind(e.first)).has_value();
  });
  const bool has_admin = map.optional("admin").has_value();
  if (!has_zone) {
    diag.error("listeners", node,
               "at least one zone listener (state, external or international) is required");
  }
  if (!has_admin) {
    diag.error("listeners.admin", node,
               "the admin listener is required (health, readiness and metrics are served there)");
  }
}

void readLimits(Diagnostics& diag, const YAML::Node& node, Limits& out) {
  MapReader map(diag, node, "limits",
                {"max_header_bytes", "max_body_bytes", "request_read_timeout", "idle_timeout",
                 "write_timeout", "max_connections", "max_requests_per_connection"});
  if (!map.isMap()) return;
  auto size = [&](std::string_view key, std::size_t& field, std::uint64_t min, std::uint64_t max) {
    if (auto v = map.optional(key)) {
      if (auto n = readUnsigned(diag, *v, map.pathOf(key), min, max)) field = *n;
    }
  };
  auto duration = [&](std::string_view key, Millis& field) {
    if (auto v = map.optional(key)) {
      if (auto d = readDuration(diag, *v, map.pathOf(key), kOneMs, kMaxDuration)) field = *d;
    }
  };
  size("max_header_bytes", out.max_header_bytes, kKiB, kMiB);
  size("max_body_bytes", out.max_body_bytes, 1, kGiB);
  duration("request_read_timeout", out.request_read_timeout);
  duration("idle_timeout", out.idle_timeout);
  duration("write_timeout", out.write_timeout);
  size("max_connections", out.max_connections, 1, 1'000'000);
  size("max_requests_per_connection", out.max_requests_per_connection, 1, 100'000'000);
}

void readUpstream(Diagnostics& diag, const YAML::Node& node, UpstreamSettings& out) {
  MapReader map(diag, node, "upstream",
                {"connect_timeout", "default_timeout", "max_idle_per_host",
                 "max_response_body_bytes", "idle_keepalive"});
  if (!map.isMap()) return;
  auto duration = [&](std::string_view key, Millis& field) {
    if (auto v = map.optional(key)) {
      if (auto d = readDuration(diag, *v, map.pathOf(key), kOneMs, kMaxDuration)) field = *d;
    }
  };
  duration("connect_timeout", out.connect_timeout);
  duration("default_timeout", out.default_timeout);
  if (auto v = map.optional("max_idle_per_host")) {
    if (auto n = readUnsigned(diag, *v, map.pathOf("max_idle_per_host"), 0, 10'000)) {
      out.max_idle_per_host = *n;
    }
  }
  if (auto v = map.optional("max_response_body_bytes")) {
    if (auto n = readUnsigned(diag, *v, map.pathOf("max_response_body_bytes"), 1, 4 * kGiB)) {
      out.max_response_body_bytes = *n;
    }
  }
  duration("idle_keepalive", out.idle_keepalive);
}

// [A-Za-z0-9._-]{1,64}: printable and safe in a JWKS, a Signature-Input keyid and a file name.
bool isValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > 64) return false;
  return std::all_of(kid.begin(), kid.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

void readSigning(Diagnostics& diag, const YAML::Node& node, const std::filesystem::path& base_dir,
                 bool demo, SigningSettings& out) {
  MapReader map(diag, node, "signing", {"keys", "sign_responses"});
  if (!map.isMap()) return;
  if (auto v = map.optional("sign_responses")) {
    if (auto b = readBool(diag, *v, map.pathOf("sign_responses"))) out.sign_responses = *b;
  }
  auto keys = map.optional("keys");
  if (!keys) return;
  if (!keys->IsSequence()) {
    diag.error(map.pathOf("keys"), *keys, "expected a list of keys");
    return;
  }
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const std::string path = map.pathOf("keys") + "[" + std::to_string(i) + "]";
    MapReader key(diag, (*keys)[i], path,
                  {"kid", "private_key_file", "public_key_file", "active", "generate"});
    if (!key.isMap()) continue;
    SigningKeyConfig k;
    if (auto v = key.optional("generate")) {
      if (auto text = readString(diag, *v, key.pathOf("generate"))) {
        if (*text != "ed25519" && *text != "ecdsa-p256-sha256") {
          diag.error(key.pathOf("generate"), *v,
                     "unknown algorithm '" + *text + "'; expected ed25519 or ecdsa-p256-sha256");
        } else if (!demo) {
          diag.error(key.pathOf("generate"), *v,
                     "generating a signing key at start is for the demo only "
                     "(demo_trust_client_header: true); provision production keys yourself");
        } else if (!key.optional("private_key_file")) {
          diag.error(key.pathOf("generate"), *v, "needs private_key_file: where to keep the key");
        } else {
          k.generate = *text;
        }
      }
    }
    if (auto v = key.required("kid")) {
      if (auto text = readString(diag, *v, key.pathOf("kid"))) {
        if (isValidKid(*text)) {
          k.kid = *text;
        } else {
          diag.error(key.pathOf("kid"), *v,
                     "'" + *text + "' is not a valid key id; expected [A-Za-z0-9._-]{1,64}");
        }
      }
    }
    auto file = [&](std::string_view name, std::string& field) {
      auto v = key.optional(name);
      if (!v) return;
      auto text = readText(diag, *v, key.pathOf(name));
      if (!text) return;
      const std::filesystem::path p = (base_dir / *text).lexically_normal();
      std::error_code ec;
      if (k.generate.empty() && !std::filesystem::is_regular_file(p, ec)) {
        diag.error(key.pathOf(name), *v, "file '" + p.string() + "' does not exist");
        return;
      }
      field = p.string();
    };
    file("private_key_file", k.private_key_file);
    file("public_key_file", k.public_key_file);
    const bool has_private = key.optional("private_key_file").has_value();
    const bool has_public = key.optional("public_key_file").has_value();
    if (has_private == has_public) {
      diag.error(path, (*keys)[i],
                 "a key needs exactly one of private_key_file (the active key, or a retired key "
                 "still held) and public_key_file (a retired key)");
    }
    if (auto v = key.optional("active")) {
      if (auto b = readBool(diag, *v, key.pathOf("active"))) k.active = *b;
    }
    if (k.active && !has_private) {
      diag.error(path, (*keys)[i], "the active key must have a private_key_file");
    }
    for (const SigningKeyConfig& other : out.keys) {
      if (!k.kid.empty() && other.kid == k.kid) {
        diag.error(key.pathOf("kid"), (*keys)[i], "duplicate key id '" + k.kid + "'");
      }
    }
    out.keys.push_back(std::move(k));
  }
  const auto active = std::count_if(out.keys.begin(), out.keys.end(),
                                    [](const SigningKeyConfig& k) { return k.active; });
  if (!out.keys.empty() && active != 1) {
    diag.error(map.pathOf("keys"), *keys,
               "exactly one key must be active (it signs); found " + std::to_string(active));
  }
}

void readJournal(Diagnostics& diag, const YAML::Node& node, const std::filesystem::path& base_dir,
                 JournalSettings& out) {
  MapReader map(
      diag, node, "journal",
      {"enabled", "dir", "fsync", "fsync_interval", "max_batch_events", "max_queue_events",
       "segment_max_bytes", "segment_max_age", "retention", "archive_dir", "retry_interval"});
  if (!map.isMap()) return;
  if (auto v = map.optional("enabled")) {
    if (auto b = readBool(diag, *v, map.pathOf("enabled"))) out.enabled = *b;
  }
  auto dir = [&](std::string_view key, std::string& field) {
    if (auto v = map.optional(key)) {
      if (auto text = readText(diag, *v, map.pathOf(key))) {
        field = (base_dir / *text).lexically_normal().string();
        while (field.size() > 1 && field.back() == '/') field.pop_back();
      }
    }
  };
  dir("dir", out.dir);
  dir("archive_dir", out.archive_dir);
  if (auto v = map.optional("fsync")) {
    if (auto text = readString(diag, *v, map.pathOf("fsync"))) {
      if (*text == "always") {
        out.fsync = FsyncMode::Always;
      } else if (*text == "batch") {
        out.fsync = FsyncMode::Batch;
      } else if (*text == "none") {
        out.fsync = FsyncMode::None;
      } else {
        diag.error(map.pathOf("fsync"), *v,
                   "unknown fsync policy '" + *text + "'; expected always, batch or none");
      }
    }
  }
  auto duration = [&](std::string_view key, Millis& field, Millis min, Millis max) {
    if (auto v = map.optional(key)) {
      if (auto d = readDuration(diag, *v, map.pathOf(key), min, max)) field = *d;
    }
  };
  constexpr Millis kCentury{36'500LL * 86'400'000};
  duration("fsync_interval", out.fsync_interval, Millis{10}, Millis{60'000});
  duration("segment_max_age", out.segment_max_age, Millis{1'000}, Millis{30LL * 86'400'000});
  duration("retention", out.retention, Millis{0}, kCentury);
  duration("retry_interval", out.retry_interval, Millis{10}, Millis{60'000});
  auto size = [&](std::string_view key, auto& field, std::uint64_t min, std::uint64_t max) {
    if (auto v = map.optional(key)) {
      if (auto n = readUnsigned(diag, *v, map.pathOf(key), min, max)) field = *n;
    }
  };
  size("max_batch_events", out.max_batch_events, 1, 1'000'000);
  size("max_queue_events", out.max_queue_events, 1, 100'000'000);
  size("segment_max_bytes", out.segment_max_bytes, kMiB, 64 * kGiB);
  if (out.retention.count() > 0 && out.archive_dir.empty()) {
    diag.error(map.pathOf("retention"), node,
               "retention moves closed segments to archive_dir; set archive_dir (segments are "
               "never deleted without an archived copy)");
  }
}

// An identity provider's `iss`: 1..256 printable ASCII characters without spaces (a URL or a
// URN in practice); compared byte for byte with the token's claim.
bool isValidIssuer(std::string_view iss) {
  if (iss.empty() || iss.size() > 256) return false;
  return std::all_of(iss.begin(), iss.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// The `space:` section: citizen tokens (PROTOCOL.md §7). Key files are only checked to exist
// here; gateway/space parses them and checks their type against `alg`.
void readSpace(Diagnostics& diag, const YAML::Node& node, const std::filesystem::path& base_dir,
               bool demo, SpaceSettings& out) {
  MapReader map(diag, node, "space",
                {"audience", "max_clock_skew", "max_token_lifetime", "identity_providers",
                 "demo_identity_provider", "web_root"});
  if (!map.isMap()) return;
  if (auto v = map.optional("web_root")) {
    if (auto text = readText(diag, *v, map.pathOf("web_root"))) {
      const std::filesystem::path p = (base_dir / *text).lexically_normal();
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p / "index.html", ec)) {
        diag.error(map.pathOf("web_root"), *v,
                   "'" + p.string() + "' is not a directory with an index.html");
      } else {
        out.web_root = p.string();
      }
    }
  }
  if (auto v = map.optional("audience")) {
    if (auto text = readString(diag, *v, map.pathOf("audience"))) {
      if (isValidIssuer(*text)) {
        out.audience = *text;
      } else {
        diag.error(map.pathOf("audience"), *v,
                   "'" + *text +
                       "' is not a valid audience; expected 1..256 printable ASCII "
                       "characters without spaces");
      }
    }
  }
  if (auto v = map.optional("max_clock_skew")) {
    if (auto d = readDuration(diag, *v, map.pathOf("max_clock_skew"), Millis{0}, Millis{600'000})) {
      out.max_clock_skew = *d;
    }
  }
  if (auto v = map.optional("max_token_lifetime")) {
    if (auto d =
            readDuration(diag, *v, map.pathOf("max_token_lifetime"), Millis{1'000}, kMaxDuration)) {
      out.max_token_lifetime = *d;
    }
  }
  // Key ids are unique across all issuers (and the demo provider): a kid names one key.
  std::vector<std::string> kids;
  auto checkKid = [&](const std::string& kid, const std::string& path, const YAML::Node& at) {
    if (kid.empty()) return;
    if (std::find(kids.begin(), kids.end(), kid) != kids.end()) {
      diag.error(path, at,
                 "duplicate key id '" + kid +
                     "' (key ids are unique across all "
                     "identity providers)");
    }
    kids.push_back(kid);
  };
  std::vector<std::string> issuers;
  auto checkIssuer = [&](const std::string& iss, const std::string& path, const YAML::Node& at) {
    if (iss.empty()) return;
    if (std::find(issuers.begin(), issuers.end(), iss) != issuers.end()) {
      diag.error(path, at, "duplicate issuer '" + iss + "'");
    }
    issuers.push_back(iss);
  };
  auto readIssuer = [&](MapReader& m, std::string& field, bool required) {
    auto v = required ? m.required("issuer") : m.optional("issuer");
    if (!v) return;
    if (auto text = readString(diag, *v, m.pathOf("issuer"))) {
      if (isValidIssuer(*text)) {
        field = *text;
      } else {
        diag.error(m.pathOf("issuer"), *v,
                   "'" + *text +
                       "' is not a valid issuer; expected 1..256 printable ASCII "
                       "characters without spaces (the token's iss claim, compared exactly)");
      }
    }
  };
  auto readKid = [&](MapReader& m, std::string& field, bool required, bool unique) {
    auto v = required ? m.required("kid") : m.optional("kid");
    if (!v) return;
    if (auto text = readString(diag, *v, m.pathOf("kid"))) {
      if (isValidKid(*text)) {
        field = *text;
        if (unique) checkKid(field, m.pathOf("kid"), *v);
      } else {
        diag.error(m.pathOf("kid"), *v,
                   "'" + *text + "' is not a valid key id; expected [A-Za-z0-9._-]{1,64}");
      }
    }
  };
  // The path of a key file resolved against the gateway file; must exist unless `may_be_absent`.
  auto readFile = [&](MapReader& m, std::string_view key, std::string& field, bool may_be_absent) {
    auto v = m.required(key);
    if (!v) return;
    auto text = readText(diag, *v, m.pathOf(key));
    if (!text) return;
    const std::filesystem::path p = (base_dir / *text).lexically_normal();
    std::error_code ec;
    if (!may_be_absent && !std::filesystem::is_regular_file(p, ec)) {
      diag.error(m.pathOf(key), *v, "file '" + p.string() + "' does not exist");
      return;
    }
    field = p.string();
  };

  if (auto providers = map.optional("identity_providers")) {
    if (expectSequence(diag, *providers, map.pathOf("identity_providers"))) {
      for (std::size_t i = 0; i < providers->size(); ++i) {
        const std::string path = indexPath(map.pathOf("identity_providers"), i);
        MapReader idp(diag, (*providers)[i], path, {"issuer", "keys"});
        if (!idp.isMap()) continue;
        IdentityProviderConfig config;
        readIssuer(idp, config.issuer, true);
        checkIssuer(config.issuer, idp.pathOf("issuer"), (*providers)[i]);
        auto keys = idp.required("keys");
        if (keys && expectSequence(diag, *keys, idp.pathOf("keys"))) {
          if (keys->size() == 0) {
            diag.error(idp.pathOf("keys"), *keys,
                       "an identity provider needs at least one key to verify its tokens");
          }
          for (std::size_t j = 0; j < keys->size(); ++j) {
            MapReader key(diag, (*keys)[j], indexPath(idp.pathOf("keys"), j),
                          {"kid", "alg", "public_key_file"});
            if (!key.isMap()) continue;
            IdentityProviderKeyConfig k;
            readKid(key, k.kid, true, true);
            if (auto v = key.required("alg")) {
              if (auto text = readString(diag, *v, key.pathOf("alg"))) {
                if (*text == "EdDSA" || *text == "ES256") {
                  k.alg = *text;
                } else {
                  diag.error(key.pathOf("alg"), *v,
                             "unsupported algorithm '" + *text +
                                 "'; expected EdDSA or ES256 (HMAC, RSA and none are refused)");
                }
              }
            }
            readFile(key, "public_key_file", k.public_key_file, false);
            config.keys.push_back(std::move(k));
          }
        }
        out.identity_providers.push_back(std::move(config));
      }
    }
  }

  if (auto v = map.optional("demo_identity_provider")) {
    DemoIdentityProviderConfig& d = out.demo_identity_provider;
    MapReader m(
        diag, *v, map.pathOf("demo_identity_provider"),
        {"enabled", "private_key_file", "generate", "issuer", "kid", "token_lifetime", "citizens"});
    if (!m.isMap()) return;
    if (auto e = m.optional("enabled")) {
      if (auto b = readBool(diag, *e, m.pathOf("enabled"))) d.enabled = *b;
    }
    if (d.enabled && !demo) {
      diag.error(m.pathOf("enabled"), *v,
                 "the demo identity provider mints citizen tokens for anyone: it is for the demo "
                 "only (demo_trust_client_header: true)");
    }
    if (auto g = m.optional("generate")) {
      if (auto text = readString(diag, *g, m.pathOf("generate"))) {
        if (*text != "ed25519" && *text != "ecdsa-p256-sha256") {
          diag.error(m.pathOf("generate"), *g,
                     "unknown algorithm '" + *text + "'; expected ed25519 or ecdsa-p256-sha256");
        } else {
          d.generate = *text;
        }
      }
    }
    readIssuer(m, d.issuer, false);
    readKid(m, d.kid, false, false);
    if (auto c = m.optional("citizens")) {
      if (expectSequence(diag, *c, m.pathOf("citizens"))) {
        for (std::size_t i = 0; i < c->size(); ++i) {
          const std::string path = indexPath(m.pathOf("citizens"), i);
          auto text = readString(diag, (*c)[i], path);
          if (!text) continue;
          const auto parsed = common::parseSubject(*text);
          if (!parsed.id || parsed.id->kind != common::SubjectKind::Iin) {
            diag.error(path, (*c)[i],
                       "'" + *text + "' is not IIN:<12 digits> with a valid check digit");
          } else if (std::find(d.citizens.begin(), d.citizens.end(), parsed.id->toString()) !=
                     d.citizens.end()) {
            diag.error(path, (*c)[i], "duplicate demo citizen '" + *text + "'");
          } else {
            d.citizens.push_back(parsed.id->toString());
          }
        }
      }
    }
    if (auto t = m.optional("token_lifetime")) {
      if (auto dur =
              readDuration(diag, *t, m.pathOf("token_lifetime"), Millis{60'000}, kMaxDuration)) {
        d.token_lifetime = *dur;
      }
    }
    if (d.enabled) {
      checkIssuer(d.issuer, m.pathOf("issuer"), *v);
      checkKid(d.kid, m.pathOf("kid"), *v);
      readFile(m, "private_key_file", d.private_key_file, !d.generate.empty());
      if (d.token_lifetime > out.max_token_lifetime) {
        diag.error(m.pathOf("token_lifetime"), *v,
                   "longer than space.max_token_lifetime: the gateway would refuse its own demo "
                   "tokens");
      }
    } else if (auto f = m.optional("private_key_file")) {
      if (auto text = readText(diag, *f, m.pathOf("private_key_file"))) {
        d.private_key_file = (base_dir / *text).lexically_normal().string();
      }
    }
  }
}

// A DNS name or IPv4 literal for redis.address: [A-Za-z0-9.-], 1..253, labels not starting or
// ending with '-' and not empty.
bool isValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

// "host:port", "[v6]:port" or "unix:<path>" into `out`; on failure returns the reason.
std::optional<std::string> parseRedisAddress(const std::string& text,
                                             const std::filesystem::path& base_dir,
                                             RedisConfig& out) {
  constexpr std::string_view kUnix = "unix:";
  if (text.starts_with(kUnix)) {
    const std::string rest = text.substr(kUnix.size());
    if (rest.empty()) return "expected unix:<socket path>";
    const std::string p = (base_dir / rest).lexically_normal().string();
    // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
    if (p.size() > 107) {
      return "socket path '" + p + "' is " + std::to_string(p.size()) +
             " bytes; a unix socket path may have at most 107";
    }
    out.unix_path = p;
    return std::nullopt;
  }
  std::string host;
  std::string port;
  if (text.starts_with("[")) {
    const auto close = text.find("]:");
    if (close == std::string::npos) return "expected [IPv6 address]:port";
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    bool wildcard = false;
    if (host.find(':') == std::string::npos || !isIpLiteral(host, wildcard)) {
      return "'" + host + "' is not an IPv6 address";
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return "expected host:port or unix:<socket path>";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "write an IPv6 address in brackets: [" + host + "]:" + port;
    }
    if (!isValidHostName(host)) return "'" + host + "' is not a valid host name or address";
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return "port '" + port + "' is not in 1..65535";
  }
  out.host = host;
  out.port = static_cast<std::uint16_t>(std::stoul(port));
  return std::nullopt;
}

// The `redis:` section (issue #6). Only read when present: its absence means no Redis.
void readRedis(Diagnostics& diag, const YAML::Node& node, const std::filesystem::path& base_dir,
               std::optional<RedisConfig>& result) {
  MapReader map(
      diag, node, "redis",
      {"address", "password_file", "username", "db", "connect_timeout", "command_timeout",
       "max_in_flight", "reconnect_initial", "reconnect_max", "shared_state", "policy_timeout",
       "consents", "space_index", "outbox_batch_events", "outbox_max_events_per_second"});
  if (!map.isMap()) return;
  RedisConfig out;
  if (auto v = map.required("address")) {
    if (auto text = readText(diag, *v, map.pathOf("address"))) {
      if (auto why = parseRedisAddress(*text, base_dir, out)) {
        diag.error(map.pathOf("address"), *v, *why);
      }
    }
  }
  if (auto v = map.optional("password_file")) {
    if (auto text = readText(diag, *v, map.pathOf("password_file"))) {
      const std::filesystem::path p = (base_dir / *text).lexically_normal();
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p, ec)) {
        diag.error(map.pathOf("password_file"), *v, "file '" + p.string() + "' does not exist");
      } else {
        out.password_file = p.string();
      }
    }
  }
  if (auto v = map.optional("username")) {
    if (auto text = readString(diag, *v, map.pathOf("username"))) {
      const bool printable =
          std::all_of(text->begin(), text->end(), [](char c) { return c > ' ' && c < 0x7f; });
      if (text->empty() || text->size() > 128 || !printable) {
        diag.error(map.pathOf("username"), *v,
                   "expected 1..128 printable ASCII characters without spaces");
      } else if (!map.optional("password_file")) {
        diag.error(map.pathOf("username"), *v,
                   "an ACL username needs password_file (AUTH takes both)");
      } else {
        out.username = *text;
      }
    }
  }
  if (auto v = map.optional("db")) {
    if (auto n = readUnsigned(diag, *v, map.pathOf("db"), 0, 15)) out.db = static_cast<int>(*n);
  }
  auto duration = [&](std::string_view key, Millis& field, Millis min, Millis max) {
    if (auto v = map.optional(key)) {
      if (auto d = readDuration(diag, *v, map.pathOf(key), min, max)) field = *d;
    }
  };
  duration("connect_timeout", out.connect_timeout, Millis{10}, Millis{60'000});
  duration("command_timeout", out.command_timeout, kOneMs, Millis{60'000});
  duration("reconnect_initial", out.reconnect_initial, kOneMs, Millis{60'000});
  duration("reconnect_max", out.reconnect_max, kOneMs, Millis{600'000});
  duration("policy_timeout", out.policy_timeout, kOneMs, Millis{1'000});
  if (auto v = map.optional("shared_state")) {
    if (auto b = readBool(diag, *v, map.pathOf("shared_state"))) out.shared_state = *b;
  }
  if (auto v = map.optional("consents")) {
    if (auto b = readBool(diag, *v, map.pathOf("consents"))) out.consents = *b;
  }
  if (auto v = map.optional("space_index")) {
    if (auto b = readBool(diag, *v, map.pathOf("space_index"))) out.space_index = *b;
  }
  if (auto v = map.optional("outbox_batch_events")) {
    if (auto n = readUnsigned(diag, *v, map.pathOf("outbox_batch_events"), 1, 10'000)) {
      out.outbox_batch_events = *n;
    }
  }
  if (auto v = map.optional("outbox_max_events_per_second")) {
    if (auto n =
            readUnsigned(diag, *v, map.pathOf("outbox_max_events_per_second"), 1, 10'000'000)) {
      out.outbox_max_events_per_second = *n;
    }
  }
  if (auto v = map.optional("max_in_flight")) {
    if (auto n = readUnsigned(diag, *v, map.pathOf("max_in_flight"), 1, 1'000'000)) {
      out.max_in_flight = *n;
    }
  }
  if (out.reconnect_max < out.reconnect_initial) {
    diag.error(map.pathOf("reconnect_max"), node,
               "shorter than reconnect_initial: the backoff starts at reconnect_initial and "
               "doubles up to reconnect_max");
  }
  result = std::move(out);
}

// The `async:` section (docs/async.md). Read whether or not redis: is present; it applies only
// with redis.
void readAsync(Diagnostics& diag, const YAML::Node& node, AsyncConfig& out) {
  MapReader map(diag, node, "async",
                {"enabled", "partitions", "result_ttl", "retry_initial", "retry_max",
                 "max_attempts", "max_in_flight", "claim_idle", "max_queued", "poll_interval"});
  if (!map.isMap()) return;
  if (auto v = map.optional("enabled")) {
    if (auto b = readBool(diag, *v, map.pathOf("enabled"))) out.enabled = *b;
  }
  auto number = [&](std::string_view key, auto& field, std::uint64_t min, std::uint64_t max) {
    if (auto v = map.optional(key)) {
      if (auto n = readUnsigned(diag, *v, map.pathOf(key), min, max)) {
        field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
      }
    }
  };
  auto duration = [&](std::string_view key, Millis& field, Millis min, Millis max) {
    if (auto v = map.optional(key)) {
      if (auto d = readDuration(diag, *v, map.pathOf(key), min, max)) field = *d;
    }
  };
  number("partitions", out.partitions, 1, 1024);
  number("max_attempts", out.max_attempts, 1, 100);
  number("max_in_flight", out.max_in_flight, 1, 100'000);
  number("max_queued", out.max_queued, 1, 100'000'000);
  duration("result_ttl", out.result_ttl, Millis{1'000}, Millis{30LL * 86'400'000});
  duration("retry_initial", out.retry_initial, kOneMs, Millis{3'600'000});
  duration("retry_max", out.retry_max, kOneMs, Millis{86'400'000});
  duration("claim_idle", out.claim_idle, Millis{1'000}, Millis{86'400'000});
  duration("poll_interval", out.poll_interval, kOneMs, Millis{10'000});
  if (out.retry_max < out.retry_initial) {
    diag.error(map.pathOf("retry_max"), node,
               "shorter than retry_initial: the backoff starts at retry_initial and doubles up to "
               "retry_max");
  }
}

}  // namespace

bool parseGatewayFile(Diagnostics& diag, const YAML::Node& root,
                      const std::filesystem::path& base_dir, GatewayConfig& out) {
  MapReader map(
      diag, root, "",
      {"node_id", "workers", "log_level", "demo_trust_client_header", "policy_dir", "ports_file",
       "data_dir", "drain_timeout", "replay_window", "replay_max_entries", "listeners", "limits",
       "upstream", "signing", "journal", "space", "redis", "async"});
  if (!map.isMap()) return false;

  if (auto v = map.required("node_id")) {
    if (auto id = readString(diag, *v, "node_id")) {
      if (isValidNodeId(*id)) {
        out.node_id = *id;
      } else {
        diag.error("node_id", *v,
                   "'" + *id + "' is not a valid node id; expected [a-z0-9][a-z0-9._-]{0,62}");
      }
    }
  }
  if (auto v = map.optional("workers")) {
    if (auto n = readUnsigned(diag, *v, "workers", 0, kMaxWorkers)) {
      out.workers = static_cast<unsigned>(*n);
    }
  }
  if (auto v = map.optional("log_level")) {
    if (auto level = readString(diag, *v, "log_level")) {
      if (*level == "debug" || *level == "info" || *level == "warn" || *level == "error") {
        out.log_level = *level;
      } else {
        diag.error("log_level", *v,
                   "unknown log level '" + *level + "'; expected debug, info, warn or error");
      }
    }
  }
  if (auto v = map.optional("demo_trust_client_header")) {
    if (auto b = readBool(diag, *v, "demo_trust_client_header")) out.demo_trust_client_header = *b;
  }
  bool policy_dir_known = true;
  std::filesystem::path policy_dir = base_dir;
  if (auto v = map.optional("policy_dir")) {
    // No optional::reset() here: GCC 12 -O2 reports a false -Wmaybe-uninitialized on it.
    const std::optional<std::string> text = readString(diag, *v, "policy_dir");
    if (!text) {
      policy_dir_known = false;
    } else if (text->empty()) {
      diag.error("policy_dir", *v, "must not be empty; use \".\" for this file's directory");
      policy_dir_known = false;
    } else {
      policy_dir = base_dir / *text;
    }
  }
  if (policy_dir_known) {
    policy_dir = policy_dir.lexically_normal();
    std::error_code ec;
    if (!std::filesystem::is_directory(policy_dir, ec)) {
      diag.error("policy_dir", "policy directory '" + policy_dir.string() + "' does not exist or " +
                                   "is not a directory (relative paths resolve against the " +
                                   "gateway file's directory)");
      policy_dir_known = false;
    }
    out.policy_dir = policy_dir.string();
    // A trailing separator from "dir/" or "." normalisation is noise in logs and digests.
    while (out.policy_dir.size() > 1 && out.policy_dir.back() == '/') out.policy_dir.pop_back();
  }
  if (auto v = map.optional("ports_file")) {
    if (auto text = readString(diag, *v, "ports_file")) {
      if (!text->empty()) out.ports_file = (base_dir / *text).lexically_normal().string();
    }
  }
  if (auto v = map.optional("drain_timeout")) {
    // Zero is meaningful here: stop at once without waiting for in-flight requests.
    if (auto d = readDuration(diag, *v, "drain_timeout", Millis{0}, kMaxDuration)) {
      out.drain_timeout = *d;
    }
  }
  if (auto v = map.optional("data_dir")) {
    if (auto text = readText(diag, *v, "data_dir")) {
      out.data_dir = (base_dir / *text).lexically_normal().string();
      while (out.data_dir.size() > 1 && out.data_dir.back() == '/') out.data_dir.pop_back();
    }
  }
  if (auto v = map.optional("replay_window")) {
    if (auto d = readDuration(diag, *v, "replay_window", Millis{1'000}, Millis{86'400'000})) {
      out.replay_window = *d;
    }
  }
  if (auto v = map.optional("replay_max_entries")) {
    if (auto n = readUnsigned(diag, *v, "replay_max_entries", 1'024, 100'000'000)) {
      out.replay_max_entries = *n;
    }
  }
  if (auto v = map.required("listeners")) readListeners(diag, *v, out, base_dir);
  // PROTOCOL.md §1: external and international require mutual TLS in any non-demo configuration.
  if (!out.demo_trust_client_header) {
    for (const ListenerConfig& l : out.listeners) {
      if (l.kind != ListenerKind::External && l.kind != ListenerKind::International) continue;
      if (!l.tls || l.tls->client_auth != ClientAuth::Required) {
        diag.error("listeners." + std::string(listenerName(l.kind)) + ".tls", root,
                   "the " + std::string(listenerName(l.kind)) +
                       " zone requires mutual TLS (tls with client_auth: required) unless "
                       "demo_trust_client_header is true");
      }
    }
  }
  if (auto v = map.optional("limits")) readLimits(diag, *v, out.limits);
  if (auto v = map.optional("upstream")) readUpstream(diag, *v, out.upstream);
  if (auto v = map.optional("signing")) {
    readSigning(diag, *v, base_dir, out.demo_trust_client_header, out.signing);
  }
  if (auto v = map.optional("journal")) readJournal(diag, *v, base_dir, out.journal);
  if (auto v = map.optional("space")) {
    readSpace(diag, *v, base_dir, out.demo_trust_client_header, out.space);
  }
  if (auto v = map.optional("redis")) readRedis(diag, *v, base_dir, out.redis);
  if (auto v = map.optional("async")) readAsync(diag, *v, out.async);
  if (out.journal.enabled && out.journal.dir.empty()) {
    if (out.data_dir.empty()) {
      diag.error("journal.dir", root,
                 "the journal needs a directory: set journal.dir or data_dir (it defaults to "
                 "<data_dir>/journal), or journal.enabled: false (benchmarks only)");
    } else {
      out.journal.dir = out.data_dir + "/journal";
    }
  }
  // Checkpoints and responses are signed with the active key: one is needed for either.
  if ((out.journal.enabled || out.signing.sign_responses) && out.signing.keys.empty()) {
    diag.error("signing.keys", root,
               "the gateway signs its responses and journal checkpoints: configure signing.keys "
               "with one active key (see docs/configuration.md)");
  }
  return policy_dir_known;
}

}  // namespace qaqpa::config::detail
