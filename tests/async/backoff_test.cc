#include "gateway/async/backoff.h"

#include <gtest/gtest.h>

namespace qaqpa::async {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, CapDoublesFromInitialUpToMax) {
  EXPECT_EQ(backoffCap(1, milliseconds(100), milliseconds(1000)), milliseconds(100));
  EXPECT_EQ(backoffCap(2, milliseconds(100), milliseconds(1000)), milliseconds(200));
  EXPECT_EQ(backoffCap(4, milliseconds(100), milliseconds(1000)), milliseconds(800));
  EXPECT_EQ(backoffCap(5, milliseconds(100), milliseconds(1000)), milliseconds(1000));
  EXPECT_EQ(backoffCap(80, milliseconds(100), milliseconds(1000)), milliseconds(1000));
  EXPECT_EQ(backoffCap(0, milliseconds(100), milliseconds(1000)), milliseconds(100));
}

TEST(Backoff, FullJitterSpansZeroToTheCap) {
  EXPECT_EQ(backoffDelay(3, milliseconds(100), milliseconds(10'000), 0.0), milliseconds(0));
  EXPECT_EQ(backoffDelay(3, milliseconds(100), milliseconds(10'000), 0.5), milliseconds(200));
  EXPECT_EQ(backoffDelay(3, milliseconds(100), milliseconds(10'000), 0.999999), milliseconds(400));
  // Out-of-range inputs are clamped, never outside [0, cap].
  EXPECT_EQ(backoffDelay(3, milliseconds(100), milliseconds(10'000), 7.0), milliseconds(400));
  EXPECT_EQ(backoffDelay(3, milliseconds(100), milliseconds(10'000), -1.0), milliseconds(0));
  for (int attempt = 1; attempt < 40; ++attempt) {
    for (double u : {0.0, 0.1, 0.37, 0.9, 0.99}) {
      const auto d = backoffDelay(attempt, milliseconds(50), milliseconds(60'000), u);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d, backoffCap(attempt, milliseconds(50), milliseconds(60'000)));
    }
  }
}

}  // namespace
}  // namespace qaqpa::async
