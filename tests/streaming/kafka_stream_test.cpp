// KafkaUtils::createDirectStream against librdkafka's mock cluster, hosted by kafka_mock_cluster
// (a process started by the test, stopped by closing its input): each batch takes the records
// produced before its batch time, one partition per Kafka partition; the rate cap; a restart
// from the checkpoint counts every record once.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <sluice/streaming.hpp>
#include <sluice/streaming/kafka.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_recorder.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using sluice::KafkaRecord;

// kafka_mock_cluster with one topic "events" of 2 partitions.
class MockCluster {
 public:
  MockCluster() {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> args{SLUICE_KAFKA_MOCK_CLUSTER, "1", "events:2"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    input_ = in[1];
    if (spawned != 0) throw std::runtime_error("cannot run kafka_mock_cluster");
    output_ = out[0];
    bootstrap_ = line();  // its first line: the bootstrap servers
    if (bootstrap_.empty()) throw std::runtime_error("kafka_mock_cluster printed nothing");
  }
  ~MockCluster() {
    ::close(input_);
    ::close(output_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  const std::string& bootstrap() const { return bootstrap_; }
  // "down" or "up": every broker; its answer.
  std::string command(const std::string& c) {
    const std::string text = c + "\n";
    if (::write(input_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      throw std::runtime_error("cannot write to kafka_mock_cluster");
    }
    return line();
  }

 private:
  std::string line() {
    std::string text;
    char c;
    while (::read(output_, &c, 1) == 1 && c != '\n') text.push_back(c);
    return text;
  }

  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;
  std::string bootstrap_;
};

// Produces "value" records (keys "k<value>") to a partition and waits until they are written.
class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof error);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (handle_ == nullptr) throw std::runtime_error(error);
  }
  ~Producer() { rd_kafka_destroy(handle_); }
  void produce(int partition, int from, int to) {
    for (int n = from; n <= to; ++n) {
      const std::string value = std::to_string(n);
      const std::string key = "k" + value;
      rd_kafka_producev(handle_, RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    }
    ASSERT_EQ(rd_kafka_flush(handle_, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* handle_ = nullptr;
};

// "partition:value" of each batch, sorted.
struct Collected {
  std::mutex mu;
  std::map<std::int64_t, std::vector<std::string>> batches;
  void record(const sluice::RDD<KafkaRecord>& rdd, sluice::Time t) {
    std::vector<std::string> v;
    for (const auto& r : rdd.collect()) v.push_back(std::to_string(r.partition) + ":" + r.value);
    std::sort(v.begin(), v.end());
    std::lock_guard lock(mu);
    batches[t.milliseconds()] = v;
  }
};

std::vector<std::string> values(int partition, int from, int to) {
  std::vector<std::string> v;
  for (int n = from; n <= to; ++n) v.push_back(std::to_string(partition) + ":" + std::to_string(n));
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> both(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  return a;
}

class KafkaStream : public ::testing::TestWithParam<std::string> {};

TEST_P(KafkaStream, EachBatchTakesTheRecordsProducedBeforeItsTimeUnderTheRateCap) {
  MockCluster cluster;
  Producer producer(cluster.bootstrap());
  producer.produce(0, 1, 3);  // before start: read only with auto.offset.reset=earliest
  sluice::Context sc(GetParam(), "kafkaBatches");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("spark.streaming.kafka.maxRatePerPartition", "4");
  Collected collected;
  sluice::KafkaUtils::createDirectStream(
      ssc, {"events"}, {{"bootstrap.servers", cluster.bootstrap()}, {"auto.offset.reset", "earliest"}})
      .foreachRDD([&](const sluice::RDD<KafkaRecord>& rdd, sluice::Time t) {
        collected.record(rdd, t);
      });
  ssc.start();
  producer.produce(0, 4, 6);
  producer.produce(1, 1, 2);
  for (int k = 1; k <= 3; ++k) {
    clock->setTime(k * 1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(k * 1000), 60s));
  }
  ssc.stop(false);
  EXPECT_EQ(collected.batches.at(1000), both(values(0, 1, 4), values(1, 1, 2)));
  EXPECT_EQ(collected.batches.at(2000), values(0, 5, 6));
  EXPECT_EQ(collected.batches.at(3000), std::vector<std::string>{});
}

// A running count per partition, stopped after batch 5 and resumed from the checkpoint, whose
// state was saved at batch 3: batches 4 and 5 are read again from their offset ranges. Every
// record counts once.
TEST_P(KafkaStream, ARestartFromTheCheckpointCountsEveryRecordOnce) {
  MockCluster cluster;
  Producer producer(cluster.bootstrap());
  sluice::testing_util::TempDir dir("sluice_kafka_ckpt");
  const std::string checkpoint = dir.path().string();
  std::mutex mu;
  std::map<std::int64_t, std::map<int, long long>> counts;
  auto run = [&](int first, int last, std::int64_t start_ms) {
    sluice::Context sc(GetParam(), "kafkaRestart");
    auto clock = std::make_shared<sluice::ManualClock>(start_ms);
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, 1s, clock);
      sluice::KafkaUtils::createDirectStream(
          *s, {"events"},
          {{"bootstrap.servers", cluster.bootstrap()}, {"auto.offset.reset", "earliest"}})
          .uid("kafka")
          .map([](const KafkaRecord& r) { return std::make_pair(r.partition, 1LL); })
          .updateStateByKey([](const std::vector<long long>& ones, std::optional<long long> n) {
            return std::optional<long long>(n.value_or(0) + static_cast<long long>(ones.size()));
          })
          .uid("counts")
          .checkpoint(3s)
          .foreachRDD([&](const sluice::RDD<std::pair<int, long long>>& rdd, sluice::Time t) {
            auto v = rdd.collect();
            std::lock_guard lock(mu);
            counts[t.milliseconds()] = {v.begin(), v.end()};
          });
      s->checkpoint(checkpoint);
      return s;
    });
    ssc->start();
    for (int k = first; k <= last; ++k) {
      producer.produce(0, 1, k);  // k records
      producer.produce(1, 1, 1);  // 1 record
      clock->setTime(k * 1000);
      ASSERT_TRUE(ssc->core()->waitForBatch(sluice::Time(k * 1000), 60s));
    }
    ssc->core()->flushCheckpoints();
    ssc->stop(true, false);
  };
  run(1, 5, 0);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(counts.at(5000), (std::map<int, long long>{{0, 15}, {1, 5}}));
  }
  run(6, 7, 5000);
  std::lock_guard lock(mu);
  EXPECT_EQ(counts.at(6000), (std::map<int, long long>{{0, 21}, {1, 6}}));
  EXPECT_EQ(counts.at(7000), (std::map<int, long long>{{0, 28}, {1, 7}}));
}

// The offsets the group `group` committed for events' partitions 0 and 1 (-1001 for none).
std::vector<std::int64_t> committed(const std::string& bootstrap, const std::string& group) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof error);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), error, sizeof error);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (consumer == nullptr) throw std::runtime_error(error);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(list, "events", 0);
  rd_kafka_topic_partition_list_add(list, "events", 1);
  const rd_kafka_resp_err_t err = rd_kafka_committed(consumer, list, 30000);
  std::vector<std::int64_t> offsets{list->elems[0].offset, list->elems[1].offset};
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(consumer);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(rd_kafka_err2str(err));
  return offsets;
}

