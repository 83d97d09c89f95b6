// Web log analytics: every 10 seconds, the three client IPs with the most requests in the last
// 30 seconds, with each one's country (from a CSV file) and its number of requests since the
// start, read from a live log feed such as web_log_generator's. Lines look like
//   2026-11-22T10:00:00 203.0.113.7 200 GET /index.html 0.023
// Malformed lines are counted and skipped.
// The demo behind ./demo.sh: seed 003's three programs reworked into one (its own line parser,
// running totals fed each request once). Their exact translations are web_log_top_ips,
// web_log_top_ips_countries and web_log_running_totals.
//   socketTextStream -> (ip, 1) per well-formed line
//     -> window(30s, 10s) -> reduceByKey -> transform (sortBy count descending, zipWithIndex,
//        index < 3) -> transform (join the IP -> country table)
//     -> join (all-time totals: updateStateByKey over the counts of each 10 s slide)
//     -> pprint of (ip, country, requests in the window, requests since the start)
//
// Usage: web_log_analytics [--master local[N]] [--batch-ms N] [--seconds N]
//                          [--countries CSV] [HOST [PORT]]
// HOST and PORT default to localhost 9999; CSV to examples/data/ip_country.csv ("ip,country"
// lines). Batches last 1 s, the window 30 batches and the slide 10, so --batch-ms 200 gives
// a 6 s window refreshed every 2 s:
//   build/release/examples/web_log_generator --port 9999 --rate 100 &
//   build/release/examples/web_log_analytics --batch-ms 200 127.0.0.1 9999
// Runs until Ctrl-C (a graceful stop), or for --seconds N. While it runs, its web UI's address is
// on stderr ("Spark UI: http://127.0.0.1:4040"; spark.ui.port, spark.ui.enabled=false to turn
// it off).
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "example_cli.hpp"

namespace {

using IpCount = std::pair<std::string, long long>;

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start < line.size()) {
    std::size_t end = line.find(' ', start);
    if (end == std::string_view::npos) end = line.size();
    if (end > start) fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return fields;
}

template <class Number>
bool parseNumber(std::string_view text, Number& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

bool isIpv4(std::string_view text) {
  int parts = 0;
  for (std::size_t start = 0; start <= text.size(); ++parts) {
    std::size_t end = std::min(text.find('.', start), text.size());
    std::string_view part = text.substr(start, end - start);
    int octet = 0;
    if (part.empty() || part.size() > 3 || !parseNumber(part, octet) || octet > 255) return false;
    start = end + 1;
  }
  return parts == 4;
}

// The client IP of a well-formed line "<time> <ip> <status> <method> <url> <seconds>".
std::optional<std::string> clientIp(std::string_view line) {
  auto f = splitFields(line);
  int status = 0;
  double seconds = 0;
  bool ok = f.size() == 6 && f[0].size() >= 19 && f[0][10] == 'T' && isIpv4(f[1]) &&
            f[2].size() == 3 && parseNumber(f[2], status) && status >= 100 && !f[3].empty() &&
            f[3].find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string_view::npos &&
            f[4].starts_with('/') && parseNumber(f[5], seconds) && seconds >= 0;
  if (!ok) return std::nullopt;
  return std::string(f[1]);
}

// Adds the new counts to the running count (none at first).
std::optional<long long> updateFunction(const std::vector<long long>& new_values,
                                        std::optional<long long> running_count) {
  return std::accumulate(new_values.begin(), new_values.end(), running_count.value_or(0));
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.master = "local[2]"};
  std::string countries_csv = "examples/data/ip_country.csv";
  std::string host = "localhost";
  int port = 9999;
  CLI::App app(
      "Every 10 batches, the three client IPs with the most requests in the last 30 batches of a "
      "web log read from a TCP server, with their countries and all-time request counts.",
      "web_log_analytics");
  examples::addCommonOptions(app, options);
  app.add_option("--countries", countries_csv, "CSV file of \"ip,country\" lines")
      ->capture_default_str();
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;
  if (!std::filesystem::is_regular_file(countries_csv)) {
    std::cerr << "web_log_analytics: no country table at " << countries_csv
              << " (run from the repository root, or pass --countries CSV)\n";
    return 1;
  }

  auto malformed = std::make_shared<std::atomic<long long>>(0);
  try {
    sluice::Context sc(options.master, "WebLogAnalytics");
    if (auto ui = sc.uiWebUrl()) std::cerr << "Spark UI: " << *ui << "\n";
    const auto batch = options.batch();
    const auto window = 30 * batch;  // the last 30 seconds ...
    const auto slide = 10 * batch;   // ... every 10 seconds
    sluice::StreamingContext ssc(sc, batch);

    // The static IP -> country table, read once and kept in memory.
    auto countries = sc.textFile(countries_csv)
                         .filter([](const std::string& l) {
                           return l.find(',') != std::string::npos && !l.starts_with("ip,");
                         })
                         .map([](const std::string& l) {
                           auto comma = l.find(',');
                           return std::pair(l.substr(0, comma), l.substr(comma + 1));
                         });
    countries.cache();

    auto lines = ssc.socketTextStream(host, port);

    // Malformed lines: counted on the driver (foreachRDD runs there), then skipped. Empty lines
    // are skipped silently.
    lines.filter([](const std::string& l) { return !l.empty() && !clientIp(l); })
        .foreachRDD(
            [malformed](const sluice::RDD<std::string>& rdd) { *malformed += rdd.count(); });
    auto ip_hits = lines.flatMap([](const std::string& l) {
      std::vector<IpCount> hit;
      if (auto ip = clientIp(l)) hit.emplace_back(std::move(*ip), 1);
      return hit;
    });
    auto add = [](long long v1, long long v2) { return v1 + v2; };

    // The top three IPs of the window: sort by count, number the rows, keep rows 0, 1 and 2.
    auto top3 =
        ip_hits.window(window, slide)
            .reduceByKey(add)
            .transform([](const sluice::RDD<IpCount>& rdd) {
              return rdd.sortBy([](const IpCount& x) { return x.second; }, false)
                  .zipWithIndex()
                  .filter([](const std::pair<IpCount, long long>& v) { return v.second < 3; })
                  .map([](std::pair<IpCount, long long> v) { return std::move(v.first); });
            });

    // Each IP's requests since the start. The state is fed the counts of each slide (a window
    // as long as its slide), not the 30 s window counts, which would count a request 3 times;
    // it then has the slide of top3, which a DStream join needs.
    auto running_counts =
        ip_hits.window(slide, slide).reduceByKey(add).updateStateByKey(updateFunction);

    // (ip, count) -> (ip, (count, country)) -> (ip, ((count, country), total)), as flat rows.
    auto report =
        top3.transform([countries](const sluice::RDD<IpCount>& rdd) { return rdd.join(countries); })
            .join(running_counts)
            .map([](auto row) {
              auto& [ip, value] = row;
              auto& [count_country, total] = value;
              auto& [count, country] = count_country;
              return std::tuple(std::move(ip), std::move(country), count, total);
            })
            .transform([](const auto& rdd) {
              return rdd.sortBy([](const auto& row) { return std::get<2>(row); }, false);
            });
    report.pprint();

    using Seconds = std::chrono::duration<double>;
    std::cout << "Top 3 client IPs of the last " << Seconds(window).count() << " s, every "
              << Seconds(slide).count()
              << " s: (ip, country, requests in the window, requests since the start)\n"
              << std::flush;
    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "web_log_analytics: " << e.what() << "\n";
    return 1;
  }
  std::cout << "Malformed lines skipped: " << malformed->load() << "\n";
  return 0;
}
