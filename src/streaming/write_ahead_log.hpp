// The receiver write-ahead log (Spark's FileBasedWriteAheadLog, enabled by
// spark.streaming.receiver.writeAheadLog.enable): received blocks are written here before the
// receiver acknowledges them, so a driver that dies loses no acknowledged data.
//
// Layout. A log is one directory (e.g. <checkpoint>/receivedData/<streamId>) of rolling segment
// files named `log-<startMs>-<endMs>`, or `log-<startMs>-<endMs>.<n>` when that name is already
// taken (a restart whose clock starts again at the same time must never overwrite old records).
// The first append at time t opens a segment covering [t, t + rolling_interval); an append at a
// time at or past the segment's end closes it and opens the next one. Times are the caller's
// (batch or block times), never read from a clock. Every record of a segment has a time below its
// end, which is what makes clean(threshold) safe. Segments are read in the order of (start, end,
// n). A log opened over an existing directory never writes into the old segments: its first append
// opens a new one.
//
// Record format, little-endian: [u32 payload length][u32 masked CRC-32C of the payload][payload].
// The CRC is masked as LevelDB masks it (rotated right by 15 bits plus 0xa282ead8) because the
// CRC-32C of an empty payload is 0: a zero-filled tail, which some file systems expose after a
// crash, would otherwise read as a run of valid empty records.
//
// Durability. With FsyncPolicy::kEveryRecord (the default) append() returns only after the record
// and, for a new segment, the directory entry naming it were fdatasync'ed: the record survives a
// process kill and a machine crash. That is why the receiver supervisor appends a block *before*
// store() returns and the block is acknowledged to its source: once the source may forget the
// data, the log is the only copy. With kNone the record is handed to the OS only: it survives a
// process kill but the last records may be lost (or torn) on a machine crash. close() syncs under
// both policies. A failed append (IOError) leaves every earlier record intact: the segment is cut
// back to its last complete record where possible, and never written again; the next append opens
// a new segment.
//
// Recovery. readAll() visits every intact record. A record cut short by a crash mid-write (its
// header or payload runs past the end of the file), or whose CRC fails while only zero bytes (or
// none) follow it, is a torn tail: it is cut off with FileSystem::truncate and a warning is logged.
// This applies to every segment not being written by this log, not only the last one, since each
// crash leaves at most one torn segment and it stops being the last once the restarted process
// rolls a new one. A bad record in the middle of a segment is corruption: a warning names the file
// and offset and the rest of that segment is skipped. Lengths are bounded by the file size, so a
// corrupt length never causes a huge allocation.
//
// Only one WriteAheadLog may write a directory at a time (as in Spark).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "io/file_system.hpp"

namespace sluice::detail {

// Where one record lies: Spark's FileBasedWriteAheadLogSegment. Plain value; any thread.
struct WalRecordHandle {
  std::string path;          // the segment file
  std::uint64_t offset = 0;  // of the record's header within the segment
  std::uint32_t length = 0;  // of the payload, in bytes

  bool operator==(const WalRecordHandle&) const = default;
};

enum class FsyncPolicy {
  kEveryRecord,  // fdatasync before append() returns: survives a machine crash
  kNone,         // leave flushing to the OS: survives a process kill, not a machine crash
};

// How a WriteAheadLog rolls and syncs. Plain value; any thread.
struct WriteAheadLogOptions {
  // spark.streaming.receiver.writeAheadLog.rollingIntervalSecs, in milliseconds.
  std::int64_t rolling_interval_ms = 60'000;
  FsyncPolicy fsync_policy = FsyncPolicy::kEveryRecord;
  std::shared_ptr<FileSystem> file_system;  // null: FileSystem::local()
};

// What one readAll() found. Plain value.
struct WalReadStats {
  std::size_t records = 0;           // intact records passed to the callback
  std::size_t torn_tails = 0;        // segments whose torn last record was cut off
  std::size_t corrupt_segments = 0;  // segments whose rest was skipped after a bad record
};

// A directory of rolling, checksummed segment files (see above).
// Thread-safety: every method may be called from any thread concurrently; appends are serialized
// by one mutex (held across the fdatasync). readAll() sees a snapshot of the segments that existed
// when it listed the directory; its callback runs without the mutex and may call append().
class WriteAheadLog {
 public:
  // Creates the directory when missing. Throws InvalidArgumentError for a non-positive rolling
  // interval and IOError when the directory cannot be created.
  explicit WriteAheadLog(std::string directory, WriteAheadLogOptions options = {});
  // Closes the log; an error is logged, not thrown.
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Appends one record for time `time_ms` and makes it durable per the fsync policy before
  // returning. Throws IOError when writing or syncing fails (earlier records stay readable),
  // InvalidArgumentError for a payload of 4 GiB or more, IllegalStateError after close().
  WalRecordHandle append(std::int64_t time_ms, std::string_view payload);

  // The payload of one record, its CRC verified. Throws CheckpointError when the record is out of
  // the file's bounds or fails its CRC, FileNotFoundError when its segment was cleaned, IOError
  // when the file cannot be read.
  // Reads the whole segment file, as FileSystem has no ranged read.
  std::string read(const WalRecordHandle& handle) const;

  // Calls `callback` with every intact record of every segment, in order; the payload view is
  // valid during the call only. Cuts torn tails off and skips corrupt segment rests (see above).
  // Throws IOError only when a segment cannot be listed or read at all.
  using RecordCallback =
      std::function<void(const WalRecordHandle& handle, std::string_view payload)>;
  WalReadStats readAll(const RecordCallback& callback);

  // Deletes the segments whose end time is below `threshold_ms` (Spark's clean(threshTime)),
  // except the segment being written. Errors are logged, not thrown.
  void clean(std::int64_t threshold_ms);

  // Syncs and closes the segment being written. Later appends throw IllegalStateError; read,
  // readAll and clean still work. Idempotent. Throws IOError when the final sync or close fails.
  void close();

  const std::string& directory() const noexcept { return directory_; }

 private:
  // Closes the active segment (syncing it when `sync`), leaving no active segment.
  void closeActiveLocked(bool sync);
  void openSegmentLocked(std::int64_t time_ms);

  const std::string directory_;
  const std::int64_t rolling_interval_ms_;
  const FsyncPolicy fsync_policy_;
  const std::shared_ptr<FileSystem> fs_;

  mutable std::mutex mu_;
  std::unique_ptr<WritableFile> active_;  // guarded by mu_; null before the first append
  std::string active_path_;               // guarded by mu_; empty when there is no active segment
  std::int64_t active_end_ms_ = 0;        // guarded by mu_
  std::uint64_t active_size_ = 0;         // guarded by mu_: bytes of complete records written
  bool closed_ = false;                   // guarded by mu_
};

}  // namespace sluice::detail
