// Global sorts (sortByKey, sortBy) and key joins (join, the outer joins, cogroup, subtractByKey),
// checked against std::stable_sort and nested-loop joins under local[1], local[2] and local[4].
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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
using IntPair = std::pair<int, int>;

class SortTest : public sluice::testing_util::MasterTest {};
class JoinTest : public sluice::testing_util::MasterTest {};

std::vector<IntPair> randomPairs(std::size_t n, int num_keys, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<IntPair> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.emplace_back(static_cast<int>(rng() % static_cast<std::uint64_t>(num_keys)),
                     static_cast<int>(i));
  }
  return out;
}

// Runs `action` and expects a JobFailedError whose message contains `message`.
template <class F>
void expectJobFailure(F action, const std::string& message) {
  try {
    action();
    ADD_FAILURE() << "expected sluice::JobFailedError carrying \"" << message << "\"";
  } catch (const sluice::JobFailedError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

// ---- sorting ----

// Checks a sorted RDD against std::stable_sort of `input` by `key`: collect() lists the keys in
// order, the elements are the input's as a multiset, and partition i (from glom) holds keys no
// later than those of every later partition.
template <class T, class KeyFn>
void expectSortedLike(const sluice::RDD<T>& rdd, std::vector<T> input, KeyFn key, bool ascending) {
  auto before = [&](const T& a, const T& b) {
    return ascending ? key(a) < key(b) : key(b) < key(a);
  };
  auto got = rdd.collect();
  std::stable_sort(input.begin(), input.end(), before);
  ASSERT_EQ(got.size(), input.size());
  std::size_t key_mismatches = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (key(got[i]) != key(input[i])) ++key_mismatches;
  }
  EXPECT_EQ(key_mismatches, 0u) << "collect() is not in key order";
  EXPECT_TRUE(sorted(got) == sorted(input)) << "elements differ";

  auto parts = rdd.glom().collect();
  ASSERT_EQ(static_cast<int>(parts.size()), rdd.getNumPartitions());
  std::vector<T> concatenated;
  const T* last = nullptr;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const auto& part = parts[p];
    EXPECT_TRUE(std::is_sorted(part.begin(), part.end(), before)) << "partition " << p;
    if (!part.empty()) {
      if (last != nullptr) {
        EXPECT_FALSE(before(part.front(), *last)) << "partition " << p << " starts before the end"
                                                  << " of an earlier partition";
      }
      last = &part.back();
    }
    concatenated.insert(concatenated.end(), part.begin(), part.end());
  }
  EXPECT_TRUE(concatenated == got) << "glom() and collect() disagree";
}

template <class T>
auto firstOf() {
  return [](const T& kv) { return kv.first; };
}

TEST_P(SortTest, SortByKeyAscending) {
  auto data = randomPairs(50000, 2000, 101);
  auto pairs = sc.parallelize(data, 5);
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto sorted_rdd = pairs.sortByKey(true, n);
    EXPECT_EQ(sorted_rdd.getNumPartitions(), n);
    expectSortedLike(sorted_rdd, data, firstOf<IntPair>(), true);
  }
}

TEST_P(SortTest, SortByKeyDescending) {
  auto data = randomPairs(50000, 2000, 102);
  auto pairs = sc.parallelize(data, 4);
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto sorted_rdd = pairs.sortByKey(false, n);
    EXPECT_EQ(sorted_rdd.getNumPartitions(), n);
    expectSortedLike(sorted_rdd, data, firstOf<IntPair>(), false);
  }
}

TEST_P(SortTest, SortByKeyDefaultKeepsPartitionCount) {
  auto data = randomPairs(10000, 500, 103);
  auto sorted_rdd = sc.parallelize(data, 5).sortByKey();
  EXPECT_EQ(sorted_rdd.getNumPartitions(), 5);
  expectSortedLike(sorted_rdd, data, firstOf<IntPair>(), true);
  auto descending = sc.parallelize(data, 3).sortByKey(false);
  EXPECT_EQ(descending.getNumPartitions(), 3);
  expectSortedLike(descending, data, firstOf<IntPair>(), false);
}

