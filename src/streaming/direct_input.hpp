// A direct input (Spark's direct Kafka stream model; no receiver): at each batch time the
// generator thread reads, from every partition of the source (a Redis stream key, a Kafka
// topic-partition), what follows the partition's position, so a batch is queued with its data in
// hand and data belongs to the batch of the time it arrived. Each batch records per partition
// the range it took. With checkpointing the ranges are appended to an allocation log (the
// write-ahead log's segments, fsynced) before the batch is queued, and every checkpoint holds the
// ranges of the batches a restart may recompute and the positions after the checkpointed batch:
// a recomputed batch and a batch run again after a crash read exactly the same records, which
// makes the input exactly-once.
//
// Positions and ranges are the source's own strings (entry ids, offsets); the source reads
// through the hooks below. Rates: the source's maxRatePerPartition and backpressure's estimate
// shared among the partitions cap what a batch takes from each.
// Errors reading a partition (SourceError) are reported as receiver errors and logged once until
// reading works again; the partition then waits for the next batch, where its position is unchanged.
// Thread-safety: the generator thread allocates, the runner computes and checkpoints, the
// checkpoint writer cleans the log; the node's own state is under input_mu_.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/dstream.hpp>
#include <string>
#include <utility>
#include <vector>

#include "streaming/write_ahead_log.hpp"

namespace sluice::detail {

// A failure to read a source. `connectionLost`: the connection is gone, so the batch's reads of
// the other partitions are not attempted either.
class SourceError : public Error {
 public:
  SourceError(const std::string& message, bool connection_lost)
      : Error(message), connection_lost_(connection_lost) {}
  bool connectionLost() const noexcept { return connection_lost_; }

 private:
  bool connection_lost_;
};

// What a batch took from one partition: the records between the partition's position before
// the batch (`after`) and after it (`last`), in the source's terms, `count` of them.
struct DirectRange {
  std::string partition;
  std::string after;
  std::string last;
  long long count = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(partition, after, last, count);
  }
};

using DirectPositions = std::map<std::string, std::string>;  // partition -> position

// What one batch took: its ranges (partitions it took records from) and the positions after it.
struct DirectAllocation {
  std::vector<DirectRange> ranges;
  DirectPositions ends;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(ranges, ends);
  }
};

template <class Record>
class DirectInputNode : public DStreamNode<Record>, public InputBase {
 public:
  DirectInputNode(std::shared_ptr<StreamingCore> core, std::vector<std::string> partitions)
      : DStreamNode<Record>(core, core->batchDuration(), {}),
        partitions_(std::move(partitions)) {}

  int streamId() const override { return this->id(); }

  void startInput() override {
    {
      std::lock_guard lock(input_mu_);
      if (restored_) return;
    }
    if (!this->core().checkpointDir().empty()) {
      // A fresh start: an old log's allocations belong to another run.
      openLog().clean(std::numeric_limits<std::int64_t>::max());
    }
    // A partition whose start cannot be read yet starts where the first batch that reads it
    // finds it.
    DirectPositions positions;
    for (const auto& partition : partitions_) {
      try {
        positions[partition] = startPosition(partition);
      } catch (const SourceError& e) {
        reportError(e.what());
        if (e.connectionLost()) break;
      }
    }
    std::lock_guard lock(input_mu_);
    positions_ = std::move(positions);
  }
  void updateRateLimit(double records_per_second) override {
    std::lock_guard lock(input_mu_);
    backpressure_rate_ = records_per_second;
  }

