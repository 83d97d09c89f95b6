// Socket word count: counts the words (split on any whitespace) of each two-second batch of
// lines read from a TCP server.
//
// Translates seed 001 (spark_streaming_sockets_and_files), "Monitor a TCP/IP socket"
// (socket_consumer.py):
//   PySpark                                     Sluice
//   SparkContext('local[*]')                    sluice::Context sc(master, ...)   (--master)
//   sc.setLogLevel("WARN")                      sc.setLogLevel("WARN")
//   StreamingContext(sc, 2)                     sluice::StreamingContext ssc(sc, 2 s)
//   ssc.socketTextStream(sys.argv[1],           ssc.socketTextStream(host, port)   (HOST PORT)
//                        int(sys.argv[2]))
//   .flatMap(line.split())                      .flatMap(sluice::split(line))
//   .map((word, 1)).reduceByKey(x + y)          .map(examples::wordAndOne).reduceByKey(x + y)
//   counts.pprint()                             counts.pprint()
//   ssc.start(); ssc.awaitTermination()         ssc.start(); ssc.awaitTermination()
//
// Usage: socket_word_count [--master local[N]] [--batch-ms N] [--seconds N] HOST PORT
//   nc -lk 10000                     # then type lines
//   build/release/examples/socket_word_count localhost 10000
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
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
  std::string host;
  int port = 0;
  CLI::App app("Counts the words of each batch of lines read from a TCP server.",
               "socket_word_count");
  examples::addCommonOptions(app, options);
  app.add_option("HOST", host, "Host of the TCP server that sends the lines")->required();
  app.add_option("PORT", port, "Its port")->required()->transform(examples::portNumber());
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "SocketWordCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, options.batch());

    auto lines = ssc.socketTextStream(host, port);
    auto counts = lines.flatMap([](const std::string& line) { return sluice::split(line); })
                      .map(examples::wordAndOne)
                      .reduceByKey([](long long x, long long y) { return x + y; });
    counts.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "socket_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
