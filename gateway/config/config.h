// Typed, validated, immutable configuration snapshot: the gateway file (qaqpa.yaml) plus the policy
// bundle it points to. Built once by loadSnapshotBlocking() (file I/O: never on a worker) and then
// shared read-only as std::shared_ptr<const Snapshot>; a request keeps the snapshot it started
// with. All cross references are resolved to pointers into the same Snapshot.
//
// The YAML schema, every key, its default and unit is documented in docs/configuration.md; that
// document and this header change together.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qaqpa::config {

using Millis = std::chrono::milliseconds;

// Zones of PROTOCOL.md §1. A system is registered in exactly one.
enum class Zone : std::uint8_t { State, External, International };
inline constexpr int kZoneCount = 3;
std::string_view zoneName(Zone z) noexcept;  // "state", "external", "international"
std::optional<Zone> parseZone(std::string_view s) noexcept;

// Listeners: one per zone plus `space` and `admin`.
enum class ListenerKind : std::uint8_t { State, External, International, Space, Admin };
inline constexpr int kListenerKindCount = 5;
std::string_view listenerName(ListenerKind k) noexcept;
std::optional<ListenerKind> parseListenerKind(std::string_view s) noexcept;
std::optional<Zone> zoneOf(ListenerKind k) noexcept;  // nullopt for space/admin

struct LocalizedText {
  std::string kk, ru, en;  // all three required in policy files
};

// Client certificate policy of a TLS listener.
enum class ClientAuth : std::uint8_t { None, Optional, Required };

struct TlsSettings {
  std::string cert_file;       // PEM: the listener's certificate, then its chain (absolute)
  std::string key_file;        // PEM private key (absolute); never logged
  std::string client_ca_file;  // PEM trust anchors for client certificates (absolute)
  ClientAuth client_auth = ClientAuth::None;
  bool tls13_only = false;  // min_version "1.3"; default minimum is TLS 1.2
  bool operator==(const TlsSettings&) const = default;
};

struct ListenerConfig {
  std::optional<TlsSettings> tls;  // absent = plain HTTP (refused for external/international
                                   // unless demo_trust_client_header)
  ListenerKind kind = ListenerKind::State;
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = ephemeral (tests); the bound port is reported via ports_file
  bool operator==(const ListenerConfig&) const = default;
};

