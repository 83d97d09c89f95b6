// The lineage graph behind RDD<T>. A Node<T> computes one partition by pushing chunks of elements
// into a Sink<T>; narrow operators are sinks that transform a chunk in an inlined loop and push the
// result on, so a stage is one pass per partition with one virtual call per chunk, not per element.
// Nodes are immutable once built and shared between RDD handles; compute() runs concurrently for
// different partitions.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <sluice/rdd/runtime.hpp>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice::detail {

inline constexpr std::size_t kChunkSize = 1024;

// Receives a partition's elements chunk by chunk. The receiver may move from the elements of a
// chunk given to push(); pushConst() gives stored elements (in-memory partitions, cached blocks,
// shuffle outputs) that must stay as they are. A sink that only reads its input overrides
// pushConst() and so saves a copy of every element; by default the chunk is copied and pushed.
template <class T>
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void push(std::span<T> chunk) = 0;
  virtual void pushConst(std::span<const T> chunk) {
    std::vector<T> copy(chunk.begin(), chunk.end());
    push(std::span<T>(copy));
  }
};

// Collects produced elements and hands them downstream a chunk at a time. Elements are built in
// place in raw storage, so a function's result lands in the chunk without an extra move.
template <class T>
class ChunkBuffer {
 public:
  explicit ChunkBuffer(Sink<T>& out) : out_(out), data_(std::allocator<T>().allocate(kChunkSize)) {}
  ChunkBuffer(const ChunkBuffer&) = delete;
  ChunkBuffer& operator=(const ChunkBuffer&) = delete;
  ~ChunkBuffer() {
    std::destroy_n(data_, size_);
    std::allocator<T>().deallocate(data_, kChunkSize);
  }

  template <class... Args>
  void emplace(Args&&... args) {
    std::construct_at(data_ + size_, std::forward<Args>(args)...);
    if (++size_ == kChunkSize) flush();
  }
  // Constructs the element directly from make()'s returned value (guaranteed copy elision).
  template <class Make>
  void emplaceResult(Make&& make) {
    ::new (static_cast<void*>(data_ + size_)) T(make());
    if (++size_ == kChunkSize) flush();
  }
  // Hands `chunk` downstream as is, after what is buffered, keeping the order.
  void pushThrough(std::span<T> chunk) {
    flush();
    if (!chunk.empty()) out_.push(chunk);
  }
  void flush() {
    if (size_ == 0) return;
    // Reset before pushing so that an exception downstream cannot destroy the elements twice.
    std::size_t n = std::exchange(size_, 0);
    struct Destroy {
      T* data;
      std::size_t n;
      ~Destroy() { std::destroy_n(data, n); }
    } destroy{data_, n};
    out_.push(std::span<T>(data_, n));
  }

 private:
  Sink<T>& out_;
  T* data_;
  std::size_t size_ = 0;
};

// Pushes stored `data`, which stays untouched, in chunks.
template <class T>
void pushStored(std::span<const T> data, Sink<T>& out, const TaskContext& tc) {
  for (std::size_t i = 0; i < data.size(); i += kChunkSize) {
    if (tc.isCancelled()) return;
    out.pushConst(data.subspan(i, std::min(kChunkSize, data.size() - i)));
  }
}

template <class T>
class VectorSink final : public Sink<T> {
 public:
  explicit VectorSink(std::vector<T>& out) : out_(out) {}
  void push(std::span<T> chunk) override {
    out_.insert(out_.end(), std::make_move_iterator(chunk.begin()),
                std::make_move_iterator(chunk.end()));
  }
  void pushConst(std::span<const T> chunk) override {
    out_.insert(out_.end(), chunk.begin(), chunk.end());
  }

 private:
  std::vector<T>& out_;
};

// A sink calling `f(span)` for every chunk; stored chunks go to f as std::span<const T> when f
// takes that (a generic `auto chunk`), else as copies.
template <class T, class F>
class LambdaSink final : public Sink<T> {
 public:
  explicit LambdaSink(F f) : f_(std::move(f)) {}
  void push(std::span<T> chunk) override { f_(chunk); }
  void pushConst(std::span<const T> chunk) override {
    if constexpr (std::is_invocable_v<F&, std::span<const T>>) {
      f_(chunk);
    } else {
      Sink<T>::pushConst(chunk);
    }
  }

 private:
  F f_;
};

// Invokes f with the element moved in when f accepts an rvalue, else with an lvalue (for
// functions taking a non-const reference).
template <class F, class T>
decltype(auto) callMove(F& f, T& x) {
  if constexpr (std::is_invocable_v<F&, T&&>) {
    return std::invoke(f, std::move(x));
  } else {
    return std::invoke(f, x);
  }
}

template <class F, class T>
using CallResult = std::decay_t<decltype(callMove(std::declval<F&>(), std::declval<T&>()))>;

// True when f can read a stored element in place: it is not generic (so asking is safe; a
// generic lambda's body could fail to compile for a const argument) and it takes `const T&`
// (or a copy).
template <class F, class T>
inline constexpr bool kReadsConst = [] {
  if constexpr (std::is_pointer_v<std::decay_t<F>> || std::is_function_v<std::remove_cvref_t<F>> ||
                requires { &std::decay_t<F>::operator(); }) {
    return std::is_invocable_v<F&, const T&>;
  }
  return false;
}();

template <class F, class T>
concept ElementFunction = std::is_invocable_v<F&, T&&> || std::is_invocable_v<F&, T&>;

class ShuffleDependencyBase;
class NodeBase;

