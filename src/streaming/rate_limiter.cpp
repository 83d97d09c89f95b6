#include "streaming/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace sluice::detail {

RateLimiter::RateLimiter(Clock& clock, double rate) : clock_(clock), rate_(rate) {}

void RateLimiter::setRate(double rate) {
  std::lock_guard lock(mu_);
  if (started_) resync(static_cast<double>(clock_.nowMs() - origin_ms_));
  // Saved permits keep their share of a second at the new rate, as Guava's do.
  const double old_rate = rate_.load();
  if (old_rate > 0 && rate > 0) stored_ = std::min(rate, stored_ * rate / old_rate);
  rate_.store(rate);
}

double RateLimiter::rate() const { return rate_.load(); }

void RateLimiter::resync(double now) {
  if (now > next_free_) {
    const double rate = rate_.load();
    stored_ = std::min(rate, stored_ + (now - next_free_) * rate / 1000.0);
    next_free_ = now;
  }
}

std::int64_t RateLimiter::reserve() {
  const std::int64_t now_ms = clock_.nowMs();
  std::lock_guard lock(mu_);
  const double rate = rate_.load();
  if (rate <= 0) return now_ms;
  if (!started_) {
    started_ = true;
    origin_ms_ = now_ms;
  }
  const double now = static_cast<double>(now_ms - origin_ms_);
  resync(now);
  const double moment = next_free_;
  const double spent = std::min(1.0, stored_);
  stored_ -= spent;
  next_free_ += (1.0 - spent) * 1000.0 / rate;
  return origin_ms_ + static_cast<std::int64_t>(std::ceil(moment));
}

bool RateLimiter::acquire(const std::function<bool()>& cancelled) {
  if (rate_.load() <= 0) return true;
  const std::int64_t target = reserve();
  if (target <= clock_.nowMs()) return true;
  return clock_.waitUntil(target, cancelled);
}

}  // namespace sluice::detail
