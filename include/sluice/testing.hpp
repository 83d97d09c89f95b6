// The stream test harness: runs a DStream operation over given input batches on a manual clock,
// batch by batch, and returns what the resulting stream produced. For Sluice's tests and users'.
#pragma once

#include <chrono>
#include <mutex>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <vector>

namespace sluice::testing {

struct StreamTestOptions {
  std::chrono::milliseconds batchDuration{1000};
  int numInputPartitions = 2;
  std::string master = "local[2]";
  // Streaming settings by key, set before the context starts.
  std::vector<std::pair<std::string, std::string>> conf;
};

namespace detail {

inline constexpr std::chrono::seconds kBatchDeadline{120};

// Spark's TestInputStream: the RDD of batch k is input[k-1] whenever it is asked for, an empty
// RDD after the end of input. Indexed by batch time, so batches that no window reads (W < S) do
// not shift the later ones.
template <class T>
class TestInputNode final : public sluice::detail::DStreamNode<T>,
                            public sluice::detail::InputBase {
 public:
  TestInputNode(std::shared_ptr<sluice::detail::StreamingCore> core, std::vector<RDD<T>> batches,
                RDD<T> empty)
      : sluice::detail::DStreamNode<T>(core, core->batchDuration(), {}),
        batches_(std::move(batches)),
        empty_(std::move(empty)) {}
  int streamId() const override { return this->id(); }
  std::string inputName() const override { return "TestInputStream"; }

 protected:
  std::optional<RDD<T>> compute(Time t) override {
    const std::int64_t k = (t - this->zeroTime()).count() / this->slideDuration().count();
    if (k >= 1 && k <= static_cast<std::int64_t>(batches_.size())) {
      return batches_[static_cast<std::size_t>(k - 1)];
    }
    return empty_;
  }

 private:
  std::vector<RDD<T>> batches_;
  RDD<T> empty_;
};

template <class T>
DStream<T> testInput(Context& sc, StreamingContext& ssc, const std::vector<std::vector<T>>& input,
                     int slices) {
  std::vector<RDD<T>> rdds;
  for (const auto& batch : input) rdds.push_back(sc.parallelize(batch, slices));
  auto node = std::make_shared<TestInputNode<T>>(ssc.core(), std::move(rdds),
                                                 sc.parallelize(std::vector<T>{}, slices));
  ssc.core()->registerInput(node, node);
  return DStream<T>(node);
}

template <class Make>
auto runWith(const StreamTestOptions& options, std::size_t num_batches, Make make) {
  Context sc(options.master, "streamTest");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, options.batchDuration, clock);
  for (const auto& [key, value] : options.conf) ssc.conf().set(key, value);
  auto output = make(sc, ssc);
  using R = typename decltype(output)::value_type;
  auto results = std::make_shared<std::vector<std::vector<R>>>();
  auto mu = std::make_shared<std::mutex>();
  output.foreachRDD([results, mu](const RDD<R>& rdd) {
    auto collected = rdd.collect();
    std::lock_guard lock(*mu);
    results->push_back(std::move(collected));
  });
  ssc.start();
  for (std::size_t k = 1; k <= num_batches; ++k) {
    clock->advance(options.batchDuration.count());
    if (!ssc.core()->waitForBatch(
            Time(static_cast<std::int64_t>(k) * options.batchDuration.count()), kBatchDeadline)) {
      ssc.stop(false);
      throw Error("runStream: batch " + std::to_string(k) + " did not complete in time");
    }
    ssc.core()->rethrowError();
  }
  ssc.stop(false);
  ssc.core()->rethrowError();
  std::lock_guard lock(*mu);
  return std::move(*results);
}

}  // namespace detail

// Feeds input[k-1] to batch k (whenever batch k's input is read) as an RDD of numInputPartitions
// contiguous slices (an empty RDD after the end of input), advances a manual clock one batch at a
// time for numBatches batches, and returns the collected output of each batch in which the stream
// returned by `operation` produced an RDD, in batch order, each batch's elements in partition
// order. A failed batch's error is rethrown.
template <class T, class Op>
auto runStream(const std::vector<std::vector<T>>& input, Op operation, std::size_t numBatches,
               StreamTestOptions options = {}) {
  return detail::runWith(options, numBatches, [&](Context& sc, StreamingContext& ssc) {
    return operation(detail::testInput(sc, ssc, input, options.numInputPartitions));
  });
}

template <class T, class U, class Op>
auto runStream(const std::vector<std::vector<T>>& input1, const std::vector<std::vector<U>>& input2,
               Op operation, std::size_t numBatches, StreamTestOptions options = {}) {
  return detail::runWith(options, numBatches, [&](Context& sc, StreamingContext& ssc) {
    auto s1 = detail::testInput(sc, ssc, input1, options.numInputPartitions);
    auto s2 = detail::testInput(sc, ssc, input2, options.numInputPartitions);
    return operation(s1, s2);
  });
}

}  // namespace sluice::testing
