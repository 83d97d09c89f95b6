// A Kafka consumer for the Kafka direct input (librdkafka): topic metadata, a partition's
// watermarks, and the records of an offset range read with the simple (group-less) consumer.
// Errors are SourceErrors (every one counts as a lost connection: the batch stops reading).
// Thread-safety: none; one thread uses a KafkaClient at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <sluice/streaming/kafka.hpp>
#include <string>
#include <utility>
#include <vector>

#include "streaming/direct_input.hpp"

struct rd_kafka_s;

namespace sluice::detail {

class KafkaClient {
 public:
  // `settings` are librdkafka consumer settings; throws InvalidArgumentError for one librdkafka
  // refuses (with its message).
  KafkaClient(const std::map<std::string, std::string>& settings,
              std::chrono::milliseconds timeout);
  ~KafkaClient();
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;

  // The number of partitions of each topic. Throws SourceError when the cluster does not answer
  // and Error for a topic it does not know.
  std::map<std::string, int> partitionCounts(const std::vector<std::string>& topics);
  // The partition's low and high watermarks (the first offset kept, the next offset written;
  // under isolation.level=read_committed, librdkafka's default, the high one is the last stable
  // offset, so that a batch never ends inside an open transaction).
  std::pair<std::int64_t, std::int64_t> watermarks(const std::string& topic, int partition);
  // The records with offsets in [from, until); transaction markers leave gaps in the offsets,
  // so fewer than until - from may come back.
  std::vector<KafkaRecord> read(const std::string& topic, int partition, std::int64_t from,
                                std::int64_t until);
  // Commits the offsets (topic, partition) -> next offset to read for the consumer group the
  // client was created with, waiting at most the timeout. Throws SourceError when the commit
  // fails or is not confirmed in time.
  void commit(const std::map<std::pair<std::string, int>, std::int64_t>& offsets);

 private:
  rd_kafka_s* handle_ = nullptr;
  std::chrono::milliseconds timeout_;
};

}  // namespace sluice::detail
