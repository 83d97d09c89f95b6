// Network running word count: the running count of every word (split on " ") read from a TCP
// server, printed whole after each five-second batch, for at most a minute.
//
// Translates seed 004 (spark_streaming_wordcount_es), "Spark Streaming: ejemplo de WordCount en
// red con estado":
//   PySpark                                     Sluice
//   sc.setLogLevel("WARN")                      sc.setLogLevel("WARN")
//   StreamingContext(sc, 5)                     sluice::StreamingContext ssc(sc, 5 s)
//   ssc.socketTextStream("localhost", 9999)     ssc.socketTextStream(host, port)  [HOST [PORT]]
//   ssc.checkpoint("/tmp/cpdir")                ssc.checkpoint(checkpoint_dir)    (--checkpoint)
//   def updateFunc(new_values, last_sum)        std::optional<long long> updateFunc(...)
//   lines.flatMap(line.split(" "))              lines.flatMap(sluice::split(line, " "))
//     .map((word, 1))                             .map(examples::wordAndOne)
//     .updateStateByKey(updateFunc)               .updateStateByKey(updateFunc)
//   counts.pprint()                             counts.pprint()
//   ssc.start()                                 ssc.start()
//   ssc.awaitTerminationOrTimeout(60)           ssc.awaitTerminationOrTimeout(60 s) (--seconds)
// Seed 002 (spark_streaming_state_and_windows), "Stateful Transformations", is the same program
// with a reduceByKey before updateStateByKey (the same totals), 2 s batches and 6 s:
// --batch-ms 2000 --seconds 6.
//
// Usage: network_running_word_count [--master local[N]] [--batch-ms N] [--seconds N]
//                                   [--checkpoint DIR] [HOST [PORT]]
// HOST and PORT default to localhost 9999:
//   nc -lk 9999                      # then type lines; the totals keep growing
//   build/release/examples/network_running_word_count localhost 9999
// Stops after --seconds (60 by default; 0: at Ctrl-C).
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

// The new total of a word: its new counts plus its last total (none at first).
std::optional<long long> updateFunc(const std::vector<long long>& new_values,
                                    std::optional<long long> last_sum) {
  return std::accumulate(new_values.begin(), new_values.end(), last_sum.value_or(0));
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.master = "local[2]", .batch_ms = 5000, .seconds = 60};
  std::string checkpoint_dir =
      (std::filesystem::temp_directory_path() / "sluice-network-running-word-count").string();
  std::string host = "localhost";
  int port = 9999;
  CLI::App app("The running count of every word read from a TCP server.",
               "network_running_word_count");
  examples::addCommonOptions(app, options);
  app.add_option("--checkpoint", checkpoint_dir, "Checkpoint directory")->capture_default_str();
  examples::addHostPort(app, host, port);
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "NetworkRunningWordCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, options.batch());
    auto lines = ssc.socketTextStream(host, port);
    ssc.checkpoint(checkpoint_dir);

    auto counts = lines.flatMap([](const std::string& line) { return sluice::split(line, " "); })
                      .map(examples::wordAndOne)
                      .updateStateByKey(updateFunc);
    counts.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "network_running_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