// With sluice.kafka.commitOffsets, the group's offsets are those after the last completed batch
// once it completed; without it, the group holds nothing.
TEST_P(KafkaStream, CompletedBatchesCommitTheirOffsetsForTheGroup) {
  MockCluster cluster;
  Producer producer(cluster.bootstrap());
  producer.produce(0, 1, 3);
  producer.produce(1, 1, 2);
  sluice::Context sc(GetParam(), "kafkaCommit");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  std::map<std::string, std::string> params{{"bootstrap.servers", cluster.bootstrap()},
                                            {"auto.offset.reset", "earliest"}};
  auto with_commit = params;
  with_commit["group.id"] = "committing";
  with_commit["sluice.kafka.commitOffsets"] = "true";
  auto without_commit = params;
  without_commit["group.id"] = "silent";
  sluice::KafkaUtils::createDirectStream(ssc, {"events"}, with_commit).count().foreachRDD(
      [](const sluice::RDD<long long>&) {});
  sluice::KafkaUtils::createDirectStream(ssc, {"events"}, without_commit).count().foreachRDD(
      [](const sluice::RDD<long long>&) {});
  ssc.start();
  clock->setTime(1000);
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(1000), 60s));
  EXPECT_EQ(committed(cluster.bootstrap(), "committing"), (std::vector<std::int64_t>{3, 2}));
  producer.produce(0, 4, 5);
  clock->setTime(2000);
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(2000), 60s));
  EXPECT_EQ(committed(cluster.bootstrap(), "committing"), (std::vector<std::int64_t>{5, 2}));
  ssc.stop(false);
  EXPECT_EQ(committed(cluster.bootstrap(), "silent"),
            (std::vector<std::int64_t>{RD_KAFKA_OFFSET_INVALID, RD_KAFKA_OFFSET_INVALID}));
}

