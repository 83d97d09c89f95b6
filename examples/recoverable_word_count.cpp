// Recoverable running count: the course's getOrCreate program. Every line of the files moved
// into INPUT_DIR is a number; the job keeps the running count of each number mod 10 with
// updateStateByKey and prints it, and the number of keys, every batch. State and input records
// are checkpointed into CHECKPOINT_DIR: kill the program (even with kill -9) and start it again,
// and it resumes where it was, counting every file exactly once.
// textFileStream -> map(int(x) % 10) -> map((x, 1)) -> updateStateByKey(sum) -> pprint,
// count().pprint(); StreamingContext::getOrCreate(checkpoint, setup).
//
// Usage: recoverable_word_count [--master local[N]] [--batch-ms N] [--seconds N]
//                               INPUT_DIR CHECKPOINT_DIR
//   build/release/examples/recoverable_word_count input ckpt &
//   seq 1 100 > /tmp/n.txt && mv /tmp/n.txt input/    # counts 10 of each key
//   kill -9 %1; build/release/examples/recoverable_word_count input ckpt   # resumes
// Runs until Ctrl-C (a graceful stop that writes a final checkpoint), or for --seconds N.
#include <charconv>
#include <iostream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <vector>

#include "example_cli.hpp"

namespace {

// Python's int(x): a line that is not a number fails the batch with a clear error (the file
// stays unprocessed, to be counted once it is fixed and the job restarted).
long long parseNumber(const std::string& x) {
  long long n = 0;
  const auto [end, ec] = std::from_chars(x.data(), x.data() + x.size(), n);
  if (ec != std::errc() || end != x.data() + x.size()) {
    throw sluice::InvalidArgumentError("invalid literal for int(): '" + x + "'");
  }
  return n;
}

std::optional<long long> updateFunction(const std::vector<long long>& new_values,
                                        std::optional<long long> running_count) {
  long long sum = running_count.value_or(0);
  for (long long v : new_values) sum += v;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.batch_ms = 2000};
  std::string input;
  std::string checkpoint_dir;
  CLI::App app(
      "The running count of each number mod 10 in the files moved into INPUT_DIR, recovered from "
      "CHECKPOINT_DIR after a crash.",
      "recoverable_word_count");
  examples::addCommonOptions(app, options);
  app.add_option("INPUT_DIR", input, "The directory to watch")->required();
  app.add_option("CHECKPOINT_DIR", checkpoint_dir, "The checkpoint directory")->required();
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "RecoverableWordCount");
    sc.setLogLevel("WARN");
    auto function_to_create_context = [&] {
      auto ssc = std::make_unique<sluice::StreamingContext>(sc, options.batch());
      // Add new values with previous running count to get new count.
      auto ds = ssc->textFileStream(input)
                    .map([](const std::string& x) { return parseNumber(x) % 10; })
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
    examples::runUntilStopped(*ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "recoverable_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
