// What the examples share: their command lines, parsed by CLI11 (--help prints the usage; a bad
// value or an unknown argument is an error, exit status 2), the streaming examples' common
// options (--master, --batch-ms, --seconds), and running a StreamingContext until Ctrl-C or for
// --seconds. Header-only: every examples/*.cpp is an executable of its own.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <sluice/streaming.hpp>
#include <string>
#include <system_error>
#include <type_traits>

namespace examples {

// A CLI11 transform that accepts a number written in decimal (digits, and for a floating-point
// Number a fraction and exponent: "1e3") from min to max, and rejects anything else with
// "expected <expected>, got '<text>'". Whole numbers are rewritten in canonical form, as CLI11
// on its own would read "0500" as octal and "0x10" as hexadecimal.
template <class Number>
CLI::Validator numberIn(Number min, Number max, std::string expected) {
  return CLI::Validator(
      [min, max, expected = std::move(expected)](std::string& text) -> std::string {
        Number value{};
        const char* last = text.data() + text.size();
        const auto [end, ec] = std::from_chars(text.data(), last, value);
        // NaN fails both comparisons, and infinities are beyond any finite bound.
        if (ec != std::errc() || end != last || !(value >= min && value <= max)) {
          return fmt::format("expected {}, got '{}'", expected, text);
        }
        if constexpr (std::is_integral_v<Number>) text = std::to_string(value);
        return {};
      },
      "");
}

// A port number for a server to connect to.
inline CLI::Validator portNumber() { return numberIn(1, 65535, "a port number from 1 to 65535"); }

struct CommonOptions {
  std::string master = "local[*]";
  long long batch_ms = 1000;
  double seconds = 0;  // 0: until Ctrl-C

  std::chrono::milliseconds batch() const { return std::chrono::milliseconds(batch_ms); }
};

// --master, --batch-ms and --seconds, with the values of `options` as their defaults.
inline void addCommonOptions(CLI::App& app, CommonOptions& options) {
  app.add_option("--master", options.master, "Where to run: local, local[N] or local[*]")
      ->capture_default_str();
  app.add_option("--batch-ms", options.batch_ms, "Batch duration in milliseconds")
      ->capture_default_str()
      ->transform(numberIn(1LL, std::numeric_limits<long long>::max(),
                           "a whole number of milliseconds above 0"));
  // At most about 31 years, so that the deadline stays within the clock's range.
  app.add_option("--seconds", options.seconds, "Stop after this many seconds (0: at Ctrl-C)")
      ->capture_default_str()
      ->transform(numberIn(0.0, 1e9, "a number of seconds from 0 to 1e9"));
}

// The optional positional arguments [HOST [PORT]] of the examples that read a TCP server.
inline void addHostPort(CLI::App& app, std::string& host, int& port) {
  app.add_option("HOST", host, "Host of the TCP server that sends the lines")
      ->capture_default_str();
  app.add_option("PORT", port, "Its port")->capture_default_str()->transform(portNumber());
}

// Parses the command line into the variables bound to `app`'s options. Returns the status main
// exits with when the program ends here: 0 after --help (the usage printed on stdout), 2 after an
// error (printed on stderr: the program's name, what was wrong, a pointer to --help).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    return failed->get_name() + ": " + CLI::FailureMessage::simple(failed, e);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// Starts `ssc` and runs it until Ctrl-C (a graceful stop) or, with --seconds N, for N seconds
// (then stops it). `after_start` runs once the context has started, as the code after a Python
// program's ssc.start() does.
inline void runUntilStopped(sluice::StreamingContext& ssc, const CommonOptions& options,
                            const std::function<void()>& after_start = {}) {
  ssc.stopGracefullyOnShutdown();
  ssc.start();
  if (after_start) after_start();
  if (options.seconds > 0) {
    auto timeout = std::chrono::milliseconds(static_cast<long long>(options.seconds * 1000));
    if (!ssc.awaitTerminationOrTimeout(timeout)) ssc.stop();
  } else {
    ssc.awaitTermination();
  }
}

}  // namespace examples
