// Running count: how many of the numbers written so far end in each digit 0..9, kept across
// batches by updateStateByKey, with the number of keys; the course's xrange_write writes the
// numbers into INPUT_DIR meanwhile.
//
// Translates seed 000 (spark_streaming_course_notes), "Counting Events" (test_count.py), and
// the xrange_write it calls:
//   PySpark                                     Sluice
//   def updateFunction(newValues, runningCount) std::optional<long long> updateFunction(...)
//   print 'Initializing ssc'                    std::cout << "Initializing ssc"
//   StreamingContext(SparkContext(), 1)         sluice::StreamingContext ssc(sc, 1 s)
//   ssc.checkpoint('ckpt')                      ssc.checkpoint(checkpoint_dir)   (--checkpoint,
//                                               under the system's temporary directory)
//   ssc.textFileStream('input')                 ssc.textFileStream(input)        (INPUT_DIR)
//   .map(lambda x: int(x) % 10)                 .map(examples::pythonInt(x) % 10)
//   .map(lambda x: (x, 1))                      .map(pair(x, 1))
//   .updateStateByKey(updateFunction)           .updateStateByKey(updateFunction)
//   ds.pprint(); ds.count().pprint()            ds.pprint(); ds.count().pprint()
//   print 'Starting ssc'; ssc.start()           std::cout << "Starting ssc"; ssc.start()
//   xrange_write()                              examples::startXrangeWrite (text_file_util.hpp):
//                                               xrangeWrite on a thread; --no-write leaves
//                                               INPUT_DIR to you
// A line that is not a number fails its batch, as int(x) does in Spark. Linux stamps a new file
// with the last clock tick's time, up to a few milliseconds behind the clock: the first file,
// written right after the start, can look older than the stream and is then ignored (Spark's
// rule ignores files older than the stream; written into the directory or renamed in alike).
//
// Usage: running_count [--master local[N]] [--batch-ms N] [--seconds N] [--checkpoint DIR]
//                      [--no-write] [--write-ms N] [--write-size N] [INPUT_DIR]
//   build/release/examples/running_count /tmp/numbers     # writes 5 numbers a second
//   build/release/examples/running_count --no-write /tmp/numbers &
//   seq 0 9 > /tmp/.n && mv /tmp/.n /tmp/numbers/n1       # every key reaches 1
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <filesystem>
#include <iostream>
#include <numeric>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "example_cli.hpp"
#include "text_file_util.hpp"

namespace {

// Adds the new values to the previous running count (none at first).
std::optional<long long> updateFunction(const std::vector<long long>& new_values,
                                        std::optional<long long> running_count) {
  return std::accumulate(new_values.begin(), new_values.end(), running_count.value_or(0));
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options;
  examples::XrangeWriteOptions writer;
  // Not the seed's ./ckpt, which recoverable_word_count would then try to resume from.
  std::string checkpoint_dir =
      (std::filesystem::temp_directory_path() / "sluice-running-count").string();
  bool no_write = false;
  CLI::App app(
      "The running count of the numbers mod 10 in the files of INPUT_DIR, which it fills with "
      "numbers meanwhile.",
      "running_count");
  examples::addCommonOptions(app, options);
  app.add_option("--checkpoint", checkpoint_dir, "Checkpoint directory")->capture_default_str();
  examples::addXrangeWriteOptions(app, writer, no_write);
  app.add_option("INPUT_DIR", writer.batch_dir, "The directory to watch")->capture_default_str();
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    std::cout << "Initializing ssc" << std::endl;
    sluice::Context sc(options.master, "RunningCount");
    sc.setLogLevel("WARN");
    sluice::StreamingContext ssc(sc, options.batch());
    ssc.checkpoint(checkpoint_dir);

    auto ds = ssc.textFileStream(writer.batch_dir)
                  .map([](const std::string& x) {
                    return examples::pythonMod(examples::pythonInt(x), 10);
                  })
                  .map([](long long x) { return std::pair<long long, long long>(x, 1); })
                  .updateStateByKey(updateFunction);
    ds.pprint();
    ds.count().pprint();

    std::cout << "Starting ssc" << std::endl;
    std::jthread write_data;  // joined (after a stop request) before ssc is destroyed
    examples::runUntilStopped(ssc, options, [&] {
      if (no_write) return;
      // Write data to the textFileStream.
      write_data = examples::startXrangeWrite(writer, "running_count");
    });
  } catch (const std::exception& e) {
    std::cerr << "running_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
