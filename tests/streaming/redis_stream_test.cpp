// RedisUtils::createDirectStream against a real redis-server started by the test: each batch
// takes the entries added before its batch time, one partition per stream key; the rate cap;
// exactly-once input across a restart from the checkpoint (a replayed batch reads the same ids);
// an unreachable server is a receiver error that skips nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <sluice/streaming.hpp>
#include <sluice/streaming/redis.hpp>
#include <string>
#include <vector>

#include "error_recorder.hpp"
#include "io/faulty_file_system.hpp"
#include "redis_server.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::RedisStreamEntry;
using sluice::stream_test::RedisServer;

class RedisStream : public ::testing::TestWithParam<std::string> {};

// Adds entries {n: value} with explicit ids "<ms>-1", so batches and replays are predictable.
void add(sluice::detail::RedisConnection& redis, const std::string& key, int from, int to) {
  for (int n = from; n <= to; ++n) {
    redis.command({"XADD", key, std::to_string(n) + "-1", "n", std::to_string(n)});
  }
}

// What each batch of a stream held: "key:n" sorted, and the number of partitions.
struct Collected {
  std::mutex mu;
  std::map<std::int64_t, std::vector<std::string>> batches;
  std::map<std::int64_t, std::size_t> partitions;

  void record(const sluice::RDD<RedisStreamEntry>& rdd, sluice::Time t) {
    std::vector<std::string> v;
    for (const auto& e : rdd.collect()) v.push_back(e.stream + ":" + *e.get("n"));
    std::sort(v.begin(), v.end());
    std::lock_guard lock(mu);
    batches[t.milliseconds()] = v;
    partitions[t.milliseconds()] = rdd.getNumPartitions();
  }
};

std::vector<std::string> names(const std::string& key, int from, int to) {
  std::vector<std::string> v;
  for (int n = from; n <= to; ++n) v.push_back(key + ":" + std::to_string(n));
  std::sort(v.begin(), v.end());
  return v;
}

// Both lists, sorted as Collected sorts a batch.
std::vector<std::string> both(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  return a;
}

// A context on a manual clock with 1 s batches whose one output collects each batch of a direct
// stream over `keys`.
struct CollectingJob {
  CollectingJob(const std::string& master, const RedisServer& server,
                const std::vector<std::string>& keys, bool earliest,
                const std::map<std::string, std::string>& settings = {})
      : sc(master, "redisStream"), clock(std::make_shared<sluice::ManualClock>()),
        ssc(sc, 1s, clock) {
    for (const auto& [key, value] : settings) ssc.conf().set(key, value);
    std::map<std::string, std::string> params{{"redis.address", server.address()}};
    if (earliest) params["auto.offset.reset"] = "earliest";
    sluice::RedisUtils::createDirectStream(ssc, keys, params)
        .foreachRDD([this](const sluice::RDD<RedisStreamEntry>& rdd, sluice::Time t) {
          collected.record(rdd, t);
        });
  }
  // Moves the clock to batch k's time; whether batch k then completed.
  bool runBatch(int k) {
    clock->setTime(k * 1000);
    return ssc.core()->waitForBatch(sluice::Time(k * 1000), 60s);
  }

  sluice::Context sc;
  std::shared_ptr<sluice::ManualClock> clock;
  Collected collected;
  sluice::StreamingContext ssc;
};

TEST_P(RedisStream, EachBatchTakesTheEntriesAddedBeforeItsTime) {
  RedisServer server;
  auto redis = server.connect();
  add(redis, "a", 1, 3);  // before start: not read with the default auto.offset.reset=latest
  CollectingJob job(GetParam(), server, {"a", "b"}, false);
  job.ssc.start();
  add(redis, "a", 4, 6);
  add(redis, "b", 1, 2);
  ASSERT_TRUE(job.runBatch(1));
  ASSERT_TRUE(job.runBatch(2));  // nothing new
  add(redis, "b", 3, 3);
  ASSERT_TRUE(job.runBatch(3));
  job.ssc.stop(false);
  EXPECT_EQ(job.collected.batches.at(1000), both(names("a", 4, 6), names("b", 1, 2)));
  EXPECT_EQ(job.collected.partitions.at(1000), 2u);  // one per key
  EXPECT_EQ(job.collected.batches.at(2000), std::vector<std::string>{});
  EXPECT_EQ(job.collected.batches.at(3000), names("b", 3, 3));
}