  // Reads batch t's records: after a restart, exactly what the log says batch t took before the
  // crash; otherwise what follows each partition's position. With checkpointing the allocation
  // is logged before the batch is queued, so that a batch run again after a crash holds the same
  // records.
  void allocateBatch(Time t) override {
    std::optional<DirectAllocation> replay;
    bool logged_later = false;
    DirectPositions positions;
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
    DirectAllocation allocation;
    std::vector<std::vector<Record>> blocks;
    std::optional<std::string> error;
    if (replay) {
      try {
        blocks = readAgain(replay->ranges);
        allocation = std::move(*replay);
      } catch (const CheckpointError&) {
        throw;  // the records are gone: no later batch can read them either; the job fails
      } catch (const std::exception& e) {
        // Not lost: the next batch takes this one's records along with its own.
        error = e.what();
        blocks.clear();
        deferReplay(t, std::move(*replay));
      }
    } else if (!logged_later) {
      allocation = readNew(std::move(positions), blocks, error);
    }
    // Else batch t is one that took nothing before the crash (only batches that took records
    // are logged) and a later one is logged: it takes nothing again, or it would read what the
    // logged batches after it took, and they would count it twice.
    if (log_ && !replay && !allocation.ranges.empty()) {
      try {
        log_->append(t.milliseconds(), serialize(std::make_pair(t.milliseconds(), allocation)));
      } catch (const std::exception& e) {
        // Unlogged, the batch could not be repeated exactly after a crash: it takes nothing, and
        // the next batch reads the same records again.
        error = fmt::format("cannot log the batch's allocation: {}", e.what());
        blocks.clear();
        allocation = DirectAllocation{};
      }
    }
    long long records = 0;
    for (const auto& b : blocks) records += static_cast<long long>(b.size());
    this->core().reportInputRecords(t, this->id(), records);
    {
      std::lock_guard lock(input_mu_);
      for (const auto& [partition, end] : allocation.ends) positions_[partition] = end;
      ends_[t] = positions_;
      allocated_[t] = std::move(blocks);
      if (!allocation.ranges.empty()) ranges_[t] = std::move(allocation.ranges);
    }
    if (error) {
      reportError(*error);
    } else if (failing_) {
      failing_ = false;
      log(LogLevel::kInfo, fmt::format("{}: reading again", inputName()));
      // As a receiver that registers again after its restart: its row shows no error.
      postStatus(StreamingCore::ReceiverEvent::kStarted, std::nullopt);
    }
  }

  // Runs once each batch completed (once per output reading the stream, hence the guard).
  void clearMetadata(Time t) override {
    DStreamNode<Record>::clearMetadata(t);
    std::optional<DirectPositions> completed;
    {
      std::lock_guard lock(input_mu_);
      if (!completed_up_to_ || t > *completed_up_to_) {
        completed_up_to_ = t;
        if (auto it = ends_.find(t); it != ends_.end()) completed = it->second;
      }
    }
    if (completed) batchCompleted(t, *completed);
    std::lock_guard lock(input_mu_);
    const Time cutoff = t - this->rememberDuration();
    allocated_.erase(allocated_.begin(), allocated_.upper_bound(cutoff));
    ranges_.erase(ranges_.begin(), ranges_.upper_bound(cutoff));
    // The positions after the cutoff batch itself stay: with nothing to remember the cutoff is
    // the batch just completed, which a graceful stop checkpoints after this ran.
    ends_.erase(ends_.begin(), ends_.lower_bound(cutoff));
  }

