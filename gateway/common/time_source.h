// TimeSource: the only way stages read the clock, so tests can control time.
#pragma once

#include <chrono>
#include <cstdint>

namespace qaqpa::common {

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual std::chrono::system_clock::time_point now() const noexcept = 0;
  virtual std::chrono::steady_clock::time_point monotonic() const noexcept = 0;
  std::uint64_t unixMillis() const noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count());
  }
};

class SystemTimeSource final : public TimeSource {
 public:
  std::chrono::system_clock::time_point now() const noexcept override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point monotonic() const noexcept override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace qaqpa::common
