// Sources (parallelize, emptyRDD, range, fromPartitions), narrow transformations and the
// partition-structure operations (unionWith, coalesce, repartition, zipWithIndex, sample), each
// checked against an answer computed with the standard library under local[1], local[2] and
// local[4].
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <list>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sluice/sluice.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"

namespace {

using sluice::testing_util::sorted;

// Spark's parallelize slicing, computed independently: slice i is [i * n / s, (i + 1) * n / s).
template <class T>
std::vector<std::vector<T>> sparkSlices(const std::vector<T>& data, int slices) {
  const long long n = static_cast<long long>(data.size());
  std::vector<std::vector<T>> out;
  for (long long i = 0; i < slices; ++i) {
    const long long begin = i * n / slices;
    const long long end = (i + 1) * n / slices;
    out.emplace_back(data.begin() + begin, data.begin() + end);
  }
  return out;
}

template <class T>
std::vector<T> flatten(const std::vector<std::vector<T>>& parts) {
  std::vector<T> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<int> iota(int n, int start = 0) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

std::vector<long long> stdRange(long long start, long long end, long long step) {
  std::vector<long long> out;
  if (step > 0) {
    for (long long x = start; x < end; x += step) out.push_back(x);
  } else {
    for (long long x = start; x > end; x += step) out.push_back(x);
  }
  return out;
}

class SourceTest : public sluice::testing_util::MasterTest {};
class NarrowOpsTest : public sluice::testing_util::MasterTest {};
class PartitionOpsTest : public sluice::testing_util::MasterTest {};

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

TEST_P(SourceTest, ParallelizeSlicesContiguouslyLikeSpark) {
  for (int n : {0, 1, 2, 7, 10, 100, 1001, 4099}) {
    const auto data = iota(n, 1000);
    for (int slices : {1, 2, 3, 4, 7, 16}) {
      auto rdd = sc.parallelize(data, slices);
      EXPECT_EQ(rdd.getNumPartitions(), slices) << "n=" << n << " slices=" << slices;
      EXPECT_EQ(rdd.glom().collect(), sparkSlices(data, slices))
          << "n=" << n << " slices=" << slices;
      EXPECT_EQ(rdd.collect(), data) << "n=" << n << " slices=" << slices;
    }
  }
}

TEST_P(SourceTest, ParallelizeDefaultsToDefaultParallelism) {
  const auto data = iota(37);
  auto rdd = sc.parallelize(data);
  EXPECT_EQ(rdd.getNumPartitions(), sc.defaultParallelism());
  EXPECT_EQ(rdd.glom().collect(), sparkSlices(data, sc.defaultParallelism()));
  auto explicit_default = sc.parallelize(data, -1);
  EXPECT_EQ(explicit_default.getNumPartitions(), sc.defaultParallelism());
  EXPECT_EQ(explicit_default.collect(), data);
}

TEST_P(SourceTest, ParallelizeStringsKeepsOrder) {
  std::vector<std::string> data;
  for (int i = 0; i < 50; ++i) data.push_back("s" + std::to_string(i * 7));
  auto rdd = sc.parallelize(data, 6);
  EXPECT_EQ(rdd.collect(), data);
  EXPECT_EQ(rdd.glom().collect(), sparkSlices(data, 6));
}

TEST_P(SourceTest, ParallelizeMoreSlicesThanElementsGivesEmptyPartitions) {
  const std::vector<int> data{5, 6, 7};
  auto rdd = sc.parallelize(data, 10);
  EXPECT_EQ(rdd.getNumPartitions(), 10);
  auto parts = rdd.glom().collect();
  EXPECT_EQ(parts, sparkSlices(data, 10));
  ASSERT_EQ(parts.size(), 10U);
  EXPECT_EQ(std::count_if(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); }), 7);
  EXPECT_EQ(rdd.collect(), data);
  EXPECT_EQ(rdd.count(), 3);
}

TEST_P(SourceTest, ParallelizeEmptyVector) {
  auto rdd = sc.parallelize(std::vector<int>{}, 3);
  EXPECT_EQ(rdd.getNumPartitions(), 3);
  EXPECT_TRUE(rdd.collect().empty());
  EXPECT_EQ(rdd.count(), 0);
  EXPECT_EQ(rdd.glom().collect(), (std::vector<std::vector<int>>(3)));
}

