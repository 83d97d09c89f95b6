#include "streaming/kafka_client.hpp"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <memory>

#include <sluice/error.hpp>
#include <sluice/log.hpp>

namespace sluice::detail {
namespace {

// Errors that say the cluster cannot be reached end the batch's reads; the others concern one
// partition (no leader, unknown partition, offset out of range) and leave the other partitions
// to be read.
bool connectionLevel(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
         err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__RESOLVE ||
         err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL;
}

[[noreturn]] void fail(const std::string& what, rd_kafka_resp_err_t err) {
  throw SourceError(fmt::format("{}: {}", what, rd_kafka_err2str(err)), connectionLevel(err));
}

using Message = std::unique_ptr<rd_kafka_message_t, decltype(&rd_kafka_message_destroy)>;

// A topic handle started on one partition at an offset, stopped and released at the end.
class PartitionReader {
 public:
  PartitionReader(rd_kafka_t* handle, const std::string& topic, int partition, std::int64_t from)
      : partition_(partition) {
    rd_kafka_topic_conf_t* conf = rd_kafka_topic_conf_new();
    char error[512];
    // An offset the broker no longer holds is an error, not a silent jump to another offset.
    rd_kafka_topic_conf_set(conf, "auto.offset.reset", "error", error, sizeof error);
    topic_ = rd_kafka_topic_new(handle, topic.c_str(), conf);
    if (topic_ == nullptr) fail("Kafka topic " + topic, rd_kafka_last_error());
    if (rd_kafka_consume_start(topic_, partition, from) == -1) {
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      rd_kafka_topic_destroy(topic_);
      fail(fmt::format("Kafka {}-{} from offset {}", topic, partition, from), err);
    }
  }
  ~PartitionReader() {
    rd_kafka_consume_stop(topic_, partition_);
    rd_kafka_topic_destroy(topic_);
  }
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;
  rd_kafka_message_t* next(int timeout_ms) { return rd_kafka_consume(topic_, partition_, timeout_ms); }

 private:
  rd_kafka_topic_t* topic_ = nullptr;
  int partition_;
};

}  // namespace

KafkaClient::KafkaClient(const std::map<std::string, std::string>& settings,
                         std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  auto set = [&](const std::string& key, const std::string& value) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw InvalidArgumentError(fmt::format("Kafka setting {}: {}", key, error));
    }
  };
  for (const auto& [key, value] : settings) set(key, value);
  // A partition's fetcher runs only while a batch reads it, and stopping it waits for its
  // outstanding fetch: librdkafka's default long poll (500 ms) would cost that much per
  // partition and batch.
  if (!settings.contains("fetch.wait.max.ms")) set("fetch.wait.max.ms", "10");
  // librdkafka's own requests (a fetch being stopped, say) wait as long as ours.
  if (!settings.contains("socket.timeout.ms")) {
    set("socket.timeout.ms", std::to_string(timeout.count()));
  }
  // librdkafka's own log lines (every failed reconnect, say) go to Sluice's log at DEBUG, not to
  // stderr: what a job must know of reaches it as the stream's receiver error and warning.
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* facility,
                                    const char* message) noexcept {
    try {
      log(LogLevel::kDebug, fmt::format("librdkafka {} {}: {}", level, facility, message));
    } catch (...) {  // a log line is not worth unwinding into librdkafka's C threads
    }
  });
  // Reading an offset range stops at the partition's end when transaction markers take the
  // last offsets.
  set("enable.partition.eof", "true");
  handle_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);  // owns conf on success
  if (handle_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw InvalidArgumentError(fmt::format("Cannot create a Kafka consumer: {}", error));
  }
}

KafkaClient::~KafkaClient() {
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

std::map<std::string, int> KafkaClient::partitionCounts(const std::vector<std::string>& topics) {
  std::map<std::string, int> counts;
  for (const auto& topic : topics) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(handle_, topic.c_str(), nullptr);
    if (handle == nullptr) fail("Kafka topic " + topic, rd_kafka_last_error());
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_, 0, handle, &metadata,
                                                      static_cast<int>(timeout_.count()));
    rd_kafka_topic_destroy(handle);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) fail("Kafka metadata of " + topic, err);
    const rd_kafka_resp_err_t topic_err =
        metadata->topic_cnt == 1 ? metadata->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    const int partitions = metadata->topic_cnt == 1 ? metadata->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(metadata);
    if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || partitions <= 0) {
      throw Error(fmt::format("Kafka topic '{}' does not exist: {}", topic,
                              rd_kafka_err2str(topic_err)));
    }
    counts[topic] = partitions;
  }
  return counts;
}

