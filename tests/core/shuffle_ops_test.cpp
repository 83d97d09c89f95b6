// Keyed aggregations and repartitioning (reduceByKey, groupByKey, combineByKey, aggregateByKey,
// foldByKey, distinct, partitionBy, repartition), checked against answers computed with the
// standard library under local[1], local[2] and local[4].
#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sluice/sluice.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"

namespace {

using sluice::testing_util::sorted;
using IntPair = std::pair<int, long long>;
using StringPair = std::pair<std::string, long long>;

class ShuffleOpsTest : public sluice::testing_util::MasterTest {};

// `n` pairs with keys uniform in [0, num_keys) and values in [0, 1000).
std::vector<IntPair> randomIntPairs(std::size_t n, int num_keys, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<IntPair> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    int key = static_cast<int>(rng() % static_cast<std::uint64_t>(num_keys));
    out.emplace_back(key, static_cast<long long>(rng() % 1000));
  }
  return out;
}

std::vector<StringPair> randomStringPairs(std::size_t n, int num_keys, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<StringPair> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::string key = "key-" + std::to_string(rng() % static_cast<std::uint64_t>(num_keys));
    out.emplace_back(std::move(key), static_cast<long long>(rng() % 1000));
  }
  return out;
}

// 90% of the records carry key 0; the rest spread over [1, 10000].
std::vector<IntPair> skewedPairs(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<IntPair> out;
  out.reserve(n);
  const std::size_t hot = n * 9 / 10;
  for (std::size_t i = 0; i < n; ++i) {
    int key = i < hot ? 0 : 1 + static_cast<int>(rng() % 10000);
    out.emplace_back(key, static_cast<long long>(rng() % 1000));
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

template <class K, class V>
std::vector<std::pair<K, V>> sumByKey(const std::vector<std::pair<K, V>>& data) {
  std::map<K, V> sums;
  for (const auto& [k, v] : data) sums[k] += v;
  return {sums.begin(), sums.end()};
}

template <class K, class V>
std::vector<std::pair<K, std::vector<V>>> groupSorted(const std::vector<std::pair<K, V>>& data) {
  std::map<K, std::vector<V>> groups;
  for (const auto& [k, v] : data) groups[k].push_back(v);
  std::vector<std::pair<K, std::vector<V>>> out;
  for (auto& [k, vs] : groups) {
    std::sort(vs.begin(), vs.end());
    out.emplace_back(k, std::move(vs));
  }
  return out;
}

// Sorts each group's values and then the groups, so that groupByKey output compares as multisets.
template <class K, class V>
std::vector<std::pair<K, std::vector<V>>> normalizeGroups(
    std::vector<std::pair<K, std::vector<V>>> groups) {
  for (auto& g : groups) std::sort(g.second.begin(), g.second.end());
  std::sort(groups.begin(), groups.end());
  return groups;
}

// Checks that `rdd` has `n` partitions and that every pair sits in partition partitionOf(key, n);
// with `unique_keys`, also that no key appears twice (so each key is in exactly one partition).
template <class T>
void expectHashPlaced(const sluice::RDD<T>& rdd, int n, bool unique_keys) {
  using K = typename T::first_type;
  ASSERT_EQ(rdd.getNumPartitions(), n);
  auto parts = rdd.glom().collect();
  ASSERT_EQ(static_cast<int>(parts.size()), n);
  std::size_t misplaced = 0;
  std::size_t repeated = 0;
  std::set<K> seen;
  for (int p = 0; p < n; ++p) {
    for (const auto& kv : parts[static_cast<std::size_t>(p)]) {
      if (sluice::partitionOf(kv.first, n) != p) ++misplaced;
      if (!seen.insert(kv.first).second) ++repeated;
    }
  }
  EXPECT_EQ(misplaced, 0u) << "pairs outside partitionOf(key, " << n << ")";
  if (unique_keys) EXPECT_EQ(repeated, 0u) << "keys present more than once";
}

template <class T>
std::set<typename T::first_type> keysOf(const std::vector<T>& partition) {
  std::set<typename T::first_type> keys;
  for (const auto& kv : partition) keys.insert(kv.first);
  return keys;
}

// Runs `action` and expects a JobFailedError whose message contains `message`.
template <class F>
void expectJobFailure(F action, const std::string& message) {
  try {
    action();
    ADD_FAILURE() << "expected sluice::JobFailedError carrying \"" << message << "\"";
  } catch (const sluice::JobFailedError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    ASSERT_TRUE(e.cause() != nullptr);
    try {
      std::rethrow_exception(e.cause());
    } catch (const std::runtime_error& cause) {
      EXPECT_EQ(std::string(cause.what()), message);
    }
  }
}

// ---- reduceByKey ----

TEST_P(ShuffleOpsTest, ReduceByKeyDefaultPartitionsIntKeys) {
  auto data = randomIntPairs(50000, 1000, 1);
  auto reduced = sc.parallelize(data, 5).reduceByKey(std::plus<>());
  EXPECT_EQ(reduced.getNumPartitions(), sc.defaultParallelism());
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
  expectHashPlaced(reduced, sc.defaultParallelism(), true);
}

TEST_P(ShuffleOpsTest, ReduceByKeyExplicitPartitions) {
  auto data = randomIntPairs(30000, 700, 2);
  auto expected = sumByKey(data);
  auto pairs = sc.parallelize(data, 6);
  for (int n : {1, 2, 3, 7, 16}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto reduced = pairs.reduceByKey([](long long a, long long b) { return a + b; }, n);
    EXPECT_EQ(reduced.getNumPartitions(), n);
    EXPECT_EQ(sorted(reduced.collect()), expected);
    expectHashPlaced(reduced, n, true);
  }
}

TEST_P(ShuffleOpsTest, ReduceByKeyStringKeys) {
  auto data = randomStringPairs(40000, 2000, 3);
  auto expected = sumByKey(data);
  for (int n : {-1, 1, 5}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto reduced = sc.parallelize(data, 4).reduceByKey(std::plus<>(), n);
    int want = n < 0 ? sc.defaultParallelism() : n;
    EXPECT_EQ(sorted(reduced.collect()), expected);
    expectHashPlaced(reduced, want, true);
  }
}

TEST_P(ShuffleOpsTest, ReduceByKeyMax) {
  auto data = randomIntPairs(20000, 300, 4);
  std::map<int, long long> expected;
  for (const auto& [k, v] : data) {
    auto [it, inserted] = expected.emplace(k, v);
    if (!inserted) it->second = std::max(it->second, v);
  }
  auto reduced = sc.parallelize(data, 7).reduceByKey(
      [](long long a, long long b) { return std::max(a, b); }, 3);
  EXPECT_EQ(sorted(reduced.collect()), std::vector<IntPair>(expected.begin(), expected.end()));
}

TEST_P(ShuffleOpsTest, ReduceByKeyMillionElements) {
  auto data = randomIntPairs(1000000, 50000, 5);
  auto reduced = sc.parallelize(data, 8).reduceByKey(std::plus<>(), 6);
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
  expectHashPlaced(reduced, 6, true);
}

TEST_P(ShuffleOpsTest, ReduceByKeyEveryRecordUniqueKey) {
  std::vector<IntPair> data;
  for (int i = 0; i < 10000; ++i) data.emplace_back(i * 7 - 30000, i);
  auto reduced = sc.parallelize(data, 4).reduceByKey(std::plus<>(), 3);
  EXPECT_EQ(sorted(reduced.collect()), sorted(data));
  expectHashPlaced(reduced, 3, true);
}

// ---- skew ----

TEST_P(ShuffleOpsTest, SkewedKeyReduceAndGroup) {
  auto data = skewedPairs(1000000, 6);
  auto pairs = sc.parallelize(data, 8);

  auto reduced = pairs.reduceByKey(std::plus<>(), 4);
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
  expectHashPlaced(reduced, 4, true);

  auto groups = normalizeGroups(pairs.groupByKey(4).collect());
  auto expected = groupSorted(data);
  ASSERT_EQ(groups.size(), expected.size());
  ASSERT_FALSE(groups.empty());
  EXPECT_EQ(groups.front().first, 0);
  EXPECT_EQ(groups.front().second.size(), 900000u);
  EXPECT_TRUE(groups == expected);

  auto counts = pairs.countByKey();
  EXPECT_EQ(counts[0], 900000);
}

TEST_P(ShuffleOpsTest, SkewedKeyDistinctPartitionByRepartition) {
  auto data = skewedPairs(1000000, 7);
  auto keys = sc.parallelize(data, 8).keys();
  std::set<int> distinct_keys;
  for (const auto& kv : data) distinct_keys.insert(kv.first);
  EXPECT_EQ(sorted(keys.distinct(5).collect()),
            std::vector<int>(distinct_keys.begin(), distinct_keys.end()));

  auto parted = sc.parallelize(data, 8).partitionBy(3);
  expectHashPlaced(parted, 3, false);
  EXPECT_EQ(parted.count(), 1000000);

  // Round-robin repartitioning balances input held in one partition: the single map task deals
  // its records out in turn, so partition sizes differ by at most 1.
  auto balanced = sc.fromPartitions<IntPair>({data}).repartition(4);
  ASSERT_EQ(balanced.getNumPartitions(), 4);
  auto parts = balanced.glom().collect();
  std::size_t lo = SIZE_MAX, hi = 0;
  for (const auto& p : parts) {
    lo = std::min(lo, p.size());
    hi = std::max(hi, p.size());
  }
  EXPECT_LE(hi - lo, 1u);
}

// ---- groupByKey ----

TEST_P(ShuffleOpsTest, GroupByKeyValuesAsMultisets) {
  auto data = randomIntPairs(30000, 500, 8);
  auto expected = groupSorted(data);
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto grouped = sc.parallelize(data, 5).groupByKey(n);
    int want = n < 0 ? sc.defaultParallelism() : n;
    EXPECT_EQ(grouped.getNumPartitions(), want);
    EXPECT_TRUE(normalizeGroups(grouped.collect()) == expected);
    expectHashPlaced(grouped, want, true);
  }
}

TEST_P(ShuffleOpsTest, GroupByKeyStringKeysWithDuplicateValues) {
  std::vector<std::pair<std::string, int>> data;
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20000; ++i) {
    data.emplace_back(std::string(1 + rng() % 6, static_cast<char>('a' + rng() % 4)),
                      static_cast<int>(rng() % 5));
  }
  auto grouped = sc.parallelize(data, 3).groupByKey(4);
  EXPECT_TRUE(normalizeGroups(grouped.collect()) == groupSorted(data));
  expectHashPlaced(grouped, 4, true);
}

