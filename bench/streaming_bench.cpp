// Streaming throughput: a windowed word count (30 s window, 1 s slide, reduceByKeyAndWindow with
// an inverse function) fed from an in-process queue at increasing rates; the highest rate whose
// batches are processed faster than the batch interval. Also at 100 ms and 10 ms batches, the cost
// of an empty batch, and what one socket receiver ingests from a local sender; first, the same
// per-record work as a batch job and with no engine, for comparison.
// Usage: streaming_bench CORPUS [--quick | --point BATCH_MS MB_PER_S | --ui MB_PER_S |
//                               --max-rate]
// --point times one rate at one batch interval (for profiling and quick comparisons).
// --ui compares the web UI off and on in the same run: the empty-batch cost, and the windowed
// word count's mean batch time at 1 s batches and the given rate (its sustainable rate scales
// with the inverse of that time); --ui 0 measures the empty batch only.
// --max-rate measures the rate a receiver storing records one at a time achieves under
// spark.streaming.receiver.maxRate settings from 100/s to 1,000,000/s, on the system clock.
// Elsewhere a manual clock drives the batches, so a batch starts as soon as the previous one is done and
// its wall time is its processing time.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using sluice::Duration;

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> splitWords(const std::string& line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && static_cast<unsigned char>(line[i]) <= ' ') ++i;
    std::size_t start = i;
    while (i < line.size() && static_cast<unsigned char>(line[i]) > ' ') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

std::pair<std::string, long long> toPair(std::string word) {
  return std::pair<std::string, long long>(std::move(word), 1);
}

// The corpus's next lines, from line `next` on, until `bytes` of text, dealt round-robin into
// `parts` partitions.
std::vector<std::vector<std::string>> takeLines(const std::vector<std::string>& corpus,
                                                std::size_t bytes, int parts, std::size_t& next) {
  std::vector<std::vector<std::string>> out(static_cast<std::size_t>(parts));
  std::size_t taken = 0;
  for (std::size_t i = 0; taken < bytes; ++i) {
    const std::string& line = corpus[next++ % corpus.size()];
    taken += line.size() + 1;
    out[i % out.size()].push_back(line);
  }
  return out;
}

