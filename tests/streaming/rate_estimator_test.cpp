// spark.streaming.backpressure: the PID rate estimator (its terms one at a time, what it leaves
// alone, its floor and its checks) and its settings.
#include "streaming/rate_estimator.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <sluice/error.hpp>
#include <sluice/streaming/conf.hpp>

namespace {

using sluice::detail::PidRateEstimator;

// 1 s batches; the gains given, min rate 100/s.
PidRateEstimator estimator(double p, double i, double d) {
  return PidRateEstimator(1000, p, i, d, 100);
}

TEST(PidRateEstimator, TheFirstBatchWithRecordsOnlyMeasures) {
  auto e = estimator(1.0, 0.2, 0.0);
  EXPECT_EQ(e.compute(1000, 1000, 1000, 0), std::nullopt);  // processed at 1000/s
  // With the proportional term alone the bound follows the processing rate.
  auto p = estimator(1.0, 0.0, 0.0);
  EXPECT_EQ(p.compute(1000, 1000, 1000, 0), std::nullopt);
  EXPECT_DOUBLE_EQ(p.compute(2000, 500, 1000, 0).value(), 500.0);
  EXPECT_DOUBLE_EQ(p.compute(3000, 3000, 1000, 0).value(), 3000.0);
}

TEST(PidRateEstimator, LeavesTheRateAloneWithoutRecordsProcessingTimeOrProgress) {
  auto e = estimator(1.0, 0.2, 0.0);
  EXPECT_EQ(e.compute(1000, 1000, 1000, 0), std::nullopt);
  EXPECT_EQ(e.compute(2000, 0, 1000, 0), std::nullopt) << "an empty batch";
  EXPECT_EQ(e.compute(2000, 1000, 0, 0), std::nullopt) << "no processing time";
  EXPECT_EQ(e.compute(1000, 1000, 1000, 0), std::nullopt) << "not after the previous batch";
  EXPECT_TRUE(e.compute(2000, 1000, 1000, 0).has_value());
}

TEST(PidRateEstimator, TheSchedulingDelayLowersTheRateByTheBacklogItStandsFor) {
  auto e = estimator(1.0, 0.2, 0.0);
  EXPECT_EQ(e.compute(1000, 1000, 1000, 0), std::nullopt);
  // Processed at 500/s after waiting 1 s: a backlog of 500 records over a 1 s interval, 500/s,
  // of which the integral gain takes 0.2: 500 - 100.
  EXPECT_DOUBLE_EQ(e.compute(2000, 500, 1000, 1000).value(), 400.0);
}

TEST(PidRateEstimator, TheDerivativeTermActsOnTheChangeOfTheError) {
  auto e = estimator(0.0, 0.0, 1.0);
  EXPECT_EQ(e.compute(1000, 1000, 1000, 0), std::nullopt);
  // Error 1000 - 500 = 500/s, changed by 500 since the last batch, 2 s ago: 1000 - 250.
  EXPECT_DOUBLE_EQ(e.compute(3000, 500, 1000, 0).value(), 750.0);
}

TEST(PidRateEstimator, NeverGoesBelowTheMinimumRate) {
  auto e = estimator(1.0, 0.2, 0.0);
  EXPECT_EQ(e.compute(1000, 1000, 1000, 0), std::nullopt);
  EXPECT_DOUBLE_EQ(e.compute(2000, 10, 1000, 60000).value(), 100.0);
}

TEST(PidRateEstimator, RejectsBadParameters) {
  EXPECT_THROW(PidRateEstimator(0, 1, 0.2, 0, 100), sluice::InvalidArgumentError);
  EXPECT_THROW(PidRateEstimator(1000, -1, 0.2, 0, 100), sluice::InvalidArgumentError);
  EXPECT_THROW(PidRateEstimator(1000, 1, -0.2, 0, 100), sluice::InvalidArgumentError);
  EXPECT_THROW(PidRateEstimator(1000, 1, 0.2, -1, 100), sluice::InvalidArgumentError);
  EXPECT_THROW(PidRateEstimator(1000, 1, 0.2, 0, 0), sluice::InvalidArgumentError);
}

TEST(BackpressureConf, TakesSparksKeysAndRejectsBadValues) {
  sluice::StreamingConf conf;
  EXPECT_FALSE(conf.backpressure);
  conf.set("spark.streaming.backpressure.enabled", "true");
  conf.set("spark.streaming.backpressure.initialRate", "5000");
  conf.set("spark.streaming.backpressure.pid.proportional", "0.5");
  conf.set("spark.streaming.backpressure.pid.integral", "0.1");
  conf.set("spark.streaming.backpressure.pid.derived", "0.05");
  conf.set("spark.streaming.backpressure.pid.minRate", "10");
  EXPECT_TRUE(conf.backpressure);
  EXPECT_EQ(conf.backpressure_initial_rate, 5000.0);
  EXPECT_EQ(conf.pid_proportional, 0.5);
  EXPECT_EQ(conf.pid_integral, 0.1);
  EXPECT_EQ(conf.pid_derivative, 0.05);
  EXPECT_EQ(conf.pid_min_rate, 10.0);
  EXPECT_THROW(conf.set("spark.streaming.backpressure.pid.minRate", "0"),
               sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.backpressure.pid.integral", "-0.2"),
               sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.backpressure.initialRate", "nan"),
               sluice::InvalidArgumentError);
  EXPECT_EQ(conf.pid_min_rate, 10.0);
}

}  // namespace
