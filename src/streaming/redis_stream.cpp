// The Redis Streams direct input. The generator thread reads each batch's entries at its batch
// time (so data belongs to the batch of the time it arrived, however late the batch runs) and
// records the id range it took per key; the batch's RDD is made of what was read. Reading at
// allocation, rather than in the batch's tasks, means a batch is queued only with its data in
// hand: a server that fails between allocation and processing cannot fail the batch.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sluice/log.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/redis.hpp>

#include "streaming/redis_client.hpp"

namespace sluice {
namespace detail {
namespace {

constexpr long long kPageEntries = 10000;  // entries per XRANGE round trip

struct RedisParams {
  std::string host;
  int port = 0;
  bool earliest = false;
  std::chrono::milliseconds timeout{5000};
};

RedisParams parseParams(const std::map<std::string, std::string>& params) {
  RedisParams p;
  bool have_address = false;
  for (const auto& [key, value] : params) {
    if (key == "redis.address") {
      const auto colon = value.rfind(':');
      int port = 0;
      const char* end = value.data() + value.size();
      if (colon == std::string::npos || colon == 0 ||
          std::from_chars(value.data() + colon + 1, end, port).ptr != end || port <= 0 ||
          port > 65535) {
        throw InvalidArgumentError(
            fmt::format("redis.address: '{}' is not host:port (e.g. 127.0.0.1:6379)", value));
      }
      p.host = value.substr(0, colon);
      p.port = port;
      have_address = true;
    } else if (key == "auto.offset.reset") {
      if (value == "earliest" || value == "smallest") {
        p.earliest = true;
      } else if (value == "latest" || value == "largest") {
        p.earliest = false;
      } else {
        throw InvalidArgumentError(fmt::format(
            "auto.offset.reset: '{}' is not earliest, latest, smallest or largest", value));
      }
    } else if (key == "redis.timeout.ms") {
      long long ms = 0;
      const char* end = value.data() + value.size();
      if (std::from_chars(value.data(), end, ms).ptr != end || ms <= 0 || ms > 3600000) {
        throw InvalidArgumentError(
            fmt::format("redis.timeout.ms: '{}' is not a number of milliseconds (1 to 3600000)",
                        value));
      }
      p.timeout = std::chrono::milliseconds(ms);
    } else {
      throw InvalidArgumentError(fmt::format(
          "Unknown Redis stream setting '{}' (redis.address, auto.offset.reset, redis.timeout.ms)",
          key));
    }
  }
  if (!have_address) throw InvalidArgumentError("redis.address is required (host:port)");
  return p;
}

// What a batch took from one key: the entries after `after` up to and including `last`.
struct KeyRange {
  std::string key;
  std::string after;
  std::string last;
  long long count = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, after, last, count);
  }
};

using Positions = std::map<std::string, std::string>;  // key -> id of the last entry taken

class RedisDirectNode final : public DStreamNode<RedisStreamEntry>, public InputBase {
 public:
  RedisDirectNode(std::shared_ptr<StreamingCore> core, std::vector<std::string> keys,
                  RedisParams params)
      : DStreamNode<RedisStreamEntry>(core, core->batchDuration(), {}),
        keys_(std::move(keys)),
        params_(std::move(params)) {}

  int streamId() const override { return this->id(); }
  std::string inputName() const override {
    return fmt::format("RedisDirectStream({}:{} {})", params_.host, params_.port,
                       fmt::join(keys_, ","));
  }