struct Limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  Millis request_read_timeout{10'000};  // whole request (headers + body) once its first byte came
  Millis idle_timeout{60'000};          // keep-alive wait for the next request
  Millis write_timeout{10'000};
  std::size_t max_connections = 10'000;  // per process, across all listeners except admin
  std::size_t max_requests_per_connection = 10'000;
  bool operator==(const Limits&) const = default;
};

struct UpstreamSettings {
  Millis connect_timeout{2'000};
  Millis default_timeout{10'000};      // response deadline when a service sets none
  std::size_t max_idle_per_host = 64;  // per worker
  std::size_t max_response_body_bytes = 64 * 1024 * 1024;
  Millis idle_keepalive{30'000};  // idle pooled connections older than this are closed
  bool operator==(const UpstreamSettings&) const = default;
};

// One of the gateway's own signing keys (responses, journal checkpoints; PROTOCOL.md §2, §6).
// The active key needs its private key; retired keys stay published in GET /v1/keys (public
// part only) so signatures made before a rotation still verify.
struct SigningKeyConfig {
  std::string kid;
  std::string private_key_file;  // absolute; PEM (PKCS#8 / SEC1); never logged
  std::string public_key_file;   // absolute; PEM SPKI; for retired keys without a private part
  bool active = false;
  // Demo mode only: "ed25519" or "ecdsa-p256-sha256" — when private_key_file does not exist,
  // the gateway generates such a key there at start (mode 0600). Empty = the file must exist.
  std::string generate;
  bool operator==(const SigningKeyConfig&) const = default;
};

struct SigningSettings {
  std::vector<SigningKeyConfig> keys;
  bool sign_responses = true;  // false only in benchmark configs (feature levels L0/L1)
  bool operator==(const SigningSettings&) const = default;
};

enum class FsyncMode : std::uint8_t { Always, Batch, None };
std::string_view fsyncModeName(FsyncMode m) noexcept;

// The journal of digital events (PROTOCOL.md §6; gateway/journal/journal.h).
struct JournalSettings {
  bool enabled = true;  // false only in benchmark configs (feature levels L0–L2)
  std::string dir;      // absolute; default <data_dir>/journal
  FsyncMode fsync = FsyncMode::Always;
  Millis fsync_interval{1'000};  // with fsync: batch
  std::size_t max_batch_events = 4096;
  std::size_t max_queue_events = 65536;
  std::uint64_t segment_max_bytes = 64ull << 20;
  Millis segment_max_age{3'600'000};
  Millis retention{0};      // 0 = closed segments stay in `dir` forever
  std::string archive_dir;  // absolute; required when retention > 0
  Millis retry_interval{1'000};
  bool operator==(const JournalSettings&) const = default;
};

// One signing key of a trusted identity provider (citizen tokens on the `space` listener,
// PROTOCOL.md §7). The config layer checks the file exists; gateway/space parses it and checks
// that its type matches `alg`.
struct IdentityProviderKeyConfig {
  std::string kid;              // the JWS header `kid`; unique across all identity providers
  std::string alg;              // JWS name: "EdDSA" (Ed25519) or "ES256" (ECDSA P-256)
  std::string public_key_file;  // absolute; PEM SPKI
  bool operator==(const IdentityProviderKeyConfig&) const = default;
};

struct IdentityProviderConfig {
  std::string issuer;                           // the `iss` claim, compared exactly; unique
  std::vector<IdentityProviderKeyConfig> keys;  // at least one
  bool operator==(const IdentityProviderConfig&) const = default;
};

// Demo mode only (demo_trust_client_header: true): a built-in identity provider that mints
// citizen tokens for POST /v1/space/demo-login (gateway/space/demo_idp.h).
struct DemoIdentityProviderConfig {
  bool enabled = false;
  std::string private_key_file;  // absolute; PEM PKCS#8 / SEC1 (Ed25519 or P-256)
  std::string generate;          // "ed25519" / "ecdsa-p256-sha256": made at start if absent
  std::string issuer = "urn:qaqpa:demo-idp";
  std::string kid = "demo-idp-1";
  Millis token_lifetime{15 * 60'000};
  // The IINs POST /v1/space/demo-login will mint tokens for ("IIN:<12 digits>", valid check
  // digit, unique). Empty: any valid IIN.
  std::vector<std::string> citizens;
  bool operator==(const DemoIdentityProviderConfig&) const = default;
};

// The citizen's digital space (PROTOCOL.md §7): who may sign citizens' Bearer tokens and the
// bounds every token must meet.
struct SpaceSettings {
  std::string audience = "qaqpa-space";  // required in `aud`
  Millis max_clock_skew{60'000};         // tolerance on exp / nbf / iat, 0..10m
  Millis max_token_lifetime{3'600'000};  // exp - iat above this is refused
  std::vector<IdentityProviderConfig> identity_providers;
  DemoIdentityProviderConfig demo_identity_provider;
  // The citizen's page (GET /space/): a directory of static files (absolute after load; "" =
  // no page). Read into memory at start; restart-only.
  std::string web_root;
  bool operator==(const SpaceSettings&) const = default;
};

// Redis (issue #6): one connection per worker, shared state across replicas. Absent from the
// file = no Redis; everything keeps working on the embedded stores. Restart-only. Mapped by the
// server onto adapters/redis RedisSettings.
struct RedisConfig {
  std::string host;  // TCP: IP literal or DNS name ("host:port"); empty with unix_path
  std::uint16_t port = 0;
  std::string unix_path;      // "unix:<path>": absolute (relative resolves against the file)
  std::string username;       // Redis 6+ ACL user (needs password_file); empty = AUTH <password>
  std::string password_file;  // absolute; must exist; empty = no AUTH; never logged
  int db = 0;                 // 0..15
  Millis connect_timeout{1'000};     // resolve + connect + AUTH/SELECT/PING of one attempt
  Millis command_timeout{250};       // default deadline of one command or pipeline (later users)
  std::size_t max_in_flight = 4096;  // per worker connection
  Millis reconnect_initial{100};     // backoff after a failure, doubled up to reconnect_max
  Millis reconnect_max{5'000};
  // Grant rate quotas and the replay window shared by all replicas (gateway/shared_state); false:
  // each replica decides alone, as without Redis.
  bool shared_state = true;
  Millis policy_timeout{10};  // deadline of one shared quota / replay check; then local fallback
  // Consents in Redis (gateway/consent/redis_consent_store.h) instead of <data_dir>/consents.
  bool consents = true;
  // The citizens' event index in Redis (docs/space.md "Several replicas"): this node's outbox
  // ships its journal's events there and the space listener's event routes read from it, so any
  // replica serves any citizen. false: the embedded index of this node's own journal only.
  bool space_index = true;
  std::size_t outbox_batch_events = 512;              // events per outbox pipeline
  std::size_t outbox_max_events_per_second = 20'000;  // outbox shipping rate bound (catch-up)
  bool operator==(const RedisConfig&) const = default;
};

// Asynchronous exchange (PROTOCOL.md §4, docs/async.md) on Redis Streams. Applies only when a
// `redis:` section is configured; without one the async exchange is off whatever this says.
// Restart-only.
struct AsyncConfig {
  bool enabled = true;
  unsigned partitions = 16;          // streams; partition = hash(client, message id) mod this
  Millis result_ttl{86'400'000};     // final messages (results) are kept this long
  Millis retry_initial{1'000};       // backoff before the 2nd attempt (full jitter), doubling
  Millis retry_max{300'000};         // cap of one backoff
  unsigned max_attempts = 5;         // for services that set none (service `async.max_attempts`)
  std::size_t max_in_flight = 64;    // concurrent deliveries per worker
  Millis claim_idle{60'000};         // XAUTOCLAIM min idle (raised to longest deadline + 5 s)
  std::size_t max_queued = 100'000;  // per partition: queued + waiting for a retry
  Millis poll_interval{100};         // idle XREADGROUP poll of a worker's dispatcher
  bool operator==(const AsyncConfig&) const = default;
};

struct GatewayConfig {
  std::string node_id;
  unsigned workers = 0;  // 0 = hardware concurrency
  std::vector<ListenerConfig> listeners;
  Limits limits;
  UpstreamSettings upstream;
  Millis drain_timeout{15'000};
  Millis replay_window{600'000};  // a client's message id may not repeat within this (§2)
  std::size_t replay_max_entries = 1'000'000;  // bound of the process-wide replay record
  std::string policy_dir;  // absolute after load (relative paths resolve against the file)
  std::string data_dir;    // durable state (consents; later the journal), absolute; "" = none
  std::string ports_file;  // optional: JSON {"state": 8080, ...} written after binding
  bool demo_trust_client_header = false;  // trust Qaqpa-Client without proof (demo only; loud)
  std::string log_level = "info";
  SigningSettings signing;
  JournalSettings journal;
  SpaceSettings space;
  std::optional<RedisConfig> redis;  // absent = no Redis
  AsyncConfig async;                 // used only with redis
};

struct System;
struct Service;

struct Purpose {
  std::string code;  // [A-Z][A-Z0-9_]{1,47}
  LocalizedText text;
};

// A certificate subject a system may present (Kazakh NCA profile: CN is the system name or
// organisation name, OU=BIN<12 digits>; SERIALNUMBER=IIN<12 digits> for a person's certificate).
// Every non-empty field must match the certificate's subject exactly.
struct CertSubject {
  std::string common_name;
  std::string bin;  // 12 digits (matched against OU=BIN…)
  std::string iin;  // 12 digits (matched against SERIALNUMBER=IIN…)
};

// A public key the system signs requests with (RFC 9421, PROTOCOL.md §2). The loader has already
// checked that `pem` parses as an SPKI key of `alg`'s type; the policy runtime turns it into a
// signing::PublicKey (config stays below the signing layer).
struct SignatureKey {
  std::string keyid;  // the Signature-Input `keyid`; unique across the bundle
  std::string alg;    // RFC 9421 name: "ed25519" or "ecdsa-p256-sha256"
  std::string pem;    // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"), the file's bytes
  std::string file;   // public_key_file as written, relative to the bundle directory
};

struct Upstream {
  std::string scheme = "http";  // only http in this release (https: issue #3)
  std::string host;
  std::uint16_t port = 80;
  std::string base_path;  // no trailing slash; "" for root
};

struct System {
  std::string id;  // CC/CLASS/MEMBER/SYSTEM
  Zone zone = Zone::State;
  LocalizedText name;
  // How an mTLS client certificate is mapped to this system: by the SHA-256 fingerprint of the
  // certificate (lower-case hex, no separators) or by subject.
  std::vector<std::string> cert_fingerprints;
  std::vector<CertSubject> cert_subjects;
  // Keys whose request signatures prove this system's identity.
  std::vector<SignatureKey> signature_keys;
  // Every request must carry a valid signature (always true for the international zone).
  bool require_signature = false;
  // Where the final state of this system's asynchronous messages is POSTed, signed by the gateway
  // (docs/async.md "Callbacks"); http://host:port[/path] (https: with the upstream pool's TLS).
  std::optional<Upstream> callback;
};

struct Service {
  std::string id;  // [a-z][a-zA-Z0-9._-]{0,63}
  const System* provider = nullptr;
  LocalizedText name;
  Upstream upstream;
  std::vector<Zone> exposed_zones;
  bool personal_data = false;
  std::vector<std::string> data_categories;
  Millis timeout{0};          // 0 = upstream.default_timeout
  unsigned max_attempts = 0;  // async deliveries; 0 = the gateway's async.max_attempts
  bool exposedTo(Zone z) const noexcept;
};

// When a grant may be used, in the provider's local time (Kazakhstan is UTC+5).
struct Schedule {
  std::uint8_t weekdays = 0x7f;  // bit 0 = Monday … bit 6 = Sunday
  int start_minute = 0;          // [start, end) minutes of the local day
  int end_minute = 24 * 60;
  int utc_offset_minutes = 5 * 60;
  bool always() const noexcept {
    return weekdays == 0x7f && start_minute == 0 && end_minute == 24 * 60;
  }
  bool allows(std::chrono::system_clock::time_point t) const noexcept;
};

struct Grant {
  const System* client = nullptr;
  std::vector<const Service*> services;
  std::vector<const Purpose*> purposes;  // empty only for non-personal services
  std::string legal_basis;               // human-readable, required
  std::string source_file;               // provider file that declared it (for diagnostics)
  bool requires_consent = false;         // the subject's active consent must be presented
  double rate_per_second = 0;            // 0 = no rate limit
  std::uint32_t burst = 0;               // with a rate: requests allowed at once
  std::uint32_t max_concurrent = 0;      // 0 = no concurrency limit
  std::optional<std::chrono::system_clock::time_point> valid_from, valid_until;
  Schedule schedule;
  // Stable identity across reloads (provider file, client, services): quota state is kept for a
  // grant whose key and limits did not change.
  std::string key;
  bool allowsPurpose(std::string_view code) const noexcept;
  // Within valid_from/valid_until and the schedule.
  bool activeAt(std::chrono::system_clock::time_point t) const noexcept;
};

struct PolicyBundle {
  std::map<std::string, System, std::less<>> systems;
  std::map<std::string, Purpose, std::less<>> purposes;
  std::map<std::string, Service, std::less<>> services;
  std::vector<Grant> grants;
  // (client id, service id) -> grants naming that pair, for O(log n) lookup on the hot path.
  std::map<std::pair<std::string, std::string>, std::vector<const Grant*>, std::less<>> grant_index;

  const System* findSystem(std::string_view id) const noexcept;
  const Service* findService(std::string_view id) const noexcept;
  const Purpose* findPurpose(std::string_view code) const noexcept;
  // Grants of the service's owner that give `client` access to `service` (any purpose).
  const std::vector<const Grant*>* findGrants(std::string_view client,
                                              std::string_view service) const noexcept;
};

struct Snapshot {
  GatewayConfig gateway;
  PolicyBundle policy;
  std::string source_path;    // the qaqpa.yaml it came from
  std::string policy_digest;  // sha-256 hex over the bundle files' names and bytes, sorted
                              // (signature key files included)
};

// One problem found while loading: where (file and YAML path, e.g. "providers/tax.yaml:
// services[0].upstream") and what.
struct ConfigError {
  std::string where;
  std::string message;
};

struct LoadResult {
  std::shared_ptr<const Snapshot> snapshot;  // null iff errors is non-empty
  std::vector<ConfigError> errors;           // every error found, not just the first
};

// Reads qaqpa.yaml and the policy bundle, validates strictly (unknown keys, bad values, dangling
// references, duplicates are all errors) and resolves references. Blocking (file I/O).
LoadResult loadSnapshotBlocking(const std::string& gateway_file);

// RFC 3339 date-time with an explicit offset ("2026-01-01T00:00:00Z", "…+05:00"); years
// 1900..2199 only (a system_clock time point cannot hold much more).
std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text) noexcept;

// Duration syntax used in the files: "<n>ms", "<n>s", "<n>m", "<n>h", "<n>d" (e.g. "250ms").
std::optional<Millis> parseDuration(std::string_view text) noexcept;

}  // namespace qaqpa::config