TEST_P(SourceTest, EmptyRDDHasNoPartitions) {
  auto rdd = sc.emptyRDD<int>();
  EXPECT_EQ(rdd.getNumPartitions(), 0);
  EXPECT_TRUE(rdd.collect().empty());
  EXPECT_EQ(rdd.count(), 0);
  EXPECT_TRUE(rdd.glom().collect().empty());
  EXPECT_TRUE(rdd.map([](int x) { return x + 1; }).collect().empty());
  auto strings = sc.emptyRDD<std::string>();
  EXPECT_EQ(strings.getNumPartitions(), 0);
  EXPECT_TRUE(strings.collect().empty());
}

TEST_P(SourceTest, RangeMatchesStdLoop) {
  struct Case {
    long long start, end, step;
  };
  const std::vector<Case> cases{
      {0, 10, 1},    {0, 10, 3},  {0, 9, 3}, {-5, 5, 2},    {10, 0, -1},     {10, 0, -3},
      {10, -10, -7}, {0, 1, 100}, {3, 4, 1}, {-1, -20, -4}, {100, 1000, 37},
  };
  for (const auto& c : cases) {
    const auto expected = stdRange(c.start, c.end, c.step);
    for (int slices : {1, 3, 4, 8}) {
      auto rdd = sc.range(c.start, c.end, c.step, slices);
      EXPECT_EQ(rdd.getNumPartitions(), slices);
      EXPECT_EQ(rdd.collect(), expected)
          << "range(" << c.start << ", " << c.end << ", " << c.step << ", " << slices << ")";
      EXPECT_EQ(rdd.count(), static_cast<long long>(expected.size()));
      EXPECT_EQ(rdd.glom().collect(), sparkSlices(expected, slices));
    }
  }
}

TEST_P(SourceTest, RangeDefaultsToStepOneAndDefaultParallelism) {
  auto rdd = sc.range(0, 25);
  EXPECT_EQ(rdd.getNumPartitions(), sc.defaultParallelism());
  EXPECT_EQ(rdd.collect(), stdRange(0, 25, 1));
  EXPECT_EQ(sc.range(7, 12, 2).collect(), stdRange(7, 12, 2));
}

TEST_P(SourceTest, EmptyRanges) {
  struct Case {
    long long start, end, step;
  };
  for (const auto& c :
       std::vector<Case>{{5, 5, 1}, {5, 5, -1}, {10, 0, 1}, {0, 10, -1}, {-3, -8, 2}, {0, 0, 7}}) {
    auto rdd = sc.range(c.start, c.end, c.step, 3);
    EXPECT_EQ(rdd.getNumPartitions(), 3);
    EXPECT_TRUE(rdd.collect().empty())
        << "range(" << c.start << ", " << c.end << ", " << c.step << ")";
    EXPECT_EQ(rdd.count(), 0);
  }
}

TEST_P(SourceTest, RangeRejectsZeroStep) {
  EXPECT_THROW(sc.range(0, 10, 0), sluice::InvalidArgumentError);
}

TEST_P(SourceTest, LargeRange) {
  const long long n = 1'000'000;
  auto rdd = sc.range(0, n);
  EXPECT_EQ(rdd.count(), n);
  const auto all = rdd.collect();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(n));
  for (long long i = 0; i < n; ++i) {
    if (all[static_cast<std::size_t>(i)] != i) {
      FAIL() << "element " << i << " is " << all[static_cast<std::size_t>(i)];
    }
  }
}

TEST_P(SourceTest, FromPartitionsKeepsPartitionsExactly) {
  const std::vector<std::vector<int>> parts{{1, 2, 3}, {}, {4}, {}, {}, {5, 6, 7, 8}, {}};
  auto rdd = sc.fromPartitions(parts);
  EXPECT_EQ(rdd.getNumPartitions(), static_cast<int>(parts.size()));
  EXPECT_EQ(rdd.glom().collect(), parts);
  EXPECT_EQ(rdd.collect(), flatten(parts));
  EXPECT_EQ(rdd.count(), 8);
}

TEST_P(SourceTest, FromPartitionsOfNothing) {
  auto none = sc.fromPartitions(std::vector<std::vector<std::string>>{});
  EXPECT_EQ(none.getNumPartitions(), 0);
  EXPECT_TRUE(none.collect().empty());
  auto empties = sc.fromPartitions(std::vector<std::vector<std::string>>(5));
  EXPECT_EQ(empties.getNumPartitions(), 5);
  EXPECT_TRUE(empties.collect().empty());
  EXPECT_EQ(empties.glom().collect(), (std::vector<std::vector<std::string>>(5)));
}

