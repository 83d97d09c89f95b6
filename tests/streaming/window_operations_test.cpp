// Conformance tests for the window operations of DStream (sluice/streaming/window.hpp):
// window, countByWindow, reduceByWindow, reduceByKeyAndWindow (naive and incremental),
// countByValueAndWindow and groupByKeyAndWindow. Expected outputs are Spark Streaming's (the cases
// of its WindowOperationsSuite, plus extra ones worked out from the same time model): the window
// at time t covers the parent batches in (t - W, t], outputs appear at zeroTime + k*S, and the
// first windows are partial. Every test runs under local[1], local[2] and local[4]; each batch is
// compared as a sorted multiset (one test also checks the time order of window()).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sluice/testing.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "streaming/stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::DStream;
using sluice::stream_test::Batches;
using sluice::stream_test::sortedBatches;
using sluice::testing::runStream;

using KV = std::pair<std::string, int>;
using IntBatches = Batches<int>;
using KVBatches = Batches<KV>;

// For groupByKeyAndWindow: values as multisets, then the batch as a multiset.
template <class K, class V>
Batches<std::pair<K, std::vector<V>>> normalizeGroups(
    Batches<std::pair<K, std::vector<V>>> batches) {
  for (auto& b : batches) {
    for (auto& kv : b) std::sort(kv.second.begin(), kv.second.end());
  }
  return sortedBatches(std::move(batches));
}

int plus(int a, int b) { return a + b; }
int minus(int a, int b) { return a - b; }
bool nonZero(const KV& kv) { return kv.second != 0; }

// Number of batches to run so that `outputs` slides happen (Spark's numBatches).
std::size_t batchesFor(std::size_t outputs, std::chrono::milliseconds slide,
                       std::chrono::milliseconds batch = 1000ms) {
  return outputs * static_cast<std::size_t>(slide / batch);
}

// clang-format off
// Inputs shared by several of Spark's cases.
const IntBatches kSixInts{{0}, {1}, {2}, {3}, {4}, {5}};

const KVBatches kLargerSlideInput{{{"a", 1}}, {{"a", 2}}, {{"a", 3}}, {{"a", 4}},
                                  {{"a", 5}}, {{"a", 6}}, {},         {}};
const KVBatches kLargerSlideReduceOutput{{{"a", 3}}, {{"a", 10}}, {{"a", 18}}, {{"a", 11}}};

const KVBatches kBigInput{
    {{"a", 1}},
    {{"a", 1}, {"b", 1}},
    {{"a", 1}, {"b", 1}, {"c", 1}},
    {{"a", 1}, {"b", 1}},
    {{"a", 1}},
    {},
    {{"a", 1}},
    {{"a", 1}, {"b", 1}},
    {{"a", 1}, {"b", 1}, {"c", 1}},
    {{"a", 1}, {"b", 1}},
    {{"a", 1}},
    {},
};

// W = 2 s, S = 1 s, naive (and inverse with a non-zero filter).
const KVBatches kBigReduceOutput{
    {{"a", 1}},
    {{"a", 2}, {"b", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 1}},
    {{"a", 1}},
    {{"a", 1}},
    {{"a", 2}, {"b", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 1}},
    {{"a", 1}},
};

// The same with the inverse function and no filter: keys that went back to 0 stay.
const KVBatches kBigReduceInvOutput{
    {{"a", 1}},
    {{"a", 2}, {"b", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 1}, {"c", 0}},
    {{"a", 1}, {"b", 0}, {"c", 0}},
    {{"a", 1}, {"b", 0}, {"c", 0}},
    {{"a", 2}, {"b", 1}, {"c", 0}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 2}, {"c", 1}},
    {{"a", 2}, {"b", 1}, {"c", 0}},
    {{"a", 1}, {"b", 0}, {"c", 0}},
};
// clang-format on

class WindowOperations : public sluice::stream_test::StreamTest {
 protected:
  // window(W, S) over `input`, run for expected.size() slides, compared batch by batch.
  void checkWindow(const IntBatches& input, const IntBatches& expected,
                   std::chrono::milliseconds window, std::chrono::milliseconds slide,
                   int input_partitions = 2) const {
    auto op = [&](DStream<int> s) { return s.window(window, slide); };
    const std::size_t n = batchesFor(expected.size(), slide);
    auto out = runStream(input, op, n, opts(input_partitions));
    EXPECT_EQ(sortedBatches(out), sortedBatches(expected))
        << "window(" << window.count() << " ms, " << slide.count() << " ms)";
  }

  void checkNaive(const KVBatches& input, const KVBatches& expected,
                  std::chrono::milliseconds window = 2000ms,
                  std::chrono::milliseconds slide = 1000ms) const {
    auto op = [&](DStream<KV> s) { return s.reduceByKeyAndWindow(plus, window, slide); };
    const std::size_t n = batchesFor(expected.size(), slide);
    auto out = runStream(input, op, n, opts());
    EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
  }

  void checkInverse(const KVBatches& input, const KVBatches& expected,
                    std::chrono::milliseconds window = 2000ms,
                    std::chrono::milliseconds slide = 1000ms,
                    std::function<bool(const KV&)> filter = nullptr) const {
    auto out = runStream(
        input,
        [&](DStream<KV> s) {
          return s.reduceByKeyAndWindow(plus, minus, window, slide, -1, filter);
        },
        batchesFor(expected.size(), slide), opts());
    EXPECT_EQ(sortedBatches(out), sortedBatches(expected));
  }

