// Received blocks belong to the batch during which they arrived, whether or not an output reads the
// receiver's stream at that batch (Spark's allocateBlocksToBatch).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>
#include <sluice/streaming.hpp>

#include "core/listener_bus.hpp"
#include "core/test_util.hpp"
#include "stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;

using PushReceiver = sluice::stream_test::PushReceiver<int>;

class ReceiverBatches : public ::testing::TestWithParam<std::string> {};

TEST_P(ReceiverBatches, WindowsOverReceivedDataOverlapAsSparks) {
  sluice::Context sc(GetParam(), "receiverBatches");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  auto receiver = std::make_shared<PushReceiver>();
  std::mutex mu;
  std::vector<std::vector<int>> windows;
  // Only the window reads the stream, and only every second batch.
  ssc.receiverStream<int>(receiver).window(3s, 2s).foreachRDD([&](const sluice::RDD<int>& rdd) {
    auto v = rdd.collect();
    std::sort(v.begin(), v.end());
    std::lock_guard lock(mu);
    windows.push_back(v);
  });
  ssc.start();
  for (int k = 1; k <= 6; ++k) {
    receiver->store(std::vector<int>{k});  // stored when this returns: part of batch k
    clock->advance(1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(k * 1000), std::chrono::seconds(60)));
  }
  ssc.stop(false);
  std::vector<std::vector<int>> expected{{1, 2}, {2, 3, 4}, {4, 5, 6}};
  EXPECT_EQ(windows, expected);
}

// Records the batch infos of submitted and completed batches.
class BatchRecorder final : public sluice::StreamingListener {
 public:
  void onBatchSubmitted(const sluice::BatchInfo& info) override {
    std::lock_guard lock(mu_);
    submitted_.push_back(info);
    cv_.notify_all();
  }
  void onBatchCompleted(const sluice::BatchInfo& info) override {
    std::lock_guard lock(mu_);
    completed_.push_back(info);
  }
  bool waitSubmitted(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, [&] { return submitted_.size() >= n; });
  }
  std::vector<sluice::BatchInfo> completed() {
    std::lock_guard lock(mu_);
    return completed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sluice::BatchInfo> submitted_;
  std::vector<sluice::BatchInfo> completed_;
};

// Holds every batch in its output operation until released, so that the batches after the first
// queue behind it; the test knows when the first one is running.
class Gate {
 public:
  void pass() {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  bool waitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 60s, [&] { return entered_; });
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

// Spark's job generator allocates the received blocks at each batch time, on its timer, and the
// batches queue behind a slow one: data belongs to the batch of the time it arrived, however
// late that batch runs, and the batch's scheduling delay is the time it waited in the queue.
// (Sluice used to hand a receiver's data to a batch when the batch started running: here batch 2
// took 2 and 3, and batch 3 nothing, with a scheduling delay of 0.)
TEST_P(ReceiverBatches, DataBelongsToTheBatchOfItsArrivalWhileEarlierBatchesRun) {
  sluice::Context sc(GetParam(), "receiverBatchTime");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  auto receiver = std::make_shared<PushReceiver>();
  auto recorder = std::make_shared<BatchRecorder>();
  ssc.addStreamingListener(recorder);
  Gate gate;
  std::mutex mu;
  std::map<std::int64_t, std::vector<int>> batches;
  ssc.receiverStream<int>(receiver).foreachRDD([&](const sluice::RDD<int>& rdd, sluice::Time t) {
    auto v = rdd.collect();
    std::sort(v.begin(), v.end());
    {
      std::lock_guard lock(mu);
      batches[t.milliseconds()] = v;
    }
    // The first batch is slow: it runs until the clock has passed two more batch times.
    gate.pass();
  });
  ssc.start();
  for (int k = 1; k <= 3; ++k) {
    receiver->store(std::vector<int>{k});
    clock->advance(1000);
    ASSERT_TRUE(recorder->waitSubmitted(static_cast<std::size_t>(k)));  // batch k allocated
    if (k == 1) ASSERT_TRUE(gate.waitEntered());  // batch 1 runs at 1 s, before the clock moves
  }
  gate.release();
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(3000), std::chrono::seconds(60)));
  ssc.stop(false);
  std::map<std::int64_t, std::vector<int>> expected{{1000, {1}}, {2000, {2}}, {3000, {3}}};
  EXPECT_EQ(batches, expected);
  ASSERT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(60s));
  auto completed = recorder->completed();
  ASSERT_EQ(completed.size(), 3u);
  for (const auto& info : completed) {
    EXPECT_EQ(info.submission_time_ms, info.batch_time.milliseconds());
    EXPECT_EQ(info.stream_id_to_num_records.begin()->second, 1);
  }
  // Batches 2 and 3 waited in the queue until the clock reached 3 s and batch 1 was released.
  EXPECT_EQ(completed[0].schedulingDelay(), 0);
  EXPECT_EQ(completed[1].schedulingDelay(), 1000);
  EXPECT_EQ(completed[2].schedulingDelay(), 0);
}

