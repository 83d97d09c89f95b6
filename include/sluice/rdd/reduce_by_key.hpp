// Keyed aggregation: combineByKey and its forms reduceByKey, aggregateByKey, foldByKey,
// groupByKey, plus distinct and partitionBy. All hash-partition by key with map-side combining.
#pragma once

#include <sluice/rdd.hpp>
#include <sluice/rdd/shuffle.hpp>

namespace sluice {
namespace detail {

template <class V, class F>
struct ReduceAggregator {
  F f;
  V create(V&& v) { return std::move(v); }
  void mergeValue(V& c, V&& v) { c = f(std::move(c), std::move(v)); }
  void mergeCombiners(V& c, V&& other) { c = f(std::move(c), std::move(other)); }
};

template <class V>
struct GroupAggregator {
  std::vector<V> create(V&& v) {
    std::vector<V> group;
    group.push_back(std::move(v));
    return group;
  }
  void mergeValue(std::vector<V>& c, V&& v) { c.push_back(std::move(v)); }
  void mergeCombiners(std::vector<V>& c, std::vector<V>&& other) {
    c.insert(c.end(), std::make_move_iterator(other.begin()), std::make_move_iterator(other.end()));
  }
};

template <class T>
void requirePairs(const char*) {
  static_assert(PairType<T>, "this operation needs an RDD of std::pair<K, V>");
}

}  // namespace detail

template <class T>
template <class Create, class MergeValue, class MergeCombiners>
auto RDD<T>::combineByKey(Create create_combiner, MergeValue merge_value,
                          MergeCombiners merge_combiners, int num_partitions) const {
  detail::requirePairs<T>("combineByKey");
  using K = typename T::first_type;
  using V = typename T::second_type;
  static_assert(std::is_invocable_v<Create&, V&&>, "combineByKey: createCombiner must take V");
  using C = std::decay_t<std::invoke_result_t<Create&, V&&>>;
  static_assert(std::is_invocable_r_v<C, MergeValue&, C&&, V&&>,
                "combineByKey: mergeValue must take (C, V) and return C");
  static_assert(std::is_invocable_r_v<C, MergeCombiners&, C&&, C&&>,
                "combineByKey: mergeCombiners must take (C, C) and return C");
  int n = detail::resolvePartitions(num_partitions, node_->runtime(), "combineByKey");
  using Agg = detail::FunctionAggregator<V, C, Create, MergeValue, MergeCombiners>;
  return RDD<std::pair<K, C>>(detail::combineByKeyNode<K, V, C>(
      node_, Agg{std::move(create_combiner), std::move(merge_value), std::move(merge_combiners)},
      n));
}

template <class T>
template <class F>
RDD<T> RDD<T>::reduceByKey(F f, int num_partitions) const {
  detail::requirePairs<T>("reduceByKey");
  using K = typename T::first_type;
  using V = typename T::second_type;
  static_assert(std::is_invocable_r_v<V, F&, V&&, V&&>,
                "reduceByKey: the function must take two values and return a value");
  int n = detail::resolvePartitions(num_partitions, node_->runtime(), "reduceByKey");
  return RDD<T>(
      detail::combineByKeyNode<K, V, V>(node_, detail::ReduceAggregator<V, F>{std::move(f)}, n));
}

template <class T>
template <class U, class SeqOp, class CombOp>
auto RDD<T>::aggregateByKey(U zero_value, SeqOp seq_op, CombOp comb_op, int num_partitions) const {
  detail::requirePairs<T>("aggregateByKey");
  using V = typename T::second_type;
  return combineByKey(
      [zero_value, seq_op](V&& v) mutable { return seq_op(U(zero_value), std::move(v)); },
      [seq_op](U&& c, V&& v) mutable { return seq_op(std::move(c), std::move(v)); },
      std::move(comb_op), num_partitions);
}

template <class T>
template <class V0, class F>
RDD<T> RDD<T>::foldByKey(V0 zero_value, F f, int num_partitions) const {
  detail::requirePairs<T>("foldByKey");
  using V = typename T::second_type;
  V zero(std::move(zero_value));
  return combineByKey([zero, f](V&& v) mutable { return f(V(zero), std::move(v)); },
                      [f](V&& c, V&& v) mutable { return f(std::move(c), std::move(v)); },
                      [f](V&& a, V&& b) mutable { return f(std::move(a), std::move(b)); },
                      num_partitions);
}

template <class T>
auto RDD<T>::groupByKey(int num_partitions) const {
  detail::requirePairs<T>("groupByKey");
  using K = typename T::first_type;
  using V = typename T::second_type;
  int n = detail::resolvePartitions(num_partitions, node_->runtime(), "groupByKey");
  return RDD<std::pair<K, std::vector<V>>>(
      detail::combineByKeyNode<K, V, std::vector<V>>(node_, detail::GroupAggregator<V>{}, n));
}

template <class T>
RDD<T> RDD<T>::distinct(int num_partitions) const {
  return map([](T&& x) { return std::pair<T, char>(std::move(x), 0); })
      .reduceByKey([](char a, char) { return a; }, num_partitions)
      .keys();
}

template <class T>
RDD<T> RDD<T>::partitionBy(int num_partitions) const {
  detail::requirePairs<T>("partitionBy");
  using K = typename T::first_type;
  int n = detail::resolvePartitions(num_partitions, node_->runtime(), "partitionBy");
  if (node_->hashPartitions() == n) return *this;
  auto make_fn = detail::hashPartitionFn<K>(n);
  auto dep = std::make_shared<detail::PartitioningShuffle<T, decltype(make_fn)>>(node_, make_fn, n);
  auto node = std::make_shared<detail::ShuffleReadNode<T, std::nullptr_t>>(dep, nullptr);
  node->setHashPartitions(n);
  return RDD<T>(std::move(node));
}

}  // namespace sluice