std::pair<std::int64_t, std::int64_t> KafkaClient::watermarks(const std::string& topic,
                                                              int partition) {
  // rd_kafka_query_watermark_offsets waits without a bound while the leader is unreachable (it
  // retries on every broker state change); rd_kafka_offsets_for_times keeps its timeout. The
  // "times" -2 and -1 ask for the earliest and the latest offset.
  auto query = [&](std::int64_t which) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = which;
    rd_kafka_resp_err_t err =
        rd_kafka_offsets_for_times(handle_, list, static_cast<int>(timeout_.count()));
    const std::int64_t offset = list->elems[0].offset;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail(fmt::format("Kafka {} offset of {}-{}", which == RD_KAFKA_OFFSET_BEGINNING ? "first"
                                                                                     : "end",
                       topic, partition),
           err);
    }
    return offset;
  };
  const std::int64_t low = query(RD_KAFKA_OFFSET_BEGINNING);
  const std::int64_t high = query(RD_KAFKA_OFFSET_END);
  return {low, std::max(low, high)};
}

void KafkaClient::commit(const std::map<std::pair<std::string, int>, std::int64_t>& offsets) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [where, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list, where.first.c_str(), where.second)->offset = offset;
  }
  // rd_kafka_commit() waits without a bound for the group coordinator; the result posted to a
  // queue of our own can be waited for with the timeout.
  rd_kafka_queue_t* queue = rd_kafka_queue_new(handle_);
  rd_kafka_resp_err_t err = rd_kafka_commit_queue(handle_, list, queue, nullptr, nullptr);
  rd_kafka_topic_partition_list_destroy(list);
  std::string failed_partition;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout_.count()));
    if (event == nullptr) {
      err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    } else {
      err = rd_kafka_event_error(event);
      if (const rd_kafka_topic_partition_list_t* results =
              rd_kafka_event_topic_partition_list(event);
          err == RD_KAFKA_RESP_ERR_NO_ERROR && results != nullptr) {
        for (int i = 0; i < results->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          err = results->elems[i].err;
          failed_partition = fmt::format(" ({}-{})", results->elems[i].topic,
                                         results->elems[i].partition);
        }
      }
      rd_kafka_event_destroy(event);
    }
  }
  rd_kafka_queue_destroy(queue);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) fail("Kafka offset commit" + failed_partition, err);
}

std::vector<KafkaRecord> KafkaClient::read(const std::string& topic, int partition,
                                           std::int64_t from, std::int64_t until) {
  std::vector<KafkaRecord> records;
  if (from >= until) return records;
  PartitionReader reader(handle_, topic, partition, from);
  std::int64_t next = from;
  while (next < until) {
    // The timeout bounds a stall, not the whole read: a large range (a backlog read without a
    // rate cap) may take longer than it while records keep coming.
    const Message message(reader.next(static_cast<int>(timeout_.count())),
                          &rd_kafka_message_destroy);
    if (message == nullptr) {
      throw SourceError(fmt::format("Kafka {}-{}: no record for {} ms while reading offsets {} "
                                    "to {}",
                                    topic, partition, timeout_.count(), next, until - 1),
                        true);
    }
    const rd_kafka_resp_err_t err = message->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;  // the offsets left were markers
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw SourceError(fmt::format("Kafka {}-{} at offset {}: {}", topic, partition, next,
                                    rd_kafka_message_errstr(message.get())),
                        connectionLevel(err));
    }
    if (message->offset >= until) break;
    KafkaRecord record;
    record.topic = topic;
    record.partition = partition;
    record.offset = message->offset;
    if (message->key != nullptr) {
      record.key.emplace(static_cast<const char*>(message->key), message->key_len);
    }
    if (message->payload != nullptr) {
      record.value.assign(static_cast<const char*>(message->payload), message->len);
    }
    rd_kafka_timestamp_type_t type;
    const std::int64_t timestamp = rd_kafka_message_timestamp(message.get(), &type);
    record.timestamp = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : timestamp;
    next = message->offset + 1;
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace sluice::detail
