// spark.streaming.receiver.maxRate: the rate limiter on the context's clock (permit spacing,
// achieved rate from 100/s to 1,000,000/s, idle permits capped at one second, waits decided by
// the manual clock and cut short by a stop), and a receiver held to its rate.
#include "streaming/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <sluice/testing.hpp>
#include <thread>
#include <vector>

#include "counting_receiver.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::ManualClock;
using sluice::detail::RateLimiter;
using sluice::stream_test::CountingReceiver;

TEST(RateLimiter, SpacesPermitsOneIntervalApart) {
  ManualClock clock(1000);
  RateLimiter limiter(clock, 100);  // one permit every 10 ms
  std::vector<std::int64_t> times;
  for (int i = 0; i < 5; ++i) times.push_back(limiter.reserve());
  EXPECT_EQ(times, (std::vector<std::int64_t>{1000, 1010, 1020, 1030, 1040}));
}

TEST(RateLimiter, UnlimitedWhenTheRateIsNotPositive) {
  ManualClock clock(7);
  RateLimiter limiter(clock, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.reserve(), 7);
  EXPECT_TRUE(limiter.acquire([] { return false; }));
}

// A caller that takes permits as fast as the limiter gives them, on a manual clock moved to each
// permit's time: over 10 s it gets the rate's worth, for every rate the issue names. The old
// limiter, which reset its bucket after every sleep, gave 4,940/s for 10,000/s.
TEST(RateLimiter, AchievedRateMatchesTheSettingFrom100To1MillionPerSecond) {
  for (double rate : {100.0, 300.0, 1'000.0, 7'000.0, 10'000.0, 30'000.0, 50'000.0, 200'000.0,
                      333'333.0, 1'000'000.0}) {
    ManualClock clock(5'000);
    RateLimiter limiter(clock, rate);
    const std::int64_t end = 5'000 + 10'000;
    long long permits = 0;
    for (;;) {
      const std::int64_t at = limiter.reserve();
      if (at > end) break;
      if (at > clock.nowMs()) clock.setTime(at);
      ++permits;
    }
    // Permits at 0, 1/rate, ..., 10 s: rate x 10 + 1.
    const auto expected = static_cast<long long>(rate * 10) + 1;
    EXPECT_NEAR(static_cast<double>(permits), static_cast<double>(expected), expected * 0.001)
        << "rate " << rate;
  }
}

// Guava's smooth bursty limiter, which Spark's wraps: a second of unused permits is saved while
// the caller is idle, never more.
TEST(RateLimiter, IdleTimeSavesAtMostOneSecondOfPermits) {
  ManualClock clock(0);
  RateLimiter limiter(clock, 100);
  EXPECT_EQ(limiter.reserve(), 0);
  clock.setTime(5'000);  // idle for 5 s: 100 permits saved (one second's worth), not 500
  for (int i = 0; i < 101; ++i) ASSERT_EQ(limiter.reserve(), 5'000) << i;
  EXPECT_EQ(limiter.reserve(), 5'010);
  EXPECT_EQ(limiter.reserve(), 5'020);
}

TEST(RateLimiter, ANewRateAppliesToTheNextPermit) {
  ManualClock clock(0);
  RateLimiter limiter(clock, 100);
  EXPECT_EQ(limiter.reserve(), 0);
  EXPECT_EQ(limiter.reserve(), 10);
  limiter.setRate(1000);
  EXPECT_EQ(limiter.reserve(), 20);  // reserved at the old rate's spacing
  EXPECT_EQ(limiter.reserve(), 21);
  EXPECT_EQ(limiter.rate(), 1000);
}

// acquire() waits on the context's clock: with a manual clock that never moves, the second permit
// is only ever given up on (cancelled), however much real time passes; moving the clock gives it.
TEST(RateLimiter, AcquireWaitsForTheManualClockAndCanBeCancelled) {
  ManualClock clock(0);
  RateLimiter limiter(clock, 1000);
  std::atomic<bool> cancelled{false};
  auto cancel = [&] { return cancelled.load(); };
  EXPECT_TRUE(limiter.acquire(cancel));  // the first permit is immediate

  bool second = true;
  std::thread waiter([&] { second = limiter.acquire(cancel); });
  cancelled = true;
  clock.wakeWaiters();
  waiter.join();
  EXPECT_FALSE(second);

  cancelled = false;
  bool third = false;
  std::thread mover([&] { third = limiter.acquire(cancel); });
  clock.setTime(2);  // the third permit's time (the cancelled second one kept its slot)
  mover.join();
  EXPECT_TRUE(third);
}

// A receiver storing as fast as it can is held to maxRate on the context's (manual) clock: by
// clock time T it has stored rate x T + 1 records and no more, and stop() returns although the
// receiver is waiting for its next permit.
TEST(ReceiverMaxRate, HoldsAReceiverToTheRateOnTheContextsClock) {
  sluice::Context sc(sluice::Conf().setMaster("local[2]").setAppName("maxRate"));
  auto clock = std::make_shared<ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("spark.streaming.receiver.maxRate", "50");
  auto receiver = std::make_shared<CountingReceiver>();
  auto stream = ssc.receiverStream<int>(receiver);
  std::atomic<long long> counted{0};
  stream.foreachRDD([&](const sluice::RDD<int>& rdd) { counted += rdd.count(); });
  ssc.start();
  for (int second = 0; second <= 3; ++second) {
    ASSERT_TRUE(receiver->waitStored(50 * second + 1)) << "at " << second << " s";
    EXPECT_EQ(receiver->stored(), 50 * second + 1) << "at " << second << " s";
    clock->advance(1000);
  }
  ssc.stop(false);
  // The clock reached 4 s; the store that stop() cut short goes through without its permit.
  EXPECT_LE(receiver->stored(), 50 * 4 + 2);
}

}  // namespace
