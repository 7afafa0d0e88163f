// The shared index's Redis keys: one hash tag per citizen / per node (Redis Cluster: every
// script touches one slot), refs that parse back and sort by node then seq.
#include "gateway/space_index/redis_index_keys.h"

#include <gtest/gtest.h>

#include <string>

namespace qaqpa::space_index {
namespace {

// The Cluster specification's rule (what the lead's cluster test checks with CLUSTER KEYSLOT).
std::string_view tagOf(std::string_view key) {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

TEST(RedisIndexKeysTest, OneTagPerCitizenAndPerNode) {
  const std::string s = "IIN:900101300017";
  EXPECT_EQ(subjectIndexKey(s), "qaqpa:{subj:IIN:900101300017}:z");
  EXPECT_EQ(subjectDataKey(s), "qaqpa:{subj:IIN:900101300017}:h");
  EXPECT_EQ(tagOf(subjectIndexKey(s)), tagOf(subjectDataKey(s)));
  EXPECT_NE(tagOf(subjectIndexKey(s)), tagOf(subjectIndexKey("IIN:850506400003")));
  EXPECT_EQ(checkpointIndexKey("kz-a"), "qaqpa:{ckpt:kz-a}:z");
  EXPECT_EQ(tagOf(checkpointIndexKey("kz-a")), tagOf(checkpointDataKey("kz-a")));
  EXPECT_NE(tagOf(checkpointIndexKey("kz-a")), tagOf(checkpointIndexKey("kz-b")));
  EXPECT_EQ(outboxCursorKey("kz-a"), "qaqpa:{outbox:kz-a}:pos");
  EXPECT_EQ(tagOf(cursorKeyKey()), "space");
}

TEST(RedisIndexKeysTest, RefsRoundTripAndOrderByNodeThenSeq) {
  EXPECT_EQ(eventRef("kz-a", 42), "kz-a|00000000000000000042");
  std::string_view node;
  std::uint64_t seq = 0;
  const std::string ref = eventRef("kz-a.1_x", UINT64_MAX);  // node views into it
  ASSERT_TRUE(parseEventRef(ref, node, seq));
  EXPECT_EQ(node, "kz-a.1_x");
  EXPECT_EQ(seq, UINT64_MAX);
  EXPECT_LT(eventRef("kz-a", 9), eventRef("kz-a", 10));
  EXPECT_LT(eventRef("kz-a", 99), eventRef("kz-b", 1));
  for (const char* bad : {"", "|00000000000000000001", "kz-a|1", "kz-a|0000000000000000000x",
                          "kz-a|99999999999999999999", "kz-a"}) {
    EXPECT_FALSE(parseEventRef(bad, node, seq)) << bad;
  }
  EXPECT_TRUE(isKeySafeNodeId("kz-qaqpa-demo-1-r1"));
  for (const char* bad : {"", "Kz", "-a", "a|b", "a{b", "a}b", "a b"}) {
    EXPECT_FALSE(isKeySafeNodeId(bad)) << bad;
  }
}

}  // namespace
}  // namespace qaqpa::space_index
