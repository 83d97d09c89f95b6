// The state and checkpoint reports a streaming context posts for the web UI: each stateful
// stream's key count and size after every batch, and each checkpoint file's size.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <sluice/testing.hpp>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_file.hpp"
#include "core/listener_bus.hpp"
#include "streaming/stream_test_util.hpp"

namespace sluice::stream_test {
namespace {

using namespace std::chrono_literals;
using detail::CheckpointReport;
using detail::StateReport;
using detail::StreamingEvent;

class ReportRecorder : public detail::EventObserver {
 public:
  void onEvent(const detail::ListenerEvent& event) override {
    const auto* e = std::get_if<StreamingEvent>(&event);
    if (e == nullptr) return;
    std::lock_guard lock(mu);
    if (e->kind == StreamingEvent::Kind::kStateReport) {
      states.push_back(std::get<StateReport>(e->info));
    } else if (e->kind == StreamingEvent::Kind::kCheckpointWritten) {
      checkpoints.push_back(std::get<CheckpointReport>(e->info));
    }
  }
  std::mutex mu;
  std::vector<StateReport> states;
  std::vector<CheckpointReport> checkpoints;
};

class StateReportTest : public ::testing::TestWithParam<std::string> {};

using Counts = std::pair<std::string, long long>;

TEST_P(StateReportTest, StatefulStreamsReportKeysAndBytesAndCheckpointsTheirSizes) {
  const StateParam param(GetParam());
  TempDir dir("sluice_state_report");
  Context sc(param.master, "stateReports");
  auto recorder = std::make_shared<ReportRecorder>();
  sc.runtime()->listenerBus().addObserver(recorder);
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  param.apply(ssc);
  ssc.checkpoint(dir.path().string());
  // Batch 1 brings three keys, batch 2 one more with a long value, batch 3 nothing.
  const std::string long_word(1000, 'x');
  Batches<std::string> input{{"a", "b", "c", "a"}, {long_word}, {}};
  auto pairs = sluice::testing::detail::testInput(sc, ssc, input, 2).map([](const std::string& w) {
    return std::make_pair(w, 1LL);
  });
  auto totals = pairs
                    .updateStateByKey([](const std::vector<long long>& values,
                                         const std::optional<long long>& state) {
                      long long sum = state.value_or(0);
                      for (long long v : values) sum += v;
                      return std::optional(sum);
                    })
                    .uid("totals");
  auto windowed = pairs
                      .reduceByKeyAndWindow([](long long a, long long b) { return a + b; },
                                            [](long long a, long long b) { return a - b; }, 2s)
                      .uid("windowed");
  auto mapped = pairs.mapWithState(sluice::stateSpecFunction<std::string, long long, long long>(
      [](const std::string&, std::optional<long long> v, sluice::State<long long>& state) {
        const long long n = (state.exists() ? state.get() : 0) + v.value_or(0);
        state.update(n);
        return n;
      }));
  mapped.uid("mapped");  // names the node; the returned DStream loses stateSnapshots()
  // What each store holds after each batch, as the streams show it.
  std::map<std::string, std::shared_ptr<Collected<Counts>>> contents{
      {"totals", collectEach(totals)},
      {"windowed", collectEach(windowed)},
      {"mapped", collectEach(mapped.stateSnapshots())}};
  ssc.start();
  for (int b = 1; b <= 3; ++b) {
    clock->advance(1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(Time(b * 1000LL), 60s));
  }
  ssc.stop(false);
  ASSERT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(60s));

  std::lock_guard lock(recorder->mu);
  ASSERT_EQ(recorder->states.size(), 9u);  // three streams, three batches
  std::map<std::string, std::vector<StateReport>> by_stream;
  for (const auto& r : recorder->states) by_stream[r.name].push_back(r);
  ASSERT_EQ(by_stream.size(), 3u);
  EXPECT_EQ(by_stream["totals"][0].stream_id, totals.id());
  for (auto& [name, reports] : by_stream) {
    ASSERT_EQ(reports.size(), 3u) << name;
    for (int b = 1; b <= 3; ++b) {
      const StateReport& r = reports[static_cast<std::size_t>(b - 1)];
      EXPECT_EQ(r.batch_time, Time(b * 1000LL)) << name;
      const auto shown = static_cast<long long>(contents.at(name)->batch(b * 1000LL).size());
      if (param.backend == "memory") {
        EXPECT_EQ(r.keys, shown) << name << " at batch " << b;
      } else {
        // RocksDB's key count is its own estimate; it sees every key written.
        EXPECT_GE(r.keys, shown) << name << " at batch " << b;
      }
      EXPECT_GT(r.bytes, 0) << name;
    }
    if (param.backend == "memory") {
      // The long key's heap buffer counts: the estimate grows by about its size.
      EXPECT_GT(reports[1].bytes, reports[0].bytes + 200) << name;
    }
  }
  if (param.backend == "memory") EXPECT_EQ(by_stream["totals"][1].keys, 4);

  // One checkpoint per batch, each the size of its file.
  ASSERT_EQ(recorder->checkpoints.size(), 3u);
  EXPECT_TRUE(recorder->checkpoints[0].full);
  for (const auto& c : recorder->checkpoints) {
    EXPECT_GE(c.duration_ms, 0);
    const std::string path =
        detail::checkpointPath(dir.path().string(), c.batch_time.milliseconds());
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_EQ(static_cast<long long>(std::filesystem::file_size(path)), c.bytes) << path;
  }
}

SLUICE_STATE_BACKENDS(StateReportTest);

}  // namespace
}  // namespace sluice::stream_test
