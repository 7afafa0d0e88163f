// ManualTimeSource: a TimeSource whose clock moves only when the test says so. Thread-safe (the
// consent store reads it on its writer thread while the test sets it on the main thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "gateway/common/time_source.h"

namespace qaqpa::test_support {

class ManualTimeSource : public common::TimeSource {
 public:
  // 2024-01-01T00:00:00Z: a fixed, readable start so expiries in tests are plain arithmetic.
  static constexpr std::chrono::sys_seconds kDefaultStart{std::chrono::seconds{1704067200}};

  explicit ManualTimeSource(std::chrono::system_clock::time_point start = kDefaultStart)
      : ns_(toNs(start)) {}

  std::chrono::system_clock::time_point now() const noexcept override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(ns_.load())));
  }
  std::chrono::steady_clock::time_point monotonic() const noexcept override {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(ns_.load())));
  }

  void set(std::chrono::system_clock::time_point t) noexcept { ns_.store(toNs(t)); }
  void advance(std::chrono::nanoseconds d) noexcept { ns_.fetch_add(d.count()); }

 private:
  static std::int64_t toNs(std::chrono::system_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  std::atomic<std::int64_t> ns_;
};

}  // namespace qaqpa::test_support
