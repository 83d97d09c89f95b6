// The records of a receiver's write-ahead log (see ReceivedBlockLog in receiver.hpp): a block is
// (kBlock, its sequence number, its time, its encoded records); an allocation is (kAllocation,
// the sequence number after the batch's last block, the batch time, nothing). Blocks are numbered
// in the order they entered the receiver's buffer, and a batch takes every block not yet taken,
// so the allocations cut the sequence into consecutive ranges.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/receiver.hpp>
#include <tuple>

#include "core/crash_point.hpp"
#include "streaming/write_ahead_log.hpp"

namespace sluice::detail {
namespace {

enum RecordKind : std::uint8_t { kBlock = 0, kAllocation = 1 };
using LogRecord = std::tuple<std::uint8_t, std::uint64_t, std::int64_t, std::string>;

WriteAheadLogOptions walOptions(const StreamingConf& conf, std::shared_ptr<FileSystem> fs) {
  WriteAheadLogOptions options;
  options.file_system = std::move(fs);
  options.rolling_interval_ms = conf.receiver_wal_rolling_interval.count();
  options.fsync_policy = conf.receiver_wal_fsync ? FsyncPolicy::kEveryRecord : FsyncPolicy::kNone;
  return options;
}

}  // namespace

struct ReceivedBlockLog::Impl {
  Impl(std::string dir, const StreamingConf& conf, std::shared_ptr<FileSystem> fs)
      : wal(std::move(dir), walOptions(conf, std::move(fs))) {}
  WriteAheadLog wal;
  std::mutex mu;
  std::uint64_t next_seq = 0;     // guarded by mu
  std::int64_t last_time_ms = 0;  // guarded by mu: of the newest record; times never go back
  // Per allocated batch, the time of its newest block (guarded by mu): see noteCheckpoint.
  std::map<Time, std::int64_t> newest_time;
  // Per checkpoint, the time below which a restart from it needs no segment (guarded by mu).
  std::map<Time, std::int64_t> clean_before;
};

ReceivedBlockLog::ReceivedBlockLog(std::string directory, const StreamingConf& conf,
                                   std::shared_ptr<FileSystem> fs)
    : impl_(std::make_unique<Impl>(std::move(directory), conf, std::move(fs))) {}

ReceivedBlockLog::~ReceivedBlockLog() = default;

const std::string& ReceivedBlockLog::directory() const { return impl_->wal.directory(); }

std::uint64_t ReceivedBlockLog::appendBlock(std::int64_t now_ms, std::string bytes) {
  std::lock_guard lock(impl_->mu);
  const std::int64_t time = std::max(now_ms, impl_->last_time_ms);
  const std::uint64_t seq = impl_->next_seq;
  impl_->wal.append(time, serialize(LogRecord(kBlock, seq, time, std::move(bytes))));
  impl_->last_time_ms = time;
  crashPoint("block-logged");
  return impl_->next_seq++;
}

std::uint64_t ReceivedBlockLog::appendAllocation(Time t) {
  std::lock_guard lock(impl_->mu);
  const std::uint64_t end = impl_->next_seq;
  const std::int64_t time = impl_->last_time_ms;
  impl_->wal.append(time, serialize(LogRecord(kAllocation, end, t.milliseconds(), {})));
  impl_->newest_time[t] = time;
  crashPoint("allocation-logged");
  return end;
}

std::uint64_t ReceivedBlockLog::nextSequence() const {
  std::lock_guard lock(impl_->mu);
  return impl_->next_seq;
}

void ReceivedBlockLog::noteCheckpoint(Time t, Time first_needed) {
  // Times never go back as sequence numbers go up, so a block older than the newest block of
  // the batch before `first_needed` was taken by that batch or an earlier one: a segment that
  // ends before that time holds nothing a restart from this checkpoint replays.
  std::lock_guard lock(impl_->mu);
  auto& newest = impl_->newest_time;
  auto it = newest.lower_bound(first_needed);
  if (it == newest.begin()) return;  // the batch before it is unknown here: nothing to clean
  impl_->clean_before[t] = std::prev(it)->second;
  newest.erase(newest.begin(), std::prev(it));
}

void ReceivedBlockLog::checkpointsKeptFrom(Time oldest) {
  std::int64_t threshold = std::numeric_limits<std::int64_t>::min();
  {
    std::lock_guard lock(impl_->mu);
    auto& marks = impl_->clean_before;
    auto it = marks.upper_bound(oldest);
    if (it == marks.begin()) return;
    threshold = std::prev(it)->second;
    marks.erase(marks.begin(), std::prev(it));
  }
  impl_->wal.clean(threshold);
}

ReceivedBlockLog::Replay ReceivedBlockLog::replay(std::optional<Time> restored,
                                                  const std::vector<Range>& completed,
                                                  std::uint64_t processed_end) {
  std::uint64_t first_needed = processed_end;
  for (const auto& r : completed) first_needed = std::min(first_needed, r.begin);
  std::map<std::uint64_t, std::string> blocks;
  std::vector<std::pair<Time, std::uint64_t>> allocations;
  std::uint64_t next_seq = 0;
  std::int64_t last_time = 0;
  std::size_t bad = 0;
  impl_->wal.readAll([&](const WalRecordHandle& handle, std::string_view payload) {
    LogRecord record;
    try {
      record = deserialize<LogRecord>(payload);
    } catch (const Error& e) {
      // The record's checksum held, so this is a record of another format: skipped loudly.
      ++bad;
      log(LogLevel::kWarn, fmt::format("Skipping an undecodable record of '{}' at offset {}: {}",
                                       handle.path, handle.offset, e.what()));
      return;
    }
    auto& [kind, seq, time, bytes] = record;
    if (kind == kBlock) {
      last_time = std::max(last_time, time);
      next_seq = std::max(next_seq, seq + 1);
      // A number logged twice means the first append failed after its bytes landed (its store
      // threw, or its block stayed unlogged): the later record is the real block.
      if (restored && seq >= first_needed) blocks[seq] = std::move(bytes);
    } else if (kind == kAllocation && restored && Time(time) > *restored) {
      allocations.emplace_back(Time(time), seq);
    }
  });
  Replay out;
  if (!restored) {
    // No checkpoint says which of these were processed: they belong to a run that is not being
    // resumed, and replaying them could count them twice.
    if (next_seq > 0) {
      log(LogLevel::kWarn,
          fmt::format("Discarding the write-ahead log in '{}' ({} blocks): no checkpoint of this "
                      "job says which of them were processed",
                      directory(), next_seq));
      impl_->wal.clean(std::numeric_limits<std::int64_t>::max());
    }
    return out;
  }
  std::size_t missing = 0;
  auto take = [&](Time time, std::uint64_t begin, std::uint64_t end) {
    Replay::Batch batch{time, begin, end, {}};
    for (std::uint64_t seq = begin; seq < end; ++seq) {
      auto it = blocks.find(seq);
      if (it == blocks.end()) {
        ++missing;
        continue;
      }
      batch.blocks.push_back(std::move(it->second));
      blocks.erase(it);
    }
    return batch;
  };
  for (const auto& r : completed) out.completed.push_back(take(r.time, r.begin, r.end));
  std::sort(allocations.begin(), allocations.end());
  std::uint64_t cursor = processed_end;
  for (auto& [time, end] : allocations) {
    if (!out.allocated.empty() && out.allocated.back().time == time) continue;  // logged twice
    out.allocated.push_back(take(time, cursor, std::max(cursor, end)));
    cursor = out.allocated.back().end;
  }
  for (auto it = blocks.lower_bound(cursor); it != blocks.end(); ++it) {
    out.unallocated.push_back(std::move(it->second));
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->next_seq = std::max(next_seq, processed_end);
    impl_->last_time_ms = last_time;
  }
  if (missing > 0) {
    // A segment was cleaned or skipped as corrupt (its warning names it).
    log(LogLevel::kError,
        fmt::format("{} logged blocks that batches to regenerate need are missing from '{}'",
                    missing, directory()));
  }
  std::size_t replayed = out.unallocated.size();
  for (const auto& b : out.allocated) replayed += b.blocks.size();
  log(LogLevel::kInfo,
      fmt::format("Replaying {} logged blocks from '{}' ({} batches regenerated with their "
                  "blocks{})",
                  replayed, directory(), out.allocated.size(),
                  bad > 0 ? fmt::format(", {} undecodable records skipped", bad) : ""));
  return out;
}

}  // namespace sluice::detail
