// Word count throughput: hand-written C++, the idiomatic user functions without an engine, Sluice
// at local[1] and local[2], Python's Counter.
// Usage: wordcount_bench FILE [--repeat N]
// Prints the best time of N runs of each, checks that all of them agree on the counts, and exits
// non-zero if they do not.
#include <absl/container/flat_hash_map.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <optional>
#include <sluice/sluice.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handwritten_wordcount.hpp"

namespace {

using Counts = std::vector<std::pair<std::string, long long>>;

// What Python reports and what every variant is checked against.
struct Summary {
  size_t distinct = 0;
  long long total = 0;
  uint64_t checksum = 0;  // sum of count * fnv1a64(word), mod 2^64
  bool operator==(const Summary&) const = default;
};

struct Row {
  std::string name;
  double seconds;
  bool agrees;
};

uint64_t fnv1a64(std::string_view word) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : word) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

Summary summarize(const Counts& counts) {
  Summary s;
  s.distinct = counts.size();
  for (const auto& [word, n] : counts) {
    s.total += n;
    s.checksum += static_cast<uint64_t>(n) * fnv1a64(word);
  }
  return s;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs `count` `repeat` times; returns the best time and the (sorted) result of the last run.
std::pair<double, Counts> timeBest(int repeat, const std::function<Counts()>& count) {
  double best = 1e300;
  Counts counts;
  for (int i = 0; i < repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    counts = count();
    best = std::min(best, secondsSince(start));
  }
  std::sort(counts.begin(), counts.end());
  return {best, std::move(counts)};
}

// The user's functions of the idiomatic word count: one vector of strings per line, one pair per
// word. Both the Sluice program and the engine-free loop below call exactly these.
std::vector<std::string> splitLowerWords(const std::string& line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && static_cast<unsigned char>(line[i]) <= ' ') ++i;
    size_t start = i;
    while (i < line.size() && static_cast<unsigned char>(line[i]) > ' ') ++i;
    if (i == start) break;
    std::string word = line.substr(start, i - start);
    for (char& c : word) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    }
    words.push_back(std::move(word));
  }
  return words;
}

std::pair<std::string, long long> toPair(std::string word) {
  return std::pair<std::string, long long>(std::move(word), 1);
}

// The idiomatic Sluice word count.
Counts sluiceWordCount(sluice::Context& sc, const std::string& path, int parallelism) {
  return sc.textFile(path, /*min_partitions=*/2 * parallelism)
      .flatMap([](const std::string& line) { return splitLowerWords(line); })
      .map([](std::string word) { return toPair(std::move(word)); })
      .reduceByKey([](long long a, long long b) { return a + b; })
      .collect();
}

// The same user functions in a plain single-threaded loop, with no engine: lines read with
// std::getline, pairs counted in an absl::flat_hash_map. What the idiom costs by itself, so the
// engine's own cost shows as the gap between this row and Sluice local[1].
Counts engineFreeWordCount(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  absl::flat_hash_map<std::string, long long> counts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    for (std::string& word : splitLowerWords(line)) {
      auto kv = toPair(std::move(word));
      counts[std::move(kv.first)] += kv.second;
    }
  }
  return Counts(counts.begin(), counts.end());
}

Row runSluice(const std::string& path, int parallelism, int repeat, const Counts& expected) {
  sluice::Context sc("local[" + std::to_string(parallelism) + "]", "wordCountBench");
  sc.setLogLevel("WARN");
  auto [seconds, counts] = timeBest(repeat, [&] { return sluiceWordCount(sc, path, parallelism); });
  sc.stop();
  return {"sluice local[" + std::to_string(parallelism) + "]", seconds, counts == expected};
}

// Returns the number after `"key":` in a one-line JSON object, or nullopt.
std::optional<std::string> jsonField(const std::string& json, const std::string& key) {
  size_t pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return std::nullopt;
  pos = json.find_first_not_of(" \"", pos + key.size() + 3);
  size_t end = json.find_first_of(",}\"", pos);
  if (pos == std::string::npos || end == std::string::npos) return std::nullopt;
  return json.substr(pos, end - pos);
}

