// spark.streaming.backpressure.enabled on the manual clock.
// - A source twice as fast as the job: it offers 2 records per millisecond and the job's output
//   operation takes 1 ms of clock time per record. With backpressure the rate each batch may
//   take follows what the job processes, and batches run on time again once the estimator has
//   settled; without it every batch starts later than the one before, and a warning says so.
//   The source is a pull source, as a direct Kafka or Redis stream: what a batch may not take
//   waits in the source.
// - A receiver: it starts at backpressure.initialRate, and the estimator's rate reaches its
//   limiter.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sluice/streaming.hpp>
#include <sluice/testing.hpp>
#include <string>
#include <vector>

#include "core/listener_bus.hpp"
#include "counting_receiver.hpp"
#include "streaming/rate_estimator.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::ManualClock;
using sluice::Time;

// Offers 2 records per millisecond of batch time; a batch takes what is on offer, at most the
// rate backpressure set times the batch interval.
class PullSource final : public sluice::detail::DStreamNode<int>,
                         public sluice::detail::InputBase {
 public:
  explicit PullSource(std::shared_ptr<sluice::detail::StreamingCore> core)
      : DStreamNode<int>(core, core->batchDuration(), {}) {}
  int streamId() const override { return id(); }
  std::string inputName() const override { return "PullSource"; }
  void stopInput(bool) override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  void updateRateLimit(double records_per_second) override {
    std::lock_guard lock(mu_);
    rate_ = records_per_second;
  }
  void allocateBatch(Time t) override {
    std::lock_guard lock(mu_);
    const long long offered = 2 * t.milliseconds() - taken_;
    long long n = offered;
    if (rate_) n = std::min(n, static_cast<long long>(std::floor(*rate_)));  // 1 s batches
    taken_ += n;
    batches_[t] = n;
    allocated_through_ = t;
    core().reportInputRecords(t, id(), n);
    cv_.notify_all();
  }
  // Blocks until the batches up to t are allocated. A batch that moved the clock waits for this
  // before it completes, so the batches queued behind it were allocated with the rate known
  // before its completion updated it, as in Spark, whatever the threads' timing.
  void waitAllocated(Time t) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || allocated_through_ >= t; });
  }

 protected:
  std::optional<sluice::RDD<int>> compute(Time t) override {
    long long n = 0;
    {
      std::lock_guard lock(mu_);
      if (auto it = batches_.find(t); it != batches_.end()) n = it->second;
    }
    return core().context().fromPartitions(
        std::vector<std::vector<int>>{std::vector<int>(static_cast<std::size_t>(n), 0)});
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  Time allocated_through_;
  std::optional<double> rate_;
  long long taken_ = 0;
  std::map<Time, long long> batches_;
};

struct Batch {
  std::int64_t time;
  long long records;
  std::int64_t late;  // scheduling delay
};

class Batches final : public sluice::StreamingListener {
 public:
  void onBatchCompleted(const sluice::BatchInfo& info) override {
    std::lock_guard lock(mu_);
    batches_.push_back({info.batch_time.milliseconds(), info.numRecords(),
                        info.schedulingDelay().value_or(0)});
  }
  std::vector<Batch> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::vector<Batch> batches_;
};