TEST_P(SortTest, SortByKeyMillionElements) {
  auto data = randomPairs(1000000, 1 << 30, 104);
  auto sorted_rdd = sc.parallelize(data, 8).sortByKey(true, 8);
  expectSortedLike(sorted_rdd, data, firstOf<IntPair>(), true);
  // A range partitioner from a sample keeps partitions within a reasonable factor of even.
  for (const auto& part : sorted_rdd.glom().collect()) {
    EXPECT_GT(part.size(), 1000000u / 8 / 3);
    EXPECT_LT(part.size(), 1000000u / 8 * 3);
  }
}

TEST_P(SortTest, SortByKeyStringKeys) {
  std::mt19937_64 rng(105);
  std::vector<std::pair<std::string, int>> data;
  for (int i = 0; i < 20000; ++i) {
    std::string key;
    for (std::uint64_t len = 1 + rng() % 6; len > 0; --len) {
      key.push_back(static_cast<char>('a' + rng() % 5));
    }
    data.emplace_back(std::move(key), i);
  }
  using P = std::pair<std::string, int>;
  for (bool ascending : {true, false}) {
    for (int n : {1, 3, 8}) {
      SCOPED_TRACE((ascending ? "ascending, " : "descending, ") + std::to_string(n));
      auto sorted_rdd = sc.parallelize(data, 4).sortByKey(ascending, n);
      EXPECT_EQ(sorted_rdd.getNumPartitions(), n);
      expectSortedLike(sorted_rdd, data, firstOf<P>(), ascending);
    }
  }
}

TEST_P(SortTest, ManyDuplicates) {
  auto few_keys = randomPairs(20000, 3, 106);
  std::vector<IntPair> one_key(5000);
  for (int i = 0; i < 5000; ++i) one_key[static_cast<std::size_t>(i)] = {42, i};
  for (bool ascending : {true, false}) {
    for (int n : {1, 3, 8}) {
      SCOPED_TRACE((ascending ? "ascending, " : "descending, ") + std::to_string(n));
      expectSortedLike(sc.parallelize(few_keys, 6).sortByKey(ascending, n), few_keys,
                       firstOf<IntPair>(), ascending);
      auto single = sc.parallelize(one_key, 3).sortByKey(ascending, n);
      EXPECT_EQ(single.getNumPartitions(), n);
      expectSortedLike(single, one_key, firstOf<IntPair>(), ascending);
    }
  }
}

TEST_P(SortTest, AlreadySortedAndReverseSortedInput) {
  std::vector<IntPair> ascending_input;
  for (int i = 0; i < 30000; ++i) ascending_input.emplace_back(i / 3, i);
  std::vector<IntPair> descending_input(ascending_input.rbegin(), ascending_input.rend());
  for (const auto* input : {&ascending_input, &descending_input}) {
    for (bool ascending : {true, false}) {
      for (int n : {1, 3, 8}) {
        SCOPED_TRACE(
            std::string(input == &ascending_input ? "sorted input, " : "reversed input, ") +
            (ascending ? "ascending, " : "descending, ") + std::to_string(n));
        auto sorted_rdd = sc.parallelize(*input, 4).sortByKey(ascending, n);
        EXPECT_EQ(sorted_rdd.getNumPartitions(), n);
        expectSortedLike(sorted_rdd, *input, firstOf<IntPair>(), ascending);
      }
    }
  }
}

TEST_P(SortTest, EmptyInput) {
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    for (bool ascending : {true, false}) {
      auto from_empty = sc.emptyRDD<IntPair>().sortByKey(ascending, n);
      EXPECT_EQ(from_empty.getNumPartitions(), n);
      EXPECT_TRUE(from_empty.collect().empty());
      EXPECT_EQ(from_empty.glom().collect(), std::vector<std::vector<IntPair>>(n));
      auto from_slices = sc.parallelize(std::vector<IntPair>{}, 3).sortByKey(ascending, n);
      EXPECT_TRUE(from_slices.collect().empty());
      auto from_parts = sc.fromPartitions<IntPair>({{}, {}}).sortByKey(ascending, n);
      EXPECT_TRUE(from_parts.collect().empty());
      auto by =
          sc.parallelize(std::vector<int>{}, 2).sortBy([](int x) { return -x; }, ascending, n);
      EXPECT_EQ(by.getNumPartitions(), n);
      EXPECT_TRUE(by.collect().empty());
    }
  }
  EXPECT_TRUE(sc.emptyRDD<IntPair>().sortByKey().collect().empty());
  EXPECT_TRUE(
      sc.emptyRDD<std::string>().sortBy([](const std::string& s) { return s; }).collect().empty());
}

