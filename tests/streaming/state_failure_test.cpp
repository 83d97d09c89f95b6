// Failure regressions of the stateful streams' state store (sluice/streaming/state_store.hpp):
// a batch whose state computation throws surfaces its error, leaves the committed state at the
// previous batch, and the next batch applies the failed batch's records from there, so a
// transient failure loses nothing and applies nothing twice, and a persistent one fails every
// batch visibly without corrupting the state. Every output of a batch reads one computation of
// the state (no double application). The user functions fail through atomics, so each case is
// deterministic; each runs under local[1], local[2] and local[4] against answers worked out here
// with the standard library.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <sluice/testing.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "streaming/stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::DStream;
using sluice::State;
using sluice::Time;
using sluice::stream_test::Batches;
using sluice::stream_test::collectEach;
using sluice::stream_test::Collected;
using sluice::stream_test::StateParam;

using Count = std::pair<std::string, int>;
using Counts = std::map<std::string, int>;
using KV = std::pair<std::string, int>;
using Words = Batches<std::string>;

auto pairWithOne() {
  return [](std::string x) { return Count(std::move(x), 1); };
}

// The running word count after each batch: element k is the state after batch k + 1.
std::vector<Counts> runningCounts(const Words& input) {
  std::vector<Counts> out;
  Counts counts;
  for (const auto& batch : input) {
    for (const auto& w : batch) ++counts[w];
    out.push_back(counts);
  }
  return out;
}

std::vector<Count> pairs(const Counts& counts) { return {counts.begin(), counts.end()}; }

// What a running-count mapWithState emits for batch k (0-based): a key with n records after a
// count of c emits c + 1 .. c + n, in whatever order its records come.
std::vector<Count> mappedCounts(const Words& input, std::size_t k) {
  Counts before = k == 0 ? Counts{} : runningCounts(input)[k - 1];
  std::vector<Count> out;
  for (const auto& w : input[k]) out.emplace_back(w, ++before[w]);
  std::sort(out.begin(), out.end());
  return out;
}

// Records per key in one batch.
Counts recordsOf(const std::vector<std::string>& batch) {
  Counts n;
  for (const auto& w : batch) ++n[w];
  return n;
}

// Every key with the value 1.
Counts onceEach(const Counts& keys) {
  Counts out;
  for (const auto& [k, unused] : keys) out[k] = 1;
  return out;
}

template <class T>
std::vector<T> sortedBatch(const Collected<T>& c, std::int64_t t) {
  auto batch = c.batch(t);
  std::sort(batch.begin(), batch.end());
  return batch;
}

