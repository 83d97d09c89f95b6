// Conformance tests for the stateful DStream operations, updateStateByKey and mapWithState,
// ported from the cases of Spark's BasicOperationsSuite and MapWithStateSuite
// (streaming/src/test/scala/org/apache/spark/streaming/). Every stream case runs on local[1],
// local[2] and local[4] against one expected answer; Spark compares these outputs as sets, so
// each batch is compared as a multiset (sorted).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <sluice/testing.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "streaming/stream_test_util.hpp"

namespace {

using sluice::Context;
using sluice::DStream;
using sluice::Duration;
using sluice::RDD;
using sluice::State;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::Batches;
using sluice::stream_test::runStreamWithContext;
using sluice::stream_test::sortedBatches;
using sluice::stream_test::withGaps;
using sluice::testing::runStream;
using sluice::testing::StreamTestOptions;

using Count = std::pair<std::string, int>;

auto pairWithOne() {
  return [](std::string x) { return std::pair<std::string, int>(std::move(x), 1); };
}

// The running count of Spark's updateStateByKey cases.
std::optional<int> runningCount(const std::vector<int>& values, std::optional<int> state) {
  return std::accumulate(values.begin(), values.end(), 0) + state.value_or(0);
}

class StateOperations : public sluice::stream_test::StreamTest {};

SLUICE_STATE_BACKENDS(StateOperations);

const Batches<std::string> kCountInput{{"a"}, {"a", "b"}, {"a", "b", "c"}, {"a", "b"}, {"a"}, {}};

// =============================== updateStateByKey ===============================

TEST_P(StateOperations, UpdateStateByKeyRunningCounts) {
  // The full state every batch, including keys without new values (c from batch 4 on, and
  // everything in the empty last batch).
  auto out = runStream(
      kCountInput,
      [](DStream<std::string> s) { return s.map(pairWithOne()).updateStateByKey(runningCount); }, 6,
      opts());
  Batches<Count> expected{{{"a", 1}},
                          {{"a", 2}, {"b", 1}},
                          {{"a", 3}, {"b", 2}, {"c", 1}},
                          {{"a", 4}, {"b", 3}, {"c", 1}},
                          {{"a", 5}, {"b", 3}, {"c", 1}},
                          {{"a", 5}, {"b", 3}, {"c", 1}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyCallsFunctionForEveryKeyWithState) {
  // f sees (values of this batch, previous state) for every key in either side.
  auto out = runStream(
      Batches<std::string>{{"a", "a", "b"}, {"b"}, {}},
      [](DStream<std::string> s) {
        return s.map(pairWithOne())
            .updateStateByKey([](const std::vector<int>& values,
                                 std::optional<std::string> state) -> std::optional<std::string> {
              std::string seen = state.value_or("") + "[" + std::to_string(values.size()) +
                                 (state ? "+" : "-") + "]";
              return seen;
            });
      },
      3, opts());
  Batches<std::pair<std::string, std::string>> expected{
      {{"a", "[2-]"}, {"b", "[1-]"}},
      {{"a", "[2-][0+]"}, {"b", "[1-][1+]"}},
      {{"a", "[2-][0+][0+]"}, {"b", "[1-][1+][0+]"}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyNulloptRemovesKey) {
  // A key is dropped in a batch without values for it; when it comes back it starts again from
  // no state.
  auto out = runStream(
      Batches<std::string>{{"a", "b"}, {"a"}, {}, {"b", "b"}, {"a"}},
      [](DStream<std::string> s) {
        return s.map(pairWithOne())
            .updateStateByKey(
                [](const std::vector<int>& values, std::optional<int> state) -> std::optional<int> {
                  if (values.empty()) return std::nullopt;
                  return static_cast<int>(values.size()) + state.value_or(100);
                });
      },
      6, opts());
  Batches<Count> expected{
      {{"a", 101}, {"b", 101}}, {{"a", 102}}, {}, {{"b", 102}}, {{"a", 101}}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

// Spark's "object lifecycle": a state object evicted after two batches in a row without values;
// batches without an input RDD (None) still age the states.
struct StateObject {
  int counter = 0;
  int expire_counter = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(counter, expire_counter);
  }
};

TEST_P(StateOperations, UpdateStateByKeyObjectLifecycleWithMissingBatches) {
  // Input batches at 1 s, 3 s and 4 s; no input RDD at 2 s, 5 s and 6 s.
  Batches<std::string> input{{"a", "b"}, {}, {"a", "c", "a"}, {"c"}};
  auto out = runStream(
      input,
      [](DStream<std::string> s) {
        return withGaps(s, {2000, 5000, 6000})
            .map(pairWithOne())
            .updateStateByKey([](const std::vector<int>& values,
                                 std::optional<StateObject> state) -> std::optional<StateObject> {
              StateObject obj = state.value_or(StateObject{});
              const int sum = std::accumulate(values.begin(), values.end(), 0);
              if (sum == 0) {
                ++obj.expire_counter;
              } else {
                obj.counter += sum;
                obj.expire_counter = 0;
              }
              if (obj.expire_counter == 2) return std::nullopt;
              return obj;
            })
            .mapValues([](const StateObject& obj) { return obj.counter; });
      },
      6, opts());
  Batches<Count> expected{{{"a", 1}, {"b", 1}}, {{"a", 1}, {"b", 1}}, {{"a", 3}, {"c", 1}},
                          {{"a", 3}, {"c", 2}}, {{"c", 2}},           {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyNoRDDBeforeAnyInputOrState) {
  // No previous state and no input RDD: no RDD at all, so no output for that batch.
  auto out = runStream(
      Batches<std::string>{{}, {"a"}, {"a"}},
      [](DStream<std::string> s) {
        return withGaps(s, {1000}).map(pairWithOne()).updateStateByKey(runningCount);
      },
      3, opts());
  Batches<Count> expected{{{"a", 1}}, {{"a", 2}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyWithNumPartitions) {
  // The state has the requested partition count every batch, and a key stays in its partition.
  auto out = runStream(
      kCountInput,
      [](DStream<std::string> s) {
        return s.map(pairWithOne()).updateStateByKey(runningCount, 3).glom();
      },
      6, opts());
  ASSERT_EQ(out.size(), 6u);
  Batches<Count> flat;
  std::map<std::string, std::size_t> partition_of;
  for (std::size_t b = 0; b < out.size(); ++b) {
    EXPECT_EQ(out[b].size(), 3u) << "batch " << b;
    flat.emplace_back();
    for (std::size_t p = 0; p < out[b].size(); ++p) {
      for (const auto& kv : out[b][p]) {
        flat.back().push_back(kv);
        auto it = partition_of.emplace(kv.first, p).first;
        EXPECT_EQ(it->second, p) << "key " << kv.first << " moved partition in batch " << b;
      }
    }
  }
  Batches<Count> expected{{{"a", 1}},
                          {{"a", 2}, {"b", 1}},
                          {{"a", 3}, {"b", 2}, {"c", 1}},
                          {{"a", 4}, {"b", 3}, {"c", 1}},
                          {{"a", 5}, {"b", 3}, {"c", 1}},
                          {{"a", 5}, {"b", 3}, {"c", 1}}};
  EXPECT_EQ(sortedBatches(flat), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyWithInitialRDD) {
  // Spark's "simple with initial value RDD": initial keys appear in the first output even
  // without data for them (c).
  auto out = runStreamWithContext(
      kCountInput,
      [](Context& sc, StreamingContext&, DStream<std::string> s) {
        auto initial = sc.parallelize(std::vector<Count>{{"a", 1}, {"c", 2}});
        return s.map(pairWithOne()).updateStateByKey(runningCount, 2, initial);
      },
      6, opts());
  Batches<Count> expected{{{"a", 2}, {"c", 2}},           {{"a", 3}, {"b", 1}, {"c", 2}},
                          {{"a", 4}, {"b", 2}, {"c", 3}}, {{"a", 5}, {"b", 3}, {"c", 3}},
                          {{"a", 6}, {"b", 3}, {"c", 3}}, {{"a", 6}, {"b", 3}, {"c", 3}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyWithInitialRDDAndEmptyFirstBatch) {
  Batches<std::string> input{{}, {"a"}};
  auto out = runStreamWithContext(
      input,
      [](Context& sc, StreamingContext&, DStream<std::string> s) {
        auto initial = sc.parallelize(std::vector<Count>{{"a", 10}, {"z", 5}}, 3);
        return s.map(pairWithOne()).updateStateByKey(runningCount, 4, initial);
      },
      3, opts());
  Batches<Count> expected{{{"a", 10}, {"z", 5}}, {{"a", 11}, {"z", 5}}, {{"a", 11}, {"z", 5}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyWithTime) {
  // Spark's "testing time stamps as input", without the initial RDD: the state accumulates the
  // batch times (1000, 2000, ... on the manual clock) of the batches with values for the key.
  auto out = runStream(
      kCountInput,
      [](DStream<std::string> s) {
        return s.map(pairWithOne())
            .updateStateByKeyWithTime(
                [](Time t, const std::string&, const std::vector<int>& values,
                   std::optional<long long> state) -> std::optional<long long> {
                  if (!values.empty()) return t.milliseconds() + state.value_or(0);
                  return state.value_or(0);
                });
      },
      6, opts());
  Batches<std::pair<std::string, long long>> expected{{{"a", 1000}},
                                                      {{"a", 3000}, {"b", 2000}},
                                                      {{"a", 6000}, {"b", 5000}, {"c", 3000}},
                                                      {{"a", 10000}, {"b", 9000}, {"c", 3000}},
                                                      {{"a", 15000}, {"b", 9000}, {"c", 3000}},
                                                      {{"a", 15000}, {"b", 9000}, {"c", 3000}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(StateOperations, UpdateStateByKeyWithTimeSeesKeyAndEveryBatchTime) {
  // A key with state is called at every batch, with that batch's time and its own key.
  auto out = runStream(
      Batches<std::string>{{"k"}},
      [](DStream<std::string> s) {
        return s.map(pairWithOne())
            .updateStateByKeyWithTime(
                [](Time t, const std::string& key, const std::vector<int>&,
                   std::optional<std::string> state) -> std::optional<std::string> {
                  return state.value_or(key) + ":" + std::to_string(t.milliseconds());
                });
      },
      4, opts());
  Batches<std::pair<std::string, std::string>> expected{{{"k", "k:1000"}},
                                                        {{"k", "k:1000:2000"}},
                                                        {{"k", "k:1000:2000:3000"}},
                                                        {{"k", "k:1000:2000:3000:4000"}}};
  EXPECT_EQ(out, expected);
}

// ================================= mapWithState =================================

template <class Spec>
struct SpecTypes;
template <class K, class V, class S, class M, class F>
struct SpecTypes<sluice::StateSpec<K, V, S, M, F>> {
  using Key = K;
  using Value = V;
  using StateT = S;
  using Mapped = M;
};

template <class M, class Snapshot>
struct MapWithStateRun {
  Batches<M> outputs;
  Batches<Snapshot> snapshots;
};

// Spark's MapWithStateSuite harness: input words become (word, 1), go through mapWithState with
// the spec made by `make_spec(sc)`, and both the mapped stream and stateSnapshots() are collected.
template <class MakeSpec>
auto runMapWithState(const Batches<std::string>& input, MakeSpec make_spec, std::size_t num_batches,
                     const StreamTestOptions& options) {
  using Spec = std::invoke_result_t<MakeSpec&, Context&>;
  using K = typename SpecTypes<Spec>::Key;
  using S = typename SpecTypes<Spec>::StateT;
  using M = typename SpecTypes<Spec>::Mapped;
  static_assert(std::is_same_v<K, std::string> &&
                std::is_same_v<typename SpecTypes<Spec>::Value, int>);
  auto snapshots = std::make_shared<Batches<std::pair<K, S>>>();
  auto mu = std::make_shared<std::mutex>();
  auto outputs = runStreamWithContext(
      input,
      [&](Context& sc, StreamingContext&, DStream<std::string> s) {
        auto mapped = s.map(pairWithOne()).mapWithState(make_spec(sc));
        mapped.stateSnapshots().foreachRDD([snapshots, mu](const RDD<std::pair<K, S>>& rdd) {
          auto collected = rdd.collect();
          std::lock_guard lock(*mu);
          snapshots->push_back(std::move(collected));
        });
        return mapped;
      },
      num_batches, options);
  std::lock_guard lock(*mu);
  return MapWithStateRun<M, std::pair<K, S>>{std::move(outputs), std::move(*snapshots)};
}

const Batches<std::string> kStateInput{{},         {"a"}, {"a", "b"}, {"a", "b", "c"},
                                       {"a", "b"}, {"a"}, {}};
const Batches<Count> kStateSnapshots{{},
                                     {{"a", 1}},
                                     {{"a", 2}, {"b", 1}},
                                     {{"a", 3}, {"b", 2}, {"c", 1}},
                                     {{"a", 4}, {"b", 3}, {"c", 1}},
                                     {{"a", 5}, {"b", 3}, {"c", 1}},
                                     {{"a", 5}, {"b", 3}, {"c", 1}}};

TEST_P(StateOperations, MapWithStateSimpleApi) {
  // The function's result is always emitted; the state keeps the running count.
  auto run = runMapWithState(
      kStateInput,
      [](Context&) {
        return sluice::stateSpecFunction<std::string, int, int>(
            [](const std::string&, std::optional<int> value, State<int>& state) {
              const int sum = value.value_or(0) + state.getOption().value_or(0);
              state.update(sum);
              return sum;
            });
      },
      7, opts());
  Batches<int> expected{{}, {1}, {2, 1}, {3, 2, 1}, {4, 3}, {5}, {}};
  EXPECT_EQ(sortedBatches(run.outputs), sortedBatches(expected));
  EXPECT_EQ(sortedBatches(run.snapshots), sortedBatches(kStateSnapshots));
}

TEST_P(StateOperations, MapWithStateAdvancedApi) {
  auto run = runMapWithState(
      kStateInput,
      [](Context&) {
        return sluice::stateSpecFunction<std::string, int, int>(
            [](Time, const std::string& key, std::optional<int> value,
               State<int>& state) -> std::optional<std::string> {
              state.update(value.value_or(0) + state.getOption().value_or(0));
              return key + key;
            });
      },
      7, opts());
  Batches<std::string> expected{{},     {"aa"}, {"aa", "bb"}, {"aa", "bb", "cc"}, {"aa", "bb"},
                                {"aa"}, {}};
  EXPECT_EQ(sortedBatches(run.outputs), sortedBatches(expected));
  EXPECT_EQ(sortedBatches(run.snapshots), sortedBatches(kStateSnapshots));
}

TEST_P(StateOperations, MapWithStateStatesAsMappedData) {
  auto run = runMapWithState(
      kStateInput,
      [](Context&) {
        return sluice::stateSpecFunction<std::string, int, int>(
            [](Time, const std::string& key, std::optional<int> value,
               State<int>& state) -> std::optional<Count> {
              const int sum = value.value_or(0) + state.getOption().value_or(0);
              state.update(sum);
              return Count(key, sum);
            });
      },
      7, opts());
  Batches<Count> expected{{},
                          {{"a", 1}},
                          {{"a", 2}, {"b", 1}},
                          {{"a", 3}, {"b", 2}, {"c", 1}},
                          {{"a", 4}, {"b", 3}},
                          {{"a", 5}},
                          {}};
  EXPECT_EQ(sortedBatches(run.outputs), sortedBatches(expected));
  EXPECT_EQ(sortedBatches(run.snapshots), sortedBatches(kStateSnapshots));
}

TEST_P(StateOperations, MapWithStateCallsOncePerRecordAndStateIsVisibleWithinBatch) {
  // One call per record, not per key: later records of a key in the same batch see the state the
  // earlier ones left. Keys without records produce nothing (batch 3), though their state stays.
  auto run = runMapWithState(
      Batches<std::string>{{"a", "b", "a", "a"}, {"b", "a", "b"}, {}},
      [](Context&) {
        return sluice::stateSpecFunction<std::string, int, int>(
            [](const std::string& key, std::optional<int> value, State<int>& state) {
              const int sum = *value + (state.exists() ? state.get() : 0);
              state.update(sum);
              return Count(key, sum);
            });
      },
      3, opts());
  Batches<Count> expected{
      {{"a", 1}, {"a", 2}, {"a", 3}, {"b", 1}}, {{"a", 4}, {"b", 2}, {"b", 3}}, {}};
  EXPECT_EQ(sortedBatches(run.outputs), sortedBatches(expected));
  Batches<Count> snapshots{{{"a", 3}, {"b", 1}}, {{"a", 4}, {"b", 3}}, {{"a", 4}, {"b", 3}}};
  EXPECT_EQ(sortedBatches(run.snapshots), sortedBatches(snapshots));
}

TEST_P(StateOperations, MapWithStateGetThrowsWhenUnset) {
  // State::get() without state throws UnsupportedOperationError("State is not set").
  auto run = runMapWithState(
      Batches<std::string>{{"a", "b", "a"}, {"a", "c"}},
      [](Context&) {
        return sluice::stateSpecFunction<std::string, int, int>(
            [](const std::string& key, std::optional<int> value, State<int>& state) {
              std::string seen;
              if (state.exists()) {
                seen = "state=" + std::to_string(state.get());
              } else {
                try {
                  (void)state.get();
                  seen = "no throw";
                } catch (const sluice::UnsupportedOperationError& e) {
                  seen = e.what();
                }
                if (state.getOption()) seen += " but getOption set";
              }
              state.update(state.getOption().value_or(0) + *value);
              return std::pair<std::string, std::string>(key, seen);
            });
      },
      2, opts());
  const std::string unset = "State is not set";
  Batches<std::pair<std::string, std::string>> expected{
      {{"a", unset}, {"b", unset}, {"a", "state=1"}}, {{"a", "state=2"}, {"c", unset}}};
  ASSERT_EQ(run.outputs.size(), expected.size());
  // The message may carry a prefix; match on its content.
  for (auto& batch : run.outputs) {
    for (auto& [key, seen] : batch) {
      if (seen.find(unset) != std::string::npos) seen = unset;
    }
  }
  EXPECT_EQ(sortedBatches(run.outputs), sortedBatches(expected));
}

TEST_P(StateOperations, MapWithStateInitialStateWithNothingReturned) {
  // The initial state is in the first snapshot although the first batch is empty; returning
  // std::nullopt emits nothing.
  auto run = runMapWithState(
      kStateInput,
      [](Context& sc) {
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](Time, const std::string&, std::optional<int> value,
               State<int>& state) -> std::optional<int> {
              state.update(value.value_or(0) + state.getOption().value_or(0));
              return std::nullopt;
            });
        spec.initialState(
            sc.parallelize(std::vector<Count>{{"a", 5}, {"b", 10}, {"c", -20}, {"d", 0}}));
        return spec;
      },
      7, opts());
  Batches<int> expected(7);
  EXPECT_EQ(run.outputs, expected);
  Batches<Count> snapshots{
      {{"a", 5}, {"b", 10}, {"c", -20}, {"d", 0}}, {{"a", 6}, {"b", 10}, {"c", -20}, {"d", 0}},
      {{"a", 7}, {"b", 11}, {"c", -20}, {"d", 0}}, {{"a", 8}, {"b", 12}, {"c", -19}, {"d", 0}},
      {{"a", 9}, {"b", 13}, {"c", -19}, {"d", 0}}, {{"a", 10}, {"b", 13}, {"c", -19}, {"d", 0}},
      {{"a", 10}, {"b", 13}, {"c", -19}, {"d", 0}}};
  EXPECT_EQ(sortedBatches(run.snapshots), sortedBatches(snapshots));
}

TEST_P(StateOperations, MapWithStateRemove) {
  // Spark's "state removing": a key with state is removed (and reported), one without is set.
  auto run = runMapWithState(
      Batches<std::string>{
          {}, {"a"}, {"a", "b"}, {"a", "b", "c"}, {"a", "b", "c"}, {"a", "b"}, {"a"}, {}},
      [](Context&) {
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](Time, const std::string& key, std::optional<int> value,
               State<int>& state) -> std::optional<std::string> {
              if (state.exists()) {
                state.remove();
                return key;
              }
              state.update(*value);
              return std::nullopt;
            });
        spec.numPartitions(1);
        return spec;
      },
      8, opts());
  Batches<std::string> expected{{}, {}, {"a"}, {"b"}, {"a", "c"}, {"b"}, {"a"}, {}};
  EXPECT_EQ(sortedBatches(run.outputs), sortedBatches(expected));
  Batches<Count> snapshots{{},         {{"a", 1}}, {{"b", 1}}, {{"a", 1}, {"c", 1}},
                           {{"b", 1}}, {{"a", 1}}, {},         {}};
  EXPECT_EQ(sortedBatches(run.snapshots), sortedBatches(snapshots));
}

TEST_P(StateOperations, MapWithStateRemoveIsVisibleToLaterRecordsOfTheBatch) {
  // Records of a key alternate between setting and removing its state within one batch.
  auto run = runMapWithState(
      Batches<std::string>{{"a", "a", "a"}, {"a"}},
      [](Context&) {
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](const std::string&, std::optional<int>, State<int>& state) {
              if (state.exists()) {
                state.remove();
                return std::string("removed");
              }
              state.update(7);
              return std::string("set");
            });
        spec.numPartitions(1);
        return spec;
      },
      2, opts());
  Batches<std::string> expected{{"set", "removed", "set"}, {"removed"}};
  EXPECT_EQ(run.outputs, expected);
  Batches<Count> snapshots{{{"a", 7}}, {}};
  EXPECT_EQ(run.snapshots, snapshots);
}

TEST_P(StateOperations, MapWithStateNumPartitions) {
  auto run = runMapWithState(
      Batches<std::string>{{"a", "b", "c", "d", "e"}},
      [](Context&) {
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](const std::string&, std::optional<int> value, State<int>& state) {
              state.update(*value);
              return 0;
            });
        spec.numPartitions(3);
        return spec;
      },
      1, opts());
  Batches<Count> snapshots{{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}}};
  EXPECT_EQ(sortedBatches(run.snapshots), snapshots);
  EXPECT_EQ(run.outputs, (Batches<int>{{0, 0, 0, 0, 0}}));
}

// Spark's "state timing out", with the extra check that the timing-out call comes only once the
// key has been idle longer than the timeout: (key, batch time, isTimingOut, has value, exists).
using TimeoutCall = std::tuple<std::string, std::int64_t, bool, bool, bool>;

TEST_P(StateOperations, MapWithStateTimeout) {
  Batches<std::string> input{{"a", "b", "c"}, {"a", "b"}, {"a"}, {}, {}, {"a"}};
  for (int i = 0; i < 14; ++i) input.push_back({"a"});
  auto run = runMapWithState(
      input,
      [](Context&) {
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](Time t, const std::string& key, std::optional<int> value,
               State<int>& state) -> std::optional<TimeoutCall> {
              if (value) state.update(1);
              if (!state.isTimingOut()) return std::nullopt;
              return TimeoutCall(key, t.milliseconds(), true, value.has_value(), state.exists());
            });
        spec.timeout(Duration(3000));
        return spec;
      },
      20, opts());
  ASSERT_EQ(run.outputs.size(), 20u);
  ASSERT_EQ(run.snapshots.size(), 20u);
  std::vector<TimeoutCall> calls;
  for (const auto& batch : run.outputs) calls.insert(calls.end(), batch.begin(), batch.end());
  std::sort(calls.begin(), calls.end());
  // b and c time out exactly once each, without a value, with their state still readable.
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(std::get<0>(calls[0]), "b");
  EXPECT_EQ(std::get<0>(calls[1]), "c");
  for (const auto& call : calls) {
    EXPECT_FALSE(std::get<3>(call)) << "a timing-out call has no value";
    EXPECT_TRUE(std::get<4>(call)) << "a timing-out call still sees the state";
  }
  // Last data: b at 2000, c at 1000. Idle longer than 3000 ms before the call.
  EXPECT_GT(std::get<1>(calls[0]) - 2000, 3000);
  EXPECT_GT(std::get<1>(calls[1]) - 1000, 3000);
  const std::set<Count> abc{{"a", 1}, {"b", 1}, {"c", 1}};
  EXPECT_TRUE(std::any_of(run.snapshots.begin(), run.snapshots.end(), [&](const auto& snap) {
    return std::set<Count>(snap.begin(), snap.end()) == abc;
  }));
  // Until its timing-out call a key stays in the state; afterwards it is gone.
  for (std::size_t b = 0; b < run.snapshots.size(); ++b) {
    const std::int64_t t = static_cast<std::int64_t>(b + 1) * 1000;
    std::set<std::string> keys;
    for (const auto& [k, v] : run.snapshots[b]) keys.insert(k);
    EXPECT_TRUE(keys.count("a")) << "a is never idle long enough; batch " << t;
    EXPECT_EQ(keys.count("b") == 1, t < std::get<1>(calls[0])) << "b at " << t;
    EXPECT_EQ(keys.count("c") == 1, t < std::get<1>(calls[1])) << "c at " << t;
  }
  EXPECT_EQ(std::set<Count>(run.snapshots.back().begin(), run.snapshots.back().end()),
            (std::set<Count>{{"a", 1}}));
}

TEST_P(StateOperations, MapWithStateTimeoutIsResetByDataWithoutUpdate) {
  // With a timeout, a record for a key with state makes it active again even when the function
  // does not update the state (Spark re-puts the state with the batch time).
  Batches<std::string> input{{"a", "b"}};
  for (int i = 0; i < 9; ++i) input.push_back({"a"});
  auto run = runMapWithState(
      input,
      [](Context&) {
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](Time, const std::string& key, std::optional<int>,
               State<int>& state) -> std::optional<std::string> {
              if (state.isTimingOut()) return key;
              if (!state.exists()) state.update(1);
              return std::nullopt;
            });
        spec.timeout(Duration(2000));
        return spec;
      },
      10, opts());
  std::vector<std::string> timed_out;
  for (const auto& batch : run.outputs)
    timed_out.insert(timed_out.end(), batch.begin(), batch.end());
  EXPECT_EQ(timed_out, std::vector<std::string>{"b"});
  EXPECT_EQ(run.snapshots.back(), (std::vector<Count>{{"a", 1}}));
}

// Spark's "state - get, exists, update, remove": the State handed to the mapping function.
TEST(MapWithStateState, GetExistsUpdateRemove) {
  State<int> unset(std::nullopt, false);
  EXPECT_FALSE(unset.exists());
  EXPECT_THROW((void)unset.get(), sluice::UnsupportedOperationError);
  EXPECT_EQ(unset.getOption(), std::nullopt);
  EXPECT_FALSE(unset.isTimingOut());
  EXPECT_FALSE(unset.wasUpdated());
  EXPECT_FALSE(unset.wasRemoved());

  State<int> state(1, false);
  EXPECT_TRUE(state.exists());
  EXPECT_EQ(state.get(), 1);
  EXPECT_EQ(state.getOption(), std::optional<int>(1));
  state.update(2);
  EXPECT_TRUE(state.exists());
  EXPECT_EQ(state.get(), 2);
  EXPECT_TRUE(state.wasUpdated());
  EXPECT_FALSE(state.wasRemoved());

  State<int> fresh(std::nullopt, false);
  fresh.update(2);
  EXPECT_EQ(fresh.get(), 2);
  EXPECT_TRUE(fresh.wasUpdated());
  fresh.remove();
  EXPECT_FALSE(fresh.exists());
  EXPECT_TRUE(fresh.wasRemoved());
  EXPECT_THROW((void)fresh.get(), sluice::UnsupportedOperationError);
  EXPECT_EQ(fresh.getOption(), std::nullopt);
  EXPECT_THROW(fresh.remove(), sluice::InvalidArgumentError);
  EXPECT_THROW(fresh.update(-1), sluice::InvalidArgumentError);

  State<int> timing_out(3, true);
  EXPECT_TRUE(timing_out.exists());
  EXPECT_EQ(timing_out.get(), 3);
  EXPECT_TRUE(timing_out.isTimingOut());
  EXPECT_THROW(timing_out.remove(), sluice::InvalidArgumentError);
  EXPECT_THROW(timing_out.update(-1), sluice::InvalidArgumentError);
  EXPECT_FALSE(timing_out.wasUpdated());
  EXPECT_FALSE(timing_out.wasRemoved());
}

}  // namespace
