// cache / persist / unpersist, partition eviction and the reuse of shuffle map outputs, observed
// by counting calls of user functions under local[1], local[2] and local[4].
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sluice/sluice.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"

namespace {

using sluice::testing_util::sorted;
using IntPair = std::pair<int, long long>;

class CacheTest : public sluice::testing_util::MasterTest {};

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

std::vector<IntPair> randomPairs(std::size_t n, int num_keys, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<IntPair> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.emplace_back(static_cast<int>(rng() % static_cast<std::uint64_t>(num_keys)),
                     static_cast<long long>(rng() % 100));
  }
  return out;
}

std::vector<IntPair> sumByKey(const std::vector<IntPair>& data) {
  std::map<int, long long> sums;
  for (const auto& [k, v] : data) sums[k] += v;
  return {sums.begin(), sums.end()};
}

std::vector<int> doubled(const std::vector<int>& data) {
  std::vector<int> out;
  for (int x : data) out.push_back(2 * x);
  return out;
}

TEST_P(CacheTest, UncachedRddIsRecomputedByEveryAction) {
  std::atomic<int> calls{0};
  auto data = iota(1000);
  auto rdd = sc.parallelize(data, 4).map([&calls](int x) {
    calls.fetch_add(1, std::memory_order_relaxed);
    return 2 * x;
  });
  EXPECT_FALSE(rdd.isCached());
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(calls.load(), 1000);
  EXPECT_EQ(rdd.count(), 1000);
  EXPECT_EQ(calls.load(), 2000);
}

TEST_P(CacheTest, CachedRddIsComputedOnceAcrossActions) {
  std::atomic<int> calls{0};
  auto data = iota(1000);
  auto rdd = sc.parallelize(data, 4).map([&calls](int x) {
    calls.fetch_add(1, std::memory_order_relaxed);
    return 2 * x;
  });
  rdd.cache();
  EXPECT_TRUE(rdd.isCached());
  EXPECT_EQ(calls.load(), 0) << "cache() is lazy";
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(calls.load(), 1000);
  EXPECT_EQ(rdd.count(), 1000);
  EXPECT_EQ(rdd.reduce(std::plus<>()), 999 * 1000);
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(calls.load(), 1000);
  // Children of the cached RDD read the cache too.
  EXPECT_EQ(rdd.filter([](int x) { return x % 4 == 0; }).count(), 500);
  EXPECT_EQ(rdd.map([](int x) { return x + 1; }).reduce(std::plus<>()), 999 * 1000 + 1000);
  EXPECT_EQ(calls.load(), 1000);
}

TEST_P(CacheTest, PersistIsCache) {
  std::atomic<int> calls{0};
  auto data = iota(500);
  auto rdd = sc.parallelize(data, 3).map([&calls](int x) {
    calls.fetch_add(1, std::memory_order_relaxed);
    return 2 * x;
  });
  const auto& same = rdd.persist();
  EXPECT_EQ(same.id(), rdd.id());
  EXPECT_TRUE(rdd.isCached());
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(rdd.count(), 500);
  EXPECT_EQ(calls.load(), 500);
  // A copy of the handle shares the cached node.
  auto copy = rdd;
  EXPECT_TRUE(copy.isCached());
  EXPECT_EQ(copy.count(), 500);
  EXPECT_EQ(calls.load(), 500);
}

TEST_P(CacheTest, UnpersistMakesNextActionRecompute) {
  std::atomic<int> calls{0};
  auto data = iota(800);
  auto rdd = sc.parallelize(data, 4).map([&calls](int x) {
    calls.fetch_add(1, std::memory_order_relaxed);
    return 2 * x;
  });
  rdd.cache();
  EXPECT_EQ(rdd.count(), 800);
  EXPECT_EQ(calls.load(), 800);
  EXPECT_EQ(sc.runtime()->blockStore().blockCount(), 4u);

  rdd.unpersist();
  EXPECT_FALSE(rdd.isCached());
  EXPECT_EQ(sc.runtime()->blockStore().blockCount(), 0u);
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(calls.load(), 1600);
  EXPECT_EQ(rdd.count(), 800);
  EXPECT_EQ(calls.load(), 2400) << "an unpersisted RDD is recomputed by every action";

  // Caching again works like the first time.
  rdd.cache();
  EXPECT_EQ(sorted(rdd.collect()), doubled(data));
  EXPECT_EQ(rdd.count(), 800);
  EXPECT_EQ(calls.load(), 3200);
}