// ---- combineByKey, aggregateByKey, foldByKey ----

TEST_P(ShuffleOpsTest, CombineByKeyAverage) {
  using SumCount = std::pair<long long, long long>;
  auto data = randomIntPairs(40000, 400, 10);
  std::map<int, SumCount> totals;
  for (const auto& [k, v] : data) {
    totals[k].first += v;
    totals[k].second += 1;
  }
  std::vector<std::pair<int, double>> expected;
  for (const auto& [k, sc_pair] : totals) {
    expected.emplace_back(k,
                          static_cast<double>(sc_pair.first) / static_cast<double>(sc_pair.second));
  }
  for (int n : {-1, 1, 4}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto combined = sc.parallelize(data, 6).combineByKey(
        [](long long v) {
          return SumCount{v, 1};
        },
        [](SumCount c, long long v) {
          return SumCount{c.first + v, c.second + 1};
        },
        [](SumCount a, SumCount b) {
          return SumCount{a.first + b.first, a.second + b.second};
        },
        n);
    int want = n < 0 ? sc.defaultParallelism() : n;
    EXPECT_EQ(combined.getNumPartitions(), want);
    expectHashPlaced(combined, want, true);
    auto averages =
        sorted(combined
                   .mapValues([](SumCount c) {
                     return static_cast<double>(c.first) / static_cast<double>(c.second);
                   })
                   .collect());
    ASSERT_EQ(averages.size(), expected.size());
    for (std::size_t i = 0; i < averages.size(); ++i) {
      EXPECT_EQ(averages[i].first, expected[i].first);
      EXPECT_DOUBLE_EQ(averages[i].second, expected[i].second);
    }
  }
}

