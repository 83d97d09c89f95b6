// StableMap, the insertion-ordered hash map of keyed operations: random operations checked
// against a model (a vector in the order the map promises: insertion order, an erase moving the
// last entry into the erased one's place), with good hashes and with colliding ones that make
// long probe runs for erase to repair.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <sluice/rdd/stable_map.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

using sluice::detail::StableMap;

// Every key in one of 8 home slots: long probe runs that wrap around the index.
struct CollidingHash {
  std::size_t operator()(int k) const noexcept { return static_cast<std::size_t>(k % 8) * 3; }
};

template <class Map>
class Model {
 public:
  using Entries = std::vector<std::pair<int, int>>;
  void upsert(Map& map, int key, int value) {
    map[key] += value;
    for (auto& [k, v] : entries_) {
      if (k == key) {
        v += value;
        return;
      }
    }
    entries_.emplace_back(key, value);
  }
  void erase(Map& map, int key) {
    const std::size_t erased = map.erase(key);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].first != key) continue;
      ASSERT_EQ(erased, 1u);
      entries_[i] = entries_.back();
      entries_.pop_back();
      return;
    }
    ASSERT_EQ(erased, 0u);
  }
  void check(const Map& map) const {
    ASSERT_EQ(Entries(map.begin(), map.end()), entries_);
    for (const auto& [k, v] : entries_) {
      auto it = map.find(k);
      ASSERT_NE(it, map.end()) << k;
      EXPECT_EQ(it->second, v);
    }
  }

 private:
  Entries entries_;
};

template <class Map>
void randomOperations(std::uint64_t seed, int keys) {
  std::mt19937_64 rng(seed);
  Map map;
  Model<Map> model;
  for (int step = 0; step < 20000; ++step) {
    const int key = static_cast<int>(rng() % static_cast<std::uint64_t>(keys));
    if (rng() % 3 == 0) {
      model.erase(map, key);
    } else {
      model.upsert(map, key, static_cast<int>(rng() % 10));
    }
    if (step % 1000 == 999) model.check(map);
    EXPECT_EQ(map.contains(key + keys), false);
  }
  model.check(map);
}

TEST(StableMap, RandomOperationsKeepTheModelsOrder) {
  randomOperations<StableMap<int, int>>(1, 500);
  randomOperations<StableMap<int, int>>(2, 20);
}

TEST(StableMap, RandomOperationsWithCollidingHashes) {
  randomOperations<StableMap<int, int, CollidingHash>>(3, 200);
}

TEST(StableMap, IteratesInInsertionOrderWhateverTheCapacityHistory) {
  StableMap<std::string, int> grown;
  StableMap<std::string, int> reserved;
  reserved.reserve(10000);
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) keys.push_back("key-" + std::to_string((i * 7919) % 10000));
  for (const auto& k : keys) {
    grown.try_emplace(k, 1);
    reserved.try_emplace(k, 1);
  }
  ASSERT_EQ(grown.size(), keys.size());
  std::size_t i = 0;
  for (const auto& [k, v] : grown) EXPECT_EQ(k, keys[i++]);
  EXPECT_TRUE(std::equal(grown.begin(), grown.end(), reserved.begin(), reserved.end()));
}

TEST(StableMap, LazyEmplaceConstructsOnlyANewKey) {
  StableMap<std::string, int> map;
  int constructed = 0;
  auto add = [&](std::string key) {
    return map.lazy_emplace(key, [&](const auto& construct) {
      ++constructed;
      construct(std::move(key), 7);
    });
  };
  EXPECT_EQ(add("a")->second, 7);
  add("a")->second = 8;
  EXPECT_EQ(add("a")->second, 8);
  EXPECT_EQ(constructed, 1);
  EXPECT_EQ(map.size(), 1u);
}

TEST(StableMap, TryEmplaceAndInsertOrAssign) {
  StableMap<int, std::string> map;
  EXPECT_TRUE(map.try_emplace(1, "one").second);
  EXPECT_FALSE(map.try_emplace(1, "uno").second);
  EXPECT_EQ(map.find(1)->second, "one");
  EXPECT_FALSE(map.insert_or_assign(1, std::string("uno")).second);
  EXPECT_TRUE(map.insert_or_assign(2, std::string("two")).second);
  EXPECT_EQ(map[1], "uno");
  EXPECT_EQ(map[3], "");
  EXPECT_EQ(map.size(), 3u);
  map.erase(map.find(1));
  EXPECT_FALSE(map.contains(1));
  EXPECT_EQ(map.begin()->first, 3);  // the last entry took the erased one's place
  map.clear();
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.find(2), map.end());
  map[5] = "five";
  EXPECT_EQ(map.size(), 1u);
}

}  // namespace