TEST_P(CacheTest, EvictedPartitionIsRecomputedAlone) {
  constexpr int kParts = 5;
  auto per_partition = std::make_shared<std::vector<std::atomic<int>>>(kParts);
  auto data = iota(5000);
  auto rdd = sc.parallelize(data, kParts)
                 .mapPartitionsWithIndex([per_partition](int p, std::vector<int>&& items) {
                   (*per_partition)[static_cast<std::size_t>(p)].fetch_add(1);
                   for (int& x : items) x *= 2;
                   return std::move(items);
                 });
  rdd.cache();
  const auto expected = doubled(data);
  EXPECT_EQ(rdd.collect(), expected);
  auto counts = [&] {
    std::vector<int> c;
    for (const auto& a : *per_partition) c.push_back(a.load());
    return c;
  };
  EXPECT_EQ(counts(), std::vector<int>(kParts, 1));

  auto& store = sc.runtime()->blockStore();
  store.evict(rdd.id(), 2);
  EXPECT_EQ(store.blockCount(), static_cast<std::size_t>(kParts - 1));
  EXPECT_EQ(rdd.collect(), expected);
  EXPECT_EQ(counts(), (std::vector<int>{1, 1, 2, 1, 1}));
  EXPECT_EQ(store.blockCount(), static_cast<std::size_t>(kParts));
  // The recomputed partition is cached again.
  EXPECT_EQ(rdd.count(), 5000);
  EXPECT_EQ(counts(), (std::vector<int>{1, 1, 2, 1, 1}));

  store.evict(rdd.id(), 0);
  store.evict(rdd.id(), 4);
  EXPECT_EQ(sorted(rdd.collect()), expected);
  EXPECT_EQ(counts(), (std::vector<int>{2, 1, 2, 1, 2}));
  // Evicting a block twice, or a block of an unknown RDD, is harmless.
  store.evict(rdd.id(), 3);
  store.evict(rdd.id(), 3);
  store.evict(rdd.id() + 1000, 0);
  EXPECT_EQ(rdd.collect(), expected);
  EXPECT_EQ(counts(), (std::vector<int>{2, 1, 2, 2, 2}));
}

TEST_P(CacheTest, EvictedPartitionOfCachedShuffleOutputRereadsMapOutput) {
  std::atomic<int> map_calls{0};
  auto data = randomPairs(20000, 300, 301);
  auto reduced = sc.parallelize(data, 4)
                     .map([&map_calls](IntPair kv) {
                       map_calls.fetch_add(1, std::memory_order_relaxed);
                       return kv;
                     })
                     .reduceByKey(std::plus<>(), 3);
  reduced.cache();
  const auto expected = sumByKey(data);
  EXPECT_EQ(sorted(reduced.collect()), expected);
  EXPECT_EQ(map_calls.load(), 20000);
  sc.runtime()->blockStore().evict(reduced.id(), 1);
  EXPECT_EQ(sorted(reduced.collect()), expected);
  EXPECT_EQ(map_calls.load(), 20000) << "the shuffle's map output is reused";
  sc.runtime()->blockStore().removeRdd(reduced.id());
  EXPECT_EQ(sorted(reduced.collect()), expected);
  EXPECT_EQ(map_calls.load(), 20000);
}

TEST_P(CacheTest, EvictionRecomputesOnlyThroughUncachedAncestors) {
  // base (cached) -> derived (cached). Evicting a partition of `derived` recomputes it from the
  // cached `base`, calling only derived's function.
  std::atomic<int> base_calls{0};
  std::atomic<int> derived_calls{0};
  auto data = iota(3000);
  auto base = sc.parallelize(data, 3).map([&base_calls](int x) {
    base_calls.fetch_add(1, std::memory_order_relaxed);
    return x + 1;
  });
  base.cache();
  auto derived = base.map([&derived_calls](int x) {
    derived_calls.fetch_add(1, std::memory_order_relaxed);
    return x * 3;
  });
  derived.cache();
  std::vector<int> expected;
  for (int x : data) expected.push_back((x + 1) * 3);
  EXPECT_EQ(derived.collect(), expected);
  EXPECT_EQ(base_calls.load(), 3000);
  EXPECT_EQ(derived_calls.load(), 3000);
  sc.runtime()->blockStore().evict(derived.id(), 1);
  EXPECT_EQ(derived.collect(), expected);
  EXPECT_EQ(base_calls.load(), 3000);
  EXPECT_EQ(derived_calls.load(), 4000);
  sc.runtime()->blockStore().evict(base.id(), 1);
  sc.runtime()->blockStore().evict(derived.id(), 1);
  EXPECT_EQ(derived.collect(), expected);
  EXPECT_EQ(base_calls.load(), 4000);
  EXPECT_EQ(derived_calls.load(), 5000);
}