TEST_P(SortTest, EmptyPartitionsAmongFullOnes) {
  auto data = randomPairs(9000, 400, 107);
  std::vector<std::vector<IntPair>> parts(6);
  parts[0].assign(data.begin(), data.begin() + 4000);
  parts[3].assign(data.begin() + 4000, data.end());
  for (bool ascending : {true, false}) {
    for (int n : {1, 3, 8}) {
      SCOPED_TRACE((ascending ? "ascending, " : "descending, ") + std::to_string(n));
      expectSortedLike(sc.fromPartitions(parts).sortByKey(ascending, n), data, firstOf<IntPair>(),
                       ascending);
    }
  }
  // Fewer elements than partitions.
  std::vector<IntPair> tiny{{3, 0}, {1, 1}, {2, 2}};
  expectSortedLike(sc.parallelize(tiny, 3).sortByKey(true, 8), tiny, firstOf<IntPair>(), true);
}

TEST_P(SortTest, SortByKeyFunction) {
  std::mt19937_64 rng(108);
  std::vector<long long> data;
  for (int i = 0; i < 40000; ++i) data.push_back(static_cast<long long>(rng() % 1000000));
  auto last_digits = [](long long x) { return x % 1000; };
  for (bool ascending : {true, false}) {
    for (int n : {1, 3, 8}) {
      SCOPED_TRACE((ascending ? "ascending, " : "descending, ") + std::to_string(n));
      auto sorted_rdd = sc.parallelize(data, 5).sortBy(last_digits, ascending, n);
      EXPECT_EQ(sorted_rdd.getNumPartitions(), n);
      expectSortedLike(sorted_rdd, data, last_digits, ascending);
    }
  }
}

TEST_P(SortTest, SortByStringLengthAndDefaultPartitions) {
  std::mt19937_64 rng(109);
  std::vector<std::string> words;
  for (int i = 0; i < 10000; ++i)
    words.push_back(std::string(rng() % 40, static_cast<char>('a' + rng() % 26)));
  auto length = [](const std::string& s) { return s.size(); };
  auto by_length = sc.parallelize(words, 4).sortBy(length);
  EXPECT_EQ(by_length.getNumPartitions(), 4);
  expectSortedLike(by_length, words, length, true);
  expectSortedLike(sc.parallelize(words, 4).sortBy(length, false, 3), words, length, false);
  // sortBy on the elements themselves.
  auto identity = [](const std::string& s) { return s; };
  expectSortedLike(sc.parallelize(words, 3).sortBy(identity, true, 8), words, identity, true);
}

TEST_P(SortTest, SortByPairKeys) {
  auto data = randomPairs(20000, 50, 110);
  auto composite = [](const IntPair& kv) { return std::pair<int, int>(kv.first, -kv.second); };
  expectSortedLike(sc.parallelize(data, 4).sortBy(composite, true, 3), data, composite, true);
  expectSortedLike(sc.parallelize(data, 4).sortBy(composite, false, 8), data, composite, false);
}

