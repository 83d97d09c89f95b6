// The job the kill harness (kill_harness.py) kills: a stateful word count over a watched
// directory that keeps running totals with updateStateByKey and with mapWithState, an
// incremental window of the last 10 batches, and saves all three every batch. It resumes from
// its checkpoint (getOrCreate) and stops gracefully on SIGTERM, as
// spark.streaming.stopGracefullyOnShutdown asks.
//
// Usage: recovery_job INPUT_DIR CHECKPOINT_DIR OUTPUT_DIR [BATCH_MS [MASTER [STATE_BACKEND]]]
#include <chrono>
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: recovery_job INPUT_DIR CHECKPOINT_DIR OUTPUT_DIR "
                 "[BATCH_MS [MASTER [STATE_BACKEND]]]\n";
    return 2;
  }
  const std::string input = argv[1], checkpoint = argv[2], output = argv[3];
  const std::chrono::milliseconds batch(argc > 4 ? std::stoll(argv[4]) : 100);
  const std::string master = argc > 5 ? argv[5] : "local[2]";
  const std::string backend = argc > 6 ? argv[6] : "memory";
  using Count = std::pair<std::string, long long>;
  try {
    sluice::Context sc(master, "recoveryJob");
    sc.setLogLevel("WARN");
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, batch);
      s->conf().set("sluice.streaming.stateBackend", backend);
      s->conf().set("spark.streaming.stopGracefullyOnShutdown", "true");
      auto words = s->textFileStream(input)
                       .uid("input")
                       .flatMap([](const std::string& line) {
                         std::vector<std::string> out;
                         std::istringstream in(line);
                         for (std::string w; in >> w;) out.push_back(std::move(w));
                         return out;
                       })
                       .map([](std::string w) { return Count(std::move(w), 1); });
      auto totals = words.updateStateByKey(
          [](const std::vector<long long>& values, std::optional<long long> state) {
            long long sum = state.value_or(0);
            for (long long v : values) sum += v;
            return std::optional<long long>(sum);
          });
      totals.uid("totals").checkpoint(10 * batch);
      totals.saveAsTextFiles(output + "/totals");
      auto spec = sluice::stateSpecFunction<std::string, long long, long long>(
          [](const std::string&, std::optional<long long> v, sluice::State<long long>& state) {
            const long long sum = state.getOption().value_or(0) + v.value_or(0);
            state.update(sum);
            return sum;
          });
      auto mapped = words.mapWithState(spec);
      mapped.uid("mapped");
      mapped.stateSnapshots().saveAsTextFiles(output + "/mstate");
      words
          .reduceByKeyAndWindow([](long long a, long long b) { return a + b; },
                                [](long long a, long long b) { return a - b; }, 10 * batch, batch,
                                2, [](const Count& kv) { return kv.second != 0; })
          .uid("window")
          .saveAsTextFiles(output + "/window");
      s->checkpoint(checkpoint);
      return s;
    });
    ssc->start();
    ssc->awaitTermination();
  } catch (const std::exception& e) {
    std::cerr << "recovery_job: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