TEST_P(RedisStream, EarliestReadsTheWholeStreamAndTheRateCapsEachKey) {
  RedisServer server;
  auto redis = server.connect();
  add(redis, "a", 1, 7);
  add(redis, "b", 1, 2);
  CollectingJob job(GetParam(), server, {"a", "b"}, true,
                    {{"sluice.streaming.redis.maxRatePerPartition", "3"}});
  job.ssc.start();
  for (int k = 1; k <= 4; ++k) ASSERT_TRUE(job.runBatch(k));
  job.ssc.stop(false);
  EXPECT_EQ(job.collected.batches.at(1000), both(names("a", 1, 3), names("b", 1, 2)));
  EXPECT_EQ(job.collected.batches.at(2000), names("a", 4, 6));
  EXPECT_EQ(job.collected.batches.at(3000), names("a", 7, 7));
  EXPECT_EQ(job.collected.batches.at(4000), std::vector<std::string>{});
}

// Batches larger than a page (10000 entries a round trip) are read in pages, and the cap can end
// a batch within a page.
TEST_P(RedisStream, LargeBatchesAreReadInPages) {
  RedisServer server;
  auto redis = server.connect();
  // 25000 entries n = 1..25000 with ids "<n>-1", added by one server-side script.
  redis.command({"EVAL",
                 "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], i .. '-1', 'n', i) "
                 "end return 0",
                 "1", "a", "25000"});
  sluice::Context sc(GetParam(), "redisPages");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("sluice.streaming.redis.maxRatePerPartition", "12000");
  std::mutex mu;
  std::map<std::int64_t, std::vector<long long>> batches;  // each batch's n, in order
  sluice::RedisUtils::createDirectStream(
      ssc, {"a"}, {{"redis.address", server.address()}, {"auto.offset.reset", "earliest"}})
      .map([](const RedisStreamEntry& e) { return std::stoll(*e.get("n")); })
      .foreachRDD([&](const sluice::RDD<long long>& rdd, sluice::Time t) {
        auto v = rdd.collect();
        std::lock_guard lock(mu);
        batches[t.milliseconds()] = v;
      });
  ssc.start();
  for (int k = 1; k <= 3; ++k) {
    clock->advance(1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(k * 1000), 60s));
  }
  ssc.stop(false);
  auto from_to = [](long long from, long long to) {
    std::vector<long long> v;
    for (long long n = from; n <= to; ++n) v.push_back(n);
    return v;
  };
  std::lock_guard lock(mu);
  EXPECT_EQ(batches.at(1000), from_to(1, 12000));
  EXPECT_EQ(batches.at(2000), from_to(12001, 24000));
  EXPECT_EQ(batches.at(3000), from_to(24001, 25000));
}

// Backpressure's rate is shared equally among the keys, from initialRate on; on the manual clock
// batches take no time, so the estimator keeps the rate where it is.
TEST_P(RedisStream, BackpressureSharesItsRateAmongTheKeys) {
  RedisServer server;
  auto redis = server.connect();
  add(redis, "a", 1, 5);
  add(redis, "b", 1, 5);
  CollectingJob job(GetParam(), server, {"a", "b"}, true,
                    {{"spark.streaming.backpressure.enabled", "true"},
                     {"spark.streaming.backpressure.initialRate", "4"}});
  job.ssc.start();
  for (int k = 1; k <= 3; ++k) ASSERT_TRUE(job.runBatch(k));
  job.ssc.stop(false);
  for (int k = 1; k <= 3; ++k) {
    const int last = std::min(2 * k, 5);
    EXPECT_EQ(job.collected.batches.at(k * 1000),
              both(names("a", 2 * k - 1, last), names("b", 2 * k - 1, last)))
        << "batch " << k;
  }
}

