// What the streaming examples share: their common command-line options (--master, --batch-ms,
// --seconds) and running a StreamingContext until Ctrl-C or for --seconds. Header-only: every
// examples/*.cpp is an executable of its own.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <sluice/streaming.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

struct CommonOptions {
  std::string master = "local[*]";
  long long batch_ms = 1000;
  double seconds = 0;  // 0: until Ctrl-C

  std::chrono::milliseconds batch() const { return std::chrono::milliseconds(batch_ms); }
};

// An example's own flags, by name ("--port"): each takes the flag's value.
using ExtraFlags = std::map<std::string, std::function<void(const std::string&)>>;

// Parses argv into `options`: --master, --batch-ms, --seconds and the flags of `extra`, each
// followed by its value. Returns the other arguments (the positional ones), in order. Throws
// std::invalid_argument for any other argument starting with "--", a flag without a value, or a
// --batch-ms that is not positive (and what std::stoll / std::stod throw for a bad number).
inline std::vector<std::string> parseArgs(int argc, char** argv, CommonOptions& options,
                                          const ExtraFlags& extra = {}) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    auto flag = extra.find(arg);
    if (arg == "--master" && has_value) {
      options.master = argv[++i];
    } else if (arg == "--batch-ms" && has_value) {
      options.batch_ms = std::stoll(argv[++i]);
    } else if (arg == "--seconds" && has_value) {
      options.seconds = std::stod(argv[++i]);
    } else if (flag != extra.end() && has_value) {
      flag->second(argv[++i]);
    } else if (arg.starts_with("--")) {
      throw std::invalid_argument(arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (options.batch_ms <= 0) throw std::invalid_argument("--batch-ms");
  return positional;
}

// [HOST [PORT]]: at most two positional arguments, which replace `host` and `port`.
inline void parseHostPort(const std::vector<std::string>& positional, std::string& host,
                          int& port) {
  if (positional.size() > 2) throw std::invalid_argument("arguments");
  if (positional.size() > 0) host = positional[0];
  if (positional.size() > 1) port = std::stoi(positional[1]);
}

// Starts `ssc` and runs it until Ctrl-C (a graceful stop) or, with --seconds N, for N seconds
// (then stops it).
inline void runUntilStopped(sluice::StreamingContext& ssc, const CommonOptions& options) {
  ssc.stopGracefullyOnShutdown();
  ssc.start();
  if (options.seconds > 0) {
    auto timeout = std::chrono::milliseconds(static_cast<long long>(options.seconds * 1000));
    if (!ssc.awaitTerminationOrTimeout(timeout)) ssc.stop();
  } else {
    ssc.awaitTermination();
  }
}

}  // namespace examples
