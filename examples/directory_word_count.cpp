// Directory word count: watches a directory and counts the words of the files that appear in it
// during each two-second batch.
// textFileStream -> flatMap (split on whitespace) -> map (word, 1) -> reduceByKey -> pprint.
//
// Usage: directory_word_count [--master local[N]] [--batch-ms N] [--seconds N] DIR
// Only files modified after the start count (names starting with '.' or '_' never do); write
// each file elsewhere and move it in, so that it appears whole:
//   build/release/examples/directory_word_count /tmp/words &
//   echo "a rose is a rose" > /tmp/w.txt && mv /tmp/w.txt /tmp/words/
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <chrono>
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr char kUsage[] =
    "usage: directory_word_count [--master local[N]] [--batch-ms N] [--seconds N] DIR\n";

// Python's line.split(): words separated by runs of whitespace.
std::vector<std::string> splitWords(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(std::move(word));
  return words;
}

}  // namespace

int main(int argc, char** argv) {
  std::string master = "local[*]";
  long long batch_ms = 2000;
  double seconds = 0;  // 0: until Ctrl-C
  std::string directory;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      bool has_value = i + 1 < argc;
      if (arg == "--master" && has_value) {
        master = argv[++i];
      } else if (arg == "--batch-ms" && has_value) {
        batch_ms = std::stoll(argv[++i]);
      } else if (arg == "--seconds" && has_value) {
        seconds = std::stod(argv[++i]);
      } else if (arg.starts_with("--") || !directory.empty()) {
        throw std::invalid_argument(arg);
      } else {
        directory = arg;
      }
    }
    if (directory.empty() || batch_ms <= 0) throw std::invalid_argument("arguments");
  } catch (const std::exception&) {
    std::cerr << kUsage;
    return 2;
  }

  try {
    sluice::Context sc(master, "DirectoryWordCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, std::chrono::milliseconds(batch_ms));

    auto lines = ssc.textFileStream(directory);
    auto counts = lines.flatMap(splitWords)
                      .map([](std::string word) {
                        return std::pair<std::string, long long>(std::move(word), 1);
                      })
                      .reduceByKey([](long long x, long long y) { return x + y; });
    counts.pprint();

    ssc.stopGracefullyOnShutdown();
    ssc.start();
    if (seconds > 0) {
      auto timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
      if (!ssc.awaitTerminationOrTimeout(timeout)) ssc.stop();
    } else {
      ssc.awaitTermination();
    }
  } catch (const std::exception& e) {
    std::cerr << "directory_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
