// CombineTable, the per-task table of keyed aggregations: the dense string-keyed table and the
// generic one, checked against std::map, plus the byte comparison its lookups use.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <sluice/rdd/combine_table.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using sluice::detail::CombineTable;
using sluice::detail::equalBytes;

TEST(EqualBytes, EverySizeAndEveryDifferingPosition) {
  for (std::size_t size = 0; size <= 40; ++size) {
    std::string a(size, '\0');
    for (std::size_t i = 0; i < size; ++i) a[i] = static_cast<char>('a' + i % 26);
    std::string b = a;
    EXPECT_TRUE(equalBytes(a.data(), b.data(), size)) << size;
    for (std::size_t i = 0; i < size; ++i) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ 0x80);
      EXPECT_FALSE(equalBytes(a.data(), c.data(), size)) << "size " << size << " position " << i;
    }
  }
}

// Keys of every length class the lookup treats apart (0, 1-3, 4-7, 8-16, > 16 bytes), over a
// small alphabet with NUL and high bytes so that equal lengths and shared prefixes are common.
std::string randomKey(std::mt19937_64& rng) {
  static const std::string kAlphabet("ab\0\xff z", 6);
  std::size_t size = std::uniform_int_distribution<std::size_t>(0, 24)(rng);
  if (rng() % 8 == 0) size += 40;
  std::string key;
  for (std::size_t i = 0; i < size; ++i) key.push_back(kAlphabet[rng() % kAlphabet.size()]);
  return key;
}

template <class K>
std::vector<std::pair<K, long long>> drained(CombineTable<K, long long>& table) {
  std::vector<std::pair<K, long long>> out;
  table.drain([&](K&& k, long long&& c) { out.emplace_back(std::move(k), c); });
  return out;
}

TEST(CombineTable, StringKeysMatchAMapModelInInsertionOrder) {
  std::mt19937_64 rng(7);
  CombineTable<std::string, long long> table;
  std::map<std::string, long long> model;
  std::vector<std::string> first_seen;
  for (int step = 0; step < 200000; ++step) {
    std::string key = randomKey(rng);
    long long value = static_cast<long long>(rng() % 100);
    if (model.count(key) == 0) first_seen.push_back(key);
    model[key] += value;
    table.upsert(
        std::move(key), [&] { return value; }, [&](long long& c) { c += value; });
  }
  ASSERT_EQ(table.size(), model.size());
  auto out = drained(table);
  ASSERT_EQ(out.size(), first_seen.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].first, first_seen[i]);
    EXPECT_EQ(out[i].second, model.at(first_seen[i]));
  }
  EXPECT_EQ(table.size(), 0u);
}

// Generic keys drain in insertion order too: a task's output order must not depend on the
// table's addresses (issue 12, deterministic output).
TEST(CombineTable, GenericKeysMatchAMapModelInInsertionOrder) {
  std::mt19937_64 rng(11);
  CombineTable<long long, long long> table;
  std::map<long long, long long> model;
  std::vector<long long> first_seen;
  for (int step = 0; step < 100000; ++step) {
    long long key = static_cast<long long>(rng() % 5000) - 2500;
    if (model.count(key) == 0) first_seen.push_back(key);
    model[key] += 1;
    table.upsert(
        key, [] { return 1LL; }, [](long long& c) { ++c; });
  }
  auto out = drained(table);
  ASSERT_EQ(out.size(), first_seen.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].first, first_seen[i]);
    EXPECT_EQ(out[i].second, model.at(first_seen[i]));
  }
}

TEST(CombineTable, PairKeysDrainInInsertionOrderAfterReserve) {
  using Key = std::pair<int, std::string>;
  CombineTable<Key, long long> table;
  table.reserve(1000);
  std::vector<Key> keys;
  for (int i = 0; i < 3000; ++i) keys.emplace_back((i * 7919) % 3000, std::to_string(i % 3));
  for (int round = 0; round < 2; ++round) {
    for (const Key& key : keys) {
      table.upsert(
          Key(key), [] { return 1LL; }, [](long long& c) { ++c; });
    }
  }
  std::vector<std::pair<Key, long long>> out;
  table.drain([&](Key&& k, long long&& c) { out.emplace_back(std::move(k), c); });
  ASSERT_EQ(out.size(), keys.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].first, keys[i]);
    EXPECT_EQ(out[i].second, 2);
  }
  EXPECT_EQ(table.size(), 0u);
}

TEST(CombineTable, KeysAreCopiedOnlyWhenNewAndAHitLeavesTheArgumentIntact) {
  CombineTable<std::string, long long> table;
  std::string key(30, 'k');  // longer than the small-string buffer
  table.upsert(
      std::move(key), [] { return 1LL; }, [](long long&) {});
  std::string again(30, 'k');
  int merges = 0;
  table.upsert(
      std::move(again), [] { return 1LL; }, [&](long long& c) {
        c += 1;
        ++merges;
      });
  EXPECT_EQ(again, std::string(30, 'k'));
  EXPECT_EQ(merges, 1);
  auto out = drained(table);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second, 2);
}

TEST(CombineTable, AThrowingCreateAddsNothingAndTheTableStaysUsable) {
  CombineTable<std::string, long long> table;
  for (int i = 0; i < 100; ++i) {
    table.upsert(
        std::to_string(i), [] { return 1LL; }, [](long long& c) { ++c; });
  }
  EXPECT_THROW(table.upsert(
                   std::string("new"), []() -> long long { throw std::runtime_error("user"); },
                   [](long long& c) { ++c; }),
               std::runtime_error);
  EXPECT_EQ(table.size(), 100u);
  table.upsert(
      std::string("new"), [] { return 5LL; }, [](long long& c) { ++c; });
  table.upsert(
      std::string("7"), [] { return 1LL; }, [](long long& c) { c += 10; });
  auto out = drained(table);
  std::map<std::string, long long> got(out.begin(), out.end());
  EXPECT_EQ(got.size(), 101u);
  EXPECT_EQ(got.at("new"), 5);
  EXPECT_EQ(got.at("7"), 11);
}

TEST(CombineTable, IsEmptyAndReusableAfterDrain) {
  CombineTable<std::string, long long> table;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50000; ++i) {
      table.upsert(
          std::to_string(i % 20000), [] { return 1LL; }, [](long long& c) { ++c; });
    }
    auto out = drained(table);
    ASSERT_EQ(out.size(), 20000u);
    for (const auto& [key, count] : out) {
      EXPECT_EQ(count, std::stoi(key) < 10000 ? 3 : 2) << key;
    }
  }
}

}  // namespace
