// Per-batch transformations: the RDD at time t is a function of the parents' RDDs at t.
// Every one of them is `transform` with the RDD operation of the same name.
#pragma once

#include <sluice/streaming/dstream.hpp>

namespace sluice {
namespace detail {

// f(rdd, time) -> RDD<U>. A parent without an RDD at t gives no RDD either: what Spark's
// element-wise streams do, and what PySpark's transform does (Scala's transform throws instead).
template <class T, class U, class F>
class TransformedNode final : public DStreamNode<U> {
 public:
  TransformedNode(DStreamNodePtr<T> parent, F f)
      : DStreamNode<U>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)),
        f_(std::move(f)) {}

 protected:
  std::optional<RDD<U>> compute(Time t) override {
    auto rdd = parent_->getOrCompute(t);
    if (!rdd) return std::nullopt;
    return f_(*rdd, t);
  }

 private:
  DStreamNodePtr<T> parent_;
  F f_;
};

template <class T, class U, class F>
class Transformed2Node final
    : public DStreamNode<typename IsDStreamRDD<
          std::invoke_result_t<F&, const RDD<T>&, const RDD<U>&, Time>>::Element> {
 public:
  using Out =
      typename IsDStreamRDD<std::invoke_result_t<F&, const RDD<T>&, const RDD<U>&, Time>>::Element;
  Transformed2Node(DStreamNodePtr<T> a, DStreamNodePtr<U> b, F f)
      : DStreamNode<Out>(a->corePtr(), a->slideDuration(), {a, b}),
        a_(std::move(a)),
        b_(std::move(b)),
        f_(std::move(f)) {
    if (a_->slideDuration() != b_->slideDuration()) {
      throw InvalidArgumentError("the two DStreams must have the same slide duration (" +
                                 toString(a_->slideDuration()) + " vs " +
                                 toString(b_->slideDuration()) + ")");
    }
  }

 protected:
  std::optional<RDD<Out>> compute(Time t) override {
    auto a = a_->getOrCompute(t);
    auto b = b_->getOrCompute(t);
    if (!a || !b) throw Error("Couldn't generate RDD from parent at time " + t.toString());
    return f_(*a, *b, t);
  }

 private:
  DStreamNodePtr<T> a_;
  DStreamNodePtr<U> b_;
  F f_;
};

// Wraps f(rdd) or f(rdd, time) as f(rdd, time).
template <class T, class F>
auto withTime(F f) {
  if constexpr (std::is_invocable_v<F&, const RDD<T>&, Time>) {
    return f;
  } else {
    static_assert(std::is_invocable_v<F&, const RDD<T>&>,
                  "the function must take (RDD<T>) or (RDD<T>, sluice::Time)");
    return [f = std::move(f)](const RDD<T>& rdd, Time) mutable { return f(rdd); };
  }
}

// A per-batch RDD operation that propagates "no RDD" as Spark's MappedDStream etc. do.
template <class T, class F>
auto mapRDDs(const DStreamNodePtr<T>& parent, F f) {
  auto g = [f = std::move(f)](const RDD<T>& rdd, Time) mutable { return f(rdd); };
  using U = typename IsDStreamRDD<std::invoke_result_t<decltype(g)&, const RDD<T>&, Time>>::Element;
  return DStream<U>(std::make_shared<TransformedNode<T, U, decltype(g)>>(parent, std::move(g)));
}

}  // namespace detail

template <class T>
template <class F>
auto DStream<T>::map(F f) const {
  return detail::mapRDDs<T>(node_, [f = std::move(f)](const RDD<T>& rdd) { return rdd.map(f); });
}

template <class T>
template <class F>
auto DStream<T>::flatMap(F f) const {
  return detail::mapRDDs<T>(node_,
                            [f = std::move(f)](const RDD<T>& rdd) { return rdd.flatMap(f); });
}

template <class T>
template <class F>
DStream<T> DStream<T>::filter(F predicate) const {
  return detail::mapRDDs<T>(
      node_, [f = std::move(predicate)](const RDD<T>& rdd) { return rdd.filter(f); });
}