// Calls of a user function, by (batch time of the records, key). Thread-safe.
class CallLog {
 public:
  void add(Time u, const std::string& key) {
    std::lock_guard lock(mu_);
    ++calls_[u.milliseconds()][key];
  }
  // key -> calls for the records (or state) of batch u.
  Counts at(std::int64_t u) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(u);
    return it == calls_.end() ? Counts{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::int64_t, Counts> calls_;
};

// A streaming context on a ManualClock with 1 s batches, driven one batch at a time.
class Harness {
 public:
  // `param`: a master, and "/rocksdb" for the rocksdb state backend (StateParam).
  Harness(const std::string& param, const std::string& name)
      : sc_(StateParam(param).master, name),
        clock_(std::make_shared<sluice::ManualClock>()),
        ssc_(sc_, 1s, clock_) {
    StateParam(param).apply(ssc_);
  }
  ~Harness() {
    try {
      ssc_.stop(false);
    } catch (...) {
    }
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  sluice::Context& sc() { return sc_; }
  sluice::StreamingContext& ssc() { return ssc_; }
  // Runs the next batch; returns its error (the message), or none when it succeeded.
  std::optional<std::string> step() {
    if (!started_) {
      ssc_.start();
      started_ = true;
    }
    clock_->advance(1000);
    next_ms_ += 1000;
    if (!ssc_.core()->waitForBatch(Time(next_ms_), 60s)) {
      throw std::runtime_error("batch " + std::to_string(next_ms_) + " did not complete");
    }
    try {
      ssc_.core()->rethrowError();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::nullopt;
  }

 private:
  sluice::Context sc_;
  std::shared_ptr<sluice::ManualClock> clock_;
  sluice::StreamingContext ssc_;
  bool started_ = false;
  std::int64_t next_ms_ = 0;
};

bool contains(const std::optional<std::string>& error, const std::string& what) {
  return error && error->find(what) != std::string::npos;
}

class StateFailure : public ::testing::TestWithParam<std::string> {};

// ============================== updateStateByKey ==============================

const Words kWords{{"a", "a", "b"}, {"a", "b", "c"}, {"a", "b", "b", "d"}, {"a", "c"}, {"b"}, {}};

// The update of b at 3 s throws once, from a time-indexed input or a queue: batch 3 fails, its
// output is absent, and from 4 s on the state is the uninterrupted running count, batch 3's
// records counted once; the state before the failure is kept (it used to be wiped, or the
// failed update re-run without its previous state).
void checkUpdateFailsOnce(const std::string& master, bool queue) {
  Harness h(master, "updateFailsOnce");
  auto fail = std::make_shared<std::atomic<bool>>(true);
  auto calls = std::make_shared<CallLog>();
  DStream<std::string> words = queue
                                   ? h.ssc().queueStream(kWords)
                                   : sluice::testing::detail::testInput(h.sc(), h.ssc(), kWords, 2);
  auto counts =
      words.map(pairWithOne())
          .updateStateByKeyWithTime(
              [fail, calls](Time u, const std::string& key, const std::vector<int>& values,
                            std::optional<int> state) -> std::optional<int> {
                calls->add(u, key);
                if (u == Time(3000) && key == "b" && fail->exchange(false)) {
                  throw std::runtime_error("update of b failed once");
                }
                return std::accumulate(values.begin(), values.end(), state.value_or(0));
              },
              2);
  auto out = collectEach(counts);
  const auto truth = runningCounts(kWords);
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "update of b failed once")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  EXPECT_FALSE(out->hasBatch(3000));
  for (std::int64_t t : {1000, 2000, 4000, 5000, 6000}) {
    EXPECT_EQ(sortedBatch(*out, t), pairs(truth[static_cast<std::size_t>(t / 1000 - 1)]))
        << "at " << t;
  }
  // Once per key with state, per batch, except batch 3's, which batch 4 redoes.
  for (std::int64_t u : {1000, 2000, 4000, 5000, 6000}) {
    EXPECT_EQ(calls->at(u), onceEach(truth[static_cast<std::size_t>(u / 1000 - 1)])) << "at " << u;
  }
  const Counts at3 = calls->at(3000);
  EXPECT_EQ(at3.count("b") ? at3.at("b") : 0, 2);  // the call that threw, then batch 4's
  for (const auto& [key, unused] : truth[2]) {
    const int n = at3.count(key) ? at3.at(key) : 0;
    EXPECT_TRUE(n == 1 || n == 2) << key << " called " << n << " times for batch 3";
  }
}

TEST_P(StateFailure, UpdateStateByKeyFailedBatchIsCountedOnceByTheNext) {
  checkUpdateFailsOnce(GetParam(), false);
}

TEST_P(StateFailure, UpdateStateByKeyFailedBatchFromAQueueIsCountedOnceByTheNext) {
  checkUpdateFailsOnce(GetParam(), true);
}

TEST_P(StateFailure, UpdateStateByKeyRunsOnceForTwoOutputs) {
  // Two outputs read the state stream: the update function runs once per key with state per
  // batch, and both see the running count.
  Harness h(GetParam(), "updateTwoOutputs");
  auto calls = std::make_shared<CallLog>();
  auto counts = sluice::testing::detail::testInput(h.sc(), h.ssc(), kWords, 2)
                    .map(pairWithOne())
                    .updateStateByKeyWithTime(
                        [calls](Time u, const std::string& key, const std::vector<int>& values,
                                std::optional<int> state) -> std::optional<int> {
                          calls->add(u, key);
                          return std::accumulate(values.begin(), values.end(), state.value_or(0));
                        },
                        2);
  auto first = collectEach(counts);
  auto second = collectEach(counts.map([](Count kv) { return kv; }));
  for (int k = 0; k < 6; ++k) EXPECT_EQ(h.step(), std::nullopt);
  const auto truth = runningCounts(kWords);
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    const auto& expected = truth[static_cast<std::size_t>(t / 1000 - 1)];
    EXPECT_EQ(calls->at(t), onceEach(expected)) << "at " << t;
    EXPECT_EQ(sortedBatch(*first, t), pairs(expected)) << "at " << t;
    EXPECT_EQ(sortedBatch(*second, t), pairs(expected)) << "at " << t;
  }
}

TEST_P(StateFailure, UpdateStateByKeyPersistentFailureKeepsTheCommittedState) {
  // The update of "bad" throws at every batch from 3 s until the test lets it pass before 6 s:
  // batches 3 to 5 each fail and output nothing; 6 s then counts every record since 2 s once.
  const Words input{{"a", "bad"}, {"a", "b"}, {"a", "bad", "b"}, {"b", "c"}, {"a"}, {"a", "d"}, {}};
  Harness h(GetParam(), "updatePersistentFailure");
  auto failing = std::make_shared<std::atomic<bool>>(true);
  auto counts = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2)
                    .map(pairWithOne())
                    .updateStateByKeyWithTime(
                        [failing](Time u, const std::string& key, const std::vector<int>& values,
                                  std::optional<int> state) -> std::optional<int> {
                          if (key == "bad" && u >= Time(3000) && failing->load()) {
                            throw std::runtime_error("bad key at " + u.toString());
                          }
                          return std::accumulate(values.begin(), values.end(), state.value_or(0));
                        },
                        2);
  auto out = collectEach(counts);
  for (std::int64_t t = 1000; t <= 7000; t += 1000) {
    if (t == 6000) failing->store(false);
    auto error = h.step();
    if (t >= 3000 && t <= 5000) {
      EXPECT_TRUE(contains(error, "bad key at")) << "at " << t << ": " << error.value_or("none");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  const auto truth = runningCounts(input);
  EXPECT_EQ(out->times(), (std::vector<std::int64_t>{1000, 2000, 6000, 7000}));
  for (std::int64_t t : {1000, 2000, 6000, 7000}) {
    EXPECT_EQ(sortedBatch(*out, t), pairs(truth[static_cast<std::size_t>(t / 1000 - 1)]))
        << "at " << t;
  }
}

// ================================ mapWithState ================================

// A running count that emits (key, new count), failing for `bad_key` while `fail` says so.
auto countingSpec(std::shared_ptr<CallLog> calls, std::string bad_key,
                  std::function<bool(Time)> fail) {
  return sluice::stateSpecFunction<std::string, int, int>(
      [calls = std::move(calls), bad_key = std::move(bad_key), fail = std::move(fail)](
          Time u, const std::string& key, std::optional<int> value,
          State<int>& state) -> std::optional<Count> {
        calls->add(u, key);
        if (key == bad_key && fail(u)) {
          throw std::runtime_error("mapWithState of " + key + " failed at " + u.toString());
        }
        const int n = state.getOption().value_or(0) + value.value_or(0);
        state.update(n);
        return Count(key, n);
      });
}

TEST_P(StateFailure, MapWithStateFailedBatchIsAppliedByTheNext) {
  // The function throws once, for b at 3 s; the only output is stateSnapshots(). Batch 3's
  // records are applied by batch 4 (they used to be dropped) on top of the kept state.
  Harness h(GetParam(), "mapWithStateFailsOnce");
  auto fail = std::make_shared<std::atomic<bool>>(true);
  auto calls = std::make_shared<CallLog>();
  auto mapped = sluice::testing::detail::testInput(h.sc(), h.ssc(), kWords, 2)
                    .map(pairWithOne())
                    .mapWithState(countingSpec(calls, "b", [fail](Time u) {
                                    return u == Time(3000) && fail->exchange(false);
                                  }).numPartitions(2));
  auto snapshots = collectEach(mapped.stateSnapshots());
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "mapWithState of b failed at")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  const auto truth = runningCounts(kWords);
  EXPECT_EQ(snapshots->times(), (std::vector<std::int64_t>{1000, 2000, 4000, 5000, 6000}));
  for (std::int64_t t : {1000, 2000, 4000, 5000, 6000}) {
    EXPECT_EQ(sortedBatch(*snapshots, t), pairs(truth[static_cast<std::size_t>(t / 1000 - 1)]))
        << "at " << t;
  }
  // Once per record, except batch 3's, which batch 4 redoes.
  for (std::int64_t u : {1000, 2000, 4000, 5000, 6000}) {
    EXPECT_EQ(calls->at(u), recordsOf(kWords[static_cast<std::size_t>(u / 1000 - 1)]))
        << "at " << u;
  }
}

TEST_P(StateFailure, MapWithStateBatchFailingInEveryOutputIsAppliedByTheNext) {
  // The function fails for b all through batch 3 (the test clears it before batch 4), so both
  // outputs, the mapped values and the snapshots, fail at 3 s. Batch 4 applies batch 3's
  // records: its snapshot is the uninterrupted state; its mapped values are batch 4's records'.
  Harness h(GetParam(), "mapWithStateFailsBatch");
  auto failing = std::make_shared<std::atomic<bool>>(false);
  auto calls = std::make_shared<CallLog>();
  auto mapped = sluice::testing::detail::testInput(h.sc(), h.ssc(), kWords, 2)
                    .map(pairWithOne())
                    .mapWithState(countingSpec(calls, "b", [failing](Time) {
                                    return failing->load();
                                  }).numPartitions(2));
  auto values = collectEach(mapped);
  auto snapshots = collectEach(mapped.stateSnapshots());
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    failing->store(t == 3000);
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "mapWithState of b failed at")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  const auto truth = runningCounts(kWords);
  const std::vector<std::int64_t> ok{1000, 2000, 4000, 5000, 6000};
  EXPECT_EQ(snapshots->times(), ok);
  for (std::int64_t t : ok) {
    const auto k = static_cast<std::size_t>(t / 1000 - 1);
    EXPECT_EQ(sortedBatch(*snapshots, t), pairs(truth[k])) << "at " << t;
    EXPECT_EQ(sortedBatch(*values, t), mappedCounts(kWords, k)) << "at " << t;
  }
  EXPECT_FALSE(values->hasBatch(3000));
}