  void startInput() override {
    {
      std::lock_guard lock(mu_);
      if (!positions_.empty()) return;  // restored from a checkpoint
    }
    Positions positions;
    if (params_.earliest) {
      for (const auto& key : keys_) positions[key] = StreamId{}.toString();
    } else {
      // "latest": entries added from now on. A key whose newest id cannot be read yet (the
      // server is unreachable, or it is not a stream) starts at the newest entry of the first
      // batch that reads it.
      for (const auto& key : keys_) {
        try {
          positions[key] = latest(key).toString();
        } catch (const RedisError& e) {
          reportError(e.what());
          if (e.connectionLost()) break;
        }
      }
    }
    std::lock_guard lock(mu_);
    positions_ = std::move(positions);
  }
  void stopInput(bool) override {}
  void updateRateLimit(double records_per_second) override {
    std::lock_guard lock(mu_);
    backpressure_rate_ = records_per_second;
  }

  void allocateBatch(Time t) override {
    std::vector<std::vector<RedisStreamEntry>> blocks;
    std::vector<KeyRange> ranges;
    std::optional<std::string> error;
    const std::optional<long long> cap = entriesPerKey();
    Positions positions;
    {
      std::lock_guard lock(mu_);
      positions = positions_;
    }
    for (const auto& key : keys_) {
      try {
        if (!positions.contains(key)) {
          positions[key] = latest(key).toString();  // "latest" deferred by an unreachable server
          continue;
        }
        KeyRange range{key, positions[key], positions[key], 0};
        blocks.push_back(read(key, StreamId::parse(range.after), cap, range));
        if (range.count > 0) {
          ranges.push_back(range);
          positions[key] = range.last;
        }
      } catch (const RedisError& e) {
        error = e.what();
        // The connection is lost: the other keys wait for the next batch too.
        if (e.connectionLost()) break;
      } catch (const std::exception& e) {
        // An id Redis should not have sent, or no memory for the entries: this key waits.
        error = fmt::format("stream '{}': {}", key, e.what());
      }
    }
    long long records = 0;
    for (const auto& b : blocks) records += static_cast<long long>(b.size());
    core().reportInputRecords(t, id(), records);
    {
      std::lock_guard lock(mu_);
      positions_ = positions;
      ends_[t] = positions;
      allocated_[t] = std::move(blocks);
      if (!ranges.empty()) ranges_[t] = std::move(ranges);
    }
    if (error) {
      reportError(*error);
    } else if (failing_) {
      failing_ = false;
      log(LogLevel::kInfo, fmt::format("{}: reading again", inputName()));
    }
  }

  void clearMetadata(Time t) override {
    DStreamNode<RedisStreamEntry>::clearMetadata(t);
    std::lock_guard lock(mu_);
    const Time cutoff = t - rememberDuration();
    allocated_.erase(allocated_.begin(), allocated_.upper_bound(cutoff));
    ranges_.erase(ranges_.begin(), ranges_.upper_bound(cutoff));
    // The positions after the cutoff batch itself stay: with nothing to remember the cutoff is
    // the batch just completed, which a graceful stop checkpoints after this ran.
    ends_.erase(ends_.begin(), ends_.lower_bound(cutoff));
  }

  // The id ranges of the remembered batches up to t (a restart recomputes the batches since the
  // stateful streams' last data checkpoints from them) and the positions after batch t. Batches
  // after t may be allocated already (queued behind it): a restart reads their entries again.
  std::string checkpointData(Time t) override {
    std::lock_guard lock(mu_);
    std::map<std::int64_t, std::vector<KeyRange>> ranges;
    for (const auto& [time, r] : ranges_) {
      if (time <= t) ranges.emplace(time.milliseconds(), r);
    }
    Positions after_t = restored_positions_;
    if (auto it = ends_.upper_bound(t); it != ends_.begin()) after_t = std::prev(it)->second;
    return serialize(std::make_pair(ranges, after_t));
  }
  void restoreCheckpointData(std::string_view bytes) override {
    std::pair<std::map<std::int64_t, std::vector<KeyRange>>, Positions> data;
    try {
      data = deserialize<decltype(data)>(bytes);
    } catch (const Error& e) {
      throw CheckpointError("Cannot restore the positions of " + inputName() + ": " + e.what());
    }
    std::lock_guard lock(mu_);
    ranges_.clear();
    for (auto& [time, r] : data.first) ranges_.emplace(Time(time), std::move(r));
    positions_ = data.second;
    // A key added to the job since the checkpoint starts as auto.offset.reset says.
    std::erase_if(positions_, [&](const auto& p) {
      return std::find(keys_.begin(), keys_.end(), p.first) == keys_.end();
    });
    if (positions_.size() < keys_.size() && params_.earliest) {
      for (const auto& key : keys_) positions_.try_emplace(key, StreamId{}.toString());
    }
    restored_positions_ = positions_;
  }