// ---------------------------------------------------------------------------------------------
// Narrow transformations
// ---------------------------------------------------------------------------------------------

TEST_P(NarrowOpsTest, MapChangesType) {
  const auto data = iota(200, -50);
  auto rdd = sc.parallelize(data, 5).map([](int x) { return "v" + std::to_string(x * 3); });
  static_assert(std::is_same_v<decltype(rdd), sluice::RDD<std::string>>);
  std::vector<std::string> expected;
  for (int x : data) expected.push_back("v" + std::to_string(x * 3));
  EXPECT_EQ(rdd.collect(), expected);
  EXPECT_EQ(rdd.getNumPartitions(), 5);
}

TEST_P(NarrowOpsTest, MapKeepsPartitionBoundaries) {
  const std::vector<std::vector<int>> parts{{1, 2}, {}, {3, 4, 5}};
  auto rdd = sc.fromPartitions(parts).map([](int x) { return x * 10.5; });
  std::vector<std::vector<double>> expected;
  for (const auto& p : parts) {
    std::vector<double> q;
    for (int x : p) q.push_back(x * 10.5);
    expected.push_back(q);
  }
  EXPECT_EQ(rdd.glom().collect(), expected);
}

TEST_P(NarrowOpsTest, MapOverStrings) {
  std::vector<std::string> data{"apple", "", "kiwi", "banana", "fig"};
  auto lengths = sc.parallelize(data, 2).map(
      [](const std::string& s) { return static_cast<long long>(s.size()); });
  std::vector<long long> expected;
  for (const auto& s : data) expected.push_back(static_cast<long long>(s.size()));
  EXPECT_EQ(lengths.collect(), expected);
}

TEST_P(NarrowOpsTest, FlatMapReturningVector) {
  const auto data = iota(300);
  auto rdd = sc.parallelize(data, 7).flatMap(
      [](int x) { return std::vector<int>(static_cast<std::size_t>(x % 4), x); });
  std::vector<int> expected;
  for (int x : data) {
    for (int k = 0; k < x % 4; ++k) expected.push_back(x);
  }
  EXPECT_EQ(rdd.collect(), expected);
  EXPECT_EQ(rdd.count(), static_cast<long long>(expected.size()));
}

TEST_P(NarrowOpsTest, FlatMapReturningStringYieldsChars) {
  std::vector<std::string> data{"ab", "", "cde", "f", "", "ghij"};
  auto chars = sc.parallelize(data, 3).flatMap([](const std::string& s) { return s; });
  static_assert(std::is_same_v<decltype(chars), sluice::RDD<char>>);
  std::vector<char> expected;
  for (const auto& s : data) expected.insert(expected.end(), s.begin(), s.end());
  EXPECT_EQ(chars.collect(), expected);
}

TEST_P(NarrowOpsTest, FlatMapReturningList) {
  const auto data = iota(100);
  auto rdd = sc.parallelize(data, 4).flatMap([](int x) {
    std::list<std::string> out;
    for (int k = 0; k < x % 3; ++k) out.push_back(std::to_string(x) + ":" + std::to_string(k));
    return out;
  });
  std::vector<std::string> expected;
  for (int x : data) {
    for (int k = 0; k < x % 3; ++k) expected.push_back(std::to_string(x) + ":" + std::to_string(k));
  }
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, FlatMapToNothing) {
  auto rdd = sc.parallelize(iota(100), 4).flatMap([](int) { return std::vector<int>{}; });
  EXPECT_TRUE(rdd.collect().empty());
  EXPECT_EQ(rdd.getNumPartitions(), 4);
}

TEST_P(NarrowOpsTest, Filter) {
  const auto data = iota(1000, -500);
  auto rdd = sc.parallelize(data, 6).filter([](const int& x) { return x % 7 == 3 || x < -490; });
  std::vector<int> expected;
  std::copy_if(data.begin(), data.end(), std::back_inserter(expected),
               [](int x) { return x % 7 == 3 || x < -490; });
  EXPECT_EQ(rdd.collect(), expected);
  EXPECT_EQ(rdd.getNumPartitions(), 6);
  EXPECT_TRUE(sc.parallelize(data, 6).filter([](const int&) { return false; }).collect().empty());
  EXPECT_EQ(sc.parallelize(data, 6).filter([](const int&) { return true; }).collect(), data);
}