template <class F>
double bestSeconds(int repeat, F run) {
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    auto start = Clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// The per-record work of the stream as a batch job over the same kind of data, and the same two
// user functions with no engine at all: what a batch of the stream costs apart from the window.
void batchWordCount(const std::vector<std::string>& corpus, std::size_t bytes) {
  std::size_t next = 0;
  auto parts = takeLines(corpus, bytes, 2, next);
  std::size_t records = 0;
  for (const auto& part : parts) records += part.size();
  sluice::Context sc("local[2]", "batchWordCount");
  auto lines = sc.fromPartitions(parts);
  long long keys = 0;
  double sluice_seconds = bestSeconds(5, [&] {
    keys = lines.flatMap(splitWords)
               .map(toPair)
               .reduceByKey([](long long a, long long b) { return a + b; })
               .count();
  });
  std::size_t engine_free_keys = 0;
  double engine_free_seconds = bestSeconds(5, [&] {
    absl::flat_hash_map<std::string, long long> counts;
    for (const auto& part : parts) {
      for (const auto& line : part) {
        for (std::string& word : splitWords(line)) {
          auto kv = toPair(std::move(word));
          counts[std::move(kv.first)] += kv.second;
        }
      }
    }
    engine_free_keys = counts.size();
  });
  if (static_cast<std::size_t>(keys) != engine_free_keys) {
    std::fprintf(stderr, "batch word count: %lld keys, engine-free loop %zu\n", keys,
                 engine_free_keys);
    std::exit(1);
  }
  std::printf(
      "batch word count of %.0f MB (%zu lines), same functions, best of 5:\n"
      "  sluice local[2]: %.1f MB/s; no engine, 1 thread: %.1f MB/s\n\n",
      bytes / 1e6, records, bytes / sluice_seconds / 1e6, bytes / engine_free_seconds / 1e6);
}

struct Trial {
  double mean_batch_seconds = 0;  // over the measured batches
  double max_batch_seconds = 0;
  double busy_cores = 0;  // process CPU time over wall time, during the measured batches
};

double cpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs `warmup + measured` batches of `bytes_per_batch` text each through the windowed word count
// and times the measured ones.
// A Context for a benchmark, with the web UI (on an ephemeral port) or without.
sluice::Conf benchConf(const std::string& master, const std::string& name, bool ui) {
  return sluice::Conf(false)
      .setMaster(master)
      .setAppName(name)
      .set("spark.ui.enabled", ui ? "true" : "false")
      .set("spark.ui.port", "0");
}

Trial runWindowed(const std::vector<std::string>& corpus, Duration batch, Duration window,
                  std::size_t bytes_per_batch, int warmup, int measured, int threads,
                  bool ui = false) {
  sluice::Context sc(benchConf("local[" + std::to_string(threads) + "]", "streamingBench", ui));
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, batch, clock);
  std::deque<sluice::RDD<std::string>> queue;
  std::size_t next = 0;
  // A live stream holds a few batches at a time, not all of them: the queue cycles through
  // kDistinctBatches batches of different lines, so the benchmark's own memory does not grow with
  // the rate times the run's length (6.5 GB at 128 MB/s for 51 batches).
  constexpr int kDistinctBatches = 4;
  std::vector<sluice::RDD<std::string>> batches;
  for (int b = 0; b < std::min(kDistinctBatches, warmup + measured); ++b) {
    batches.push_back(sc.fromPartitions(takeLines(corpus, bytes_per_batch, threads, next)));
  }
  for (int b = 0; b < warmup + measured; ++b) queue.push_back(batches[b % batches.size()]);
  auto counts =
      ssc.queueStream(std::move(queue))
          .flatMap(splitWords)
          .map(toPair)
          .reduceByKeyAndWindow([](long long a, long long b) { return a + b; },
                                [](long long a, long long b) { return a - b; }, window, batch);
  std::atomic<long long> keys{0};
  counts.foreachRDD(
      [&](const sluice::RDD<std::pair<std::string, long long>>& rdd) { keys = rdd.count(); });
  ssc.start();
  Trial trial;
  double cpu_start = 0;
  Clock::time_point measured_start;
  for (int b = 1; b <= warmup + measured; ++b) {
    if (b == warmup + 1) {
      cpu_start = cpuSeconds();
      measured_start = Clock::now();
    }
    auto start = Clock::now();
    clock->advance(batch.count());
    ssc.core()->waitForBatch(sluice::Time(b * batch.count()), std::chrono::minutes(5));
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (b > warmup) {
      trial.mean_batch_seconds += seconds / measured;
      trial.max_batch_seconds = std::max(trial.max_batch_seconds, seconds);
    }
  }
  trial.busy_cores = (cpuSeconds() - cpu_start) /
                     std::chrono::duration<double>(Clock::now() - measured_start).count();
  ssc.stop(false);
  ssc.core()->rethrowError();
  return trial;
}

// Runs the windowed word count at `rate` bytes/s; true when batches take less than the interval.
bool timeRate(const std::vector<std::string>& corpus, Duration batch, double rate) {
  const Duration window(30000);
  const int batches_in_window = static_cast<int>(window / batch);
  const int warmup = batches_in_window + 1;  // batches leave the window from here on
  const int measured = std::max(3, std::min(20, 2000 / static_cast<int>(batch.count()) + 3));
  const double interval = std::chrono::duration<double>(batch).count();
  auto bytes = static_cast<std::size_t>(rate * interval);
  Trial t =
      runWindowed(corpus, batch, window, std::max<std::size_t>(bytes, 1), warmup, measured, 2);
  std::printf(
      "    %8.2f MB/s -> mean batch %.4f s (max %.4f s) for a %.3f s interval, %.2f cores busy\n",
      rate / 1e6, t.mean_batch_seconds, t.max_batch_seconds, interval, t.busy_cores);
  std::fflush(stdout);
  return t.mean_batch_seconds < interval;
}

