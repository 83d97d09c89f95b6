// Shuffle machinery shared by the wide operations. Two map sides:
//  - CombiningShuffle: map-side combine of (K, V) into one CombineTable per task, then split by the
//    hash partitioner into buckets of (K, C) with unique keys;
//  - PartitioningShuffle: routes each element to the bucket a partition function chooses.
// And the read side: ShuffleReadNode passes buckets through (after an optional whole-partition
// step such as a sort); CombinedReadNode merges combiners of equal keys.
// Map outputs belong to the dependency and are read by copy, so a later job can re-read them.
#pragma once

#include <sluice/rdd.hpp>
#include <sluice/rdd/combine_table.hpp>

namespace sluice::detail {

// A sink combining (K, V) pairs into `combined`: moved from when pushed, copied from when stored
// (and then only the keys that are new).
template <class K, class V, class C, class Agg>
auto combiningSink(CombineTable<K, C>& combined, Agg& agg) {
  auto body = [&](auto chunk) {
    for (auto& kv : chunk) {
      combined.upsert(
          std::move(kv.first), [&] { return agg.create(V(std::move(kv.second))); },
          [&](C& c) { agg.mergeValue(c, V(std::move(kv.second))); });
    }
  };
  return LambdaSink<std::pair<K, V>, decltype(body)>(body);
}

// Aggregator concept: create(V&&) -> C, mergeValue(C&, V&&), mergeCombiners(C&, C&&).
template <class K, class V, class C, class Agg>
class CombiningShuffle final : public ShuffleDependencyBase {
 public:
  using Bucket = std::vector<std::pair<K, C>>;
  CombiningShuffle(NodePtr<std::pair<K, V>> parent, Agg agg, int num_reduces)
      : ShuffleDependencyBase(parent->runtime(), parent->numPartitions(), num_reduces),
        parent_(std::move(parent)),
        agg_(std::move(agg)) {}
  NodeBase& mapSide() override { return *parent_; }
  const Agg& aggregator() const noexcept { return agg_; }

  void runMapTask(TaskContext& tc, int map_id) override {
    Agg agg = agg_;
    CombineTable<K, C> combined;
    auto sink = combiningSink<K, V>(combined, agg);
    parent_->iterate(tc, map_id, sink);
    if (tc.isCancelled()) return;
    const int reduces = numReduces();
    std::vector<std::shared_ptr<Bucket>> buckets(static_cast<std::size_t>(reduces));
    for (auto& b : buckets) {
      b = std::make_shared<Bucket>();
      if (reduces == 1) b->reserve(combined.size());
    }
    combined.drain([&](K&& k, C&& c) {
      int r = reduces == 1 ? 0 : partitionOf(k, reduces);
      buckets[static_cast<std::size_t>(r)]->emplace_back(std::move(k), std::move(c));
    });
    std::vector<ShuffleBlock> blocks;
    blocks.reserve(buckets.size());
    for (auto& b : buckets) blocks.push_back(ShuffleBlock{b, b->size()});
    countShuffleWrite(tc, blocks);
    runtime_.shuffleService().putMapOutput(shuffleId(), map_id, std::move(blocks));
  }

 private:
  NodePtr<std::pair<K, V>> parent_;
  Agg agg_;
};

// PartFn: int operator()(const T&) with a per-task state; created by make_fn(map_id).
template <class T, class MakePartFn>
class PartitioningShuffle final : public ShuffleDependencyBase {
 public:
  using Bucket = std::vector<T>;
  PartitioningShuffle(NodePtr<T> parent, MakePartFn make_fn, int num_reduces)
      : ShuffleDependencyBase(parent->runtime(), parent->numPartitions(), num_reduces),
        parent_(std::move(parent)),
        make_fn_(std::move(make_fn)) {}
  NodeBase& mapSide() override { return *parent_; }

