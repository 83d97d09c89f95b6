// Conformance tests for the per-batch DStream operations, ported from the cases of Spark's
// BasicOperationsSuite (streaming/src/test/scala/org/apache/spark/streaming/). Every case runs on
// local[1], local[2] and local[4] against one expected answer; batches are compared in order where
// Spark compares them in order, and as multisets (each batch sorted) where Spark uses sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <sluice/testing.hpp>
#include <string>
#include <utility>
#include <vector>

#include "streaming/stream_test_util.hpp"

namespace {

using sluice::Context;
using sluice::DStream;
using sluice::Duration;
using sluice::RDD;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::Batches;
using sluice::stream_test::range;
using sluice::stream_test::runStreamWithContext;
using sluice::stream_test::sortedBatches;
using sluice::stream_test::withGaps;
using sluice::testing::runStream;
using sluice::testing::StreamTestOptions;

class BasicOperations : public sluice::stream_test::StreamTest {};

SLUICE_ALL_MASTERS(BasicOperations);

const Batches<int> kInput12{range(1, 4), range(5, 8), range(9, 12)};

// ---- element-wise operations ----

TEST_P(BasicOperations, Map) {
  auto out = runStream(
      kInput12, [](DStream<int> s) { return s.map([](int x) { return std::to_string(x); }); }, 3,
      opts());
  Batches<std::string> expected{
      {"1", "2", "3", "4"}, {"5", "6", "7", "8"}, {"9", "10", "11", "12"}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, FlatMap) {
  auto out = runStream(
      kInput12,
      [](DStream<int> s) { return s.flatMap([](int x) {
                             return std::vector<int>{x, x * 2};
                           }); }, 3,
      opts());
  Batches<int> expected{
      {1, 2, 2, 4, 3, 6, 4, 8}, {5, 10, 6, 12, 7, 14, 8, 16}, {9, 18, 10, 20, 11, 22, 12, 24}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, Filter) {
  auto out = runStream(
      kInput12, [](DStream<int> s) { return s.filter([](int x) { return x % 2 == 0; }); }, 3,
      opts());
  Batches<int> expected{{2, 4}, {6, 8}, {10, 12}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, Glom) {
  ASSERT_EQ(opts().numInputPartitions, 2);
  auto out = runStream(
      kInput12, [](DStream<int> s) { return s.glom(); }, 3, opts());
  Batches<std::vector<int>> expected{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}, {{9, 10}, {11, 12}}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, MapPartitions) {
  ASSERT_EQ(opts().numInputPartitions, 2);
  auto out = runStream(
      kInput12,
      [](DStream<int> s) {
        return s.mapPartitions([](std::vector<int>&& part) {
          return std::vector<int>{std::accumulate(part.begin(), part.end(), 0)};
        });
      },
      3, opts());
  Batches<int> expected{{3, 7}, {11, 15}, {19, 23}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

// repartition(n): exactly n partitions per batch, holding exactly the batch's elements.
void checkRepartition(const StreamTestOptions& options, int target) {
  Batches<int> input{range(1, 100), range(101, 200), range(201, 300)};
  auto out = runStream(
      input, [target](DStream<int> s) { return s.repartition(target).glom(); }, 3, options);
  ASSERT_EQ(out.size(), 3u);
  for (std::size_t b = 0; b < out.size(); ++b) {
    EXPECT_EQ(out[b].size(), static_cast<std::size_t>(target)) << "batch " << b;
    std::vector<int> all;
    for (const auto& part : out[b]) all.insert(all.end(), part.begin(), part.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, input[b]) << "batch " << b;
  }
}

TEST_P(BasicOperations, RepartitionMorePartitions) {
  auto options = opts();
  options.numInputPartitions = 2;
  checkRepartition(options, 5);
}

TEST_P(BasicOperations, RepartitionFewerPartitions) {
  auto options = opts();
  options.numInputPartitions = 5;
  checkRepartition(options, 2);
}

// ---- count, countByValue, reduce ----

TEST_P(BasicOperations, Count) {
  Batches<int> input{{}, range(1, 1), range(1, 2), range(1, 3), range(1, 4)};
  auto out = runStream(
      input, [](DStream<int> s) { return s.count(); }, 5, opts());
  Batches<long long> expected{{0}, {1}, {2}, {3}, {4}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, CountOfEmptyBatchesIsZero) {
  // Batches past the end of the input are empty RDDs: still exactly one element, 0.
  auto out = runStream(
      Batches<int>{{7, 8}}, [](DStream<int> s) { return s.count(); }, 3, opts());
  Batches<long long> expected{{2}, {0}, {0}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, CountByValue) {
  Batches<int> input{{1}, {1, 1, 1}, {1, 2}, {1, 1, 2, 2}};
  auto out = runStream(
      input, [](DStream<int> s) { return s.countByValue(); }, 4, opts());
  Batches<std::pair<int, long long>> expected{
      {{1, 1}}, {{1, 3}}, {{1, 1}, {2, 1}}, {{2, 2}, {1, 2}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, Reduce) {
  auto out = runStream(
      kInput12, [](DStream<int> s) { return s.reduce([](int a, int b) { return a + b; }); }, 3,
      opts());
  Batches<int> expected{{10}, {26}, {42}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, ReduceOfEmptyBatchIsEmpty) {
  // No identity element: an empty batch reduces to an empty RDD (the output still runs).
  Batches<int> input{range(1, 4), {}, {5}};
  auto out = runStream(
      input, [](DStream<int> s) { return s.reduce([](int a, int b) { return a + b; }); }, 4,
      opts());
  Batches<int> expected{{10}, {}, {5}, {}};
  EXPECT_EQ(out, expected);
}

// ---- transform ----

TEST_P(BasicOperations, Transform) {
  auto out = runStream(
      kInput12,
      [](DStream<int> s) {
        return s.transform(
            [](const RDD<int>& rdd) { return rdd.map([](int x) { return std::to_string(x); }); });
      },
      3, opts());
  Batches<std::string> expected{
      {"1", "2", "3", "4"}, {"5", "6", "7", "8"}, {"9", "10", "11", "12"}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, TransformWithTime) {
  auto out = runStream(
      kInput12,
      [](DStream<int> s) {
        return s.transform([](const RDD<int>& rdd, Time t) {
          const std::int64_t ms = t.milliseconds();
          return rdd.map([ms](int x) { return std::pair<std::int64_t, int>(ms, x); });
        });
      },
      3, opts());
  Batches<std::pair<std::int64_t, int>> expected{{{1000, 1}, {1000, 2}, {1000, 3}, {1000, 4}},
                                                 {{2000, 5}, {2000, 6}, {2000, 7}, {2000, 8}},
                                                 {{3000, 9}, {3000, 10}, {3000, 11}, {3000, 12}}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, TransformTimeFollowsBatchDuration) {
  auto options = opts();
  options.batchDuration = std::chrono::milliseconds(500);
  auto out = runStream(
      Batches<int>{{1}, {2}, {3}},
      [](DStream<int> s) {
        return s.transform([](const RDD<int>& rdd, Time t) {
          const std::int64_t ms = t.milliseconds();
          return rdd.map([ms](int) { return ms; });
        });
      },
      4, options);
  Batches<std::int64_t> expected{{500}, {1000}, {1500}, {}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, TransformOfNoParentRDDGivesNoRDD) {
  // PySpark's transform: no parent RDD, no RDD (so no output job) for that batch.
  Batches<int> input{range(1, 4), range(5, 8), range(9, 10)};
  auto out = runStream(
      input,
      [](DStream<int> s) {
        return withGaps(s, {2000}).transform([](const RDD<int>& rdd) {
          return rdd.map([](int x) { return std::to_string(x); });
        });
      },
      3, opts());
  Batches<std::string> expected{{"1", "2", "3", "4"}, {"9", "10"}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, TransformWith) {
  Batches<std::string> input1{{"a", "b"}, {"a", ""}, {""}, {}};
  Batches<std::string> input2{{"a", "b"}, {"b", ""}, {}, {""}};
  auto out = runStream(
      input1, input2,
      [](DStream<std::string> s1, DStream<std::string> s2) {
        auto t1 = s1.map([](std::string x) { return std::pair<std::string, int>(x, 1); });
        auto t2 = s2.map([](std::string x) { return std::pair<std::string, std::string>(x, "x"); });
        return t1.transformWith(
            t2, [](const RDD<std::pair<std::string, int>>& a,
                   const RDD<std::pair<std::string, std::string>>& b) { return a.join(b); });
      },
      4, opts());
  using E = std::pair<std::string, std::pair<int, std::string>>;
  Batches<E> expected{{{"a", {1, "x"}}, {"b", {1, "x"}}}, {{"", {1, "x"}}}, {}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, TransformWithTimeArgument) {
  auto out = runStream(
      Batches<int>{{1}, {2}}, Batches<int>{{10}, {20}},
      [](DStream<int> s1, DStream<int> s2) {
        return s1.transformWith(s2, [](const RDD<int>& a, const RDD<int>& b, Time t) {
          const int ms = static_cast<int>(t.milliseconds());
          return a.unionWith(b).map([ms](int x) { return ms + x; });
        });
      },
      2, opts());
  Batches<int> expected{{1001, 1010}, {2002, 2020}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, BinaryTransformWithNoParentRDDFails) {
  Batches<std::string> input1{{"a", "b"}, {"a", ""}, {""}};
  Batches<std::string> input2{{"a", "b"}, {"b", ""}, {}};
  EXPECT_THROW(runStream(
                   input1, input2,
                   [](DStream<std::string> s1, DStream<std::string> s2) {
                     return withGaps(s1, {4000})
                         .transformWith(withGaps(s2, {4000}),
                                        [](const RDD<std::string>& a, const RDD<std::string>& b) {
                                          return a.unionWith(b);
                                        });
                   },
                   4, opts()),
               sluice::Error);
}

// ---- union ----

TEST_P(BasicOperations, UnionWithItself) {
  Batches<int> input{range(1, 4), range(101, 104), range(201, 204)};
  auto out = runStream(
      input, [](DStream<int> s) { return s.unionWith(s.map([](int x) { return x + 4; })); }, 3,
      opts());
  Batches<int> expected{range(1, 8), range(101, 108), range(201, 208)};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, UnionOfTwoInputStreams) {
  Batches<int> input1{range(1, 4), range(101, 104), {}};
  Batches<int> input2{range(5, 8), {}, range(205, 208)};
  auto out = runStream(
      input1, input2, [](DStream<int> a, DStream<int> b) { return a.unionWith(b); }, 4, opts());
  Batches<int> expected{range(1, 8), range(101, 104), range(205, 208), {}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, UnionWithNoParentRDDFails) {
  Batches<int> input{range(1, 4), range(101, 104), range(201, 204)};
  EXPECT_THROW(runStream(
                   input,
                   [](DStream<int> s) {
                     auto g = withGaps(s, {4000});
                     return g.unionWith(g.map([](int x) { return x + 4; }));
                   },
                   4, opts()),
               sluice::Error);
}

TEST_P(BasicOperations, StreamingContextUnionAll) {
  Batches<int> input{range(1, 4), range(101, 104), range(201, 204)};
  auto out = runStreamWithContext(
      input,
      [](Context&, StreamingContext& ssc, DStream<int> s) {
        return ssc.unionAll(std::vector<DStream<int>>{s, s.map([](int x) { return x + 4; }),
                                                      s.map([](int x) { return x + 8; })});
      },
      3, opts());
  Batches<int> expected{range(1, 12), range(101, 112), range(201, 212)};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, StreamingContextTransform) {
  Batches<int> input{range(1, 4), range(101, 104), range(201, 204)};
  auto out = runStreamWithContext(
      input,
      [](Context&, StreamingContext& ssc, DStream<int> s) {
        return ssc.transform(std::vector<DStream<int>>{s, s.map([](int x) { return x + 4; }),
                                                       s.map([](int x) { return x + 8; })},
                             [](const std::vector<RDD<int>>& rdds, Time) {
                               RDD<int> all = rdds.front();
                               for (std::size_t i = 1; i < rdds.size(); ++i)
                                 all = all.unionWith(rdds[i]);
                               return all;
                             });
      },
      3, opts());
  Batches<int> expected{range(1, 12), range(101, 112), range(201, 212)};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, StreamingContextTransformPassesBatchTime) {
  auto out = runStreamWithContext(
      Batches<int>{{1, 2}, {3}},
      [](Context&, StreamingContext& ssc, DStream<int> s) {
        return ssc.transform(std::vector<DStream<int>>{s, s},
                             [](const std::vector<RDD<int>>& rdds, Time t) {
                               const std::int64_t ms = t.milliseconds();
                               const auto n = static_cast<std::int64_t>(rdds.size());
                               return rdds[0].map([ms, n](int x) { return ms + 100 * n + x; });
                             });
      },
      3, opts());
  Batches<std::int64_t> expected{{1201, 1202}, {2203}, {}};
  EXPECT_EQ(out, expected);
}

TEST_P(BasicOperations, StreamingContextTransformWithNoParentRDDFails) {
  Batches<int> input{range(1, 4), range(101, 104), range(201, 204)};
  EXPECT_THROW(
      runStreamWithContext(
          input,
          [](Context&, StreamingContext& ssc, DStream<int> s) {
            auto g = withGaps(s, {4000});
            return ssc.transform(
                std::vector<DStream<int>>{g, g.map([](int x) { return x + 4; })},
                [](const std::vector<RDD<int>>& rdds) { return rdds[0].unionWith(rdds[1]); });
          },
          4, opts()),
      sluice::Error);
}

// ---- key-value operations ----

const Batches<std::string> kWords{{"a", "a", "b"}, {"", ""}, {}};

auto pairWithOne() {
  return [](std::string x) { return std::pair<std::string, int>(std::move(x), 1); };
}

TEST_P(BasicOperations, GroupByKey) {
  auto out = runStream(
      kWords, [](DStream<std::string> s) { return s.map(pairWithOne()).groupByKey(); }, 3, opts());
  Batches<std::pair<std::string, std::vector<int>>> expected{
      {{"a", {1, 1}}, {"b", {1}}}, {{"", {1, 1}}}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, ReduceByKey) {
  auto out = runStream(
      kWords,
      [](DStream<std::string> s) {
        return s.map(pairWithOne()).reduceByKey([](int a, int b) { return a + b; });
      },
      3, opts());
  Batches<std::pair<std::string, int>> expected{{{"a", 2}, {"b", 1}}, {{"", 2}}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, ReduceByKeyWithNumPartitions) {
  auto out = runStream(
      kWords,
      [](DStream<std::string> s) {
        return s.map(pairWithOne()).reduceByKey([](int a, int b) { return a + b; }, 3).glom();
      },
      3, opts());
  Batches<std::pair<std::string, int>> flat;
  for (const auto& batch : out) {
    EXPECT_EQ(batch.size(), 3u);
    flat.emplace_back();
    for (const auto& part : batch) flat.back().insert(flat.back().end(), part.begin(), part.end());
  }
  Batches<std::pair<std::string, int>> expected{{{"a", 2}, {"b", 1}}, {{"", 2}}, {}};
  EXPECT_EQ(sortedBatches(flat), sortedBatches(expected));
}

TEST_P(BasicOperations, CombineByKey) {
  Batches<std::pair<std::string, int>> input{
      {{"a", 1}, {"b", 10}, {"a", 2}, {"a", 3}}, {{"", 5}, {"", 7}}, {}};
  auto out = runStream(
      input,
      [](DStream<std::pair<std::string, int>> s) {
        // (sum, count) per key.
        return s.combineByKey([](int v) { return std::pair<int, int>(v, 1); },
                              [](std::pair<int, int> c, int v) {
                                return std::pair<int, int>(c.first + v, c.second + 1);
                              },
                              [](std::pair<int, int> a, std::pair<int, int> b) {
                                return std::pair<int, int>(a.first + b.first, a.second + b.second);
                              });
      },
      3, opts());
  Batches<std::pair<std::string, std::pair<int, int>>> expected{
      {{"a", {6, 3}}, {"b", {10, 1}}}, {{"", {12, 2}}}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, MapValues) {
  auto out = runStream(
      kWords,
      [](DStream<std::string> s) {
        return s.map(pairWithOne())
            .reduceByKey([](int a, int b) { return a + b; })
            .mapValues([](int v) { return v + 10; });
      },
      3, opts());
  Batches<std::pair<std::string, int>> expected{{{"a", 12}, {"b", 11}}, {{"", 12}}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, FlatMapValues) {
  auto out = runStream(
      kWords,
      [](DStream<std::string> s) {
        return s.map(pairWithOne())
            .reduceByKey([](int a, int b) { return a + b; })
            .flatMapValues([](int v) {
              return std::vector<int>{v, v + 10};
            });
      },
      3, opts());
  Batches<std::pair<std::string, int>> expected{
      {{"a", 2}, {"a", 12}, {"b", 1}, {"b", 11}}, {{"", 2}, {"", 12}}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

// The two-stream inputs of Spark's join cases.
const Batches<std::string> kJoin1{{"a", "b"}, {"a", ""}, {""}, {}};
const Batches<std::string> kJoin2{{"a", "b"}, {"b", ""}, {}, {""}};

auto pairWithX() {
  return [](std::string x) { return std::pair<std::string, std::string>(std::move(x), "x"); };
}

TEST_P(BasicOperations, Join) {
  auto out = runStream(
      kJoin1, kJoin2,
      [](DStream<std::string> s1, DStream<std::string> s2) {
        return s1.map(pairWithOne()).join(s2.map(pairWithX()));
      },
      4, opts());
  using E = std::pair<std::string, std::pair<int, std::string>>;
  Batches<E> expected{{{"a", {1, "x"}}, {"b", {1, "x"}}}, {{"", {1, "x"}}}, {}, {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, JoinIsPerKeyCartesianProduct) {
  auto out = runStream(
      Batches<std::string>{{"a", "a", "b"}}, Batches<std::string>{{"a", "a", "c"}},
      [](DStream<std::string> s1, DStream<std::string> s2) {
        return s1.map(pairWithOne()).join(s2.map(pairWithX()));
      },
      1, opts());
  using E = std::pair<std::string, std::pair<int, std::string>>;
  Batches<E> expected{{{"a", {1, "x"}}, {"a", {1, "x"}}, {"a", {1, "x"}}, {"a", {1, "x"}}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, LeftOuterJoin) {
  auto out = runStream(
      kJoin1, kJoin2,
      [](DStream<std::string> s1, DStream<std::string> s2) {
        return s1.map(pairWithOne()).leftOuterJoin(s2.map(pairWithX()));
      },
      4, opts());
  using E = std::pair<std::string, std::pair<int, std::optional<std::string>>>;
  Batches<E> expected{{{"a", {1, "x"}}, {"b", {1, "x"}}},
                      {{"", {1, "x"}}, {"a", {1, std::nullopt}}},
                      {{"", {1, std::nullopt}}},
                      {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, RightOuterJoin) {
  auto out = runStream(
      kJoin1, kJoin2,
      [](DStream<std::string> s1, DStream<std::string> s2) {
        return s1.map(pairWithOne()).rightOuterJoin(s2.map(pairWithX()));
      },
      4, opts());
  using E = std::pair<std::string, std::pair<std::optional<int>, std::string>>;
  Batches<E> expected{{{"a", {1, "x"}}, {"b", {1, "x"}}},
                      {{"", {1, "x"}}, {"b", {std::nullopt, "x"}}},
                      {},
                      {{"", {std::nullopt, "x"}}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, FullOuterJoin) {
  auto out = runStream(
      kJoin1, kJoin2,
      [](DStream<std::string> s1, DStream<std::string> s2) {
        return s1.map(pairWithOne()).fullOuterJoin(s2.map(pairWithX()));
      },
      4, opts());
  using E = std::pair<std::string, std::pair<std::optional<int>, std::optional<std::string>>>;
  Batches<E> expected{{{"a", {1, "x"}}, {"b", {1, "x"}}},
                      {{"", {1, "x"}}, {"a", {1, std::nullopt}}, {"b", {std::nullopt, "x"}}},
                      {{"", {1, std::nullopt}}},
                      {{"", {std::nullopt, "x"}}}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, Cogroup) {
  Batches<std::string> input1{{"a", "a", "b"}, {"a", ""}, {""}, {}};
  Batches<std::string> input2{{"a", "a", "b"}, {"b", ""}, {}, {}};
  auto out = runStream(
      input1, input2,
      [](DStream<std::string> s1, DStream<std::string> s2) {
        return s1.map(pairWithOne()).cogroup(s2.map(pairWithX()));
      },
      4, opts());
  using G = std::pair<std::vector<int>, std::vector<std::string>>;
  using E = std::pair<std::string, G>;
  Batches<E> expected{{{"a", G{{1, 1}, {"x", "x"}}}, {"b", G{{1}, {"x"}}}},
                      {{"a", G{{1}, {}}}, {"b", G{{}, {"x"}}}, {"", G{{1}, {"x"}}}},
                      {{"", G{{1}, {}}}},
                      {}};
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

// ---- slice ----

// Spark's "slice" case, run from inside a transform at the 4th batch (the stream remembers 10 s).
// Ranges are inclusive at both ends; bounds off the batch grid are floored onto it, and times
// at or before zero time give nothing.
TEST_P(BasicOperations, Slice) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> ranges{
      {0, 1000},   {0, 2000},     {1000, 2000}, {2000, 4000}, {1500, 2500},
      {500, 4500}, {-3000, 1000}, {3000, 2000}, {2999, 2999}, {4000, 4000}};
  auto out = runStreamWithContext(
      Batches<int>{{1}, {2}, {3}, {4}},
      [&ranges](Context&, StreamingContext& ssc, DStream<int> s) {
        ssc.remember(Duration(10000));
        return s.transform([s, ranges](const RDD<int>& rdd, Time t) {
          RDD<std::pair<int, int>> tagged =
              rdd.map([](int x) { return std::pair<int, int>(-1, x); }).filter([](const auto&) {
                return false;
              });
          if (t.milliseconds() != 4000) return tagged;
          for (std::size_t i = 0; i < ranges.size(); ++i) {
            const int tag = static_cast<int>(i);
            for (const auto& r : s.slice(Time(ranges[i].first), Time(ranges[i].second))) {
              tagged =
                  tagged.unionWith(r.map([tag](int x) { return std::pair<int, int>(tag, x); }));
            }
          }
          return tagged;
        });
      },
      4, opts());
  // clang-format off
  Batches<std::pair<int, int>> expected{
      {},
      {},
      {},
      {{0, 1},
       {1, 1}, {1, 2},
       {2, 1}, {2, 2},
       {3, 2}, {3, 3}, {3, 4},
       {4, 1}, {4, 2},  // [1500, 2500] is aligned to [1000, 2000]
       {5, 1}, {5, 2}, {5, 3}, {5, 4},
       {6, 1},
       // [3000, 2000]: nothing
       {8, 2},  // [2999, 2999] is aligned to [2000, 2000]
       {9, 4}}};
  // clang-format on
  EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
}

TEST_P(BasicOperations, SliceBeforeStartThrows) {
  Context sc(GetParam(), "sliceBeforeStart");
  StreamingContext ssc(sc, Duration(1000), std::make_shared<sluice::ManualClock>());
  auto stream = ssc.queueStream(Batches<int>{{1}, {2}, {3}, {4}});
  try {
    stream.slice(Time(0), Time(1000));
    FAIL() << "slice before start did not throw";
  } catch (const sluice::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has not been initialized"), std::string::npos)
        << e.what();
  }
}

// ---- cache / persist ----

TEST_P(BasicOperations, CacheAndPersistDoNotChangeResults) {
  auto op = [](bool cached) {
    return [cached](DStream<int> s) {
      auto doubled = s.map([](int x) { return x * 2; });
      auto pairs = doubled.map([](int x) { return std::pair<int, int>(x % 3, x); });
      if (cached) {
        doubled.cache();
        pairs.persist();
      }
      auto sums = pairs.reduceByKey([](int a, int b) { return a + b; });
      return doubled.map([](int x) { return std::pair<int, int>(-1, x); })
          .unionWith(sums)
          .unionWith(pairs);
    };
  };
  auto plain = runStream(kInput12, op(false), 4, opts());
  auto cached = runStream(kInput12, op(true), 4, opts());
  using E = std::pair<int, int>;
  // clang-format off
  Batches<E> expected{
      {{-1, 2}, {-1, 4}, {-1, 6}, {-1, 8},
       {2, 2}, {1, 4}, {0, 6}, {2, 8},  // pairs
       {0, 6}, {1, 4}, {2, 10}},        // sums
      {{-1, 10}, {-1, 12}, {-1, 14}, {-1, 16},
       {1, 10}, {0, 12}, {2, 14}, {1, 16},
       {0, 12}, {1, 26}, {2, 14}},
      {{-1, 18}, {-1, 20}, {-1, 22}, {-1, 24},
       {0, 18}, {2, 20}, {1, 22}, {0, 24},
       {0, 42}, {1, 22}, {2, 20}},
      {}};
  // clang-format on
  EXPECT_EQ(sortedBatches(plain), sortedBatches(expected));
  EXPECT_EQ(sortedBatches(cached), sortedBatches(expected));
}

TEST_P(BasicOperations, PersistedStreamFeedingTwoOutputsKeepsOrder) {
  auto out = runStream(
      kInput12,
      [](DStream<int> s) {
        auto m = s.map([](int x) { return x + 100; });
        m.persist();
        return m.unionWith(m.filter([](int x) { return x % 2 == 1; }));
      },
      3, opts());
  Batches<int> expected{{101, 102, 103, 104, 101, 103},
                        {105, 106, 107, 108, 105, 107},
                        {109, 110, 111, 112, 109, 111}};
  EXPECT_EQ(out, expected);
}

}  // namespace