TEST_P(StateFailure, MapWithStateFailureInOnePartitionIsAppliedOnce) {
  // The mapped values and stateSnapshots() are both output, and the function throws once, for x
  // at 3 s, in one of two partitions. The other output recomputes the failed partition (a
  // failed compute is tried again by the next reader), so batch 3 still commits; each record
  // is applied once: every snapshot is the uninterrupted state. Either output may be first.
  const Words input{{"a", "b", "x", "c"}, {"a", "x", "d"}, {"a", "b", "x", "x", "c", "d"},
                    {"x", "a"},           {"b"},           {}};
  const int px = sluice::partitionOf(std::string("x"), 2);
  std::vector<std::string> others;  // keys in the other partition
  for (const char* k : {"a", "b", "c", "d"}) {
    if (sluice::partitionOf(std::string(k), 2) != px) others.emplace_back(k);
  }
  ASSERT_FALSE(others.empty()) << "choose keys that land in both partitions";
  const auto truth = runningCounts(input);
  for (const bool snapshots_first : {false, true}) {
    SCOPED_TRACE(snapshots_first ? "snapshots first" : "mapped values first");
    Harness h(GetParam(), "mapWithStateOnePartition");
    auto fail = std::make_shared<std::atomic<bool>>(true);
    auto calls = std::make_shared<CallLog>();
    auto mapped = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2)
                      .map(pairWithOne())
                      .mapWithState(countingSpec(calls, "x", [fail](Time u) {
                                      return u == Time(3000) && fail->exchange(false);
                                    }).numPartitions(2));
    std::shared_ptr<Collected<Count>> values, snapshots;
    if (snapshots_first) snapshots = collectEach(mapped.stateSnapshots());
    values = collectEach(mapped);
    if (!snapshots_first) snapshots = collectEach(mapped.stateSnapshots());
    for (std::int64_t t = 1000; t <= 6000; t += 1000) {
      auto error = h.step();
      if (t == 3000) {
        EXPECT_TRUE(contains(error, "mapWithState of x failed at")) << error.value_or("no error");
      } else {
        EXPECT_EQ(error, std::nullopt) << "at " << t;
      }
    }
    // The output that ran first failed at 3 s; the second read the recomputed partition.
    EXPECT_FALSE((snapshots_first ? snapshots : values)->hasBatch(3000));
    EXPECT_EQ(snapshots_first ? values->times() : snapshots->times(),
              (std::vector<std::int64_t>{1000, 2000, 3000, 4000, 5000, 6000}));
    for (std::int64_t t = 1000; t <= 6000; t += 1000) {
      const auto k = static_cast<std::size_t>(t / 1000 - 1);
      if (snapshots->hasBatch(t)) {
        EXPECT_EQ(sortedBatch(*snapshots, t), pairs(truth[k])) << "at " << t;
      }
      if (values->hasBatch(t)) {
        EXPECT_EQ(sortedBatch(*values, t), mappedCounts(input, k)) << "at " << t;
      }
    }
    EXPECT_EQ(sortedBatch(*snapshots, 6000), pairs(truth.back()));
    // Once per record outside the failed batch; x at 3 s: the call that threw, then its two
    // records; the other partition's records of 3 s are not redone by batch 4.
    for (std::int64_t u : {1000, 2000, 4000, 5000, 6000}) {
      EXPECT_EQ(calls->at(u), recordsOf(input[static_cast<std::size_t>(u / 1000 - 1)]))
          << "at " << u;
    }
    const Counts at3 = calls->at(3000);
    const Counts records3 = recordsOf(input[2]);
    EXPECT_EQ(at3.count("x") ? at3.at("x") : 0, 3);
    for (const auto& key : others) {
      const int n = at3.count(key) ? at3.at(key) : 0;
      const int records = records3.count(key) ? records3.at(key) : 0;
      // Once, or more if its task was cancelled by the failure and run again.
      EXPECT_TRUE(n >= records && n <= 2 * records) << key << ": " << n << " calls";
    }
  }
}

