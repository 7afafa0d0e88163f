#include "gateway/async/async_keys.h"

#include <gtest/gtest.h>

#include <set>

#include "gateway/shared_state/shared_keys.h"

namespace qaqpa::async {
namespace {

common::Uuid uuidOf(std::uint32_t n) {
  common::Uuid u;
  u.bytes[6] = 0x70;
  for (int i = 0; i < 4; ++i) u.bytes[12 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return u;
}

TEST(AsyncKeys, EveryKeyOfAPartitionSharesOneHashTag) {
  const std::string client = "KZ/GOV/240140000021/tax-service";
  for (unsigned p : {0u, 3u, 15u}) {
    const std::string tag = "async:" + std::to_string(p);
    EXPECT_EQ(shared_state::clusterHashTag(streamKey(p)), tag);
    EXPECT_EQ(shared_state::clusterHashTag(delayedKey(p)), tag);
    EXPECT_EQ(shared_state::clusterHashTag(messageKey(p, client, uuidOf(7))), tag);
  }
  EXPECT_EQ(streamKey(3), "qaqpa:{async:3}:stream");
  EXPECT_EQ(delayedKey(3), "qaqpa:{async:3}:delayed");
  EXPECT_EQ(messageKey(3, client, uuidOf(1)),
            "qaqpa:{async:3}:msg:KZ/GOV/240140000021/tax-service:" + common::toString(uuidOf(1)));
}

TEST(AsyncKeys, ClientBytesThatCouldBreakTheTagAreEscaped) {
  const std::string key = messageKey(1, "a{b}c:d", uuidOf(1));
  EXPECT_EQ(shared_state::clusterHashTag(key), "async:1");
  EXPECT_NE(key.find("a%7bb%7dc%3ad:"), std::string::npos) << key;
}

TEST(AsyncKeys, PartitionIsStableInRangeAndSpread) {
  std::set<unsigned> seen;
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const unsigned p = partitionOf("KZ/GOV/240140000021/tax-service", uuidOf(i), 16);
    ASSERT_LT(p, 16u);
    EXPECT_EQ(p, partitionOf("KZ/GOV/240140000021/tax-service", uuidOf(i), 16));
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 16u);
  EXPECT_EQ(partitionOf("x", uuidOf(5), 1), 0u);
  // The client is part of the hash: another client's same id may land elsewhere (not always).
  unsigned differ = 0;
  for (std::uint32_t i = 0; i < 100; ++i) {
    differ += partitionOf("A/GOV/1/a", uuidOf(i), 16) != partitionOf("A/GOV/1/b", uuidOf(i), 16);
  }
  EXPECT_GT(differ, 50u);
}

}  // namespace
}  // namespace qaqpa::async
