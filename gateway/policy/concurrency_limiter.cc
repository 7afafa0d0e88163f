#include "gateway/policy/concurrency_limiter.h"

#include <algorithm>
#include <cassert>

namespace qaqpa::policy {

ConcurrencyLimiter::ConcurrencyLimiter(std::uint32_t max) noexcept
    : max_(std::max<std::uint32_t>(max, 1)) {
  assert(max >= 1);
}

ConcurrencyLimiter::~ConcurrencyLimiter() {
  assert(in_flight_.load(std::memory_order_relaxed) == 0 && "a Permit outlived its limiter");
}

std::optional<ConcurrencyLimiter::Permit> ConcurrencyLimiter::tryAcquire() noexcept {
  std::uint32_t cur = in_flight_.load(std::memory_order_relaxed);
  do {
    if (cur >= max_) return std::nullopt;
    // Acquire/release pair with Permit::release so work done under a permit happens-before the
    // next holder of that slot; the count itself would be exact with relaxed.
  } while (!in_flight_.compare_exchange_weak(cur, cur + 1, std::memory_order_acquire,
                                             std::memory_order_relaxed));
  return Permit(this);
}

ConcurrencyLimiter::Permit& ConcurrencyLimiter::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    other.owner_ = nullptr;
  }
  return *this;
}

void ConcurrencyLimiter::Permit::release() noexcept {
  if (owner_ == nullptr) return;
  owner_->in_flight_.fetch_sub(1, std::memory_order_release);
  owner_ = nullptr;
}

}  // namespace qaqpa::policy