  // Runs `make_stream` and expects construction to throw InvalidArgumentError with Spark's text.
  template <class Make>
  void expectDurationError(Make make_stream, const std::string& which) const {
    try {
      runStream(IntBatches{{1}}, make_stream, 1, opts());
      ADD_FAILURE() << "expected InvalidArgumentError (" << which << ")";
    } catch (const sluice::InvalidArgumentError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("must be a multiple of the slide duration of parent DStream"),
                std::string::npos)
          << message;
      EXPECT_NE(message.find("The " + which + " duration of"), std::string::npos) << message;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// window
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, WindowBasic) {
  // W = 2 s, S = 1 s: the first window (t = 1 s) holds only batch 1.
  checkWindow(kSixInts, {{0}, {0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}, 2000ms, 1000ms);
}

TEST_P(WindowOperations, WindowDefaultSlideIsParentSlide) {
  auto out = runStream(
      kSixInts, [](DStream<int> s) { return s.window(2s); }, 6, opts());
  EXPECT_EQ(sortedBatches(out),
            sortedBatches(IntBatches{{0}, {0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}));
}

TEST_P(WindowOperations, WindowThreeSecondsSlideOne) {
  // The window keeps running past the end of the input until it is empty.
  checkWindow(kSixInts, {{0}, {0, 1}, {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5}, {5}, {}},
              3000ms, 1000ms);
}

TEST_P(WindowOperations, WindowThreeSecondsSlideTwo) {
  // Outputs only at t = 2, 4, 6, 8 s (aligned to zero time): (0,2], (1,4], (3,6], (5,8].
  checkWindow(kSixInts, {{0, 1}, {1, 2, 3}, {3, 4, 5}, {5}}, 3000ms, 2000ms);
}

TEST_P(WindowOperations, WindowTumbling) {
  checkWindow(kSixInts, {{0, 1}, {2, 3}, {4, 5}}, 2000ms, 2000ms);
  checkWindow(kSixInts, {{0, 1, 2}, {3, 4, 5}, {}}, 3000ms, 3000ms, 3);
}

TEST_P(WindowOperations, WindowLarger) {
  // Spark's "larger window": W = 4 s, S = 2 s.
  checkWindow(kSixInts, {{0, 1}, {0, 1, 2, 3}, {2, 3, 4, 5}, {4, 5}}, 4000ms, 2000ms);
}

TEST_P(WindowOperations, WindowNonOverlapping) {
  // Spark's "non-overlapping window": W = 2 s, S = 3 s; batches 1 and 4 belong to no window.
  checkWindow(kSixInts, {{1, 2}, {4, 5}}, 2000ms, 3000ms);
  // Spread over one input partition and over more partitions than elements.
  checkWindow(kSixInts, {{1, 2}, {4, 5}, {}}, 2000ms, 3000ms, 1);
  checkWindow(kSixInts, {{1, 2}, {4, 5}, {}}, 2000ms, 3000ms, 4);
}

TEST_P(WindowOperations, WindowNonOverlappingSkipsUnreadBatches) {
  // Batches 1 and 4 lie in no window and are never read; later windows still see their own data.
  auto out = runStream(
      kSixInts, [](DStream<int> s) { return s.window(2s, 3s); }, 6, opts());
  EXPECT_EQ(sortedBatches(out), sortedBatches(IntBatches{{1, 2}, {4, 5}}));
}

TEST_P(WindowOperations, WindowEmptyWindowsGiveEmptyRDDs) {
  // Every slide produces an RDD, empty when nothing is in the window (also before any data).
  const IntBatches input{{}, {7}, {}, {}, {}, {8, 9}, {}};
  checkWindow(input, {{}, {7}, {7}, {}, {}, {8, 9}, {8, 9}, {}}, 2000ms, 1000ms);
  checkWindow(input, {{7}, {}, {8, 9}, {}}, 2000ms, 2000ms);
  checkWindow(IntBatches{}, {{}, {}, {}}, 3000ms, 1000ms);
}

TEST_P(WindowOperations, WindowSubSecondBatches) {
  // B = 500 ms, W = 1500 ms, S = 1000 ms: outputs at 1000, 2000, 3000 ms.
  auto out = runStream(
      kSixInts, [](DStream<int> s) { return s.window(1500ms, 1000ms); }, 6, opts(2, 500ms));
  EXPECT_EQ(sortedBatches(out), sortedBatches(IntBatches{{0, 1}, {1, 2, 3}, {3, 4, 5}}));
}

TEST_P(WindowOperations, WindowOfWindow) {
  // The outer window's parent slide is the inner window's slide (2 s).
  auto out = runStream(
      kSixInts, [](DStream<int> s) { return s.window(2s, 2s).window(4s, 2s); }, 8, opts());
  EXPECT_EQ(sortedBatches(out),
            sortedBatches(IntBatches{{0, 1}, {0, 1, 2, 3}, {2, 3, 4, 5}, {4, 5}}));
}

TEST_P(WindowOperations, WindowElementsInTimeOrder) {
  // Spark's window is sc.union of the parent RDDs: older batches first.
  auto out = runStream(
      IntBatches{{1, 2}, {3, 4, 5}, {6}}, [](DStream<int> s) { return s.window(3s, 1s); }, 4,
      opts(2));
  EXPECT_EQ(out, (IntBatches{{1, 2}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6}, {3, 4, 5, 6}}));
}

// ---------------------------------------------------------------------------------------------
// Duration rule
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, WindowDurationsMustBeMultiplesOfParentSlide) {
  expectDurationError([](DStream<int> s) { return s.window(1500ms); }, "window");
  expectDurationError([](DStream<int> s) { return s.window(3s, 1500ms); }, "slide");
  expectDurationError([](DStream<int> s) { return s.window(2500ms, 1s); }, "window");
  // The parent of a windowed stream slides by its own slide, not by the batch duration.
  expectDurationError([](DStream<int> s) { return s.window(2s, 2s).window(3s, 2s); }, "window");
  expectDurationError([](DStream<int> s) { return s.window(2s, 2s).window(4s, 3s); }, "slide");
}

TEST_P(WindowOperations, ReductionDurationsMustBeMultiplesOfParentSlide) {
  auto kv = [](DStream<int> s) { return s.map([](int x) { return KV("k", x); }); };
  expectDurationError([&](DStream<int> s) { return kv(s).reduceByKeyAndWindow(plus, 1500ms, 1s); },
                      "window");
  expectDurationError([&](DStream<int> s) { return kv(s).reduceByKeyAndWindow(plus, 2s, 500ms); },
                      "slide");
  expectDurationError(
      [&](DStream<int> s) { return kv(s).reduceByKeyAndWindow(plus, minus, 1500ms, 1s); },
      "window");
  expectDurationError(
      [&](DStream<int> s) { return kv(s).reduceByKeyAndWindow(plus, minus, 2s, 1500ms); }, "slide");
  expectDurationError([](DStream<int> s) { return s.countByWindow(2500ms, 1s); }, "window");
  expectDurationError([](DStream<int> s) { return s.countByWindow(2s, 1200ms); }, "slide");
  expectDurationError([](DStream<int> s) { return s.reduceByWindow(plus, 2500ms, 1s); }, "window");
  expectDurationError([](DStream<int> s) { return s.reduceByWindow(plus, minus, 2s, 700ms); },
                      "slide");
  expectDurationError([](DStream<int> s) { return s.countByValueAndWindow(1800ms, 1s); }, "window");
  expectDurationError([&](DStream<int> s) { return kv(s).groupByKeyAndWindow(2s, 1500ms); },
                      "slide");
}

// ---------------------------------------------------------------------------------------------
// countByWindow and reduceByWindow
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, CountByWindow) {
  // Spark's "countByWindow": once a count exists it keeps being emitted, 0 included.
  const IntBatches input{{1}, {1}, {1, 2}, {0}, {}, {}};
  auto out = runStream(
      input, [](DStream<int> s) { return s.countByWindow(2s, 1s); }, 6, opts());
  EXPECT_EQ(sortedBatches(out),
            (std::vector<std::vector<long long>>{{1}, {2}, {3}, {3}, {1}, {0}}));
}

