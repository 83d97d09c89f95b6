// Directory word count: watches a directory and counts the words of the files that appear in it
// during each two-second batch.
// textFileStream -> flatMap (sluice::split, Python's line.split()) -> map (word, 1) -> reduceByKey
// -> pprint.
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
#include <string>
#include <utility>
#include <vector>

#include "example_cli.hpp"

namespace {

constexpr char kUsage[] =
    "usage: directory_word_count [--master local[N]] [--batch-ms N] [--seconds N] DIR\n";

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.batch_ms = 2000};
  std::string directory;
  try {
    for (const auto& arg : examples::parseArgs(argc, argv, options)) {
      if (!directory.empty()) throw std::invalid_argument(arg);
      directory = arg;
    }
    if (directory.empty()) throw std::invalid_argument("arguments");
  } catch (const std::exception&) {
    std::cerr << kUsage;
    return 2;
  }

  try {
    sluice::Context sc(options.master, "DirectoryWordCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, options.batch());

    auto lines = ssc.textFileStream(directory);
    auto counts = lines.flatMap([](const std::string& line) { return sluice::split(line); })
                      .map([](std::string word) {
                        return std::pair<std::string, long long>(std::move(word), 1);
                      })
                      .reduceByKey([](long long x, long long y) { return x + y; });
    counts.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "directory_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