  // The ranges of the remembered batches up to t (a restart recomputes the batches since the
  // stateful streams' last data checkpoints from them) and the positions after batch t. The
  // batches after t are in the allocation log.
  std::string checkpointData(Time t) override {
    std::lock_guard lock(input_mu_);
    std::map<std::int64_t, std::vector<DirectRange>> ranges;
    for (const auto& [time, r] : ranges_) {
      if (time <= t) ranges.emplace(time.milliseconds(), r);
    }
    DirectPositions after_t;
    if (auto it = ends_.upper_bound(t); it != ends_.begin()) after_t = std::prev(it)->second;
    return serialize(std::make_tuple(t.milliseconds(), ranges, after_t));
  }
  void restoreCheckpointData(std::string_view bytes) override {
    std::tuple<std::int64_t, std::map<std::int64_t, std::vector<DirectRange>>, DirectPositions>
        data;
    try {
      data = deserialize<decltype(data)>(bytes);
    } catch (const Error& e) {
      throw CheckpointError("Cannot restore the positions of " + inputName() + ": " + e.what());
    }
    auto& [time_ms, ranges, positions] = data;
    // The batches allocated after the checkpointed one, which a restart runs again as they were.
    std::map<Time, DirectAllocation> logged;
    openLog().readAll([&](const WalRecordHandle&, std::string_view payload) {
      std::pair<std::int64_t, DirectAllocation> record;
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
      for (const auto& [partition, end] : logged.rbegin()->second.ends) positions_[partition] = end;
    }
    logged_ = std::move(logged);
    // A partition dropped from the job since the checkpoint is forgotten; one added to it starts
    // where startPosition() says, at its first batch.
    std::erase_if(positions_, [&](const auto& p) {
      return std::find(partitions_.begin(), partitions_.end(), p.first) == partitions_.end();
    });
  }
  void checkpointsKeptFrom(Time oldest) override {
    // A restart resumes from one of the kept checkpoints and replays only allocations after it.
    if (log_) log_->clean(oldest.milliseconds());
  }

 protected:
  // Where a partition with no checkpointed position starts (auto.offset.reset). Throws
  // SourceError when the source cannot tell now.
  virtual std::string startPosition(const std::string& partition) = 0;
  // The records of `partition` after `position` up to the newest now, at most `limit`; `last`
  // gets the position of the last one returned. Throws SourceError.
  virtual std::vector<Record> readAfter(const std::string& partition,
                                        const std::string& position,
                                        std::optional<long long> limit, std::string& last) = 0;
  // Exactly the records of each range, one vector per range, on any thread; throws
  // CheckpointError when the source no longer holds them, SourceError when it cannot be read.
  virtual std::vector<std::vector<Record>> readAgain(const std::vector<DirectRange>& ranges) = 0;
  // The per-partition rate limit (records/s; <= 0: none), e.g. maxRatePerPartition.
  virtual double maxRatePerPartition() const = 0;
  // Batch t and its outputs completed; `positions` are the positions after it. On the batch
  // thread, outside the node's lock.
  virtual void batchCompleted(Time /*t*/, const DirectPositions& /*positions*/) {}

  // The records read for batch t; for a batch before a restart (recomputed because the state's
  // last data checkpoint is older), the same ranges read again. Its records were reported before
  // the restart: that batch is not run again, only its data feeds the state.
  std::optional<RDD<Record>> compute(Time t) override {
    std::vector<std::vector<Record>> blocks;
    std::vector<DirectRange> replay;
    {
      std::lock_guard lock(input_mu_);
      if (auto it = allocated_.find(t); it != allocated_.end()) {
        blocks = std::move(it->second);
        allocated_.erase(it);
      } else if (auto r = ranges_.find(t); r != ranges_.end()) {
        replay = r->second;
      }
    }
    if (!replay.empty()) blocks = readAgain(replay);
    return this->core().context().fromPartitions(std::move(blocks));
  }

 private:
  // Reads what follows each partition's position (at most the rate's share); `blocks` gets one
  // partition per one read, `error` the last error. Returns the ranges and the new positions.
  DirectAllocation readNew(DirectPositions positions, std::vector<std::vector<Record>>& blocks,
                           std::optional<std::string>& error) {
    DirectAllocation allocation;
    const std::optional<long long> cap = recordsPerPartition();
    for (const auto& partition : partitions_) {
      try {
        if (!positions.contains(partition)) {
          positions[partition] = startPosition(partition);  // deferred by an error at start
          continue;
        }
        DirectRange range{partition, positions[partition], positions[partition], 0};
        std::vector<Record> records = readAfter(partition, range.after, cap, range.last);
        range.count = static_cast<long long>(records.size());
        blocks.push_back(std::move(records));
        // A range can move the position without records (offsets taken by Kafka's
        // transaction markers).
        if (range.last != range.after) {
          allocation.ranges.push_back(range);
          positions[partition] = range.last;
        }
      } catch (const SourceError& e) {
        error = e.what();
        if (e.connectionLost()) break;
      } catch (const std::exception& e) {
        // A position the source should not have given, or no memory: this partition waits.
        error = fmt::format("{}: {}", partition, e.what());
      }
    }
    allocation.ends = std::move(positions);
    return allocation;
  }

  // A logged batch whose records could not be read again goes to the next batch time, merged
  // with what that batch had logged (whose ranges start where these end).
  void deferReplay(Time t, DirectAllocation replay) {
    std::lock_guard lock(input_mu_);
    auto [it, inserted] = logged_.try_emplace(t + this->slideDuration(), replay);
    if (inserted) return;
    DirectAllocation& next = it->second;
    for (auto& range : replay.ranges) {
      auto same = std::find_if(next.ranges.begin(), next.ranges.end(), [&](const DirectRange& r) {
        return r.partition == range.partition;
      });
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
      const StreamingConf& conf = this->core().conf();
      WriteAheadLogOptions options;
      options.file_system = this->core().fileSystem();
      options.rolling_interval_ms = conf.receiver_wal_rolling_interval.count();
      options.fsync_policy =
          conf.receiver_wal_fsync ? FsyncPolicy::kEveryRecord : FsyncPolicy::kNone;
      log_ = std::make_unique<WriteAheadLog>(this->core().checkpointDir() + "/directInput/" +
                                                 this->uid().value_or(std::to_string(this->id())),
                                             options);
    }
    return *log_;
  }

  // Records per partition for the next batch: maxRatePerPartition, and backpressure's rate
  // shared among the partitions, times the batch interval (at least 1, as Spark's direct Kafka
  // stream).
  std::optional<long long> recordsPerPartition() {
    std::optional<double> rate;
    const StreamingConf& conf = this->core().conf();
    if (maxRatePerPartition() > 0) rate = maxRatePerPartition();
    if (conf.backpressure) {
      std::lock_guard lock(input_mu_);
      std::optional<double> estimated = backpressure_rate_;
      if (!estimated && conf.backpressure_initial_rate > 0)
        estimated = conf.backpressure_initial_rate;
      if (estimated) {
        const double share = *estimated / static_cast<double>(partitions_.size());
        rate = rate ? std::min(*rate, share) : share;
      }
    }
    if (!rate) return std::nullopt;
    const double seconds = static_cast<double>(this->core().batchDuration().count()) / 1000.0;
    // Bounded so that the conversion cannot overflow; no batch reads 10^15 records anyway.
    const double records = std::min(std::floor(*rate * seconds), 1e15);
    return std::max<long long>(1, static_cast<long long>(records));
  }

  void reportError(const std::string& message) {
    if (!failing_) {
      log(LogLevel::kWarn, fmt::format("{}: {}; retrying at each batch", inputName(), message));
    }
    failing_ = true;
    postStatus(StreamingCore::ReceiverEvent::kError, message);
  }
  // The input's row among the receivers (UI, REST, listeners), with or without an error.
  void postStatus(StreamingCore::ReceiverEvent kind, const std::optional<std::string>& error) {
    ReceiverInfo info;
    info.stream_id = this->id();
    info.name = inputName();
    info.active = true;
    if (error) {
      info.last_error_message = *error;
      info.last_error = *error;
      info.last_error_time_ms = this->core().clock().nowMs();
    }
    this->core().postReceiverEvent(kind, info);
  }

  const std::vector<std::string> partitions_;
  bool failing_ = false;  // generator thread (and start(), before it runs)

  // With checkpointing: every batch's allocation, appended before the batch is queued. Set
  // before start(); the log itself is thread-safe.
  std::unique_ptr<WriteAheadLog> log_;

  std::mutex input_mu_;
  bool restored_ = false;
  DirectPositions positions_;                 // after the last allocated batch
  std::map<Time, DirectAllocation> logged_;   // restored: allocations after the checkpoint
  std::optional<double> backpressure_rate_;
  std::map<Time, std::vector<std::vector<Record>>> allocated_;
  std::map<Time, std::vector<DirectRange>> ranges_;  // batches that took records
  std::map<Time, DirectPositions> ends_;             // positions after each batch
  std::optional<Time> completed_up_to_;              // the newest batch batchCompleted() saw
};

}  // namespace sluice::detail
