// The receiver write-ahead log (spark.streaming.receiver.writeAheadLog.enable): blocks a receiver
// stored survive a context that is dropped without a graceful stop, and a restart replays each
// one exactly once, into the batch it had been given to when that batch is regenerated, else
// into the first batch after the restart. Without the log such records are lost, and counted.
// (A real process killed with SIGKILL: tests/recovery/receiver_kill_harness.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sluice/streaming.hpp>

#include "checkpoint/checkpoint_file.hpp"
#include "stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::Collected;
using sluice::stream_test::TempDir;

using PushReceiver = sluice::stream_test::PushReceiver<std::string>;

class StopListener final : public sluice::StreamingListener {
 public:
  void onReceiverStopped(const sluice::ReceiverInfo& info) override { lost += info.records_lost; }
  std::atomic<long long> lost{0};
};

// One run of a job that collects every batch of a pushed receiver, resumed from `dir`.
struct WalJob {
  std::shared_ptr<sluice::ManualClock> clock;
  std::shared_ptr<PushReceiver> receiver;
  std::shared_ptr<StopListener> listener = std::make_shared<StopListener>();
  std::unique_ptr<StreamingContext> ssc;

  WalJob(sluice::Context& sc, const std::string& dir, std::int64_t start_ms,
         const std::shared_ptr<Collected<std::string>>& collected, bool wal = true,
         const std::vector<std::pair<std::string, std::string>>& settings = {})
      : clock(std::make_shared<sluice::ManualClock>(start_ms)) {
    ssc = StreamingContext::getOrCreate(dir, [&] {
      auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
      s->conf().set("spark.streaming.receiver.writeAheadLog.enable", wal ? "true" : "false");
      for (const auto& [key, value] : settings) s->conf().set(key, value);
      receiver = std::make_shared<PushReceiver>();
      s->receiverStream<std::string>(receiver).uid("in").foreachRDD(
          [collected](const sluice::RDD<std::string>& rdd, Time t) {
            auto v = rdd.collect();
            std::sort(v.begin(), v.end());
            collected->add(t, std::move(v));
          });
      s->checkpoint(dir);
      return s;
    });
    ssc->addStreamingListener(listener);
    ssc->start();
  }
  void runTo(int batch) {
    clock->setTime(batch * 1000LL);
    ASSERT_TRUE(ssc->core()->waitForBatch(Time(batch * 1000LL), 60s));
    ssc->core()->rethrowError();
  }
  // As a crash would leave it, except that the process lives on: no graceful stop.
  void drop() { ssc->stop(false, false); }
};

using Batch = std::vector<std::string>;
using ByBatch = std::map<std::int64_t, Batch>;

class ReceiverWal : public ::testing::TestWithParam<std::string> {};
SLUICE_ALL_MASTERS(ReceiverWal);

TEST_P(ReceiverWal, BlocksNoBatchTookAreReplayedIntoTheFirstBatchAfterARestart) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  auto collected = std::make_shared<Collected<std::string>>();
  {
    WalJob job(sc, dir.path().string(), 0, collected);
    job.receiver->store(Batch{"a", "b"});
    job.runTo(1);
    job.receiver->store(Batch{"c"});
    job.receiver->store(Batch{"d", "e"});
    job.drop();
    EXPECT_EQ(job.listener->lost, 0) << "the log keeps them";
  }
  WalJob job(sc, dir.path().string(), 1000, collected);
  job.runTo(2);
  job.receiver->store(Batch{"f"});
  job.runTo(3);
  job.drop();
  EXPECT_EQ(collected->by_batch,
            (ByBatch{{1000, {"a", "b"}}, {2000, {"c", "d", "e"}}, {3000, {"f"}}}));
}

TEST_P(ReceiverWal, WithoutTheLogTheyAreLostAndCounted) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  auto collected = std::make_shared<Collected<std::string>>();
  {
    WalJob job(sc, dir.path().string(), 0, collected, false);
    job.receiver->store(Batch{"a", "b"});
    job.runTo(1);
    job.receiver->store(Batch{"c"});
    job.receiver->store(Batch{"d", "e"});
    job.drop();
    EXPECT_EQ(job.listener->lost, 3);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "receivedData"));
  WalJob job(sc, dir.path().string(), 1000, collected, false);
  job.runTo(2);
  job.drop();
  EXPECT_EQ(collected->by_batch, (ByBatch{{1000, {"a", "b"}}, {2000, {}}}));
}

