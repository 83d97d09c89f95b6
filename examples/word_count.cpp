// The classic word count: textFile -> flatMap -> map -> reduceByKey -> takeOrdered(5).
// Usage: word_count [--master local[N]] FILE
#include <fmt/format.h>

#include <iostream>
#include <sluice/sluice.hpp>
#include <string>
#include <vector>

#include "example_cli.hpp"

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
    auto top =
        sc.textFile(path)
            .flatMap([](const std::string& line) {
              std::vector<std::string> words = sluice::split(line);
              for (auto& word : words) {
                for (char& c : word) {
                  if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
                }
              }
              return words;
            })
            .map([](std::string word) {
              return std::pair<std::string, long long>(std::move(word), 1);
            })
            .reduceByKey([](long long a, long long b) { return a + b; })
            .takeOrdered(5, [](const std::pair<std::string, long long>& kv) { return -kv.second; });
    for (const auto& kv : top) fmt::print("{}\n", sluice::repr(kv));
  } catch (const sluice::Error& e) {
    std::cerr << "word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
