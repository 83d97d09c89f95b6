// Shared helpers for the streaming tests: batch lists and their multiset view, a stream with
// gaps (Spark's `null` input batches), a runStream that also hands over the contexts, a fixture
// parameterized by master, and what the ManualClock-driven tests collect.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sluice/streaming.hpp>
#include <sluice/testing.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"
#include "temp_dir.hpp"

namespace sluice::stream_test {

using sluice::testing::StreamTestOptions;

// One vector of elements per batch.
template <class T>
using Batches = std::vector<std::vector<T>>;

// Each batch sorted: the multiset view of a stream's output (batches stay in order).
template <class T>
Batches<T> sortedBatches(Batches<T> batches) {
  for (auto& batch : batches) std::sort(batch.begin(), batch.end());
  return batches;
}

// [from, to], like Scala's `from to to`.
inline std::vector<int> range(int from, int to) {
  std::vector<int> v;
  for (int i = from; i <= to; ++i) v.push_back(i);
  return v;
}

// Like runStream, but `operation(sc, ssc, stream)` also gets the Context (to build initial RDDs)
// and the StreamingContext (for ssc.transform, ssc.unionAll and ssc.remember).
template <class T, class Op>
auto runStreamWithContext(const Batches<T>& input, Op operation, std::size_t num_batches,
                          const StreamTestOptions& options) {
  namespace td = sluice::testing::detail;
  return td::runWith(options, num_batches, [&](Context& sc, StreamingContext& ssc) {
    auto stream = td::testInput(sc, ssc, input, options.numInputPartitions);
    return operation(sc, ssc, stream);
  });
}

// A stream that has no RDD (None in Spark) at the given batch times and passes its parent's RDD
// through otherwise: the `null` input batches of Spark's TestInputStream. The parent is not asked
// for an RDD at a gap, so a queue input is not consumed there.
template <class T>
class GapNode final : public sluice::detail::DStreamNode<T> {
 public:
  GapNode(sluice::detail::DStreamNodePtr<T> parent, std::set<std::int64_t> gaps_ms)
      : sluice::detail::DStreamNode<T>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)),
        gaps_ms_(std::move(gaps_ms)) {}

 protected:
  std::optional<RDD<T>> compute(Time t) override {
    if (gaps_ms_.count(t.milliseconds()) != 0) return std::nullopt;
    return parent_->getOrCompute(t);
  }

 private:
  sluice::detail::DStreamNodePtr<T> parent_;
  std::set<std::int64_t> gaps_ms_;
};

template <class T>
DStream<T> withGaps(const DStream<T>& stream, std::set<std::int64_t> gaps_ms) {
  return DStream<T>(std::make_shared<GapNode<T>>(stream.node(), std::move(gaps_ms)));
}

// A test parameter of the stateful suites: a master, and "/rocksdb" after it to keep the state in
// the rocksdb state backend.
struct StateParam {
  explicit StateParam(const std::string& param) {
    const auto slash = param.find('/');
    master = param.substr(0, slash);
    if (slash != std::string::npos) backend = param.substr(slash + 1);
  }
  void apply(StreamingContext& ssc) const {
    ssc.conf().set("sluice.streaming.stateBackend", backend);
  }

  std::string master;
  std::string backend = "memory";
};

// The masters, each with the memory and the rocksdb state backend.
inline auto stateBackendParams() {
  return ::testing::Values("local[1]", "local[2]", "local[4]", "local[1]/rocksdb",
                           "local[2]/rocksdb", "local[4]/rocksdb");
}

// A fixture parameterized by master (instantiate with SLUICE_ALL_MASTERS, or with
// SLUICE_STATE_BACKENDS for a StateParam); opts() are the runStream options for it.
class StreamTest : public ::testing::TestWithParam<std::string> {
 protected:
  StreamTestOptions opts(int input_partitions = 2,
                         std::chrono::milliseconds batch = std::chrono::milliseconds(1000)) const {
    const StateParam param(GetParam());
    return StreamTestOptions{.batchDuration = batch,
                             .numInputPartitions = input_partitions,
                             .master = param.master,
                             .conf = {{"sluice.streaming.stateBackend", param.backend}}};
  }
};

#define SLUICE_STATE_BACKENDS(Suite)                                                     \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::sluice::stream_test::stateBackendParams(), \
                           ::sluice::testing_util::masterName)

// The masters of the tests with receivers, which need a thread besides the receiver's.
inline auto receiverMasters() {
  return ::testing::Values(std::string("local[2]"), std::string("local[4]"));
}

using sluice::testing_util::TempDir;

// What an output operation saw: every batch's collected RDD, by batch time.
template <class T>
struct Collected {
  mutable std::mutex mu;
  std::map<std::int64_t, std::vector<T>> by_batch;
  int calls = 0;

  void add(Time t, std::vector<T> values) {
    std::lock_guard lock(mu);
    ++calls;
    auto& slot = by_batch[t.milliseconds()];
    slot.insert(slot.end(), values.begin(), values.end());
  }
  std::vector<T> all() const {
    std::lock_guard lock(mu);
    std::vector<T> out;
    for (const auto& [t, v] : by_batch) out.insert(out.end(), v.begin(), v.end());
    return out;
  }
  std::size_t size() const {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const auto& [t, v] : by_batch) n += v.size();
    return n;
  }
  std::vector<std::int64_t> times() const {
    std::lock_guard lock(mu);
    std::vector<std::int64_t> out;
    for (const auto& [t, v] : by_batch) out.push_back(t);
    return out;
  }
  bool hasBatch(std::int64_t t) const {
    std::lock_guard lock(mu);
    return by_batch.contains(t);
  }
  std::vector<T> batch(std::int64_t t) const {
    std::lock_guard lock(mu);
    auto it = by_batch.find(t);
    return it == by_batch.end() ? std::vector<T>{} : it->second;
  }
  int numCalls() const {
    std::lock_guard lock(mu);
    return calls;
  }
};

// Collects every batch of `stream` (an output operation).
template <class T>
std::shared_ptr<Collected<T>> collectEach(const DStream<T>& stream) {
  auto c = std::make_shared<Collected<T>>();
  stream.foreachRDD([c](const RDD<T>& rdd, Time t) { c->add(t, rdd.collect()); });
  return c;
}

// A receiver fed by the test itself: it calls store() on it directly.
template <class T>
class PushReceiver final : public Receiver<T> {
 public:
  void onStart() override {}
  void onStop() override {}
};

}  // namespace sluice::stream_test

// Instantiates a suite parameterized by master for the masters of receiverMasters().
#define SLUICE_RECEIVER_MASTERS(Suite)                                               \
  INSTANTIATE_TEST_SUITE_P(Masters, Suite, ::sluice::stream_test::receiverMasters(), \
                           ::sluice::testing_util::masterName)
