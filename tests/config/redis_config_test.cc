// The gateway file's `redis:` section (issue #6): absent = no Redis, accepted address forms,
// defaults, and every refusal with its path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "gateway/config/config.h"
#include "tests/config/config_fixture.h"

namespace qaqpa::config {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing_support::ConfigTest;
using testing_support::HasError;

TEST_F(ConfigTest, RedisIsOffWhenAbsent) {
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_FALSE(r.snapshot->gateway.redis.has_value());
}

TEST_F(ConfigTest, RedisDefaults) {
  gatewayWith("redis: {address: 127.0.0.1:6379}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  ASSERT_TRUE(r.snapshot->gateway.redis.has_value());
  const RedisConfig& c = *r.snapshot->gateway.redis;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 6379);
  EXPECT_EQ(c.unix_path, "");
  EXPECT_EQ(c.username, "");
  EXPECT_EQ(c.password_file, "");
  EXPECT_EQ(c.db, 0);
  EXPECT_EQ(c.connect_timeout, Millis{1'000});
  EXPECT_EQ(c.command_timeout, Millis{250});
  EXPECT_EQ(c.max_in_flight, 4096u);
  EXPECT_EQ(c.reconnect_initial, Millis{100});
  EXPECT_EQ(c.reconnect_max, Millis{5'000});
  EXPECT_TRUE(c.shared_state);
  EXPECT_EQ(c.policy_timeout, Millis{10});
  EXPECT_TRUE(c.consents);
  EXPECT_TRUE(c.space_index);
  EXPECT_EQ(c.outbox_batch_events, 512u);
  EXPECT_EQ(c.outbox_max_events_per_second, 20'000u);
}

TEST_F(ConfigTest, RedisSpaceIndexKeysAreRead) {
  gatewayWith(
      "redis: {address: h:1, space_index: false, outbox_batch_events: 64, "
      "outbox_max_events_per_second: 500}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const RedisConfig& c = *r.snapshot->gateway.redis;
  EXPECT_FALSE(c.space_index);
  EXPECT_EQ(c.outbox_batch_events, 64u);
  EXPECT_EQ(c.outbox_max_events_per_second, 500u);
}

TEST_F(ConfigTest, RedisSharedPolicyKeysAreRead) {
  gatewayWith(
      "redis: {address: h:1, shared_state: false, policy_timeout: 25ms, consents: false}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const RedisConfig& c = *r.snapshot->gateway.redis;
  EXPECT_FALSE(c.shared_state);
  EXPECT_EQ(c.policy_timeout, Millis{25});
  EXPECT_FALSE(c.consents);
}

TEST_F(ConfigTest, RedisEveryKeyIsRead) {
  write("secrets/redis.pass", "s3cret\n");
  gatewayWith(
      "redis:\n"
      "  address: redis-0.cache.internal:6380\n"
      "  password_file: secrets/redis.pass\n"
      "  username: qaqpa\n"
      "  db: 15\n"
      "  connect_timeout: 2s\n"
      "  command_timeout: 40ms\n"
      "  max_in_flight: 100\n"
      "  reconnect_initial: 50ms\n"
      "  reconnect_max: 1m\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const RedisConfig& c = *r.snapshot->gateway.redis;
  EXPECT_EQ(c.host, "redis-0.cache.internal");
  EXPECT_EQ(c.port, 6380);
  EXPECT_EQ(c.password_file, (dir_ / "secrets" / "redis.pass").string());
  EXPECT_EQ(c.username, "qaqpa");
  EXPECT_EQ(c.db, 15);
  EXPECT_EQ(c.connect_timeout, Millis{2'000});
  EXPECT_EQ(c.command_timeout, Millis{40});
  EXPECT_EQ(c.max_in_flight, 100u);
  EXPECT_EQ(c.reconnect_initial, Millis{50});
  EXPECT_EQ(c.reconnect_max, Millis{60'000});
}

TEST_F(ConfigTest, RedisAddressForms) {
  gatewayWith("redis: {address: \"[::1]:7000\"}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.snapshot->gateway.redis->host, "::1");
  EXPECT_EQ(r.snapshot->gateway.redis->port, 7000);

  gatewayWith("redis: {address: localhost:1}\n");
  r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.snapshot->gateway.redis->host, "localhost");

  gatewayWith("redis: {address: \"unix:/run/redis/redis.sock\"}\n");
  r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.snapshot->gateway.redis->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(r.snapshot->gateway.redis->host, "");

  // A relative socket path resolves against the gateway file, like every other path; the socket
  // need not exist (the client keeps reconnecting until it does).
  gatewayWith("redis: {address: \"unix:run/redis.sock\"}\n");
  r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.snapshot->gateway.redis->unix_path, (dir_ / "run" / "redis.sock").string());
}

TEST_F(ConfigTest, RedisAddressIsValidated) {
  const std::string where = gw("redis.address");
  struct Case {
    std::string yaml;
    std::string message;
  };
  const Case cases[] = {
      {"redis: {}\n", "required"},
      {"redis: {address: \"\"}\n", "must not be empty"},
      {"redis: {address: localhost}\n", "expected host:port or unix:<socket path>"},
      {"redis: {address: \"localhost:\"}\n", "port '' is not in 1..65535"},
      {"redis: {address: \"localhost:0\"}\n", "port '0' is not in 1..65535"},
      {"redis: {address: \"localhost:65536\"}\n", "port '65536' is not in 1..65535"},
      {"redis: {address: \"localhost:6379x\"}\n", "port '6379x' is not in 1..65535"},
      {"redis: {address: \"bad_host:6379\"}\n", "'bad_host' is not a valid host name"},
      {"redis: {address: \"-a.b:6379\"}\n", "not a valid host name"},
      {"redis: {address: \"a..b:6379\"}\n", "not a valid host name"},
      {"redis: {address: \":6379\"}\n", "not a valid host name"},
      {"redis: {address: \"::1:6379\"}\n", "write an IPv6 address in brackets"},
      {"redis: {address: \"[::1]\"}\n", "expected [IPv6 address]:port"},
      {"redis: {address: \"[127.0.0.1]:6379\"}\n", "is not an IPv6 address"},
      {"redis: {address: \"unix:\"}\n", "expected unix:<socket path>"},
      {"redis: {address: \"unix:/" + std::string(120, 's') + "\"}\n",
       "a unix socket path may have at most 107"},
      {"redis: {address: 6379}\n", "expected host:port"},
  };
  for (const Case& c : cases) {
    gatewayWith(c.yaml);
    auto r = load();
    EXPECT_THAT(r.errors, HasError(where, c.message)) << c.yaml;
    EXPECT_THAT(r.errors, SizeIs(1)) << c.yaml;
  }
}

TEST_F(ConfigTest, RedisValuesAreValidated) {
  write("redis.pass", "p\n");
  struct Case {
    std::string yaml;
    std::string where;
    std::string message;
  };
  const Case cases[] = {
      {"redis: {address: h:1, password_file: absent.pass}\n", "redis.password_file",
       "does not exist"},
      {"redis: {address: h:1, password_file: \" \"}\n", "redis.password_file", "must not be empty"},
      {"redis: {address: h:1, username: qaqpa}\n", "redis.username", "needs password_file"},
      {"redis: {address: h:1, password_file: redis.pass, username: \"a b\"}\n", "redis.username",
       "printable ASCII"},
      {"redis: {address: h:1, password_file: redis.pass, username: \"\"}\n", "redis.username",
       "printable ASCII"},
      {"redis: {address: h:1, db: 16}\n", "redis.db", "out of range"},
      {"redis: {address: h:1, db: -1}\n", "redis.db", ""},
      {"redis: {address: h:1, connect_timeout: 5ms}\n", "redis.connect_timeout", "out of range"},
      {"redis: {address: h:1, connect_timeout: 2m}\n", "redis.connect_timeout", "out of range"},
      {"redis: {address: h:1, command_timeout: 0ms}\n", "redis.command_timeout", "out of range"},
      {"redis: {address: h:1, command_timeout: 2m}\n", "redis.command_timeout", "out of range"},
      {"redis: {address: h:1, command_timeout: 100}\n", "redis.command_timeout",
       "expected a duration"},
      {"redis: {address: h:1, max_in_flight: 0}\n", "redis.max_in_flight", "out of range"},
      {"redis: {address: h:1, max_in_flight: 1000001}\n", "redis.max_in_flight", "out of range"},
      {"redis: {address: h:1, reconnect_initial: 0s}\n", "redis.reconnect_initial", "out of range"},
      {"redis: {address: h:1, reconnect_max: 11m}\n", "redis.reconnect_max", "out of range"},
      {"redis: {address: h:1, reconnect_initial: 2s, reconnect_max: 1s}\n", "redis.reconnect_max",
       "shorter than reconnect_initial"},
      {"redis: {address: h:1, cluster: true}\n", "redis.cluster", "unknown key 'cluster'"},
      {"redis: {address: h:1, policy_timeout: 0ms}\n", "redis.policy_timeout", "out of range"},
      {"redis: {address: h:1, policy_timeout: 2s}\n", "redis.policy_timeout", "out of range"},
      {"redis: {address: h:1, shared_state: maybe}\n", "redis.shared_state", ""},
      {"redis: {address: h:1, consents: 1ms}\n", "redis.consents", ""},
      {"redis: {address: h:1, space_index: yes please}\n", "redis.space_index", ""},
      {"redis: {address: h:1, outbox_batch_events: 0}\n", "redis.outbox_batch_events",
       "out of range"},
      {"redis: {address: h:1, outbox_batch_events: 10001}\n", "redis.outbox_batch_events",
       "out of range"},
      {"redis: {address: h:1, outbox_max_events_per_second: 0}\n",
       "redis.outbox_max_events_per_second", "out of range"},
      {"redis: unix:/tmp/r.sock\n", "redis", ""},
  };
  for (const Case& c : cases) {
    gatewayWith(c.yaml);
    auto r = load();
    EXPECT_THAT(r.errors, HasError(gw(c.where), c.message)) << c.yaml;
    EXPECT_THAT(r.errors, SizeIs(1)) << c.yaml;
  }
}

}  // namespace
}  // namespace qaqpa::config