 protected:
  // The entries read for batch t; for a batch before a restart (recomputed because the state's
  // last data checkpoint is older), the same id ranges read again.
  std::optional<RDD<RedisStreamEntry>> compute(Time t) override {
    std::vector<std::vector<RedisStreamEntry>> blocks;
    std::vector<KeyRange> replay;
    {
      std::lock_guard lock(mu_);
      if (auto it = allocated_.find(t); it != allocated_.end()) {
        blocks = std::move(it->second);
        allocated_.erase(it);
      } else if (auto r = ranges_.find(t); r != ranges_.end()) {
        replay = r->second;
      }
    }
    if (!replay.empty()) {
      // Its records were reported before the restart: this batch is not run again, only its
      // data feeds the state.
      RedisConnection connection(params_.host, params_.port, params_.timeout);
      for (const auto& range : replay) blocks.push_back(readRange(connection, range));
    }
    return core().context().fromPartitions(std::move(blocks));
  }

 private:
  // Entries per key for the next batch: maxRatePerPartition, and backpressure's rate shared
  // among the keys, times the batch interval (at least 1, as Spark's direct Kafka stream).
  std::optional<long long> entriesPerKey() {
    std::optional<double> rate;
    const StreamingConf& conf = core().conf();
    if (conf.redis_max_rate_per_partition > 0) rate = conf.redis_max_rate_per_partition;
    if (conf.backpressure) {
      std::lock_guard lock(mu_);
      std::optional<double> estimated = backpressure_rate_;
      if (!estimated && conf.backpressure_initial_rate > 0)
        estimated = conf.backpressure_initial_rate;
      if (estimated) {
        const double share = *estimated / static_cast<double>(keys_.size());
        rate = rate ? std::min(*rate, share) : share;
      }
    }
    if (!rate) return std::nullopt;
    const double seconds = static_cast<double>(core().batchDuration().count()) / 1000.0;
    // Bounded so that the conversion cannot overflow; no batch reads 10^15 entries anyway.
    const double entries = std::min(std::floor(*rate * seconds), 1e15);
    return std::max<long long>(1, static_cast<long long>(entries));
  }

  RedisConnection& connection() {
    if (!connection_ || !connection_->usable()) {
      connection_.reset();
      connection_ = std::make_unique<RedisConnection>(params_.host, params_.port, params_.timeout);
    }
    return *connection_;
  }

  StreamId latest(const std::string& key) { return connection().lastId(key).value_or(StreamId{}); }

  // The entries of `key` after `after`, up to the newest one now, at most `cap` of them; `range`
  // gets the id of the last one and the count.
  std::vector<RedisStreamEntry> read(const std::string& key, StreamId after,
                                     std::optional<long long> cap, KeyRange& range) {
    std::vector<RedisStreamEntry> entries;
    const std::optional<StreamId> newest = connection().lastId(key);
    if (!newest || *newest <= after) {
      if (newest && *newest < after && warned_behind_.insert(key).second) {
        warnBehind(key, *newest, after);
      }
      return entries;
    }
    warned_behind_.erase(key);
    StreamId from = after;
    for (;;) {
      const long long left = cap ? *cap - static_cast<long long>(entries.size()) : kPageEntries;
      if (left <= 0) break;
      auto page = connection().range(key, from, *newest, std::min(left, kPageEntries));
      if (page.empty()) break;
      from = StreamId::parse(page.back().id);
      const bool short_page = static_cast<long long>(page.size()) < std::min(left, kPageEntries);
      std::move(page.begin(), page.end(), std::back_inserter(entries));
      if (short_page || from >= *newest) break;
    }
    if (!entries.empty()) {
      range.last = entries.back().id;
      range.count = static_cast<long long>(entries.size());
    }
    return entries;
  }

