// examples/running_count (seed 000's test_count.py) fed with files moved into its directory
// between batches, and fed by its own xrange_write. Expected output from Spark's semantics:
// updateStateByKey prints the whole state every batch (keys with no new value keep theirs),
// count() prints the number of keys (0 for the empty first state), pprint prints every batch.
#include <gtest/gtest.h>

#include <map>

#include "example_process.hpp"

namespace example_test {
namespace {

TEST(RunningCountExample, CountsTheFilesMovedInBatchByBatch) {
  TempDir dir("sluice_running_count");
  const auto input = dir.path() / "input";
  std::filesystem::create_directories(input);
  ExampleProcess p("running_count",
                   {"--master", "local[2]", "--batch-ms", "500", "--no-write", "--checkpoint",
                    (dir.path() / "ckpt").string(), input.string()});
  // Each batch prints two blocks (the state, then its count). A file moved in once batch k has
  // printed is taken by batch k + 1. Batches 1 and 2 stay empty: a file written within a clock
  // tick of the stream's creation could look older than the stream.
  const std::vector<std::string> files = {
      "0\n1\n2\n3\n4\n", "5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n",
      "-3\n 7 \n+12\n",  // Python's int() and %: -3 % 10 == 7
  };
  ASSERT_TRUE(p.waitForCount("Time: ", 4)) << p.out() << p.err();
  for (std::size_t f = 0; f < files.size(); ++f) {
    moveFileIn(input, "file" + std::to_string(f), files[f]);
    ASSERT_TRUE(p.waitForCount("Time: ", 4 + 2 * (f + 1))) << p.out() << p.err();
  }
  ASSERT_TRUE(p.waitForCount("Time: ", 4 + 2 * files.size() + 2)) << p.out() << p.err();
  p.signal(SIGINT);
  ASSERT_EQ(p.wait(), 0) << p.err();

  std::vector<std::string> preamble;
  const auto batches = parseBatches(p.out(), &preamble);
  EXPECT_EQ(preamble, (std::vector<std::string>{"Initializing ssc", "Starting ssc"}));
  ASSERT_GE(batches.size(), 2 * (2 + files.size() + 1));
  ASSERT_EQ(batches.size() % 2, 0u);

  std::map<long long, long long> state;
  auto after_file = [&](std::size_t k) {  // the state after batch k (1-based)
    std::map<long long, long long> s;
    if (k >= 3)
      for (long long n = 0; n < 5; ++n) ++s[n % 10];
    if (k >= 4)
      for (long long n = 5; n < 15; ++n) ++s[n % 10];
    if (k >= 5) ++s[7], ++s[7], ++s[2];
    return s;
  };
  for (std::size_t k = 1; 2 * k <= batches.size(); ++k) {
    const Batch& states = batches[2 * k - 2];
    const Batch& count = batches[2 * k - 1];
    EXPECT_EQ(states.time_ms, count.time_ms);
    if (k > 1) EXPECT_EQ(states.time_ms - batches[2 * k - 4].time_ms, 500) << "batch " << k;
    const auto expected = after_file(k);
    EXPECT_EQ(sorted(states.lines), stateLines(expected)) << "batch " << k;
    EXPECT_EQ(count.lines, std::vector<std::string>{std::to_string(expected.size())})
        << "batch " << k;
  }
}

// With its own xrange_write, the files come at their own pace: whatever batch each lands in,
// every state printed is the count of the numbers 0..n-1 for a growing n, a multiple of the
// file size (or, when the first file was ignored as older than the stream, of 5..n-1).
TEST(RunningCountExample, ItsOwnWriterFeedsIt) {
  TempDir dir("sluice_running_count");
  const auto input = dir.path() / "input";
  ExampleProcess p("running_count", {"--batch-ms", "300", "--write-ms", "200", "--checkpoint",
                                     (dir.path() / "ckpt").string(), input.string()});
  // Runs until the state has 10 keys (two files or more counted) and three more batches.
  ASSERT_TRUE(p.waitForOutput([](const std::string& out) {
    const auto at = out.find("\n10\n");
    return at != std::string::npos && ExampleProcess::occurrences(out.substr(at), "Time: ") >= 6;
  })) << p.out()
      << p.err();
  p.signal(SIGINT);
  ASSERT_EQ(p.wait(), 0) << p.err();

  const auto batches = parseBatches(p.out());
  ASSERT_EQ(batches.size() % 2, 0u);
  long long last_n = 0;
  for (std::size_t b = 0; b < batches.size(); b += 2) {
    // The numbers counted so far, from the values of the "(key, count)" lines.
    long long total = 0;
    for (const auto& line : batches[b].lines) total += std::stoll(line.substr(line.find(' ') + 1));
    bool matched = false;
    for (long long first : {0, 5}) {
      const long long n = first + total;
      std::map<long long, long long> s;
      for (long long x = first; x < n; ++x) ++s[x % 10];
      if (n % 5 == 0 && n >= last_n && printsState(batches[b], batches[b + 1], s)) {
        matched = true;
        last_n = n;
        break;
      }
    }
    EXPECT_TRUE(matched) << "batch " << b / 2 + 1 << " after n = " << last_n;
  }
  EXPECT_GE(last_n, 10);
  // Every file was renamed into place: no temporary file is left, every name is 32 hex digits.
  for (const auto& entry : std::filesystem::directory_iterator(input)) {
    EXPECT_TRUE(std::regex_match(entry.path().filename().string(), std::regex("[0-9a-f]{32}")))
        << entry.path();
  }
}

}  // namespace
}  // namespace example_test