TEST_P(NarrowOpsTest, MapPartitions) {
  const std::vector<std::vector<int>> parts{{1, 2, 3}, {}, {10, 20}, {7}};
  auto sums = sc.fromPartitions(parts).mapPartitions([](std::vector<int>&& items) {
    std::vector<long long> out{static_cast<long long>(items.size())};
    out.push_back(std::accumulate(items.begin(), items.end(), 0LL));
    return out;
  });
  std::vector<long long> expected;
  for (const auto& p : parts) {
    expected.push_back(static_cast<long long>(p.size()));
    expected.push_back(std::accumulate(p.begin(), p.end(), 0LL));
  }
  EXPECT_EQ(sums.collect(), expected);
  EXPECT_EQ(sums.getNumPartitions(), 4);
}

TEST_P(NarrowOpsTest, MapPartitionsOnParallelize) {
  const auto data = iota(103);
  for (int slices : {1, 3, 8}) {
    auto maxes = sc.parallelize(data, slices).mapPartitions([](std::vector<int>&& items) {
      std::vector<int> out;
      if (!items.empty()) out.push_back(*std::max_element(items.begin(), items.end()));
      return out;
    });
    std::vector<int> expected;
    for (const auto& p : sparkSlices(data, slices)) {
      if (!p.empty()) expected.push_back(*std::max_element(p.begin(), p.end()));
    }
    EXPECT_EQ(maxes.collect(), expected) << "slices=" << slices;
  }
}

TEST_P(NarrowOpsTest, MapPartitionsWithIndex) {
  const auto data = iota(50);
  auto rdd =
      sc.parallelize(data, 6).mapPartitionsWithIndex([](int index, std::vector<int>&& items) {
        std::vector<std::pair<int, int>> out;
        for (int x : items) out.emplace_back(index, x);
        return out;
      });
  std::vector<std::pair<int, int>> expected;
  const auto slices = sparkSlices(data, 6);
  for (int i = 0; i < 6; ++i) {
    for (int x : slices[static_cast<std::size_t>(i)]) expected.emplace_back(i, x);
  }
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, MapPartitionsWithIndexSeesEmptyPartitions) {
  auto rdd = sc.fromPartitions(std::vector<std::vector<int>>{{}, {1}, {}, {}})
                 .mapPartitionsWithIndex([](int index, std::vector<int>&& items) {
                   return std::vector<std::string>{std::to_string(index) + "/" +
                                                   std::to_string(items.size())};
                 });
  EXPECT_EQ(rdd.collect(), (std::vector<std::string>{"0/0", "1/1", "2/0", "3/0"}));
}

