// Queue stream modulo: how often each last digit (x % 10) occurs over a 4-second window that
// slides every 2 seconds, on a stream made from a queue of five RDDs of the numbers 0..999.
//
// Translates seed 000 (spark_streaming_course_notes), "Windowing Operations" (test_window.py):
//   PySpark                                     Sluice
//   StreamingContext(SparkContext(), 1)         sluice::StreamingContext ssc(sc, 1 s)
//   5 x parallelize(xrange(1000))               5 x ssc.sparkContext().range(0, 1000)
//   ssc.queueStream(rdd_queue)                  ssc.queueStream(rdd_queue)
//   .map((x % 10, 1))                           .map(x % 10)
//   .window(windowDuration=4, slideDuration=2)  .window(4 batches, 2 batches)
//                                               .map(pair(digit, 1))
//   .reduceByKey(v1 + v2)                       .reduceByKey(v1 + v2)
//   ds.pprint()                                 ds.pprint()
//   ssc.start(); time.sleep(20); ssc.stop(...)  ssc.start(); --seconds 20
// The pair is made after the window instead of before it, with the same counts; the seed's
// progress prints and its pprint of the RDD queue are left out.
//
// Usage: queue_stream_modulo [--master local[N]] [--batch-ms N] [--seconds N]
//   build/release/examples/queue_stream_modulo --seconds 12
// With one-second batches the windows hold 2, 4, 3 and 1 of the queued RDDs, so each digit
// counts 200, 400, 300, 100, then the windows are empty. The window is 4 batches sliding by 2,
// so --batch-ms scales it. Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <chrono>
#include <deque>
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <utility>
#include <vector>

#include "example_cli.hpp"

int main(int argc, char** argv) {
  examples::CommonOptions options;
  CLI::App app(
      "How often each last digit occurs over a window of 4 batches sliding by 2, on a queue of "
      "five RDDs of 0..999.",
      "queue_stream_modulo");
  examples::addCommonOptions(app, options);
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "QueueStreamModulo");
    const auto batch = options.batch();
    sluice::StreamingContext ssc(sc, batch);

    // Five RDDs of 0, 1, ..., 999.
    std::deque<sluice::RDD<long long>> rdd_queue;
    for (int i = 0; i < 5; ++i) rdd_queue.push_back(ssc.sparkContext().range(0, 1000));

    auto ds = ssc.queueStream(rdd_queue)
                  .map([](long long x) { return x % 10; })
                  .window(4 * batch, 2 * batch)
                  .map([](long long digit) { return std::pair<long long, long long>(digit, 1); })
                  .reduceByKey([](long long v1, long long v2) { return v1 + v2; });
    ds.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "queue_stream_modulo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
