// Tests of PersistentSlots (sluice/streaming/window_state.hpp), the copy-on-write slot store
// behind the incremental reduceByKeyAndWindow: against a std::map model, with snapshots taken
// along the way that must never change.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <sluice/streaming/window_state.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

using sluice::detail::PersistentSlots;
using Slots = PersistentSlots<std::string>;
using Model = std::map<std::uint32_t, std::string>;

Model contents(const Slots::Snapshot& snapshot) {
  Model out;
  std::uint32_t previous = 0;
  bool first = true;
  snapshot.forEach([&](std::uint32_t slot, const std::string& value) {
    EXPECT_TRUE(first || slot > previous) << "slots out of order";
    first = false;
    previous = slot;
    out.emplace(slot, value);
    return true;
  });
  EXPECT_EQ(out.size(), snapshot.size());
  return out;
}

TEST(PersistentSlots, EmptyStore) {
  Slots slots;
  EXPECT_TRUE(slots.empty());
  EXPECT_FALSE(slots.contains(0));
  EXPECT_TRUE(contents(slots.snapshot()).empty());
  Slots::Snapshot default_snapshot;
  EXPECT_TRUE(contents(default_snapshot).empty());
}

TEST(PersistentSlots, AddFillsSlotsInOrderAndReusesTheLowestFreed) {
  Slots slots;
  for (std::uint32_t i = 0; i < 40; ++i) EXPECT_EQ(slots.add("v" + std::to_string(i)), i);
  slots.erase(33);
  slots.erase(7);
  slots.erase(20);
  EXPECT_EQ(slots.size(), 37u);
  EXPECT_FALSE(slots.contains(7));
  EXPECT_EQ(slots.add("a"), 7u);
  EXPECT_EQ(slots.add("b"), 20u);
  EXPECT_EQ(slots.add("c"), 33u);
  EXPECT_EQ(slots.add("d"), 40u);
  EXPECT_EQ(slots.get(20), "b");
  EXPECT_EQ(slots.get(39), "v39");
}

TEST(PersistentSlots, EmptiedStoreStartsAgainAtSlotZero) {
  Slots slots;
  for (int i = 0; i < 300; ++i) slots.add("x");
  for (std::uint32_t i = 0; i < 300; ++i) slots.erase(i);
  EXPECT_TRUE(slots.empty());
  EXPECT_EQ(slots.add("y"), 0u);
  EXPECT_EQ(contents(slots.snapshot()), (Model{{0, "y"}}));
}

TEST(PersistentSlots, GrowsPastSeveralLevelsAndSnapshotsKeepTheirSize) {
  // 16^4 + 1 slots need five levels; snapshots at every power of 16 keep their contents.
  Slots slots;
  std::vector<Slots::Snapshot> snapshots;
  const std::uint32_t n = 65537;
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(slots.add(std::to_string(i)), i);
    if (i == 15 || i == 255 || i == 4095 || i == 65535) snapshots.push_back(slots.snapshot());
  }
  for (std::uint32_t i = 0; i < n; i += 4099) EXPECT_EQ(slots.get(i), std::to_string(i));
  EXPECT_FALSE(slots.contains(n));
  EXPECT_FALSE(slots.contains(0xffffffffu));
  std::size_t expected = 16;
  for (const auto& snapshot : snapshots) {
    Model model = contents(snapshot);
    ASSERT_EQ(model.size(), expected);
    EXPECT_EQ(model.rbegin()->first, expected - 1);
    EXPECT_EQ(model.rbegin()->second, std::to_string(expected - 1));
    expected *= 16;
  }
  EXPECT_EQ(contents(slots.snapshot()).size(), n);
}

TEST(PersistentSlots, CopiesAreIndependent) {
  Slots a;
  for (int i = 0; i < 100; ++i) a.add(std::to_string(i));
  Slots b = a;
  b.mutableRef(5) = "changed";
  b.erase(6);
  b.add("new");  // reuses slot 6 in b only
  a.erase(50);
  EXPECT_EQ(a.get(5), "5");
  EXPECT_EQ(a.get(6), "6");
  EXPECT_FALSE(a.contains(50));
  EXPECT_EQ(b.get(5), "changed");
  EXPECT_EQ(b.get(6), "new");
  EXPECT_EQ(b.get(50), "50");
}

TEST(PersistentSlots, RandomOperationsAgainstAMapWithSnapshots) {
  std::mt19937_64 rng(0x51075eedULL);
  Slots slots;
  Model model;
  std::vector<std::pair<Slots::Snapshot, Model>> snapshots;
  auto pick = [&]() {
    auto it = model.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng() % model.size()));
    return it->first;
  };
  for (int step = 0; step < 20000; ++step) {
    const auto op = rng() % 10;
    // Grows early and shrinks later, so freed slots are reused at every level.
    const bool grow = step < 8000 ? op < 6 : op < 3;
    if (model.empty() || grow) {
      const std::string value = "v" + std::to_string(step);
      const std::uint32_t slot = slots.add(value);
      ASSERT_FALSE(model.contains(slot)) << "add returned a live slot";
      // The lowest free slot.
      std::uint32_t lowest = 0;
      for (const auto& [s, v] : model) {
        if (s != lowest) break;
        ++lowest;
      }
      ASSERT_EQ(slot, lowest);
      model.emplace(slot, value);
    } else if (op < 8) {
      const std::uint32_t slot = pick();
      slots.mutableRef(slot) += "+" + std::to_string(step);
      model[slot] += "+" + std::to_string(step);
    } else {
      const std::uint32_t slot = pick();
      slots.erase(slot);
      model.erase(slot);
    }
    ASSERT_EQ(slots.size(), model.size());
    if (step % 97 == 0) snapshots.emplace_back(slots.snapshot(), model);
    if (step % 1009 == 0) ASSERT_EQ(contents(slots.snapshot()), model) << "step " << step;
  }
  for (const auto& [slot, value] : model) ASSERT_EQ(slots.get(slot), value);
  EXPECT_EQ(contents(slots.snapshot()), model);
  ASSERT_GT(snapshots.size(), 200u);
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    EXPECT_EQ(contents(snapshots[i].first), snapshots[i].second) << "snapshot " << i;
  }
}

TEST(PersistentSlots, ForEachStopsWhenTheFunctionReturnsFalse) {
  Slots slots;
  for (int i = 0; i < 50; ++i) slots.add(std::to_string(i));
  int calls = 0;
  slots.snapshot().forEach([&](std::uint32_t slot, const std::string&) {
    ++calls;
    return slot < 20;
  });
  EXPECT_EQ(calls, 21);
}

}  // namespace