TEST_P(CacheTest, CachedRddFeedsSeveralShuffles) {
  std::atomic<int> calls{0};
  auto data = randomPairs(10000, 100, 302);
  auto pairs = sc.parallelize(data, 4).map([&calls](IntPair kv) {
    calls.fetch_add(1, std::memory_order_relaxed);
    return kv;
  });
  pairs.cache();
  EXPECT_EQ(sorted(pairs.reduceByKey(std::plus<>(), 2).collect()), sumByKey(data));
  EXPECT_EQ(sorted(pairs.foldByKey(0LL, std::plus<>(), 5).collect()), sumByKey(data));
  EXPECT_EQ(pairs.groupByKey().count(), static_cast<long long>(sumByKey(data).size()));
  EXPECT_EQ(pairs.sortByKey(true, 3).count(), 10000);
  EXPECT_GT(pairs.join(pairs.mapValues([](long long v) { return v; }), 3).count(), 10000);
  EXPECT_EQ(calls.load(), 10000);
}

TEST_P(CacheTest, ShuffleMapOutputIsReusedBySecondAction) {
  std::atomic<int> map_side{0};
  auto data = randomPairs(20000, 500, 303);
  auto counted = sc.parallelize(data, 4).map([&map_side](IntPair kv) {
    map_side.fetch_add(1, std::memory_order_relaxed);
    return kv;
  });
  auto reduced = counted.reduceByKey(std::plus<>(), 3);
  EXPECT_EQ(map_side.load(), 0) << "reduceByKey is lazy";
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
  EXPECT_EQ(map_side.load(), 20000);
  EXPECT_EQ(reduced.count(), static_cast<long long>(sumByKey(data).size()));
  EXPECT_EQ(sorted(reduced.collect()), sumByKey(data));
  EXPECT_EQ(map_side.load(), 20000) << "later actions re-read the map output";
  // Narrow children of the shuffled RDD reuse it as well.
  EXPECT_EQ(reduced.mapValues([](long long v) { return v + 1; }).count(),
            static_cast<long long>(sumByKey(data).size()));
  EXPECT_EQ(map_side.load(), 20000);
  // A second shuffle of the same parent is a new shuffle and runs the map side again.
  EXPECT_EQ(sorted(counted.reduceByKey(std::plus<>(), 3).collect()), sumByKey(data));
  EXPECT_EQ(map_side.load(), 40000);
}

TEST_P(CacheTest, MapOutputReuseForOtherWideOps) {
  std::atomic<int> map_side{0};
  auto data = randomPairs(6000, 200, 304);
  auto counted = sc.parallelize(data, 3).map([&map_side](IntPair kv) {
    map_side.fetch_add(1, std::memory_order_relaxed);
    return kv;
  });
  auto expect_reused = [&](const auto& rdd, const char* what) {
    SCOPED_TRACE(what);
    map_side.store(0);
    long long first = rdd.count();
    int after_first = map_side.load();
    EXPECT_GT(after_first, 0);
    EXPECT_EQ(rdd.count(), first);
    EXPECT_EQ(static_cast<long long>(rdd.collect().size()), first);
    EXPECT_EQ(map_side.load(), after_first);
  };
  expect_reused(counted.groupByKey(4), "groupByKey");
  expect_reused(counted.partitionBy(4), "partitionBy");
  expect_reused(counted.repartition(2), "repartition");
  expect_reused(counted.distinct(3), "distinct");
  expect_reused(counted.join(sc.parallelize(data, 2), 3), "join");
  expect_reused(counted.cogroup(sc.parallelize(data, 2)), "cogroup");

  // sortByKey samples its input when defined, then shuffles it once.
  map_side.store(0);
  auto sorted_rdd = counted.sortByKey(true, 3);
  int after_sample = map_side.load();
  EXPECT_EQ(after_sample, 6000);
  EXPECT_EQ(sorted_rdd.count(), 6000);
  EXPECT_EQ(map_side.load(), 12000);
  EXPECT_EQ(sorted_rdd.collect().size(), 6000u);
  EXPECT_EQ(map_side.load(), 12000);
}

