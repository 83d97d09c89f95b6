// cogroup and the joins built on it: join, leftOuterJoin, rightOuterJoin, fullOuterJoin,
// subtractByKey. Both sides are hash-partitioned by key (a side already partitioned that way is
// read directly), then each output partition groups the values of both sides by key.
#pragma once

#include <sluice/rdd.hpp>
#include <sluice/rdd/shuffle.hpp>

namespace sluice {
namespace detail {

// One side of a cogroup: either a shuffle into the target partitioning or a parent that already
// has it.
template <class K, class V>
class KeyedSide {
 public:
  KeyedSide(NodePtr<std::pair<K, V>> parent, int num_partitions) {
    if (parent->hashPartitions() == num_partitions) {
      parent_ = std::move(parent);
    } else {
      auto make_fn = hashPartitionFn<K>(num_partitions);
      dep_ = std::make_shared<PartitioningShuffle<std::pair<K, V>, decltype(make_fn)>>(
          std::move(parent), make_fn, num_partitions);
    }
  }
  void visit(const DependencyVisitor& visitor) const {
    if (parent_) {
      visitor.narrow(*parent_);
    } else {
      visitor.shuffle(*dep_);
    }
  }
  // Calls f(pair&) for every record of `partition`; records may be moved from.
  template <class F>
  void forEach(TaskContext& tc, int partition, F f) const {
    if (parent_) {
      auto body = [&](std::span<std::pair<K, V>> chunk) {
        for (auto& kv : chunk) f(kv);
      };
      LambdaSink<std::pair<K, V>, decltype(body)> sink(body);
      parent_->iterate(tc, partition, sink);
      return;
    }
    auto blocks = parent_runtime().shuffleService().fetch(dep_->shuffleId(), partition);
    countShuffleRead(tc, blocks);
    for (const auto& block : blocks) {
      for (auto kv : bucketOf<std::pair<K, V>>(block)) f(kv);
    }
  }

 private:
  Runtime& parent_runtime() const { return dep_->mapSide().runtime(); }
  NodePtr<std::pair<K, V>> parent_;
  std::shared_ptr<ShuffleDependencyBase> dep_;
};

template <class K, class V, class W>
using CoGrouped = std::pair<K, std::pair<std::vector<V>, std::vector<W>>>;

template <class K, class V, class W>
class CoGroupNode final : public Node<CoGrouped<K, V, W>> {
 public:
  CoGroupNode(NodePtr<std::pair<K, V>> left, NodePtr<std::pair<K, W>> right, int num_partitions)
      : Node<CoGrouped<K, V, W>>(left->runtimePtr(), num_partitions),
        left_(std::move(left), num_partitions),
        right_(std::move(right), num_partitions) {
    this->setHashPartitions(num_partitions);
  }
  void visitDependencies(const DependencyVisitor& visitor) override {
    left_.visit(visitor);
    right_.visit(visitor);
  }

 protected:
  void compute(TaskContext& tc, int partition, Sink<CoGrouped<K, V, W>>& out) override {
    using Groups = std::pair<std::vector<V>, std::vector<W>>;
    CombinerMap<K, Groups> groups;
    left_.forEach(tc, partition, [&](std::pair<K, V>& kv) {
      groups[kv.first].first.push_back(std::move(kv.second));
    });
    right_.forEach(tc, partition, [&](std::pair<K, W>& kw) {
      groups[kw.first].second.push_back(std::move(kw.second));
    });
    ChunkBuffer<CoGrouped<K, V, W>> buf(out);
    drainMap(groups, [&](K&& k, Groups&& g) { buf.emplace(std::move(k), std::move(g)); });
    buf.flush();
  }

 private:
  KeyedSide<K, V> left_;
  KeyedSide<K, W> right_;
};

template <class T, class K2>
void checkJoinKeys() {
  static_assert(PairType<T>, "joins need RDDs of std::pair<K, V>");
  static_assert(std::is_same_v<typename T::first_type, K2>,
                "joins need both RDDs to have the same key type");
}

}  // namespace detail

template <class T>
template <class K2, class W>
auto RDD<T>::cogroup(const RDD<std::pair<K2, W>>& other, int num_partitions) const {
  detail::checkJoinKeys<T, K2>();
  using K = typename T::first_type;
  using V = typename T::second_type;
  int n = detail::resolvePartitions(num_partitions, node_->runtime(), "cogroup");
  return RDD<detail::CoGrouped<K, V, W>>(
      std::make_shared<detail::CoGroupNode<K, V, W>>(node_, other.node(), n));
}

template <class T>
template <class K2, class W>
auto RDD<T>::join(const RDD<std::pair<K2, W>>& other, int num_partitions) const {
  using V = typename T::second_type;
  return cogroup(other, num_partitions).flatMapValues([](auto&& groups) {
    std::vector<std::pair<V, W>> out;
    out.reserve(groups.first.size() * groups.second.size());
    for (const auto& v : groups.first) {
      for (const auto& w : groups.second) out.emplace_back(v, w);
    }
    return out;
  });
}

template <class T>
template <class K2, class W>
auto RDD<T>::leftOuterJoin(const RDD<std::pair<K2, W>>& other, int num_partitions) const {
  using V = typename T::second_type;
  return cogroup(other, num_partitions).flatMapValues([](auto&& groups) {
    std::vector<std::pair<V, std::optional<W>>> out;
    for (const auto& v : groups.first) {
      if (groups.second.empty()) out.emplace_back(v, std::nullopt);
      for (const auto& w : groups.second) out.emplace_back(v, w);
    }
    return out;
  });
}

template <class T>
template <class K2, class W>
auto RDD<T>::rightOuterJoin(const RDD<std::pair<K2, W>>& other, int num_partitions) const {
  using V = typename T::second_type;
  return cogroup(other, num_partitions).flatMapValues([](auto&& groups) {
    std::vector<std::pair<std::optional<V>, W>> out;
    for (const auto& w : groups.second) {
      if (groups.first.empty()) out.emplace_back(std::nullopt, w);
      for (const auto& v : groups.first) out.emplace_back(v, w);
    }
    return out;
  });
}

template <class T>
template <class K2, class W>
auto RDD<T>::fullOuterJoin(const RDD<std::pair<K2, W>>& other, int num_partitions) const {
  using V = typename T::second_type;
  return cogroup(other, num_partitions).flatMapValues([](auto&& groups) {
    std::vector<std::pair<std::optional<V>, std::optional<W>>> out;
    if (groups.first.empty()) {
      for (const auto& w : groups.second) out.emplace_back(std::nullopt, w);
    } else if (groups.second.empty()) {
      for (const auto& v : groups.first) out.emplace_back(v, std::nullopt);
    } else {
      for (const auto& v : groups.first) {
        for (const auto& w : groups.second) out.emplace_back(v, w);
      }
    }
    return out;
  });
}

template <class T>
template <class K2, class W>
RDD<T> RDD<T>::subtractByKey(const RDD<std::pair<K2, W>>& other, int num_partitions) const {
  return cogroup(other, num_partitions).flatMapValues([](auto&& groups) {
    return groups.second.empty() ? std::move(groups.first) : decltype(groups.first){};
  });
}

}  // namespace sluice
