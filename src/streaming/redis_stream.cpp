// The Redis Streams direct input. The generator thread reads each batch's entries at its batch
// time (so data belongs to the batch of the time it arrived, however late the batch runs) and
// records the id range it took per key; the batch's RDD is made of what was read. Reading at
// allocation, rather than in the batch's tasks, means a batch is queued only with its data in
// hand: a server that fails between allocation and processing cannot fail the batch.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sluice/log.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/redis.hpp>

#include "streaming/redis_client.hpp"
#include "streaming/write_ahead_log.hpp"

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

// What one batch took: its ranges (keys it took entries from) and the positions after it.
struct Allocation {
  std::vector<KeyRange> ranges;
  Positions ends;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(ranges, ends);
  }
};

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
      std::lock_guard lock(input_mu_);
      if (restored_) return;
    }
    if (!core().checkpointDir().empty()) {
      // A fresh start: an old log's allocations belong to another run.
      openLog().clean(std::numeric_limits<std::int64_t>::max());
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
    std::lock_guard lock(input_mu_);
    positions_ = std::move(positions);
  }
  void stopInput(bool) override {}
  void updateRateLimit(double records_per_second) override {
    std::lock_guard lock(input_mu_);
    backpressure_rate_ = records_per_second;
  }

  // Reads batch t's entries: after a restart, exactly what the log says batch t took before the
  // crash; otherwise what follows each key's position. With checkpointing the allocation is
  // logged (fsync'ed) before the batch is queued, so that a batch run again after a crash holds
  // the same entries, as Spark's direct Kafka stream checkpoints a batch's offsets before it runs.
  void allocateBatch(Time t) override {
    std::optional<Allocation> replay;
    bool logged_later = false;
    Positions positions;
    {
      std::lock_guard lock(input_mu_);
      if (auto it = logged_.find(t); it != logged_.end()) {
        replay = std::move(it->second);
        logged_.erase(it);
      } else {
        logged_later = !logged_.empty() && logged_.rbegin()->first > t;
      }
      positions = positions_;
    }
    Allocation allocation;
    std::vector<std::vector<RedisStreamEntry>> blocks;
    std::optional<std::string> error;
    if (replay) {
      try {
        for (const auto& range : replay->ranges) blocks.push_back(readRange(connection(), range));
        allocation = std::move(*replay);
      } catch (const std::exception& e) {
        // Not lost: the next batch takes this one's entries along with its own.
        error = e.what();
        blocks.clear();
        deferReplay(t, std::move(*replay));
      }
    } else if (!logged_later) {
      allocation = readNew(positions, blocks, error);
    }
    // Else batch t is one that took nothing before the crash (only batches that took entries are
    // logged) and a later one is logged: it takes nothing again, or it would read what the
    // logged batches after it took, and they would count it twice.
    if (log_ && !replay && !allocation.ranges.empty()) {
      try {
        log_->append(t.milliseconds(), serialize(std::make_pair(t.milliseconds(), allocation)));
      } catch (const std::exception& e) {
        // Unlogged, the batch could not be repeated exactly after a crash: it takes nothing, and
        // the next batch reads the same entries again.
        error = fmt::format("cannot log the batch's allocation: {}", e.what());
        blocks.clear();
        allocation = Allocation{};
      }
    }
    long long records = 0;
    for (const auto& b : blocks) records += static_cast<long long>(b.size());
    core().reportInputRecords(t, id(), records);
    {
      std::lock_guard lock(input_mu_);
      for (const auto& [key, end] : allocation.ends) positions_[key] = end;
      ends_[t] = positions_;
      allocated_[t] = std::move(blocks);
      if (!allocation.ranges.empty()) ranges_[t] = std::move(allocation.ranges);
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
    std::lock_guard lock(input_mu_);
    const Time cutoff = t - rememberDuration();
    allocated_.erase(allocated_.begin(), allocated_.upper_bound(cutoff));
    ranges_.erase(ranges_.begin(), ranges_.upper_bound(cutoff));
    // The positions after the cutoff batch itself stay: with nothing to remember the cutoff is
    // the batch just completed, which a graceful stop checkpoints after this ran.
    ends_.erase(ends_.begin(), ends_.lower_bound(cutoff));
  }

  // The id ranges of the remembered batches up to t (a restart recomputes the batches since the
  // stateful streams' last data checkpoints from them) and the positions after batch t. The
  // batches after t are in the allocation log.
  std::string checkpointData(Time t) override {
    std::lock_guard lock(input_mu_);
    std::map<std::int64_t, std::vector<KeyRange>> ranges;
    for (const auto& [time, r] : ranges_) {
      if (time <= t) ranges.emplace(time.milliseconds(), r);
    }
    Positions after_t;
    if (auto it = ends_.upper_bound(t); it != ends_.begin()) after_t = std::prev(it)->second;
    return serialize(std::make_tuple(t.milliseconds(), ranges, after_t));
  }
  void restoreCheckpointData(std::string_view bytes) override {
    std::tuple<std::int64_t, std::map<std::int64_t, std::vector<KeyRange>>, Positions> data;
    try {
      data = deserialize<decltype(data)>(bytes);
    } catch (const Error& e) {
      throw CheckpointError("Cannot restore the positions of " + inputName() + ": " + e.what());
    }
    auto& [time_ms, ranges, positions] = data;
    // The batches allocated after the checkpointed one, which a restart runs again as they were.
    std::map<Time, Allocation> logged;
    openLog().readAll([&](const WalRecordHandle&, std::string_view payload) {
      std::pair<std::int64_t, Allocation> record;
      try {
        record = deserialize<decltype(record)>(payload);
      } catch (const Error& e) {
        throw CheckpointError("Cannot read the allocation log of " + inputName() + ": " +
                              e.what());
      }
      if (record.first > time_ms) logged[Time(record.first)] = std::move(record.second);
    });
    std::lock_guard lock(input_mu_);
    restored_ = true;
    ranges_.clear();
    for (auto& [time, r] : ranges) ranges_.emplace(Time(time), std::move(r));
    positions_ = positions;
    if (!logged.empty()) {
      for (const auto& [key, end] : logged.rbegin()->second.ends) positions_[key] = end;
    }
    logged_ = std::move(logged);
    // A key added to the job since the checkpoint starts as auto.offset.reset says; a key
    // dropped from it is forgotten.
    std::erase_if(positions_, [&](const auto& p) {
      return std::find(keys_.begin(), keys_.end(), p.first) == keys_.end();
    });
    if (params_.earliest) {
      for (const auto& key : keys_) positions_.try_emplace(key, StreamId{}.toString());
    }
  }
  void checkpointsKeptFrom(Time oldest) override {
    // A restart resumes from one of the kept checkpoints and replays only allocations after it.
    if (log_) log_->clean(oldest.milliseconds());
  }

 protected:
  // The entries read for batch t; for a batch before a restart (recomputed because the state's
  // last data checkpoint is older), the same id ranges read again.
  std::optional<RDD<RedisStreamEntry>> compute(Time t) override {
    std::vector<std::vector<RedisStreamEntry>> blocks;
    std::vector<KeyRange> replay;
    {
      std::lock_guard lock(input_mu_);
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
  // Reads what follows each key's position (at most the rate's share); `blocks` gets one
  // partition per key read, `error` the last error. Returns the ranges and the new positions.
  Allocation readNew(Positions positions, std::vector<std::vector<RedisStreamEntry>>& blocks,
                     std::optional<std::string>& error) {
    Allocation allocation;
    const std::optional<long long> cap = entriesPerKey();
    for (const auto& key : keys_) {
      try {
        if (!positions.contains(key)) {
          positions[key] = latest(key).toString();  // "latest" deferred by an unreachable server
          continue;
        }
        KeyRange range{key, positions[key], positions[key], 0};
        blocks.push_back(read(key, StreamId::parse(range.after), cap, range));
        if (range.count > 0) {
          allocation.ranges.push_back(range);
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
    allocation.ends = std::move(positions);
    return allocation;
  }

  // A logged batch whose entries could not be read again goes to the next batch time, merged
  // with what that batch had logged (whose ranges start where these end).
  void deferReplay(Time t, Allocation replay) {
    std::lock_guard lock(input_mu_);
    auto [it, inserted] = logged_.try_emplace(t + slideDuration(), replay);
    if (inserted) return;
    Allocation& next = it->second;
    for (auto& range : replay.ranges) {
      auto same = std::find_if(next.ranges.begin(), next.ranges.end(),
                               [&](const KeyRange& r) { return r.key == range.key; });
      if (same == next.ranges.end()) {
        next.ranges.push_back(std::move(range));
      } else {
        same->after = range.after;
        same->count += range.count;
      }
    }
  }

  WriteAheadLog& openLog() {
    if (!log_) {
      const StreamingConf& conf = core().conf();
      WriteAheadLogOptions options;
      options.file_system = core().fileSystem();
      options.rolling_interval_ms = conf.receiver_wal_rolling_interval.count();
      options.fsync_policy =
          conf.receiver_wal_fsync ? FsyncPolicy::kEveryRecord : FsyncPolicy::kNone;
      log_ = std::make_unique<WriteAheadLog>(
          core().checkpointDir() + "/directInput/" + uid().value_or(std::to_string(id())),
          options);
    }
    return *log_;
  }

  // Entries per key for the next batch: maxRatePerPartition, and backpressure's rate shared
  // among the keys, times the batch interval (at least 1, as Spark's direct Kafka stream).
  std::optional<long long> entriesPerKey() {
    std::optional<double> rate;
    const StreamingConf& conf = core().conf();
    if (conf.redis_max_rate_per_partition > 0) rate = conf.redis_max_rate_per_partition;
    if (conf.backpressure) {
      std::lock_guard lock(input_mu_);
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
    const std::optional<StreamId> newest = connection().lastId(key);
    if (!newest || *newest <= after) {
      if (newest && *newest < after && warned_behind_.insert(key).second) {
        warnBehind(key, *newest, after);
      }
      return {};
    }
    warned_behind_.erase(key);
    std::vector<RedisStreamEntry> entries = readBetween(connection(), key, after, *newest, cap);
    if (!entries.empty()) {
      range.last = entries.back().id;
      range.count = static_cast<long long>(entries.size());
    }
    return entries;
  }

  // A batch's range read again after a restart: exactly the entries it took before.
  std::vector<RedisStreamEntry> readRange(RedisConnection& connection, const KeyRange& range) {
    std::vector<RedisStreamEntry> entries =
        readBetween(connection, range.key, StreamId::parse(range.after),
                    StreamId::parse(range.last), range.count);
    if (static_cast<long long>(entries.size()) != range.count) {
      throw CheckpointError(fmt::format(
          "{}: stream '{}' holds {} entries after {} up to {} where the batch took {} before the "
          "restart: entries were deleted or trimmed, the batch cannot be replayed exactly",
          inputName(), range.key, entries.size(), range.after, range.last, range.count));
    }
    return entries;
  }

  // The entries of `key` after `after` up to `last`, at most `limit`, a page at a time.
  static std::vector<RedisStreamEntry> readBetween(RedisConnection& connection,
                                                   const std::string& key, StreamId after,
                                                   StreamId last, std::optional<long long> limit) {
    std::vector<RedisStreamEntry> entries;
    for (;;) {
      const long long left =
          limit ? *limit - static_cast<long long>(entries.size()) : kPageEntries;
      if (left <= 0) break;
      const long long want = std::min(left, kPageEntries);
      auto page = connection.range(key, after, last, want);
      if (page.empty()) break;
      after = StreamId::parse(page.back().id);
      const bool short_page = static_cast<long long>(page.size()) < want;
      std::move(page.begin(), page.end(), std::back_inserter(entries));
      if (short_page || after >= last) break;
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

  // With checkpointing: every batch's allocation, appended before the batch is queued. Set
  // before start(); the log itself is thread-safe.
  std::unique_ptr<WriteAheadLog> log_;

  std::mutex input_mu_;
  bool restored_ = false;
  Positions positions_;  // after the last allocated batch
  std::map<Time, Allocation> logged_;  // restored: allocations after the checkpointed batch
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