TEST_P(ShuffleOpsTest, CombineByKeyStringKeysToSortedLists) {
  auto data = randomStringPairs(10000, 100, 11);
  auto combined =
      sc.parallelize(data, 4).combineByKey([](long long v) { return std::vector<long long>{v}; },
                                           [](std::vector<long long> c, long long v) {
                                             c.push_back(v);
                                             return c;
                                           },
                                           [](std::vector<long long> a, std::vector<long long> b) {
                                             a.insert(a.end(), b.begin(), b.end());
                                             return a;
                                           },
                                           3);
  EXPECT_TRUE(normalizeGroups(combined.collect()) == groupSorted(data));
}

TEST_P(ShuffleOpsTest, AggregateByKeyDistinctValuesAndMax) {
  auto data = randomIntPairs(30000, 300, 12);
  std::map<int, std::set<long long>> value_sets;
  for (const auto& [k, v] : data) value_sets[k].insert(v);

  for (int n : {-1, 2, 5}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto sets = sc.parallelize(data, 4).aggregateByKey(
        std::set<long long>{},
        [](std::set<long long> s, long long v) {
          s.insert(v);
          return s;
        },
        [](std::set<long long> a, std::set<long long> b) {
          a.insert(b.begin(), b.end());
          return a;
        },
        n);
    int want = n < 0 ? sc.defaultParallelism() : n;
    expectHashPlaced(sets, want, true);
    using KeySet = std::pair<int, std::set<long long>>;
    EXPECT_TRUE(sorted(sets.collect()) ==
                std::vector<KeySet>(value_sets.begin(), value_sets.end()));

    // A zero value that is neutral for max: the result is each key's largest value.
    auto maxes = sc.parallelize(data, 4).aggregateByKey(
        LLONG_MIN, [](long long m, long long v) { return std::max(m, v); },
        [](long long a, long long b) { return std::max(a, b); }, n);
    std::vector<IntPair> expected_max;
    for (const auto& [k, s] : value_sets) expected_max.emplace_back(k, *s.rbegin());
    EXPECT_EQ(sorted(maxes.collect()), expected_max);
  }
}