  // A batch's range read again after a restart: exactly the entries it took before.
  std::vector<RedisStreamEntry> readRange(RedisConnection& connection, const KeyRange& range) {
    std::vector<RedisStreamEntry> entries;
    StreamId from = StreamId::parse(range.after);
    const StreamId last = StreamId::parse(range.last);
    while (static_cast<long long>(entries.size()) < range.count) {
      auto page = connection.range(range.key, from, last, kPageEntries);
      if (page.empty()) break;
      from = StreamId::parse(page.back().id);
      std::move(page.begin(), page.end(), std::back_inserter(entries));
    }
    if (static_cast<long long>(entries.size()) != range.count) {
      throw CheckpointError(fmt::format(
          "{}: stream '{}' holds {} entries after {} up to {} where the batch took {} before the "
          "restart: entries were deleted or trimmed, the batch cannot be replayed exactly",
          inputName(), range.key, entries.size(), range.after, range.last, range.count));
    }
    return entries;
  }

  void warnBehind(const std::string& key, StreamId newest, StreamId position) {
    log(LogLevel::kWarn,
        fmt::format("{}: the newest entry of stream '{}' is {}, older than its position {}: "
                    "entries were deleted, or the stream was recreated; new entries with ids up "
                    "to {} will not be read",
                    inputName(), key, newest.toString(), position.toString(),
                    position.toString()));
  }

  void reportError(const std::string& message) {
    if (!failing_) {
      log(LogLevel::kWarn, fmt::format("{}: {}; retrying at each batch", inputName(), message));
    }
    failing_ = true;
    ReceiverInfo info;
    info.stream_id = id();
    info.name = inputName();
    info.active = true;
    info.last_error_message = message;
    info.last_error = message;
    info.last_error_time_ms = core().clock().nowMs();
    core().postReceiverEvent(StreamingCore::ReceiverEvent::kError, info);
  }

  const std::vector<std::string> keys_;
  const RedisParams params_;
  std::unique_ptr<RedisConnection> connection_;  // the generator thread's
  bool failing_ = false;                         // generator thread only
  std::set<std::string> warned_behind_;          // generator thread only

  std::mutex mu_;
  Positions positions_;           // after the last allocated batch
  Positions restored_positions_;  // after the batch a restart resumed from
  std::optional<double> backpressure_rate_;
  std::map<Time, std::vector<std::vector<RedisStreamEntry>>> allocated_;
  std::map<Time, std::vector<KeyRange>> ranges_;  // batches that took entries
  std::map<Time, Positions> ends_;                // positions after each batch
};

}  // namespace
}  // namespace detail

DStream<RedisStreamEntry> RedisUtils::createDirectStream(
    StreamingContext& ssc, const std::vector<std::string>& streams,
    const std::map<std::string, std::string>& params) {
  ssc.core()->checkCanBuild();
  if (streams.empty()) throw InvalidArgumentError("createDirectStream: no Redis stream given");
  std::set<std::string> unique;
  for (const auto& s : streams) {
    if (s.empty()) throw InvalidArgumentError("createDirectStream: a stream key is empty");
    if (!unique.insert(s).second) {
      throw InvalidArgumentError("createDirectStream: stream '" + s + "' is given twice");
    }
  }
  auto node = std::make_shared<detail::RedisDirectNode>(ssc.core(), streams,
                                                        detail::parseParams(params));
  ssc.core()->registerInput(node, node);
  return DStream<RedisStreamEntry>(node);
}

}  // namespace sluice
