// Top client IPs with their countries and running totals: every 5 seconds, the three client IPs
// with the most requests in the last 10 seconds of a web log read from a TCP server, each with
// its country and a running total kept by updateStateByKey.
//
// Translates seed 003 (stream_processing_lecture_top_ips), "Third example" ("Join result with
// accumulated value"). The lecture elides the top-N step ("transform( ... ) // top N"); as its
// third example also asks for the country, that step is the second example's top 3 and country
// join, so each row prints as ('198.51.100.23', ((5, 'Kenya'), 7)).
//   PySpark                                     Sluice
//   def updateFunction(newValues, runningCount) std::optional<long long> updateFunction(...)
//   countries = sc.textFile(...)...             examples::countryTable(sc, csv)  (--countries)
//   StreamingContext(sc, 10)                    sluice::StreamingContext ssc(sc, 5 s)  (below)
//   (updateStateByKey needs a checkpoint)       ssc.checkpoint(checkpoint_dir)   (--checkpoint)
//   ssc.socketTextStream("logsender", 7777)     ssc.socketTextStream(host, port) [HOST [PORT]]
//   result = lines.window(10, 5)                auto result = lines.window(10 s, 5 s)
//     .filter(len(line) > 0)                      .filter(!line.empty())
//     .map((line.split(' ')[1], 1))               .flatMap(ipAndOne(split(line, " ")))
//     .reduceByKey(a + b)                         .reduceByKey(a + b)
//   runningCounts = result.updateStateByKey(    auto running_counts = result.updateStateByKey(
//       updateFunction)                             updateFunction)
//   result = result.transform(top N)            result.transform(examples::topThree)
//                                                 .transform(rdd.join(countries))
//   result = result.join(runningCounts)         .join(running_counts)
//   result.pprint()                             .pprint()
// The lecture's batches last 10 s, but window(10, 5) needs a batch that divides its 5 s slide
// (Spark rejects it otherwise), so batches last 5 s here. As in the lecture, the running total
// adds up window counts: with a 10 s window sliding by 5 s, every request counts twice.
// Lines on which the lecture's [1] would fail are skipped, and counted on stderr.
//
// Usage: web_log_running_totals [--master local[N]] [--batch-ms N] [--window-ms N]
//                               [--slide-ms N] [--seconds N] [--countries CSV]
//                               [--checkpoint DIR] [HOST [PORT]]
// HOST and PORT default to localhost 7777, CSV to examples/data/ip_country.csv:
//   build/release/examples/web_log_generator --port 7777 &
//   build/release/examples/web_log_running_totals --batch-ms 1000 --window-ms 2000 \
//       --slide-ms 1000
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <filesystem>
#include <iostream>
#include <numeric>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <vector>

#include "example_cli.hpp"
#include "web_log_lecture.hpp"

using examples::IpCount;

namespace {

// Adds the new counts to the running count (none at first).
std::optional<long long> updateFunction(const std::vector<long long>& new_values,
                                        std::optional<long long> running_count) {
  return std::accumulate(new_values.begin(), new_values.end(), running_count.value_or(0));
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.batch_ms = 5'000};
  examples::WindowOptions window{.window_ms = 10'000, .slide_ms = 5'000};
  std::string countries_csv = "examples/data/ip_country.csv";
  std::string checkpoint_dir =
      (std::filesystem::temp_directory_path() / "sluice-web-log-running-totals").string();
  std::string host = "localhost";
  int port = 7777;
  CLI::App app(
      "Every slide, the three client IPs with the most requests in the last window of a web log "
      "read from a TCP server, with their countries and running totals.",
      "web_log_running_totals");
  examples::addCommonOptions(app, options);
  examples::addWindowOptions(app, window);
  app.add_option("--countries", countries_csv, "CSV file of \"ip,country\" lines")
      ->capture_default_str();
  app.add_option("--checkpoint", checkpoint_dir, "Checkpoint directory")->capture_default_str();
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;
  if (!std::filesystem::is_regular_file(countries_csv)) {
    std::cerr << "web_log_running_totals: no country table at " << countries_csv
              << " (run from the repository root, or pass --countries CSV)\n";
    return 1;
  }

  std::shared_ptr<std::atomic<long long>> malformed;
  try {
    sluice::Context sc(options.master, "RunningTotals");
    auto countries = examples::countryTable(sc, countries_csv, "web_log_running_totals");
    sluice::StreamingContext ssc(sc, options.batch());
    ssc.checkpoint(checkpoint_dir);

    auto lines = ssc.socketTextStream(host, port);
    malformed = examples::countMalformed(lines);
    auto result = lines.window(window.window(), window.slide())
                      .filter([](const std::string& line) { return !line.empty(); })
                      .flatMap([](const std::string& line) {
                        return examples::ipAndOne(sluice::split(line, " "));
                      })
                      .reduceByKey([](long long a, long long b) { return a + b; });
    auto running_counts = result.updateStateByKey(updateFunction);
    auto top = result.transform(examples::topThree)
                   .transform([countries](const sluice::RDD<IpCount>& rdd) {
                     return rdd.join(countries);
                   });
    top.join(running_counts).pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "web_log_running_totals: " << e.what() << "\n";
    return 1;
  }
  examples::printMalformed("web_log_running_totals", malformed->load());
  return 0;
}
