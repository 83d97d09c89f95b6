// Deterministic batch output (issue 12, section 2): the order of every operation's output is a
// function of the input and the partitioning alone. The same stream, run 50 times at each
// parallelism on the manual clock, prints the same pprint text and saves the same
// saveAsTextFiles bytes every time, whatever the threads' timing. (The order may differ between
// parallelism settings, whose partitionings differ; docs/design.md.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sluice/streaming.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"
#include "streaming/stream_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::Context;
using sluice::ManualClock;
using sluice::State;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::TempDir;
using KV = std::pair<long long, long long>;

constexpr int kRuns = 50;
constexpr int kBatches = 3;
constexpr std::chrono::seconds kDeadline{60};  // real-time bound on one batch

// kBatches batches of 400 pseudo-random numbers (fixed seed) over about 200 keys each.
std::vector<std::vector<long long>> input() {
  std::vector<std::vector<long long>> batches(kBatches);
  std::uint64_t x = 12;
  for (auto& batch : batches) {
    for (int i = 0; i < 400; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      batch.push_back(static_cast<long long>(x >> 40));
    }
  }
  return batches;
}

struct RunOutput {
  std::string printed;
  std::map<std::string, std::string> files;  // saveAsTextFiles's, by path under the run's dir
};

std::map<std::string, std::string> filesUnder(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    files[fs::relative(entry.path(), dir).string()] = bytes.str();
  }
  return files;
}

// One run of the stream in a fresh context: keyed aggregation, a join, a cogroup-based
// subtraction, updateStateByKey, mapWithState (whose state removes keys) and an incremental
// window, each printed in full and saved.
RunOutput runOnce(const std::string& master, const fs::path& dir) {
  Context sc(master, "deterministicOutput");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto pairs = ssc.queueStream(input()).map([](long long x) { return KV(x % 211, x % 1000); });
  auto counts = pairs.mapValues([](long long) { return 1LL; }).reduceByKey(std::plus<>());
  auto joined = counts.join(pairs.map([](const KV& kv) { return KV(kv.second % 211, kv.first); }));
  auto groups = pairs.groupByKey();
  auto running = counts.updateStateByKey(
      [](const std::vector<long long>& values, std::optional<long long> state) {
        long long sum = state.value_or(0);
        for (long long v : values) sum += v;
        return std::optional<long long>(sum);
      });
  auto spec = sluice::stateSpecFunction<long long, long long, long long>(
      [](const long long&, std::optional<long long> value, State<long long>& state) {
        const long long sum = value.value_or(0) + state.getOption().value_or(0);
        if (sum % 3 == 0) {
          state.remove();
        } else {
          state.update(sum);
        }
        return sum;
      });
  auto mapped = pairs.mapWithState(spec);
  auto windowed = pairs.reduceByKeyAndWindow(std::plus<>(), std::minus<>(), 2s);
  const int kAll = 100000;
  counts.pprint(kAll);
  joined.pprint(kAll);
  groups.pprint(kAll);
  running.pprint(kAll);
  mapped.pprint(kAll);
  mapped.stateSnapshots().pprint(kAll);
  windowed.pprint(kAll);
  counts.saveAsTextFiles((dir / "counts").string());
  joined.saveAsTextFiles((dir / "joined").string());
  mapped.stateSnapshots().saveAsTextFiles((dir / "snapshots").string());
  windowed.saveAsTextFiles((dir / "windowed").string());
  ssc.start();
  ::testing::internal::CaptureStdout();
  for (int b = 1; b <= kBatches; ++b) {
    clock->advance(1000);
    if (!ssc.core()->waitForBatch(Time(clock->nowMs()), kDeadline)) {
      ::testing::internal::GetCapturedStdout();
      throw std::runtime_error("batch " + std::to_string(b) + " did not complete in time");
    }
  }
  RunOutput out;
  out.printed = ::testing::internal::GetCapturedStdout();
  ssc.stop(false);
  out.files = filesUnder(dir);
  return out;
}

class DeterministicOutput : public ::testing::TestWithParam<std::string> {};

// The runs' output directories, on tmpfs where there is one: saving syncs every file, which on a
// disk would take most of the 200 runs' time.
std::string outputPrefix() {
  return fs::is_directory("/dev/shm") ? "/dev/shm/sluice_deterministic" : "sluice_deterministic";
}

TEST_P(DeterministicOutput, SameInputSameBytesEveryRun) {
  TempDir first_dir(outputPrefix());
  const RunOutput first = runOnce(GetParam(), first_dir.path());
  ASSERT_NE(first.printed.find("Time: "), std::string::npos);
  ASSERT_GE(first.files.size(), 4u * kBatches);
  for (int run = 1; run < kRuns; ++run) {
    TempDir dir(outputPrefix());
    const RunOutput out = runOnce(GetParam(), dir.path());
    // Whole-text comparisons print megabytes on failure; say where the runs part instead.
    if (out.printed != first.printed) {
      std::size_t at = 0;
      while (at < out.printed.size() && at < first.printed.size() &&
             out.printed[at] == first.printed[at]) {
        ++at;
      }
      FAIL() << "run " << run << " printed differently from run 0, from byte " << at << ": \""
             << first.printed.substr(at, 60) << "\" vs \"" << out.printed.substr(at, 60) << "\"";
    }
    ASSERT_EQ(out.files.size(), first.files.size()) << "run " << run;
    for (const auto& [path, bytes] : first.files) {
      auto it = out.files.find(path);
      ASSERT_NE(it, out.files.end()) << "run " << run << " did not save " << path;
      ASSERT_TRUE(it->second == bytes) << "run " << run << " saved different bytes in " << path;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Masters, DeterministicOutput,
                         ::testing::Values("local[1]", "local[2]", "local[4]", "local[8]"),
                         ::sluice::testing_util::masterName);

}  // namespace
