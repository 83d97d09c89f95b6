// The state of stateful streams as an engine object: one store per (stateful stream, partition),
// versioned by batch time. Every stateful operation (updateStateByKey, mapWithState,
// the incremental reduceByKeyAndWindow) keeps its state here and changes it the same way:
// - the RDD a stateful stream generates for batch t is a *version*: an ordinary RDD whose task p
//   computes partition p's next state from the committed state (at `base`) and the input of every
//   batch since then, and keeps the result in the version;
// - every output of the batch reads that one result, so nothing is applied twice;
// - at the end of the batch, on the batch thread while no stage runs, the newest version whose
//   partitions all succeeded is committed; an incomplete one (a task threw) is dropped, so the
//   committed state stays at the previous batch and the next batch retries the failed batch's
//   records from there (Spark recomputes the failed state RDD from lineage to the same effect);
// - the committed state is what checkpoints save and restore, and what an MPI rank will own.
// Thread-safety: a version's partitions are computed by worker threads, each once (concurrent
// readers of one partition wait for the first); the committed state changes only in
// finishBatch(), which the streaming core calls between stages.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sluice/rdd.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/state_backend.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sluice::detail {

class StreamingCore;

// Estimated bytes of a value with what it owns on the heap: strings' buffers, the elements of
// containers and optionals, pairs and tuples' members; any other type counts its sizeof.
template <class T>
std::size_t deepBytes(const T& x) {
  if constexpr (std::is_same_v<T, std::string>) {
    return sizeof(T) + (x.capacity() > 15 ? x.capacity() + 1 : 0);  // beyond the inline buffer
  } else if constexpr (requires { x.first; x.second; }) {
    return deepBytes(x.first) + deepBytes(x.second) + sizeof(T) - sizeof(x.first) -
           sizeof(x.second);
  } else if constexpr (requires { x.has_value(); *x; }) {
    return x ? sizeof(T) - sizeof(*x) + deepBytes(*x) : sizeof(T);
  } else if constexpr (requires { x.begin(); x.end(); x.size(); }) {
    std::size_t n = sizeof(T);
    for (const auto& e : x) n += deepBytes(e);
    return n;
  } else {
    return sizeof(T);
  }
}

// A state's size from `keys` entries: the bytes of the first few entries that `sample_entries`
// offers (it calls f(bytes of an entry) until f returns false), scaled to all of them. Costs a
// few dozen entries, whatever the state's size.
template <class SampleEntries>
StateSize sampledStateSize(long long keys, SampleEntries&& sample_entries) {
  constexpr long long kSample = 64;
  long long sampled = 0;
  long long sampled_bytes = 0;
  sample_entries([&](std::size_t entry_bytes) {
    sampled_bytes += static_cast<long long>(entry_bytes);
    return ++sampled < kSample;
  });
  return {keys, sampled == 0 ? 0 : sampled_bytes * keys / sampled};
}

// One version of a store: batch time t's next state, computed from the committed state at base.
class StateVersionBase {
 public:
  // A detached version does not build on the committed state (a window computed from its
  // batches alone, out of sequence): always readable, never committed.
  StateVersionBase(Time time, std::optional<Time> base, int partitions, bool detached = false);
  virtual ~StateVersionBase();
  StateVersionBase(const StateVersionBase&) = delete;
  StateVersionBase& operator=(const StateVersionBase&) = delete;

  Time time() const noexcept { return time_; }
  const std::optional<Time>& base() const noexcept { return base_; }
  int numPartitions() const noexcept { return partitions_; }
  bool detached() const noexcept { return detached_; }
  // Runs compute() for partition p unless it already succeeded; a compute() that throws, or
  // whose task was cancelled meanwhile (its inputs then end early), leaves p to be tried again by
  // the next reader.
  void computeOnce(int p, const TaskContext& tc, const std::function<void()>& compute);
  bool complete() const noexcept;

 private:
  struct Slot;
  Time time_;
  std::optional<Time> base_;
  int partitions_;
  bool detached_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<int> done_{0};
};

// Where a checkpoint of batch `time` is being written; a backend that saves files of its own
// (RocksDB) puts them under `dir`, one directory per store.
struct StateSaveTarget {
  std::string dir;
  Time time;
};

class StateStoreBase {
 public:
  // `name` identifies the stream in messages and checkpoints (its uid).
  StateStoreBase(std::string kind, int partitions);
  virtual ~StateStoreBase();
  StateStoreBase(const StateStoreBase&) = delete;
  StateStoreBase& operator=(const StateStoreBase&) = delete;

  const std::string& kind() const noexcept { return kind_; }
  int numPartitions() const noexcept { return partitions_; }
  // The batch time of the committed state; none before the first commit.
  std::optional<Time> committedTime() const noexcept { return committed_; }

  // Called by the streaming core at the end of every batch, between stages: commits the newest
  // complete pending version whose base is the committed state, drops every other pending one.
  // Returns whether the committed state changed.
  bool finishBatch();

  // Committed state for checkpoints. In memory, `full`: every key; otherwise only the keys
  // changed since the last save (incremental), each with its value or as removed; clears the
  // change log. With a backend: the name of the backend's own checkpoint under target.dir.
  virtual std::string saveState(bool full, const StateSaveTarget& target) = 0;
  // Applies saved state in checkpoint order (a full save, then incremental ones); `dir` is the
  // target.dir the state was saved with. Throws DamagedStateError when the bytes do not decode or
  // the saved state is damaged, CheckpointError when it was saved by the other backend.
  virtual void restoreState(std::string_view bytes, bool full, const std::string& dir) = 0;

