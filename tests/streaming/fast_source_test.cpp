// A source faster than the job: a receiver keeps storing records while the first batch is held
// up, so the following batches queue behind it. Every stateful operation (updateStateByKey,
// mapWithState, the incremental reduceByKeyAndWindow) must then agree exactly with the records
// each batch was given, with both state backends; and with the receiver write-ahead log, a context
// dropped with batches still queued resumes without losing or counting twice a stored record.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <sluice/streaming.hpp>

#include "stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::RDD;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::StateParam;
using sluice::stream_test::TempDir;
using KV = std::pair<std::string, int>;
using Counts = std::map<std::string, int>;

using PushReceiver = sluice::stream_test::PushReceiver<std::string>;

// Closed until open(); wait() blocks while closed.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Each output's counts by batch; a regenerated batch replaces what its first run wrote.
class Outputs {
 public:
  void set(const std::string& name, Time t, const std::vector<KV>& kvs) {
    Counts counts;
    for (const auto& [k, v] : kvs) counts[k] += v;
    std::lock_guard lock(mu_);
    by_name_[name][t.milliseconds()] = std::move(counts);
  }
  std::map<std::int64_t, Counts> of(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(name);
    return it == by_name_.end() ? std::map<std::int64_t, Counts>{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::int64_t, Counts>> by_name_;
};

constexpr int kWindowBatches = 3;

// The job: the raw records of each batch counted by key (held up at `hold_at` until the gate
// opens), a running count by updateStateByKey and by mapWithState, and a 3 s window.
struct Job {
  std::shared_ptr<sluice::ManualClock> clock;
  std::shared_ptr<PushReceiver> receiver;
  std::unique_ptr<StreamingContext> ssc;

  Job(sluice::Context& sc, const StateParam& param, const std::string& dir, std::int64_t start_ms,
      const std::shared_ptr<Outputs>& out, const std::shared_ptr<Gate>& gate, std::int64_t hold_at)
      : clock(std::make_shared<sluice::ManualClock>(start_ms)) {
    ssc = StreamingContext::getOrCreate(dir, [&] {
      auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
      param.apply(*s);
      s->conf().set("spark.streaming.receiver.writeAheadLog.enable", "true");
      receiver = std::make_shared<PushReceiver>();
      auto pairs = s->receiverStream<std::string>(receiver).uid("in").map(
          [](std::string w) { return KV(std::move(w), 1); });
      pairs.foreachRDD([out, gate, hold_at](const RDD<KV>& rdd, Time t) {
        if (t.milliseconds() == hold_at) gate->wait();
        out->set("raw", t, rdd.collect());
      });
      pairs
          .updateStateByKey([](const std::vector<int>& ones, std::optional<int> n) {
            return std::optional<int>(n.value_or(0) + static_cast<int>(ones.size()));
          })
          .uid("update")
          .foreachRDD([out](const RDD<KV>& rdd, Time t) { out->set("update", t, rdd.collect()); });
      auto spec = sluice::stateSpecFunction<std::string, int, int>(
          [](const std::string& w, std::optional<int> one, sluice::State<int>& state) {
            state.update(state.getOption().value_or(0) + one.value_or(0));
            return KV(w, 0);
          });
      auto mapped = pairs.mapWithState(spec);
      mapped.uid("mapped");
      mapped.stateSnapshots().foreachRDD(
          [out](const RDD<KV>& rdd, Time t) { out->set("mapped", t, rdd.collect()); });
      pairs
          .reduceByKeyAndWindow([](int a, int b) { return a + b; },
                                [](int a, int b) { return a - b; }, kWindowBatches * 1s, 1s, 2,
                                [](const KV& kv) { return kv.second != 0; })
          .uid("window")
          .foreachRDD([out](const RDD<KV>& rdd, Time t) { out->set("window", t, rdd.collect()); });
      s->checkpoint(dir);
      return s;
    });
    ssc->start();
  }
  void waitFor(int batch) {
    ASSERT_TRUE(ssc->core()->waitForBatch(Time(batch * 1000LL), 60s)) << "batch " << batch;
  }
};

// Batch k's block: k records spread over a few keys.
std::vector<std::string> block(int k) {
  std::vector<std::string> words;
  for (int i = 0; i < k; ++i) words.push_back("k" + std::to_string((k + i) % 5));
  return words;
}

// Every stateful output of batches 1..last agrees with the raw records of the batches.
void expectConsistent(const Outputs& out, int last, const Counts& pushed) {
  const auto raw = out.of("raw");
  const auto update = out.of("update");
  const auto mapped = out.of("mapped");
  const auto window = out.of("window");
  Counts running;
  for (int k = 1; k <= last; ++k) {
    const std::int64_t t = k * 1000LL;
    ASSERT_TRUE(raw.contains(t)) << "batch " << t << " has no output";
    for (const auto& [key, n] : raw.at(t)) running[key] += n;
    EXPECT_EQ(update.at(t), running) << "updateStateByKey at " << t;
    EXPECT_EQ(mapped.at(t), running) << "mapWithState at " << t;
    Counts windowed;
    for (int j = std::max(1, k - kWindowBatches + 1); j <= k; ++j) {
      for (const auto& [key, n] : raw.at(j * 1000LL)) windowed[key] += n;
    }
    EXPECT_EQ(window.at(t), windowed) << "window at " << t;
  }
  EXPECT_EQ(running, pushed) << "every stored record counted once";
}

class FastSource : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Backends, FastSource,
                         ::testing::Values("local[2]", "local[4]", "local[2]/rocksdb",
                                           "local[4]/rocksdb"),
                         ::sluice::testing_util::masterName);

constexpr int kInputBatches = 12;
constexpr int kLastBatch = kInputBatches + kWindowBatches;

TEST_P(FastSource, BatchesQueuedBehindASlowOneLoseAndDoubleNothing) {
  const StateParam param(GetParam());
  TempDir dir("sluice_fast");
  sluice::Context sc(param.master, "fastSource");
  auto out = std::make_shared<Outputs>();
  auto gate = std::make_shared<Gate>();
  Job job(sc, param, dir.path().string(), 0, out, gate, 1000);
  Counts pushed;
  for (int k = 1; k <= kInputBatches; ++k) {
    job.receiver->store(block(k));
    for (const auto& w : block(k)) ++pushed[w];
    job.clock->setTime(k * 1000LL);
  }
  gate->open();
  job.clock->setTime(kLastBatch * 1000LL);
  job.waitFor(kLastBatch);
  job.ssc->core()->rethrowError();
  job.ssc->stop(false, true);
  expectConsistent(*out, kLastBatch, pushed);
  EXPECT_TRUE(out->of("window").at(kLastBatch * 1000LL).empty()) << "the window drains";
}

TEST_P(FastSource, ADropWithBatchesQueuedResumesFromTheLog) {
  const StateParam param(GetParam());
  TempDir dir("sluice_fast");
  sluice::Context sc(param.master, "fastSource");
  auto out = std::make_shared<Outputs>();
  Counts pushed;
  {
    auto gate = std::make_shared<Gate>();
    Job job(sc, param, dir.path().string(), 0, out, gate, 2000);
    job.receiver->store(block(1));
    for (const auto& w : block(1)) ++pushed[w];
    job.clock->setTime(1000);
    job.waitFor(1);
    for (int k = 2; k <= kInputBatches; ++k) {
      job.receiver->store(block(k));
      for (const auto& w : block(k)) ++pushed[w];
      job.clock->setTime(k * 1000LL);
    }
    // Batch 2 is held and the rest queue behind it when the context goes without a graceful
    // stop: what the queued batches were given survives in the log.
    gate->open();
    job.ssc->stop(false, false);
  }
  auto gate = std::make_shared<Gate>();
  gate->open();
  Job job(sc, param, dir.path().string(), kInputBatches * 1000LL, out, gate, -1);
  job.clock->setTime(kLastBatch * 1000LL);
  job.waitFor(kLastBatch);
  job.ssc->core()->rethrowError();
  job.ssc->stop(false, true);
  expectConsistent(*out, kLastBatch, pushed);
}

}  // namespace