// A running count per key, stopped without a graceful stop after batch 5 and resumed from the
// checkpoint: the state's data checkpoint is of batch 3, so the restart recomputes batches 4
// and 5 by reading their id ranges again, then goes on after batch 5's position. Every entry is
// counted once.
TEST_P(RedisStream, ARestartFromTheCheckpointCountsEveryEntryOnce) {
  RedisServer server;
  auto redis = server.connect();
  sluice::testing_util::TempDir dir("sluice_redis_ckpt");
  const std::string checkpoint = dir.path().string();
  std::mutex mu;
  std::map<std::int64_t, std::map<std::string, long long>> counts;
  auto run = [&](int first, int last, std::int64_t start_ms) {
    sluice::Context sc(GetParam(), "redisRestart");
    auto clock = std::make_shared<sluice::ManualClock>(start_ms);
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, 1s, clock);
      sluice::RedisUtils::createDirectStream(
          *s, {"a", "b"}, {{"redis.address", server.address()}, {"auto.offset.reset", "earliest"}})
          .uid("redis")
          .map([](const RedisStreamEntry& e) { return std::make_pair(e.stream, 1LL); })
          .updateStateByKey([](const std::vector<long long>& ones, std::optional<long long> n) {
            return std::optional<long long>(n.value_or(0) + static_cast<long long>(ones.size()));
          })
          .uid("counts")
          .checkpoint(3s)
          .foreachRDD([&](const sluice::RDD<std::pair<std::string, long long>>& rdd,
                          sluice::Time t) {
            auto v = rdd.collect();
            std::lock_guard lock(mu);
            counts[t.milliseconds()] = {v.begin(), v.end()};
          });
      s->checkpoint(checkpoint);
      return s;
    });
    ssc->start();
    for (int k = first; k <= last; ++k) {
      add(redis, "a", 10 * k + 1, 10 * k + k);  // k entries
      add(redis, "b", 10 * k + 1, 10 * k + 1);  // 1 entry
      clock->setTime(k * 1000);
      ASSERT_TRUE(ssc->core()->waitForBatch(sluice::Time(k * 1000), 60s));
    }
    ssc->core()->flushCheckpoints();
    ssc->stop(true, false);
  };
  run(1, 5, 0);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(counts.at(5000), (std::map<std::string, long long>{{"a", 15}, {"b", 5}}));
  }
  run(6, 7, 5000);
  std::lock_guard lock(mu);
  EXPECT_EQ(counts.at(6000), (std::map<std::string, long long>{{"a", 21}, {"b", 6}}));
  EXPECT_EQ(counts.at(7000), (std::map<std::string, long long>{{"a", 28}, {"b", 7}}));
}

// Batches whose outputs ran but whose checkpoints were never written (a crash in between) run
// again after the restart with the entries they had: their allocations were logged before they
// ran, although more entries arrived since. Batch 3 took nothing and is not logged: it takes
// nothing again (reading from the position, it would take batch 4's entries, which batch 4 then
// takes as well: a kill harness run found those duplicates). Reading from the position instead
// of the log, batch 4 would also have taken entry 6.
TEST_P(RedisStream, ABatchRunAgainAfterACrashHoldsTheSameEntries) {
  RedisServer server;
  auto redis = server.connect();
  sluice::testing_util::TempDir dir("sluice_redis_rerun");
  const std::string checkpoint = dir.path().string();
  Collected collected;
  auto run = [&](const std::function<void(sluice::StreamingContext&, sluice::ManualClock&,
                                          sluice::testing_io::FaultyFileSystem&)>& steps,
                 std::int64_t start_ms) {
    sluice::Context sc(GetParam(), "redisRerun");
    auto clock = std::make_shared<sluice::ManualClock>(start_ms);
    auto fs = std::make_shared<sluice::testing_io::FaultyFileSystem>();
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, 1s, clock);
      s->core()->setFileSystem(fs);
      sluice::RedisUtils::createDirectStream(
          *s, {"a"}, {{"redis.address", server.address()}, {"auto.offset.reset", "earliest"}})
          .uid("redis")
          .foreachRDD([&](const sluice::RDD<RedisStreamEntry>& rdd, sluice::Time t) {
            collected.record(rdd, t);
          });
      s->checkpoint(checkpoint);
      return s;
    });
    ssc->start();
    steps(*ssc, *clock, *fs);
    try {
      ssc->awaitTerminationOrTimeout(sluice::Duration(0));
    } catch (const sluice::Error&) {  // the checkpoint write that was made to fail
    }
    ssc->stop(true, false);
  };
  auto batch = [&](sluice::StreamingContext& ssc, sluice::ManualClock& clock, int k) {
    clock.setTime(k * 1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(k * 1000), 60s));
    ssc.core()->flushCheckpoints();
  };
  run(
      [&](sluice::StreamingContext& ssc, sluice::ManualClock& clock,
          sluice::testing_io::FaultyFileSystem& fs) {
        add(redis, "a", 1, 2);
        batch(ssc, clock, 1);
        // Batches 2 to 4 run their outputs, then their checkpoints fail: the last one stays
        // batch 1's.
        fs.setFault(sluice::testing_io::FaultyFileSystem::Fault::kAppend, "checkpoint-");
        add(redis, "a", 3, 3);
        batch(ssc, clock, 2);
        batch(ssc, clock, 3);
        add(redis, "a", 4, 5);
        batch(ssc, clock, 4);
      },
      0);
  EXPECT_EQ(collected.batches.at(2000), names("a", 3, 3));
  EXPECT_EQ(collected.batches.at(3000), std::vector<std::string>{});
  EXPECT_EQ(collected.batches.at(4000), names("a", 4, 5));
  add(redis, "a", 6, 6);
  collected.batches.clear();
  run(
      [&](sluice::StreamingContext& ssc, sluice::ManualClock& clock,
          sluice::testing_io::FaultyFileSystem&) {
        ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(4000), 60s));
        batch(ssc, clock, 5);
      },
      4000);
  EXPECT_EQ(collected.batches.at(2000), names("a", 3, 3)) << "batch 2 run again";
  EXPECT_EQ(collected.batches.at(3000), std::vector<std::string>{}) << "batch 3 run again";
  EXPECT_EQ(collected.batches.at(4000), names("a", 4, 5)) << "batch 4 run again";
  EXPECT_EQ(collected.batches.at(5000), names("a", 6, 6));
}