std::string shellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs wordcount_counter.py `repeat` times; its own timer excludes interpreter start-up.
std::optional<Row> runPython(const std::string& path, int repeat, const Summary& expected) {
  std::string command = "python3 " +
                        shellQuote(std::string(SLUICE_BENCH_DIR) + "/wordcount_counter.py") + " " +
                        shellQuote(path);
  Row row{"python Counter", 1e300, true};
  for (int i = 0; i < repeat; ++i) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return std::nullopt;
    std::string output;
    char chunk[512];
    while (std::fgets(chunk, sizeof(chunk), pipe) != nullptr) output += chunk;
    if (::pclose(pipe) != 0) return std::nullopt;
    auto seconds = jsonField(output, "seconds");
    auto distinct = jsonField(output, "distinct");
    auto total = jsonField(output, "total");
    auto checksum = jsonField(output, "checksum");
    if (!seconds || !distinct || !total || !checksum) return std::nullopt;
    Summary s{std::stoull(*distinct), std::stoll(*total), std::stoull(*checksum, nullptr, 16)};
    row.seconds = std::min(row.seconds, std::stod(*seconds));
    row.agrees = row.agrees && s == expected;
  }
  return row;
}

// Rows: hand-written first, the engine-free idiom second, Python last.
void printTable(const std::vector<Row>& rows, double megabytes) {
  auto rate = [&](const Row& row) { return megabytes / row.seconds; };
  double handwritten = rate(rows.front());
  double idiom = rate(rows[1]);
  double python = rate(rows.back());
  std::printf("%-20s %9s %8s %15s %10s %10s  %s\n", "variant", "seconds", "MB/s", "vs hand-written",
              "vs idiom", "vs python", "counts");
  for (const Row& row : rows) {
    std::printf("%-20s %9.4f %8.1f %14.3fx %9.3fx %9.2fx  %s\n", row.name.c_str(), row.seconds,
                rate(row), rate(row) / handwritten, rate(row) / idiom, rate(row) / python,
                row.agrees ? "ok" : "MISMATCH");
  }
}

int usage() {
  std::fprintf(stderr, "usage: wordcount_bench FILE [--repeat N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
      if (repeat < 1) return usage();
    } else if (path.empty() && !arg.starts_with("--")) {
      path = arg;
    } else {
      return usage();
    }
  }
  struct stat st;
  if (path.empty()) return usage();
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "wordcount_bench: cannot stat %s\n", path.c_str());
    return 2;
  }
  double megabytes = static_cast<double>(st.st_size) / 1e6;
  std::printf("corpus %s: %.1f MB, best of %d\n", path.c_str(), megabytes, repeat);

  try {
    auto [seconds, expected] =
        timeBest(repeat, [&] { return sluice::bench::handwrittenWordCount(path); });
    Summary summary = summarize(expected);
    std::printf("%zu distinct words, %lld in all\n\n", summary.distinct, summary.total);
    std::vector<Row> rows{{"hand-written C++", seconds, true}};
    auto [free_seconds, free_counts] = timeBest(repeat, [&] { return engineFreeWordCount(path); });
    rows.push_back({"idiom, no engine", free_seconds, free_counts == expected});
    rows.push_back(runSluice(path, 1, repeat, expected));
    rows.push_back(runSluice(path, 2, repeat, expected));
    std::optional<Row> python = runPython(path, repeat, summary);
    if (!python) {
      std::fprintf(stderr, "wordcount_bench: running wordcount_counter.py failed\n");
      return 1;
    }
    rows.push_back(*python);
    printTable(rows, megabytes);
    bool all_agree = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.agrees; });
    if (!all_agree) std::fprintf(stderr, "wordcount_bench: the word counts disagree\n");
    return all_agree ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wordcount_bench: %s\n", e.what());
    return 1;
  }
}
