// sluice::StableHash must give the same value in every process and version, and partitionOf must
// spread keys evenly.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <sluice/hash.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using sluice::partitionOf;
using sluice::StableHash;

// These constants were computed once from the implementation; they pin the hash so that a change
// (which would silently repartition data written or shuffled by another process) fails here.
TEST(StableHash, IntegersArePinned) {
  EXPECT_EQ(StableHash<long long>{}(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(StableHash<long long>{}(1), 0x910a2dec89025cc1ULL);
  EXPECT_EQ(StableHash<long long>{}(42), 0xbdd732262feb6e95ULL);
  EXPECT_EQ(StableHash<long long>{}(-1), 0xe4d971771b652c20ULL);
  EXPECT_EQ(StableHash<long long>{}(1000000007), 0x01166638885f5f0eULL);
  EXPECT_EQ(StableHash<int>{}(42), 0xbdd732262feb6e95ULL);
}

TEST(StableHash, StringsArePinned) {
  EXPECT_EQ(StableHash<std::string>{}(""), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(StableHash<std::string>{}("a"), 0xd3a91638d9302387ULL);
  EXPECT_EQ(StableHash<std::string>{}("the"), 0x6044e0325dafd00dULL);
  EXPECT_EQ(StableHash<std::string>{}("hello world!"), 0x5433492f4dacfc50ULL);
  EXPECT_EQ(StableHash<std::string>{}("0123456789abcdef"), 0x93b4ae14f7e2571fULL);
}

TEST(StableHash, CompositesArePinned) {
  EXPECT_EQ((StableHash<std::pair<std::string, int>>{}({"the", 1})), 0x1576f6aae7ec072cULL);
  EXPECT_EQ((StableHash<std::tuple<int, std::string, long long>>{}({1, "a", 2})),
            0x5dce6966d73cb5dcULL);
  EXPECT_EQ(StableHash<double>{}(1.5), 0xe72b41d4576e3468ULL);
}

TEST(StableHash, PartitionsArePinned) {
  EXPECT_EQ(partitionOf(std::string("the"), 8), 3);
  EXPECT_EQ(partitionOf(std::string("a"), 8), 6);
  EXPECT_EQ(partitionOf(std::string("hello world!"), 8), 2);
  EXPECT_EQ(partitionOf(0, 8), 7);
  EXPECT_EQ(partitionOf(1, 8), 4);
  EXPECT_EQ(partitionOf(42, 8), 5);
}

TEST(StableHash, EqualKeysHashEqual) {
  std::string a = "partition key";
  std::string b;
  for (char c : a) b.push_back(c);  // a separate buffer with the same bytes
  EXPECT_EQ(StableHash<std::string>{}(a), StableHash<std::string>{}(b));
  EXPECT_EQ(StableHash<std::string>{}(a), StableHash<std::string_view>{}(std::string_view(b)));
  EXPECT_EQ(sluice::StableHasher<std::string>{}(a),
            static_cast<std::size_t>(StableHash<std::string>{}(a)));
  EXPECT_EQ(sluice::StableHasher<std::string>{}(std::string_view("partition key")),
            sluice::StableHasher<std::string>{}(a));
  EXPECT_EQ(StableHash<long long>{}(123456789LL), StableHash<long long>{}(123456789LL));
  EXPECT_EQ(StableHash<double>{}(0.0), StableHash<double>{}(-0.0));
  EXPECT_EQ(partitionOf(0.0, 13), partitionOf(-0.0, 13));
  EXPECT_EQ((StableHash<std::vector<int>>{}({1, 2, 3})),
            (StableHash<std::vector<int>>{}({1, 2, 3})));
  EXPECT_EQ(StableHash<std::optional<int>>{}(std::nullopt),
            StableHash<std::optional<int>>{}(std::optional<int>()));
  EXPECT_EQ(StableHash<std::optional<int>>{}(7), StableHash<std::optional<int>>{}(7));
}

TEST(StableHash, DistinctKeysUsuallyHashDifferently) {
  EXPECT_NE(StableHash<std::string>{}("ab"), StableHash<std::string>{}("ba"));
  EXPECT_NE(StableHash<std::string>{}("a"), StableHash<std::string>{}(std::string("a\0", 2)));
  EXPECT_NE(StableHash<std::string>{}("12345678"), StableHash<std::string>{}("123456789"));
  EXPECT_NE(StableHash<int>{}(1), StableHash<int>{}(2));
  EXPECT_NE(StableHash<std::optional<int>>{}(0), StableHash<std::optional<int>>{}(std::nullopt));
  EXPECT_NE((StableHash<std::vector<int>>{}({1, 2})), (StableHash<std::vector<int>>{}({2, 1})));
}

TEST(StableHash, PairAndTupleHashing) {
  using P = std::pair<std::string, int>;
  EXPECT_EQ(StableHash<P>{}({"k", 1}), StableHash<P>{}({std::string("k"), 1}));
  EXPECT_NE(StableHash<P>{}({"k", 1}), StableHash<P>{}({"k", 2}));
  EXPECT_NE(StableHash<P>{}({"k", 1}), StableHash<P>{}({"j", 1}));
  using Q = std::pair<int, int>;
  EXPECT_NE(StableHash<Q>{}({1, 2}), StableHash<Q>{}({2, 1}));  // order matters

  using T = std::tuple<int, std::string, double>;
  EXPECT_EQ(StableHash<T>{}({1, "x", 2.5}), StableHash<T>{}({1, "x", 2.5}));
  EXPECT_NE(StableHash<T>{}({1, "x", 2.5}), StableHash<T>{}({1, "y", 2.5}));
  EXPECT_NE(StableHash<T>{}({1, "x", 2.5}), StableHash<T>{}({1, "x", 3.5}));
  using U = std::tuple<int, int, int>;
  EXPECT_NE(StableHash<U>{}({1, 2, 3}), StableHash<U>{}({3, 2, 1}));

  using Nested = std::pair<std::pair<int, std::string>, std::tuple<long long>>;
  EXPECT_EQ(StableHash<Nested>{}({{1, "a"}, {2}}), StableHash<Nested>{}({{1, "a"}, {2}}));
  EXPECT_NE(StableHash<Nested>{}({{1, "a"}, {2}}), StableHash<Nested>{}({{1, "a"}, {3}}));

  // Pairs and tuples partition within range too.
  for (int i = 0; i < 1000; ++i) {
    int p = partitionOf(std::make_pair(i, std::to_string(i)), 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
  }
}

TEST(StableHash, PartitionOfIsInRange) {
  for (int n : {1, 2, 3, 7, 8, 64, 1000}) {
    for (long long k = -500; k < 500; ++k) {
      int p = partitionOf(k, n);
      ASSERT_GE(p, 0) << "key " << k << " n " << n;
      ASSERT_LT(p, n) << "key " << k << " n " << n;
      std::string s = "k" + std::to_string(k);
      p = partitionOf(s, n);
      ASSERT_GE(p, 0) << "key " << s << " n " << n;
      ASSERT_LT(p, n) << "key " << s << " n " << n;
    }
  }
}

// Each of `counts` must be within 20% of the mean.
void expectEven(const std::vector<int>& counts, int total, const char* what) {
  const double mean = static_cast<double>(total) / static_cast<double>(counts.size());
  for (std::size_t p = 0; p < counts.size(); ++p) {
    EXPECT_GE(counts[p], 0.8 * mean) << what << " partition " << p;
    EXPECT_LE(counts[p], 1.2 * mean) << what << " partition " << p;
  }
}

TEST(StableHash, SpreadsKeysEvenlyOverPartitions) {
  constexpr int kKeys = 100000;
  constexpr int kParts = 8;
  std::vector<int> ints(kParts);
  std::vector<int> strings(kParts);
  std::vector<int> pairs(kParts);
  std::vector<int> strided(kParts);
  for (int i = 0; i < kKeys; ++i) {
    ++ints[static_cast<std::size_t>(partitionOf(i, kParts))];
    ++strings[static_cast<std::size_t>(partitionOf("key-" + std::to_string(i), kParts))];
    ++pairs[static_cast<std::size_t>(partitionOf(std::make_pair(i % 317, i / 317), kParts))];
    ++strided[static_cast<std::size_t>(partitionOf(static_cast<long long>(i) << 20, kParts))];
  }
  expectEven(ints, kKeys, "ints");
  expectEven(strings, kKeys, "strings");
  expectEven(pairs, kKeys, "pairs");
  expectEven(strided, kKeys, "strided ints");
}

}  // namespace