TEST_P(NarrowOpsTest, GlomAfterNarrowChain) {
  const auto data = iota(40);
  auto rdd = sc.parallelize(data, 3).filter([](const int& x) { return x % 2 == 0; }).glom();
  std::vector<std::vector<int>> expected;
  for (const auto& p : sparkSlices(data, 3)) {
    std::vector<int> q;
    std::copy_if(p.begin(), p.end(), std::back_inserter(q), [](int x) { return x % 2 == 0; });
    expected.push_back(q);
  }
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, KeyBy) {
  std::vector<std::string> data{"pear", "apple", "fig", "banana", "kiwi", "plum"};
  auto rdd = sc.parallelize(data, 4).keyBy([](const std::string& s) { return s.size(); });
  std::vector<std::pair<std::size_t, std::string>> expected;
  for (const auto& s : data) expected.emplace_back(s.size(), s);
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, MapValues) {
  std::vector<std::pair<std::string, int>> data;
  for (int i = 0; i < 60; ++i) data.emplace_back("k" + std::to_string(i % 9), i);
  auto rdd = sc.parallelize(data, 5).mapValues([](int v) { return std::to_string(v * v); });
  std::vector<std::pair<std::string, std::string>> expected;
  for (const auto& [k, v] : data) expected.emplace_back(k, std::to_string(v * v));
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, FlatMapValues) {
  std::vector<std::pair<int, int>> data;
  for (int i = 0; i < 40; ++i) data.emplace_back(i % 6, i % 5);
  auto rdd = sc.parallelize(data, 3).flatMapValues([](int n) {
    std::vector<int> out(static_cast<std::size_t>(n));
    std::iota(out.begin(), out.end(), 100);
    return out;
  });
  std::vector<std::pair<int, int>> expected;
  for (const auto& [k, n] : data) {
    for (int j = 0; j < n; ++j) expected.emplace_back(k, 100 + j);
  }
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, FlatMapValuesOverStrings) {
  std::vector<std::pair<std::string, std::string>> data{{"a", "xy"}, {"b", ""}, {"c", "z"}};
  auto rdd = sc.parallelize(data, 2).flatMapValues([](const std::string& s) { return s; });
  const std::vector<std::pair<std::string, char>> expected{{"a", 'x'}, {"a", 'y'}, {"c", 'z'}};
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(NarrowOpsTest, KeysAndValues) {
  std::vector<std::pair<std::string, double>> data;
  for (int i = 0; i < 77; ++i) data.emplace_back("key" + std::to_string(i % 11), i * 0.5);
  auto rdd = sc.parallelize(data, 4);
  std::vector<std::string> keys;
  std::vector<double> values;
  for (const auto& [k, v] : data) {
    keys.push_back(k);
    values.push_back(v);
  }
  EXPECT_EQ(rdd.keys().collect(), keys);
  EXPECT_EQ(rdd.values().collect(), values);
}

TEST_P(NarrowOpsTest, MapFilterFlatMapChainOnMillionElements) {
  const int n = 1'000'000;
  const auto data = iota(n);
  auto rdd = sc.parallelize(data)
                 .map([](int x) { return static_cast<long long>(x) * 3 + 1; })
                 .filter([](const long long& x) { return x % 4 != 0; })
                 .flatMap([](long long x) {
                   std::vector<long long> out{x};
                   if (x % 5 == 0) out.push_back(-x);
                   return out;
                 });
  std::vector<long long> expected;
  for (int x : data) {
    long long y = static_cast<long long>(x) * 3 + 1;
    if (y % 4 == 0) continue;
    expected.push_back(y);
    if (y % 5 == 0) expected.push_back(-y);
  }
  EXPECT_EQ(rdd.count(), static_cast<long long>(expected.size()));
  EXPECT_TRUE(rdd.collect() == expected);
}

// Stored elements (in-memory partitions, cached blocks, shuffle outputs) are handed to functions
// that take `const T&` in place and to every other function as copies: whichever way a function
// takes its argument, moving from it or changing it must not change what a later job reads.
TEST_P(NarrowOpsTest, StoredElementsStayIntactWhateverTheFunctionTakes) {
  std::vector<std::string> data;
  for (int i = 0; i < 3000; ++i) data.push_back("element number " + std::to_string(i) + " of many");
  auto source = sc.parallelize(data, 3);
  auto cached = source.map([](const std::string& s) { return s; });
  cached.cache();
  EXPECT_EQ(cached.count(), 3000);
  auto shuffled = source.map([](const std::string& s) { return std::make_pair(s, 1); })
                      .reduceByKey([](int a, int b) { return a + b; }, 1)
                      .keys();
  std::vector<std::string> bang;
  for (const auto& s : data) bang.push_back(s + "!");
  for (auto rdd : {source, cached, shuffled}) {
    const auto before = sorted(rdd.collect());
    ASSERT_EQ(before, sorted(data));
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(sorted(rdd.map([](std::string&& s) {
                          std::string t = std::move(s);
                          return t + "!";
                        }).collect()),
                sorted(bang));
      EXPECT_EQ(sorted(rdd.map([](std::string s) { return s.append("!"); }).collect()),
                sorted(bang));
      EXPECT_EQ(sorted(rdd.map([](std::string& s) { return s.append("!"); }).collect()),
                sorted(bang));
      EXPECT_EQ(sorted(rdd.map([](auto&& s) {
                          std::string t = std::move(s);
                          return t + "!";
                        }).collect()),
                sorted(bang));
      EXPECT_EQ(rdd.flatMap([](std::string&& s) {
                     return std::vector<std::string>{std::move(s)};
                   }).count(),
                3000);
      EXPECT_EQ(rdd.filter([](const std::string& s) { return !s.empty(); }).collect().size(),
                3000u);
      EXPECT_EQ(rdd.keyBy([](const std::string& s) { return s.size(); })
                    .mapValues([](std::string&& s) { return std::move(s); })
                    .values()
                    .count(),
                3000);
      EXPECT_EQ(sorted(rdd.collect()), before) << "round " << round;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Partition structure
// ---------------------------------------------------------------------------------------------

TEST_P(PartitionOpsTest, UnionConcatenatesPartitionsInOrder) {
  const std::vector<std::vector<int>> a_parts{{1, 2}, {}, {3}};
  const auto b_data = iota(10, 100);
  auto a = sc.fromPartitions(a_parts);
  auto b = sc.parallelize(b_data, 2);
  auto u = a.unionWith(b);
  EXPECT_EQ(u.getNumPartitions(), 5);
  auto expected_parts = a_parts;
  for (const auto& p : sparkSlices(b_data, 2)) expected_parts.push_back(p);
  EXPECT_EQ(u.glom().collect(), expected_parts);
  EXPECT_EQ(u.collect(), flatten(expected_parts));

  auto v = b.unionWith(a);
  EXPECT_EQ(v.getNumPartitions(), 5);
  std::vector<int> expected_v = b_data;
  for (const auto& p : a_parts) expected_v.insert(expected_v.end(), p.begin(), p.end());
  EXPECT_EQ(v.collect(), expected_v);
}

TEST_P(PartitionOpsTest, UnionWithSelfAndEmpty) {
  const auto data = iota(20);
  auto rdd = sc.parallelize(data, 3);
  auto twice = rdd.unionWith(rdd);
  EXPECT_EQ(twice.getNumPartitions(), 6);
  auto expected = data;
  expected.insert(expected.end(), data.begin(), data.end());
  EXPECT_EQ(twice.collect(), expected);

  auto with_empty = rdd.unionWith(sc.emptyRDD<int>());
  EXPECT_EQ(with_empty.getNumPartitions(), 3);
  EXPECT_EQ(with_empty.collect(), data);
  auto empty_first = sc.emptyRDD<int>().unionWith(rdd);
  EXPECT_EQ(empty_first.getNumPartitions(), 3);
  EXPECT_EQ(empty_first.collect(), data);
}

TEST_P(PartitionOpsTest, UnionOfTransformedRDDs) {
  const auto data = iota(30);
  auto base = sc.parallelize(data, 2);
  auto evens = base.filter([](const int& x) { return x % 2 == 0; });
  auto tripled = base.map([](int x) { return x * 3; });
  std::vector<int> expected;
  for (int x : data) {
    if (x % 2 == 0) expected.push_back(x);
  }
  for (int x : data) expected.push_back(x * 3);
  EXPECT_EQ(evens.unionWith(tripled).collect(), expected);
}

TEST_P(PartitionOpsTest, CoalesceToFewerPreservesOrder) {
  const auto data = iota(1000);
  for (int target : {1, 2, 3, 5}) {
    auto rdd = sc.parallelize(data, 8).coalesce(target);
    EXPECT_EQ(rdd.getNumPartitions(), target);
    EXPECT_EQ(rdd.collect(), data) << "target=" << target;
    auto parts = rdd.glom().collect();
    ASSERT_EQ(parts.size(), static_cast<std::size_t>(target));
    EXPECT_EQ(flatten(parts), data);
    // Each coalesced partition is a union of whole parent partitions.
    const auto parent = sparkSlices(data, 8);
    std::set<int> parent_starts;
    for (const auto& p : parent) parent_starts.insert(p.front());
    for (const auto& p : parts) {
      ASSERT_FALSE(p.empty());
      EXPECT_TRUE(parent_starts.count(p.front()) == 1)
          << "partition starts mid-slice at " << p.front();
    }
  }
}

TEST_P(PartitionOpsTest, CoalesceWithEmptyPartitions) {
  const std::vector<std::vector<int>> parts{{}, {1, 2}, {}, {}, {3}, {4, 5, 6}, {}};
  auto rdd = sc.fromPartitions(parts).coalesce(3);
  EXPECT_EQ(rdd.getNumPartitions(), 3);
  EXPECT_EQ(rdd.collect(), flatten(parts));
}

TEST_P(PartitionOpsTest, CoalesceToMoreWithoutShuffleKeepsCount) {
  const auto data = iota(100);
  auto rdd = sc.parallelize(data, 3).coalesce(10);
  EXPECT_EQ(rdd.getNumPartitions(), 3);
  EXPECT_EQ(rdd.collect(), data);
  EXPECT_EQ(rdd.glom().collect(), sparkSlices(data, 3));
  auto same = sc.parallelize(data, 3).coalesce(3);
  EXPECT_EQ(same.getNumPartitions(), 3);
  EXPECT_EQ(same.collect(), data);
}

TEST_P(PartitionOpsTest, CoalesceWithShuffleCanGrow) {
  const auto data = iota(500);
  auto rdd = sc.parallelize(data, 2).coalesce(7, true);
  EXPECT_EQ(rdd.getNumPartitions(), 7);
  EXPECT_EQ(sorted(rdd.collect()), data);
}

TEST_P(PartitionOpsTest, CoalesceRejectsNonPositive) {
  auto rdd = sc.parallelize(iota(10), 2);
  EXPECT_THROW(rdd.coalesce(0), sluice::InvalidArgumentError);
  EXPECT_THROW(rdd.coalesce(-3), sluice::InvalidArgumentError);
}

TEST_P(PartitionOpsTest, RepartitionKeepsMultisetAndBalances) {
  std::mt19937 rng(1234);
  std::vector<int> data(10'000);
  for (auto& x : data) x = static_cast<int>(rng() % 50);  // many duplicates
  for (int target : {1, 3, 4, 9}) {
    auto rdd = sc.parallelize(data, 5).repartition(target);
    EXPECT_EQ(rdd.getNumPartitions(), target);
    EXPECT_EQ(rdd.count(), static_cast<long long>(data.size()));
    EXPECT_EQ(sorted(rdd.collect()), sorted(data)) << "target=" << target;
    auto parts = rdd.glom().collect();
    ASSERT_EQ(parts.size(), static_cast<std::size_t>(target));
    std::size_t lo = data.size(), hi = 0;
    for (const auto& p : parts) {
      lo = std::min(lo, p.size());
      hi = std::max(hi, p.size());
    }
    // Round-robin from each of the 5 input partitions: sizes differ by at most 5.
    EXPECT_LE(hi - lo, 5U) << "target=" << target << " min=" << lo << " max=" << hi;
  }
}

TEST_P(PartitionOpsTest, RepartitionBalancesSkewedInput) {
  std::vector<std::vector<int>> parts(6);
  parts[2] = iota(9'001);
  parts[4] = {-1, -2};
  auto rdd = sc.fromPartitions(parts).repartition(4);
  EXPECT_EQ(rdd.getNumPartitions(), 4);
  EXPECT_EQ(sorted(rdd.collect()), sorted(flatten(parts)));
  auto sizes = rdd.glom().map([](std::vector<int> p) { return p.size(); }).collect();
  ASSERT_EQ(sizes.size(), 4U);
  const auto [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
  EXPECT_LE(*hi - *lo, 2U);
}

TEST_P(PartitionOpsTest, RepartitionToMoreThanElements) {
  auto rdd = sc.parallelize(std::vector<int>{1, 2, 3}, 1).repartition(8);
  EXPECT_EQ(rdd.getNumPartitions(), 8);
  EXPECT_EQ(sorted(rdd.collect()), (std::vector<int>{1, 2, 3}));
}

TEST_P(PartitionOpsTest, ZipWithIndexNumbersInElementOrder) {
  std::vector<std::string> data;
  for (int i = 0; i < 1000; ++i) data.push_back("e" + std::to_string(i * 13 % 1000));
  for (int slices : {1, 3, 7}) {
    auto rdd = sc.parallelize(data, slices).zipWithIndex();
    std::vector<std::pair<std::string, long long>> expected;
    for (std::size_t i = 0; i < data.size(); ++i) {
      expected.emplace_back(data[i], static_cast<long long>(i));
    }
    EXPECT_EQ(rdd.collect(), expected) << "slices=" << slices;
    EXPECT_EQ(rdd.getNumPartitions(), slices);
  }
}

TEST_P(PartitionOpsTest, ZipWithIndexAcrossEmptyPartitions) {
  const std::vector<std::vector<int>> parts{{}, {10, 11}, {}, {}, {12}, {13, 14, 15}, {}};
  auto rdd = sc.fromPartitions(parts).zipWithIndex();
  std::vector<std::pair<int, long long>> expected;
  long long i = 0;
  for (int x : flatten(parts)) expected.emplace_back(x, i++);
  EXPECT_EQ(rdd.collect(), expected);
  EXPECT_TRUE(sc.emptyRDD<int>().zipWithIndex().collect().empty());
  EXPECT_TRUE(sc.fromPartitions(std::vector<std::vector<int>>(4)).zipWithIndex().collect().empty());
}

TEST_P(PartitionOpsTest, ZipWithIndexAfterFilter) {
  const auto data = iota(5000);
  auto rdd = sc.parallelize(data, 6)
                 .filter([](const int& x) { return x % 3 == 0 || x > 4900; })
                 .zipWithIndex();
  std::vector<std::pair<int, long long>> expected;
  long long i = 0;
  for (int x : data) {
    if (x % 3 == 0 || x > 4900) expected.emplace_back(x, i++);
  }
  EXPECT_EQ(rdd.collect(), expected);
}

TEST_P(PartitionOpsTest, SampleFractionZeroGivesNothing) {
  auto rdd = sc.parallelize(iota(10'000), 4);
  EXPECT_TRUE(rdd.sample(false, 0.0, 7).collect().empty());
  EXPECT_TRUE(rdd.sample(true, 0.0, 7).collect().empty());
}

TEST_P(PartitionOpsTest, SampleFractionOneWithoutReplacementGivesAll) {
  const auto data = iota(10'000);
  auto rdd = sc.parallelize(data, 4);
  EXPECT_EQ(rdd.sample(false, 1.0, 99).collect(), data);
}

TEST_P(PartitionOpsTest, SampleIsDeterministicForASeed) {
  auto rdd = sc.parallelize(iota(20'000), 5);
  for (bool with_replacement : {false, true}) {
    auto a = rdd.sample(with_replacement, 0.25, 2024).collect();
    auto b = rdd.sample(with_replacement, 0.25, 2024).collect();
    EXPECT_EQ(a, b) << "with_replacement=" << with_replacement;
    auto again = rdd.sample(with_replacement, 0.25, 2024);
    EXPECT_EQ(again.collect(), again.collect());
    auto other = rdd.sample(with_replacement, 0.25, 2025).collect();
    EXPECT_NE(a, other) << "with_replacement=" << with_replacement;
  }
}

TEST_P(PartitionOpsTest, SampleWithoutReplacementIsOrderedSubset) {
  const int n = 100'000;
  const auto data = iota(n);
  auto kept = sc.parallelize(data).sample(false, 0.3, 17).collect();
  // Mean 30000, standard deviation ~145: a bound of +-1500 is over 10 sigma.
  EXPECT_GT(kept.size(), 28'500U);
  EXPECT_LT(kept.size(), 31'500U);
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  EXPECT_TRUE(std::adjacent_find(kept.begin(), kept.end()) == kept.end()) << "duplicate element";
  EXPECT_TRUE(std::all_of(kept.begin(), kept.end(), [n](int x) { return x >= 0 && x < n; }));
}

TEST_P(PartitionOpsTest, SampleWithReplacementSize) {
  const int n = 100'000;
  const auto data = iota(n);
  for (double fraction : {0.5, 2.0}) {
    auto kept = sc.parallelize(data).sample(true, fraction, 5).collect();
    // Poisson(fraction) copies per element: mean n * fraction, sd sqrt(n * fraction) <= 448.
    const double expected = n * fraction;
    EXPECT_GT(static_cast<double>(kept.size()), expected - 5000) << "fraction=" << fraction;
    EXPECT_LT(static_cast<double>(kept.size()), expected + 5000) << "fraction=" << fraction;
    EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
    EXPECT_TRUE(std::all_of(kept.begin(), kept.end(), [n](int x) { return x >= 0 && x < n; }));
  }
}

TEST_P(PartitionOpsTest, SampleRejectsBadFractions) {
  auto rdd = sc.parallelize(iota(10), 2);
  EXPECT_THROW(rdd.sample(false, -0.1), sluice::InvalidArgumentError);
  EXPECT_THROW(rdd.sample(false, 1.5), sluice::InvalidArgumentError);
  EXPECT_THROW(rdd.sample(true, -1.0), sluice::InvalidArgumentError);
}

SLUICE_ALL_MASTERS(SourceTest);
SLUICE_ALL_MASTERS(NarrowOpsTest);
SLUICE_ALL_MASTERS(PartitionOpsTest);

}  // namespace
