#include "gateway/policy/replay_window.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/metrics/metrics.h"

namespace qaqpa::policy {
namespace {

using Clock = ReplayWindow::Clock;
using std::chrono::milliseconds;

common::Uuid idOf(std::uint32_t n) {
  common::Uuid id;
  for (int i = 0; i < 4; ++i) id.bytes[12 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return id;
}

TEST(ReplayWindow, SecondSightingInsideTheWindowIsARepeat) {
  ReplayWindow w(milliseconds(1000), 4096);
  const Clock::time_point t0{};
  EXPECT_TRUE(w.firstSeen("KZ/GOV/240140000021/tax-service", idOf(1), t0));
  EXPECT_FALSE(w.firstSeen("KZ/GOV/240140000021/tax-service", idOf(1), t0 + milliseconds(999)));
  EXPECT_TRUE(w.firstSeen("KZ/GOV/240140000031/social-benefits", idOf(1), t0));
  EXPECT_TRUE(w.firstSeen("KZ/GOV/240140000021/tax-service", idOf(2), t0));
  EXPECT_EQ(w.size(), 3u);
}

TEST(ReplayWindow, IdIsAcceptedAgainAfterTheWindow) {
  ReplayWindow w(milliseconds(1000), 4096);
  const Clock::time_point t0{};
  ASSERT_TRUE(w.firstSeen("c", idOf(7), t0));
  EXPECT_TRUE(w.firstSeen("c", idOf(7), t0 + milliseconds(1000)));
  EXPECT_EQ(w.size(), 1u) << "the expired entry is gone, the new one recorded";
}

TEST(ReplayWindow, ClientAndIdCannotBeConfusedAcrossTheSeparator) {
  ReplayWindow w(milliseconds(1000), 4096);
  common::Uuid a = idOf(0);
  EXPECT_TRUE(w.firstSeen("ab", a, Clock::time_point{}));
  EXPECT_TRUE(w.firstSeen("a", a, Clock::time_point{}));
}

TEST(ReplayWindow, BoundedMemoryEvictsOldestAndCounts) {
  metrics::Metrics m;
  ReplayWindow w(milliseconds(60'000), 32 * 4, m.replayEvictions());  // 4 per shard
  const Clock::time_point t0{};
  for (std::uint32_t i = 0; i < 10'000; ++i) ASSERT_TRUE(w.firstSeen("c", idOf(i), t0));
  EXPECT_LE(w.size(), 32u * 4u);
  EXPECT_NE(m.serialize().find("qaqpa_replay_evictions_total"), std::string::npos);
  // The newest id is always still remembered.
  EXPECT_FALSE(w.firstSeen("c", idOf(9'999), t0));
}

TEST(ReplayWindow, ConcurrentSubmissionsOfOneIdAdmitExactlyOne) {
  ReplayWindow w(milliseconds(60'000), 1 << 16);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (std::uint32_t i = 0; i < 2'000; ++i) {
        if (w.firstSeen("c", idOf(i), Clock::time_point{})) admitted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 2'000);
}

}  // namespace
}  // namespace qaqpa::policy