TEST_P(StateFailure, MapWithStateRunsOncePerRecordForTwoOutputs) {
  // No failure: the mapped values and the snapshots read one computation of each batch.
  Harness h(GetParam(), "mapWithStateTwoOutputs");
  auto calls = std::make_shared<CallLog>();
  auto mapped =
      sluice::testing::detail::testInput(h.sc(), h.ssc(), kWords, 2)
          .map(pairWithOne())
          .mapWithState(countingSpec(calls, "", [](Time) { return false; }).numPartitions(2));
  auto values = collectEach(mapped);
  auto snapshots = collectEach(mapped.stateSnapshots());
  for (int k = 0; k < 6; ++k) EXPECT_EQ(h.step(), std::nullopt);
  const auto truth = runningCounts(kWords);
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    const auto k = static_cast<std::size_t>(t / 1000 - 1);
    EXPECT_EQ(calls->at(t), recordsOf(kWords[k])) << "at " << t;
    EXPECT_EQ(sortedBatch(*snapshots, t), pairs(truth[k])) << "at " << t;
    EXPECT_EQ(sortedBatch(*values, t), mappedCounts(kWords, k)) << "at " << t;
  }
}

TEST_P(StateFailure, MapWithStatePersistentFailureKeepsTheCommittedState) {
  // The function throws for "bad" from 3 s on until the test lets it pass before 6 s. The
  // snapshots, registered first, and the mapped values fail at 3, 4 and 5 s (the stage fails,
  // so no output sees a new state); 6 s applies every record since 2 s once.
  const Words input{{"a", "bad"}, {"a", "b"}, {"a", "bad", "b"}, {"bad", "c"}, {"a", "bad"},
                    {"a", "d"},   {}};
  Harness h(GetParam(), "mapWithStatePersistentFailure");
  auto failing = std::make_shared<std::atomic<bool>>(true);
  auto calls = std::make_shared<CallLog>();
  auto mapped = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2)
                    .map(pairWithOne())
                    .mapWithState(countingSpec(calls, "bad", [failing](Time u) {
                                    return u >= Time(3000) && failing->load();
                                  }).numPartitions(2));
  auto snapshots = collectEach(mapped.stateSnapshots());
  auto values = collectEach(mapped);
  for (std::int64_t t = 1000; t <= 7000; t += 1000) {
    if (t == 6000) failing->store(false);
    auto error = h.step();
    if (t >= 3000 && t <= 5000) {
      EXPECT_TRUE(contains(error, "mapWithState of bad failed at"))
          << "at " << t << ": " << error.value_or("none");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  const auto truth = runningCounts(input);
  const std::vector<std::int64_t> ok{1000, 2000, 6000, 7000};
  EXPECT_EQ(snapshots->times(), ok);
  EXPECT_EQ(values->times(), ok);
  for (std::int64_t t : ok) {
    const auto k = static_cast<std::size_t>(t / 1000 - 1);
    EXPECT_EQ(sortedBatch(*snapshots, t), pairs(truth[k])) << "at " << t;
    EXPECT_EQ(sortedBatch(*values, t), mappedCounts(input, k)) << "at " << t;
  }
}

// A task cancelled because another task of its stage failed must not count as done: its reads
// of the input stop early without an error, so its result lacks records. Each case below stages
// that race at 3 s with two outputs reading the state: x's partition throws once, but only after
// the task of the other partition has read the first of its 20000 records of batch 3, which then
// waits for the throw (masters with 2+ threads), so the failure cancels that task midway; the
// second output recomputes x's partition, completing the version. Were the cancelled partition
// kept as done, the batch would commit without the records it had not read.
constexpr int kMany = 20000;

// Stages the race when tasks run in parallel: the failing task throws only once the other task
// has reached its gate, which then waits for the throw (each wait has a deadline).
class Race {
 public:
  explicit Race(const std::string& param) : parallel_(StateParam(param).master != "local[1]") {}
  void beforeThrow() {
    if (parallel_) waitFor(reached_);
    threw_.store(true);
  }
  // For the first caller only.
  void gate() {
    if (!parallel_ || gated_.exchange(true)) return;
    reached_.store(true);
    waitFor(threw_);
  }

 private:
  static void waitFor(const std::atomic<bool>& flag) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!flag.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }
  const bool parallel_;
  std::atomic<bool> gated_{false}, reached_{false}, threw_{false};
};