// Runs until the clock passes 60 s; returns the completed batches.
std::vector<Batch> run(bool backpressure, std::string* log) {
  sluice::Context sc("local[2]", "backpressure");
  auto clock = std::make_shared<ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  if (backpressure) ssc.conf().set("spark.streaming.backpressure.enabled", "true");
  auto batches = std::make_shared<Batches>();
  ssc.addStreamingListener(batches);
  auto source = std::make_shared<PullSource>(ssc.core());
  ssc.core()->registerInput(source, source);
  sluice::DStream<int>(source).foreachRDD([&](const sluice::RDD<int>& rdd) {
    clock->advance(rdd.count());
    source->waitAllocated(Time(clock->nowMs() / 1000 * 1000));
  });
  ::testing::internal::CaptureStderr();
  ssc.start();
  while (clock->nowMs() < 60'000) {
    // Every batch due by now completes (their processing moves the clock further); when the
    // clock stayed put, the job is idle and the clock moves to the next batch time.
    const std::int64_t due = clock->nowMs() / 1000 * 1000;
    if (due > 0 && !ssc.core()->waitForBatch(Time(due), 60s)) {
      ADD_FAILURE() << "batch " << due << " did not complete";
      break;
    }
    if (clock->nowMs() / 1000 * 1000 == due) clock->setTime(due + 1000);
  }
  ssc.stop(false);
  *log = ::testing::internal::GetCapturedStderr();
  sc.runtime()->listenerBus().waitUntilEmpty(60s);
  return batches->batches();
}

std::string describe(const std::vector<Batch>& batches) {
  std::string s;
  for (const auto& b : batches) {
    s += std::to_string(b.time) + ": " + std::to_string(b.records) + " records, waited " +
         std::to_string(b.late) + " ms\n";
  }
  return s;
}