TEST_P(CacheTest, ChainedShufflesRunEachMapStageOnce) {
  std::atomic<int> first_map{0};
  std::atomic<int> second_map{0};
  auto data = randomPairs(10000, 400, 305);
  auto sums = sc.parallelize(data, 4)
                  .map([&first_map](IntPair kv) {
                    first_map.fetch_add(1, std::memory_order_relaxed);
                    return kv;
                  })
                  .reduceByKey(std::plus<>(), 3);
  // Re-key by the sum's parity and count keys per parity: a second shuffle.
  auto by_parity = sums.map([&second_map](IntPair kv) {
                         second_map.fetch_add(1, std::memory_order_relaxed);
                         return std::pair<int, long long>(static_cast<int>(kv.second % 2), 1);
                       })
                       .reduceByKey(std::plus<>(), 2);
  std::map<int, long long> expected;
  for (const auto& [k, v] : sumByKey(data)) expected[static_cast<int>(v % 2)] += 1;
  const std::vector<IntPair> want(expected.begin(), expected.end());
  EXPECT_EQ(sorted(by_parity.collect()), want);
  const long long keys = static_cast<long long>(sumByKey(data).size());
  EXPECT_EQ(first_map.load(), 10000);
  EXPECT_EQ(second_map.load(), keys);
  EXPECT_EQ(sorted(by_parity.collect()), want);
  EXPECT_EQ(first_map.load(), 10000);
  EXPECT_EQ(second_map.load(), keys);
}

TEST_P(CacheTest, CachingEmptyRddsAndEmptyPartitions) {
  std::atomic<int> calls{0};
  auto parts = sc.fromPartitions<int>({{}, {1, 2, 3}, {}, {4}}).map([&calls](int x) {
    calls.fetch_add(1, std::memory_order_relaxed);
    return x * 10;
  });
  parts.cache();
  EXPECT_EQ(parts.collect(), (std::vector<int>{10, 20, 30, 40}));
  EXPECT_EQ(parts.collect(), (std::vector<int>{10, 20, 30, 40}));
  EXPECT_EQ(calls.load(), 4);
  EXPECT_EQ(sc.runtime()->blockStore().blockCount(), 4u) << "empty partitions are cached too";

  auto empty = sc.emptyRDD<int>();
  empty.cache();
  EXPECT_TRUE(empty.collect().empty());
  EXPECT_EQ(empty.count(), 0);
  auto empty_reduced = sc.emptyRDD<IntPair>().reduceByKey(std::plus<>(), 3);
  empty_reduced.cache();
  EXPECT_TRUE(empty_reduced.collect().empty());
  EXPECT_TRUE(empty_reduced.collect().empty());
}

TEST_P(CacheTest, CachedStringPairsSurviveAndMatch) {
  std::atomic<int> calls{0};
  std::vector<std::string> words;
  std::mt19937_64 rng(306);
  for (int i = 0; i < 5000; ++i) words.push_back("w" + std::to_string(rng() % 300));
  auto counts = sc.parallelize(words, 4)
                    .map([&calls](const std::string& w) {
                      calls.fetch_add(1, std::memory_order_relaxed);
                      return std::pair<std::string, int>(w, 1);
                    })
                    .reduceByKey(std::plus<>());
  counts.cache();
  std::map<std::string, int> expected;
  for (const auto& w : words) ++expected[w];
  const std::vector<std::pair<std::string, int>> want(expected.begin(), expected.end());
  EXPECT_EQ(sorted(counts.collect()), want);
  for (int p = 0; p < counts.getNumPartitions(); ++p) {
    sc.runtime()->blockStore().evict(counts.id(), p);
  }
  EXPECT_EQ(sorted(counts.collect()), want);
  EXPECT_EQ(calls.load(), 5000);
}

TEST_P(CacheTest, FailedComputationIsNotCached) {
  std::atomic<int> calls{0};
  std::atomic<bool> fail{true};
  auto rdd = sc.parallelize(iota(100), 4).map([&calls, &fail](int x) {
    calls.fetch_add(1, std::memory_order_relaxed);
    if (x == 60 && fail.load()) throw std::runtime_error("transient failure");
    return x;
  });
  rdd.cache();
  EXPECT_THROW(rdd.count(), sluice::JobFailedError);
  fail.store(false);
  EXPECT_EQ(rdd.collect(), iota(100));
  const int after = calls.load();
  EXPECT_EQ(rdd.count(), 100);
  EXPECT_EQ(calls.load(), after);
}

SLUICE_ALL_MASTERS(CacheTest);

}  // namespace