TEST_P(WindowOperations, CountByWindowEmptyBeforeFirstData) {
  const IntBatches input{{}, {}, {5}, {}, {}, {6, 6}};
  auto out = runStream(
      input, [](DStream<int> s) { return s.countByWindow(2s, 1s); }, 8, opts());
  EXPECT_EQ(out, (std::vector<std::vector<long long>>{{}, {}, {1}, {1}, {0}, {2}, {2}, {0}}));
  // W = 4 s, S = 2 s: outputs at 2, 4, 6, 8, 10 s.
  auto slid = runStream(
      input, [](DStream<int> s) { return s.countByWindow(4s, 2s); }, 10, opts());
  EXPECT_EQ(slid, (std::vector<std::vector<long long>>{{}, {1}, {3}, {2}, {0}}));
}

TEST_P(WindowOperations, ReduceByWindow) {
  // reduce(f).window(W, S).reduce(f): one element per non-empty window, empty RDD otherwise.
  const IntBatches input{{1}, {2, 3}, {4}, {}, {}, {}, {10, 20}};
  auto out = runStream(
      input, [](DStream<int> s) { return s.reduceByWindow(plus, 2s, 1s); }, 8, opts());
  EXPECT_EQ(out, (IntBatches{{1}, {6}, {9}, {4}, {}, {}, {30}, {30}}));

  auto slid = runStream(
      input, [](DStream<int> s) { return s.reduceByWindow(plus, 3s, 2s); }, 10, opts());
  // Outputs at 2, 4, 6, 8, 10 s over (0,2], (1,4], (3,6], (5,8], (7,10].
  EXPECT_EQ(slid, (IntBatches{{6}, {9}, {}, {30}, {}}));

  // Another associative f: max.
  auto max = runStream(
      input,
      [](DStream<int> s) {
        return s.reduceByWindow([](int a, int b) { return std::max(a, b); }, 2s, 1s);
      },
      8, opts(3));
  EXPECT_EQ(max, (IntBatches{{1}, {3}, {4}, {4}, {}, {}, {20}, {20}}));
}