  void runMapTask(TaskContext& tc, int map_id) override {
    auto part_fn = make_fn_(map_id);
    std::vector<std::shared_ptr<Bucket>> buckets(static_cast<std::size_t>(numReduces()));
    for (auto& b : buckets) b = std::make_shared<Bucket>();
    auto body = [&](auto chunk) {
      for (auto& x : chunk) {
        int r = part_fn(std::as_const(x));
        buckets[static_cast<std::size_t>(r)]->push_back(std::move(x));
      }
    };
    LambdaSink<T, decltype(body)> sink(body);
    parent_->iterate(tc, map_id, sink);
    if (tc.isCancelled()) return;
    std::vector<ShuffleBlock> blocks;
    blocks.reserve(buckets.size());
    for (auto& b : buckets) blocks.push_back(ShuffleBlock{b, b->size()});
    countShuffleWrite(tc, blocks);
    runtime_.shuffleService().putMapOutput(shuffleId(), map_id, std::move(blocks));
  }

 private:
  NodePtr<T> parent_;
  MakePartFn make_fn_;
};

template <class T>
const std::vector<T>& bucketOf(const ShuffleBlock& block) {
  return *static_cast<const std::vector<T>*>(block.data.get());
}

// Hash partitioning by key: the partitioner of every keyed operation.
template <class K>
auto hashPartitionFn(int num_reduces) {
  return [num_reduces](int) {
    return [num_reduces](const auto& kv) {
      return num_reduces == 1 ? 0 : partitionOf<K>(kv.first, num_reduces);
    };
  };
}

// Reads a PartitioningShuffle. `Post` (optional) gets the whole partition as a vector first.
template <class T, class Post>
class ShuffleReadNode final : public Node<T> {
 public:
  ShuffleReadNode(std::shared_ptr<ShuffleDependencyBase> dep, Post post)
      : Node<T>(dep->mapSide().runtimePtr(), dep->numReduces()),
        dep_(std::move(dep)),
        post_(std::move(post)) {}
  void visitDependencies(const DependencyVisitor& visitor) override { visitor.shuffle(*dep_); }

 protected:
  void compute(TaskContext& tc, int partition, Sink<T>& out) override {
    auto blocks = this->runtime().shuffleService().fetch(dep_->shuffleId(), partition);
    countShuffleRead(tc, blocks);
    if constexpr (std::is_same_v<Post, std::nullptr_t>) {
      for (const auto& block : blocks) pushStored(std::span<const T>(bucketOf<T>(block)), out, tc);
    } else {
      std::size_t total = 0;
      for (const auto& block : blocks) total += block.records;
      std::vector<T> items;
      items.reserve(total);
      for (const auto& block : blocks) {
        const auto& bucket = bucketOf<T>(block);
        items.insert(items.end(), bucket.begin(), bucket.end());
      }
      post_(items);
      for (std::size_t i = 0; i < items.size(); i += kChunkSize) {
        std::size_t n = std::min(kChunkSize, items.size() - i);
        out.push(std::span<T>(items.data() + i, n));
      }
    }
  }

 private:
  std::shared_ptr<ShuffleDependencyBase> dep_;
  Post post_;
};

// Reads a CombiningShuffle, merging the combiners of equal keys from different map tasks.
template <class K, class V, class C, class Agg>
class CombinedReadNode final : public Node<std::pair<K, C>> {
 public:
  using Dep = CombiningShuffle<K, V, C, Agg>;
  explicit CombinedReadNode(std::shared_ptr<Dep> dep)
      : Node<std::pair<K, C>>(dep->mapSide().runtimePtr(), dep->numReduces()),
        dep_(std::move(dep)) {
    this->setHashPartitions(dep_->numReduces());
  }
  void visitDependencies(const DependencyVisitor& visitor) override { visitor.shuffle(*dep_); }

