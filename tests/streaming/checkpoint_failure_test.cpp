// Write failures of a running job (a full or failing disk, injected through the context's file
// layer): a checkpoint that cannot be written surfaces as the job's error, leaves the previous
// checkpoints intact, and once the disk recovers the job checkpoints again (in full, since the
// failed file may have held an incremental save) and a restart from it gives the uninterrupted
// answer. With the rocksdb state backend the database's own files go through the same file
// layer and fail the same way. A receiver block that cannot be logged is refused: store() throws,
// nothing is half stored.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sluice/streaming.hpp>
#include <sluice/testing.hpp>

#include "checkpoint/checkpoint_file.hpp"
#include "io/faulty_file_system.hpp"
#include "stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::Batches;
using sluice::stream_test::Collected;
using sluice::stream_test::StateParam;
using sluice::stream_test::TempDir;
using sluice::testing_io::FaultyFileSystem;
using KV = std::pair<std::string, int>;
using Fault = FaultyFileSystem::Fault;

class CheckpointFailure : public ::testing::TestWithParam<std::string> {};
SLUICE_ALL_MASTERS(CheckpointFailure);
class StateCheckpointFailure : public ::testing::TestWithParam<std::string> {};
SLUICE_STATE_BACKENDS(StateCheckpointFailure);

Batches<std::string> words() {
  return {{"a", "b"}, {"a"}, {"c"}, {"a", "c"}, {"b"}, {}, {"a"}, {"d", "a"}, {"b"}, {"c"}};
}

// A running count whose state is saved every batch (incremental saves), over `words()`.
struct CountJob {
  std::shared_ptr<sluice::ManualClock> clock;
  std::unique_ptr<StreamingContext> ssc;

  CountJob(sluice::Context& sc, const StateParam& param, const std::string& dir,
           std::int64_t start_ms, std::shared_ptr<FaultyFileSystem> fs,
           std::shared_ptr<Collected<KV>> out)
      : clock(std::make_shared<sluice::ManualClock>(start_ms)) {
    ssc = StreamingContext::getOrCreate(dir, [&] {
      auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
      param.apply(*s);
      s->core()->setFileSystem(fs);
      auto counts = sluice::testing::detail::testInput(sc, *s, words(), 2)
                        .map([](std::string w) { return KV(std::move(w), 1); })
                        .updateStateByKey([](const std::vector<int>& vs,
                                             std::optional<int> state) -> std::optional<int> {
                          int sum = state.value_or(0);
                          for (int v : vs) sum += v;
                          return sum;
                        });
      counts.checkpoint(1s);
      counts.foreachRDD([out](const sluice::RDD<KV>& rdd, Time t) {
        auto v = rdd.collect();
        std::sort(v.begin(), v.end());
        out->add(t, std::move(v));
      });
      s->checkpoint(dir);
      return s;
    });
    ssc->start();
  }
  // Runs batch k and waits for its checkpoint; returns the error the batch left, if any.
  std::optional<std::string> runTo(int k) {
    clock->setTime(k * 1000LL);
    if (!ssc->core()->waitForBatch(Time(k * 1000LL), 60s)) throw sluice::Error("batch timeout");
    ssc->core()->flushCheckpoints();
    try {
      ssc->core()->rethrowError();
    } catch (const std::exception& e) {
      return e.what();
    }
    return std::nullopt;
  }
};

// The outputs of batches 1-10 run without a fault or a restart.
std::shared_ptr<Collected<KV>> uninterrupted(sluice::Context& sc, const StateParam& param) {
  TempDir dir("sluice_ckpt_straight");
  auto out = std::make_shared<Collected<KV>>();
  CountJob job(sc, param, dir.path().string(), 0, std::make_shared<FaultyFileSystem>(), out);
  for (int k = 1; k <= 10; ++k) {
    if (auto error = job.runTo(k)) throw sluice::Error("uninterrupted run: " + *error);
  }
  job.ssc->stop(false);
  return out;
}

TEST_P(StateCheckpointFailure, AFailedCheckpointSurfacesKeepsThePreviousOneAndTheJobRecovers) {
  const StateParam param(GetParam());
  sluice::Context sc(param.master, "checkpointFailure");
  const auto expected = uninterrupted(sc, param);

  // Every file fails, or with the database only the database's own files (its working copy and
  // its saves): what RocksDB writes must go through the context's file layer to fail at all.
  std::vector<std::string> failing_parts = {""};
  if (param.backend == "rocksdb") failing_parts.emplace_back("/rocksdb");
  for (const std::string& failing : failing_parts) {
    for (Fault fault : {Fault::kAppend, Fault::kPartialAppend, Fault::kSync}) {
      SCOPED_TRACE(fmt::format("fault {} in files with '{}'", static_cast<int>(fault), failing));
      TempDir dir("sluice_ckpt_fail");
      auto fs = std::make_shared<FaultyFileSystem>();
      auto got = std::make_shared<Collected<KV>>();
      {
        CountJob job(sc, param, dir.path().string(), 0, fs, got);
        for (int k = 1; k <= 3; ++k) ASSERT_EQ(job.runTo(k), std::nullopt);
        fs->setFault(fault, failing);
        for (int k = 4; k <= 5; ++k) {
          auto error = job.runTo(k);
          ASSERT_TRUE(error.has_value()) << "batch " << k << "'s checkpoint failed silently";
          EXPECT_NE(error->find("injected"), std::string::npos) << *error;
        }
        // Nothing of the failed writes is visible; the newest checkpoint is still batch 3's.
        auto& local = *sluice::detail::FileSystem::local();
        const auto files = sluice::detail::listCheckpoints(local, dir.path().string());
        EXPECT_EQ(*std::max_element(files.begin(), files.end()), 3000);
        EXPECT_EQ(sluice::detail::loadLatestCheckpoint(local, dir.path().string())->back().time_ms,
                  3000);
        fs->setFault(Fault::kNone);
        for (int k = 6; k <= 7; ++k) ASSERT_EQ(job.runTo(k), std::nullopt);
        job.ssc->stop(false);
      }
      // The state saved after the failure must not lean on the saves that failed.
      CountJob job(sc, param, dir.path().string(), 7000, fs, got);
      for (int k = 8; k <= 10; ++k) ASSERT_EQ(job.runTo(k), std::nullopt);
      job.ssc->stop(false);
      EXPECT_EQ(got->by_batch, expected->by_batch);
    }
  }
}