TEST_P(WindowOperations, ReduceByWindowWithInverse) {
  // Incremental: once the window has had a value, it keeps one (0 here) even when empty.
  const IntBatches input{{1}, {2, 3}, {4}, {}, {}, {}, {10, 20}};
  auto out = runStream(
      input, [](DStream<int> s) { return s.reduceByWindow(plus, minus, 2s, 1s); }, 8, opts());
  EXPECT_EQ(out, (IntBatches{{1}, {6}, {9}, {4}, {0}, {0}, {30}, {30}}));

  auto slid = runStream(
      input, [](DStream<int> s) { return s.reduceByWindow(plus, minus, 3s, 2s); }, 10, opts());
  EXPECT_EQ(slid, (IntBatches{{6}, {9}, {0}, {30}, {0}}));

  // Nothing before the first value.
  auto late = runStream(
      IntBatches{{}, {}, {5}}, [](DStream<int> s) { return s.reduceByWindow(plus, minus, 2s, 1s); },
      5, opts());
  EXPECT_EQ(late, (IntBatches{{}, {}, {5}, {5}, {0}}));
}

// ---------------------------------------------------------------------------------------------
// reduceByKeyAndWindow, naive
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, NaiveBasicReduction) { checkNaive({{{"a", 1}, {"a", 3}}}, {{{"a", 4}}}); }

TEST_P(WindowOperations, NaiveKeyAlreadyInWindowAndNewValueAdded) {
  checkNaive({{{"a", 1}}, {{"a", 1}}}, {{{"a", 1}}, {{"a", 2}}});
}

TEST_P(WindowOperations, NaiveNewKeyAddedIntoWindow) {
  checkNaive({{{"a", 1}}, {{"a", 1}, {"b", 1}}}, {{{"a", 1}}, {{"a", 2}, {"b", 1}}});
}

TEST_P(WindowOperations, NaiveKeyRemovedFromWindow) {
  // The naive form forgets a key that left the window: the last window is empty.
  checkNaive({{{"a", 1}}, {{"a", 1}}, {}, {}}, {{{"a", 1}}, {{"a", 2}}, {{"a", 1}}, {}});
}

TEST_P(WindowOperations, NaiveLargerSlideTime) {
  checkNaive(kLargerSlideInput, kLargerSlideReduceOutput, 4000ms, 2000ms);
}

TEST_P(WindowOperations, NaiveBigTest) { checkNaive(kBigInput, kBigReduceOutput); }

TEST_P(WindowOperations, NaiveDefaultSlide) {
  auto out = runStream(
      kBigInput, [](DStream<KV> s) { return s.reduceByKeyAndWindow(plus, 2s); }, 12, opts());
  EXPECT_EQ(sortedBatches(out), sortedBatches(kBigReduceOutput));
}

TEST_P(WindowOperations, NaiveWithNumPartitions) {
  auto out = runStream(
      kBigInput, [](DStream<KV> s) { return s.reduceByKeyAndWindow(plus, 2s, 1s, 3).glom(); }, 12,
      opts());
  ASSERT_EQ(out.size(), kBigReduceOutput.size());
  KVBatches flat;
  for (auto& batch : out) {
    EXPECT_EQ(batch.size(), 3u) << "partitions per window";
    flat.emplace_back();
    for (auto& part : batch) flat.back().insert(flat.back().end(), part.begin(), part.end());
  }
  EXPECT_EQ(sortedBatches(flat), sortedBatches(kBigReduceOutput));
}

// ---------------------------------------------------------------------------------------------
// reduceByKeyAndWindow with an inverse function
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, InverseBasicReduction) {
  checkInverse({{{"a", 1}, {"a", 3}}}, {{{"a", 4}}});
}

TEST_P(WindowOperations, InverseKeyAlreadyInWindowAndNewValueAdded) {
  checkInverse({{{"a", 1}}, {{"a", 1}}}, {{{"a", 1}}, {{"a", 2}}});
}

TEST_P(WindowOperations, InverseNewKeyAddedIntoWindow) {
  checkInverse({{{"a", 1}}, {{"a", 1}, {"b", 1}}}, {{{"a", 1}}, {{"a", 2}, {"b", 1}}});
}

TEST_P(WindowOperations, InverseKeyRemovedFromWindow) {
  // Unlike the naive form, the key stays with the inverse's identity value.
  checkInverse({{{"a", 1}}, {{"a", 1}}, {}, {}}, {{{"a", 1}}, {{"a", 2}}, {{"a", 1}}, {{"a", 0}}});
  // With a filter it disappears, as in the naive form.
  checkInverse({{{"a", 1}}, {{"a", 1}}, {}, {}}, {{{"a", 1}}, {{"a", 2}}, {{"a", 1}}, {}}, 2000ms,
               1000ms, nonZero);
}

TEST_P(WindowOperations, InverseLargerSlideTime) {
  checkInverse(kLargerSlideInput, kLargerSlideReduceOutput, 4000ms, 2000ms);
}

TEST_P(WindowOperations, InverseBigTest) { checkInverse(kBigInput, kBigReduceInvOutput); }

TEST_P(WindowOperations, InverseWithFilterBigTest) {
  checkInverse(kBigInput, kBigReduceOutput, 2000ms, 1000ms, nonZero);
}

TEST_P(WindowOperations, InverseDefaultSlide) {
  auto out = runStream(
      kBigInput, [](DStream<KV> s) { return s.reduceByKeyAndWindow(plus, minus, 2s); }, 12, opts());
  EXPECT_EQ(sortedBatches(out), sortedBatches(kBigReduceInvOutput));
}

