// Directory word count: watches a directory and counts the words of the files that appear in it
// during each two-second batch.
//
// Translates seed 001 (spark_streaming_sockets_and_files), "Monitor a directory for new or
// renamed files" (file_consumer.py):
//   PySpark                                     Sluice
//   SparkContext('local[*]')                    sluice::Context sc(master, ...)   (--master)
//   sc.setLogLevel("WARN")                      sc.setLogLevel("WARN")
//   StreamingContext(sc, 2)                     sluice::StreamingContext ssc(sc, 2 s)
//   ssc.textFileStream(sys.argv[1])             ssc.textFileStream(directory)      (DIR)
//   .flatMap(line.split())                      .flatMap(sluice::split(line))
//   .map((word, 1)).reduceByKey(x + y)          .map(examples::wordAndOne).reduceByKey(x + y)
//   counts.pprint()                             counts.pprint()
//   ssc.start(); ssc.awaitTermination()         ssc.start(); ssc.awaitTermination()
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
#include "word_count_util.hpp"

int main(int argc, char** argv) {
  examples::CommonOptions options{.batch_ms = 2000};
  std::string directory;
  CLI::App app("Counts the words of the files that appear in a directory, batch by batch.",
               "directory_word_count");
  examples::addCommonOptions(app, options);
  app.add_option("DIR", directory, "The directory to watch")->required();
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "DirectoryWordCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, options.batch());

    auto lines = ssc.textFileStream(directory);
    auto counts = lines.flatMap([](const std::string& line) { return sluice::split(line); })
                      .map(examples::wordAndOne)
                      .reduceByKey([](long long x, long long y) { return x + y; });
    counts.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "directory_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