TEST_P(ReceiverWal, ARegeneratedBatchGetsExactlyTheBlocksItHadBeenGiven) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  auto collected = std::make_shared<Collected<std::string>>();
  {
    WalJob job(sc, dir.path().string(), 0, collected);
    job.receiver->store(Batch{"a"});
    job.runTo(1);
    job.receiver->store(Batch{"b"});
    job.runTo(2);
    job.receiver->store(Batch{"c"});
    job.drop();
  }
  // As if the process had died after running batch 2 but before its checkpoint was written:
  // the restart regenerates batch 2, which must get {b} again, not {b, c}.
  std::filesystem::remove(sluice::detail::checkpointPath(dir.path().string(), 2000));
  auto rerun = std::make_shared<Collected<std::string>>();
  WalJob job(sc, dir.path().string(), 1000, rerun);
  job.runTo(2);
  job.receiver->store(Batch{"d"});
  job.runTo(3);
  job.drop();
  EXPECT_EQ(rerun->by_batch, (ByBatch{{2000, {"b"}}, {3000, {"c", "d"}}}));
}

TEST_P(ReceiverWal, AGracefulStopLeavesNothingToReplay) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  auto collected = std::make_shared<Collected<std::string>>();
  {
    WalJob job(sc, dir.path().string(), 0, collected);
    job.receiver->store(Batch{"a"});
    job.runTo(1);
    job.receiver->store(Batch{"b"});
    job.ssc->stop(false, true);  // batch 2 drains {b} without waiting for the clock
  }
  WalJob job(sc, dir.path().string(), 2000, collected);
  job.receiver->store(Batch{"c"});
  job.runTo(3);
  job.drop();
  EXPECT_EQ(collected->by_batch, (ByBatch{{1000, {"a"}}, {2000, {"b"}}, {3000, {"c"}}}));
}

TEST_P(ReceiverWal, AFreshStartDoesNotReplayALogNoCheckpointAccountsFor) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  auto collected = std::make_shared<Collected<std::string>>();
  {
    WalJob job(sc, dir.path().string(), 0, collected);
    job.receiver->store(Batch{"a"});
    job.runTo(1);
    job.receiver->store(Batch{"b"});
    job.drop();
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().starts_with("checkpoint-")) std::filesystem::remove(e);
  }
  // Which of the logged blocks batch 1 took is unknown without its checkpoint: replaying them
  // could count "a" twice, so the new run starts from an empty log.
  auto fresh = std::make_shared<Collected<std::string>>();
  WalJob job(sc, dir.path().string(), 0, fresh);
  job.receiver->store(Batch{"c"});
  job.runTo(1);
  job.drop();
  EXPECT_EQ(fresh->by_batch, (ByBatch{{1000, {"c"}}}));
}

TEST_P(ReceiverWal, TheLogIsCleanedBehindTheCheckpointsKept) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  auto collected = std::make_shared<Collected<std::string>>();
  const std::vector<std::pair<std::string, std::string>> settings{
      {"spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "1"},
      {"sluice.checkpoint.retained", "2"}};
  const auto log_dir = dir.path() / "receivedData" / "in";
  auto segments = [&] {
    return std::distance(std::filesystem::directory_iterator(log_dir),
                         std::filesystem::directory_iterator());
  };
  ByBatch expected;
  {
    WalJob job(sc, dir.path().string(), 0, collected, true, settings);
    for (int k = 1; k <= 20; ++k) {
      // A block each second, so a segment each second.
      job.receiver->store(Batch{std::to_string(k)});
      expected[k * 1000] = {std::to_string(k)};
      job.runTo(k);
    }
    job.receiver->store(Batch{"last"});
    job.drop();
  }
  // Of 21 segments, only those of the batches a restart from the last two checkpoints may
  // recompute or replay (a few remembered batches each) remain.
  EXPECT_LE(segments(), 7);
  EXPECT_GE(segments(), 1);
  WalJob job(sc, dir.path().string(), 20000, collected, true, settings);
  job.runTo(21);
  job.drop();
  expected[21000] = {"last"};
  EXPECT_EQ(collected->by_batch, expected);
}

