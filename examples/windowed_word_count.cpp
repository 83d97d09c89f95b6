// Windowed word count: every 4 seconds, the word counts of the last 6 seconds of lines, read from
// a TCP server or from the files that appear in a directory (batches of 2 seconds).
// socketTextStream | textFileStream -> window(6s, 4s) -> flatMap (split on " ") -> map (word, 1)
// -> reduceByKey -> pprint.
//
// Usage: windowed_word_count [--master local[N]] [--batch-ms N] [--seconds N]
//                            [HOST [PORT] | --dir DIR]
// HOST and PORT default to localhost 9999. The window is 3 batches and slides by 2, so
// --batch-ms 500 gives a 1.5 s window sliding every second.
//   nc -lk 9999                      # then type lines
//   build/release/examples/windowed_word_count localhost 9999
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <chrono>
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr char kUsage[] =
    "usage: windowed_word_count [--master local[N]] [--batch-ms N] [--seconds N]\n"
    "                           [HOST [PORT] | --dir DIR]\n";

// Python's line.split(" "): consecutive spaces give empty words, as in PySpark.
std::vector<std::string> splitOnSpace(const std::string& line) {
  std::vector<std::string> words;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      words.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return words;
}

}  // namespace

int main(int argc, char** argv) {
  std::string master = "local[2]";
  long long batch_ms = 2000;
  double seconds = 0;  // 0: until Ctrl-C
  std::string directory;
  std::string host = "localhost";
  int port = 9999;
  try {
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      bool has_value = i + 1 < argc;
      if (arg == "--master" && has_value) {
        master = argv[++i];
      } else if (arg == "--batch-ms" && has_value) {
        batch_ms = std::stoll(argv[++i]);
      } else if (arg == "--seconds" && has_value) {
        seconds = std::stod(argv[++i]);
      } else if (arg == "--dir" && has_value) {
        directory = argv[++i];
      } else if (arg.starts_with("--")) {
        throw std::invalid_argument(arg);
      } else {
        positional.push_back(arg);
      }
    }
    if (positional.size() > 2 || batch_ms <= 0) throw std::invalid_argument("arguments");
    if (!directory.empty() && !positional.empty()) throw std::invalid_argument("arguments");
    if (positional.size() > 0) host = positional[0];
    if (positional.size() > 1) port = std::stoi(positional[1]);
  } catch (const std::exception&) {
    std::cerr << kUsage;
    return 2;
  }

  try {
    sluice::Context sc(master, "WindowedWordCount");
    sc.setLogLevel("WARN");
    const auto batch = std::chrono::milliseconds(batch_ms);
    sluice::StreamingContext ssc(sc, batch);

    auto raw_stream =
        directory.empty() ? ssc.socketTextStream(host, port) : ssc.textFileStream(directory);

    // A window of 6 seconds that slides every 4 seconds (at the default 2-second batches).
    auto window_stream = raw_stream.window(3 * batch, 2 * batch);

    auto words_stream = window_stream.flatMap(splitOnSpace).map([](std::string word) {
      return std::pair<std::string, long long>(std::move(word), 1);
    });
    words_stream.reduceByKey([](long long x, long long y) { return x + y; }).pprint();

    ssc.stopGracefullyOnShutdown();
    ssc.start();
    if (seconds > 0) {
      auto timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
      if (!ssc.awaitTerminationOrTimeout(timeout)) ssc.stop();
    } else {
      ssc.awaitTermination();
    }
  } catch (const std::exception& e) {
    std::cerr << "windowed_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