template <class T>
template <class F>
auto DStream<T>::mapPartitions(F f, bool preserves_partitioning) const {
  return detail::mapRDDs<T>(node_, [f = std::move(f), preserves_partitioning](const RDD<T>& rdd) {
    return rdd.mapPartitions(f, preserves_partitioning);
  });
}

template <class T>
DStream<std::vector<T>> DStream<T>::glom() const {
  return detail::mapRDDs<T>(node_, [](const RDD<T>& rdd) { return rdd.glom(); });
}

template <class T>
DStream<T> DStream<T>::repartition(int num_partitions) const {
  return detail::mapRDDs<T>(
      node_, [num_partitions](const RDD<T>& rdd) { return rdd.repartition(num_partitions); });
}

template <class T>
template <class F>
auto DStream<T>::transform(F f) const {
  auto g = detail::withTime<T>(std::move(f));
  using U = typename detail::IsDStreamRDD<
      std::invoke_result_t<decltype(g)&, const RDD<T>&, Time>>::Element;
  return DStream<U>(
      std::make_shared<detail::TransformedNode<T, U, decltype(g)>>(node_, std::move(g)));
}

template <class T>
template <class U, class F>
auto DStream<T>::transformWith(const DStream<U>& other, F f) const {
  if constexpr (std::is_invocable_v<F&, const RDD<T>&, const RDD<U>&, Time>) {
    return DStream<typename detail::Transformed2Node<T, U, F>::Out>(
        std::make_shared<detail::Transformed2Node<T, U, F>>(node_, other.node(), std::move(f)));
  } else {
    static_assert(std::is_invocable_v<F&, const RDD<T>&, const RDD<U>&>,
                  "transformWith: the function must take (RDD<T>, RDD<U>[, sluice::Time])");
    auto g = [f = std::move(f)](const RDD<T>& a, const RDD<U>& b, Time) mutable { return f(a, b); };
    return DStream<typename detail::Transformed2Node<T, U, decltype(g)>::Out>(
        std::make_shared<detail::Transformed2Node<T, U, decltype(g)>>(node_, other.node(),
                                                                      std::move(g)));
  }
}

template <class T>
DStream<T> DStream<T>::unionWith(const DStream<T>& other) const {
  return transformWith(other, [](const RDD<T>& a, const RDD<T>& b) { return a.unionWith(b); });
}

template <class T>
DStream<long long> DStream<T>::count() const {
  return detail::mapRDDs<T>(node_, [](const RDD<T>& rdd) {
    auto& sc_runtime = rdd.node()->runtimePtr();
    auto zero = RDD<long long>(std::make_shared<detail::MemoryNode<long long>>(
        sc_runtime, std::make_shared<const std::vector<long long>>(1, 0LL),
        std::vector<std::size_t>{0, 1}));
    return rdd
        .mapPartitions([](std::vector<T>&& items) {
          return std::vector<long long>{static_cast<long long>(items.size())};
        })
        .unionWith(zero)
        .coalesce(1)
        .mapPartitions([](std::vector<long long>&& counts) {
          long long total = 0;
          for (long long c : counts) total += c;
          return std::vector<long long>{total};
        });
  });
}

template <class T>
DStream<std::pair<T, long long>> DStream<T>::countByValue(int num_partitions) const {
  return map([](T x) { return std::pair<T, long long>(std::move(x), 1); })
      .reduceByKey([](long long a, long long b) { return a + b; }, num_partitions);
}

template <class T>
template <class F>
DStream<T> DStream<T>::reduce(F f) const {
  return detail::mapRDDs<T>(node_, [f = std::move(f)](const RDD<T>& rdd) {
    return rdd.map([](T x) { return std::pair<char, T>(0, std::move(x)); })
        .reduceByKey(f, 1)
        .values();
  });
}