// Visitor over a node's parents: narrow parents belong to the same stage, shuffle dependencies
// cut the lineage into stages.
struct DependencyVisitor {
  std::function<void(NodeBase&)> narrow;
  std::function<void(ShuffleDependencyBase&)> shuffle;
};

class NodeBase {
 public:
  NodeBase(std::shared_ptr<Runtime> runtime, int num_partitions)
      : runtime_(std::move(runtime)), id_(runtime_->newRddId()), num_partitions_(num_partitions) {}
  NodeBase(const NodeBase&) = delete;
  NodeBase& operator=(const NodeBase&) = delete;
  virtual ~NodeBase() {
    if (persisted_) runtime_->blockStore().removeRdd(id_);
  }

  int id() const noexcept { return id_; }
  int numPartitions() const noexcept { return num_partitions_; }
  Runtime& runtime() const noexcept { return *runtime_; }
  const std::shared_ptr<Runtime>& runtimePtr() const noexcept { return runtime_; }
  virtual void visitDependencies(const DependencyVisitor& visitor) = 0;

  void setPersisted(bool persisted) {
    if (persisted_ && !persisted) runtime_->blockStore().removeRdd(id_);
    persisted_ = persisted;
  }
  bool persisted() const noexcept { return persisted_; }
  bool fullyCached() const {
    return persisted_ && runtime_->blockStore().containsAll(id_, num_partitions_);
  }

  // Set when the node's pairs are placed by the hash partitioner with this many partitions, so a
  // keyed operation with the same partitioning needs no shuffle (Spark's `partitioner`).
  std::optional<int> hashPartitions() const noexcept { return hash_partitions_; }
  void setHashPartitions(std::optional<int> n) noexcept { hash_partitions_ = n; }

 private:
  std::shared_ptr<Runtime> runtime_;
  int id_;
  int num_partitions_;
  std::atomic<bool> persisted_{false};
  std::optional<int> hash_partitions_;
};

template <class T>
class Node : public NodeBase {
 public:
  using NodeBase::NodeBase;

  // Pushes partition `partition`'s elements into `out`, through the cache when persisted.
  void iterate(TaskContext& tc, int partition, Sink<T>& out) {
    if (!persisted()) {
      compute(tc, partition, out);
      return;
    }
    auto block = runtime().blockStore().get(id(), partition);
    if (!block) {
      auto data = std::make_shared<std::vector<T>>();
      VectorSink<T> sink(*data);
      compute(tc, partition, sink);
      if (tc.isCancelled()) return;
      block = data;
      runtime().blockStore().put(id(), partition, block);
    }
    const auto& data = *static_cast<const std::vector<T>*>(block.get());
    pushStored(std::span<const T>(data), out, tc);
  }

 protected:
  virtual void compute(TaskContext& tc, int partition, Sink<T>& out) = 0;
};

template <class T>
using NodePtr = std::shared_ptr<Node<T>>;

// The map side of a shuffle: runs once per parent partition and stores its buckets in the
// shuffle service. Map outputs live as long as the dependency, so later jobs reuse them.
class ShuffleDependencyBase {
 public:
  ShuffleDependencyBase(Runtime& runtime, int num_maps, int num_reduces)
      : runtime_(runtime),
        shuffle_id_(runtime.newShuffleId()),
        num_maps_(num_maps),
        num_reduces_(num_reduces) {
    runtime_.shuffleService().registerShuffle(shuffle_id_, num_maps, num_reduces);
  }
  ShuffleDependencyBase(const ShuffleDependencyBase&) = delete;
  ShuffleDependencyBase& operator=(const ShuffleDependencyBase&) = delete;
  virtual ~ShuffleDependencyBase() { runtime_.shuffleService().unregisterShuffle(shuffle_id_); }

  int shuffleId() const noexcept { return shuffle_id_; }
  int numMaps() const noexcept { return num_maps_; }
  int numReduces() const noexcept { return num_reduces_; }
  virtual NodeBase& mapSide() = 0;
  virtual void runMapTask(TaskContext& tc, int map_id) = 0;
  // Serializes materialization so concurrent jobs sharing the shuffle run its map stage once.
  std::mutex& materializeMutex() noexcept { return mu_; }
  bool isComplete() const { return runtime_.shuffleService().isComplete(shuffle_id_); }

 protected:
  Runtime& runtime_;

 private:
  int shuffle_id_;
  int num_maps_;
  int num_reduces_;
  std::mutex mu_;
};

// Runs the map stages of every shuffle `node` depends on that has no output yet, parents first.
void materializeShuffles(NodeBase& node);

// Runs a job on `partitions` of `node`: for each, `make_sink(task_index)` gives the sink that
// receives the partition; `finish(task_index, sink)` (or `finish(task_index, sink, tc)`) runs
// after the partition has been pushed.
template <class T, class MakeSink, class Finish>
void runJob(Node<T>& node, std::span<const int> partitions, std::string_view description,
            MakeSink make_sink, Finish finish) {
  Runtime& runtime = node.runtime();
  runtime.checkActive();
  const int job_id = runtime.beginJob(description);
  try {
    materializeShuffles(node);
    runtime.runStage(description, partitions, [&](TaskContext& tc, int task_index) {
      auto sink = make_sink(task_index);
      node.iterate(tc, tc.partition, sink);
      if (tc.isCancelled()) return;
      if constexpr (std::is_invocable_v<Finish&, int, decltype(sink)&, TaskContext&>) {
        finish(task_index, sink, tc);
      } else {
        finish(task_index, sink);
      }
    });
  } catch (...) {
    runtime.endJob(job_id, std::current_exception());
    throw;
  }
  runtime.endJob(job_id, nullptr);
}

std::vector<int> allPartitions(int num_partitions);

}  // namespace sluice::detail
