// Network word count: counts the words of each one-second batch of lines read from a TCP server.
//
// Translates seed 000 (spark_streaming_course_notes), "Spark Streaming Code" (NetworkWordCount):
//   PySpark                                     Sluice
//   SparkContext("local[2]", "NetworkWordCount") sluice::Context sc(master, "NetworkWordCount")
//   StreamingContext(sc, 1)                     sluice::StreamingContext ssc(sc, 1 s)
//   ssc.socketTextStream("localhost", 9999)     ssc.socketTextStream(host, port)   [HOST [PORT]]
//   lines.flatMap(line.split(" "))              lines.flatMap(sluice::split(line, " "))
//   words.map((word, 1))                        words.map(examples::wordAndOne)
//   pairs.reduceByKey(x + y)                    pairs.reduceByKey(x + y)
//   wordCounts.pprint()                         word_counts.pprint()
//   ssc.start(); ssc.awaitTermination()         ssc.start(); ssc.awaitTermination()
// Seed 004 (spark_streaming_wordcount_es) has the same program with 5 s batches (--batch-ms 5000).
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
#include "word_count_util.hpp"

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
    auto words = lines.flatMap([](const std::string& line) { return sluice::split(line, " "); });
    auto pairs = words.map(examples::wordAndOne);
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