  // The committed state's key count and estimated size; batch thread, between batches.
  virtual StateSize stateSize() const = 0;

  // Keeps the committed state in `backend` from now on; called before the first batch and before
  // a restore, while the store is empty.
  void setBackend(std::shared_ptr<KeyValueBackend> backend) { backend_ = std::move(backend); }
  KeyValueBackend* backend() const noexcept { return backend_.get(); }
  void setCommittedTime(std::optional<Time> t) noexcept {
    committed_ = t;
    starts_empty_ = false;
  }
  // A stream new to the checkpoint it is restored from (it has a uid): no state yet, and the
  // batches up to t are not its own.
  void startEmptyAt(Time t) noexcept {
    committed_ = t;
    starts_empty_ = true;
  }
  // No batch has committed state yet, so the stream's initial state RDD (if any) is still to be
  // loaded, by the next version.
  bool awaitsInitialState() const noexcept { return !committed_ || starts_empty_; }

 protected:
  // A version the next finishBatch() may commit.
  void addPending(std::shared_ptr<StateVersionBase> version);
  // Makes `version` the committed state (it is complete and its base is the committed time).
  virtual void commit(StateVersionBase& version) = 0;
  // Batch t found no state and no input: if nothing else commits, the (empty) state is
  // committed at t, so a restart does not replay the batches before it.
  void noteEmpty(Time t) noexcept { empty_at_ = t; }
  // Throws when version's base is no longer the committed state: its inputs were computed
  // against state that has moved on (an RDD of a dropped or superseded version read late).
  void checkReadable(const StateVersionBase& version) const;

  // The backend's checkpoint as saved bytes.
  std::string saveBackend(const StateSaveTarget& target);
  // Restores the backend from saved bytes, moving keys to the partitions their hash gives when
  // the saved state had another partition count.
  template <class K>
  void restoreBackend(std::string_view bytes, const std::string& dir) {
    const int n = partitions_;
    restoreBackendWith(bytes, dir,
                       [n](std::string_view key) { return partitionOf(deserialize<K>(key), n); });
  }
  // Writes a committed version's changes to the backend in one atomic batch: for each partition
  // p, changes_of(p) lists (key, new value), no value for a removed key.
  template <class ChangesOf>
  void commitToBackend(ChangesOf&& changes_of) {
    std::vector<KeyValueBackend::Write> writes;
    for (int p = 0; p < partitions_; ++p) {
      for (const auto& [key, value] : changes_of(p)) {
        writes.push_back(
            {p, serialize(key), value ? std::optional(serialize(*value)) : std::nullopt});
      }
    }
    backend_->write(writes);
  }
  // Throws CheckpointError when in-memory bytes came from a backend.
  void checkInMemoryFormat(std::string_view bytes) const;

 private:
  void restoreBackendWith(std::string_view bytes, const std::string& dir,
                          const std::function<int(std::string_view)>& partition_of);

  std::shared_ptr<KeyValueBackend> backend_;
  std::string kind_;
  int partitions_;
  std::optional<Time> committed_;
  bool starts_empty_ = false;
  std::optional<Time> empty_at_;
  std::vector<std::shared_ptr<StateVersionBase>> pending_;
};

// Reads partition p of a version: runs `body(tc, p, out)` over the version's inputs, which are the
// node's narrow dependencies (their shuffles run first as for any stage).
template <class T, class Body>
class StateVersionNode final : public Node<T> {
 public:
  StateVersionNode(std::shared_ptr<Runtime> runtime, int partitions,
                   std::vector<std::shared_ptr<NodeBase>> inputs, Body body)
      : Node<T>(std::move(runtime), partitions),
        inputs_(std::move(inputs)),
        body_(std::move(body)) {
    this->setHashPartitions(partitions);
  }
  void visitDependencies(const DependencyVisitor& visitor) override {
    for (auto& input : inputs_) visitor.narrow(*input);
  }

 protected:
  void compute(TaskContext& tc, int partition, Sink<T>& out) override { body_(tc, partition, out); }

 private:
  std::vector<std::shared_ptr<NodeBase>> inputs_;
  Body body_;
};

// The parent's RDDs that a stateful stream may still read: those of batches the committed state
// does not include yet (a failed batch's input stays here until a later version commits, so its
// records are retried, as Spark recomputes a failed state RDD from lineage) and, for a window,
// those still inside the committed window. Held RDDs are reused; the others are asked of the
// parent (after a restart they are regenerated from the recorded input). Batch thread only.
template <class T>
class HeldInputs {
 public:
  // The parent's RDD (or none) at every time of its grid in (after, to], oldest first.
  std::vector<std::pair<Time, std::optional<RDD<T>>>> range(DStreamNode<T>& parent, Time after,
                                                            Time to) {
    std::vector<std::pair<Time, std::optional<RDD<T>>>> inputs;
    for (Time u = after + parent.slideDuration(); u <= to; u = u + parent.slideDuration()) {
      auto it = held_.find(u);
      if (it == held_.end()) it = held_.emplace(u, parent.getOrCompute(u)).first;
      inputs.push_back(*it);
    }
    return inputs;
  }
  void forgetUpTo(Time t) { held_.erase(held_.begin(), held_.upper_bound(t)); }

 private:
  std::map<Time, std::optional<RDD<T>>> held_;
};

// Decodes checkpointed state, turning a decoding failure into DamagedStateError.
template <class T>
T decodeState(std::string_view bytes, const std::string& store) {
  try {
    return deserialize<T>(bytes);
  } catch (const Error& e) {
    throw DamagedStateError("Cannot restore the state of " + store + ": " + e.what());
  }
}

}  // namespace sluice::detail