// A job slower than its input logs a warning once batches start more than 5 intervals late.
TEST_P(ReceiverBatches, QueueingBatchesAreWarnedAbout) {
  sluice::Context sc(GetParam(), "receiverDelayWarning");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  auto receiver = std::make_shared<PushReceiver>();
  auto recorder = std::make_shared<BatchRecorder>();
  ssc.addStreamingListener(recorder);
  Gate gate;
  ssc.receiverStream<int>(receiver).foreachRDD([&](const sluice::RDD<int>& rdd) {
    rdd.count();
    gate.pass();
  });
  ::testing::internal::CaptureStderr();
  ssc.start();
  for (int k = 1; k <= 8; ++k) {
    clock->advance(1000);
    ASSERT_TRUE(recorder->waitSubmitted(static_cast<std::size_t>(k)));
    // Batch 1 runs on time (so only the queued ones are late) before the clock moves on.
    if (k == 1) ASSERT_TRUE(gate.waitEntered());
  }
  gate.release();
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(8000), std::chrono::seconds(60)));
  ssc.stop(false);
  const std::string err = ::testing::internal::GetCapturedStderr();
  // Batch 1 ran at 1 s, batch 2 starts at 8 s: 6 intervals late.
  EXPECT_NE(err.find("Batch 2000 ms starts 6000 ms after its batch time (6 batch intervals)"),
            std::string::npos)
      << err;
  // Not repeated for the later batches, whose delays shrink (until it doubles).
  EXPECT_EQ(err.find("Batch 3000 ms starts"), std::string::npos) << err;
  EXPECT_EQ(err.find("Batch 1000 ms starts"), std::string::npos) << err;
}

// An input whose allocation throws at its second batch (a bug, or no memory): the error surfaces
// from awaitTermination, as a failed batch's would, instead of ending the process from the
// generator thread, and the batches go on.
class ThrowingInput final : public sluice::detail::DStreamNode<int>,
                            public sluice::detail::InputBase {
 public:
  explicit ThrowingInput(std::shared_ptr<sluice::detail::StreamingCore> core)
      : DStreamNode<int>(core, core->batchDuration(), {}) {}
  int streamId() const override { return id(); }
  std::string inputName() const override { return "ThrowingInput"; }
  void allocateBatch(sluice::Time t) override {
    if (t.milliseconds() == 2000) throw std::runtime_error("allocation failed");
  }

 protected:
  std::optional<sluice::RDD<int>> compute(sluice::Time t) override {
    return core().context().fromPartitions(
        std::vector<std::vector<int>>{{static_cast<int>(t.milliseconds())}});
  }
};

TEST_P(ReceiverBatches, AnInputThatThrowsWhileAllocatingFailsTheJobNotTheProcess) {
  sluice::Context sc(GetParam(), "throwingInput");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  auto input = std::make_shared<ThrowingInput>(ssc.core());
  ssc.core()->registerInput(input, input);
  std::mutex mu;
  std::vector<int> seen;
  sluice::DStream<int>(input).foreachRDD([&](const sluice::RDD<int>& rdd) {
    auto v = rdd.collect();
    std::lock_guard lock(mu);
    seen.insert(seen.end(), v.begin(), v.end());
  });
  ::testing::internal::CaptureStderr();
  ssc.start();
  for (int k = 1; k <= 3; ++k) {
    clock->advance(1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(k * 1000), std::chrono::seconds(60)));
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  try {
    ssc.awaitTerminationOrTimeout(sluice::Duration(0));
    ADD_FAILURE() << "the allocation error did not surface";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "allocation failed");
  }
  ssc.stop(false);
  EXPECT_NE(err.find("Error allocating the input of ThrowingInput to batch 2000 ms"),
            std::string::npos)
      << err;
  EXPECT_EQ(seen, (std::vector<int>{1000, 2000, 3000}));
}

SLUICE_ALL_MASTERS(ReceiverBatches);

}  // namespace