// Without auto.offset.reset a partition starts at its end when the stream starts.
TEST_P(KafkaStream, LatestStartsAfterTheRecordsAlreadyThere) {
  MockCluster cluster;
  Producer producer(cluster.bootstrap());
  producer.produce(0, 1, 3);
  sluice::Context sc(GetParam(), "kafkaLatest");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  Collected collected;
  sluice::KafkaUtils::createDirectStream(ssc, {"events"}, {{"bootstrap.servers", cluster.bootstrap()}})
      .foreachRDD([&](const sluice::RDD<KafkaRecord>& rdd, sluice::Time t) {
        collected.record(rdd, t);
      });
  ssc.start();
  producer.produce(0, 4, 5);
  clock->setTime(1000);
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(1000), 60s));
  ssc.stop(false);
  EXPECT_EQ(collected.batches.at(1000), values(0, 4, 5));
}

// The brokers go down after batch 1: batch 2 takes nothing and reports a receiver error; once
// they are back, the first batch that reaches them takes what batch 2 could not read.
TEST_P(KafkaStream, AnUnreachableClusterIsAReceiverErrorAndSkipsNothing) {
  MockCluster cluster;
  Producer producer(cluster.bootstrap());
  sluice::Context sc(GetParam(), "kafkaDown");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  auto errors = std::make_shared<sluice::stream_test::ErrorRecorder>();
  ssc.addStreamingListener(errors);
  Collected collected;
  sluice::KafkaUtils::createDirectStream(ssc, {"events"},
                                         {{"bootstrap.servers", cluster.bootstrap()},
                                          {"auto.offset.reset", "earliest"},
                                          {"socket.timeout.ms", "1000"}})
      .foreachRDD([&](const sluice::RDD<KafkaRecord>& rdd, sluice::Time t) {
        collected.record(rdd, t);
      });
  ssc.start();
  producer.produce(0, 1, 2);
  clock->setTime(1000);
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(1000), 60s));
  producer.produce(0, 3, 5);
  ASSERT_EQ(cluster.command("down"), "ok");
  clock->setTime(2000);
  ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(2000), 60s));
  ASSERT_TRUE(errors->waitErrors(1));
  ASSERT_EQ(cluster.command("up"), "ok");
  // The consumer reconnects in its own time (librdkafka's reconnect back-off): the batches until
  // then fail the same way.
  std::int64_t t = 2000;
  do {
    t += 1000;
    clock->setTime(t);
    ASSERT_TRUE(ssc.core()->waitForBatch(sluice::Time(t), 60s));
  } while (collected.batches.at(t).empty() && t < 30000);
  ssc.stop(false);
  EXPECT_EQ(collected.batches.at(1000), values(0, 1, 2));
  for (std::int64_t empty = 2000; empty < t; empty += 1000) {
    EXPECT_EQ(collected.batches.at(empty), std::vector<std::string>{}) << empty;
  }
  EXPECT_EQ(collected.batches.at(t), values(0, 3, 5));
  EXPECT_NE(errors->errors().at(0).find("Kafka"), std::string::npos) << errors->errors().at(0);
  EXPECT_TRUE(errors->waitStarted(1)) << "the error is cleared once reading works again";
}

INSTANTIATE_TEST_SUITE_P(Masters, KafkaStream,
                         ::testing::Values("local[1]", "local[2]", "local[4]"));

TEST(KafkaStreamSettings, BadSettingsAreRefused) {
  sluice::Context sc("local[1]", "kafkaSettings");
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(ssc, {"events"}, {}),
               sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(
                   ssc, {"events"}, {{"bootstrap.servers", "h:1"}, {"no.such.setting", "1"}}),
               sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(
                   ssc, {"events"}, {{"bootstrap.servers", "h:1"}, {"auto.offset.reset", "x"}}),
               sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(ssc, {}, {{"bootstrap.servers", "h:1"}}),
               sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(
                   ssc, {"events"}, {{"bootstrap.servers", "h:1"}, {"socket.timeout.ms", "1s"}}),
               sluice::InvalidArgumentError);
  EXPECT_THROW(
      sluice::KafkaUtils::createDirectStream(ssc, {"events", "events"}, {{"bootstrap.servers", "h:1"}}),
      sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(
                   ssc, {"events"},
                   {{"bootstrap.servers", "h:1"}, {"sluice.kafka.commitOffsets", "true"}}),
               sluice::InvalidArgumentError);  // no group.id
  EXPECT_THROW(sluice::KafkaUtils::createDirectStream(
                   ssc, {"events"},
                   {{"bootstrap.servers", "h:1"}, {"sluice.kafka.commitOffsets", "yes"}}),
               sluice::InvalidArgumentError);
}

}  // namespace