// A key that lands in the other of 2 partitions than x.
std::string otherThanX() {
  const int px = sluice::partitionOf(std::string("x"), 2);
  for (int i = 0;; ++i) {
    std::string k = "k" + std::to_string(i);
    if (sluice::partitionOf(k, 2) != px) return k;
  }
}

TEST_P(StateFailure, MapWithStateTaskCancelledByAFailureIsNotCommitted) {
  const std::string other = otherThanX();
  Words input{{"x", other}, {"x", other}, {"x"}, {"x", other}, {}};
  input[2].insert(input[2].end(), kMany, other);
  const auto truth = runningCounts(input);
  auto fail = std::make_shared<std::atomic<bool>>(true);
  auto race = std::make_shared<Race>(GetParam());
  Harness h(GetParam(), "mapWithStateCancelledTask");
  auto spec = sluice::stateSpecFunction<std::string, int, int>(
      [=](Time u, const std::string& key, std::optional<int> value,
          State<int>& state) -> std::optional<Count> {
        if (u == Time(3000) && key == "x" && fail->exchange(false)) {
          race->beforeThrow();
          throw std::runtime_error("x failed once");
        }
        if (u == Time(3000) && key == other) race->gate();
        const int n = state.getOption().value_or(0) + value.value_or(0);
        state.update(n);
        return Count(key, n);
      });
  auto mapped = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2)
                    .map(pairWithOne())
                    .mapWithState(spec.numPartitions(2));
  auto values = collectEach(mapped);
  auto snapshots = collectEach(mapped.stateSnapshots());
  for (std::int64_t t = 1000; t <= 5000; t += 1000) {
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "x failed once")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  for (std::int64_t t = 1000; t <= 5000; t += 1000) {
    const auto k = static_cast<std::size_t>(t / 1000 - 1);
    if (snapshots->hasBatch(t)) {
      EXPECT_EQ(sortedBatch(*snapshots, t), pairs(truth[k])) << "at " << t;
    }
  }
  EXPECT_EQ(sortedBatch(*snapshots, 5000), pairs(truth.back()));
}

