#include <gtest/gtest.h>

#include <sluice/testing.hpp>

namespace {

using sluice::testing::runStream;

TEST(StreamHarness, MapAndCount) {
  std::vector<std::vector<int>> input{{1, 2, 3, 4}, {5, 6, 7, 8}, {}};
  auto out = runStream(
      input, [](sluice::DStream<int> s) { return s.map([](int x) { return x * 10; }); }, 4);
  std::vector<std::vector<int>> expected{{10, 20, 30, 40}, {50, 60, 70, 80}, {}, {}};
  EXPECT_EQ(out, expected);
  auto counts = runStream(
      input, [](sluice::DStream<int> s) { return s.count(); }, 4);
  std::vector<std::vector<long long>> expected_counts{{4}, {4}, {0}, {0}};
  EXPECT_EQ(counts, expected_counts);
}

}  // namespace
