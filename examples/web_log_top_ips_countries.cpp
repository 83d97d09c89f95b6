// Top client IPs with their countries: every 10 seconds, the three client IPs with the most
// requests in the last 30 seconds of a web log read from a TCP server, each joined with its
// country from a CSV table of "ip,country" lines.
//
// Translates seed 003 (stream_processing_lecture_top_ips), "Second example" (the first example
// with "Join with RDD"):
//   PySpark                                     Sluice
//   countries = sc.textFile('countries.csv')    auto countries = sc.textFile(csv)   (--countries)
//     .filter(len(l) > 0)                         .filter(!l.empty())
//     .map(l.split(','))                          .map(sluice::split(l, ","))
//     .map((l[0], l[1]))                          .flatMap((l[0], l[1]), none without l[1])
//   StreamingContext(sc, 10)                    sluice::StreamingContext ssc(sc, 10 s)
//   ssc.socketTextStream("logsender", 7777)     ssc.socketTextStream(host, port)   [HOST [PORT]]
//   lines.window(30, 10) ... .transform(top 3)  as in web_log_top_ips.cpp
//   result.transform(rdd.join(countries))       result.transform(rdd.join(countries))
//   result.pprint()                             result.pprint():  ('198.51.100.23', (5, 'Kenya'))
// The join keeps the top three IPs that have a country, in the join's order (not by count).
// Lines on which the lecture's vals[1] or l[1] would fail are skipped, and counted on stderr.
//
// Usage: web_log_top_ips_countries [--master local[N]] [--batch-ms N] [--window-ms N]
//                                  [--slide-ms N] [--seconds N] [--countries CSV] [HOST [PORT]]
// HOST and PORT default to localhost 7777, CSV to examples/data/ip_country.csv:
//   build/release/examples/web_log_generator --port 7777 &
//   build/release/examples/web_log_top_ips_countries --batch-ms 1000 --window-ms 3000 \
//       --slide-ms 1000
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <filesystem>
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>

#include "example_cli.hpp"
#include "web_log_lecture.hpp"

using examples::IpCount;

int main(int argc, char** argv) {
  examples::CommonOptions options{.batch_ms = 10'000};
  examples::WindowOptions window{.window_ms = 30'000, .slide_ms = 10'000};
  std::string countries_csv = "examples/data/ip_country.csv";
  std::string host = "localhost";
  int port = 7777;
  CLI::App app(
      "Every slide, the three client IPs with the most requests in the last window of a web log "
      "read from a TCP server, with their countries.",
      "web_log_top_ips_countries");
  examples::addCommonOptions(app, options);
  examples::addWindowOptions(app, window);
  app.add_option("--countries", countries_csv, "CSV file of \"ip,country\" lines")
      ->capture_default_str();
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;
  if (!std::filesystem::is_regular_file(countries_csv)) {
    std::cerr << "web_log_top_ips_countries: no country table at " << countries_csv
              << " (run from the repository root, or pass --countries CSV)\n";
    return 1;
  }

  std::shared_ptr<std::atomic<long long>> malformed;
  try {
    sluice::Context sc(options.master, "TopIpsCountries");
    auto countries = examples::countryTable(sc, countries_csv, "web_log_top_ips_countries");
    sluice::StreamingContext ssc(sc, options.batch());

    auto lines = ssc.socketTextStream(host, port);
    malformed = examples::countMalformed(lines);
    auto result = lines.window(window.window(), window.slide())
                      .filter([](const std::string& line) { return !line.empty(); })
                      .map([](const std::string& line) { return sluice::split(line, " "); })
                      .flatMap(examples::ipAndOne)
                      .reduceByKey([](long long a, long long b) { return a + b; })
                      .transform(examples::topThree);
    auto with_countries = result.transform(
        [countries](const sluice::RDD<IpCount>& rdd) { return rdd.join(countries); });
    with_countries.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "web_log_top_ips_countries: " << e.what() << "\n";
    return 1;
  }
  examples::printMalformed("web_log_top_ips_countries", malformed->load());
  return 0;
}
