// Where a state store keeps its committed state. By default, in memory (the stores' own hash maps);
// with sluice.streaming.stateBackend=rocksdb, in a KeyValueBackend: an embedded RocksDB database
// on local disk, so that state larger than memory spills to disk (seed 002), and whose checkpoints
// are RocksDB checkpoints (hard links to its immutable files: a checkpoint costs the files written
// since the previous one, not the state's size).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <sluice/error.hpp>
#include <sluice/streaming/time.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

class FileSystem;

// How big a store's committed state is, for the web UI and metrics: its key count and an
// estimate of its size in bytes (in memory: sampled entries times the key count; with the rocksdb
// backend: the database's own estimates of keys and of table and memtable bytes).
struct StateSize {
  long long keys = 0;
  long long bytes = 0;
};

// A saved state that cannot be read back (missing, truncated, corrupt), as opposed to one that
// does not fit the running graph or configuration: recovery then tries an older checkpoint.
class DamagedStateError : public CheckpointError {
 public:
  using CheckpointError::CheckpointError;
};

// The committed state of one store, by partition, its keys and values in their serialized form.
// Thread-safety: get() and scan() may run on any number of threads at once, but not beside
// write(), restore() or repartition(), which the store calls only between stages (finishBatch)
// or before the first batch. checkpoint() may run beside readers.
class KeyValueBackend {
 public:
  // A key of a partition set to a value, or removed (no value).
  struct Write {
    int partition;
    std::string key;
    std::optional<std::string> value;
  };

  virtual ~KeyValueBackend() = default;

  // The value of `key` in `partition`, if any.
  virtual std::optional<std::string> get(int partition, std::string_view key) const = 0;
  // Calls f(key, value) for every key of `partition`, in key order, while f returns true.
  virtual void scan(int partition,
                    const std::function<bool(std::string_view, std::string_view)>& f) const = 0;
  // Applies every write, atomically.
  virtual void write(const std::vector<Write>& writes) = 0;

  // Saves the committed state as a new directory under `dir`, named after the checkpoint time
  // `t`; returns its name. The directory holds hard links to the database's immutable files.
  virtual std::string checkpoint(const std::string& dir, Time t) = 0;
  // Replaces the state by the one saved as `name` under `dir`, after checking every block of it.
  // Throws DamagedStateError when it is missing, unreadable or corrupt.
  virtual void restore(const std::string& dir, const std::string& name) = 0;
  // The partition count the state was saved with (by checkpoint(); -1 before any).
  virtual int savedPartitions() const = 0;
  // Moves every key to partition_of(key) among `partitions` partitions.
  virtual void repartition(int partitions,
                           const std::function<int(std::string_view)>& partition_of) = 0;
  // Cheap estimates (no scan of the keys); may run beside readers.
  virtual StateSize approximateSize() const = 0;
};

// Opens a fresh RocksDB database for one store under `local_dir` (created when missing); `name`
// (the store's identity) appears in its directory's name. The directory is removed when the
// backend is destroyed: the durable copy of the state is the checkpoint. The database writes its
// files through `fs` (the context's file layer; FileSystem::local() when null). Throws Error when
// the database cannot be opened.
std::shared_ptr<KeyValueBackend> openRocksDbBackend(const std::string& local_dir,
                                                    const std::string& name, int partitions,
                                                    std::shared_ptr<FileSystem> fs = nullptr);

// `identity` as a file name: letters, digits, '.', '-' and '_' kept, other bytes as %XX.
std::string stateFileName(std::string_view identity);

// Removes the saved states under `dir` (one directory per store, as checkpoint() names them)
// whose checkpoint time is before `oldest`: no kept checkpoint file refers to them.
void removeSavedStatesBefore(const std::string& dir, Time oldest);

}  // namespace sluice::detail
