// Network word count: counts the words of each one-second batch of lines read from a TCP server.
// socketTextStream -> flatMap (split on " ") -> map (word, 1) -> reduceByKey -> pprint.
//
// Usage: network_word_count [--master local[N]] [--batch-ms N] [--seconds N] [HOST [PORT]]
// HOST and PORT default to localhost 9999. Feed it text from a second terminal:
//   nc -lk 9999                      # then type lines
//   build/release/examples/network_word_count localhost 9999
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
  examples::CommonOptions options{.master = "local[2]"};  // one thread receives, one processes
  std::string host = "localhost";
  int port = 9999;
  CLI::App app("Counts the words of each batch of lines read from a TCP server.",
               "network_word_count");
  examples::addCommonOptions(app, options);
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    // Create a local StreamingContext with two working threads and a batch interval of 1 second.
    sluice::Context sc(options.master, "NetworkWordCount");
    sluice::StreamingContext ssc(sc, options.batch());

    // A DStream of the lines sent by the server at host:port.
    auto lines = ssc.socketTextStream(host, port);

    // Split each line into words, then count each word in each batch.
    auto words = lines.flatMap(splitOnSpace);
    auto pairs = words.map(
        [](std::string word) { return std::pair<std::string, long long>(std::move(word), 1); });
    auto word_counts = pairs.reduceByKey([](long long x, long long y) { return x + y; });

    // Print the first ten elements of each batch's RDD.
    word_counts.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "network_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