// Doubles the rate until batches take longer than the interval, then bisects.
void findSustainableRate(const std::vector<std::string>& corpus, Duration batch, bool quick) {
  double avg_line = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(corpus.size(), 10000); ++i)
    avg_line += corpus[i].size() + 1;
  avg_line /= std::min<std::size_t>(corpus.size(), 10000);

  double low = 0;
  double high = 0;
  double rate = quick ? 4e6 : 1e6;  // bytes per second
  auto fits = [&](double r) { return timeRate(corpus, batch, r); };
  while (fits(rate)) {
    low = rate;
    rate *= 2;
  }
  high = rate;
  for (int i = 0; i < (quick ? 1 : 3) && low > 0; ++i) {
    double mid = (low + high) / 2;
    (fits(mid) ? low : high) = mid;
  }
  std::printf("  batch %lld ms: sustainable %.2f MB/s = %.0f records/s (lines) on 2 threads\n\n",
              static_cast<long long>(batch.count()), low / 1e6, low / avg_line);
}

// Microseconds per empty batch.
double emptyBatchMicros(bool ui) {
  sluice::Context sc(benchConf("local[2]", "emptyBatches", ui));
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, Duration(10), clock);
  auto stream = ssc.queueStream(std::deque<sluice::RDD<int>>{}, true,
                                std::optional(sc.parallelize(std::vector<int>{}, 2)));
  std::atomic<long long> seen{0};
  stream.map([](int x) { return x + 1; }).foreachRDD([&](const sluice::RDD<int>& rdd) {
    seen += rdd.count();
  });
  ssc.start();
  const int batches = 20000;
  auto start = Clock::now();
  for (int b = 1; b <= batches; ++b) {
    clock->advance(10);
    ssc.core()->waitForBatch(sluice::Time(b * 10LL), std::chrono::minutes(1));
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ssc.stop(false);
  return seconds / batches * 1e6;
}

void emptyBatchOverhead() {
  std::printf(
      "empty batch (queue -> map -> foreachRDD(count), local[2]): %.1f us per batch over 20000 "
      "batches\n\n",
      emptyBatchMicros(false));
}

// The web UI off and on, alternated three times; best of each.
void uiOverhead(const std::vector<std::string>& corpus, double rate) {
  double empty[2] = {1e30, 1e30};
  double windowed[2] = {1e30, 1e30};
  const Duration batch(1000);
  const auto bytes = static_cast<std::size_t>(rate);
  for (int round = 0; round < 3; ++round) {
    for (int ui = 0; ui < 2; ++ui) {
      const double e = emptyBatchMicros(ui == 1);
      empty[ui] = std::min(empty[ui], e);
      double mean = 0;
      if (bytes > 0) {  // --ui 0 measures the empty batch only
        mean = runWindowed(corpus, batch, Duration(30000), bytes, 31, 5, 2, ui == 1)
                   .mean_batch_seconds;
        windowed[ui] = std::min(windowed[ui], mean);
      }
      std::printf("  round %d, UI %s: empty batch %.1f us, windowed mean batch %.4f s\n", round + 1,
                  ui == 1 ? "on " : "off", e, mean);
      std::fflush(stdout);
    }
  }
  std::printf("web UI off / on, best of 3 each:\n  empty batch: %.1f us / %.1f us\n", empty[0],
              empty[1]);
  if (bytes == 0) return;
  std::printf(
      "  windowed word count at %.1f MB/s, 1 s batches: mean batch %.4f s / %.4f s; sustainable "
      "rate with the UI on = %.3fx off\n",
      rate / 1e6, windowed[0], windowed[1], windowed[0] / windowed[1]);
}

