// Kafka as a direct input, as Spark's KafkaUtils.createDirectStream: no receiver; at each batch
// time the stream reads, from every partition of the given topics, the records after the offset
// the previous batch ended at, up to the partition's high watermark then, and those records are
// that batch's data, one RDD partition per Kafka partition. The batches' offset ranges and the
// positions are part of the checkpoint, and with checkpointing each batch's ranges are logged
// before the batch runs: a job restarted from its checkpoint (getOrCreate) reads every record
// exactly once into its state, and a batch run again after a crash holds the same records.
//
// kafka_params: "bootstrap.servers" (or "metadata.broker.list") is required; "auto.offset.reset"
// ("latest", the default, or "earliest"; "largest" and "smallest" too) says where a partition
// without a checkpointed position starts; every other key is a librdkafka consumer setting
// (an unknown one is refused with librdkafka's message). "socket.timeout.ms" (10 to 300000) also
// bounds each request the stream makes (10 s when not given, for librdkafka's requests too). "sluice.kafka.commitOffsets" = "true" commits,
// after each completed batch, the offsets after it for "group.id" (Spark's commitAsync after the
// outputs), so that Kafka's tools see the job's progress; the checkpoint, not the group, is what
// a restart resumes from.
// Rate: spark.streaming.kafka.maxRatePerPartition caps the records a batch takes from each
// partition (records/s x batch interval); with backpressure the estimated rate is shared among
// the partitions.
// A broker that cannot be reached is a receiver error (StreamingListener::onReceiverError) and
// a warning; the batch takes nothing from the partitions it could not read, and the next batch
// retries from the same offsets.
// Thread-safety: create the stream on the thread that builds the graph.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sluice/format.hpp>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/streaming_context.hpp>
#include <string>
#include <vector>

namespace sluice {

// One Kafka record: where it is, its key (none for a null key), its value and its timestamp
// (ms since the epoch; -1 when the broker gave none).
struct KafkaRecord {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  std::int64_t timestamp = -1;

  bool operator==(const KafkaRecord&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(topic, partition, offset, key, value, timestamp);
  }
};

// Printed as a tuple: ('events', 0, 42, 'key', 'value').
template <>
struct Formatter<KafkaRecord> {
  static void repr(std::string& out, const KafkaRecord& r) {
    detail::appendRepr(out, std::tie(r.topic, r.partition, r.offset, r.key, r.value));
  }
};

namespace KafkaUtils {

// The records of every partition of `topics`, read directly at each batch time. Asks the
// cluster for the topics' partitions now: throws InvalidArgumentError for no topic, a repeated
// one or a bad setting, and Error when the cluster cannot be reached or a topic does not exist.
DStream<KafkaRecord> createDirectStream(StreamingContext& ssc,
                                        const std::vector<std::string>& topics,
                                        const std::map<std::string, std::string>& kafka_params);

}  // namespace KafkaUtils
}  // namespace sluice