TEST_P(RedisStream, AnUnreachableServerIsAReceiverErrorAndSkipsNothing) {
  RedisServer server;
  CollectingJob job(GetParam(), server, {"a"}, true);
  auto errors = std::make_shared<sluice::stream_test::ErrorRecorder>();
  job.ssc.addStreamingListener(errors);
  job.ssc.start();
  {
    auto redis = server.connect();
    add(redis, "a", 1, 2);
  }
  ASSERT_TRUE(job.runBatch(1));
  {
    auto redis = server.connect();
    add(redis, "a", 3, 5);
  }
  server.stop();
  ASSERT_TRUE(job.runBatch(2));
  ASSERT_TRUE(errors->waitErrors(1));
  server.start();
  ASSERT_TRUE(job.runBatch(3));
  job.ssc.stop(false);
  EXPECT_EQ(job.collected.batches.at(1000), names("a", 1, 2));
  EXPECT_EQ(job.collected.batches.at(2000), std::vector<std::string>{});
  EXPECT_EQ(job.collected.batches.at(3000), names("a", 3, 5));
  EXPECT_NE(errors->errors().at(0).find("Redis at " + server.address()), std::string::npos)
      << errors->errors().at(0);
  EXPECT_TRUE(errors->waitStarted(1)) << "the error is cleared once reading works again";
}

TEST_P(RedisStream, AKeyThatIsNotAStreamIsAnErrorTheOtherKeysAreRead) {
  RedisServer server;
  auto redis = server.connect();
  redis.command({"SET", "plain", "value"});
  CollectingJob job(GetParam(), server, {"plain", "a"}, true);
  auto errors = std::make_shared<sluice::stream_test::ErrorRecorder>();
  job.ssc.addStreamingListener(errors);
  job.ssc.start();
  add(redis, "a", 1, 2);
  ASSERT_TRUE(job.runBatch(1));
  ASSERT_TRUE(errors->waitErrors(1));
  job.ssc.stop(false);
  EXPECT_EQ(job.collected.batches.at(1000), names("a", 1, 2));
  EXPECT_NE(errors->errors().at(0).find("WRONGTYPE"), std::string::npos) << errors->errors().at(0);
}

INSTANTIATE_TEST_SUITE_P(Masters, RedisStream,
                         ::testing::Values("local[1]", "local[2]", "local[4]"));

TEST(RedisStreamSettings, BadSettingsAreRefusedWithTheirName) {
  sluice::Context sc("local[1]", "redisSettings");
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  auto refused = [&](std::vector<std::string> streams, std::map<std::string, std::string> params,
                     const std::string& expected) {
    try {
      sluice::RedisUtils::createDirectStream(ssc, streams, params);
      ADD_FAILURE() << "accepted: " << expected;
    } catch (const sluice::InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  refused({"a"}, {}, "redis.address is required");
  refused({"a"}, {{"redis.address", "localhost"}}, "is not host:port");
  refused({"a"}, {{"redis.address", "localhost:99999"}}, "is not host:port");
  refused({"a"}, {{"redis.address", "h:1"}, {"auto.offset.reset", "newest"}}, "auto.offset.reset");
  refused({"a"}, {{"redis.address", "h:1"}, {"redis.timeout.ms", "5s"}}, "redis.timeout.ms");
  refused({"a"}, {{"redis.address", "h:1"}, {"group.id", "g"}}, "Unknown Redis stream setting");
  refused({}, {{"redis.address", "h:1"}}, "no Redis stream");
  refused({"a", "a"}, {{"redis.address", "h:1"}}, "given twice");
  EXPECT_THROW(ssc.conf().set("sluice.streaming.redis.maxRatePerPartition", "ten"),
               sluice::InvalidArgumentError);
}

}  // namespace
