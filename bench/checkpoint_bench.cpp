// Checkpoint costs (fault-tolerance issue, section 7), on the manual clock:
// 1. mapWithState holding 10^6 keys, of which 1% change in a batch: the time to write the data
//    checkpoint of that batch (incremental: the changed keys only), beside a full one, with the
//    memory and the rocksdb state backend;
// 2. the time to restart from it (getOrCreate: read, verify and restore 10^6 keys);
// 3. a windowed word count (30 s window, 1 s batches, inverse reduce) over the same batches with
//    checkpointing every 10 s and without: the ratio of their processing times (best of 3); and
//    with the window's state in the rocksdb backend (checkpointing too) against the same base.
// Usage: checkpoint_bench [KEYS] [BATCHES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sluice/testing.hpp>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {

using namespace std::chrono_literals;
using KV = std::pair<std::string, long long>;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string key(long long i) { return "key-" + std::to_string(i); }

// Batch 1: every key once; then batches changing `changed` keys each.
std::vector<std::vector<KV>> stateInput(long long keys, long long changed, int batches) {
  std::vector<std::vector<KV>> input(1);
  for (long long i = 0; i < keys; ++i) input[0].emplace_back(key(i), 1);
  for (int b = 1; b < batches; ++b) {
    input.emplace_back();
    for (long long i = 0; i < changed; ++i)
      input.back().emplace_back(key((b * 7919 + i * 101) % keys), 1);
  }
  return input;
}

void runTo(sluice::StreamingContext& ssc, sluice::ManualClock& clock, int batch) {
  clock.setTime(batch * 1000LL);
  if (!ssc.core()->waitForBatch(sluice::Time(batch * 1000LL), std::chrono::minutes(10)))
    throw sluice::Error("batch timeout");
  ssc.core()->rethrowError();
}

std::unique_ptr<sluice::StreamingContext> stateJob(sluice::Context& sc,
                                                   std::shared_ptr<sluice::ManualClock> clock,
                                                   const std::vector<std::vector<KV>>& input,
                                                   const std::string& dir,
                                                   const std::string& backend) {
  return sluice::StreamingContext::getOrCreate(dir, [&] {
    auto ssc = std::make_unique<sluice::StreamingContext>(sc, 1s, clock);
    ssc->conf().set("sluice.streaming.stateBackend", backend);
    auto in = sluice::testing::detail::testInput(sc, *ssc, input, 2);
    auto spec = sluice::stateSpecFunction<std::string, long long, long long>(
        [](const std::string&, std::optional<long long> v, sluice::State<long long>& s) {
          s.update(s.getOption().value_or(0) + v.value_or(0));
          return 0;
        });
    auto mapped = in.mapWithState(spec);
    mapped.checkpoint(1000s);  // data checkpoints only when asked for below
    mapped.foreachRDD([](const sluice::RDD<int>& rdd) { rdd.count(); });
    ssc->checkpoint(dir);
    return ssc;
  });
}

struct StateCosts {
  double batch = 0;        // the batch changing 1% of the keys
  double incremental = 0;  // its data checkpoint
  double full = 0;         // a second one of the same batch (in memory: every key)
  double restart = 0;
  std::uintmax_t bytes = 0;  // the checkpoint directory, each file once
};

StateCosts stateCosts(sluice::Context& sc, const std::vector<std::vector<KV>>& input,
                      const std::filesystem::path& dir, const std::string& backend) {
  std::filesystem::remove_all(dir);
  StateCosts costs;
  {
    auto clock = std::make_shared<sluice::ManualClock>();
    auto ssc = stateJob(sc, clock, input, dir.string(), backend);
    ssc->start();
    runTo(*ssc, *clock, 1);           // the first checkpoint holds the full state
    ssc->core()->flushCheckpoints();  // the full one of batch 1 is written behind the batches
    auto start = Clock::now();
    runTo(*ssc, *clock, 2);  // 1% of the keys change
    costs.batch = secondsSince(start);
    ssc->core()->flushCheckpoints();
    start = Clock::now();
    ssc->core()->checkpointNow();
    costs.incremental = secondsSince(start);
    ssc->stop(false);
  }
  {
    auto clock = std::make_shared<sluice::ManualClock>(2000);
    auto start = Clock::now();
    auto ssc = stateJob(sc, clock, input, dir.string(), backend);
    costs.restart = secondsSince(start);
    ssc->start();
    runTo(*ssc, *clock, 3);
    ssc->core()->checkpointNow();  // writes and waits for every checkpoint queued
    start = Clock::now();
    ssc->core()->checkpointNow();
    costs.full = secondsSince(start);
    ssc->stop(false);
  }
  std::set<std::pair<std::uintmax_t, std::uintmax_t>> seen;  // (device, inode): hard links once
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (!e.is_regular_file() || ::stat(e.path().c_str(), &st) != 0) continue;
    if (e.path().string().find("rocksdb-working") != std::string::npos) continue;
    if (seen.insert({st.st_dev, st.st_ino}).second) costs.bytes += e.file_size();
  }
  std::filesystem::remove_all(dir);
  return costs;
}

