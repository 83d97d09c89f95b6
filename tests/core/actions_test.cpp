// Actions (collect, count, first, take, takeOrdered, top, reduce, fold, aggregate, foreach,
// foreachPartition, countByKey, countByValue, collectAsMap, lookup, isEmpty, sum/max/min/mean)
// and job failure, argument and stopped-Context errors, each checked against an answer computed
// with the standard library under local[1], local[2] and local[4].
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <sluice/sluice.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"

namespace {

using sluice::testing_util::sorted;

std::vector<int> iota(int n, int start = 0) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

std::vector<int> randomInts(std::size_t n, unsigned seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Spark's parallelize slice sizes, computed independently.
std::vector<std::size_t> sliceSizes(std::size_t n, int slices) {
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < static_cast<std::size_t>(slices); ++i) {
    sizes.push_back((i + 1) * n / static_cast<std::size_t>(slices) -
                    i * n / static_cast<std::size_t>(slices));
  }
  return sizes;
}

// Partitions with data only here and there, to exercise scans across empty partitions.
std::vector<std::vector<int>> sparsePartitions() {
  std::vector<std::vector<int>> parts(20);
  parts[3] = {30, 31};
  parts[9] = {90};
  parts[10] = {100, 101, 102};
  parts[17] = {170, 171, 172, 173};
  return parts;
}

std::vector<int> flatten(const std::vector<std::vector<int>>& parts) {
  std::vector<int> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ActionsTest : public sluice::testing_util::MasterTest {};
class ActionErrorsTest : public sluice::testing_util::MasterTest {};

// ---------------------------------------------------------------------------------------------
// collect, count, first, take
// ---------------------------------------------------------------------------------------------

TEST_P(ActionsTest, CollectKeepsOrder) {
  const auto data = randomInts(5000, 1, -1000, 1000);
  EXPECT_EQ(sc.parallelize(data).collect(), data);
  EXPECT_EQ(sc.parallelize(data, 13).collect(), data);
  EXPECT_EQ(sc.fromPartitions(sparsePartitions()).collect(), flatten(sparsePartitions()));
}

TEST_P(ActionsTest, Count) {
  EXPECT_EQ(sc.parallelize(iota(0), 3).count(), 0);
  EXPECT_EQ(sc.parallelize(iota(1), 3).count(), 1);
  EXPECT_EQ(sc.parallelize(iota(12345), 7).count(), 12345);
  EXPECT_EQ(sc.fromPartitions(sparsePartitions()).count(),
            static_cast<long long>(flatten(sparsePartitions()).size()));
  EXPECT_EQ(sc.emptyRDD<double>().count(), 0);
}

TEST_P(ActionsTest, First) {
  EXPECT_EQ(sc.parallelize(std::vector<int>{42, 7, 9}, 2).first(), 42);
  EXPECT_EQ(sc.fromPartitions(sparsePartitions()).first(), 30);
  EXPECT_EQ(sc.parallelize(std::vector<std::string>{"x", "y"}, 4).first(), "x");
  EXPECT_EQ(sc.parallelize(iota(100), 4).filter([](const int& x) { return x > 80; }).first(), 81);
}

TEST_P(ActionsTest, FirstOnEmptyThrows) {
  EXPECT_THROW(sc.emptyRDD<int>().first(), sluice::UnsupportedOperationError);
  EXPECT_THROW(sc.parallelize(std::vector<int>{}, 3).first(), sluice::UnsupportedOperationError);
  EXPECT_THROW(sc.parallelize(iota(50), 3).filter([](const int&) { return false; }).first(),
               sluice::UnsupportedOperationError);
}

TEST_P(ActionsTest, Take) {
  const auto data = iota(100, 5);
  auto rdd = sc.parallelize(data, 6);
  EXPECT_TRUE(rdd.take(0).empty());
  for (long long n : {1LL, 2LL, 16LL, 17LL, 50LL, 99LL, 100LL}) {
    EXPECT_EQ(rdd.take(n), std::vector<int>(data.begin(), data.begin() + n)) << "n=" << n;
  }
  EXPECT_EQ(rdd.take(101), data);
  EXPECT_EQ(rdd.take(1'000'000), data);
  EXPECT_EQ(rdd.take(std::numeric_limits<long long>::max()), data);
}

TEST_P(ActionsTest, TakeAcrossEmptyPartitions) {
  const auto parts = sparsePartitions();
  const auto all = flatten(parts);
  auto rdd = sc.fromPartitions(parts);
  for (std::size_t n = 0; n <= all.size() + 2; ++n) {
    const auto expected = std::vector<int>(all.begin(), all.begin() + std::min(n, all.size()));
    EXPECT_EQ(rdd.take(static_cast<long long>(n)), expected) << "n=" << n;
  }
  EXPECT_TRUE(sc.emptyRDD<int>().take(5).empty());
  EXPECT_TRUE(sc.fromPartitions(std::vector<std::vector<int>>(9)).take(3).empty());
}

TEST_P(ActionsTest, TakeAfterFilterSkipsPartitions) {
  const auto data = iota(1000);
  auto rdd = sc.parallelize(data, 10).filter([](const int& x) { return x >= 950 || x == 3; });
  EXPECT_EQ(rdd.take(3), (std::vector<int>{3, 950, 951}));
}

// ---------------------------------------------------------------------------------------------
// takeOrdered, top
// ---------------------------------------------------------------------------------------------

TEST_P(ActionsTest, TakeOrdered) {
  const auto data = randomInts(20'000, 7, -100'000, 100'000);
  auto rdd = sc.parallelize(data, 9);
  const auto ascending = sorted(data);
  for (long long n : {0LL, 1LL, 5LL, 100LL, 1000LL}) {
    EXPECT_EQ(rdd.takeOrdered(n), std::vector<int>(ascending.begin(), ascending.begin() + n))
        << "n=" << n;
  }
  EXPECT_EQ(rdd.takeOrdered(25'000), ascending);
}

TEST_P(ActionsTest, TakeOrderedWithHugeN) {
  const auto data = randomInts(300, 8, -50, 50);
  auto rdd = sc.parallelize(data, 3);
  EXPECT_EQ(rdd.takeOrdered(std::numeric_limits<long long>::max()), sorted(data));
}

TEST_P(ActionsTest, TakeOrderedWithKeyFunction) {
  std::vector<int> data = iota(5000, -2500);
  std::shuffle(data.begin(), data.end(), std::mt19937(99));
  auto rdd = sc.parallelize(data, 6);
  auto by_negation = rdd.takeOrdered(10, [](const int& x) { return -x; });
  std::vector<int> descending = sorted(data);
  std::reverse(descending.begin(), descending.end());
  EXPECT_EQ(by_negation, std::vector<int>(descending.begin(), descending.begin() + 10));

  // Distinct keys |x| * 2 + (x < 0): order by absolute value, positive first.
  auto key = [](const int& x) { return std::abs(x) * 2 + (x < 0 ? 1 : 0); };
  auto by_abs = rdd.takeOrdered(7, key);
  std::vector<int> expected = data;
  std::sort(expected.begin(), expected.end(), [&](int a, int b) { return key(a) < key(b); });
  expected.resize(7);
  EXPECT_EQ(by_abs, expected);
  EXPECT_EQ(by_abs, (std::vector<int>{0, 1, -1, 2, -2, 3, -3}));
  EXPECT_TRUE(rdd.takeOrdered(0, key).empty());
}

TEST_P(ActionsTest, TakeOrderedPairsByValue) {
  std::vector<std::pair<std::string, long long>> data;
  for (int i = 0; i < 300; ++i) data.emplace_back("w" + std::to_string(i), (i * 37) % 301);
  auto rdd = sc.parallelize(data, 4);
  auto top5 = rdd.takeOrdered(5, [](const auto& kv) { return -kv.second; });
  auto expected = data;
  std::sort(expected.begin(), expected.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  expected.resize(5);
  EXPECT_EQ(top5, expected);
}

TEST_P(ActionsTest, TakeOrderedAcrossEmptyPartitionsAndOnEmpty) {
  auto rdd = sc.fromPartitions(sparsePartitions());
  EXPECT_EQ(rdd.takeOrdered(4), (std::vector<int>{30, 31, 90, 100}));
  EXPECT_EQ(rdd.takeOrdered(100), sorted(flatten(sparsePartitions())));
  EXPECT_TRUE(sc.emptyRDD<int>().takeOrdered(3).empty());
  EXPECT_TRUE(sc.emptyRDD<int>().top(3).empty());
}

TEST_P(ActionsTest, Top) {
  const auto data = randomInts(20'000, 11, -1'000'000, 1'000'000);
  auto rdd = sc.parallelize(data, 5);
  auto descending = sorted(data);
  std::reverse(descending.begin(), descending.end());
  for (long long n : {0LL, 1LL, 3LL, 250LL}) {
    EXPECT_EQ(rdd.top(n), std::vector<int>(descending.begin(), descending.begin() + n))
        << "n=" << n;
  }
  EXPECT_EQ(rdd.top(30'000), descending);

  std::vector<std::string> words{"pear", "apple", "zebra", "mango", "kiwi", "apple"};
  EXPECT_EQ(sc.parallelize(words, 3).top(3), (std::vector<std::string>{"zebra", "pear", "mango"}));
}

TEST_P(ActionsTest, TakeOrderedAndTopRejectNegativeN) {
  auto rdd = sc.parallelize(iota(10), 2);
  EXPECT_THROW(rdd.takeOrdered(-1), sluice::InvalidArgumentError);
  EXPECT_THROW(rdd.top(-1), sluice::InvalidArgumentError);
}

// ---------------------------------------------------------------------------------------------
// reduce, fold, aggregate
// ---------------------------------------------------------------------------------------------

TEST_P(ActionsTest, Reduce) {
  const auto data = randomInts(10'000, 3, -500, 500);
  auto rdd = sc.parallelize(data, 7);
  EXPECT_EQ(rdd.reduce(std::plus<>()), std::accumulate(data.begin(), data.end(), 0));
  EXPECT_EQ(rdd.reduce([](int a, int b) { return std::max(a, b); }),
            *std::max_element(data.begin(), data.end()));
  EXPECT_EQ(sc.parallelize(std::vector<int>{9}, 4).reduce(std::plus<>()), 9);
  const auto sparse = flatten(sparsePartitions());
  EXPECT_EQ(sc.fromPartitions(sparsePartitions()).reduce(std::plus<>()),
            std::accumulate(sparse.begin(), sparse.end(), 0));
}

TEST_P(ActionsTest, ReduceStrings) {
  std::vector<std::string> data;
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    data.push_back(std::to_string(i) + ",");
    expected += data.back();
  }
  // Concatenation is associative but not commutative; Spark merges partition results in any
  // order, so compare as a multiset of characters and check the length.
  auto joined = sc.parallelize(data, 5).reduce([](std::string a, std::string b) { return a + b; });
  EXPECT_EQ(joined.size(), expected.size());
  EXPECT_EQ(sorted(std::vector<char>(joined.begin(), joined.end())),
            sorted(std::vector<char>(expected.begin(), expected.end())));
}

TEST_P(ActionsTest, ReduceOnEmptyThrows) {
  EXPECT_THROW(sc.emptyRDD<int>().reduce(std::plus<>()), sluice::UnsupportedOperationError);
  EXPECT_THROW(sc.parallelize(std::vector<int>{}, 4).reduce(std::plus<>()),
               sluice::UnsupportedOperationError);
  EXPECT_THROW(
      sc.parallelize(iota(100), 4).filter([](const int& x) { return x < 0; }).reduce(std::plus<>()),
      sluice::UnsupportedOperationError);
}

TEST_P(ActionsTest, FoldAppliesZeroPerPartitionAndOnceMore) {
  const auto data = iota(1000);
  const long long sum = std::accumulate(data.begin(), data.end(), 0LL);
  std::vector<long long> values(data.begin(), data.end());
  for (int k : {1, 2, 3, 5, 8}) {
    auto rdd = sc.parallelize(values, k);
    EXPECT_EQ(rdd.fold(0LL, std::plus<>()), sum) << "k=" << k;
    EXPECT_EQ(rdd.fold(1LL, std::plus<>()), sum + k + 1) << "k=" << k;
  }
  auto default_rdd = sc.parallelize(values);
  EXPECT_EQ(default_rdd.fold(1LL, std::plus<>()), sum + sc.defaultParallelism() + 1);
  EXPECT_EQ(sc.fromPartitions(std::vector<std::vector<long long>>(6)).fold(1LL, std::plus<>()), 7);
  EXPECT_EQ(sc.emptyRDD<long long>().fold(1LL, std::plus<>()), 1);
  EXPECT_EQ(sc.emptyRDD<long long>().fold(0LL, std::plus<>()), 0);
}

TEST_P(ActionsTest, FoldProduct) {
  std::vector<long long> data{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(sc.parallelize(data, 3).fold(1LL, std::multiplies<>()), 3628800LL);
}

TEST_P(ActionsTest, AggregateAppliesZeroPerPartitionAndOnceMore) {
  const auto data = iota(500, 1);
  const long long sum = std::accumulate(data.begin(), data.end(), 0LL);
  for (int k : {1, 4, 6}) {
    auto rdd = sc.parallelize(data, k);
    auto plus = [](long long acc, int x) { return acc + x; };
    auto merge = [](long long a, long long b) { return a + b; };
    EXPECT_EQ(rdd.aggregate(0LL, plus, merge), sum) << "k=" << k;
    EXPECT_EQ(rdd.aggregate(1LL, plus, merge), sum + k + 1) << "k=" << k;

    // The zero value is a marker: it appears once per partition and once in the final combine.
    auto seq = [](std::vector<int> acc, int x) {
      acc.push_back(x);
      return acc;
    };
    auto comb = [](std::vector<int> a, std::vector<int> b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    auto all = rdd.aggregate(std::vector<int>{-1}, seq, comb);
    EXPECT_EQ(std::count(all.begin(), all.end(), -1), k + 1) << "k=" << k;
    all.erase(std::remove(all.begin(), all.end(), -1), all.end());
    EXPECT_EQ(sorted(all), data) << "k=" << k;
  }
}

TEST_P(ActionsTest, AggregateChangesType) {
  const auto data = randomInts(3000, 21, 0, 1000);
  using Acc = std::pair<long long, long long>;  // (sum, count)
  auto result = sc.parallelize(data, 7).aggregate(
      Acc{0, 0},
      [](Acc acc, int x) {
        return Acc{acc.first + x, acc.second + 1};
      },
      [](Acc a, Acc b) {
        return Acc{a.first + b.first, a.second + b.second};
      });
  EXPECT_EQ(result.first, std::accumulate(data.begin(), data.end(), 0LL));
  EXPECT_EQ(result.second, static_cast<long long>(data.size()));
  auto empty = sc.emptyRDD<int>().aggregate(
      Acc{5, 6},
      [](Acc acc, int x) {
        return Acc{acc.first + x, acc.second + 1};
      },
      [](Acc a, Acc b) {
        return Acc{a.first + b.first, a.second + b.second};
      });
  EXPECT_EQ(empty, (Acc{5, 6}));
}

// ---------------------------------------------------------------------------------------------
// foreach, foreachPartition
// ---------------------------------------------------------------------------------------------

TEST_P(ActionsTest, ForeachVisitsEveryElementOnce) {
  const auto data = iota(10'000, 1);
  std::atomic<long long> count{0};
  std::atomic<long long> total{0};
  sc.parallelize(data, 8).foreach ([&](const int& x) {
    count.fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(x, std::memory_order_relaxed);
  });
  EXPECT_EQ(count.load(), static_cast<long long>(data.size()));
  EXPECT_EQ(total.load(), std::accumulate(data.begin(), data.end(), 0LL));
}

TEST_P(ActionsTest, ForeachSeesEachElement) {
  const auto data = randomInts(2000, 5, 0, 100);
  std::mutex mu;
  std::vector<int> seen;
  sc.parallelize(data, 6).foreach ([&](int x) {
    std::lock_guard lock(mu);
    seen.push_back(x);
  });
  EXPECT_EQ(sorted(seen), sorted(data));
  std::atomic<int> calls{0};
  sc.emptyRDD<int>().foreach ([&](int) { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(ActionsTest, ForeachPartition) {
  const auto data = iota(1003);
  for (int slices : {1, 4, 9}) {
    std::atomic<int> calls{0};
    std::atomic<long long> elements{0};
    std::mutex mu;
    std::vector<std::size_t> sizes;
    std::vector<int> seen;
    sc.parallelize(data, slices).foreachPartition([&](std::vector<int>&& part) {
      calls.fetch_add(1);
      elements.fetch_add(static_cast<long long>(part.size()));
      std::lock_guard lock(mu);
      sizes.push_back(part.size());
      // Each partition is a contiguous run of the input.
      for (std::size_t i = 1; i < part.size(); ++i) EXPECT_EQ(part[i], part[i - 1] + 1);
      seen.insert(seen.end(), part.begin(), part.end());
    });
    EXPECT_EQ(calls.load(), slices);
    EXPECT_EQ(elements.load(), static_cast<long long>(data.size()));
    EXPECT_EQ(sorted(sizes), sorted(sliceSizes(data.size(), slices))) << "slices=" << slices;
    EXPECT_EQ(sorted(seen), data);
  }
}

TEST_P(ActionsTest, ForeachPartitionIncludesEmptyPartitions) {
  std::atomic<int> calls{0};
  std::atomic<int> empty_calls{0};
  sc.fromPartitions(sparsePartitions()).foreachPartition([&](std::vector<int>&& part) {
    calls.fetch_add(1);
    if (part.empty()) empty_calls.fetch_add(1);
  });
  EXPECT_EQ(calls.load(), 20);
  EXPECT_EQ(empty_calls.load(), 16);
}

// ---------------------------------------------------------------------------------------------
// Keyed actions
// ---------------------------------------------------------------------------------------------

TEST_P(ActionsTest, CountByKey) {
  std::vector<std::pair<std::string, int>> data;
  std::mt19937 rng(31);
  for (int i = 0; i < 5000; ++i) {
    data.emplace_back("k" + std::to_string(rng() % 37), static_cast<int>(rng() % 1000));
  }
  std::map<std::string, long long> expected;
  for (const auto& kv : data) ++expected[kv.first];
  auto counts = sc.parallelize(data, 6).countByKey();
  EXPECT_EQ(counts, expected);
  EXPECT_TRUE((sc.emptyRDD<std::pair<int, int>>().countByKey().empty()));
}

TEST_P(ActionsTest, CountByValue) {
  const auto data = randomInts(20'000, 41, -20, 20);
  std::map<int, long long> expected;
  for (int x : data) ++expected[x];
  EXPECT_EQ(sc.parallelize(data, 5).countByValue(), expected);

  std::vector<std::string> words{"a", "b", "a", "c", "a", "b", "", ""};
  std::map<std::string, long long> word_counts;
  for (const auto& w : words) ++word_counts[w];
  EXPECT_EQ(sc.parallelize(words, 3).countByValue(), word_counts);
  EXPECT_TRUE(sc.emptyRDD<int>().countByValue().empty());
}

TEST_P(ActionsTest, CollectAsMapLaterValuesOverwrite) {
  std::vector<std::pair<int, int>> data;
  for (int i = 0; i < 100; ++i) data.emplace_back(i % 10, i);
  std::map<int, int> expected;
  for (const auto& [k, v] : data) expected[k] = v;
  for (int slices : {1, 3, 7}) {
    auto m = sc.parallelize(data, slices).collectAsMap();
    EXPECT_EQ(m, expected) << "slices=" << slices;
  }
  // Overwrite across partitions: the key's last occurrence is in the last partition.
  auto m = sc.fromPartitions(std::vector<std::vector<std::pair<std::string, int>>>{
                                 {{"x", 1}, {"y", 2}}, {}, {{"x", 3}}, {{"z", 4}, {"x", 5}}})
               .collectAsMap();
  EXPECT_EQ(m, (std::map<std::string, int>{{"x", 5}, {"y", 2}, {"z", 4}}));
}

TEST_P(ActionsTest, LookupOnPlainRDD) {
  std::vector<std::pair<int, std::string>> data;
  for (int i = 0; i < 200; ++i) data.emplace_back(i % 13, "v" + std::to_string(i));
  auto rdd = sc.parallelize(data, 5);
  for (int key : {0, 3, 12}) {
    std::vector<std::string> expected;
    for (const auto& [k, v] : data) {
      if (k == key) expected.push_back(v);
    }
    EXPECT_EQ(rdd.lookup(key), expected) << "key=" << key;
  }
  EXPECT_TRUE(rdd.lookup(13).empty());
  EXPECT_TRUE(rdd.lookup(-1).empty());
}

TEST_P(ActionsTest, LookupAfterPartitionBy) {
  std::vector<std::pair<std::string, int>> data;
  std::mt19937 rng(77);
  for (int i = 0; i < 3000; ++i) data.emplace_back("key" + std::to_string(rng() % 50), i);
  for (int parts : {1, 3, 8}) {
    auto rdd = sc.parallelize(data, 4).partitionBy(parts);
    EXPECT_EQ(rdd.getNumPartitions(), parts);
    for (int key = 0; key < 52; ++key) {
      const std::string k = "key" + std::to_string(key);
      std::vector<int> expected;
      for (const auto& kv : data) {
        if (kv.first == k) expected.push_back(kv.second);
      }
      EXPECT_EQ(sorted(rdd.lookup(k)), expected) << "key=" << k << " parts=" << parts;
    }
    // A narrow op that keeps the partitioning keeps lookup's single-partition path correct.
    auto doubled = rdd.mapValues([](int v) { return v * 2; });
    std::vector<int> expected;
    for (const auto& kv : data) {
      if (kv.first == "key7") expected.push_back(kv.second * 2);
    }
    EXPECT_EQ(sorted(doubled.lookup(std::string("key7"))), expected);
  }
}

TEST_P(ActionsTest, LookupOnEmpty) {
  EXPECT_TRUE((sc.emptyRDD<std::pair<int, int>>().lookup(1).empty()));
}

// ---------------------------------------------------------------------------------------------
// isEmpty, numeric actions, getNumPartitions
// ---------------------------------------------------------------------------------------------

TEST_P(ActionsTest, IsEmpty) {
  EXPECT_TRUE(sc.emptyRDD<int>().isEmpty());
  EXPECT_TRUE(sc.parallelize(std::vector<int>{}, 1).isEmpty());
  EXPECT_TRUE(sc.parallelize(std::vector<int>{}, 5).isEmpty());
  EXPECT_TRUE(sc.fromPartitions(std::vector<std::vector<int>>(7)).isEmpty());
  EXPECT_FALSE(sc.fromPartitions(sparsePartitions()).isEmpty());
  EXPECT_FALSE(sc.parallelize(std::vector<int>{1}, 4).isEmpty());
  auto rdd = sc.parallelize(iota(100), 4);
  EXPECT_TRUE(rdd.filter([](const int& x) { return x > 1000; }).isEmpty());
  EXPECT_FALSE(rdd.filter([](const int& x) { return x == 99; }).isEmpty());
  EXPECT_TRUE(sc.range(5, 5).isEmpty());
}

TEST_P(ActionsTest, SumMaxMinMean) {
  const auto data = randomInts(9999, 13, -10'000, 10'000);
  auto rdd = sc.parallelize(data, 6);
  EXPECT_EQ(rdd.sum(), std::accumulate(data.begin(), data.end(), 0));
  EXPECT_EQ(rdd.max(), *std::max_element(data.begin(), data.end()));
  EXPECT_EQ(rdd.min(), *std::min_element(data.begin(), data.end()));
  const double mean =
      static_cast<double>(std::accumulate(data.begin(), data.end(), 0LL)) / data.size();
  EXPECT_NEAR(rdd.mean(), mean, 1e-9);

  std::vector<double> doubles;
  for (int x : data) doubles.push_back(x * 0.25);
  auto drdd = sc.parallelize(doubles, 4);
  EXPECT_NEAR(drdd.sum(), std::accumulate(doubles.begin(), doubles.end(), 0.0), 1e-6);
  EXPECT_EQ(drdd.max(), *std::max_element(doubles.begin(), doubles.end()));
  EXPECT_EQ(drdd.min(), *std::min_element(doubles.begin(), doubles.end()));
  EXPECT_NEAR(drdd.mean(), mean * 0.25, 1e-9);
}

TEST_P(ActionsTest, SumOfEmptyIsZeroAndMaxMinOfEmptyThrow) {
  EXPECT_EQ(sc.emptyRDD<int>().sum(), 0);
  EXPECT_EQ(sc.parallelize(std::vector<double>{}, 3).sum(), 0.0);
  EXPECT_THROW(sc.emptyRDD<int>().max(), sluice::UnsupportedOperationError);
  EXPECT_THROW(sc.parallelize(std::vector<int>{}, 2).min(), sluice::UnsupportedOperationError);
}

TEST_P(ActionsTest, MaxMinOfStrings) {
  std::vector<std::string> words{"pear", "apple", "zebra", "mango", "aardvark"};
  auto rdd = sc.parallelize(words, 3);
  EXPECT_EQ(rdd.max(), *std::max_element(words.begin(), words.end()));
  EXPECT_EQ(rdd.min(), *std::min_element(words.begin(), words.end()));
}

TEST_P(ActionsTest, GetNumPartitions) {
  EXPECT_EQ(sc.parallelize(iota(10), 3).getNumPartitions(), 3);
  EXPECT_EQ(sc.parallelize(iota(10)).getNumPartitions(), sc.defaultParallelism());
  EXPECT_EQ(sc.range(0, 100, 1, 11).getNumPartitions(), 11);
  EXPECT_EQ(sc.emptyRDD<int>().getNumPartitions(), 0);
  auto rdd = sc.parallelize(iota(10), 3);
  EXPECT_EQ(rdd.map([](int x) { return x; }).getNumPartitions(), 3);
  EXPECT_EQ(rdd.filter([](const int&) { return true; }).getNumPartitions(), 3);
  EXPECT_EQ(rdd.flatMap([](int x) { return std::vector<int>{x}; }).getNumPartitions(), 3);
  EXPECT_EQ(rdd.unionWith(sc.parallelize(iota(4), 2)).getNumPartitions(), 5);
  EXPECT_EQ(rdd.repartition(7).getNumPartitions(), 7);
}

TEST_P(ActionsTest, ActionsOnMillionElements) {
  const int n = 1'000'000;
  std::vector<long long> data(static_cast<std::size_t>(n));
  std::mt19937_64 rng(2718);
  for (auto& x : data) x = static_cast<long long>(rng() % 2'000'001) - 1'000'000;
  auto rdd = sc.parallelize(data);
  const long long sum = std::accumulate(data.begin(), data.end(), 0LL);
  const auto ascending = sorted(data);

  EXPECT_EQ(rdd.count(), n);
  EXPECT_EQ(rdd.sum(), sum);
  EXPECT_EQ(rdd.reduce(std::plus<>()), sum);
  EXPECT_EQ(rdd.fold(0LL, std::plus<>()), sum);
  EXPECT_EQ(rdd.fold(1LL, std::plus<>()), sum + rdd.getNumPartitions() + 1);
  EXPECT_EQ(rdd.max(), ascending.back());
  EXPECT_EQ(rdd.min(), ascending.front());
  EXPECT_NEAR(rdd.mean(), static_cast<double>(sum) / n, 1e-6);
  EXPECT_EQ(rdd.first(), data.front());
  EXPECT_EQ(rdd.take(5), std::vector<long long>(data.begin(), data.begin() + 5));
  EXPECT_EQ(rdd.takeOrdered(10), std::vector<long long>(ascending.begin(), ascending.begin() + 10));
  EXPECT_EQ(rdd.top(10), std::vector<long long>(ascending.rbegin(), ascending.rbegin() + 10));
  EXPECT_TRUE(rdd.collect() == data);
  EXPECT_FALSE(rdd.isEmpty());

  std::map<long long, long long> residues;
  for (long long x : data) ++residues[((x % 100) + 100) % 100];
  EXPECT_EQ(rdd.map([](long long x) { return ((x % 100) + 100) % 100; }).countByValue(), residues);

  std::atomic<long long> visited{0};
  rdd.foreach ([&](long long) { visited.fetch_add(1, std::memory_order_relaxed); });
  EXPECT_EQ(visited.load(), n);

  auto keyed = rdd.map([](long long x) { return std::pair<long long, long long>(x % 7, x); });
  std::map<long long, long long> key_counts;
  for (long long x : data) ++key_counts[x % 7];
  EXPECT_EQ(keyed.countByKey(), key_counts);
  std::vector<long long> fives;
  for (long long x : data) {
    if (x % 7 == 5) fives.push_back(x);
  }
  EXPECT_TRUE(keyed.lookup(5LL) == fives);
}

TEST_P(ActionsTest, RangeActionsOnMillionElements) {
  auto rdd = sc.range(0, 1'000'000);
  EXPECT_EQ(rdd.count(), 1'000'000);
  EXPECT_EQ(rdd.sum(), 999'999LL * 1'000'000 / 2);
  EXPECT_EQ(rdd.max(), 999'999);
  EXPECT_EQ(rdd.min(), 0);
  EXPECT_DOUBLE_EQ(rdd.mean(), 499'999.5);
  EXPECT_EQ(rdd.top(2), (std::vector<long long>{999'999, 999'998}));
  EXPECT_EQ(rdd.take(3), (std::vector<long long>{0, 1, 2}));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

// Runs `action`, expects JobFailedError naming the partition and carrying `message`, and checks
// that cause() rethrows UserError with the same message.
template <class Action>
void expectUserFailure(Action action, const std::string& message, int expected_partition) {
  try {
    action();
    ADD_FAILURE() << "expected JobFailedError";
  } catch (const sluice::JobFailedError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(message), std::string::npos) << what;
    EXPECT_NE(what.find("partition"), std::string::npos) << what;
    if (expected_partition >= 0) EXPECT_EQ(e.partition(), expected_partition) << what;
    ASSERT_TRUE(e.cause() != nullptr);
    try {
      std::rethrow_exception(e.cause());
    } catch (const UserError& original) {
      EXPECT_EQ(std::string(original.what()), message);
    } catch (...) {
      ADD_FAILURE() << "cause() did not rethrow the original UserError";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected JobFailedError, got: " << e.what();
  }
}

TEST_P(ActionErrorsTest, ExceptionInMapFailsTheJob) {
  const auto data = iota(100);
  // Element 57 lives in slice 2 of 4 ([50, 75)).
  auto rdd = sc.parallelize(data, 4).map([](int x) {
    if (x == 57) throw UserError("map exploded on 57");
    return x * 2;
  });
  expectUserFailure([&] { rdd.collect(); }, "map exploded on 57", 2);
  expectUserFailure([&] { rdd.count(); }, "map exploded on 57", 2);
  expectUserFailure([&] { rdd.reduce(std::plus<>()); }, "map exploded on 57", 2);
  // The Context stays usable after a failed job.
  EXPECT_EQ(sc.parallelize(data, 4).count(), 100);
}

TEST_P(ActionErrorsTest, ExceptionInFilterFailsTheJob) {
  auto rdd = sc.parallelize(iota(90), 3).filter([](const int& x) {
    if (x == 5) throw UserError("filter failed at five");
    return x % 2 == 0;
  });
  expectUserFailure([&] { rdd.collect(); }, "filter failed at five", 0);
  expectUserFailure([&] { rdd.take(50); }, "filter failed at five", 0);
}

TEST_P(ActionErrorsTest, ExceptionInForeachFailsTheJob) {
  auto rdd = sc.parallelize(iota(80), 4);
  expectUserFailure(
      [&] {
        rdd.foreach ([](int x) {
          if (x == 79) throw UserError("foreach refused 79");
        });
      },
      "foreach refused 79", 3);
}

TEST_P(ActionErrorsTest, ExceptionInEveryPartitionStillFailsOnce) {
  auto rdd = sc.parallelize(iota(400), 8).map([](int x) -> int {
    throw UserError("always fails " + std::to_string(x / 1000));
  });
  expectUserFailure([&] { rdd.collect(); }, "always fails 0", -1);
}

TEST_P(ActionErrorsTest, ExceptionInFlatMapAndForeachPartition) {
  auto rdd = sc.parallelize(iota(30), 2);
  expectUserFailure(
      [&] {
        rdd.flatMap([](int x) {
             if (x == 29) throw UserError("flatMap broke");
             return std::vector<int>{x};
           })
            .collect();
      },
      "flatMap broke", 1);
  expectUserFailure(
      [&] {
        rdd.foreachPartition([](std::vector<int>&& part) {
          if (!part.empty() && part.front() == 0) throw UserError("partition zero rejected");
        });
      },
      "partition zero rejected", 0);
}

TEST_P(ActionErrorsTest, InvalidSliceCounts) {
  const auto data = iota(10);
  EXPECT_THROW(sc.parallelize(data, 0), sluice::InvalidArgumentError);
  EXPECT_THROW(sc.parallelize(data, -2), sluice::InvalidArgumentError);
  EXPECT_THROW(sc.parallelize(data, -100), sluice::InvalidArgumentError);
  EXPECT_THROW(sc.range(0, 10, 1, 0), sluice::InvalidArgumentError);
  EXPECT_THROW(sc.range(0, 10, 1, -7), sluice::InvalidArgumentError);
  EXPECT_NO_THROW(sc.parallelize(data, -1));
  EXPECT_EQ(sc.parallelize(data, -1).collect(), data);
}

TEST_P(ActionErrorsTest, NegativeTakeThrows) {
  auto rdd = sc.parallelize(iota(10), 2);
  EXPECT_THROW(rdd.take(-1), sluice::InvalidArgumentError);
  EXPECT_THROW(rdd.take(-1000), sluice::InvalidArgumentError);
  EXPECT_THROW(sc.emptyRDD<int>().take(-1), sluice::InvalidArgumentError);
}

TEST_P(ActionErrorsTest, ActionsAfterStopThrow) {
  auto rdd = sc.parallelize(iota(100), 4);
  auto mapped = rdd.map([](int x) { return x + 1; });
  auto keyed = rdd.map([](int x) { return std::pair<int, int>(x % 3, x); });
  EXPECT_EQ(rdd.count(), 100);
  sc.stop();
  EXPECT_TRUE(sc.isStopped());
  EXPECT_THROW(rdd.collect(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.count(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.first(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.take(3), sluice::IllegalStateError);
  EXPECT_THROW(rdd.reduce(std::plus<>()), sluice::IllegalStateError);
  EXPECT_THROW(rdd.fold(0, std::plus<>()), sluice::IllegalStateError);
  EXPECT_THROW(rdd.sum(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.takeOrdered(2), sluice::IllegalStateError);
  EXPECT_THROW(rdd.foreach ([](int) {}), sluice::IllegalStateError);
  EXPECT_THROW(rdd.foreachPartition([](std::vector<int>&&) {}), sluice::IllegalStateError);
  EXPECT_THROW(rdd.countByValue(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.isEmpty(), sluice::IllegalStateError);
  EXPECT_THROW(mapped.collect(), sluice::IllegalStateError);
  EXPECT_THROW(keyed.collectAsMap(), sluice::IllegalStateError);
  EXPECT_THROW(keyed.lookup(1), sluice::IllegalStateError);
  EXPECT_THROW(sc.parallelize(iota(3), 1), sluice::IllegalStateError);
  EXPECT_THROW(sc.range(0, 3), sluice::IllegalStateError);
  sc.stop();  // idempotent
  EXPECT_TRUE(sc.isStopped());
}

SLUICE_ALL_MASTERS(ActionsTest);
SLUICE_ALL_MASTERS(ActionErrorsTest);

}  // namespace