TEST_P(SortTest, SortsOutputOfAnotherShuffle) {
  // Word counts ordered by count, descending: the sort's sample and shuffle read a shuffle.
  std::mt19937_64 rng(112);
  std::vector<std::string> words;
  for (int i = 0; i < 30000; ++i) words.push_back("w" + std::to_string(rng() % 100 * (rng() % 7)));
  std::map<std::string, int> counts;
  for (const auto& w : words) ++counts[w];
  using WordCount = std::pair<std::string, int>;
  std::vector<WordCount> expected(counts.begin(), counts.end());
  auto by_count = [](const WordCount& wc) { return wc.second; };
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    auto top = sc.parallelize(words, 4)
                   .map([](const std::string& w) { return WordCount(w, 1); })
                   .reduceByKey(std::plus<>(), 3)
                   .sortBy(by_count, false, n);
    expectSortedLike(top, expected, by_count, false);
    // Swap to (count, word) and sort by key.
    auto swapped = sc.parallelize(words, 4)
                       .map([](const std::string& w) { return WordCount(w, 1); })
                       .reduceByKey(std::plus<>())
                       .map([](const WordCount& wc) { return std::pair(wc.second, wc.first); });
    std::vector<std::pair<int, std::string>> swapped_expected;
    for (const auto& [w, c] : counts) swapped_expected.emplace_back(c, w);
    expectSortedLike(swapped.sortByKey(true, n), swapped_expected,
                     firstOf<std::pair<int, std::string>>(), true);
  }
}

TEST_P(SortTest, KeyFunctionExceptionFailsJob) {
  std::vector<int> data(1000);
  for (int i = 0; i < 1000; ++i) data[static_cast<std::size_t>(i)] = i;
  auto throwing = [](int x) -> int {
    if (x == 777) throw std::runtime_error("bad sort key 777");
    return x;
  };
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    expectJobFailure([&] { sc.parallelize(data, 4).sortBy(throwing, true, n).collect(); },
                     "bad sort key 777");
  }
  // The Context stays usable.
  EXPECT_EQ(sc.parallelize(data, 4).sortBy([](int x) { return -x; }, true, 3).first(), 999);
}

