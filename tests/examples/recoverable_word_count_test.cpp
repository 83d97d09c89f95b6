// examples/recoverable_word_count (seed 000's getOrCreate program) killed with SIGKILL and
// started again on the same checkpoint: Spark's recovery gives exactly-once counts, so every
// state the second run prints already holds the files of the first run, and each file counts
// once.
#include <gtest/gtest.h>

#include <map>

#include "example_process.hpp"

namespace example_test {
namespace {

// Each batch prints its state, then its number of keys: the blocks as (state, count) pairs.
void expectStates(const std::vector<Batch>& batches,
                  const std::vector<std::map<long long, long long>>& allowed, std::size_t& last) {
  ASSERT_EQ(batches.size() % 2, 0u);
  for (std::size_t b = 0; b < batches.size(); b += 2) {
    bool matched = false;
    for (std::size_t i = last; i < allowed.size() && !matched; ++i) {
      if (printsState(batches[b], batches[b + 1], allowed[i])) {
        matched = true;
        last = i;  // states only grow
      }
    }
    EXPECT_TRUE(matched) << "batch " << b / 2 + 1 << ": "
                         << ::testing::PrintToString(batches[b].lines);
  }
}

TEST(RecoverableWordCountExample, ResumesAfterKillWithEveryFileCountedOnce) {
  TempDir dir("sluice_recoverable_word_count");
  const auto input = dir.path() / "input";
  const auto ckpt = dir.path() / "ckpt";
  std::filesystem::create_directories(input);
  const std::vector<std::string> args = {"--batch-ms", "500", "--no-write", input.string(),
                                         ckpt.string()};
  std::map<long long, long long> none;
  std::map<long long, long long> after_a;  // file a: 0..9, every key once
  for (long long k = 0; k < 10; ++k) after_a[k] = 1;
  std::map<long long, long long> after_b = after_a;  // file b: 10..14, keys 0..4 again
  for (long long k = 0; k < 5; ++k) after_b[k] = 2;

  {
    ExampleProcess first("recoverable_word_count", args);
    // Two batches printed first: a file written within a clock tick of the stream's creation
    // could look older than the stream.
    ASSERT_TRUE(first.waitForCount("Time: ", 4)) << first.out() << first.err();
    moveFileIn(input, "a", "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n");
    ASSERT_TRUE(first.waitForCount("(9, 1)", 1)) << first.out() << first.err();
    const std::size_t printed = ExampleProcess::occurrences(first.out(), "Time: ");
    ASSERT_TRUE(first.waitForCount("Time: ", printed + 4)) << first.out() << first.err();
    first.signal(SIGKILL);
    EXPECT_EQ(first.wait(), 128 + SIGKILL);
    // Cut at the last whole batch: the kill may come in the middle of one.
    const std::string out = first.out();
    const auto cut = out.rfind("\n\n");
    std::vector<std::string> preamble;
    auto batches = parseBatches(out.substr(0, cut + 2), &preamble);
    if (batches.size() % 2 == 1) batches.pop_back();
    EXPECT_EQ(preamble, (std::vector<std::string>{"Initializing ssc", "Starting ssc"}));
    std::size_t last = 0;
    expectStates(batches, {none, after_a}, last);
    EXPECT_EQ(last, 1u);
  }

  ExampleProcess second("recoverable_word_count", args);
  ASSERT_TRUE(second.waitForCount("Time: ", 2)) << second.out() << second.err();
  moveFileIn(input, "b", "10\n11\n12\n13\n14\n");
  ASSERT_TRUE(second.waitForCount("(4, 2)", 1)) << second.out() << second.err();
  const std::size_t printed = ExampleProcess::occurrences(second.out(), "Time: ");
  ASSERT_TRUE(second.waitForCount("Time: ", printed + 4)) << second.out() << second.err();
  second.signal(SIGINT);
  ASSERT_EQ(second.wait(), 0) << second.err();
  std::vector<std::string> preamble;
  const auto batches = parseBatches(second.out(), &preamble);
  EXPECT_EQ(preamble, (std::vector<std::string>{"Initializing ssc", "Starting ssc"}));
  std::size_t last = 0;
  expectStates(batches, {after_a, after_b}, last);
  EXPECT_EQ(last, 1u);
}

}  // namespace
}  // namespace example_test