TEST_P(ShuffleOpsTest, AggregateByKeyChangesValueType) {
  // (key, string) -> (key, total length), U differs from V.
  std::vector<std::pair<int, std::string>> data;
  std::mt19937_64 rng(13);
  for (int i = 0; i < 5000; ++i) {
    data.emplace_back(static_cast<int>(rng() % 50), std::string(rng() % 10, 'x'));
  }
  std::map<int, std::size_t> expected;
  for (const auto& [k, s] : data) expected[k] += s.size();
  auto lengths = sc.parallelize(data, 3).aggregateByKey(
      std::size_t{0}, [](std::size_t n, const std::string& s) { return n + s.size(); },
      std::plus<>(), 4);
  EXPECT_EQ(sorted(lengths.collect()),
            (std::vector<std::pair<int, std::size_t>>(expected.begin(), expected.end())));
}

TEST_P(ShuffleOpsTest, FoldByKeyWithNeutralZero) {
  auto data = randomIntPairs(30000, 250, 14);
  for (int n : {-1, 1, 6}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto folded = sc.parallelize(data, 5).foldByKey(0LL, std::plus<>(), n);
    int want = n < 0 ? sc.defaultParallelism() : n;
    EXPECT_EQ(sorted(folded.collect()), sumByKey(data));
    expectHashPlaced(folded, want, true);
  }
  // Products modulo a prime, with the neutral zero 1.
  constexpr long long kPrime = 1000003;
  std::map<int, long long> products;
  for (const auto& [k, v] : data) {
    auto [it, inserted] = products.emplace(k, 1);
    it->second = it->second * (v + 1) % kPrime;
  }
  auto folded = sc.parallelize(data, 5)
                    .mapValues([](long long v) { return v + 1; })
                    .foldByKey(
                        1LL, [](long long a, long long b) { return a * b % kPrime; }, 3);
  EXPECT_EQ(sorted(folded.collect()), std::vector<IntPair>(products.begin(), products.end()));
}

