// The Kafka direct input: a DirectInputNode whose partitions are "topic:partition" and whose
// positions are offsets (the next offset to read). A batch's range [after, last) is an offset
// range, as Spark's OffsetRange [fromOffset, untilOffset).
#include <fmt/format.h>

#include <charconv>
#include <set>
#include <sluice/log.hpp>
#include <sluice/streaming/kafka.hpp>

#include "streaming/direct_input.hpp"
#include "streaming/kafka_client.hpp"

namespace sluice {
namespace detail {
namespace {

struct KafkaSettings {
  std::map<std::string, std::string> consumer;  // passed to librdkafka
  bool earliest = false;
  // How long a metadata, watermark or read request may take: librdkafka's socket.timeout.ms
  // when given (its default, 60 s, would hold the batch generator that long per partition).
  std::chrono::milliseconds timeout{10000};
  // sluice.kafka.commitOffsets: after each batch completed, the offsets after it are committed
  // for group.id. The group is used for nothing else (the stream's readers have none).
  bool commit = false;
  std::string group_id;
};

KafkaSettings parseSettings(const std::map<std::string, std::string>& params) {
  KafkaSettings settings;
  for (const auto& [key, value] : params) {
    if (key == "auto.offset.reset") {
      if (value == "earliest" || value == "smallest") {
        settings.earliest = true;
      } else if (value == "latest" || value == "largest") {
        settings.earliest = false;
      } else {
        throw InvalidArgumentError(fmt::format(
            "auto.offset.reset: '{}' is not earliest, latest, smallest or largest", value));
      }
    } else if (key == "sluice.kafka.commitOffsets") {
      if (value != "true" && value != "false") {
        throw InvalidArgumentError(
            fmt::format("sluice.kafka.commitOffsets: '{}' is not true or false", value));
      }
      settings.commit = value == "true";
    } else if (key == "group.id") {
      settings.group_id = value;
    } else {
      settings.consumer[key] = value;
    }
  }
  if (settings.commit && settings.group_id.empty()) {
    throw InvalidArgumentError("sluice.kafka.commitOffsets needs a group.id to commit for");
  }
  if (const auto timeout = settings.consumer.find("socket.timeout.ms");
      timeout != settings.consumer.end()) {
    std::int64_t ms = 0;
    const std::string& v = timeout->second;
    if (std::from_chars(v.data(), v.data() + v.size(), ms).ptr != v.data() + v.size() || ms < 10 ||
        ms > 300000) {
      throw InvalidArgumentError(fmt::format(
          "socket.timeout.ms: '{}' is not a number of milliseconds from 10 to 300000", v));
    }
    settings.timeout = std::chrono::milliseconds(ms);
  }
  if (!settings.consumer.contains("bootstrap.servers") &&
      !settings.consumer.contains("metadata.broker.list")) {
    throw InvalidArgumentError("bootstrap.servers is required (host:port,...)");
  }
  return settings;
}

std::int64_t parseOffset(const std::string& s) {
  std::int64_t offset = 0;
  const char* end = s.data() + s.size();
  if (s.empty() || std::from_chars(s.data(), end, offset).ptr != end || offset < 0) {
    throw InvalidArgumentError(fmt::format("'{}' is not a Kafka offset", s));
  }
  return offset;
}

// "topic:partition" -> (topic, partition); topic names cannot hold ':'.
std::pair<std::string, int> splitPartition(const std::string& name) {
  const auto colon = name.rfind(':');
  return {name.substr(0, colon), static_cast<int>(parseOffset(name.substr(colon + 1)))};
}

class KafkaDirectNode final : public DirectInputNode<KafkaRecord> {
 public:
  KafkaDirectNode(std::shared_ptr<StreamingCore> core, std::vector<std::string> topics,
                  std::vector<std::string> partitions, KafkaSettings settings)
      : DirectInputNode<KafkaRecord>(core, std::move(partitions)),
        topics_(std::move(topics)),
        settings_(std::move(settings)) {}

  std::string inputName() const override {
    return fmt::format("DirectKafkaInputDStream({})", fmt::join(topics_, ","));
  }

 protected:
  std::string startPosition(const std::string& name) override {
    const auto [topic, partition] = splitPartition(name);
    const auto [low, high] = client().watermarks(topic, partition);
    return std::to_string(settings_.earliest ? low : high);
  }

