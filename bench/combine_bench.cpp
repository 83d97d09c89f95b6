// Keyed aggregation with non-string keys: reduceByKey over (long long, long long) pairs, which
// combines in CombineTable's generic table (map side and reduce side), then count().
// Usage: combine_bench [DISTINCT_KEYS] [RECORDS] [THREADS] [REPEAT]
// Prints the best time of REPEAT runs, in seconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sluice/sluice.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const long long keys = argc > 1 ? std::atoll(argv[1]) : 100000;
  const long long records = argc > 2 ? std::atoll(argv[2]) : 10 * keys;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int repeat = argc > 4 ? std::atoi(argv[4]) : 5;
  // Keys in a fixed pseudo-random order (every key at least once when records >= keys).
  std::vector<std::pair<long long, long long>> data;
  data.reserve(static_cast<std::size_t>(records));
  std::uint64_t x = 0x243F6A8885A308D3ULL;
  for (long long i = 0; i < records; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const long long k = i < keys ? i : static_cast<long long>((x >> 17) % keys);
    data.emplace_back(k * 2654435761LL, 1);
  }
  std::shuffle(data.begin(), data.end(), std::mt19937_64(7));

  sluice::Context sc("local[" + std::to_string(threads) + "]", "combineBench");
  auto pairs = sc.parallelize(data).cache();
  pairs.count();
  double best = 1e9;
  long long distinct = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    distinct = pairs.reduceByKey([](long long a, long long b) { return a + b; }).count();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (distinct != keys) {
    std::fprintf(stderr, "wrong result: %lld distinct keys, expected %lld\n", distinct, keys);
    return 1;
  }
  std::printf("keys %lld records %lld local[%d]: best of %d %.4f s\n", keys, records, threads,
              repeat, best);
  return 0;
}
