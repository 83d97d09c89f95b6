// Engine internals that RDD templates call into: the task scheduler, the cache's block store and
// the shuffle service. Implemented in src/; users never touch these directly.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sluice/error.hpp>
#include <sluice/listener.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

class Runtime;
class ListenerBus;

// What a running task knows about itself. One per task; not shared between threads.
struct TaskContext {
  Runtime* runtime = nullptr;
  int stage_id = 0;
  int partition = 0;
  const std::atomic<bool>* cancelled = nullptr;
  TaskMetrics metrics;  // filled in as the task runs; reported in its onTaskEnd
  bool isCancelled() const noexcept {
    return cancelled != nullptr && cancelled->load(std::memory_order_relaxed);
  }
};

// Cached partitions by (rdd id, partition). Any thread may call any method.
class BlockStore {
 public:
  std::shared_ptr<const void> get(int rdd_id, int partition) const;
  void put(int rdd_id, int partition, std::shared_ptr<const void> block);
  // Drops one block, as memory pressure would; lineage recomputes it on the next read.
  void evict(int rdd_id, int partition);
  void removeRdd(int rdd_id);
  bool containsAll(int rdd_id, int num_partitions) const;
  std::size_t blockCount() const;

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<std::pair<int, int>, std::shared_ptr<const void>> blocks_;
};

// One map task's output for one reduce partition. `data` points at a typed bucket known to the
// shuffle's writer and reader (a std::vector of records); `records` is its length.
struct ShuffleBlock {
  std::shared_ptr<void> data;
  std::size_t records = 0;
};

// Moves map outputs to reducers. The in-process implementation hands buckets over by pointer; a
// distributed one (MPI) serializes them. Nothing above this interface knows which one runs.
// Every method may be called from any thread.
class ShuffleService {
 public:
  virtual ~ShuffleService() = default;
  virtual void registerShuffle(int shuffle_id, int num_maps, int num_reduces) = 0;
  virtual void unregisterShuffle(int shuffle_id) = 0;
  // Stores map task `map_id`'s buckets, one per reduce partition, replacing an earlier attempt's.
  virtual void putMapOutput(int shuffle_id, int map_id, std::vector<ShuffleBlock> buckets) = 0;
  // True once every map task of the shuffle has stored its output.
  virtual bool isComplete(int shuffle_id) const = 0;
  // The blocks for one reduce partition, in map-task order.
  virtual std::vector<ShuffleBlock> fetch(int shuffle_id, int reduce_id) const = 0;
};

// Counts a map task's shuffle output and a reduce task's fetched blocks in the task's metrics.
inline void countShuffleWrite(TaskContext& tc, const std::vector<ShuffleBlock>& blocks) {
  for (const auto& b : blocks)
    tc.metrics.shuffle_records_written += static_cast<long long>(b.records);
}
inline void countShuffleRead(TaskContext& tc, const std::vector<ShuffleBlock>& blocks) {
  for (const auto& b : blocks) tc.metrics.shuffle_records_read += static_cast<long long>(b.records);
}

using TaskFunction = std::function<void(TaskContext&, int task_index)>;

// The shared state behind a Context: worker threads, ids, block store, shuffle service.
// Thread-safe; RDD nodes keep it alive through shared pointers.
class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual int parallelism() const = 0;
  virtual int newRddId() = 0;
  virtual int newShuffleId() = 0;
  virtual BlockStore& blockStore() = 0;
  virtual ShuffleService& shuffleService() = 0;
  // Runs task(i) for i in [0, partitions.size()) on the worker threads, TaskContext::partition
  // being partitions[i]. The first exception cancels the stage and is rethrown as JobFailedError.
  // The stage of the calling thread's innermost job (see beginJob), or of none.
  virtual void runStage(std::string_view description, std::span<const int> partitions,
                        const TaskFunction& task) = 0;
  // A job is an action's stages: beginJob returns its id and makes it the calling thread's
  // current job until endJob (jobs nest: an action run while preparing another). `failure` is
  // null for a job that succeeded.
  virtual int beginJob(std::string_view description) = 0;
  virtual void endJob(int job_id, const std::exception_ptr& failure) = 0;
  // Spark's local properties: per thread, copied into each job the thread submits.
  virtual void setLocalProperty(const std::string& key,
                                const std::optional<std::string>& value) = 0;
  virtual std::optional<std::string> getLocalProperty(const std::string& key) const = 0;
  virtual ListenerBus& listenerBus() = 0;
  virtual bool isStopped() const = 0;
  void checkActive() const {
    if (isStopped()) {
      throw IllegalStateError("Cannot call methods on a stopped Context; create a new Context");
    }
  }
};

}  // namespace sluice::detail
