// Stateful network word count: a running count of every word seen since the start, printed
// sorted by word after each two-second batch.
//
// Translates seed 001 (spark_streaming_sockets_and_files), "Keeping state"
// (stateful_socket_consumer.py):
//   PySpark                                     Sluice
//   def updateFunc(new, last)                   std::optional<long long> updateFunc(...)
//   SparkContext('local[*]')                    sluice::Context sc(master, ...)   (--master)
//   StreamingContext(sc, 2)                     sluice::StreamingContext ssc(sc, 2 s)
//   ssc.checkpoint("checkpoint")                ssc.checkpoint(checkpoint_dir)    (--checkpoint)
//   ssc.socketTextStream(argv[1], int(argv[2])) ssc.socketTextStream(host, port)  [HOST [PORT]]
//   .flatMap(line.split())                      .flatMap(sluice::split(line))
//   .map((word, 1))                             .map(examples::wordAndOne)
//   .updateStateByKey(updateFunc)               .updateStateByKey(updateFunc)
//   .transform(x.sortByKey())                   .transform(rdd.sortByKey())
//   counts.pprint()                             counts.pprint()
//   ssc.start(); ssc.awaitTermination()         ssc.start(); ssc.awaitTermination()
// The checkpoint directory defaults to one under the system's temporary directory instead of
// ./checkpoint.
//
// Usage: stateful_network_word_count [--master local[N]] [--batch-ms N] [--seconds N]
//                                    [--checkpoint DIR] [HOST [PORT]]
// HOST and PORT default to localhost 9999. Feed it text from a second terminal:
//   nc -lk 9999                      # then type lines; the totals keep growing
//   build/release/examples/stateful_network_word_count localhost 9999
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <utility>
#include <vector>

#include "example_cli.hpp"
#include "word_count_util.hpp"

namespace {

// The new total of a word: its counts in this batch plus its previous total (none at first).
std::optional<long long> updateFunc(const std::vector<long long>& new_values,
                                    std::optional<long long> last) {
  return std::accumulate(new_values.begin(), new_values.end(), last.value_or(0));
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.master = "local[2]", .batch_ms = 2000};
  std::string checkpoint_dir =
      (std::filesystem::temp_directory_path() / "sluice-stateful-network-word-count").string();
  std::string host = "localhost";
  int port = 9999;
  CLI::App app("A running count of every word read from a TCP server, printed sorted by word.",
               "stateful_network_word_count");
  examples::addCommonOptions(app, options);
  app.add_option("--checkpoint", checkpoint_dir, "Checkpoint directory")->capture_default_str();
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "StatefulNetworkWordCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, options.batch());
    ssc.checkpoint(checkpoint_dir);

    auto lines = ssc.socketTextStream(host, port);
    auto counts = lines.flatMap([](const std::string& line) { return sluice::split(line); })
                      .map(examples::wordAndOne)
                      .updateStateByKey(updateFunc)
                      .transform([](const sluice::RDD<std::pair<std::string, long long>>& rdd) {
                        return rdd.sortByKey();
                      });
    counts.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "stateful_network_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
