// Redis Streams as a direct input, in the spirit of Spark's KafkaUtils.createDirectStream: no
// receiver; at each batch time the stream reads, from every Redis stream key, the entries after
// the position the previous batch ended at (an entry id), and those entries are that batch's
// data, one RDD partition per key. The batches' id ranges and the positions are part of the
// checkpoint, so a job restarted from its checkpoint (getOrCreate) reads every entry exactly
// once into its state: a batch recomputed after the restart reads the same ids again. With
// checkpointing, every batch's ranges are also logged before the batch runs, so a batch that was
// read but not completed before a crash runs again with the same entries.
//
// Settings (the `params` map):
//   redis.address       host:port of the server (required), e.g. "127.0.0.1:6379"
//   auto.offset.reset   where a stream with no checkpointed position starts: "latest" (the
//                       default: entries added after start()) or "earliest" (the whole stream);
//                       Spark 1.x's "largest" and "smallest" are accepted too
//   redis.timeout.ms    connect and read timeout (default 5000)
// Rate: sluice.streaming.redis.maxRatePerPartition caps the entries a batch takes from each key
// (entries/s x batch interval); with spark.streaming.backpressure.enabled the estimated rate is
// shared equally among the keys (and starts at backpressure.initialRate when set).
// A server that cannot be reached, or a key that is not a stream, is reported as a receiver
// error (StreamingListener::onReceiverError) and logged; the batch takes nothing from the keys it
// could not read, and the next batch retries from the same position: nothing is skipped.
// Thread-safety: create the stream on the thread that builds the graph; the context's threads
// read from Redis.
#pragma once

#include <map>
#include <sluice/format.hpp>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/streaming_context.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// One entry of a Redis stream: the stream's key, the entry's id ("<ms>-<seq>") and its
// field-value pairs in their order.
struct RedisStreamEntry {
  std::string stream;
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of the first field named `name`, or nullptr.
  const std::string* get(std::string_view name) const {
    for (const auto& [field, value] : fields) {
      if (field == name) return &value;
    }
    return nullptr;
  }
  bool operator==(const RedisStreamEntry&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(stream, id, fields);
  }
};

// Printed as a tuple: ('events', '1700000000000-0', [('user', 'ann')]).
template <>
struct Formatter<RedisStreamEntry> {
  static void repr(std::string& out, const RedisStreamEntry& e) {
    detail::appendRepr(out, std::tie(e.stream, e.id, e.fields));
  }
};

namespace RedisUtils {

// The entries of the Redis streams `streams` (keys), read directly at each batch time. Throws
// InvalidArgumentError for no stream, a repeated one, an unknown setting or a bad value.
DStream<RedisStreamEntry> createDirectStream(StreamingContext& ssc,
                                             const std::vector<std::string>& streams,
                                             const std::map<std::string, std::string>& params);

}  // namespace RedisUtils
}  // namespace sluice
