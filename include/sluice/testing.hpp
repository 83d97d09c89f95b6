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
};

namespace detail {

inline constexpr std::chrono::seconds kBatchDeadline{120};

template <class T>
std::deque<RDD<T>> inputQueue(Context& sc, const std::vector<std::vector<T>>& input, int slices) {
  std::deque<RDD<T>> queue;
  for (const auto& batch : input) queue.push_back(sc.parallelize(batch, slices));
  return queue;
}

template <class Make>
auto runWith(const StreamTestOptions& options, std::size_t num_batches, Make make) {
  Context sc(options.master, "streamTest");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, options.batchDuration, clock);
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

// Feeds input[k-1] to batch k as an RDD of numInputPartitions contiguous slices (an empty RDD after
// the end of input), advances a manual clock one batch at a time for numBatches batches, and
// returns the collected output of each batch in which the stream returned by `operation` produced
// an RDD, in batch order, each batch's elements in partition order. A failed batch's error is
// rethrown.
template <class T, class Op>
auto runStream(const std::vector<std::vector<T>>& input, Op operation, std::size_t numBatches,
               StreamTestOptions options = {}) {
  return detail::runWith(options, numBatches, [&](Context& sc, StreamingContext& ssc) {
    auto stream = ssc.queueStream(
        detail::inputQueue(sc, input, options.numInputPartitions), true,
        std::optional(sc.parallelize(std::vector<T>{}, options.numInputPartitions)));
    return operation(stream);
  });
}

template <class T, class U, class Op>
auto runStream(const std::vector<std::vector<T>>& input1, const std::vector<std::vector<U>>& input2,
               Op operation, std::size_t numBatches, StreamTestOptions options = {}) {
  return detail::runWith(options, numBatches, [&](Context& sc, StreamingContext& ssc) {
    auto s1 = ssc.queueStream(
        detail::inputQueue(sc, input1, options.numInputPartitions), true,
        std::optional(sc.parallelize(std::vector<T>{}, options.numInputPartitions)));
    auto s2 = ssc.queueStream(
        detail::inputQueue(sc, input2, options.numInputPartitions), true,
        std::optional(sc.parallelize(std::vector<U>{}, options.numInputPartitions)));
    return operation(s1, s2);
  });
}

}  // namespace sluice::testing