TEST_P(StateFailure, UpdateStateByKeyTaskCancelledByAFailureIsNotCommitted) {
  // The same race for updateStateByKey, whose function runs after the task has read its input:
  // the wait is in a mapValues that the state task runs (the input is already partitioned).
  const std::string other = otherThanX();
  Batches<KV> input{{{"x", 1}, {other, 1}}, {{"x", 1}}, {{"x", 1}}, {{"x", 1}, {other, 1}}, {}};
  input[2].insert(input[2].end(), kMany, KV(other, 2));
  std::vector<Counts> truth;
  Counts sums;
  for (const auto& batch : input) {
    for (const auto& [k, v] : batch) sums[k] += v;
    truth.push_back(sums);
  }
  auto fail = std::make_shared<std::atomic<bool>>(true);
  auto race = std::make_shared<Race>(GetParam());
  Harness h(GetParam(), "updateCancelledTask");
  auto state = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2)
                   .transform([=](const sluice::RDD<KV>& rdd) {
                     return rdd.partitionBy(2).mapValues([=](int v) {
                       if (v == 2) race->gate();
                       return v;
                     });
                   })
                   .updateStateByKeyWithTime(
                       [=](Time u, const std::string& key, const std::vector<int>& values,
                           std::optional<int> s) -> std::optional<int> {
                         if (u == Time(3000) && key == "x" && fail->exchange(false)) {
                           race->beforeThrow();
                           throw std::runtime_error("x failed once");
                         }
                         return std::accumulate(values.begin(), values.end(), s.value_or(0));
                       },
                       2);
  auto first = collectEach(state);
  auto second = collectEach(state.map([](KV kv) { return kv; }));
  for (std::int64_t t = 1000; t <= 5000; t += 1000) {
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "x failed once")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  for (std::int64_t t = 1000; t <= 5000; t += 1000) {
    const auto k = static_cast<std::size_t>(t / 1000 - 1);
    for (const auto* out : {first.get(), second.get()}) {
      if (out->hasBatch(t)) EXPECT_EQ(sortedBatch(*out, t), pairs(truth[k])) << "at " << t;
    }
  }
  EXPECT_EQ(sortedBatch(*second, 5000), pairs(truth.back()));
}

