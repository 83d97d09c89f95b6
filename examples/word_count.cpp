// Batch word count: the five most frequent words of a text file, printed as a Python list.
//
// Translates seed 001 (spark_streaming_sockets_and_files), "Using Spark Streaming", its batch
// word count before the streaming programs:
//   PySpark                                  Sluice
//   SparkContext('local[*]')                 sluice::Context sc(master, "wordCount")
//   sc.textFile(path)                        sc.textFile(path)
//   .flatMap(line.split())                   .flatMap(sluice::split(line))   (no lowercasing)
//   .map((word, 1))                          .map(examples::wordAndOne)
//   .reduceByKey(x + y)                      .reduceByKey(x + y)
//   .takeOrdered(5, key=-x[1])               .takeOrdered(5, -kv.second)
//   (the notebook shows the list)            printed as Python prints it: [('the', 13600), ...]
// Words tied on their count come in no set order, in Spark as here.
//
// Usage: word_count [--master local[N]] FILE
//   build/release/examples/word_count build/data/kjv.txt
#include <fmt/format.h>

#include <iostream>
#include <sluice/sluice.hpp>
#include <string>
#include <utility>

#include "example_cli.hpp"
#include "word_count_util.hpp"

int main(int argc, char** argv) {
  std::string master = "local[*]";
  std::string path;
  CLI::App app("The five most frequent words of a text file.", "word_count");
  app.add_option("--master", master, "Where to run: local, local[N] or local[*]")
      ->capture_default_str();
  app.add_option("FILE", path, "The text file")->required();
  if (auto status = examples::parse(app, argc, argv)) return *status;
  try {
    sluice::Context sc(master, "wordCount");
    auto lines = sc.textFile(path);
    auto counts = lines.flatMap([](const std::string& line) { return sluice::split(line); })
                      .map(examples::wordAndOne)
                      .reduceByKey([](long long x, long long y) { return x + y; });
    auto top =
        counts.takeOrdered(5, [](const std::pair<std::string, long long>& x) { return -x.second; });
    fmt::print("{}\n", sluice::repr(top));
  } catch (const sluice::Error& e) {
    std::cerr << "word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