TEST_P(ShuffleOpsTest, FoldByKeyStringKeys) {
  auto data = randomStringPairs(8000, 60, 15);
  std::map<std::string, long long> expected;
  for (const auto& [k, v] : data) expected[k] += v;
  auto folded = sc.parallelize(data, 4).foldByKey(0LL, std::plus<>(), 2);
  EXPECT_EQ(sorted(folded.collect()), std::vector<StringPair>(expected.begin(), expected.end()));
  expectHashPlaced(folded, 2, true);
}

// ---- distinct ----

TEST_P(ShuffleOpsTest, DistinctInts) {
  std::mt19937_64 rng(16);
  std::vector<int> data;
  for (int i = 0; i < 50000; ++i) data.push_back(static_cast<int>(rng() % 3000) - 1500);
  std::set<int> expected(data.begin(), data.end());
  for (int n : {-1, 1, 4, 9}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto distinct = sc.parallelize(data, 6).distinct(n);
    EXPECT_EQ(distinct.getNumPartitions(), n < 0 ? sc.defaultParallelism() : n);
    EXPECT_EQ(sorted(distinct.collect()), std::vector<int>(expected.begin(), expected.end()));
  }
}

TEST_P(ShuffleOpsTest, DistinctStringsAndPairs) {
  std::mt19937_64 rng(17);
  std::vector<std::string> words;
  for (int i = 0; i < 20000; ++i) words.push_back("w" + std::to_string(rng() % 777));
  std::set<std::string> expected(words.begin(), words.end());
  EXPECT_EQ(sorted(sc.parallelize(words, 5).distinct().collect()),
            std::vector<std::string>(expected.begin(), expected.end()));

  auto pairs = randomIntPairs(20000, 20, 18);
  std::set<IntPair> expected_pairs(pairs.begin(), pairs.end());
  EXPECT_EQ(sorted(sc.parallelize(pairs, 3).distinct(2).collect()),
            std::vector<IntPair>(expected_pairs.begin(), expected_pairs.end()));
}

// ---- partitionBy ----

TEST_P(ShuffleOpsTest, PartitionByPlacesKeysAndKeepsEveryRecord) {
  auto data = randomIntPairs(30000, 1000, 19);
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto parted = sc.parallelize(data, 5).partitionBy(n);
    EXPECT_EQ(parted.getNumPartitions(), n);
    EXPECT_EQ(sorted(parted.collect()), sorted(data));
    expectHashPlaced(parted, n, false);
  }
}

TEST_P(ShuffleOpsTest, PartitionByStringKeys) {
  auto data = randomStringPairs(20000, 500, 20);
  auto parted = sc.parallelize(data, 4).partitionBy(5);
  EXPECT_EQ(sorted(parted.collect()), sorted(data));
  expectHashPlaced(parted, 5, false);
}