// ============================ reduceByKeyAndWindow ============================

bool nonZero(const KV& kv) { return kv.second != 0; }
int minus(int a, int b) { return a - b; }

// Sums of the 2 s windows sliding by 1 s (batches t - 1 s and t), zeros dropped, sorted.
std::vector<std::vector<KV>> windowSums(const Batches<KV>& input) {
  std::vector<std::vector<KV>> out;
  for (std::size_t k = 0; k < input.size(); ++k) {
    std::map<std::string, int> sums;
    for (std::size_t j = k == 0 ? 0 : k - 1; j <= k; ++j) {
      for (const auto& [key, v] : input[j]) sums[key] += v;
    }
    std::vector<KV> window;
    for (const auto& kv : sums) {
      if (kv.second != 0) window.push_back(kv);
    }
    out.push_back(std::move(window));
  }
  return out;
}

// f throws once, at its first call with a value of 1000 or more, which `input` brings at 3 s:
// batch 3 fails and from 4 s on the windows are the sliding sums.
void checkWindowReduceFailsOnce(const std::string& master, const Batches<KV>& input) {
  Harness h(master, "windowReduceFailsOnce");
  auto fail = std::make_shared<std::atomic<bool>>(true);
  auto failing_plus = [fail](int a, int b) {
    if ((a >= 1000 || b >= 1000) && fail->exchange(false)) {
      throw std::runtime_error("reduce failed once");
    }
    return a + b;
  };
  auto in = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2);
  auto out = collectEach(in.reduceByKeyAndWindow(failing_plus, minus, 2s, 1s, 2, nonZero));
  const auto n = static_cast<std::int64_t>(input.size());
  for (std::int64_t t = 1000; t <= n * 1000; t += 1000) {
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "reduce failed once")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  EXPECT_FALSE(fail->load()) << "f was never called with the value 1000";
  EXPECT_FALSE(out->hasBatch(3000));
  const auto expected = windowSums(input);
  for (std::int64_t t = 1000; t <= n * 1000; t += 1000) {
    if (t == 3000) continue;
    EXPECT_EQ(sortedBatch(*out, t), expected[static_cast<std::size_t>(t / 1000 - 1)]) << "at " << t;
  }
}

