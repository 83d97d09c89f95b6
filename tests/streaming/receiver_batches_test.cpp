// Received blocks belong to the batch during which they arrived, whether or not an output reads the
// receiver's stream at that batch (Spark's allocateBlocksToBatch).
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <sluice/streaming.hpp>

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

SLUICE_ALL_MASTERS(ReceiverBatches);

}  // namespace