template <class T>
const DStream<T>& DStream<T>::persist() const {
  node_->core().checkCanBuild();
  node_->setMustPersist();
  return *this;
}

template <class T>
const DStream<T>& DStream<T>::cache() const {
  return persist();
}

template <class T>
const DStream<T>& DStream<T>::checkpoint(Duration interval) const {
  node_->core().checkCanBuild();
  if (!isMultipleOf(interval, slideDuration())) {
    throw InvalidArgumentError("checkpoint interval " + toString(interval) +
                               " must be a multiple of the slide duration " +
                               toString(slideDuration()));
  }
  node_->setCheckpointInterval(interval);
  node_->setMustPersist();
  return *this;
}

template <class T>
DStream<T> DStream<T>::uid(const std::string& name) const {
  node_->core().checkCanBuild();
  if (name.empty()) throw InvalidArgumentError("uid must not be empty");
  node_->setUid(name);
  return *this;
}

template <class T>
template <class F>
DStream<T> DStream<T>::reduceByKey(F f, int num_partitions) const {
  return detail::mapRDDs<T>(node_, [f = std::move(f), num_partitions](const RDD<T>& rdd) {
    return rdd.reduceByKey(f, num_partitions);
  });
}

template <class T>
auto DStream<T>::groupByKey(int num_partitions) const {
  return detail::mapRDDs<T>(
      node_, [num_partitions](const RDD<T>& rdd) { return rdd.groupByKey(num_partitions); });
}

template <class T>
template <class Create, class MergeValue, class MergeCombiners>
auto DStream<T>::combineByKey(Create create_combiner, MergeValue merge_value,
                              MergeCombiners merge_combiners, int num_partitions) const {
  return detail::mapRDDs<T>(node_, [=](const RDD<T>& rdd) {
    return rdd.combineByKey(create_combiner, merge_value, merge_combiners, num_partitions);
  });
}

template <class T>
template <class F>
auto DStream<T>::mapValues(F f) const {
  return detail::mapRDDs<T>(node_,
                            [f = std::move(f)](const RDD<T>& rdd) { return rdd.mapValues(f); });
}

template <class T>
template <class F>
auto DStream<T>::flatMapValues(F f) const {
  return detail::mapRDDs<T>(node_,
                            [f = std::move(f)](const RDD<T>& rdd) { return rdd.flatMapValues(f); });
}

template <class T>
template <class K, class W>
auto DStream<T>::join(const DStream<std::pair<K, W>>& other, int num_partitions) const {
  return transformWith(other, [num_partitions](const RDD<T>& a, const RDD<std::pair<K, W>>& b) {
    return a.join(b, num_partitions);
  });
}

template <class T>
template <class K, class W>
auto DStream<T>::leftOuterJoin(const DStream<std::pair<K, W>>& other, int num_partitions) const {
  return transformWith(other, [num_partitions](const RDD<T>& a, const RDD<std::pair<K, W>>& b) {
    return a.leftOuterJoin(b, num_partitions);
  });
}

template <class T>
template <class K, class W>
auto DStream<T>::rightOuterJoin(const DStream<std::pair<K, W>>& other, int num_partitions) const {
  return transformWith(other, [num_partitions](const RDD<T>& a, const RDD<std::pair<K, W>>& b) {
    return a.rightOuterJoin(b, num_partitions);
  });
}

template <class T>
template <class K, class W>
auto DStream<T>::fullOuterJoin(const DStream<std::pair<K, W>>& other, int num_partitions) const {
  return transformWith(other, [num_partitions](const RDD<T>& a, const RDD<std::pair<K, W>>& b) {
    return a.fullOuterJoin(b, num_partitions);
  });
}

template <class T>
template <class K, class W>
auto DStream<T>::cogroup(const DStream<std::pair<K, W>>& other, int num_partitions) const {
  return transformWith(other, [num_partitions](const RDD<T>& a, const RDD<std::pair<K, W>>& b) {
    return a.cogroup(b, num_partitions);
  });
}

}  // namespace sluice