TEST_P(WindowOperations, InverseWithNumPartitionsAndFilter) {
  for (int partitions : {1, 3}) {
    auto out = runStream(
        kBigInput,
        [&](DStream<KV> s) {
          return s.reduceByKeyAndWindow(plus, minus, 2s, 1s, partitions, nonZero).glom();
        },
        12, opts());
    ASSERT_EQ(out.size(), kBigReduceOutput.size());
    KVBatches flat;
    for (auto& batch : out) {
      EXPECT_EQ(batch.size(), static_cast<std::size_t>(partitions)) << "partitions per window";
      flat.emplace_back();
      for (auto& part : batch) flat.back().insert(flat.back().end(), part.begin(), part.end());
    }
    EXPECT_EQ(sortedBatches(flat), sortedBatches(kBigReduceOutput)) << partitions << " partitions";
  }
}

TEST_P(WindowOperations, NaiveNonOverlappingWindow) {
  // W < S: batches 1 and 4 belong to no window. (The incremental form is not checked here: with
  // W < S Spark's own ReducedWindowedDStream counts batch 1 into its first window.)
  const KVBatches input{{{"a", 1}}, {{"a", 2}}, {{"b", 3}}, {{"a", 4}}, {{"a", 5}}, {{"b", 6}}};
  checkNaive(input, {{{"a", 2}, {"b", 3}}, {{"a", 5}, {"b", 6}}, {}}, 2000ms, 3000ms);
}

// ---------------------------------------------------------------------------------------------
// countByValueAndWindow and groupByKeyAndWindow
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, CountByValueAndWindow) {
  using SC = std::pair<std::string, long long>;
  const std::vector<std::vector<std::string>> input{{"a"}, {"b", "b"}, {"a", "b"}};
  auto out = runStream(
      input, [](DStream<std::string> s) { return s.countByValueAndWindow(2s, 1s); }, 3, opts());
  EXPECT_EQ(sortedBatches(out),
            (std::vector<std::vector<SC>>{{{"a", 1}}, {{"a", 1}, {"b", 2}}, {{"a", 1}, {"b", 3}}}));
}

TEST_P(WindowOperations, CountByValueAndWindowNeverEmitsZero) {
  using SC = std::pair<std::string, long long>;
  const std::vector<std::vector<std::string>> input{{"a"}, {"b", "b"}, {"a", "b"}, {}, {"c"}};
  auto out = runStream(
      input, [](DStream<std::string> s) { return s.countByValueAndWindow(2s, 1s, 3).glom(); }, 7,
      opts());
  const std::vector<std::vector<SC>> expected{{{"a", 1}},
                                              {{"a", 1}, {"b", 2}},
                                              {{"a", 1}, {"b", 3}},
                                              {{"a", 1}, {"b", 1}},
                                              {{"c", 1}},
                                              {{"c", 1}},
                                              {}};
  ASSERT_EQ(out.size(), expected.size());
  std::vector<std::vector<SC>> flat;
  for (auto& batch : out) {
    EXPECT_EQ(batch.size(), 3u) << "partitions per window";
    flat.emplace_back();
    for (auto& part : batch) flat.back().insert(flat.back().end(), part.begin(), part.end());
  }
  EXPECT_EQ(sortedBatches(flat), expected);
}

TEST_P(WindowOperations, GroupByKeyAndWindow) {
  using G = std::pair<std::string, std::vector<int>>;
  const std::vector<std::vector<G>> expected{
      {{"a", {1}}},
      {{"a", {1, 1}}, {"b", {1}}},
      {{"a", {1, 1}}, {"b", {1, 1}}, {"c", {1}}},
      {{"a", {1, 1}}, {"b", {1, 1}}, {"c", {1}}},
      {{"a", {1, 1}}, {"b", {1}}},
      {{"a", {1}}},
      {{"a", {1}}},
      {{"a", {1, 1}}, {"b", {1}}},
      {{"a", {1, 1}}, {"b", {1, 1}}, {"c", {1}}},
      {{"a", {1, 1}}, {"b", {1, 1}}, {"c", {1}}},
      {{"a", {1, 1}}, {"b", {1}}},
      {{"a", {1}}},
  };
  auto out = runStream(
      kBigInput, [](DStream<KV> s) { return s.groupByKeyAndWindow(2s, 1s); }, 12, opts());
  EXPECT_EQ(normalizeGroups(out), normalizeGroups(expected));
  auto defaulted = runStream(
      kBigInput, [](DStream<KV> s) { return s.groupByKeyAndWindow(2s); }, 12, opts(3));
  EXPECT_EQ(normalizeGroups(defaulted), normalizeGroups(expected));
}

TEST_P(WindowOperations, GroupByKeyAndWindowLargerSlide) {
  using G = std::pair<std::string, std::vector<int>>;
  const KVBatches input{{{"a", 1}}, {{"a", 2}, {"b", 7}}, {{"a", 3}}, {{"b", 8}}, {}, {}, {}};
  // W = 3 s, S = 2 s with 4 partitions: (0,2], (1,4], (3,6], then the empty (5,8].
  auto out = runStream(
      input, [](DStream<KV> s) { return s.groupByKeyAndWindow(3s, 2s, 4).glom(); }, 8, opts());
  const std::vector<std::vector<G>> expected{
      {{"a", {1, 2}}, {"b", {7}}}, {{"a", {2, 3}}, {"b", {7, 8}}}, {{"b", {8}}}, {}};
  ASSERT_EQ(out.size(), expected.size());
  std::vector<std::vector<G>> flat;
  for (auto& batch : out) {
    EXPECT_EQ(batch.size(), 4u) << "partitions per window";
    flat.emplace_back();
    for (auto& part : batch) flat.back().insert(flat.back().end(), part.begin(), part.end());
  }
  EXPECT_EQ(normalizeGroups(flat), normalizeGroups(expected));
}

