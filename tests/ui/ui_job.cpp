// The streaming job that browser_test.py looks at through the web UI: 500 ms batches on the
// system clock of the words a receiver stores (about 200 a second), counted per batch and in a
// running total per word (updateStateByKey), with two output operations. Its UI binds an
// ephemeral port (spark.ui.port=0) of 127.0.0.1, whose address it prints on stdout as
// "Spark UI: http://127.0.0.1:<port>". Runs until its stdin closes or it gets SIGTERM or SIGINT.
//
// Usage: ui_job [CHECKPOINT_DIR]   (with a directory, checkpoints every batch into it)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Stores words from its own thread, a few every 5 ms, until stopped.
class WordReceiver final : public sluice::Receiver<std::string> {
 public:
  void onStart() override {
    thread_ = std::thread([this] {
      static const std::vector<std::string> kWords{"spark",  "sluice", "stream",   "batch",
                                                   "window", "state",  "receiver", "ui"};
      std::size_t next = 0;
      while (!isStopped()) {
        store(kWords[next % kWords.size()]);
        next = next * 7 + 3;
        std::this_thread::sleep_for(5ms);  // the source's pace, not synchronisation
      }
    });
  }
  void onStop() override {
    if (thread_.joinable()) thread_.join();
  }
  std::string name() const override { return "WordReceiver"; }

 private:
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    sluice::Context sc(sluice::Conf()
                           .setMaster("local[2]")
                           .setAppName("UiJob")
                           .set("spark.ui.enabled", "true")
                           .set("spark.ui.port", "0"));
    sluice::StreamingContext ssc(sc, 500ms);
    if (argc > 1) ssc.checkpoint(argv[1]);

    auto counts = ssc.receiverStream<std::string>(std::make_shared<WordReceiver>())
                      .map([](const std::string& word) { return std::pair(word, 1LL); })
                      .reduceByKey([](long long a, long long b) { return a + b; });
    counts.foreachRDD(
        [](const sluice::RDD<std::pair<std::string, long long>>& rdd) { rdd.count(); });
    auto totals = counts.updateStateByKey(
        [](const std::vector<long long>& values, std::optional<long long> total) {
          long long sum = total.value_or(0);
          for (long long v : values) sum += v;
          return std::optional<long long>(sum);
        });
    totals.foreachRDD(
        [](const sluice::RDD<std::pair<std::string, long long>>& rdd) { rdd.collect(); });

    // stdin is read on a thread that only raises a flag, so that the main thread stops the
    // context; the thread may still be blocked in read when the process exits.
    static std::atomic<bool> stdin_closed{false};
    std::thread([] {
      while (std::cin.get() != std::char_traits<char>::eof()) {
      }
      stdin_closed.store(true);
    }).detach();

    ssc.stopGracefullyOnShutdown();
    ssc.start();
    std::cout << "Spark UI: " << sc.uiWebUrl().value_or("(disabled)") << std::endl;
    while (!ssc.awaitTerminationOrTimeout(200ms)) {
      if (stdin_closed.load()) {
        ssc.stop();
        break;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "ui_job: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
