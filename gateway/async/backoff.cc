#include "gateway/async/backoff.h"

#include <algorithm>
#include <cmath>

namespace qaqpa::async {

std::chrono::milliseconds backoffCap(int failed_attempts, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max) noexcept {
  if (failed_attempts < 1) failed_attempts = 1;
  long long cap = std::max<long long>(0, initial.count());
  for (int i = 1; i < failed_attempts && cap < max.count(); ++i) cap *= 2;
  return std::chrono::milliseconds(std::min<long long>(cap, max.count()));
}

std::chrono::milliseconds backoffDelay(int failed_attempts, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double uniform01) noexcept {
  const auto cap = backoffCap(failed_attempts, initial, max).count();
  const double u = std::clamp(uniform01, 0.0, 1.0);
  const auto d = static_cast<long long>(std::llround(u * static_cast<double>(cap)));
  return std::chrono::milliseconds(std::clamp<long long>(d, 0, cap));
}

}  // namespace qaqpa::async
