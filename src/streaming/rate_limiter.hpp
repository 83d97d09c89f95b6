#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <sluice/streaming/clock.hpp>

namespace sluice::detail {

// Spark's receiver rate limit: Guava's RateLimiter in its "smooth bursty" form, which Spark's
// RateLimiter wraps. Permits are spaced 1/rate apart on the context's clock, and up to one second
// of permits left unused while the caller was idle can be taken at once. Waits run on the
// injected clock, so a manual clock decides them. Thread-safe; setRate may be called while
// others acquire (backpressure changes the rate between batches).
class RateLimiter {
 public:
  // rate <= 0: unlimited.
  RateLimiter(Clock& clock, double rate);
  void setRate(double rate);
  double rate() const;
  // Takes one permit and returns the clock time (ms) from which its holder may proceed: now, or
  // later when permits were taken faster than the rate. Does not block.
  std::int64_t reserve();
  // reserve(), then waits on the clock until the permit's time; false if `cancelled` held first
  // (the caller proceeds without waiting; wake it with Clock::wakeWaiters).
  bool acquire(const std::function<bool()>& cancelled);

 private:
  void resync(double now_ms);

  Clock& clock_;
  mutable std::mutex mu_;
  std::atomic<double> rate_;  // written under mu_; read without it for the unlimited case
  bool started_ = false;
  // Times are kept relative to the first reservation, so that doubles stay exact to far below
  // a microsecond (milliseconds since the epoch would leave only a quarter of one).
  std::int64_t origin_ms_ = 0;
  double next_free_ = 0;     // ms after origin_ms_ when the next fresh permit is available
  double stored_ = 0;        // permits saved while idle, at most one second's worth
};

}  // namespace sluice::detail
