// What running_count and recoverable_word_count share with the course's programs: Python's
// int() of a line and its %, and the course's xrange_write (seed 000, "Testing Streaming Apps Using
// TextFileStream"): every pause, one new file of `batch_size` numbers, one a line, continuing 0, 1,
// 2, ... from file to file, for a textFileStream to pick up; also the writer's command-line
// options and its thread.
//
// Unlike the course's function, each file is written under a hidden name (".<name>.tmp", which
// the file stream ignores) and then renamed into place, as Spark's guide asks: the stream never
// sees a file half written.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sluice/error.hpp>
#include <sluice/format.hpp>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "example_cli.hpp"

namespace examples {

// Python's int(x) for a decimal line: surrounding whitespace and a '+' allowed. Anything else
// throws InvalidArgumentError with Python's message, which fails the batch as the ValueError
// fails Spark's.
inline long long pythonInt(std::string_view x) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  std::string_view digits = x;
  digits.remove_prefix(std::min(digits.find_first_not_of(kSpace), digits.size()));
  digits.remove_suffix(digits.size() - (digits.find_last_not_of(kSpace) + 1));
  if (digits.starts_with('+')) digits.remove_prefix(1);
  long long n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    throw sluice::InvalidArgumentError("invalid literal for int() with base 10: " +
                                       sluice::repr(std::string(x)));
  }
  return n;
}

// Python's a % b for b > 0: never negative (-3 % 10 is 7), unlike C++'s.
inline long long pythonMod(long long a, long long b) { return ((a % b) + b) % b; }

struct XrangeWriteOptions {
  int batch_size = 5;
  std::string batch_dir = "input";
  long long batch_duration_ms = 1000;
};

// --no-write, --write-ms and --write-size, with the values of `writer` as their defaults.
inline void addXrangeWriteOptions(CLI::App& app, XrangeWriteOptions& writer, bool& no_write) {
  app.add_flag("--no-write", no_write, "Do not write numbers into INPUT_DIR; you move files in");
  app.add_option("--write-ms", writer.batch_duration_ms, "Pause between two files written")
      ->capture_default_str()
      ->transform(numberIn(1LL, 86'400'000LL, "a whole number of milliseconds above 0"));
  app.add_option("--write-size", writer.batch_size, "Numbers per file written")
      ->capture_default_str()
      ->transform(numberIn(1, 1'000'000, "a whole number from 1 to 1000000"));
}

// Writes files until `stop` is requested (the pause between files ends early then). Throws
// std::runtime_error when a file cannot be written.
inline void xrangeWrite(const XrangeWriteOptions& options, std::stop_token stop) {
  namespace fs = std::filesystem;
  fs::create_directories(options.batch_dir);
  // Python's uuid4: names unique across runs, so a restarted job's files never replace old ones.
  std::mt19937_64 random{std::random_device{}()};
  std::mutex mu;
  std::condition_variable_any pause;
  for (long long i = 0; !stop.stop_requested(); ++i) {
    const std::string name = fmt::format("{:016x}{:016x}", random(), random());
    const fs::path final_path = fs::path(options.batch_dir) / name;
    const fs::path temp_path = fs::path(options.batch_dir) / ("." + name + ".tmp");
    {
      std::ofstream out(temp_path);
      for (long long n = options.batch_size * i; n < options.batch_size * (i + 1); ++n) {
        out << n << "\n";
      }
      if (!out.flush()) throw std::runtime_error("cannot write " + temp_path.string());
    }
    fs::rename(temp_path, final_path);
    // Gives the streaming app time to catch up.
    std::unique_lock lock(mu);
    pause.wait_for(lock, stop, std::chrono::milliseconds(options.batch_duration_ms),
                   [] { return false; });
  }
}

// xrangeWrite on a thread of its own, until the thread is asked to stop (as the returned
// jthread's destructor does); a failure to write ends it with a message on stderr, prefixed
// with `program`, and leaves the streaming job running.
inline std::jthread startXrangeWrite(const XrangeWriteOptions& options, std::string program) {
  return std::jthread([options, program = std::move(program)](std::stop_token stop) {
    try {
      xrangeWrite(options, stop);
    } catch (const std::exception& e) {
      std::cerr << program << ": xrange_write: " << e.what() << "\n";
    }
  });
}

}  // namespace examples
