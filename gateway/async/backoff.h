// Retry backoff of async deliveries: exponential with full jitter ("Exponential Backoff And
// Jitter", AWS architecture blog): the delay before attempt n+1 is uniform in
// [0, min(max, initial * 2^(n-1))]. Full jitter spreads the retries of many messages that failed
// together (a provider outage) instead of sending them back in waves.
// Pure; any thread. `uniform01` is a number in [0, 1) from the caller's generator.
#pragma once

#include <chrono>

namespace qaqpa::async {

// The cap of the delay after `failed_attempts` (≥ 1) failures: initial * 2^(failed_attempts-1),
// at most `max`.
std::chrono::milliseconds backoffCap(int failed_attempts, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max) noexcept;

// A delay uniform in [0, backoffCap(...)] (inclusive of the cap within rounding).
std::chrono::milliseconds backoffDelay(int failed_attempts, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double uniform01) noexcept;

}  // namespace qaqpa::async