// Checkpoints queue behind a slow write (the writer thread lags the batches); when that write
// fails, the files queued behind it may hold incremental saves that lean on it, so they are
// dropped, and the next checkpoint saves every stream in full.
TEST_P(CheckpointFailure, FilesQueuedBehindAFailedWriteAreDroppedAndTheNextOneIsFull) {
  sluice::Context sc(GetParam(), "checkpointQueue");
  const StateParam memory(GetParam());
  const auto expected = uninterrupted(sc, memory);

  TempDir dir("sluice_ckpt_queue");
  auto fs = std::make_shared<FaultyFileSystem>();
  auto got = std::make_shared<Collected<KV>>();
  auto& local = *sluice::detail::FileSystem::local();
  {
    CountJob job(sc, memory, dir.path().string(), 0, fs, got);
    for (int k = 1; k <= 3; ++k) ASSERT_EQ(job.runTo(k), std::nullopt);
    fs->holdSyncs();
    job.clock->setTime(4000);
    ASSERT_TRUE(job.ssc->core()->waitForBatch(Time(4000), 60s));
    fs->waitForHeldSync();  // batch 4's file is being written; 5's and 6's queue behind it
    for (int k = 5; k <= 6; ++k) {
      job.clock->setTime(k * 1000LL);
      ASSERT_TRUE(job.ssc->core()->waitForBatch(Time(k * 1000LL), 60s));
    }
    fs->setFault(Fault::kSync, "checkpoint-0000000004000");  // batch 4's file only
    fs->releaseSyncs();
    job.ssc->core()->flushCheckpoints();
    fs->setFault(Fault::kNone);
    EXPECT_EQ(sluice::detail::listCheckpoints(local, dir.path().string()),
              (std::vector<std::int64_t>{3000, 2000, 1000}));

    const auto error = job.runTo(7);
    ASSERT_TRUE(error.has_value()) << "the failed checkpoint was not reported";
    EXPECT_NE(error->find("injected"), std::string::npos) << *error;
    const auto chain = sluice::detail::loadLatestCheckpoint(local, dir.path().string());
    ASSERT_TRUE(chain.has_value());
    ASSERT_EQ(chain->size(), 1U) << "batch 7's checkpoint leans on an earlier one";
    EXPECT_EQ(chain->back().time_ms, 7000);
    job.ssc->stop(false);
  }
  CountJob job(sc, memory, dir.path().string(), 7000, fs, got);
  for (int k = 8; k <= 10; ++k) ASSERT_EQ(job.runTo(k), std::nullopt);
  job.ssc->stop(false);
  EXPECT_EQ(got->by_batch, expected->by_batch);
}

using PushReceiver = sluice::stream_test::PushReceiver<std::string>;

TEST_P(CheckpointFailure, ABlockThatCannotBeLoggedIsRefused) {
  sluice::Context sc(GetParam(), "walFailure");
  TempDir dir("sluice_wal_fail");
  auto fs = std::make_shared<FaultyFileSystem>();
  auto clock = std::make_shared<sluice::ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  ssc.core()->setFileSystem(fs);
  ssc.conf().set("spark.streaming.receiver.writeAheadLog.enable", "true");
  ssc.checkpoint(dir.path().string());
  auto receiver = std::make_shared<PushReceiver>();
  auto out = sluice::stream_test::collectEach(ssc.receiverStream<std::string>(receiver));
  ssc.start();
  receiver->store(std::vector<std::string>{"a"});
  fs->setFault(Fault::kPartialAppend);
  EXPECT_THROW(receiver->store(std::vector<std::string>{"lost?"}), sluice::IOError);
  fs->setFault(Fault::kNone);
  receiver->store(std::vector<std::string>{"b"});
  clock->setTime(1000);
  ASSERT_TRUE(ssc.core()->waitForBatch(Time(1000), 60s));
  ssc.stop(false);
  auto batch = out->batch(1000);
  std::sort(batch.begin(), batch.end());
  EXPECT_EQ(batch, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