TEST_P(SortTest, InvalidPartitionCountsThrow) {
  auto pairs = sc.parallelize(randomPairs(100, 10, 111), 2);
  for (int bad : {0, -2, -7}) {
    SCOPED_TRACE("numPartitions " + std::to_string(bad));
    EXPECT_THROW(pairs.sortByKey(true, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(pairs.sortByKey(false, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(pairs.sortBy([](const IntPair& kv) { return kv.second; }, true, bad),
                 sluice::InvalidArgumentError);
    EXPECT_THROW(sc.emptyRDD<IntPair>().sortByKey(true, bad), sluice::InvalidArgumentError);
  }
}

// ---- joins ----

using Left = std::pair<int, std::string>;
using Right = std::pair<int, int>;
template <class A, class B>
using Joined = std::pair<int, std::pair<A, B>>;
using OptS = std::optional<std::string>;
using OptI = std::optional<int>;
using CoGroup = std::pair<int, std::pair<std::vector<std::string>, std::vector<int>>>;

// The joins of `left` and `right`, computed with nested loops.
struct Expected {
  std::vector<Joined<std::string, int>> inner;
  std::vector<Joined<std::string, OptI>> left_outer;
  std::vector<Joined<OptS, int>> right_outer;
  std::vector<Joined<OptS, OptI>> full_outer;
  std::vector<CoGroup> cogroup;
  std::vector<Left> subtract;
};

Expected nestedLoopJoins(const std::vector<Left>& left, const std::vector<Right>& right) {
  Expected e;
  std::vector<bool> right_matched(right.size(), false);
  for (const auto& [lk, lv] : left) {
    bool matched = false;
    for (std::size_t j = 0; j < right.size(); ++j) {
      if (right[j].first != lk) continue;
      matched = true;
      right_matched[j] = true;
      e.inner.push_back({lk, {lv, right[j].second}});
      e.left_outer.push_back({lk, {lv, right[j].second}});
      e.right_outer.push_back({lk, {lv, right[j].second}});
      e.full_outer.push_back({lk, {lv, right[j].second}});
    }
    if (!matched) {
      e.left_outer.push_back({lk, {lv, std::nullopt}});
      e.full_outer.push_back({lk, {lv, std::nullopt}});
      e.subtract.emplace_back(lk, lv);
    }
  }
  for (std::size_t j = 0; j < right.size(); ++j) {
    if (right_matched[j]) continue;
    e.right_outer.push_back({right[j].first, {std::nullopt, right[j].second}});
    e.full_outer.push_back({right[j].first, {std::nullopt, right[j].second}});
  }
  std::set<int> keys;
  for (const auto& kv : left) keys.insert(kv.first);
  for (const auto& kv : right) keys.insert(kv.first);
  for (int k : keys) {
    CoGroup g{k, {}};
    for (const auto& kv : left) {
      if (kv.first == k) g.second.first.push_back(kv.second);
    }
    for (const auto& kv : right) {
      if (kv.first == k) g.second.second.push_back(kv.second);
    }
    std::sort(g.second.first.begin(), g.second.first.end());
    std::sort(g.second.second.begin(), g.second.second.end());
    e.cogroup.push_back(std::move(g));
  }
  std::sort(e.inner.begin(), e.inner.end());
  std::sort(e.left_outer.begin(), e.left_outer.end());
  std::sort(e.right_outer.begin(), e.right_outer.end());
  std::sort(e.full_outer.begin(), e.full_outer.end());
  std::sort(e.subtract.begin(), e.subtract.end());
  return e;
}

std::vector<CoGroup> normalize(std::vector<CoGroup> groups) {
  for (auto& g : groups) {
    std::sort(g.second.first.begin(), g.second.first.end());
    std::sort(g.second.second.begin(), g.second.second.end());
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

// Checks that every key of `rdd` lies in partition partitionOf(key, n) and appears once.
template <class T>
void expectCoGroupPlaced(const sluice::RDD<T>& rdd, int n) {
  ASSERT_EQ(rdd.getNumPartitions(), n);
  auto parts = rdd.glom().collect();
  std::set<int> seen;
  for (int p = 0; p < static_cast<int>(parts.size()); ++p) {
    for (const auto& kv : parts[static_cast<std::size_t>(p)]) {
      EXPECT_EQ(sluice::partitionOf(kv.first, n), p) << "key " << kv.first;
      EXPECT_TRUE(seen.insert(kv.first).second) << "key " << kv.first << " repeated";
    }
  }
}

// Runs every join of `left` and `right` (holding the elements of `l` and `r`) with `n` partitions
// and compares with nested loops over `l` and `r`.
void expectJoinsMatch(const sluice::Context& sc, const sluice::RDD<Left>& left,
                      const std::vector<Left>& l, const sluice::RDD<Right>& right,
                      const std::vector<Right>& r, int n) {
  Expected e = nestedLoopJoins(l, r);
  const int want = n < 0 ? sc.defaultParallelism() : n;

  auto inner = left.join(right, n);
  EXPECT_EQ(inner.getNumPartitions(), want);
  EXPECT_EQ(sorted(inner.collect()), e.inner) << "join";
  auto left_outer = left.leftOuterJoin(right, n);
  EXPECT_EQ(left_outer.getNumPartitions(), want);
  EXPECT_EQ(sorted(left_outer.collect()), e.left_outer) << "leftOuterJoin";
  auto right_outer = left.rightOuterJoin(right, n);
  EXPECT_EQ(right_outer.getNumPartitions(), want);
  EXPECT_EQ(sorted(right_outer.collect()), e.right_outer) << "rightOuterJoin";
  auto full_outer = left.fullOuterJoin(right, n);
  EXPECT_EQ(full_outer.getNumPartitions(), want);
  EXPECT_EQ(sorted(full_outer.collect()), e.full_outer) << "fullOuterJoin";
  auto cogrouped = left.cogroup(right, n);
  EXPECT_TRUE(normalize(cogrouped.collect()) == e.cogroup) << "cogroup";
  expectCoGroupPlaced(cogrouped, want);
  auto subtracted = left.subtractByKey(right, n);
  EXPECT_EQ(subtracted.getNumPartitions(), want);
  EXPECT_EQ(sorted(subtracted.collect()), e.subtract) << "subtractByKey";
}

std::vector<Left> randomLeft(std::size_t n, int lo, int hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Left> out;
  for (std::size_t i = 0; i < n; ++i) {
    int key = lo + static_cast<int>(rng() % static_cast<std::uint64_t>(hi - lo));
    out.emplace_back(key, "v" + std::to_string(rng() % 50));
  }
  return out;
}

std::vector<Right> randomRight(std::size_t n, int lo, int hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Right> out;
  for (std::size_t i = 0; i < n; ++i) {
    int key = lo + static_cast<int>(rng() % static_cast<std::uint64_t>(hi - lo));
    out.emplace_back(key, static_cast<int>(rng() % 100));
  }
  return out;
}

TEST_P(JoinTest, RandomOverlappingKeysMatchNestedLoop) {
  // Keys [0, 300) on the left and [200, 500) on the right: some on one side only, and several
  // values per key on both sides.
  auto l = randomLeft(1500, 0, 300, 201);
  auto r = randomRight(1200, 200, 500, 202);
  auto left = sc.parallelize(l, 4);
  auto right = sc.parallelize(r, 3);
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    expectJoinsMatch(sc, left, l, right, r, n);
  }
}

TEST_P(JoinTest, DuplicateKeysGiveCrossProduct) {
  std::vector<Left> l{{1, "a"}, {1, "b"}, {1, "c"}, {2, "x"}, {1, "a"}};
  std::vector<Right> r{{1, 10}, {2, 20}, {1, 11}, {1, 12}, {1, 13}, {2, 20}};
  auto left = sc.parallelize(l, 2);
  auto right = sc.parallelize(r, 3);
  auto joined = sorted(left.join(right, 2).collect());
  ASSERT_EQ(joined.size(), 4u * 4u + 1u * 2u);
  EXPECT_EQ(std::count(joined.begin(), joined.end(), Joined<std::string, int>{1, {"a", 12}}), 2);
  EXPECT_EQ(std::count(joined.begin(), joined.end(), Joined<std::string, int>{2, {"x", 20}}), 2);
  for (int n : {-1, 1, 4}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    expectJoinsMatch(sc, left, l, right, r, n);
  }
}

TEST_P(JoinTest, KeysOnOneSideOnly) {
  auto l = randomLeft(500, 0, 100, 203);
  auto r = randomRight(400, 100, 200, 204);
  auto left = sc.parallelize(l, 3);
  auto right = sc.parallelize(r, 2);
  EXPECT_TRUE(left.join(right).collect().empty());
  EXPECT_EQ(left.leftOuterJoin(right).count(), 500);
  EXPECT_EQ(left.rightOuterJoin(right).count(), 400);
  EXPECT_EQ(left.fullOuterJoin(right).count(), 900);
  EXPECT_EQ(sorted(left.subtractByKey(right).collect()), sorted(l));
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    expectJoinsMatch(sc, left, l, right, r, n);
  }
}

TEST_P(JoinTest, EmptySides) {
  const auto l = randomLeft(300, 0, 50, 205);
  const auto r = randomRight(300, 25, 75, 206);
  const std::vector<Left> no_l;
  const std::vector<Right> no_r;
  auto full_left = sc.parallelize(l, 3);
  auto full_right = sc.parallelize(r, 3);
  auto empty_left = sc.emptyRDD<Left>();
  auto empty_right = sc.emptyRDD<Right>();
  auto sliced_empty_right = sc.parallelize(std::vector<Right>{}, 4);
  auto parts_empty_left = sc.fromPartitions<Left>({{}, {}, {}});
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    {
      SCOPED_TRACE("empty right");
      expectJoinsMatch(sc, full_left, l, empty_right, no_r, n);
      expectJoinsMatch(sc, full_left, l, sliced_empty_right, no_r, n);
    }
    {
      SCOPED_TRACE("empty left");
      expectJoinsMatch(sc, empty_left, no_l, full_right, r, n);
      expectJoinsMatch(sc, parts_empty_left, no_l, full_right, r, n);
    }
    {
      SCOPED_TRACE("both empty");
      expectJoinsMatch(sc, empty_left, no_l, empty_right, no_r, n);
      expectJoinsMatch(sc, parts_empty_left, no_l, sliced_empty_right, no_r, n);
    }
  }
  EXPECT_TRUE(full_left.join(empty_right).collect().empty());
  EXPECT_EQ(full_left.leftOuterJoin(empty_right).count(), 300);
  EXPECT_EQ(sorted(full_left.subtractByKey(empty_right).collect()), sorted(l));
  EXPECT_TRUE(empty_left.subtractByKey(full_right).collect().empty());
}

TEST_P(JoinTest, EmptyPartitionsAmongFullOnes) {
  auto l = randomLeft(800, 0, 120, 207);
  auto r = randomRight(600, 60, 180, 208);
  std::vector<std::vector<Left>> left_parts(5);
  left_parts[2] = l;
  std::vector<std::vector<Right>> right_parts(4);
  right_parts[0].assign(r.begin(), r.begin() + 300);
  right_parts[3].assign(r.begin() + 300, r.end());
  auto left = sc.fromPartitions(left_parts);
  auto right = sc.fromPartitions(right_parts);
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    expectJoinsMatch(sc, left, l, right, r, n);
  }
}

TEST_P(JoinTest, PrePartitionedSides) {
  auto l = randomLeft(1000, 0, 200, 209);
  auto r = randomRight(1000, 100, 300, 210);
  auto left = sc.parallelize(l, 4);
  auto right = sc.parallelize(r, 3);
  // Each right key's sum, for sides that come out of reduceByKey.
  std::map<int, int> sums;
  for (const auto& [k, v] : r) sums[k] += v;
  const std::vector<Right> summed(sums.begin(), sums.end());
  std::vector<Left> summed_as_left;
  for (const auto& [k, v] : summed) summed_as_left.emplace_back(k, std::to_string(v));
  for (int n : {1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    // Both sides already placed the way the join needs, one side only, and neither matching.
    expectJoinsMatch(sc, left.partitionBy(n), l, right.partitionBy(n), r, n);
    expectJoinsMatch(sc, left.partitionBy(n), l, right, r, n);
    expectJoinsMatch(sc, left, l, right.partitionBy(n), r, n);
    expectJoinsMatch(sc, left.partitionBy(n + 1), l, right.partitionBy(n), r, n);
    // The output of a keyed aggregation is itself hash-partitioned.
    expectJoinsMatch(sc, left, l, right.reduceByKey(std::plus<>(), n), summed, n);
    auto summed_left =
        right.reduceByKey(std::plus<>(), n).mapValues([](int v) { return std::to_string(v); });
    expectJoinsMatch(sc, summed_left, summed_as_left, right.partitionBy(n), r, n);
  }
}

TEST_P(JoinTest, SelfJoin) {
  auto l = randomLeft(600, 0, 90, 216);
  auto left = sc.parallelize(l, 3);
  std::vector<Joined<std::string, std::string>> expected;
  for (const auto& [k1, v1] : l) {
    for (const auto& [k2, v2] : l) {
      if (k1 == k2) expected.push_back({k1, {v1, v2}});
    }
  }
  std::sort(expected.begin(), expected.end());
  for (int n : {-1, 1, 4}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    EXPECT_EQ(sorted(left.join(left, n).collect()), expected);
    int m = n < 0 ? sc.defaultParallelism() : n;
    auto parted = left.partitionBy(m);
    EXPECT_EQ(sorted(parted.join(parted, m).collect()), expected);
    EXPECT_EQ(sorted(parted.join(parted).collect()), expected);
    EXPECT_TRUE(parted.subtractByKey(parted, m).collect().empty());
    auto cogrouped = normalize(parted
                                   .cogroup(parted.mapValues([](const std::string& v) {
                                     return static_cast<int>(v.size());
                                   }),
                                            m)
                                   .collect());
    std::map<int, std::pair<std::vector<std::string>, std::vector<int>>> groups;
    for (const auto& [k, v] : l) {
      groups[k].first.push_back(v);
      groups[k].second.push_back(static_cast<int>(v.size()));
    }
    std::vector<CoGroup> cogroup_expected;
    for (auto& [k, g] : groups) cogroup_expected.push_back({k, g});
    EXPECT_TRUE(cogrouped == normalize(cogroup_expected));
  }
}

TEST_P(JoinTest, StringKeys) {
  using SL = std::pair<std::string, int>;
  using SR = std::pair<std::string, double>;
  std::mt19937_64 rng(211);
  std::vector<SL> l;
  std::vector<SR> r;
  for (int i = 0; i < 600; ++i) l.emplace_back("k" + std::to_string(rng() % 80), i);
  for (int i = 0; i < 500; ++i) r.emplace_back("k" + std::to_string(40 + rng() % 80), i * 0.5);
  std::vector<std::pair<std::string, std::pair<int, double>>> inner;
  std::vector<std::pair<std::string, std::pair<std::optional<int>, std::optional<double>>>> full;
  std::vector<SL> subtract;
  std::vector<bool> right_matched(r.size(), false);
  for (const auto& [lk, lv] : l) {
    bool matched = false;
    for (std::size_t j = 0; j < r.size(); ++j) {
      if (r[j].first != lk) continue;
      matched = true;
      right_matched[j] = true;
      inner.push_back({lk, {lv, r[j].second}});
      full.push_back({lk, {lv, r[j].second}});
    }
    if (!matched) {
      full.push_back({lk, {lv, std::nullopt}});
      subtract.emplace_back(lk, lv);
    }
  }
  for (std::size_t j = 0; j < r.size(); ++j) {
    if (!right_matched[j]) full.push_back({r[j].first, {std::nullopt, r[j].second}});
  }
  auto left = sc.parallelize(l, 3);
  auto right = sc.parallelize(r, 5);
  for (int n : {-1, 1, 3, 8}) {
    SCOPED_TRACE("numPartitions " + std::to_string(n));
    EXPECT_EQ(sorted(left.join(right, n).collect()), sorted(inner));
    EXPECT_EQ(sorted(left.fullOuterJoin(right, n).collect()), sorted(full));
    EXPECT_EQ(sorted(left.subtractByKey(right, n).collect()), sorted(subtract));
  }
}

TEST_P(JoinTest, LargeJoin) {
  auto l = randomLeft(100000, 0, 50000, 212);
  auto r = randomRight(100000, 25000, 75000, 213);
  auto left = sc.parallelize(l, 6);
  auto right = sc.parallelize(r, 5);
  // Per-key counts as the reference (a nested loop over 10^5 x 10^5 would be too slow).
  std::map<int, std::pair<long long, long long>> per_key;
  for (const auto& kv : l) ++per_key[kv.first].first;
  for (const auto& kv : r) ++per_key[kv.first].second;
  long long inner = 0, left_only = 0, right_only = 0;
  for (const auto& [k, counts] : per_key) {
    inner += counts.first * counts.second;
    if (counts.second == 0) left_only += counts.first;
    if (counts.first == 0) right_only += counts.second;
  }
  EXPECT_EQ(left.join(right, 4).count(), inner);
  EXPECT_EQ(left.fullOuterJoin(right, 4).count(), inner + left_only + right_only);
  EXPECT_EQ(left.subtractByKey(right, 4).count(), left_only);
  EXPECT_EQ(left.cogroup(right, 4).count(), static_cast<long long>(per_key.size()));
}

TEST_P(JoinTest, InvalidPartitionCountsThrow) {
  auto left = sc.parallelize(randomLeft(10, 0, 5, 214), 2);
  auto right = sc.parallelize(randomRight(10, 0, 5, 215), 2);
  for (int bad : {0, -2, -9}) {
    SCOPED_TRACE("numPartitions " + std::to_string(bad));
    EXPECT_THROW(left.join(right, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(left.leftOuterJoin(right, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(left.rightOuterJoin(right, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(left.fullOuterJoin(right, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(left.cogroup(right, bad), sluice::InvalidArgumentError);
    EXPECT_THROW(left.subtractByKey(right, bad), sluice::InvalidArgumentError);
  }
}

SLUICE_ALL_MASTERS(SortTest);
SLUICE_ALL_MASTERS(JoinTest);

}  // namespace
