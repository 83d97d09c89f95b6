// Batch times and durations. Durations are std::chrono::milliseconds (any std::chrono duration
// converts, e.g. window(30s, 10s)); a Time is a point on the batch grid in milliseconds since the
// epoch of the context's clock (0 for a fresh ManualClock). Value types; safe to copy anywhere.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>

namespace sluice {

using Duration = std::chrono::milliseconds;

class Time {
 public:
  constexpr Time() = default;
  constexpr explicit Time(std::int64_t ms) : ms_(ms) {}
  constexpr std::int64_t milliseconds() const noexcept { return ms_; }
  constexpr Time operator+(Duration d) const noexcept { return Time(ms_ + d.count()); }
  constexpr Time operator-(Duration d) const noexcept { return Time(ms_ - d.count()); }
  constexpr Duration operator-(Time other) const noexcept { return Duration(ms_ - other.ms_); }
  constexpr auto operator<=>(const Time&) const = default;
  // Spark's Time.toString: "1000 ms".
  std::string toString() const { return std::to_string(ms_) + " ms"; }

 private:
  std::int64_t ms_ = 0;
};

// True when `d` is a positive whole multiple of `unit`.
constexpr bool isMultipleOf(Duration d, Duration unit) noexcept {
  return unit.count() > 0 && d.count() > 0 && d.count() % unit.count() == 0;
}

inline std::string toString(Duration d) { return std::to_string(d.count()) + " ms"; }

}  // namespace sluice
