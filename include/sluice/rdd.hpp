// RDD<T>: Spark's resilient distributed dataset. A lazy, immutable, partitioned collection; nothing
// runs until an action (collect, count, reduce, ...). An RDD is a cheap handle to a shared lineage
// node, so `rdd = rdd.map(f)` works in loops and RDDs pass by value.
//
// Transformations are narrow (map, filter, flatMap, ...: fused into one pass per partition) or
// wide (reduceByKey, join, sortByKey, ...: a shuffle that hash- or range-partitions by key).
// Key-value operations need T = std::pair<K, V>. Functions given to transformations run on worker
// threads, possibly several at once on different partitions, so they must not mutate shared state
// without synchronisation; each task works on its own copy of the function object.
//
// Thread-safety: an RDD handle may be shared and used from several threads at once.
// The operations are defined in the headers of their families under sluice/rdd/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sluice/context.hpp>
#include <sluice/error.hpp>
#include <sluice/format.hpp>
#include <sluice/hash.hpp>
#include <sluice/rdd/node.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {

namespace detail {
template <class T>
struct IsPairT : std::false_type {};
template <class A, class B>
struct IsPairT<std::pair<A, B>> : std::true_type {};
template <class T>
concept PairType = IsPairT<T>::value;
template <class T>
concept Numeric = std::is_arithmetic_v<T>;
}  // namespace detail

template <class T>
class RDD {
 public:
  using value_type = T;

  explicit RDD(detail::NodePtr<T> node) : node_(std::move(node)) {}

  int id() const noexcept { return node_->id(); }
  int getNumPartitions() const noexcept { return node_->numPartitions(); }
  const detail::NodePtr<T>& node() const noexcept { return node_; }

  // ---- narrow transformations (sluice/rdd/map.hpp) ----
  template <class F>
  auto map(F f) const;
  // f returns any iterable; its elements are the output.
  template <class F>
  auto flatMap(F f) const;
  template <class F>
  RDD<T> filter(F predicate) const;
  // f receives the partition as a std::vector<T>&& and returns an iterable.
  template <class F>
  auto mapPartitions(F f, bool preserves_partitioning = false) const;
  // f receives (partition index, std::vector<T>&&) and returns an iterable.
  template <class F>
  auto mapPartitionsWithIndex(F f, bool preserves_partitioning = false) const;
  RDD<std::vector<T>> glom() const;
  template <class F>
  auto keyBy(F f) const;
  template <class F>
  auto mapValues(F f) const;
  template <class F>
  auto flatMapValues(F f) const;
  auto keys() const;
  auto values() const;

  // ---- partition structure (sluice/rdd/union.hpp) ----
  // Spark's union: the partitions of this RDD followed by those of `other`.
  RDD<T> unionWith(const RDD<T>& other) const;
  RDD<T> coalesce(int num_partitions, bool shuffle = false) const;
  RDD<T> repartition(int num_partitions) const;
  // Pairs each element with its index (partition order); runs a job to count partitions first.
  RDD<std::pair<T, long long>> zipWithIndex() const;
  RDD<T> sample(bool with_replacement, double fraction, std::uint64_t seed = 0x5EED) const;

  // ---- keyed aggregation (sluice/rdd/reduce_by_key.hpp); num_partitions < 0 means default ----
  template <class Create, class MergeValue, class MergeCombiners>
  auto combineByKey(Create create_combiner, MergeValue merge_value, MergeCombiners merge_combiners,
                    int num_partitions = -1) const;
  template <class F>
  RDD<T> reduceByKey(F f, int num_partitions = -1) const;
  template <class U, class SeqOp, class CombOp>
  auto aggregateByKey(U zero_value, SeqOp seq_op, CombOp comb_op, int num_partitions = -1) const;
  template <class V, class F>
  RDD<T> foldByKey(V zero_value, F f, int num_partitions = -1) const;
  auto groupByKey(int num_partitions = -1) const;
  RDD<T> distinct(int num_partitions = -1) const;
  RDD<T> partitionBy(int num_partitions) const;

  // ---- sorting (sluice/rdd/sort.hpp) ----
  RDD<T> sortByKey(bool ascending = true, int num_partitions = -1) const;
  template <class F>
  RDD<T> sortBy(F key_fn, bool ascending = true, int num_partitions = -1) const;

  // ---- joins (sluice/rdd/join.hpp) ----
  template <class K, class W>
  auto cogroup(const RDD<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto join(const RDD<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto leftOuterJoin(const RDD<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto rightOuterJoin(const RDD<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto fullOuterJoin(const RDD<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  RDD<T> subtractByKey(const RDD<std::pair<K, W>>& other, int num_partitions = -1) const;

  // ---- caching (sluice/rdd/cache.hpp) ----
  // Marks the RDD to keep its partitions in memory once computed; an evicted partition is
  // recomputed from lineage.
  const RDD<T>& cache() const;
  const RDD<T>& persist() const;
  const RDD<T>& unpersist() const;
  bool isCached() const noexcept { return node_->persisted(); }

  // ---- actions (sluice/rdd/actions.hpp) ----
  std::vector<T> collect() const;
  long long count() const;
  T first() const;
  std::vector<T> take(long long n) const;
  std::vector<T> takeOrdered(long long n) const;
  template <class KeyFn>
  std::vector<T> takeOrdered(long long n, KeyFn key_fn) const;
  std::vector<T> top(long long n) const;
  template <class F>
  T reduce(F f) const;
  template <class F>
  T fold(T zero_value, F f) const;
  template <class U, class SeqOp, class CombOp>
  U aggregate(U zero_value, SeqOp seq_op, CombOp comb_op) const;
  template <class F>
  void foreach (F f) const;
  // f receives each partition as a std::vector<T>&&.
  template <class F>
  void foreachPartition(F f) const;
  auto countByKey() const;
  auto countByValue() const;
  auto collectAsMap() const;
  template <class K>
  auto lookup(const K& key) const;
  bool isEmpty() const;
  T sum() const;
  T max() const;
  T min() const;
  double mean() const;
  // Writes part-00000, part-00001, ... (one line per element, Python's str()) and _SUCCESS into
  // `path`, which must not exist. The directory appears complete or not at all.
  void saveAsTextFile(const std::string& path) const;

 private:
  detail::NodePtr<T> node_;
};

namespace detail {
template <class T>
struct IsRDD : std::false_type {};
template <class T>
struct IsRDD<RDD<T>> : std::true_type {};

inline int resolvePartitions(int requested, const Runtime& runtime, const char* operation) {
  if (requested == 0 || requested < -1) {
    throw InvalidArgumentError(std::string(operation) +
                               ": number of partitions must be positive, got " +
                               std::to_string(requested));
  }
  return requested > 0 ? requested : runtime.parallelism();
}

// The random seed of one task, from the operation's seed and the partition.
inline std::uint64_t taskSeed(std::uint64_t seed, int partition) {
  return mix64(seed ^ mix64(static_cast<std::uint64_t>(partition) + 0x51ED));
}
}  // namespace detail

}  // namespace sluice

#include <sluice/rdd/actions.hpp>
#include <sluice/rdd/cache.hpp>
#include <sluice/rdd/join.hpp>
#include <sluice/rdd/map.hpp>
#include <sluice/rdd/reduce_by_key.hpp>
#include <sluice/rdd/sort.hpp>
#include <sluice/rdd/source.hpp>
#include <sluice/rdd/union.hpp>
