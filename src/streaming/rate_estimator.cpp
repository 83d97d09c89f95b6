#include "streaming/rate_estimator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sluice/error.hpp>

namespace sluice::detail {

PidRateEstimator::PidRateEstimator(std::int64_t batch_interval_ms, double proportional,
                                   double integral, double derivative, double min_rate)
    : batch_interval_ms_(batch_interval_ms),
      proportional_(proportional),
      integral_(integral),
      derivative_(derivative),
      min_rate_(min_rate) {
  if (batch_interval_ms <= 0) {
    throw InvalidArgumentError(
        fmt::format("Backpressure: batch interval {} ms must be positive", batch_interval_ms));
  }
  if (proportional < 0 || integral < 0 || derivative < 0) {
    throw InvalidArgumentError(fmt::format(
        "Backpressure: PID gains must not be negative (proportional {}, integral {}, derived {})",
        proportional, integral, derivative));
  }
  if (!(min_rate > 0)) {
    throw InvalidArgumentError(
        fmt::format("Backpressure: minimum rate {} must be positive", min_rate));
  }
}

std::optional<double> PidRateEstimator::compute(std::int64_t time_ms, long long records,
                                                std::int64_t processing_delay_ms,
                                                std::int64_t scheduling_delay_ms) {
  if (time_ms <= latest_time_ms_ || records <= 0 || processing_delay_ms <= 0) return std::nullopt;
  const double since_update_s = static_cast<double>(time_ms - latest_time_ms_) / 1000.0;
  const double processing_rate =
      static_cast<double>(records) * 1000.0 / static_cast<double>(processing_delay_ms);
  latest_time_ms_ = time_ms;
  if (!measured_) {
    // Nothing to correct yet: what the job managed becomes the reference.
    measured_ = true;
    latest_rate_ = processing_rate;
    latest_error_ = 0;
    return std::nullopt;
  }
  const double error = latest_rate_ - processing_rate;
  // The records that queued behind earlier batches (scheduling delay x processing rate), spread
  // over one batch interval: the rate that would have avoided the backlog.
  const double backlog_rate = static_cast<double>(scheduling_delay_ms) * processing_rate /
                              static_cast<double>(batch_interval_ms_);
  const double error_change = (error - latest_error_) / since_update_s;
  const double rate = std::max(min_rate_, latest_rate_ - proportional_ * error -
                                              integral_ * backlog_rate -
                                              derivative_ * error_change);
  latest_rate_ = rate;
  latest_error_ = error;
  return rate;
}

}  // namespace sluice::detail
