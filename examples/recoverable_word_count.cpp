// Recoverable running count: the course's getOrCreate program. The course's xrange_write
// writes numbers into INPUT_DIR (5 a second, one file each); the job keeps the running count of
// each number mod 10 with updateStateByKey and prints it, and the number of keys, every batch.
// State and input records are checkpointed into CHECKPOINT_DIR: kill the program (even with
// kill -9) and start it again, and it resumes where it was, counting every file exactly once.
//
// Translates seed 000 (spark_streaming_course_notes), "Checkpointing" (test_checkpointing.py):
//   PySpark                                      Sluice
//   def updateFunction(newValues, runningCount)  std::optional<long long> updateFunction(...)
//   checkpointDir = 'ckpt'                       CHECKPOINT_DIR
//   def functionToCreateContext():               auto function_to_create_context = [&] {
//     StreamingContext(SparkContext(), 2)          make_unique<StreamingContext>(sc, 2 s)
//     ssc.textFileStream('input')                  ssc->textFileStream(input)   (INPUT_DIR)
//       .map(lambda x: int(x) % 10)                .map(examples::pythonInt(x) % 10)
//       .map(lambda x: (x, 1))                     .map(pair(x, 1))
//       .updateStateByKey(updateFunction)          .updateStateByKey(updateFunction)
//     ds.pprint(); ds.count().pprint()             ds.pprint(); ds.count().pprint()
//     ssc.checkpoint(checkpointDir)                ssc->checkpoint(checkpoint_dir)
//   print 'Initializing ssc'                     std::cout << "Initializing ssc"
//   StreamingContext.getOrCreate(dir, fn)        StreamingContext::getOrCreate(dir, fn)
//   print 'Starting ssc'; ssc.start()            std::cout << "Starting ssc"; ssc->start()
//   xrange_write()                               examples::startXrangeWrite (text_file_util.hpp):
//                                                xrangeWrite on a thread; --no-write leaves
//                                                INPUT_DIR to you
// The setup function always runs, as C++ closures cannot be serialized; with a checkpoint, the
// context it builds resumes from it. A line that is not a number fails its batch (the file
// stays unprocessed, to be counted once it is fixed and the job restarted).
//
// Usage: recoverable_word_count [--master local[N]] [--batch-ms N] [--seconds N] [--no-write]
//                               [--write-ms N] [--write-size N] INPUT_DIR CHECKPOINT_DIR
//   build/release/examples/recoverable_word_count input ckpt &
//   kill -9 %1; build/release/examples/recoverable_word_count input ckpt   # resumes
//   build/release/examples/recoverable_word_count --no-write input ckpt &
//   seq 1 100 > /tmp/n.txt && mv /tmp/n.txt input/    # counts 10 of each key
// Runs until Ctrl-C (a graceful stop that writes a final checkpoint), or for --seconds N.
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
  examples::CommonOptions options{.batch_ms = 2000};
  examples::XrangeWriteOptions writer;
  std::string checkpoint_dir;
  bool no_write = false;
  CLI::App app(
      "The running count of each number mod 10 in the files of INPUT_DIR, which it fills with "
      "numbers meanwhile, recovered from CHECKPOINT_DIR after a crash.",
      "recoverable_word_count");
  examples::addCommonOptions(app, options);
  examples::addXrangeWriteOptions(app, writer, no_write);
  app.add_option("INPUT_DIR", writer.batch_dir, "The directory to watch")->required();
  app.add_option("CHECKPOINT_DIR", checkpoint_dir, "The checkpoint directory")->required();
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "RecoverableWordCount");
    sc.setLogLevel("WARN");
    auto function_to_create_context = [&] {
      auto ssc = std::make_unique<sluice::StreamingContext>(sc, options.batch());
      // Add new values with previous running count to get new count.
      auto ds = ssc->textFileStream(writer.batch_dir)
                    .map([](const std::string& x) {
                      return examples::pythonMod(examples::pythonInt(x), 10);
                    })
                    .map([](long long x) { return std::pair<long long, long long>(x, 1); })
                    .updateStateByKey(updateFunction);
      ds.pprint();
      ds.count().pprint();
      // Set up checkpoint.
      ssc->checkpoint(checkpoint_dir);
      return ssc;
    };
    std::cout << "Initializing ssc" << std::endl;
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint_dir, function_to_create_context);
    std::cout << "Starting ssc" << std::endl;
    std::jthread write_data;  // joined (after a stop request) before ssc is destroyed
    examples::runUntilStopped(*ssc, options, [&] {
      if (no_write) return;
      // Write data to the textFileStream.
      write_data = examples::startXrangeWrite(writer, "recoverable_word_count");
    });
  } catch (const std::exception& e) {
    std::cerr << "recoverable_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