void printCosts(const char* backend, const StateCosts& c) {
  std::printf("  %-8s batch %7.1f ms  incremental checkpoint %7.1f ms (%.1f%% of a 1 s batch)  "
              "full %7.1f ms  restart %7.1f ms  directory %6.1f MB\n",
              backend, c.batch * 1e3, c.incremental * 1e3, c.incremental * 100, c.full * 1e3,
              c.restart * 1e3, static_cast<double>(c.bytes) / 1e6);
}

double windowedRun(sluice::Context& sc, const std::vector<std::vector<KV>>& input,
                   const std::string& dir, const std::string& backend = "memory") {
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("sluice.streaming.stateBackend", backend);
  auto in = sluice::testing::detail::testInput(sc, ssc, input, 2);
  in.reduceByKeyAndWindow([](long long a, long long b) { return a + b; },
                          [](long long a, long long b) { return a - b; }, 30s, 1s, 2,
                          [](const KV& kv) { return kv.second != 0; })
      .foreachRDD([](const sluice::RDD<KV>& rdd) { rdd.count(); });
  if (!dir.empty()) ssc.checkpoint(dir);
  ssc.start();
  const auto start = Clock::now();
  for (int b = 1; b <= static_cast<int>(input.size()); ++b) runTo(ssc, *clock, b);
  ssc.core()->flushCheckpoints();  // the time includes writing every checkpoint
  const double seconds = secondsSince(start);
  ssc.stop(false);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const long long keys = argc > 1 ? std::stoll(argv[1]) : 1'000'000;
  const int batches = argc > 2 ? std::stoi(argv[2]) : 60;
  const auto dir = std::filesystem::temp_directory_path() / "sluice_checkpoint_bench";
  std::filesystem::remove_all(dir);
  sluice::Context sc("local[2]", "checkpointBench");
  sc.setLogLevel("WARN");

  const auto input = stateInput(keys, keys / 100, 3);
  const StateCosts memory = stateCosts(sc, input, dir, "memory");
  const StateCosts rocksdb = stateCosts(sc, input, dir, "rocksdb");

  std::vector<std::vector<KV>> words(static_cast<std::size_t>(batches));
  for (int b = 0; b < batches; ++b) {
    for (long long i = 0; i < 200'000; ++i)
      words[b].emplace_back(key((b * 31 + i * 7) % 50'000), 1);
  }
  // Best of 3, interleaved, as this machine's speed drifts between runs.
  double without = 1e9, with = 1e9, on_disk = 1e9;
  for (int run = 0; run < 3; ++run) {
    without = std::min(without, windowedRun(sc, words, ""));
    with = std::min(with, windowedRun(sc, words, dir.string()));
    std::filesystem::remove_all(dir);
    on_disk = std::min(on_disk, windowedRun(sc, words, dir.string(), "rocksdb"));
    std::filesystem::remove_all(dir);
  }
  std::filesystem::remove_all(dir);

  std::printf("state of %lld keys (mapWithState), 1%% changed, by state backend:\n", keys);
  printCosts("memory", memory);
  printCosts("rocksdb", rocksdb);
  std::printf("windowed count, %d batches of 200000 records, 30 s window:\n", batches);
  std::printf(
      "  without checkpoints %.3f s, with (metadata every batch, state every 10 s) %.3f s:"
      " %.2fx the rate\n",
      without, with, without / with);
  std::printf("  with the window's state in rocksdb (and checkpoints) %.3f s: %.2fx the rate\n",
              on_disk, without / on_disk);
  return 0;
}
