// The gateway file's `async:` section and the per-service `async:` of the bundle (docs/async.md):
// defaults, every key read, and the refusals with their paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "gateway/config/config.h"
#include "tests/config/config_fixture.h"

namespace qaqpa::config {
namespace {

using ::testing::IsEmpty;
using testing_support::ConfigTest;
using testing_support::HasError;

TEST_F(ConfigTest, AsyncDefaults) {
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const AsyncConfig& a = r.snapshot->gateway.async;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.partitions, 16u);
  EXPECT_EQ(a.result_ttl, Millis{86'400'000});
  EXPECT_EQ(a.retry_initial, Millis{1'000});
  EXPECT_EQ(a.retry_max, Millis{300'000});
  EXPECT_EQ(a.max_attempts, 5u);
  EXPECT_EQ(a.max_in_flight, 64u);
  EXPECT_EQ(a.claim_idle, Millis{60'000});
  EXPECT_EQ(a.max_queued, 100'000u);
  EXPECT_EQ(a.poll_interval, Millis{100});
  for (const auto& [id, s] : r.snapshot->policy.services) EXPECT_EQ(s.max_attempts, 0u) << id;
}

TEST_F(ConfigTest, AsyncEveryKeyIsRead) {
  gatewayWith(
      "async: {enabled: false, partitions: 4, result_ttl: 1h, retry_initial: 50ms, "
      "retry_max: 2s, max_attempts: 9, max_in_flight: 8, claim_idle: 30s, max_queued: 1000, "
      "poll_interval: 20ms}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const AsyncConfig& a = r.snapshot->gateway.async;
  EXPECT_FALSE(a.enabled);
  EXPECT_EQ(a.partitions, 4u);
  EXPECT_EQ(a.result_ttl, Millis{3'600'000});
  EXPECT_EQ(a.retry_initial, Millis{50});
  EXPECT_EQ(a.retry_max, Millis{2'000});
  EXPECT_EQ(a.max_attempts, 9u);
  EXPECT_EQ(a.max_in_flight, 8u);
  EXPECT_EQ(a.claim_idle, Millis{30'000});
  EXPECT_EQ(a.max_queued, 1000u);
  EXPECT_EQ(a.poll_interval, Millis{20});
}

TEST_F(ConfigTest, AsyncRefusals) {
  gatewayWith(
      "async: {partitions: 0, max_attempts: 101, retry_initial: 2s, retry_max: 1s, "
      "claim_idle: 10ms, max_in_flight: 0, colour: red}\n");
  auto r = load();
  EXPECT_THAT(r.errors, HasError(gw("async.partitions"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("async.max_attempts"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("async.retry_max"), "shorter than retry_initial"));
  EXPECT_THAT(r.errors, HasError(gw("async.claim_idle"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("async.max_in_flight"), "out of range"));
  EXPECT_THAT(r.errors, HasError(gw("async.colour"), "unknown key 'colour'"));
}

TEST_F(ConfigTest, ServiceAsyncMaxAttempts) {
  const std::string pop = "providers/population-register.yaml";
  write(pop,
        "provider: KZ/GOV/240140000011/population-register\nservices:\n"
        "  - id: person.byIin\n    name: {kk: a, ru: b, en: c}\n"
        "    upstream: http://127.0.0.1:8180\n    exposed_zones: [state]\n"
        "    personal_data: true\n    async: {max_attempts: 3}\n");
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.snapshot->policy.findService("person.byIin")->max_attempts, 3u);

  write(pop,
        "provider: KZ/GOV/240140000011/population-register\nservices:\n"
        "  - id: person.byIin\n    name: {kk: a, ru: b, en: c}\n"
        "    upstream: http://127.0.0.1:8180\n    exposed_zones: [state]\n"
        "    personal_data: true\n    async: {max_attempts: 0, retries: 2}\n");
  r = load();
  EXPECT_THAT(r.errors, HasError(pop + ": services[0].async.max_attempts", "out of range"));
  EXPECT_THAT(r.errors, HasError(pop + ": services[0].async.retries", "unknown key 'retries'"));
}

TEST_F(ConfigTest, SystemCallbackIsAnHttpUrl) {
  std::string systems = testing_support::kSystemsYaml;
  const std::string anchor = "  - id: KZ/GOV/240140000021/tax-service\n";
  ASSERT_NE(systems.find(anchor), std::string::npos);
  std::string good = systems;
  good.insert(good.find(anchor) + anchor.size(),
              "    callback: http://127.0.0.1:8199/hooks/qaqpa\n");
  write("systems.yaml", good);
  auto r = load();
  ASSERT_THAT(r.errors, IsEmpty());
  const System* tax = r.snapshot->policy.findSystem("KZ/GOV/240140000021/tax-service");
  ASSERT_TRUE(tax->callback);
  EXPECT_EQ(tax->callback->host, "127.0.0.1");
  EXPECT_EQ(tax->callback->port, 8199);
  EXPECT_EQ(tax->callback->base_path, "/hooks/qaqpa");
  EXPECT_FALSE(r.snapshot->policy.findSystem("KZ/GOV/240140000011/population-register")->callback);

  std::string bad = systems;
  bad.insert(bad.find(anchor) + anchor.size(), "    callback: ftp://x/y\n");
  write("systems.yaml", bad);
  r = load();
  EXPECT_FALSE(r.errors.empty());
  bool named = false;
  for (const auto& e : r.errors) named = named || e.where.find(".callback") != std::string::npos;
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace qaqpa::config