TEST_P(ShuffleOpsTest, ReduceByKeyAfterPartitionByKeepsPartitioning) {
  auto data = randomIntPairs(30000, 800, 21);
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto parted = sc.parallelize(data, 5).partitionBy(n);
    auto reduced = parted.reduceByKey(std::plus<>(), n);
    EXPECT_EQ(reduced.getNumPartitions(), n);
    EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
    auto before = parted.glom().collect();
    auto after = reduced.glom().collect();
    ASSERT_EQ(before.size(), after.size());
    for (std::size_t p = 0; p < before.size(); ++p) {
      EXPECT_EQ(keysOf(before[p]), keysOf(after[p])) << "partition " << p;
    }
    expectHashPlaced(reduced, n, true);
    // partitionBy with the same n again changes nothing either.
    auto again = parted.partitionBy(n);
    EXPECT_EQ(again.glom().collect(), before);

    // Aggregations with the same n on the partitioned RDD stay correct and in place.
    auto grouped = parted.groupByKey(n);
    EXPECT_TRUE(normalizeGroups(grouped.collect()) == groupSorted(data));
    expectHashPlaced(grouped, n, true);
    auto filtered = parted.filter([](const IntPair& kv) { return kv.second % 2 == 0; });
    std::vector<IntPair> even;
    for (const auto& kv : data) {
      if (kv.second % 2 == 0) even.push_back(kv);
    }
    auto even_sums = filtered.reduceByKey(std::plus<>(), n);
    EXPECT_EQ(sorted(even_sums.collect()), sumByKey(even));
    expectHashPlaced(even_sums, n, true);
  }
}

TEST_P(ShuffleOpsTest, ReduceByKeyAfterPartitionByWithOtherCount) {
  auto data = randomIntPairs(20000, 600, 22);
  auto parted = sc.parallelize(data, 4).partitionBy(3);
  for (int n : {1, 2, 5}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto reduced = parted.reduceByKey(std::plus<>(), n);
    EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
    expectHashPlaced(reduced, n, true);
  }
}

TEST_P(ShuffleOpsTest, MapAfterPartitionByForgetsPartitioning) {
  // map may change keys, so a later reduceByKey must shuffle again.
  auto data = randomIntPairs(20000, 500, 23);
  auto parted = sc.parallelize(data, 4).partitionBy(3);
  auto rekeyed = parted.map([](IntPair kv) { return IntPair(kv.first / 7, kv.second); });
  std::vector<IntPair> expected_input;
  for (const auto& [k, v] : data) expected_input.emplace_back(k / 7, v);
  auto reduced = rekeyed.reduceByKey(std::plus<>(), 3);
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(expected_input));
  expectHashPlaced(reduced, 3, true);
}

// ---- repartition ----

TEST_P(ShuffleOpsTest, RepartitionKeepsElementsAndBalances) {
  std::mt19937_64 rng(24);
  std::vector<long long> data;
  for (int i = 0; i < 40000; ++i) data.push_back(static_cast<long long>(rng() % 100000));
  auto source = sc.parallelize(data, 5);
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto re = source.repartition(n);
    int want = n < 0 ? sc.defaultParallelism() : n;
    EXPECT_EQ(re.getNumPartitions(), want);
    EXPECT_EQ(sorted(re.collect()), sorted(data));
    auto parts = re.glom().collect();
    ASSERT_EQ(static_cast<int>(parts.size()), want);
    std::size_t lo = SIZE_MAX, hi = 0;
    for (const auto& p : parts) {
      lo = std::min(lo, p.size());
      hi = std::max(hi, p.size());
    }
    EXPECT_LE(hi - lo, 5u);
  }
}

TEST_P(ShuffleOpsTest, RepartitionStringsFromUnevenPartitions) {
  std::vector<std::vector<std::string>> parts(6);
  std::vector<std::string> all;
  for (int i = 0; i < 3000; ++i) {
    std::string s = "s" + std::to_string(i % 1234);
    parts[i < 2900 ? 0 : 4].push_back(s);
    all.push_back(s);
  }
  auto re = sc.fromPartitions(parts).repartition(4);
  EXPECT_EQ(sorted(re.collect()), sorted(all));
  auto glommed = re.glom().collect();
  ASSERT_EQ(glommed.size(), 4u);
  for (const auto& p : glommed) EXPECT_NEAR(static_cast<double>(p.size()), 750.0, 2.0);
}

// ---- empty inputs ----

