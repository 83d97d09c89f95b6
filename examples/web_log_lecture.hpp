// What the three programs of the stream processing lecture (seed 003) share: their window
// options, the lecture's field access `line.split(' ')[1]`, the count of the lines on which it
// would fail, and the IP -> country table. Header-only, like example_cli.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
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

// The lecture's line.split(' ')[1], the client IP of "<date> <ip> <status> <op> <url> <time>":
// none where Python would raise IndexError (fewer than two fields), so that such a line is
// skipped instead of failing the batch. Any line with a space has a second field.
inline std::optional<std::string> secondField(const std::string& line) {
  std::vector<std::string> vals = sluice::split(line, " ");
  if (vals.size() < 2) return std::nullopt;
  return std::move(vals[1]);
}

// Counts the non-empty lines without a second field, once each as they arrive (the windows see
// every line several times). The count is kept on the driver, where foreachRDD runs.
inline std::shared_ptr<std::atomic<long long>> countMalformed(
    const sluice::DStream<std::string>& lines) {
  auto malformed = std::make_shared<std::atomic<long long>>(0);
  lines.filter([](const std::string& line) { return !line.empty() && !secondField(line); })
      .foreachRDD([malformed](const sluice::RDD<std::string>& rdd) { *malformed += rdd.count(); });
  return malformed;
}

// The lecture's country table:
//   sc.textFile(csv).filter(len(l) > 0).map(l.split(',')).map((l[0], l[1]))
// A line without a comma, on which l[1] would fail, is left out. A header line "ip,country"
// stays in, as in the lecture, and matches no IP.
inline sluice::RDD<std::pair<std::string, std::string>> countryTable(sluice::Context& sc,
                                                                     const std::string& csv) {
  return sc.textFile(csv)
      .filter([](const std::string& l) { return !l.empty(); })
      .map([](const std::string& l) { return sluice::split(l, ","); })
      .flatMap([](const std::vector<std::string>& l) {
        std::vector<std::pair<std::string, std::string>> row;
        if (l.size() >= 2) row.emplace_back(l[0], l[1]);
        return row;
      });
}

// How many non-empty lines of the country table have no comma.
inline long long malformedCountryLines(sluice::Context& sc, const std::string& csv) {
  return sc.textFile(csv)
      .filter([](const std::string& l) { return !l.empty() && l.find(',') == std::string::npos; })
      .count();
}

}  // namespace examples
