// What the three programs of the stream processing lecture (seed 003) share: their window
// options, the lecture's (ip, 1) of a log line, the count of the lines on which its field access
// `line.split(' ')[1]` would fail, its top three, and the IP -> country table. Header-only, like
// example_cli.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <iostream>
#include <limits>
#include <memory>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "example_cli.hpp"

namespace examples {

using IpCount = std::pair<std::string, long long>;

struct WindowOptions {
  long long window_ms;
  long long slide_ms;

  std::chrono::milliseconds window() const { return std::chrono::milliseconds(window_ms); }
  std::chrono::milliseconds slide() const { return std::chrono::milliseconds(slide_ms); }
};

// --window-ms and --slide-ms, with the values of `options` as their defaults.
inline void addWindowOptions(CLI::App& app, WindowOptions& options) {
  const auto positive_ms = numberIn(1LL, std::numeric_limits<long long>::max(),
                                    "a whole number of milliseconds above 0");
  app.add_option("--window-ms", options.window_ms, "Window length in milliseconds")
      ->capture_default_str()
      ->transform(positive_ms);
  app.add_option("--slide-ms", options.slide_ms, "Slide interval in milliseconds")
      ->capture_default_str()
      ->transform(positive_ms);
}

// The lecture's (vals[1], 1) on the fields of "<date> <ip> <status> <op> <url> <time>" split on
// ' ': the client IP and a count of one, as a list for flatMap. The list is empty where Python
// would raise IndexError (fewer than two fields), so that such a line is skipped instead of
// failing the batch. Any line with a space has a second field.
inline std::vector<IpCount> ipAndOne(const std::vector<std::string>& vals) {
  std::vector<IpCount> pair;
  if (vals.size() >= 2) pair.emplace_back(vals[1], 1);
  return pair;
}

// Counts the non-empty lines without a second field, once each as they arrive (the windows see
// every line several times). The count is kept on the driver, where foreachRDD runs.
inline std::shared_ptr<std::atomic<long long>> countMalformed(
    const sluice::DStream<std::string>& lines) {
  auto malformed = std::make_shared<std::atomic<long long>>(0);
  lines
      .filter([](const std::string& line) {
        return !line.empty() && ipAndOne(sluice::split(line, " ")).empty();
      })
      .foreachRDD([malformed](const sluice::RDD<std::string>& rdd) { *malformed += rdd.count(); });
  return malformed;
}

// What `program` prints on stderr when it stops: the number of lines countMalformed counted.
inline void printMalformed(std::string_view program, long long malformed) {
  std::cerr << program << ": " << malformed << " malformed lines (no second field) skipped\n";
}

// The lecture's top three of a window's counts:
//   rdd.sortBy(lambda x: x[1], False).zipWithIndex()
//      .filter(lambda v: v[1] < 3).map(lambda v: v[0])
inline sluice::RDD<IpCount> topThree(const sluice::RDD<IpCount>& rdd) {
  return rdd.sortBy([](const IpCount& x) { return x.second; }, false)
      .zipWithIndex()
      .filter([](const std::pair<IpCount, long long>& v) { return v.second < 3; })
      .map([](const std::pair<IpCount, long long>& v) { return v.first; });
}

// The lecture's country table:
//   sc.textFile(csv).filter(len(l) > 0).map(l.split(',')).map((l[0], l[1]))
// A line without a comma, on which l[1] would fail, is left out; `program` prints their number
// on stderr, when there are any. A header line "ip,country" stays in, as in the lecture, and
// matches no IP.
inline sluice::RDD<std::pair<std::string, std::string>> countryTable(sluice::Context& sc,
                                                                     const std::string& csv,
                                                                     std::string_view program) {
  const long long malformed = sc.textFile(csv)
                                  .filter([](const std::string& l) {
                                    return !l.empty() && l.find(',') == std::string::npos;
                                  })
                                  .count();
  if (malformed > 0) {
    std::cerr << program << ": " << malformed << " country lines without a comma skipped\n";
  }
  return sc.textFile(csv)
      .filter([](const std::string& l) { return !l.empty(); })
      .map([](const std::string& l) { return sluice::split(l, ","); })
      .flatMap([](const std::vector<std::string>& l) {
        std::vector<std::pair<std::string, std::string>> row;
        if (l.size() >= 2) row.emplace_back(l[0], l[1]);
        return row;
      });
}

}  // namespace examples