// Every wide operation of this file on an empty input gives an empty result with the requested
// number of partitions.
template <class P>
void expectEmptyThroughWideOps(const sluice::Context& sc, const sluice::RDD<P>& empty) {
  using V = typename P::second_type;
  const int def = sc.defaultParallelism();
  auto reduced = empty.reduceByKey(std::plus<>());
  EXPECT_EQ(reduced.getNumPartitions(), def);
  EXPECT_TRUE(reduced.collect().empty());
  EXPECT_EQ(empty.reduceByKey(std::plus<>(), 5).getNumPartitions(), 5);
  EXPECT_EQ(empty.reduceByKey(std::plus<>(), 5).count(), 0);
  EXPECT_TRUE(empty.groupByKey().collect().empty());
  EXPECT_EQ(empty.groupByKey(3).getNumPartitions(), 3);
  EXPECT_TRUE(empty.groupByKey(3).collect().empty());
  EXPECT_TRUE(empty
                  .combineByKey([](V v) { return std::vector<V>{v}; },
                                [](std::vector<V> c, V v) {
                                  c.push_back(v);
                                  return c;
                                },
                                [](std::vector<V> a, std::vector<V>) { return a; }, 2)
                  .collect()
                  .empty());
  EXPECT_TRUE(empty.aggregateByKey(V{}, std::plus<>(), std::plus<>(), 4).collect().empty());
  EXPECT_TRUE(empty.foldByKey(V{}, std::plus<>()).collect().empty());
  EXPECT_TRUE(empty.distinct().collect().empty());
  EXPECT_EQ(empty.distinct(6).getNumPartitions(), 6);
  EXPECT_TRUE(empty.keys().distinct(2).collect().empty());
  auto parted = empty.partitionBy(3);
  EXPECT_EQ(parted.getNumPartitions(), 3);
  EXPECT_TRUE(parted.collect().empty());
  EXPECT_EQ(parted.glom().collect(), std::vector<std::vector<P>>(3));
  EXPECT_TRUE(parted.reduceByKey(std::plus<>(), 3).collect().empty());
  auto re = empty.repartition(4);
  EXPECT_EQ(re.getNumPartitions(), 4);
  EXPECT_TRUE(re.collect().empty());
  EXPECT_EQ(empty.countByKey().size(), 0u);
}

TEST_P(ShuffleOpsTest, EmptyRddsThroughEveryWideOp) {
  {
    SCOPED_TRACE("emptyRDD");
    expectEmptyThroughWideOps(sc, sc.emptyRDD<IntPair>());
  }
  {
    SCOPED_TRACE("parallelize of nothing");
    expectEmptyThroughWideOps(sc, sc.parallelize(std::vector<IntPair>{}, 3));
  }
  {
    SCOPED_TRACE("only empty partitions");
    expectEmptyThroughWideOps(sc, sc.fromPartitions<StringPair>({{}, {}, {}, {}, {}}));
  }
  {
    SCOPED_TRACE("filtered to nothing");
    auto data = randomIntPairs(1000, 10, 25);
    expectEmptyThroughWideOps(
        sc, sc.parallelize(data, 4).filter([](const IntPair& kv) { return kv.first < 0; }));
  }
}

TEST_P(ShuffleOpsTest, EmptyPartitionsAmongFullOnes) {
  auto data = randomIntPairs(6000, 100, 26);
  std::vector<std::vector<IntPair>> parts(7);
  parts[1].assign(data.begin(), data.begin() + 2000);
  parts[4].assign(data.begin() + 2000, data.begin() + 5999);
  parts[6].assign(data.begin() + 5999, data.end());
  auto rdd = sc.fromPartitions(parts);
  ASSERT_EQ(rdd.getNumPartitions(), 7);

  auto reduced = rdd.reduceByKey(std::plus<>(), 3);
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
  expectHashPlaced(reduced, 3, true);
  EXPECT_TRUE(normalizeGroups(rdd.groupByKey().collect()) == groupSorted(data));
  EXPECT_EQ(sorted(rdd.foldByKey(0LL, std::plus<>(), 2).collect()), sumByKey(data));
  EXPECT_EQ(sorted(rdd.aggregateByKey(0LL, std::plus<>(), std::plus<>(), 5).collect()),
            sumByKey(data));
  std::set<IntPair> unique(data.begin(), data.end());
  EXPECT_EQ(sorted(rdd.distinct(4).collect()), std::vector<IntPair>(unique.begin(), unique.end()));
  auto parted = rdd.partitionBy(8);
  EXPECT_EQ(sorted(parted.collect()), sorted(data));
  expectHashPlaced(parted, 8, false);
  auto re = rdd.repartition(5);
  EXPECT_EQ(sorted(re.collect()), sorted(data));
  // A shuffle into more partitions than keys leaves some output partitions empty.
  auto few = sc.fromPartitions<IntPair>({{}, {{1, 1}, {2, 2}}, {}, {{1, 10}}});
  auto few_reduced = few.reduceByKey(std::plus<>(), 16);
  EXPECT_EQ(sorted(few_reduced.collect()), (std::vector<IntPair>{{1, 11}, {2, 2}}));
  expectHashPlaced(few_reduced, 16, true);
}

