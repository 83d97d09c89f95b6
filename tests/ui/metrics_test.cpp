// The /metrics text: sample values from a fixed event sequence, and promtool's verdict on it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "temp_dir.hpp"
#include "ui/rest_api.hpp"
#include "ui/ui_events.hpp"

namespace {

using namespace sluice;
using namespace sluice::ui_test;
using detail::ui::RetentionLimits;
using detail::ui::StatusStore;

// Each sample line as "name{labels}" -> value text.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

// Ten batches with processing times 1, 2, ..., 10 ms (scheduling delay 5 ms each) and 3 records
// each from stream 0, whose name needs escaping; a stateful stream; two checkpoints.
void populate(StatusStore& store) {
  store.onEvent(streamingStarted(kContextA, 0, 1000, {{0, "socket \"in\"\\\nline"}, {1, "queue"}}));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStarted, 0, true));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStarted, 5, true));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStopped, 5, false));
  for (int b = 1; b <= 10; ++b) {
    runBatch(store, kContextA,
             {.t = 1000LL * b,
              .records = {{0, 3}},
              .sched = 5,
              .op_ms = b,
              .first_job = b,
              .failure = b == 10 ? std::optional<std::string>("boom") : std::nullopt});
  }
  store.onEvent(stateReport(kContextA, 9000, 4, "counts", 40, 4000));
  store.onEvent(stateReport(kContextA, 10000, 4, "counts", 42, 4200));
  store.onEvent(checkpointReport(kContextA, 5000, 20, 100, true));
  store.onEvent(checkpointReport(kContextA, 10000, 3000, 100, false));
}

TEST(PrometheusText, SampleValues) {
  RetentionLimits limits;
  limits.batches = 4;  // histograms and totals must still count all ten
  StatusStore store(testApp(), limits, [] { return 17LL; });
  populate(store);
  const std::string text = detail::ui::prometheusText(store);
  auto s = samples(text);
  EXPECT_EQ(s["sluice_listener_dropped_events_total"], "17");
  EXPECT_EQ(s["sluice_jobs_total{status=\"succeeded\"}"], "9");
  EXPECT_EQ(s["sluice_jobs_total{status=\"failed\"}"], "1");
  EXPECT_EQ(s["sluice_jobs_active"], "0");
  EXPECT_EQ(s["sluice_completed_batches_total"], "10");
  EXPECT_EQ(s["sluice_batches_active"], "0");
  EXPECT_EQ(s["sluice_processed_records_total"], "30");
  EXPECT_EQ(
      s["sluice_input_records_total{stream_id=\"0\",stream=\"socket \\\"in\\\"\\\\\\nline\"}"],
      "30");
  EXPECT_EQ(s["sluice_input_records_total{stream_id=\"1\",stream=\"queue\"}"], "0");
  EXPECT_EQ(s["sluice_receivers_active"], "1");
  EXPECT_EQ(s["sluice_state_keys{stream_id=\"4\",stream=\"counts\"}"], "42");
  EXPECT_EQ(s["sluice_state_bytes{stream_id=\"4\",stream=\"counts\"}"], "4200");

  // Processing times 1..10 ms: cumulative buckets.
  EXPECT_EQ(s["sluice_batch_processing_seconds_bucket{le=\"0.001\"}"], "1");
  EXPECT_EQ(s["sluice_batch_processing_seconds_bucket{le=\"0.0025\"}"], "2");
  EXPECT_EQ(s["sluice_batch_processing_seconds_bucket{le=\"0.005\"}"], "5");
  EXPECT_EQ(s["sluice_batch_processing_seconds_bucket{le=\"0.01\"}"], "10");
  EXPECT_EQ(s["sluice_batch_processing_seconds_bucket{le=\"60\"}"], "10");
  EXPECT_EQ(s["sluice_batch_processing_seconds_bucket{le=\"+Inf\"}"], "10");
  EXPECT_EQ(s["sluice_batch_processing_seconds_count"], "10");
  EXPECT_EQ(s["sluice_batch_processing_seconds_sum"], "0.055");
  EXPECT_EQ(s["sluice_batch_scheduling_delay_seconds_bucket{le=\"0.0025\"}"], "0");
  EXPECT_EQ(s["sluice_batch_scheduling_delay_seconds_bucket{le=\"0.005\"}"], "10");
  EXPECT_EQ(s["sluice_batch_scheduling_delay_seconds_sum"], "0.05");
  EXPECT_EQ(s["sluice_batch_total_delay_seconds_bucket{le=\"0.01\"}"], "5");  // 6..10 ms
  EXPECT_EQ(s["sluice_batch_total_delay_seconds_count"], "10");
  EXPECT_EQ(s["sluice_checkpoint_seconds_bucket{le=\"0.025\"}"], "1");
  EXPECT_EQ(s["sluice_checkpoint_seconds_bucket{le=\"2.5\"}"], "1");
  EXPECT_EQ(s["sluice_checkpoint_seconds_bucket{le=\"5\"}"], "2");
  EXPECT_EQ(s["sluice_checkpoint_seconds_sum"], "3.02");
  for (const char* family :
       {"# TYPE sluice_input_records_total counter", "# TYPE sluice_receivers_active gauge",
        "# TYPE sluice_batch_processing_seconds histogram", "# HELP sluice_state_keys "}) {
    EXPECT_NE(text.find(family), std::string::npos) << family;
  }
}

TEST(PrometheusText, ZeroBeforeAnyStreamingContext) {
  StatusStore store(testApp(), {}, nullptr);
  auto s = samples(detail::ui::prometheusText(store));
  EXPECT_EQ(s["sluice_completed_batches_total"], "0");
  EXPECT_EQ(s["sluice_batch_processing_seconds_count"], "0");
  EXPECT_EQ(s["sluice_listener_dropped_events_total"], "0");
}

// promtool's exit status on `text`, from a file in a fresh directory.
int promtoolCheck(const std::string& text) {
  sluice::testing_util::TempDir dir("ui_metrics");
  const auto file = dir.path() / "metrics.txt";
  std::ofstream(file) << text;
  const std::string command = "promtool check metrics < '" + file.string() + "'";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PrometheusText, PassesPromtool) {
  ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0)
      << "promtool is not installed (scripts/install-deps.sh installs Debian's prometheus)";
  StatusStore store(testApp(), {}, [] { return 2LL; });
  populate(store);
  EXPECT_EQ(promtoolCheck(detail::ui::prometheusText(store)), 0);
  StatusStore empty(testApp(), {}, nullptr);
  EXPECT_EQ(promtoolCheck(detail::ui::prometheusText(empty)), 0);
  // The check can fail: a counter without its _total suffix is refused.
  EXPECT_NE(promtoolCheck("# HELP sluice_x A counter.\n# TYPE sluice_x counter\nsluice_x 1\n"), 0);
}

}  // namespace
