#pragma once

#include <cstdint>
#include <optional>

namespace sluice::detail {

// Backpressure's rate estimator: Spark's PID controller on the ingestion rate. After each batch it
// compares the rate the job processed (records / processing time) with the rate it allowed for
// that batch, and corrects by the error (proportional), by the backlog the scheduling delay
// stands for (integral) and by the error's change (derivative), never going below min_rate.
// Not thread-safe: the batch runner calls it, one batch after another.
class PidRateEstimator {
 public:
  // Throws InvalidArgumentError for a non-positive batch interval or min_rate, or a negative
  // gain.
  PidRateEstimator(std::int64_t batch_interval_ms, double proportional, double integral,
                   double derivative, double min_rate);
  // The new rate bound (records/s) after a batch that ended at time_ms with `records` records,
  // or nothing: for the first batch with records (which only measures), a batch without records
  // or processing time (the rate stays as it is) and a time not after the previous one.
  std::optional<double> compute(std::int64_t time_ms, long long records,
                                std::int64_t processing_delay_ms,
                                std::int64_t scheduling_delay_ms);

 private:
  const std::int64_t batch_interval_ms_;
  const double proportional_;
  const double integral_;
  const double derivative_;
  const double min_rate_;
  bool measured_ = false;  // a first batch with records has been seen
  std::int64_t latest_time_ms_ = -1;
  double latest_rate_ = 0;   // the bound computed after the previous batch (records/s)
  double latest_error_ = 0;  // its error (records/s)
};

}  // namespace sluice::detail