void socketIngestion(const std::vector<std::string>& corpus, double seconds) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(listener, 1);
  const int port = ntohs(addr.sin_port);
  std::string payload;
  for (const auto& line : corpus) payload.append(line).push_back('\n');
  std::atomic<bool> done{false};
  std::atomic<long long> bytes_sent{0};
  std::thread sender([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    std::size_t off = 0;
    while (!done) {
      ssize_t n = ::send(fd, payload.data() + off,
                         std::min<std::size_t>(1 << 16, payload.size() - off), MSG_NOSIGNAL);
      if (n <= 0) break;
      bytes_sent += n;
      off = (off + static_cast<std::size_t>(n)) % payload.size();
    }
    ::close(fd);
  });
  sluice::Context sc("local[2]", "socketBench");
  sluice::StreamingContext ssc(sc, Duration(500));  // system clock: real batches
  std::atomic<long long> records{0};
  ssc.socketTextStream("127.0.0.1", port).foreachRDD([&](const sluice::RDD<std::string>& rdd) {
    records += rdd.count();
  });
  auto start = Clock::now();
  ssc.start();
  ssc.awaitTerminationOrTimeout(std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
  done = true;
  ssc.stop(false, true);
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::shutdown(listener, SHUT_RDWR);
  ::close(listener);
  sender.join();
  double avg_line = static_cast<double>(payload.size()) / corpus.size();
  std::printf(
      "socket ingestion (one receiver, local sender): %.0f lines/s, %.1f MB/s over %.1f s\n\n",
      records / elapsed, records * avg_line / elapsed / 1e6, elapsed);
}

}  // namespace

// Stores 0, 1, 2, ... one record at a time until stopped; counts what store() let through.
class CountingReceiver final : public sluice::Receiver<int> {
 public:
  void onStart() override {
    thread_ = std::thread([this] {
      int i = 0;
      while (!isStopped()) {
        store(i++);
        stored_.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  void onStop() override {
    if (thread_.joinable()) thread_.join();
  }
  std::string name() const override { return "CountingReceiver"; }
  long long stored() const { return stored_.load(std::memory_order_relaxed); }

 private:
  std::thread thread_;
  std::atomic<long long> stored_{0};
};

void receiverMaxRate() {
  std::printf("receiver.maxRate: setting, achieved over 3 s after 1 s of warm-up, ratio\n");
  for (double rate : {100.0, 1e3, 1e4, 5e4, 2e5, 1e6}) {
    sluice::Context sc("local[2]", "maxRate");
    sc.setLogLevel("ERROR");  // not the warning of stop(false) about records no batch took
    sluice::StreamingContext ssc(sc, Duration(1000));
    ssc.conf().set("spark.streaming.receiver.maxRate", std::to_string(rate));
    auto receiver = std::make_shared<CountingReceiver>();
    ssc.receiverStream<int>(receiver).foreachRDD([](const sluice::RDD<int>& rdd) { rdd.count(); });
    ssc.start();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const long long c0 = receiver->stored();
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const long long c1 = receiver->stored();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    ssc.stop(false);
    const double achieved = static_cast<double>(c1 - c0) / seconds;
    std::printf("  %10.0f/s  %12.0f/s  %.3fx\n", rate, achieved, achieved / rate);
    std::fflush(stdout);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: streaming_bench CORPUS [--quick | --point BATCH_MS MB_PER_S | --ui "
                 "MB_PER_S | --max-rate]\n");
    return 2;
  }
  const bool quick = argc > 2 && std::string(argv[2]) == "--quick";
  auto corpus = readLines(argv[1]);
  if (corpus.empty()) {
    std::fprintf(stderr, "streaming_bench: %s has no lines\n", argv[1]);
    return 2;
  }
  if (argc == 4 && std::string(argv[2]) == "--ui") {
    uiOverhead(corpus, std::stod(argv[3]) * 1e6);
    return 0;
  }
  if (argc == 3 && std::string(argv[2]) == "--max-rate") {
    receiverMaxRate();
    return 0;
  }
  if (argc == 5 && std::string(argv[2]) == "--point") {
    const Duration batch(std::stoll(argv[3]));
    timeRate(corpus, batch, std::stod(argv[4]) * 1e6);
    return 0;
  }
  batchWordCount(corpus, 128'000'000);
  std::printf("windowed word count, reduceByKeyAndWindow(+, -, 30 s window, slide = batch):\n");
  findSustainableRate(corpus, Duration(1000), quick);
  findSustainableRate(corpus, Duration(100), quick);
  if (!quick) findSustainableRate(corpus, Duration(10), quick);
  emptyBatchOverhead();
  socketIngestion(corpus, quick ? 2.0 : 5.0);
  return 0;
}
