// Operations on the partition structure: unionWith, coalesce, repartition, zipWithIndex, sample.
#pragma once

#include <random>
#include <sluice/rdd.hpp>
#include <sluice/rdd/shuffle.hpp>

namespace sluice {
namespace detail {

// Partition p of a union is partition (p - offset) of the parent whose range holds p.
template <class T>
class UnionNode final : public Node<T> {
 public:
  UnionNode(std::shared_ptr<Runtime> runtime, std::vector<NodePtr<T>> parents)
      : Node<T>(std::move(runtime), totalPartitions(parents)), parents_(std::move(parents)) {}
  void visitDependencies(const DependencyVisitor& visitor) override {
    for (auto& p : parents_) visitor.narrow(*p);
  }

 protected:
  void compute(TaskContext& tc, int partition, Sink<T>& out) override {
    for (auto& parent : parents_) {
      if (partition < parent->numPartitions()) {
        parent->iterate(tc, partition, out);
        return;
      }
      partition -= parent->numPartitions();
    }
  }

 private:
  static int totalPartitions(const std::vector<NodePtr<T>>& parents) {
    int n = 0;
    for (const auto& p : parents) n += p->numPartitions();
    return n;
  }
  std::vector<NodePtr<T>> parents_;
};

// The union of `rdds` in order (Spark's SparkContext.union); no partitions for an empty list.
template <class T>
RDD<T> unionAll(const std::shared_ptr<Runtime>& runtime, const std::vector<RDD<T>>& rdds) {
  std::vector<NodePtr<T>> nodes;
  nodes.reserve(rdds.size());
  for (const auto& r : rdds) {
    if (&r.node()->runtime() != runtime.get()) {
      throw InvalidArgumentError("union: all RDDs must belong to the same Context");
    }
    nodes.push_back(r.node());
  }
  return RDD<T>(std::make_shared<UnionNode<T>>(runtime, std::move(nodes)));
}

// Partition i reads the contiguous parent partitions [i * P / n, (i + 1) * P / n).
template <class T>
class CoalesceNode final : public Node<T> {
 public:
  CoalesceNode(NodePtr<T> parent, int num_partitions)
      : Node<T>(parent->runtimePtr(), num_partitions), parent_(std::move(parent)) {}
  void visitDependencies(const DependencyVisitor& visitor) override { visitor.narrow(*parent_); }

 protected:
  void compute(TaskContext& tc, int partition, Sink<T>& out) override {
    auto bounds =
        sliceBounds(static_cast<std::size_t>(parent_->numPartitions()), this->numPartitions());
    for (auto p = bounds[static_cast<std::size_t>(partition)];
         p < bounds[static_cast<std::size_t>(partition) + 1]; ++p) {
      parent_->iterate(tc, static_cast<int>(p), out);
    }
  }

 private:
  NodePtr<T> parent_;
};

}  // namespace detail

template <class T>
RDD<T> RDD<T>::unionWith(const RDD<T>& other) const {
  return detail::unionAll<T>(node_->runtimePtr(), {*this, other});
}

template <class T>
RDD<T> RDD<T>::coalesce(int num_partitions, bool shuffle) const {
  if (num_partitions <= 0) {
    throw InvalidArgumentError("coalesce: number of partitions must be positive, got " +
                               std::to_string(num_partitions));
  }
  if (shuffle) return repartition(num_partitions);
  int n = std::min(num_partitions, std::max(1, getNumPartitions()));
  if (n == getNumPartitions()) return *this;
  return RDD<T>(std::make_shared<detail::CoalesceNode<T>>(node_, n));
}

template <class T>
RDD<T> RDD<T>::repartition(int num_partitions) const {
  int n = detail::resolvePartitions(num_partitions, node_->runtime(), "repartition");
  // Round-robin from a position derived from the map partition, as Spark does, so partitions
  // come out balanced whatever the input's skew.
  auto make_fn = [n](int map_id) {
    return [n, next = static_cast<int>(detail::taskSeed(42, map_id) % static_cast<unsigned>(n))](
               const T&) mutable {
      int r = next;
      next = next + 1 == n ? 0 : next + 1;
      return r;
    };
  };
  auto dep = std::make_shared<detail::PartitioningShuffle<T, decltype(make_fn)>>(node_, make_fn, n);
  return RDD<T>(std::make_shared<detail::ShuffleReadNode<T, std::nullptr_t>>(dep, nullptr));
}

template <class T>
RDD<std::pair<T, long long>> RDD<T>::zipWithIndex() const {
  int parts = getNumPartitions();
  std::vector<long long> offsets(static_cast<std::size_t>(parts), 0);
  if (parts > 1) {
    std::vector<long long> sizes(static_cast<std::size_t>(parts - 1), 0);
    auto all = detail::allPartitions(parts - 1);
    detail::runJob(
        *node_, all, "zipWithIndex",
        [&](int task) {
          auto add = [&sizes, task](std::span<T> chunk) {
            sizes[static_cast<std::size_t>(task)] += static_cast<long long>(chunk.size());
          };
          return detail::LambdaSink<T, decltype(add)>(add);
        },
        [](int, auto&) {});
    for (int p = 1; p < parts; ++p) {
      offsets[static_cast<std::size_t>(p)] =
          offsets[static_cast<std::size_t>(p - 1)] + sizes[static_cast<std::size_t>(p - 1)];
    }
  }
  return mapPartitionsWithIndex([offsets = std::move(offsets)](int p, std::vector<T>&& items) {
    std::vector<std::pair<T, long long>> out;
    out.reserve(items.size());
    long long index = offsets[static_cast<std::size_t>(p)];
    for (auto& x : items) out.emplace_back(std::move(x), index++);
    return out;
  });
}

template <class T>
RDD<T> RDD<T>::sample(bool with_replacement, double fraction, std::uint64_t seed) const {
  if (!(fraction >= 0.0) || (!with_replacement && fraction > 1.0)) {
    throw InvalidArgumentError(
        "sample: fraction must be in [0, 1] without replacement and >= 0 "
        "with replacement, got " +
        std::to_string(fraction));
  }
  return mapPartitionsWithIndex(
      [with_replacement, fraction, seed](int p, std::vector<T>&& items) {
        std::mt19937_64 rng(detail::taskSeed(seed, p));
        std::vector<T> kept;
        if (with_replacement) {
          // poisson_distribution requires a positive mean; fraction 0 keeps nothing.
          if (fraction == 0.0) return kept;
          std::poisson_distribution<int> copies(fraction);
          for (auto& x : items) {
            for (int k = copies(rng); k > 0; --k) kept.push_back(x);
          }
        } else {
          for (auto& x : items) {
            double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
            if (u < fraction) kept.push_back(std::move(x));
          }
        }
        return kept;
      },
      true);
}

}  // namespace sluice