// The state is saved every 5 batches; a restart after batch 7 recomputes batches 6 and 7 from
// their logged blocks, which completed batches had taken long before the crash.
TEST_P(ReceiverWal, StateRecomputedSinceItsLastSaveReadsTheLoggedBlocksOfCompletedBatches) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  using KV = std::pair<std::string, int>;
  auto totals = std::make_shared<Collected<KV>>();
  auto run = [&](std::int64_t start_ms, int first, int last) {
    auto clock = std::make_shared<sluice::ManualClock>(start_ms);
    std::shared_ptr<PushReceiver> receiver;
    auto ssc = StreamingContext::getOrCreate(dir.path().string(), [&] {
      auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
      s->conf().set("spark.streaming.receiver.writeAheadLog.enable", "true");
      receiver = std::make_shared<PushReceiver>();
      auto counts = s->receiverStream<std::string>(receiver)
                        .uid("in")
                        .map([](std::string w) { return KV(std::move(w), 1); })
                        .updateStateByKey([](const std::vector<int>& vs,
                                             std::optional<int> state) -> std::optional<int> {
                          int sum = state.value_or(0);
                          for (int v : vs) sum += v;
                          return sum;
                        });
      counts.uid("counts").checkpoint(5s);
      counts.foreachRDD([totals](const sluice::RDD<KV>& rdd, Time t) {
        auto v = rdd.collect();
        std::sort(v.begin(), v.end());
        totals->add(t, std::move(v));
      });
      s->checkpoint(dir.path().string());
      return s;
    });
    ssc->start();
    for (int k = first; k <= last; ++k) {
      receiver->store(Batch{"w"});
      clock->setTime(k * 1000LL);
      ASSERT_TRUE(ssc->core()->waitForBatch(Time(k * 1000LL), 60s));
      ssc->core()->rethrowError();
    }
    ssc->stop(false, false);
  };
  run(0, 1, 7);
  run(7000, 8, 9);
  EXPECT_EQ(totals->batch(7000), (std::vector<KV>{{"w", 7}}));
  EXPECT_EQ(totals->batch(9000), (std::vector<KV>{{"w", 9}}));
}

TEST_P(ReceiverWal, NeedsACheckpointDirectory) {
  sluice::Context sc(GetParam(), "wal");
  StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  ssc.conf().set("spark.streaming.receiver.writeAheadLog.enable", "true");
  ssc.receiverStream<std::string>(std::make_shared<PushReceiver>()).foreachRDD([](auto&&) {});
  try {
    ssc.start();
    FAIL() << "started without a checkpoint directory";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint directory"), std::string::npos) << e.what();
  }
}

struct Opaque {
  int x = 0;
};

class OpaqueReceiver final : public sluice::Receiver<Opaque> {
 public:
  void onStart() override {}
  void onStop() override {}
};

TEST_P(ReceiverWal, RecordsThatCannotBeSerializedAreRefusedAtStart) {
  TempDir dir("sluice_wal");
  sluice::Context sc(GetParam(), "wal");
  StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  ssc.conf().set("spark.streaming.receiver.writeAheadLog.enable", "true");
  ssc.checkpoint(dir.path().string());
  ssc.receiverStream<Opaque>(std::make_shared<OpaqueReceiver>()).foreachRDD([](auto&&) {});
  try {
    ssc.start();
    FAIL() << "started with records the log cannot hold";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_NE(std::string(e.what()).find("serialize"), std::string::npos) << e.what();
  }
}

TEST(ReceiverWalConf, RejectsABadRollingInterval) {
  sluice::StreamingConf conf;
  EXPECT_THROW(conf.set("spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "0"),
               sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "5s"),
               sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("sluice.streaming.receiver.writeAheadLog.fsync", "yes"),
               sluice::InvalidArgumentError);
  conf.set("spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "5");
  EXPECT_EQ(conf.receiver_wal_rolling_interval, sluice::Duration(5000));
}

}  // namespace
