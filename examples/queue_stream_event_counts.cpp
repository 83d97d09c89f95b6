// Queue stream event counts: counts the events of each type in each one-second batch of a stream
// made from a queue of prepared RDDs (how to test a streaming job without a live source).
//
// Translates seed 000 (spark_streaming_course_notes), "Counting Event Types"
// (test_queue_stream.py):
//   PySpark                                     Sluice
//   StreamingContext(SparkContext(), 1)         sluice::StreamingContext ssc(sc, 1 s)
//   5 x parallelize(range(10) * 10)             5 x ssc.sparkContext().parallelize(events)
//   ssc.queueStream(event_rdd_queue)            ssc.queueStream(event_rdd_queue)
//   .map((event, 1))                            .map(pair(event, 1))
//   .reduceByKey(v1 + v2)                       .reduceByKey(v1 + v2)
//   ds.pprint()                                 ds.pprint()
//   ssc.start(); time.sleep(6)                  ssc.start(); --seconds 6
//   ssc.stop(stopGraceFully=True)               ssc.stop() at the end
// The seed's progress prints ('Initializing ssc', ...) and its pprint of the RDD queue are
// left out.
//
// Usage: queue_stream_event_counts [--master local[N]] [--batch-ms N] [--seconds N]
//   build/release/examples/queue_stream_event_counts --seconds 6
// The first five batches print (0, 10) ... (9, 10); later ones are empty. Runs until Ctrl-C
// (a graceful stop), or for --seconds N.
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
  CLI::App app("Counts the events of each type in each batch of a queue of prepared RDDs.",
               "queue_stream_event_counts");
  examples::addCommonOptions(app, options);
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "QueueStreamEventCounts");
    sluice::StreamingContext ssc(sc, options.batch());

    // Five RDDs, each holding the event types 0, 1, ..., 9 ten times over.
    std::deque<sluice::RDD<int>> event_rdd_queue;
    for (int i = 0; i < 5; ++i) {
      std::vector<int> events;
      for (int repeat = 0; repeat < 10; ++repeat) {
        for (int event = 0; event < 10; ++event) events.push_back(event);
      }
      event_rdd_queue.push_back(ssc.sparkContext().parallelize(events));
    }

    // One RDD of the queue per batch.
    auto ds = ssc.queueStream(event_rdd_queue)
                  .map([](int event) { return std::pair<int, long long>(event, 1); })
                  .reduceByKey([](long long v1, long long v2) { return v1 + v2; });
    ds.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "queue_stream_event_counts: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
