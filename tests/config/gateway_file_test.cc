// The gateway file (qaqpa.yaml): defaults, each validation rule, path resolution, durations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/config/config.h"
#include "tests/config/config_fixture.h"

namespace qaqpa::config {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing_support::ConfigTest;
using testing_support::HasError;
using testing_support::kDurableYaml;
using testing_support::kGatewayYaml;

TEST(ParseDuration, AcceptsTheThreeUnits) {
  EXPECT_EQ(parseDuration("250ms"), Millis{250});
  EXPECT_EQ(parseDuration("10s"), Millis{10'000});
  EXPECT_EQ(parseDuration("2m"), Millis{120'000});
  EXPECT_EQ(parseDuration("3h"), Millis{3 * 3'600'000});
  EXPECT_EQ(parseDuration("365d"), Millis{365LL * 86'400'000});
  EXPECT_EQ(parseDuration("0ms"), Millis{0});
  EXPECT_EQ(parseDuration("0s"), Millis{0});
  EXPECT_EQ(parseDuration("007s"), Millis{7'000});
}

TEST(ParseDuration, RejectsJunk) {
  for (const char* bad :
       {"",   "s",  "ms", "10",  "-1s",  "+1s",   "1.5s", " 1s",   "1s ",   "1 s",
        "1S", "1w", "1y", "1us", "1sec", "10ms5", "1m1s", "0x10s", "1e3ms", "∞s"}) {
    EXPECT_EQ(parseDuration(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_EQ(parseDuration("999999999999999999m"), std::nullopt);
  EXPECT_EQ(parseDuration("1234567890123456789ms"), std::nullopt);  // 19 digits
  EXPECT_EQ(parseDuration("153722867280912m"), Millis{153722867280912LL * 60'000});
  EXPECT_EQ(parseDuration("153722867280913m"), std::nullopt);  // one past INT64_MAX ms
}

TEST(Names, RoundTrip) {
  for (Zone z : {Zone::State, Zone::External, Zone::International}) {
    EXPECT_EQ(parseZone(zoneName(z)), z);
  }
  for (int i = 0; i < kListenerKindCount; ++i) {
    auto k = static_cast<ListenerKind>(i);
    EXPECT_EQ(parseListenerKind(listenerName(k)), k);
  }
  EXPECT_EQ(zoneOf(ListenerKind::External), Zone::External);
  EXPECT_EQ(zoneOf(ListenerKind::Space), std::nullopt);
  EXPECT_EQ(zoneOf(ListenerKind::Admin), std::nullopt);
  EXPECT_EQ(parseZone("space"), std::nullopt);
  EXPECT_EQ(parseZone("State"), std::nullopt);
}

TEST_F(ConfigTest, MinimalFileGetsTheDefaults) {
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  ASSERT_NE(r.snapshot, nullptr);
  const GatewayConfig& g = r.snapshot->gateway;
  const GatewayConfig defaults;
  EXPECT_EQ(g.node_id, "test-node-1");
  EXPECT_EQ(g.workers, 0u);
  EXPECT_EQ(g.log_level, "info");
  EXPECT_FALSE(g.demo_trust_client_header);
  EXPECT_EQ(g.drain_timeout, defaults.drain_timeout);
  EXPECT_EQ(g.limits.max_header_bytes, 16u * 1024);
  EXPECT_EQ(g.limits.max_body_bytes, 8u * 1024 * 1024);
  EXPECT_EQ(g.limits.request_read_timeout, defaults.limits.request_read_timeout);
  EXPECT_EQ(g.limits.idle_timeout, defaults.limits.idle_timeout);
  EXPECT_EQ(g.upstream.connect_timeout, defaults.upstream.connect_timeout);
  EXPECT_EQ(g.upstream.max_idle_per_host, defaults.upstream.max_idle_per_host);
  EXPECT_EQ(g.ports_file, "");
  EXPECT_EQ(g.policy_dir, dir_.lexically_normal().string());
  EXPECT_EQ(r.snapshot->source_path, (dir_ / "qaqpa.yaml").lexically_normal().string());
  ASSERT_THAT(g.listeners, SizeIs(2));
  EXPECT_EQ(g.listeners[0].kind, ListenerKind::State);
  EXPECT_EQ(g.listeners[1].kind, ListenerKind::Admin);
  EXPECT_EQ(g.listeners[0].address, "127.0.0.1");
}

TEST_F(ConfigTest, EveryKeyIsRead) {
  write("bundle/systems.yaml", testing_support::kSystemsYaml);
  write("bundle/purposes.yaml", testing_support::kPurposesYaml);
  write("bundle/providers/population-register.yaml", testing_support::kPopulationYaml);
  write("qaqpa.yaml", R"(node_id: kz.node_1-a
workers: 4
log_level: debug
demo_trust_client_header: true
policy_dir: ./bundle/
ports_file: run/ports.json
data_dir: data
signing: {keys: [{kid: test-key-1, private_key_file: gateway.key.pem, active: true}]}
drain_timeout: 0s
listeners:
  admin: {address: "::1", port: 9090}
  space: {port: 8083}
  international: {address: 10.0.0.2, port: 8080}
  external: {address: 10.0.0.1, port: 8080}
  state: {address: 127.0.0.1, port: 8080}
limits: {max_header_bytes: 1024, max_body_bytes: 1, request_read_timeout: 250ms,
         idle_timeout: 2m, write_timeout: 1s, max_connections: 5, max_requests_per_connection: 1}
upstream: {connect_timeout: 100ms, default_timeout: 3s, max_idle_per_host: 0,
           max_response_body_bytes: 1048576, idle_keepalive: 1m}
)");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const GatewayConfig& g = r.snapshot->gateway;
  EXPECT_EQ(g.node_id, "kz.node_1-a");
  EXPECT_EQ(g.workers, 4u);
  EXPECT_EQ(g.log_level, "debug");
  EXPECT_TRUE(g.demo_trust_client_header);
  EXPECT_EQ(g.policy_dir, (dir_ / "bundle").lexically_normal().string());
  EXPECT_EQ(g.ports_file, (dir_ / "run/ports.json").lexically_normal().string());
  EXPECT_EQ(g.drain_timeout, Millis{0});
  ASSERT_THAT(g.listeners, SizeIs(5));
  EXPECT_EQ(g.listeners[0].kind, ListenerKind::State);
  EXPECT_EQ(g.listeners[3].kind, ListenerKind::Space);
  EXPECT_EQ(g.listeners[3].address, "127.0.0.1");
  EXPECT_EQ(g.listeners[3].port, 8083);
  EXPECT_EQ(g.listeners[4].address, "::1");
  EXPECT_EQ(g.limits.max_header_bytes, 1024u);
  EXPECT_EQ(g.limits.max_body_bytes, 1u);
  EXPECT_EQ(g.limits.request_read_timeout, Millis{250});
  EXPECT_EQ(g.limits.idle_timeout, Millis{120'000});
  EXPECT_EQ(g.limits.write_timeout, Millis{1'000});
  EXPECT_EQ(g.limits.max_connections, 5u);
  EXPECT_EQ(g.limits.max_requests_per_connection, 1u);
  EXPECT_EQ(g.upstream.connect_timeout, Millis{100});
  EXPECT_EQ(g.upstream.default_timeout, Millis{3'000});
  EXPECT_EQ(g.upstream.max_idle_per_host, 0u);
  EXPECT_EQ(g.upstream.max_response_body_bytes, 1048576u);
  EXPECT_EQ(g.upstream.idle_keepalive, Millis{60'000});
}

TEST_F(ConfigTest, PolicyDirResolvesAgainstTheGatewayFilesDirectory) {
  std::filesystem::create_directories(dir_ / "etc");
  write("etc/qaqpa.yaml", std::string(kGatewayYaml) + "policy_dir: ..\n");
  write("etc/gateway.key.pem", "x");
  auto r = loadSnapshotBlocking((dir_ / "etc" / "qaqpa.yaml").string());
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.snapshot->gateway.policy_dir, dir_.lexically_normal().string());
  EXPECT_TRUE(std::filesystem::path(r.snapshot->gateway.policy_dir).is_absolute());
}

TEST_F(ConfigTest, MissingPolicyDirIsAnError) {
  gatewayWith("policy_dir: nowhere\n");
  auto r = load();
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_THAT(r.errors, HasError(gw("policy_dir"), "does not exist"));
}

TEST_F(ConfigTest, MissingGatewayFile) {
  auto r = loadSnapshotBlocking((dir_ / "absent.yaml").string());
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_THAT(r.errors, HasError((dir_ / "absent.yaml").string(), "missing"));
}

TEST_F(ConfigTest, NodeIdIsRequiredAndValidated) {
  write("qaqpa.yaml", "listeners: {state: {port: 0}, admin: {port: 0}}\n");
  EXPECT_THAT(load().errors, HasError(gw("node_id"), "required key 'node_id' is missing"));
  for (const char* bad : {"Node", "-x", "a b", "\"\"", "a/b"}) {
    write("qaqpa.yaml",
          std::string("node_id: ") + bad + "\nlisteners: {state: {port: 0}, admin: {port: 0}}\n");
    EXPECT_THAT(load().errors, HasError(gw("node_id"), "not a valid node id")) << bad;
  }
  write("qaqpa.yaml",
        "node_id: " + std::string(64, 'a') + "\nlisteners: {state: {port: 0}, admin: {port: 0}}\n");
  EXPECT_THAT(load().errors, HasError(gw("node_id"), "not a valid node id"));
}

TEST_F(ConfigTest, UnknownKeysAreErrorsWithTheirPath) {
  gatewayWith("worker: 2\nlimits: {max_body_byte: 10}\n");
  auto r = load();
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_THAT(r.errors, HasError(gw("worker"), "unknown key 'worker'"));
  EXPECT_THAT(r.errors, HasError(gw("limits.max_body_byte"), "allowed here: max_header_bytes"));
}

TEST_F(ConfigTest, DuplicateKeysAreErrors) {
  gatewayWith("workers: 2\nworkers: 3\n");
  EXPECT_THAT(load().errors, HasError(gw("workers"), "appears more than once"));
}

TEST_F(ConfigTest, WrongYamlTypesAreErrors) {
  gatewayWith(
      "workers: \"4\"\nlog_level: [info]\ndemo_trust_client_header: yes\n"
      "limits: 5\nupstream: {max_idle_per_host: 1.5}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("workers"), "quoted string"));
  EXPECT_THAT(r.errors, HasError(gw("log_level"), "expected a string, got a list"));
  EXPECT_THAT(r.errors, HasError(gw("demo_trust_client_header"), "expected true or false"));
  EXPECT_THAT(r.errors, HasError(gw("limits"), "expected a mapping"));
  EXPECT_THAT(r.errors, HasError(gw("upstream.max_idle_per_host"), "expected an integer"));
}

TEST_F(ConfigTest, NullValuesAreErrors) {
  gatewayWith("ports_file:\n");
  EXPECT_THAT(load().errors, HasError(gw("ports_file"), "expected a string, got nothing"));
}

TEST_F(ConfigTest, LogLevelIsOneOfFour) {
  gatewayWith("log_level: verbose\n");
  EXPECT_THAT(load().errors, HasError(gw("log_level"), "unknown log level 'verbose'"));
}

TEST_F(ConfigTest, WorkersRange) {
  gatewayWith("workers: 100000\n");
  EXPECT_THAT(load().errors, HasError(gw("workers"), "out of range"));
  gatewayWith("workers: -1\n");
  EXPECT_THAT(load().errors, HasError(gw("workers"), "expected an integer"));
}

TEST_F(ConfigTest, DurationsAreValidated) {
  gatewayWith(
      "drain_timeout: -1s\nlimits: {idle_timeout: 0s, write_timeout: 10}\n"
      "upstream: {connect_timeout: 2w, default_timeout: 2y}\n");
  auto r = load();
  EXPECT_THAT(r.errors, SizeIs(5));
  EXPECT_THAT(r.errors, HasError(gw("drain_timeout"), "expected a duration like 250ms"));
  EXPECT_THAT(r.errors, HasError(gw("limits.idle_timeout"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("limits.write_timeout"), "got '10'"));
  EXPECT_THAT(r.errors, HasError(gw("upstream.connect_timeout"), "expected a duration"));
  EXPECT_THAT(r.errors, HasError(gw("upstream.default_timeout"), "expected a duration"));
  gatewayWith("limits: {request_read_timeout: 1441m}\n");  // over a day
  EXPECT_THAT(load().errors, HasError(gw("limits.request_read_timeout"), "out of range"));
}

TEST_F(ConfigTest, SizesHaveSaneRanges) {
  gatewayWith(
      "limits: {max_header_bytes: 1023, max_body_bytes: 0, max_connections: 0}\n"
      "upstream: {max_response_body_bytes: 0}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("limits.max_header_bytes"), "expected 1024..1048576"));
  EXPECT_THAT(r.errors, HasError(gw("limits.max_body_bytes"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("limits.max_connections"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("upstream.max_response_body_bytes"), "out of range"));
  gatewayWith("limits: {max_header_bytes: 1048577, max_body_bytes: 1073741825}\n");
  r = load();
  EXPECT_THAT(r.errors, HasError(gw("limits.max_header_bytes"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("limits.max_body_bytes"), "expected 1..1073741824"));
}

TEST_F(ConfigTest, ListenersNeedAZoneAndAdmin) {
  write("qaqpa.yaml", "node_id: n\nlisteners: {space: {port: 0}}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("listeners"), "at least one zone listener"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.admin"), "admin listener is required"));
  write("qaqpa.yaml", "node_id: n\n");
  EXPECT_THAT(load().errors, HasError(gw("listeners"), "required key 'listeners' is missing"));
}

TEST_F(ConfigTest, ListenerKindsAndValuesAreValidated) {
  write("qaqpa.yaml", R"(node_id: n
listeners:
  public: {port: 1}
  state: {address: localhost, port: 8080}
  external: {port: 70000, tcp_fastopen: true}
  admin: {address: 127.0.0.1}
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("listeners.public"), "unknown key 'public'"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.state.address"), "address literal"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.external.port"), "out of range"));
  EXPECT_THAT(r.errors,
              HasError(gw("listeners.external.tcp_fastopen"), "unknown key 'tcp_fastopen'"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.admin.port"), "required key 'port'"));
}

TEST_F(ConfigTest, DuplicateListenerAddressesAreErrors) {
  write("qaqpa.yaml", std::string(kDurableYaml) + R"(node_id: n
demo_trust_client_header: true
listeners:
  state: {address: 127.0.0.1, port: 8080}
  external: {address: 127.0.0.1, port: 8080}
  admin: {address: 0.0.0.0, port: 8080}
  space: {address: 127.0.0.2, port: 8083}
)");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("listeners.external"), "overlaps listener 'state'"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.admin"), "overlaps listener 'state'"));
  EXPECT_THAT(r.errors, SizeIs(2));
}

TEST_F(ConfigTest, EphemeralPortsMayRepeat) {
  write("qaqpa.yaml", std::string(kDurableYaml) +
                          "node_id: n\nlisteners: {state: {port: 0}, space: {port: 0}, admin: "
                          "{port: 0}}\n");
  EXPECT_THAT(load().errors, IsEmpty());
}

TEST_F(ConfigTest, ExternalAndInternationalNeedMutualTlsOutsideDemoMode) {
  write("qaqpa.yaml", std::string(kDurableYaml) +
                          "node_id: n\nlisteners: {state: {port: 0}, external: {port: 0}, "
                          "international: {port: 0}, admin: {port: 0}}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("listeners.external.tls"), "requires mutual TLS"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.international.tls"), "requires mutual TLS"));
  EXPECT_THAT(r.errors, SizeIs(2));
  write("qaqpa.yaml", std::string(kDurableYaml) +
                          "node_id: n\ndemo_trust_client_header: true\nlisteners: {state: "
                          "{port: 0}, external: {port: 0}, admin: {port: 0}}\n");
  EXPECT_THAT(load().errors, IsEmpty());
}

TEST_F(ConfigTest, TlsSettingsAreResolvedAndChecked) {
  write("cert.pem", "x");
  write("key.pem", "x");
  write("ca.pem", "x");
  write("qaqpa.yaml", std::string(kDurableYaml) + R"(node_id: n
listeners:
  state: {port: 0, tls: {cert_file: cert.pem, key_file: key.pem}}
  external: {port: 0, tls: {cert_file: cert.pem, key_file: key.pem, client_ca_file: ca.pem}}
  international: {port: 0, tls: {cert_file: cert.pem, key_file: key.pem, client_ca_file: ca.pem,
                                 min_version: "1.3"}}
  admin: {port: 0}
)");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const auto& ls = r.snapshot->gateway.listeners;
  ASSERT_EQ(ls.size(), 4u);
  ASSERT_TRUE(ls[0].tls);
  EXPECT_EQ(ls[0].tls->client_auth, ClientAuth::None) << "state: client certificates optional";
  EXPECT_TRUE(ls[0].tls->cert_file.starts_with("/")) << "resolved to an absolute path";
  EXPECT_EQ(ls[1].tls->client_auth, ClientAuth::Required) << "external: mutual by default";
  EXPECT_TRUE(ls[2].tls->tls13_only);
  EXPECT_FALSE(ls[3].tls);

  write("qaqpa.yaml", R"(node_id: n
listeners:
  state: {port: 0, tls: {cert_file: missing.pem, key_file: key.pem, client_auth: sometimes}}
  external: {port: 0, tls: {cert_file: cert.pem, key_file: key.pem}}
  international: {port: 0, tls: {cert_file: cert.pem, key_file: key.pem, client_ca_file: ca.pem,
                                 min_version: "1.1"}}
  admin: {port: 0}
)");
  r = load();
  EXPECT_THAT(r.errors, HasError(gw("listeners.state.tls.cert_file"), "does not exist"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.state.tls.client_auth"), "expected none"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.external.tls.client_ca_file"), "no client_ca_file"));
  EXPECT_THAT(r.errors, HasError(gw("listeners.international.tls.min_version"), "1.1"));
}

TEST_F(ConfigTest, YamlSyntaxErrorsNameFileLineAndColumn) {
  write("qaqpa.yaml", "node_id: n\nlisteners: {state: {port: 0}\nworkers: 1\n");
  auto r = load();
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_THAT(r.errors[0].where, ::testing::StartsWith(gatewayPath() + ":"));
  EXPECT_THAT(r.errors[0].where, ::testing::MatchesRegex(".*:[0-9]+:[0-9]+"));
  EXPECT_THAT(r.errors[0].message, ::testing::HasSubstr("YAML syntax error"));
}

TEST_F(ConfigTest, EmptyAndNonMappingFilesAreErrors) {
  write("qaqpa.yaml", "");
  EXPECT_THAT(load().errors, HasError(gatewayPath(), "file is empty"));
  write("qaqpa.yaml", "- a\n- b\n");
  EXPECT_THAT(load().errors, HasError(gatewayPath(), "expected a mapping at the top level"));
  write("qaqpa.yaml", std::string(kGatewayYaml) + "---\nnode_id: other\n");
  EXPECT_THAT(load().errors, HasError(gatewayPath(), "2 YAML documents"));
}

}  // namespace
}  // namespace qaqpa::config

namespace qaqpa::config {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing_support::ConfigTest;
using testing_support::HasError;

TEST_F(ConfigTest, SigningAndJournalDefaults) {
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const GatewayConfig& g = r.snapshot->gateway;
  ASSERT_THAT(g.signing.keys, SizeIs(1));
  EXPECT_EQ(g.signing.keys[0].kid, "test-key-1");
  EXPECT_TRUE(g.signing.keys[0].active);
  EXPECT_EQ(g.signing.keys[0].private_key_file, (dir_ / "gateway.key.pem").string());
  EXPECT_TRUE(g.signing.sign_responses);
  EXPECT_TRUE(g.journal.enabled);
  EXPECT_EQ(g.journal.dir, (dir_ / "data" / "journal").string()) << "defaults under data_dir";
  EXPECT_EQ(g.journal.fsync, FsyncMode::Always) << "durable before the reply by default";
  EXPECT_EQ(g.journal.retention, Millis{0});
}

TEST_F(ConfigTest, JournalKeysAreRead) {
  gatewayWith(
      "journal: {dir: j, fsync: batch, fsync_interval: 200ms, max_batch_events: 64,\n"
      "          max_queue_events: 1000, segment_max_bytes: 1048576, segment_max_age: 2h,\n"
      "          retention: 365d, archive_dir: /archive/qaqpa, retry_interval: 500ms}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const JournalSettings& j = r.snapshot->gateway.journal;
  EXPECT_EQ(j.dir, (dir_ / "j").string());
  EXPECT_EQ(j.fsync, FsyncMode::Batch);
  EXPECT_EQ(j.fsync_interval, Millis{200});
  EXPECT_EQ(j.max_batch_events, 64u);
  EXPECT_EQ(j.max_queue_events, 1000u);
  EXPECT_EQ(j.segment_max_bytes, 1048576u);
  EXPECT_EQ(j.segment_max_age, Millis{2 * 3'600'000});
  EXPECT_EQ(j.retention, Millis{365LL * 86'400'000});
  EXPECT_EQ(j.archive_dir, "/archive/qaqpa");
  EXPECT_EQ(j.retry_interval, Millis{500});
}

TEST_F(ConfigTest, JournalValuesAreValidated) {
  gatewayWith(
      "journal: {fsync: sometimes, segment_max_bytes: 10, retention: 30d, max_batch_events: 0,"
      " compress: true}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("journal.fsync"), "expected always, batch or none"));
  EXPECT_THAT(r.errors, HasError(gw("journal.segment_max_bytes"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("journal.max_batch_events"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("journal.retention"), "set archive_dir"));
  EXPECT_THAT(r.errors, HasError(gw("journal.compress"), "unknown key 'compress'"));
}

TEST_F(ConfigTest, JournalNeedsADirectory) {
  write("qaqpa.yaml",
        "node_id: n\nsigning: {keys: [{kid: k, private_key_file: gateway.key.pem, active: true}]}\n"
        "listeners: {state: {port: 0}, admin: {port: 0}}\n");
  EXPECT_THAT(load().errors, HasError(gw("journal.dir"), "set journal.dir or data_dir"));
  write("qaqpa.yaml",
        "node_id: n\njournal: {enabled: false}\nsigning: {sign_responses: false}\n"
        "listeners: {state: {port: 0}, admin: {port: 0}}\n");
  EXPECT_THAT(load().errors, IsEmpty()) << "benchmark levels L0/L1: no journal, no signing";
}

TEST_F(ConfigTest, SigningKeysAreValidated) {
  write("old.pub.pem", "x");
  gatewayWith("");
  write("qaqpa.yaml", std::string("node_id: n\ndata_dir: d\n") +
                          "listeners: {state: {port: 0}, admin: {port: 0}}\n"
                          "signing:\n  keys:\n"
                          "    - {kid: new, private_key_file: gateway.key.pem, active: true}\n"
                          "    - {kid: old, public_key_file: old.pub.pem}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  ASSERT_THAT(r.snapshot->gateway.signing.keys, SizeIs(2));
  EXPECT_FALSE(r.snapshot->gateway.signing.keys[1].active);
  EXPECT_EQ(r.snapshot->gateway.signing.keys[1].public_key_file, (dir_ / "old.pub.pem").string());

  write("qaqpa.yaml", std::string("node_id: n\ndata_dir: d\n") +
                          "listeners: {state: {port: 0}, admin: {port: 0}}\n"
                          "signing:\n  keys:\n"
                          "    - {kid: a, private_key_file: gateway.key.pem, active: true}\n"
                          "    - {kid: a, private_key_file: gateway.key.pem, active: true}\n"
                          "    - {kid: 'b c', public_key_file: missing.pem, active: true}\n"
                          "    - {kid: d, private_key_file: gateway.key.pem, "
                          "public_key_file: old.pub.pem}\n"
                          "    - {kid: e, private_key_file: new.pem, generate: ed25519}\n");
  r = load();
  EXPECT_THAT(r.errors, HasError(gw("signing.keys[1].kid"), "duplicate key id 'a'"));
  EXPECT_THAT(r.errors, HasError(gw("signing.keys[2].kid"), "not a valid key id"));
  EXPECT_THAT(r.errors, HasError(gw("signing.keys[2].public_key_file"), "does not exist"));
  EXPECT_THAT(r.errors, HasError(gw("signing.keys[2]"), "active key must have a private_key_file"));
  EXPECT_THAT(r.errors, HasError(gw("signing.keys[3]"), "exactly one of private_key_file"));
  EXPECT_THAT(r.errors, HasError(gw("signing.keys[4].generate"), "demo only"));
  EXPECT_THAT(r.errors, HasError(gw("signing.keys"), "exactly one key must be active"));

  write("qaqpa.yaml", std::string("node_id: n\ndata_dir: d\n") +
                          "listeners: {state: {port: 0}, admin: {port: 0}}\n");
  EXPECT_THAT(load().errors, HasError(gw("signing.keys"), "configure signing.keys"));
}

TEST_F(ConfigTest, DemoModeMayGenerateTheSigningKey) {
  write("qaqpa.yaml", std::string("node_id: n\ndata_dir: d\ndemo_trust_client_header: true\n") +
                          "listeners: {state: {port: 0}, admin: {port: 0}}\n"
                          "signing: {keys: [{kid: demo, private_key_file: run/k.pem, "
                          "generate: ecdsa-p256-sha256, active: true}]}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty()) << "the file may be absent: it is made at start";
  EXPECT_EQ(r.snapshot->gateway.signing.keys[0].generate, "ecdsa-p256-sha256");
  EXPECT_EQ(r.snapshot->gateway.signing.keys[0].private_key_file, (dir_ / "run/k.pem").string());
}

TEST_F(ConfigTest, SpaceDefaults) {
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const SpaceSettings& s = r.snapshot->gateway.space;
  EXPECT_EQ(s.audience, "qaqpa-space");
  EXPECT_EQ(s.max_clock_skew, Millis{60'000});
  EXPECT_EQ(s.max_token_lifetime, Millis{3'600'000});
  EXPECT_THAT(s.identity_providers, IsEmpty());
  EXPECT_FALSE(s.demo_identity_provider.enabled) << "no demo identity provider unless asked";
  EXPECT_EQ(s.demo_identity_provider.issuer, "urn:qaqpa:demo-idp");
  EXPECT_EQ(s.demo_identity_provider.token_lifetime, Millis{15 * 60'000});
}

TEST_F(ConfigTest, SpaceKeysAreRead) {
  write("idp/egov-ed.pem", "x");
  write("idp/egov-es.pem", "x");
  write("idp/other.pem", "x");
  write("qaqpa.yaml",
        std::string(kGatewayYaml) + "demo_trust_client_header: true\n" +
            "space:\n"
            "  audience: kz-space\n"
            "  max_clock_skew: 0s\n"
            "  max_token_lifetime: 2h\n"
            "  identity_providers:\n"
            "    - issuer: https://idp.egov.kz\n"
            "      keys:\n"
            "        - {kid: egov-2026, alg: EdDSA, public_key_file: idp/egov-ed.pem}\n"
            "        - {kid: egov-2025, alg: ES256, public_key_file: idp/egov-es.pem}\n"
            "    - issuer: urn:other\n"
            "      keys: [{kid: other, alg: ES256, public_key_file: idp/other.pem}]\n"
            "  demo_identity_provider: {enabled: true, private_key_file: run/demo-idp.pem,\n"
            "                           generate: ed25519, issuer: 'urn:demo', kid: d1,\n"
            "                           token_lifetime: 30m}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const SpaceSettings& s = r.snapshot->gateway.space;
  EXPECT_EQ(s.audience, "kz-space");
  EXPECT_EQ(s.max_clock_skew, Millis{0});
  EXPECT_EQ(s.max_token_lifetime, Millis{7'200'000});
  ASSERT_THAT(s.identity_providers, SizeIs(2));
  EXPECT_EQ(s.identity_providers[0].issuer, "https://idp.egov.kz");
  ASSERT_THAT(s.identity_providers[0].keys, SizeIs(2));
  EXPECT_EQ(
      s.identity_providers[0].keys[1],
      (IdentityProviderKeyConfig{"egov-2025", "ES256", (dir_ / "idp" / "egov-es.pem").string()}));
  EXPECT_EQ(s.identity_providers[1].keys[0].kid, "other");
  const DemoIdentityProviderConfig& d = s.demo_identity_provider;
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.private_key_file, (dir_ / "run" / "demo-idp.pem").string())
      << "may be absent with generate: made at start";
  EXPECT_EQ(d.generate, "ed25519");
  EXPECT_EQ(d.issuer, "urn:demo");
  EXPECT_EQ(d.kid, "d1");
  EXPECT_EQ(d.token_lifetime, Millis{1'800'000});
}

TEST_F(ConfigTest, SpaceIdentityProvidersAreValidated) {
  write("k.pem", "x");
  gatewayWith(
      "space:\n"
      "  audience: 'two words'\n"
      "  max_clock_skew: 11m\n"
      "  colour: blue\n"
      "  identity_providers:\n"
      "    - issuer: https://idp.egov.kz\n"
      "      keys:\n"
      "        - {kid: a, alg: EdDSA, public_key_file: k.pem}\n"
      "        - {kid: b, alg: HS256, public_key_file: k.pem}\n"
      "        - {kid: c, alg: eddsa, public_key_file: missing.pem}\n"
      "        - {kid: 'd e', alg: none, public_key_file: k.pem, x5u: 'https://x'}\n"
      "    - issuer: https://idp.egov.kz\n"
      "      keys: [{kid: a, alg: ES256, public_key_file: k.pem}]\n"
      "    - {issuer: 'has space', keys: []}\n"
      "    - {keys: [{alg: ES256}]}\n");
  auto r = load();
  const std::string idp = "space.identity_providers";
  EXPECT_THAT(r.errors, HasError(gw("space.audience"), "not a valid audience"));
  EXPECT_THAT(r.errors, HasError(gw("space.max_clock_skew"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("space.colour"), "unknown key 'colour'"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[0].keys[1].alg"), "unsupported algorithm 'HS256'"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[0].keys[2].alg"), "unsupported algorithm 'eddsa'"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[0].keys[2].public_key_file"), "does not exist"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[0].keys[3].kid"), "not a valid key id"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[0].keys[3].alg"), "unsupported algorithm 'none'"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[0].keys[3].x5u"), "unknown key 'x5u'"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[1].issuer"), "duplicate issuer"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[1].keys[0].kid"), "duplicate key id 'a'"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[2].issuer"), "not a valid issuer"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[2].keys"), "at least one key"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[3].issuer"), "required"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[3].keys[0].kid"), "required"));
  EXPECT_THAT(r.errors, HasError(gw(idp + "[3].keys[0].public_key_file"), "required"));

  gatewayWith("space: {max_token_lifetime: 25h, identity_providers: {issuer: x}}\n");
  r = load();
  EXPECT_THAT(r.errors, HasError(gw("space.max_token_lifetime"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("space.identity_providers"), ""));
}

TEST_F(ConfigTest, DemoIdentityProviderIsForTheDemoOnly) {
  gatewayWith(
      "space: {demo_identity_provider: {enabled: true, private_key_file: run/idp.pem,"
      " generate: ed25519}}\n");
  EXPECT_THAT(load().errors, HasError(gw("space.demo_identity_provider.enabled"),
                                      "demo only (demo_trust_client_header: true)"));
  // Disabled, it is harmless outside demo mode (a demo file with the switch off).
  gatewayWith("space: {demo_identity_provider: {enabled: false, private_key_file: run/idp.pem}}\n");
  EXPECT_THAT(load().errors, IsEmpty());
}

TEST_F(ConfigTest, DemoIdentityProviderIsValidated) {
  write("k.pem", "x");
  const std::string demo = std::string(kGatewayYaml) + "demo_trust_client_header: true\n";
  write("qaqpa.yaml", demo +
                          "space: {demo_identity_provider: {enabled: true, "
                          "private_key_file: absent.pem}}\n");
  EXPECT_THAT(load().errors,
              HasError(gw("space.demo_identity_provider.private_key_file"), "does not exist"))
      << "without generate the key must exist";
  write("qaqpa.yaml", demo + "space: {demo_identity_provider: {enabled: true, generate: rsa}}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("space.demo_identity_provider.generate"),
                                 "expected ed25519 or ecdsa-p256-sha256"));
  EXPECT_THAT(r.errors, HasError(gw("space.demo_identity_provider.private_key_file"), "required"));
  write("qaqpa.yaml", demo +
                          "space:\n"
                          "  max_token_lifetime: 10m\n"
                          "  identity_providers: [{issuer: urn:qaqpa:demo-idp,"
                          " keys: [{kid: demo-idp-1, alg: EdDSA, public_key_file: k.pem}]}]\n"
                          "  demo_identity_provider: {enabled: true, private_key_file: k.pem,"
                          " token_lifetime: 15m, colour: red}\n");
  r = load();
  EXPECT_THAT(r.errors, HasError(gw("space.demo_identity_provider.token_lifetime"),
                                 "longer than space.max_token_lifetime"));
  EXPECT_THAT(r.errors, HasError(gw("space.demo_identity_provider.issuer"), "duplicate issuer"))
      << "the default issuer clashes with a configured one";
  EXPECT_THAT(r.errors,
              HasError(gw("space.demo_identity_provider.kid"), "duplicate key id 'demo-idp-1'"));
  EXPECT_THAT(r.errors, HasError(gw("space.demo_identity_provider.colour"), "unknown key"));
}

}  // namespace
}  // namespace qaqpa::config