// ---------------------------------------------------------------------------------------------
// Long runs against an independent sliding-window computation
// ---------------------------------------------------------------------------------------------

// 30 batches of random (key, value) records, some batches empty, from a fixed seed.
KVBatches randomInput(std::uint64_t seed, std::size_t batches) {
  std::mt19937_64 rng(seed);
  KVBatches input(batches);
  for (auto& batch : input) {
    const std::size_t n = rng() % 10;  // 0..9 records; 0 gives an empty batch
    for (std::size_t i = 0; i < n; ++i) {
      batch.emplace_back("k" + std::to_string(rng() % 7), static_cast<int>(1 + rng() % 5));
    }
  }
  return input;
}

// Per-key sums over the batches in (t - W, t] at each t = S, 2S, ... <= num_batches (units of
// batches). With keep_seen, every key seen in batches 1..t appears, with 0 when outside the
// window (the incremental form without a filter).
KVBatches slidingSums(const KVBatches& input, int num_batches, int window, int slide,
                      bool keep_seen) {
  KVBatches out;
  for (int t = slide; t <= num_batches; t += slide) {
    std::map<std::string, int> sums;
    if (keep_seen) {
      for (int b = 1; b <= t && b <= static_cast<int>(input.size()); ++b) {
        for (const auto& kv : input[static_cast<std::size_t>(b - 1)]) sums[kv.first] += 0;
      }
    }
    for (int b = std::max(1, t - window + 1); b <= t; ++b) {
      if (b > static_cast<int>(input.size())) continue;
      for (const auto& kv : input[static_cast<std::size_t>(b - 1)]) sums[kv.first] += kv.second;
    }
    out.emplace_back(sums.begin(), sums.end());
  }
  return out;
}

struct LongRunCase {
  int window;  // in batches (seconds)
  int slide;
};

TEST_P(WindowOperations, LongRunIncrementalMatchesIndependentSlidingSums) {
  const KVBatches input = randomInput(0x5eed5eedULL, 30);
  const int num_batches = 36;  // six empty batches at the end drain the windows
  for (const LongRunCase c : {LongRunCase{5, 1}, LongRunCase{6, 2}}) {
    SCOPED_TRACE("W=" + std::to_string(c.window) + "s S=" + std::to_string(c.slide) + "s");
    const std::chrono::milliseconds w(1000 * c.window);
    const std::chrono::milliseconds s(1000 * c.slide);
    const KVBatches expected = slidingSums(input, num_batches, c.window, c.slide, false);
    const KVBatches expected_lingering = slidingSums(input, num_batches, c.window, c.slide, true);
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(num_batches / c.slide));

    auto filtered = runStream(
        input,
        [&](DStream<KV> st) { return st.reduceByKeyAndWindow(plus, minus, w, s, 3, nonZero); },
        num_batches, opts(3));
    EXPECT_EQ(sortedBatches(filtered), expected) << "incremental with filter";

    auto unfiltered = runStream(
        input, [&](DStream<KV> st) { return st.reduceByKeyAndWindow(plus, minus, w, s); },
        num_batches, opts(2));
    EXPECT_EQ(sortedBatches(unfiltered), expected_lingering) << "incremental without filter";

    auto naive = runStream(
        input, [&](DStream<KV> st) { return st.reduceByKeyAndWindow(plus, w, s); }, num_batches,
        opts(2));
    EXPECT_EQ(sortedBatches(naive), expected) << "naive";

    // countByValueAndWindow over the keys alone.
    std::vector<std::vector<std::string>> keys(input.size());
    KVBatches ones(input.size());
    for (std::size_t b = 0; b < input.size(); ++b) {
      for (const auto& kv : input[b]) {
        keys[b].push_back(kv.first);
        ones[b].emplace_back(kv.first, 1);
      }
    }
    const KVBatches expected_counts = slidingSums(ones, num_batches, c.window, c.slide, false);
    auto counts = runStream(
        keys, [&](DStream<std::string> st) { return st.countByValueAndWindow(w, s); }, num_batches,
        opts(4));
    ASSERT_EQ(counts.size(), expected_counts.size());
    for (std::size_t i = 0; i < counts.size(); ++i) {
      std::vector<KV> got;
      for (const auto& kc : counts[i]) got.emplace_back(kc.first, static_cast<int>(kc.second));
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, expected_counts[i]) << "countByValueAndWindow, output " << i;
    }

    // window itself, as a multiset of records.
    KVBatches expected_window;
    for (int t = c.slide; t <= num_batches; t += c.slide) {
      expected_window.emplace_back();
      for (int b = std::max(1, t - c.window + 1); b <= std::min(t, 30); ++b) {
        const auto& batch = input[static_cast<std::size_t>(b - 1)];
        expected_window.back().insert(expected_window.back().end(), batch.begin(), batch.end());
      }
    }
    auto windows = runStream(
        input, [&](DStream<KV> st) { return st.window(w, s); }, num_batches, opts(3));
    EXPECT_EQ(sortedBatches(windows), sortedBatches(expected_window)) << "window";
  }
}

// ---------------------------------------------------------------------------------------------
// The incremental window's state
// ---------------------------------------------------------------------------------------------