TEST_P(StateFailure, ReduceByKeyAndWindowFailedSlideRecovers) {
  // The slide at 3 s adds a's entering 1000 to its window with f, which throws.
  checkWindowReduceFailsOnce(GetParam(), Batches<KV>{{{"a", 1}, {"b", 1}},
                                                     {{"a", 2}},
                                                     {{"a", 1000}},
                                                     {{"a", 1}, {"c", 5}},
                                                     {{"b", 2}},
                                                     {},
                                                     {}});
}

TEST_P(StateFailure, ReduceByKeyAndWindowFailedBatchReduceRecovers) {
  // Batch 3's own reduceByKey (b: 1000 and 7, in different input partitions) throws; the
  // window reads it again at 4 s.
  checkWindowReduceFailsOnce(GetParam(), Batches<KV>{{{"a", 1}, {"b", 1}},
                                                     {{"a", 2}, {"b", 3}},
                                                     {{"b", 1000}, {"b", 7}},
                                                     {{"a", 1}, {"c", 5}},
                                                     {{"b", 2}},
                                                     {},
                                                     {}});
}

TEST_P(StateFailure, ReduceByKeyAndWindowTaskCancelledByAFailureIsNotCommitted) {
  // The same race for the window: at 3 s, f throws once in x's partition, adding x's entering
  // 1000; the other partition's batch reduce (f(3, 3) for each of its keys, which come in both
  // input slices) waits at its first f until then. Two outputs read the window.
  const int px = sluice::partitionOf(std::string("x"), 2);
  std::vector<KV> many;
  for (int i = 0; static_cast<int>(many.size()) < kMany; ++i) {
    std::string k = "k" + std::to_string(i);
    if (sluice::partitionOf(k, 2) != px) many.emplace_back(std::move(k), 3);
  }
  Batches<KV> input{{{"x", 1}}, {{"x", 1}}, many, {{"x", 1}}, {}, {}};
  input[2].insert(input[2].end(), many.begin(), many.end());  // each key in both input slices
  input[2].emplace_back("x", 1000);
  auto fail = std::make_shared<std::atomic<bool>>(true);
  auto race = std::make_shared<Race>(GetParam());
  Harness h(GetParam(), "windowCancelledTask");
  auto failing_plus = [=](int a, int b) {
    if ((a >= 1000 || b >= 1000) && fail->exchange(false)) {
      race->beforeThrow();
      throw std::runtime_error("x failed once");
    }
    if (a == 3 && b == 3) race->gate();
    return a + b;
  };
  auto window = sluice::testing::detail::testInput(h.sc(), h.ssc(), input, 2)
                    .reduceByKeyAndWindow(failing_plus, minus, 2s, 1s, 2, nonZero);
  auto first = collectEach(window);
  auto second = collectEach(window.map([](KV kv) { return kv; }));
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    auto error = h.step();
    if (t == 3000) {
      EXPECT_TRUE(contains(error, "x failed once")) << error.value_or("no error");
    } else {
      EXPECT_EQ(error, std::nullopt) << "at " << t;
    }
  }
  const auto expected = windowSums(input);
  for (std::int64_t t = 1000; t <= 6000; t += 1000) {
    const auto k = static_cast<std::size_t>(t / 1000 - 1);
    for (const auto* out : {first.get(), second.get()}) {
      if (out->hasBatch(t)) {
        const auto got = sortedBatch(*out, t);
        EXPECT_EQ(got.size(), expected[k].size()) << "at " << t;
        EXPECT_TRUE(got == expected[k]) << "at " << t;
      }
    }
  }
  EXPECT_TRUE(sortedBatch(*second, 4000) == expected[3]);
  EXPECT_TRUE(sortedBatch(*second, 5000) == expected[4]);
}

SLUICE_STATE_BACKENDS(StateFailure);

}  // namespace
