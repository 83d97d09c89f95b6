// The classic programs of seeds 000, 001, 002 and 004 run as a user runs them: fed by their own
// queues, by a TCP server on 127.0.0.1 (nc -lk) or by files moved into a directory, with short
// batches. Expected outputs come from Spark's semantics: a queue stream takes one RDD a batch, a
// window at batch k holds the batches of (k - W, k] and prints every slide, updateStateByKey
// prints the whole state, pprint prints every batch (empty ones too). Rows whose order Spark
// leaves to hash partitioning are compared as sets.
#include <gtest/gtest.h>

#include <map>

#include "example_process.hpp"

namespace example_test {
namespace {

using Lines = std::vector<std::string>;

// Runs `example` until it has printed `blocks` blocks, doing steps[n] once n blocks have printed
// (sending lines, moving a file in), then stops it with SIGINT (a graceful stop may print more).
std::vector<Batch> runSteps(ExampleProcess& p, const std::map<int, std::function<void()>>& steps,
                            int blocks) {
  for (int n = 0; n <= blocks; ++n) {
    if (n > 0 && !p.waitForCount("Time: ", static_cast<std::size_t>(n))) {
      ADD_FAILURE() << "block " << n << " never printed\n" << p.out() << p.err();
      return {};
    }
    if (auto it = steps.find(n); it != steps.end()) it->second();
  }
  p.signal(SIGINT);
  EXPECT_EQ(p.wait(), 0) << p.err();
  return parseBatches(p.out());
}

// Checks every printed block k (1-based) against expected[k], empty where not listed.
void expectBlocks(const std::vector<Batch>& batches, const std::map<int, Lines>& expected,
                  int min_blocks, bool ordered, long long spacing_ms) {
  ASSERT_GE(static_cast<int>(batches.size()), min_blocks);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const int k = static_cast<int>(i) + 1;
    auto it = expected.find(k);
    const Lines want = it == expected.end() ? Lines{} : it->second;
    if (ordered) {
      EXPECT_EQ(batches[i].lines, want) << "block " << k;
    } else {
      EXPECT_EQ(sorted(batches[i].lines), sorted(want)) << "block " << k;
    }
    if (i > 0) EXPECT_EQ(batches[i].time_ms - batches[i - 1].time_ms, spacing_ms) << "block " << k;
  }
}

Lines digitCounts(int count) {
  Lines lines;
  for (int d = 0; d < 10; ++d)
    lines.push_back("(" + std::to_string(d) + ", " + std::to_string(count) + ")");
  return lines;
}

TEST(ClassicExamples, QueueStreamEventCounts) {
  ExampleProcess p("queue_stream_event_counts", {"--batch-ms", "200"});
  const auto batches = runSteps(p, {}, 7);
  std::map<int, Lines> expected;
  for (int k = 1; k <= 5; ++k) expected[k] = digitCounts(10);
  expectBlocks(batches, expected, 7, /*ordered=*/false, 200);
}

TEST(ClassicExamples, QueueStreamModulo) {
  // Window 4 batches sliding by 2 over 5 queued RDDs of 0..999: batches 1-2, 1-4, 3-6 (3 RDDs),
  // 5-8 (1 RDD), then none.
  ExampleProcess p("queue_stream_modulo", {"--batch-ms", "200"});
  const auto batches = runSteps(p, {}, 5);
  expectBlocks(
      batches,
      {{1, digitCounts(200)}, {2, digitCounts(400)}, {3, digitCounts(300)}, {4, digitCounts(100)}},
      5, /*ordered=*/false, 400);
}

TEST(ClassicExamples, BadCustomers) {
  ExampleProcess p("bad_customers", {"--batch-ms", "200"});
  const auto batches = runSteps(p, {}, 7);
  std::map<int, Lines> expected;
  for (int k = 1; k <= 5; ++k) {
    expected[k] = {"(0, (None, True))", "(2, (None, True))", "(4, (None, True))",
                   "(6, (None, True))", "(8, (None, True))"};
  }
  expectBlocks(batches, expected, 7, /*ordered=*/false, 200);
}

TEST(ClassicExamples, NetworkWordCount) {
  LineServer server;
  ExampleProcess p("network_word_count",
                   {"--batch-ms", "500", "127.0.0.1", std::to_string(server.port())});
  ASSERT_TRUE(server.accept());
  // Lines sent once block n has printed land in batch n + 1. line.split(" ") keeps the empty
  // words between consecutive spaces.
  const auto batches = runSteps(p,
                                {{1, [&] { server.send("a rose is a rose\n"); }},
                                 {2, [&] { server.send("  double  space\n"); }}},
                                5);
  expectBlocks(batches,
               {{2, {"('a', 2)", "('rose', 2)", "('is', 1)"}},
                {3, {"('', 3)", "('double', 1)", "('space', 1)"}}},
               5, /*ordered=*/false, 500);
}

TEST(ClassicExamples, SocketWordCount) {
  LineServer server;
  ExampleProcess p("socket_word_count",
                   {"--batch-ms", "500", "127.0.0.1", std::to_string(server.port())});
  ASSERT_TRUE(server.accept());
  // line.split() splits on runs of any whitespace and never gives an empty word.
  const auto batches = runSteps(p,
                                {{1, [&] { server.send("a rose is a rose\n"); }},
                                 {2, [&] { server.send("  double \t space  \n"); }}},
                                5);
  expectBlocks(
      batches,
      {{2, {"('a', 2)", "('rose', 2)", "('is', 1)"}}, {3, {"('double', 1)", "('space', 1)"}}}, 5,
      /*ordered=*/false, 500);
}

TEST(ClassicExamples, StatefulNetworkWordCount) {
  TempDir dir("sluice_classic_examples");
  LineServer server;
  ExampleProcess p("stateful_network_word_count",
                   {"--batch-ms", "500", "--checkpoint", (dir.path() / "ckpt").string(),
                    "127.0.0.1", std::to_string(server.port())});
  ASSERT_TRUE(server.accept());
  // line.split() splits on any whitespace; the state is printed whole, sorted by word.
  const auto batches = runSteps(
      p,
      {{1, [&] { server.send("a rose is a rose\n"); }}, {2, [&] { server.send("rose\tb  \n"); }}},
      5);
  const Lines after_second = {"('a', 2)", "('b', 1)", "('is', 1)", "('rose', 3)"};
  std::map<int, Lines> expected = {{2, {"('a', 2)", "('is', 1)", "('rose', 2)"}}};
  for (int k = 3; k <= static_cast<int>(batches.size()); ++k) expected[k] = after_second;
  expectBlocks(batches, expected, 5, /*ordered=*/true, 500);
}

TEST(ClassicExamples, NetworkRunningWordCount) {
  TempDir dir("sluice_classic_examples");
  LineServer server;
  ExampleProcess p("network_running_word_count",
                   {"--batch-ms", "500", "--seconds", "0", "--checkpoint",
                    (dir.path() / "ckpt").string(), "127.0.0.1", std::to_string(server.port())});
  ASSERT_TRUE(server.accept());
  // line.split(" ") keeps empty words; the whole state prints every batch, in no set order.
  const auto batches = runSteps(
      p, {{1, [&] { server.send("a rose is a rose\n"); }}, {2, [&] { server.send("rose  b\n"); }}},
      5);
  const Lines after_second = {"('a', 2)", "('is', 1)", "('rose', 3)", "('', 1)", "('b', 1)"};
  std::map<int, Lines> expected = {{2, {"('a', 2)", "('is', 1)", "('rose', 2)"}}};
  for (int k = 3; k <= static_cast<int>(batches.size()); ++k) expected[k] = after_second;
  expectBlocks(batches, expected, 5, /*ordered=*/false, 500);
}

TEST(ClassicExamples, WindowedWordCount) {
  LineServer server;
  ExampleProcess p("windowed_word_count",
                   {"--batch-ms", "500", "127.0.0.1", std::to_string(server.port())});
  ASSERT_TRUE(server.accept());
  // Window 3 batches sliding by 2: blocks print at batches 2, 4, 6, 8 and hold batches 0-2,
  // 2-4, 4-6, 6-8. Lines sent after block 1 (batch 2) land in batch 3, after block 2 in batch 5.
  const auto batches =
      runSteps(p, {{1, [&] { server.send("a b a\n"); }}, {2, [&] { server.send("c\n"); }}}, 4);
  expectBlocks(batches, {{2, {"('a', 2)", "('b', 1)"}}, {3, {"('c', 1)"}}}, 4, /*ordered=*/false,
               1000);
}

TEST(ClassicExamples, DirectoryWordCount) {
  TempDir dir("sluice_classic_examples");
  ExampleProcess p("directory_word_count", {"--batch-ms", "500", dir.path().string()});
  // Files moved in once block n has printed land in batch n + 1; none before block 2, as a file
  // written within a clock tick of the stream's creation could look older than the stream.
  const auto batches =
      runSteps(p,
               {{2, [&] { moveFileIn(dir.path(), "one.txt", "a rose is a rose\n"); }},
                {3, [&] { moveFileIn(dir.path(), "two.txt", "x\ty  x\n\n"); }}},
               6);
  expectBlocks(batches,
               {{3, {"('a', 2)", "('rose', 2)", "('is', 1)"}}, {4, {"('x', 2)", "('y', 1)"}}}, 6,
               /*ordered=*/false, 500);
}

}  // namespace
}  // namespace example_test
