// The classic word count: textFile -> flatMap -> map -> reduceByKey -> takeOrdered(5).
// Usage: word_count [--master local[N]] FILE
#include <fmt/format.h>

#include <iostream>
#include <sluice/sluice.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string master = "local[*]";
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--master" && i + 1 < argc) {
      master = argv[++i];
    } else {
      path = arg;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: word_count [--master local[N]] FILE\n";
    return 2;
  }
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