// ---- errors ----

TEST_P(ShuffleOpsTest, ReduceFunctionExceptionFailsJob) {
  // Repeated keys inside one partition: the function runs in the map-side combine.
  std::vector<IntPair> same_key(100, IntPair(7, 1));
  auto throwing = [](long long, long long) -> long long {
    throw std::runtime_error("reduce exploded");
  };
  expectJobFailure([&] { sc.parallelize(same_key, 2).reduceByKey(throwing).collect(); },
                   "reduce exploded");
  // One record per key in each partition: the function runs only when reducers merge.
  auto spread = sc.fromPartitions<IntPair>({{{1, 1}}, {{1, 2}}, {{1, 3}}});
  expectJobFailure([&] { spread.reduceByKey(throwing, 2).collect(); }, "reduce exploded");
  // The same through a partitioned parent (no shuffle).
  expectJobFailure(
      [&] { sc.parallelize(same_key, 2).partitionBy(3).reduceByKey(throwing, 3).count(); },
      "reduce exploded");
  // The Context stays usable after the failure.
  EXPECT_EQ(sorted(sc.parallelize(same_key, 2).reduceByKey(std::plus<>()).collect()),
            (std::vector<IntPair>{{7, 100}}));
}

TEST_P(ShuffleOpsTest, CombinerFunctionExceptionsFailJob) {
  auto data = randomIntPairs(1000, 10, 27);
  auto rdd = sc.parallelize(data, 3);
  expectJobFailure(
      [&] {
        rdd.combineByKey([](long long) -> long long { throw std::runtime_error("create failed"); },
                         std::plus<>(), std::plus<>())
            .collect();
      },
      "create failed");
  expectJobFailure(
      [&] {
        rdd.foldByKey(
               0LL,
               [](long long, long long) -> long long { throw std::runtime_error("fold failed"); })
            .collect();
      },
      "fold failed");
}

TEST_P(ShuffleOpsTest, InvalidPartitionCountsThrow) {
  auto rdd = sc.parallelize(randomIntPairs(100, 10, 28), 2);
  for (int bad : {0, -2, -100}) {
    SCOPED_TRACE("numPartitions " + std::to_string(bad));
    EXPECT_THROW(rdd.reduceByKey(std::plus<>(), bad), sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.groupByKey(bad), sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.combineByKey([](long long v) { return v; }, std::plus<>(), std::plus<>(), bad),
                 sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.aggregateByKey(0LL, std::plus<>(), std::plus<>(), bad),
                 sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.foldByKey(0LL, std::plus<>(), bad), sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.distinct(bad), sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.keys().distinct(bad), sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.partitionBy(bad), sluice::InvalidArgumentError);
    EXPECT_THROW(rdd.repartition(bad), sluice::InvalidArgumentError);
    EXPECT_THROW(sc.emptyRDD<IntPair>().reduceByKey(std::plus<>(), bad),
                 sluice::InvalidArgumentError);
  }
}

SLUICE_ALL_MASTERS(ShuffleOpsTest);

}  // namespace
