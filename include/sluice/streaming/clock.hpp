// Where the streaming engine reads time. Nothing in the engine calls the system clock directly:
// the StreamingContext takes a Clock (SystemClock by default), and tests drive a ManualClock.
// Thread-safety: every method of every Clock may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since this clock's epoch.
  virtual std::int64_t nowMs() const = 0;
  // Blocks until nowMs() >= target_ms (returns true) or `cancelled()` holds (returns false).
  // `cancelled` is checked whenever the waiter wakes; see wakeWaiters().
  virtual bool waitUntil(std::int64_t target_ms, const std::function<bool()>& cancelled) = 0;
  // Wakes every waiter to re-check its cancellation; call it after setting what `cancelled` reads.
  virtual void wakeWaiters() = 0;
};

// Wall-clock time (std::chrono::system_clock), so batch times are epoch-aligned as in Spark.
class SystemClock final : public Clock {
 public:
  std::int64_t nowMs() const override;
  bool waitUntil(std::int64_t target_ms, const std::function<bool()>& cancelled) override;
  void wakeWaiters() override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

// A clock that moves only when told to: tests advance it batch by batch.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 0) : now_(start_ms) {}
  std::int64_t nowMs() const override;
  bool waitUntil(std::int64_t target_ms, const std::function<bool()>& cancelled) override;
  void wakeWaiters() override;
  void advance(std::int64_t ms);
  void setTime(std::int64_t ms);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t now_;
};

}  // namespace sluice