  std::vector<KafkaRecord> readAfter(const std::string& name, const std::string& position,
                                     std::optional<long long> limit, std::string& last) override {
    const auto [topic, partition] = splitPartition(name);
    const std::int64_t from = parseOffset(position);
    const auto [low, high] = client().watermarks(topic, partition);
    if (low > from) {
      // Spark fails the batch here (OffsetOutOfRange); the records are gone either way. Said
      // loudly, and the stream goes on from what the broker still holds.
      log(LogLevel::kWarn,
          fmt::format("{}: offsets {} to {} of {} were deleted before they were read", inputName(),
                      from, low - 1, name));
    }
    if (from > high) {
      // Spark fails the batch here too: the offsets this job reached are not in the partition
      // (a recreated topic, an unclean leader election, a checkpoint of another cluster).
      throw SourceError(fmt::format("{}: position {} of {} is past its end offset {}: the "
                                    "partition was truncated or recreated",
                                    inputName(), from, name, high),
                        false);
    }
    const std::int64_t start = std::max(from, low);
    if (start > from) last = std::to_string(start);  // the position moves past what was deleted
    std::int64_t until = high;
    if (limit) until = std::min<std::int64_t>(until, start + *limit);
    if (until <= start) return {};
    std::vector<KafkaRecord> records = client().read(topic, partition, start, until);
    last = std::to_string(until);
    return records;
  }

  // On a client of its own: the runner thread calls it for recomputed batches.
  std::vector<std::vector<KafkaRecord>> readAgain(const std::vector<DirectRange>& ranges) override {
    KafkaClient client(settings_.consumer, settings_.timeout);
    std::vector<std::vector<KafkaRecord>> blocks;
    for (const auto& range : ranges) {
      const auto [topic, partition] = splitPartition(range.partition);
      // The batch started at the broker's first offset if its position had been deleted.
      const std::int64_t from =
          std::max(parseOffset(range.after), client.watermarks(topic, partition).first);
      std::vector<KafkaRecord> records =
          client.read(topic, partition, from, parseOffset(range.last));
      if (static_cast<long long>(records.size()) != range.count) {
        throw CheckpointError(fmt::format(
            "{}: {} holds {} records between offsets {} and {} where the batch took {} before "
            "the restart: records were deleted, the batch cannot be replayed exactly",
            inputName(), range.partition, records.size(), range.after, range.last, range.count));
      }
      blocks.push_back(std::move(records));
    }
    return blocks;
  }

  double maxRatePerPartition() const override {
    return core().conf().kafka_max_rate_per_partition;
  }

  // Spark's commitAsync after a batch's outputs, done by the stream: the group's offsets follow
  // the completed batches (for monitoring and tools; a restart resumes from the checkpoint). A
  // failed commit is a warning; the next batch's commit covers it.
  void batchCompleted(Time t, const DirectPositions& positions) override {
    if (!settings_.commit || positions.empty() || positions == committed_) return;
    try {
      std::map<std::pair<std::string, int>, std::int64_t> offsets;
      for (const auto& [name, position] : positions) {
        offsets[splitPartition(name)] = parseOffset(position);
      }
      if (!committer_) {
        auto settings = settings_.consumer;
        settings["group.id"] = settings_.group_id;
        settings["enable.auto.commit"] = "false";
        committer_ = std::make_unique<KafkaClient>(settings, settings_.timeout);
      }
      committer_->commit(offsets);
      committed_ = positions;
    } catch (const std::exception& e) {
      log(LogLevel::kWarn, fmt::format("{}: the offsets after batch {} were not committed: {}",
                                       inputName(), t.toString(), e.what()));
    }
  }

 private:
  KafkaClient& client() {
    if (!client_) client_ = std::make_unique<KafkaClient>(settings_.consumer, settings_.timeout);
    return *client_;
  }

  const std::vector<std::string> topics_;
  const KafkaSettings settings_;
  std::unique_ptr<KafkaClient> client_;     // the generator thread's
  std::unique_ptr<KafkaClient> committer_;  // the batch thread's, in group.id
  DirectPositions committed_;               // the batch thread's: the last offsets committed
};

}  // namespace
}  // namespace detail

DStream<KafkaRecord> KafkaUtils::createDirectStream(
    StreamingContext& ssc, const std::vector<std::string>& topics,
    const std::map<std::string, std::string>& kafka_params) {
  ssc.core()->checkCanBuild();
  if (topics.empty()) throw InvalidArgumentError("createDirectStream: no Kafka topic given");
  std::set<std::string> unique;
  for (const auto& t : topics) {
    if (t.empty()) throw InvalidArgumentError("createDirectStream: a topic name is empty");
    if (!unique.insert(t).second) {
      throw InvalidArgumentError("createDirectStream: topic '" + t + "' is given twice");
    }
  }
  detail::KafkaSettings settings = detail::parseSettings(kafka_params);
  // As Spark's createDirectStream, the partitions are looked up now.
  std::vector<std::string> partitions;
  {
    detail::KafkaClient client(settings.consumer, settings.timeout);
    for (const auto& [topic, count] : client.partitionCounts(topics)) {
      for (int p = 0; p < count; ++p) partitions.push_back(topic + ":" + std::to_string(p));
    }
  }
  auto node = std::make_shared<detail::KafkaDirectNode>(ssc.core(), topics, std::move(partitions),
                                                        std::move(settings));
  ssc.core()->registerInput(node, node);
  return DStream<KafkaRecord>(node);
}

}  // namespace sluice