TEST(Backpressure, KeepsBatchesOnTimeWithASourceTwiceAsFastAsTheJob) {
  std::string log;
  const auto batches = run(true, &log);
  ASSERT_GT(batches.size(), 30u) << describe(batches);
  // Once the estimator has settled (20 s; the delay peaks at about 5 intervals), no batch waits
  // for more than one interval, and none takes more than the job can process in 1.2 intervals:
  // the backlog stays in the source.
  for (const auto& b : batches) {
    if (b.time <= 20'000) continue;
    EXPECT_LE(b.late, 1000) << describe(batches);
    EXPECT_LE(b.records, 1200) << describe(batches);
  }
  // And the job keeps working at its capacity: the last 20 batches took about 1000 records each.
  long long last20 = 0;
  for (std::size_t i = batches.size() - 20; i < batches.size(); ++i) last20 += batches[i].records;
  EXPECT_GE(last20, 20 * 900) << describe(batches);
  EXPECT_EQ(log.find("batches are queueing"), std::string::npos) << log;
}

TEST(Backpressure, WithoutItBatchesQueueEverLaterAndAWarningSaysSo) {
  std::string log;
  const auto batches = run(false, &log);
  ASSERT_GT(batches.size(), 10u) << describe(batches);
  // Each second brings 2 s of processing: the batches start ever later (the manual clock moves
  // a whole batch's processing at once, so the delay grows 2 s every second batch).
  for (std::size_t i = 2; i < batches.size(); ++i) {
    EXPECT_GE(batches[i].late, batches[i - 2].late + 2000) << describe(batches);
  }
  EXPECT_GT(batches.back().late, 10'000) << describe(batches);
  EXPECT_NE(log.find("batches are queueing"), std::string::npos) << log;
}

class BatchInfos final : public sluice::StreamingListener {
 public:
  void onBatchCompleted(const sluice::BatchInfo& info) override {
    std::lock_guard lock(mu_);
    infos_.push_back(info);
  }
  std::vector<sluice::BatchInfo> infos() {
    std::lock_guard lock(mu_);
    return infos_;
  }

 private:
  std::mutex mu_;
  std::vector<sluice::BatchInfo> infos_;
};

// Receivers: the first rate bound is initialRate; then the estimate from the completed batches
// (which depends on how the receiver's records fell into batches, so the test computes it from
// the batches it observed) bounds the receiver.
TEST(Backpressure, ReceiversStartAtTheInitialRateAndFollowTheEstimate) {
  sluice::Context sc("local[2]", "receiverBackpressure");
  auto clock = std::make_shared<ManualClock>();
  // Declared before the context: an assertion that returns early stops the context (and its
  // batch thread, which uses this) first.
  std::atomic<int> slow_batches{4};
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("spark.streaming.backpressure.enabled", "true");
  ssc.conf().set("spark.streaming.backpressure.initialRate", "50");
  ssc.conf().set("spark.streaming.backpressure.pid.minRate", "5");
  auto infos = std::make_shared<BatchInfos>();
  ssc.addStreamingListener(infos);
  auto receiver = std::make_shared<sluice::stream_test::CountingReceiver>();
  ssc.receiverStream<int>(receiver).foreachRDD([&](const sluice::RDD<int>& rdd) {
    // The first 4 batches with records take 5 s each: the job processes about 10 records/s. The
    // later ones take no time, which leaves the estimate where it is.
    if (rdd.count() > 0 && slow_batches > 0) {
      clock->advance(5000);
      --slow_batches;  // after the clock moved: the test reads the clock once this is 0
    }
  });
  ssc.start();
  // initialRate: the free first permit at 0 ms (once the receiver runs), then one every 20 ms.
  ASSERT_TRUE(receiver->waitStored(1));
  EXPECT_EQ(receiver->stored(), 1);
  clock->setTime(999);
  ASSERT_TRUE(receiver->waitStored(50));
  EXPECT_EQ(receiver->stored(), 50);
  while (slow_batches > 0) {
    // As in run(): the batches due complete, and an idle job gets the next batch time.
    const std::int64_t due = clock->nowMs() / 1000 * 1000;
    ASSERT_TRUE(due == 0 || ssc.core()->waitForBatch(Time(due), 60s));
    if (clock->nowMs() / 1000 * 1000 == due) clock->setTime(due + 1000);
  }
  const std::int64_t settled = clock->nowMs() / 1000 * 1000;
  ASSERT_TRUE(ssc.core()->waitForBatch(Time(settled), 60s));
  ASSERT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(60s));
  std::optional<double> rate;
  sluice::detail::PidRateEstimator estimator(1000, 1.0, 0.2, 0.0, 5);
  std::string batches;  // in a failure's message: how the records fell into batches
  for (const auto& info : infos->infos()) {
    if (auto r = estimator.compute(*info.processing_end_time_ms, info.numRecords(),
                                   info.processingDelay().value_or(0),
                                   info.schedulingDelay().value_or(0))) {
      rate = r;
    }
    batches += fmt::format(" [{} ms: {} records, processing {} ms, scheduling {} ms, rate {}]",
                           info.batch_time.milliseconds(), info.numRecords(),
                           info.processingDelay().value_or(0), info.schedulingDelay().value_or(0),
                           rate.value_or(-1));
  }
  SCOPED_TRACE("batches:" + batches);
  ASSERT_TRUE(rate.has_value());
  ASSERT_LT(*rate, 25.0);
  const long long before = receiver->stored();
  SCOPED_TRACE(fmt::format("rate {}, {} records stored before the 10 s", *rate, before));
  // A receiver that wakes up late keeps at most a second of unused permits: the clock moves on
  // once it has taken most of the second's.
  long long taken_by_now = before;
  for (int second = 1; second <= 10; ++second) {
    clock->setTime(settled + second * 1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(Time(settled + second * 1000), 60s));
    taken_by_now += static_cast<long long>(std::floor(*rate)) - 1;
    ASSERT_TRUE(receiver->waitStored(taken_by_now)) << receiver->stored() - before;
  }
  // 10 s at the estimated rate, give or take the permits the receiver had not used yet at
  // either end (at most one second's) and the one it may have taken but not yet counted when
  // `before` was read; at initialRate it would have been 500. The receiver
  // thread may still be taking its permits: wait for the lower bound, then check the upper one.
  const auto lowest = static_cast<long long>(std::floor(10 * *rate - *rate - 1));
  EXPECT_TRUE(receiver->waitStored(before + lowest)) << receiver->stored() - before;
  const long long stored = receiver->stored() - before;
  ssc.stop(false);
  EXPECT_LE(static_cast<double>(stored), 10 * *rate + *rate + 2);
}

}  // namespace