TEST_P(WindowOperations, InverseFilterRemovesKeysAndLaterAddsThemBack) {
  // "a" leaves at 3 s and comes back at 4 s; "b" stays through the slide where its old value
  // leaves and a new one enters; "c" is dropped, then re-added with a value of its own.
  const KVBatches input{
      {{"a", 1}, {"b", 1}, {"c", 4}}, {{"b", 2}}, {{"b", 1}}, {{"a", 5}}, {{"c", 2}}, {}, {}};
  const KVBatches expected{{{"a", 1}, {"b", 1}, {"c", 4}},
                           {{"a", 1}, {"b", 3}, {"c", 4}},
                           {{"b", 3}},
                           {{"a", 5}, {"b", 1}},
                           {{"a", 5}, {"c", 2}},
                           {{"c", 2}},
                           {}};
  checkInverse(input, expected, 2000ms, 1000ms, nonZero);
  // The same against the independent sums, over a longer random run with reappearing keys.
  const KVBatches random = randomInput(0xadd0ffULL, 20);
  checkInverse(random, slidingSums(random, 24, 3, 1, false), 3000ms, 1000ms, nonZero);
}

TEST_P(WindowOperations, InverseWithoutFilterKeepsKeysAtZero) {
  const KVBatches input{{{"a", 1}}, {{"b", 2}}, {}, {}, {{"a", 3}}};
  checkInverse(input,
               {{{"a", 1}},
                {{"a", 1}, {"b", 2}},
                {{"a", 0}, {"b", 2}},
                {{"a", 0}, {"b", 0}},
                {{"a", 3}, {"b", 0}},
                {{"a", 3}, {"b", 0}},
                {{"a", 0}, {"b", 0}}},
               2000ms, 1000ms);
}

// The shuffle dependencies that `node`'s stage reads: those reached through narrow parents.
// Shuffles in the lineage of `node` above the given window RDDs (whose own input batches were
// shuffled by the reduceByKey before the window).
int countShuffles(sluice::detail::NodeBase& node, std::vector<int> windows) {
  if (std::find(windows.begin(), windows.end(), node.id()) != windows.end()) return 0;
  int shuffles = 0;
  node.visitDependencies(sluice::detail::DependencyVisitor{
      [&](sluice::detail::NodeBase& parent) { shuffles += countShuffles(parent, windows); },
      [&](sluice::detail::ShuffleDependencyBase&) { ++shuffles; },
  });
  return shuffles;
}

TEST_P(WindowOperations, KeyedOperationsOnTheWindowReuseItsPartitioning) {
  const KVBatches input = randomInput(0xbeefULL, 12);
  KVBatches ones(input.size());
  for (std::size_t b = 0; b < input.size(); ++b) {
    for (const auto& kv : input[b]) ones[b].emplace_back(kv.first, 1);
  }
  const KVBatches sums = slidingSums(input, 14, 3, 1, false);
  const KVBatches counts = slidingSums(ones, 14, 3, 1, false);
  using Joined = std::pair<std::string, std::pair<int, int>>;
  std::vector<std::vector<Joined>> expected_join;
  for (std::size_t i = 0; i < sums.size(); ++i) {
    expected_join.emplace_back();
    for (std::size_t j = 0; j < sums[i].size(); ++j) {
      expected_join.back().emplace_back(sums[i][j].first,
                                        std::pair(sums[i][j].second, counts[i][j].second));
    }
  }
  auto shuffles = std::make_shared<std::vector<int>>();
  auto sums_of = [](DStream<KV> s) {
    return s.reduceByKeyAndWindow(plus, minus, 3s, 1s, 3, nonZero);
  };
  auto counts_of = [](DStream<KV> s) {
    return s.map([](KV kv) { return KV(kv.first, 1); })
        .reduceByKeyAndWindow(plus, minus, 3s, 1s, 3, nonZero);
  };

  auto reduced = runStream(
      input,
      [&](DStream<KV> s) {
        return sums_of(s).transform([shuffles](const sluice::RDD<KV>& rdd) {
          auto same = rdd.reduceByKey(plus, 3);
          auto other = rdd.reduceByKey(plus, 2);
          shuffles->push_back(countShuffles(*same.node(), {rdd.node()->id()}));
          shuffles->push_back(countShuffles(*other.node(), {rdd.node()->id()}));
          return same;
        });
      },
      14, opts());
  EXPECT_EQ(sortedBatches(reduced), sums);
  ASSERT_EQ(shuffles->size(), 28u);
  for (std::size_t i = 0; i < shuffles->size(); i += 2) {
    EXPECT_EQ((*shuffles)[i], 0) << "reduceByKey with the window's partitioning shuffles";
    EXPECT_EQ((*shuffles)[i + 1], 1) << "reduceByKey with other partitioning";
  }

  shuffles->clear();
  auto joined = runStream(
      input,
      [&](DStream<KV> s) {
        return sums_of(s).transformWith(
            counts_of(s), [shuffles](const sluice::RDD<KV>& a, const sluice::RDD<KV>& b) {
              auto j = a.join(b, 3);
              shuffles->push_back(countShuffles(*j.node(), {a.node()->id(), b.node()->id()}));
              return j;
            });
      },
      14, opts());
  EXPECT_EQ(sortedBatches(joined), expected_join);
  EXPECT_EQ(*shuffles, std::vector<int>(14, 0)) << "join of two windows partitioned alike";
}

