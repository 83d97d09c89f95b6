// Top client IPs: every 10 seconds, the three client IPs with the most requests in the last 30
// seconds of a web log read from a TCP server, in 10-second batches.
//
// Translates seed 003 (stream_processing_lecture_top_ips), "First example":
//   PySpark                                     Sluice
//   pyspark.SparkContext('local[*]')            sluice::Context sc(master, "TopIps")
//   StreamingContext(sc, 10)                    sluice::StreamingContext ssc(sc, 10 s)
//   ssc.socketTextStream("logsender", 7777)     ssc.socketTextStream(host, port)   [HOST [PORT]]
//   lines.window(30, 10)                        lines.window(30 s, 10 s)
//   .filter(len(line) > 0)                      .filter(!line.empty())
//   .map(line.split(' '))                       .map(sluice::split(line, " "))
//   .map((vals[1], 1))                          .flatMap(examples::ipAndOne): (vals[1], 1),
//                                                 none without vals[1]
//   .reduceByKey(a + b)                         .reduceByKey(a + b)
//   .transform(rdd.sortBy(x[1], False)          .transform(examples::topThree): rdd.sortBy(
//     .zipWithIndex().filter(v[1] < 3)            x.second, false).zipWithIndex()
//     .map(v[0]))                                 .filter(v.second < 3).map(v.first)
//   result.pprint()                             result.pprint()
//   ssc.start(); ssc.awaitTermination()         ssc.start(); ssc.awaitTermination()
// A non-empty line without a second field, on which the lecture's vals[1] fails the batch, is
// skipped instead; their number is printed on stderr when the job stops.
//
// Usage: web_log_top_ips [--master local[N]] [--batch-ms N] [--window-ms N] [--slide-ms N]
//                        [--seconds N] [HOST [PORT]]
// HOST and PORT default to localhost 7777. Feed it with the log generator:
//   build/release/examples/web_log_generator --port 7777 &
//   build/release/examples/web_log_top_ips --batch-ms 1000 --window-ms 3000 --slide-ms 1000
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>

#include "example_cli.hpp"
#include "web_log_lecture.hpp"

int main(int argc, char** argv) {
  examples::CommonOptions options{.batch_ms = 10'000};
  examples::WindowOptions window{.window_ms = 30'000, .slide_ms = 10'000};
  std::string host = "localhost";
  int port = 7777;
  CLI::App app(
      "Every slide, the three client IPs with the most requests in the last window of a web log "
      "read from a TCP server.",
      "web_log_top_ips");
  examples::addCommonOptions(app, options);
  examples::addWindowOptions(app, window);
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;

  std::shared_ptr<std::atomic<long long>> malformed;
  try {
    sluice::Context sc(options.master, "TopIps");
    sluice::StreamingContext ssc(sc, options.batch());

    auto lines = ssc.socketTextStream(host, port);
    malformed = examples::countMalformed(lines);
    auto result = lines.window(window.window(), window.slide())
                      .filter([](const std::string& line) { return !line.empty(); })
                      .map([](const std::string& line) { return sluice::split(line, " "); })
                      .flatMap(examples::ipAndOne)
                      .reduceByKey([](long long a, long long b) { return a + b; })
                      .transform(examples::topThree);
    result.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "web_log_top_ips: " << e.what() << "\n";
    return 1;
  }
  examples::printMalformed("web_log_top_ips", malformed->load());
  return 0;
}
