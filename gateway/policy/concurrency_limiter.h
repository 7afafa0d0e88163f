// ConcurrencyLimiter: a grant's limit on requests in flight at once (PROTOCOL.md §3 step 6), exact
// within one process across all workers and lock-free.
//
// One atomic counter. tryAcquire() increments it with a CAS only while it is below `max`, so the
// count never exceeds `max` even transiently (a fetch_add-then-undo scheme would, and would refuse
// a concurrent caller that should have been admitted). A Permit gives its slot back when destroyed.
//
// Ownership: a Permit points at its limiter and must not outlive it; keep the owner (GrantQuota,
// see quota_registry.h) alive as long as the permit, e.g. with QuotaTicket.
// Thread-safety: any thread; a Permit may be released on another thread than the one that took it.
// Non-blocking, no throw.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace qaqpa::policy {

class ConcurrencyLimiter {
 public:
  // Move-only RAII slot. A moved-from or released Permit holds nothing.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { release(); }

    // Gives the slot back now (idempotent).
    void release() noexcept;
    bool held() const noexcept { return owner_ != nullptr; }

   private:
    friend class ConcurrencyLimiter;
    explicit Permit(ConcurrencyLimiter* owner) noexcept : owner_(owner) {}
    ConcurrencyLimiter* owner_;
  };

  explicit ConcurrencyLimiter(std::uint32_t max) noexcept;  // max >= 1 (asserted)
  ConcurrencyLimiter(const ConcurrencyLimiter&) = delete;
  ConcurrencyLimiter& operator=(const ConcurrencyLimiter&) = delete;
  ~ConcurrencyLimiter();  // asserts no permit is outstanding

  // A permit if fewer than max() are held, otherwise nullopt (the caller answers RATE_LIMITED).
  std::optional<Permit> tryAcquire() noexcept;

  std::uint32_t max() const noexcept { return max_; }
  std::uint32_t inFlight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }

 private:
  static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

  std::uint32_t max_;
  alignas(64) std::atomic<std::uint32_t> in_flight_{0};
};

}  // namespace qaqpa::policy