TEST_P(WindowOperations, SlideWorkFollowsTheChangedKeysNotTheWindowSize) {
  // 10,000 keys enter at 1 s, one more at 2 s, then only empty batches: the user functions run
  // for the keys entering and leaving, never for the keys that merely stay in the window.
  constexpr int kKeys = 10000;
  KVBatches input(2);
  for (int i = 0; i < kKeys; ++i) input[0].emplace_back("k" + std::to_string(i), 1);
  input[1].emplace_back("new", 1);
  struct Calls {
    std::atomic<long> filter{0};
    std::atomic<long> inv_f{0};
    std::vector<std::pair<long, long>> per_batch;  // read on the batch thread
  };
  auto calls = std::make_shared<Calls>();
  auto out = runStream(
      input,
      [calls](DStream<KV> s) {
        auto counted_minus = [calls](int a, int b) {
          calls->inv_f.fetch_add(1, std::memory_order_relaxed);
          return a - b;
        };
        std::function<bool(const KV&)> counted_filter = [calls](const KV& kv) {
          calls->filter.fetch_add(1, std::memory_order_relaxed);
          return kv.second != 0;
        };
        auto w = s.reduceByKeyAndWindow(plus, counted_minus, 4s, 1s, 2, counted_filter);
        // The slide runs in the batch's first job; later jobs read its result.
        w.foreachRDD([calls](const sluice::RDD<KV>& rdd) {
          rdd.count();
          calls->per_batch.emplace_back(calls->filter.exchange(0), calls->inv_f.exchange(0));
        });
        return w;
      },
      8, opts());
  const std::vector<std::pair<long, long>> expected{{kKeys, 0},     {1, 0}, {0, 0}, {0, 0},
                                                    {kKeys, kKeys}, {1, 1}, {0, 0}, {0, 0}};
  EXPECT_EQ(calls->per_batch, expected) << "(filter calls, inverse calls) per slide";
  std::vector<std::size_t> sizes;
  for (const auto& batch : out) sizes.push_back(batch.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{kKeys, kKeys + 1, kKeys + 1, kKeys + 1, 1, 0, 0, 0}));
}

TEST_P(WindowOperations, WindowsComputedOutOfOrderLeaveLaterWindowsRight) {
  // At 6 s an output asks for the windows of 1..3 s again, long forgotten: they are recomputed
  // from the first window, moving the state back, and the 7 s window rebuilds it from 6 s's.
  const KVBatches input = randomInput(0x0dd0e7ULL, 9);
  const KVBatches expected = slidingSums(input, 10, 3, 1, false);
  auto old = std::make_shared<KVBatches>();
  auto out = sluice::stream_test::runStreamWithContext(
      input,
      [old](sluice::Context&, sluice::StreamingContext&, DStream<KV> s) {
        auto w = s.reduceByKeyAndWindow(plus, minus, 3s, 1s, 2, nonZero);
        w.foreachRDD([w, old](const sluice::RDD<KV>&, sluice::Time t) {
          if (t != sluice::Time(6000)) return;
          for (const auto& rdd : w.slice(sluice::Time(1000), sluice::Time(3000))) {
            old->push_back(rdd.collect());
          }
        });
        return w;
      },
      10, opts());
  EXPECT_EQ(sortedBatches(out), expected);
  EXPECT_EQ(sortedBatches(*old), KVBatches(expected.begin(), expected.begin() + 3));
}

TEST_P(WindowOperations, FailedSlideLeavesTheStateAtThePreviousWindow) {
  // The inverse function fails once, at its third call: at 3 s, after the changes of the other
  // two keys leaving then have been worked out (at local[1], whatever their partitions). The 4 s
  // slide redoes 3 s from the intact 2 s state.
  const sluice::stream_test::StateParam param(GetParam());
  sluice::Context sc(param.master, "failedSlide");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  param.apply(ssc);
  const KVBatches input{{{"a", 1}, {"b", 1}, {"d", 1}}, {{"a", 1}}, {{"c", 1}}, {}, {}};
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto failing_minus = [calls](int a, int b) {
    if (calls->fetch_add(1) == 2) throw std::runtime_error("inverse failed once");
    return a - b;
  };
  auto in = sluice::testing::detail::testInput(sc, ssc, input, 2);
  auto out = sluice::stream_test::collectEach(
      in.reduceByKeyAndWindow(plus, failing_minus, 2s, 1s, 2, nonZero));
  ssc.start();
  for (std::int64_t t = 1000; t <= 5000; t += 1000) {
    clock->advance(1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(t), std::chrono::seconds(60)));
  }
  ssc.stop(false);
  try {
    ssc.awaitTerminationOrTimeout(0ms);
    ADD_FAILURE() << "the failed slide's error must surface";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("inverse failed once"), std::string::npos) << e.what();
  }
  EXPECT_EQ(out->times(), (std::vector<std::int64_t>{1000, 2000, 4000, 5000}));
  auto sorted = [&](std::int64_t t) {
    auto batch = out->batch(t);
    std::sort(batch.begin(), batch.end());
    return batch;
  };
  EXPECT_EQ(sorted(1000), (std::vector<KV>{{"a", 1}, {"b", 1}, {"d", 1}}));
  EXPECT_EQ(sorted(2000), (std::vector<KV>{{"a", 2}, {"b", 1}, {"d", 1}}));
  EXPECT_EQ(sorted(4000), (std::vector<KV>{{"c", 1}}));
  EXPECT_TRUE(sorted(5000).empty());
}

SLUICE_STATE_BACKENDS(WindowOperations);

}  // namespace
