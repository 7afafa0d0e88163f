// Key layout: every key of one grant / one client carries the same Redis Cluster hash tag.
#include "gateway/shared_state/shared_keys.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace qaqpa::shared_state {
namespace {

common::Uuid uuidOf(std::uint8_t seed) {
  common::Uuid u;
  for (std::size_t i = 0; i < u.bytes.size(); ++i) u.bytes[i] = static_cast<std::uint8_t>(seed + i);
  return u;
}

TEST(SharedKeysTest, GrantKeyHasOneHashTagPerGrant) {
  const std::string a = grantRateKey("grant-a");
  EXPECT_EQ(a, grantRateKey("grant-a"));  // stable
  EXPECT_EQ(a.rfind("qaqpa:{grant:", 0), 0u);
  EXPECT_EQ(a.substr(a.size() - 6), "}:gcra");
  const std::string_view tag = clusterHashTag(a);
  EXPECT_EQ(tag.size(), std::string_view("grant:").size() + 32);
  EXPECT_EQ(tag.substr(0, 6), "grant:");
  EXPECT_NE(a, grantRateKey("grant-b"));
  EXPECT_NE(clusterHashTag(a), clusterHashTag(grantRateKey("grant-b")));
  // Braces in a grant key cannot leak into the key: it is hashed.
  EXPECT_EQ(clusterHashTag(grantRateKey("}{x}")).size(), tag.size());
}

TEST(SharedKeysTest, EveryReplayKeyOfAClientHasTheClientsTag) {
  std::set<std::string> keys;
  for (std::uint8_t i = 0; i < 50; ++i) {
    const std::string k = replayKey("KZ-GOV-EGOV", uuidOf(i));
    EXPECT_EQ(clusterHashTag(k), "client:KZ-GOV-EGOV") << k;
    keys.insert(k);
  }
  EXPECT_EQ(keys.size(), 50u);
  EXPECT_EQ(replayKey("c1", uuidOf(0)), "qaqpa:{client:c1}:msg:" + common::toString(uuidOf(0)));
  EXPECT_NE(clusterHashTag(replayKey("c1", uuidOf(0))), clusterHashTag(replayKey("c2", uuidOf(0))));
}

TEST(SharedKeysTest, ClientIdsAreEscapedInjectivelyWithoutBraces) {
  const std::string odd = replayKey("a}b{c:d%", uuidOf(1));
  EXPECT_EQ(odd.find('}'), odd.find("}:msg:"));
  EXPECT_EQ(clusterHashTag(odd), "client:a%7db%7bc%3ad%25");
  // Distinct ids stay distinct, also when one looks like another's escape.
  EXPECT_NE(replayKey("a%7d", uuidOf(1)), replayKey("a}", uuidOf(1)));
  EXPECT_NE(replayKey(std::string("a\0b", 3), uuidOf(1)), replayKey("a", uuidOf(1)));
  for (std::uint8_t i = 0; i < 5; ++i) {
    EXPECT_EQ(clusterHashTag(replayKey("a}b{c:d%", uuidOf(i))), clusterHashTag(odd));
  }
}

TEST(SharedKeysTest, ClusterHashTagFollowsTheClusterRule) {
  EXPECT_EQ(clusterHashTag("plain"), "plain");
  EXPECT_EQ(clusterHashTag("a{}b{c}"), "a{}b{c}");  // empty first tag: the whole key
  EXPECT_EQ(clusterHashTag("a{b}c{d}"), "b");
  EXPECT_EQ(clusterHashTag("a{b"), "a{b");
}

}  // namespace
}  // namespace qaqpa::shared_state
