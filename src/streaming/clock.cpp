#include <chrono>
#include <sluice/streaming/clock.hpp>

namespace sluice {

std::int64_t SystemClock::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool SystemClock::waitUntil(std::int64_t target_ms, const std::function<bool()>& cancelled) {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(target_ms));
  while (!cancelled()) {
    if (nowMs() >= target_ms) return true;
    cv_.wait_until(lock, deadline);
  }
  return false;
}

void SystemClock::wakeWaiters() {
  { std::lock_guard lock(mu_); }  // a waiter between its check and its wait is not missed
  cv_.notify_all();
}

std::int64_t ManualClock::nowMs() const {
  std::lock_guard lock(mu_);
  return now_;
}

bool ManualClock::waitUntil(std::int64_t target_ms, const std::function<bool()>& cancelled) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return now_ >= target_ms || cancelled(); });
  return now_ >= target_ms && !cancelled();
}

void ManualClock::wakeWaiters() {
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

void ManualClock::advance(std::int64_t ms) {
  {
    std::lock_guard lock(mu_);
    now_ += ms;
  }
  cv_.notify_all();
}

void ManualClock::setTime(std::int64_t ms) {
  {
    std::lock_guard lock(mu_);
    now_ = ms;
  }
  cv_.notify_all();
}

}  // namespace sluice
