// Windowed word count: every 4 seconds, the word counts of the last 6 seconds of lines, read from
// a TCP server or from the files that appear in a directory (batches of 2 seconds).
//
// Translates seed 002 (spark_streaming_state_and_windows), "Window Operations":
//   PySpark                                     Sluice
//   StreamingContext(sc, 2)                     sluice::StreamingContext ssc(sc, 2 s)
//   ssc.socketTextStream("localhost", 9999)     ssc.socketTextStream(host, port)  (or --dir DIR:
//                                               ssc.textFileStream(directory))
//   rawStream.window(6, 4)                      raw_stream.window(3 batches, 2 batches)
//   .flatMap(line.split(" ")).map((x, 1))       .flatMap(sluice::split(line, " "))
//                                                 .map(examples::wordAndOne)
//   .reduceByKey(x + y).pprint()                .reduceByKey(x + y).pprint()
//   ssc.start(); ssc.awaitTermination(12)       ssc.start(); runs until Ctrl-C or --seconds 12
//   ssc.stop()                                  ssc.stop()
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

#include "example_cli.hpp"
#include "word_count_util.hpp"

int main(int argc, char** argv) {
  examples::CommonOptions options{.master = "local[2]", .batch_ms = 2000};
  std::string directory;
  std::string host = "localhost";
  int port = 9999;
  CLI::App app(
      "Word counts over a window of 3 batches sliding by 2, of lines read from a TCP server or "
      "from the files that appear in a directory.",
      "windowed_word_count");
  examples::addCommonOptions(app, options);
  examples::addHostPort(app, host, port);
  app.add_option("--dir", directory, "Read the files that appear in DIR instead of a server")
      ->excludes("HOST")
      ->excludes("PORT");
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "WindowedWordCount");
    sc.setLogLevel("WARN");
    const auto batch = options.batch();
    sluice::StreamingContext ssc(sc, batch);

    auto raw_stream =
        directory.empty() ? ssc.socketTextStream(host, port) : ssc.textFileStream(directory);

    // A window of 6 seconds that slides every 4 seconds (at the default 2-second batches).
    auto window_stream = raw_stream.window(3 * batch, 2 * batch);

    auto words_stream =
        window_stream.flatMap([](const std::string& line) { return sluice::split(line, " "); })
            .map(examples::wordAndOne);
    words_stream.reduceByKey([](long long x, long long y) { return x + y; }).pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "windowed_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