 protected:
  void compute(TaskContext& tc, int partition, Sink<std::pair<K, C>>& out) override {
    using P = std::pair<K, C>;
    auto blocks = this->runtime().shuffleService().fetch(dep_->shuffleId(), partition);
    countShuffleRead(tc, blocks);
    int non_empty = 0;
    const ShuffleBlock* only = nullptr;
    std::size_t largest = 0;
    for (const auto& block : blocks) {
      if (block.records > 0) {
        ++non_empty;
        only = &block;
        largest = std::max(largest, block.records);
      }
    }
    if (non_empty == 0) return;
    if (non_empty == 1) {  // keys within one map output are already unique
      pushStored(std::span<const P>(bucketOf<P>(*only)), out, tc);
      return;
    }
    Agg agg = dep_->aggregator();
    CombineTable<K, C> merged;
    merged.reserve(largest);  // at least as many keys as the largest map output (unique keys)
    // Map outputs in map-task order (fetch's order), never completion order: the merged order,
    // first appearance in that sequence, is then a function of the input and the partitioning.
    for (const auto& block : blocks) {
      for (const P& kc : bucketOf<P>(block)) {
        merged.upsert(
            kc.first, [&] { return C(kc.second); },
            [&](C& c) { agg.mergeCombiners(c, C(kc.second)); });
      }
    }
    ChunkBuffer<P> buf(out);
    merged.drain([&](K&& k, C&& c) { buf.emplace(std::move(k), std::move(c)); });
    buf.flush();
  }

 private:
  std::shared_ptr<Dep> dep_;
};

// Combines a partition locally, for a parent already hash-partitioned the way the operation
// needs (Spark skips the shuffle then).
template <class K, class V, class C, class Agg>
class LocalCombineNode final : public Node<std::pair<K, C>> {
 public:
  LocalCombineNode(NodePtr<std::pair<K, V>> parent, Agg agg)
      : Node<std::pair<K, C>>(parent->runtimePtr(), parent->numPartitions()),
        parent_(std::move(parent)),
        agg_(std::move(agg)) {
    this->setHashPartitions(parent_->hashPartitions());
  }
  void visitDependencies(const DependencyVisitor& visitor) override { visitor.narrow(*parent_); }

 protected:
  void compute(TaskContext& tc, int partition, Sink<std::pair<K, C>>& out) override {
    Agg agg = agg_;
    CombineTable<K, C> combined;
    auto sink = combiningSink<K, V>(combined, agg);
    parent_->iterate(tc, partition, sink);
    ChunkBuffer<std::pair<K, C>> buf(out);
    combined.drain([&](K&& k, C&& c) { buf.emplace(std::move(k), std::move(c)); });
    buf.flush();
  }

 private:
  NodePtr<std::pair<K, V>> parent_;
  Agg agg_;
};

// Spark's aggregator from three user functions.
template <class V, class C, class Create, class MergeValue, class MergeCombiners>
struct FunctionAggregator {
  Create create_fn;
  MergeValue merge_value_fn;
  MergeCombiners merge_combiners_fn;
  C create(V&& v) { return create_fn(std::move(v)); }
  void mergeValue(C& c, V&& v) { c = merge_value_fn(std::move(c), std::move(v)); }
  void mergeCombiners(C& c, C&& other) { c = merge_combiners_fn(std::move(c), std::move(other)); }
};

// Hash-partitions (K, V) pairs into num_partitions and combines by key: the core of every keyed
// aggregation.
template <class K, class V, class C, class Agg>
NodePtr<std::pair<K, C>> combineByKeyNode(const NodePtr<std::pair<K, V>>& parent, Agg agg,
                                          int num_partitions) {
  if (parent->hashPartitions() == num_partitions) {
    return std::make_shared<LocalCombineNode<K, V, C, Agg>>(parent, std::move(agg));
  }
  auto dep =
      std::make_shared<CombiningShuffle<K, V, C, Agg>>(parent, std::move(agg), num_partitions);
  return std::make_shared<CombinedReadNode<K, V, C, Agg>>(std::move(dep));
}

}  // namespace sluice::detail
