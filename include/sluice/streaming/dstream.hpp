// DStream<T>: Spark's discretized stream, a sequence of RDD<T>, one per batch time on the
// stream's slide grid. Transformations build new streams lazily; only output operations
// (pprint, foreachRDD, saveAsTextFiles, ...) and their ancestors are computed, once per batch.
// A DStream is a cheap handle to a node of the context's graph. Build the graph before
// StreamingContext::start(); afterwards the graph is fixed.
// Thread-safety: handles may be copied between threads; the graph is built by one thread, and
// the functions given to operations run on the context's batch thread (RDD functions on its
// worker threads).
#pragma once

#include <map>
#include <optional>
#include <sluice/rdd.hpp>
#include <sluice/streaming/core.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace sluice {

template <class S>
class State;
template <class K, class V, class S, class M, class F>
class StateSpec;

namespace detail {

template <class T>
class DStreamNode : public DStreamBase {
 public:
  using DStreamBase::DStreamBase;

  // The RDD of time t: computed once and remembered for rememberDuration(); nothing when t is not
  // on this stream's grid or the stream has no data for t.
  std::optional<RDD<T>> getOrCompute(Time t) {
    if (!isTimeValid(t)) return std::nullopt;
    {
      std::lock_guard lock(mu_);
      if (auto it = generated_.find(t); it != generated_.end()) return it->second;
    }
    std::optional<RDD<T>> rdd = compute(t);
    if (!rdd) return std::nullopt;
    if (mustPersist()) rdd->persist();
    std::lock_guard lock(mu_);
    return generated_.emplace(t, std::move(*rdd)).first->second;
  }

  // The RDDs at every valid time in [from, to], both ends included.
  std::vector<RDD<T>> slice(Time from, Time to) {
    std::vector<RDD<T>> rdds;
    if (!isTimeValid(zeroTime() + slideDuration())) {
      throw IllegalStateError("DStream " + std::to_string(id()) + " has not been initialized");
    }
    const std::int64_t slide = slideDuration().count();
    const std::int64_t zero = zeroTime().milliseconds();
    // Like Spark, an off-grid `from` is floored onto the grid; nothing is at or before zero time.
    const std::int64_t offset = from.milliseconds() - zero;
    std::int64_t first = offset > 0 ? zero + (offset / slide) * slide : zero;
    if (first <= zero) first = zero + slide;
    for (std::int64_t t = first; t <= to.milliseconds(); t += slide) {
      if (auto rdd = getOrCompute(Time(t))) rdds.push_back(std::move(*rdd));
    }
    return rdds;
  }

  void clearMetadata(Time t) override {
    std::vector<RDD<T>> dropped;  // unpersisted outside the lock
    {
      std::lock_guard lock(mu_);
      const Time cutoff = t - rememberDuration();
      for (auto it = generated_.begin(); it != generated_.end() && it->first <= cutoff;) {
        dropped.push_back(std::move(it->second));
        it = generated_.erase(it);
      }
    }
    if (core().conf().unpersist) {
      for (auto& rdd : dropped) rdd.unpersist();
    }
  }

 protected:
  virtual std::optional<RDD<T>> compute(Time t) = 0;

 private:
  std::mutex mu_;
  std::map<Time, RDD<T>> generated_;
};

template <class T>
using DStreamNodePtr = std::shared_ptr<DStreamNode<T>>;

template <class T>
struct IsDStreamRDD : std::false_type {};
template <class T>
struct IsDStreamRDD<RDD<T>> : std::true_type {
  using Element = T;
};

}  // namespace detail

template <class T>
class DStream {
 public:
  using value_type = T;
  explicit DStream(detail::DStreamNodePtr<T> node) : node_(std::move(node)) {}

  int id() const noexcept { return node_->id(); }
  Duration slideDuration() const noexcept { return node_->slideDuration(); }
  const detail::DStreamNodePtr<T>& node() const noexcept { return node_; }

  // ---- per-batch transformations (sluice/streaming/transform.hpp) ----
  template <class F>
  auto map(F f) const;
  template <class F>
  auto flatMap(F f) const;
  template <class F>
  DStream<T> filter(F predicate) const;
  template <class F>
  auto mapPartitions(F f, bool preserves_partitioning = false) const;
  DStream<std::vector<T>> glom() const;
  DStream<T> repartition(int num_partitions) const;
  DStream<T> unionWith(const DStream<T>& other) const;
  // One element per batch: the number of records (0 for an empty batch).
  DStream<long long> count() const;
  DStream<std::pair<T, long long>> countByValue(int num_partitions = -1) const;
  // One element per non-empty batch; an empty batch gives an empty RDD.
  template <class F>
  DStream<T> reduce(F f) const;
  // f(rdd) or f(rdd, time) returning an RDD; runs on the batch thread at every batch in which
  // this stream has an RDD (none otherwise, as in PySpark).
  template <class F>
  auto transform(F f) const;
  // f(rdd1, rdd2) or f(rdd1, rdd2, time) over the same-time RDDs of both streams.
  template <class U, class F>
  auto transformWith(const DStream<U>& other, F f) const;
  // The RDDs at every batch time in [from, to]; an off-grid `from` is floored onto the grid.
  std::vector<RDD<T>> slice(Time from, Time to) const { return node_->slice(from, to); }
  const DStream<T>& cache() const;
  const DStream<T>& persist() const;
  // The interval of this stream's data checkpoints (stateful streams; default: the smallest
  // multiple of the slide >= 10 s, mapWithState 10 batches). A multiple of the slide.
  const DStream<T>& checkpoint(Duration interval) const;
  // A stable name under which a checkpoint keeps this stream's state (or input records), so that
  // it survives changes to the rest of the graph (Flink's uid). Unique in the graph.
  DStream<T> uid(const std::string& name) const;

  // ---- pair transformations (sluice/streaming/transform.hpp) ----
  template <class F>
  DStream<T> reduceByKey(F f, int num_partitions = -1) const;
  auto groupByKey(int num_partitions = -1) const;
  template <class Create, class MergeValue, class MergeCombiners>
  auto combineByKey(Create create_combiner, MergeValue merge_value, MergeCombiners merge_combiners,
                    int num_partitions = -1) const;
  template <class F>
  auto mapValues(F f) const;
  template <class F>
  auto flatMapValues(F f) const;
  template <class K, class W>
  auto join(const DStream<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto leftOuterJoin(const DStream<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto rightOuterJoin(const DStream<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto fullOuterJoin(const DStream<std::pair<K, W>>& other, int num_partitions = -1) const;
  template <class K, class W>
  auto cogroup(const DStream<std::pair<K, W>>& other, int num_partitions = -1) const;

  // ---- windows (sluice/streaming/window.hpp); slide defaults to this stream's slide ----
  DStream<T> window(Duration window_duration) const;
  DStream<T> window(Duration window_duration, Duration slide_duration) const;
  DStream<long long> countByWindow(Duration window_duration, Duration slide_duration) const;
  template <class F>
  DStream<T> reduceByWindow(F f, Duration window_duration, Duration slide_duration) const;
  template <class F, class InvF>
  DStream<T> reduceByWindow(F f, InvF inv_f, Duration window_duration,
                            Duration slide_duration) const;
  // Naive: reduces every batch of the window at each slide.
  template <class F>
  DStream<T> reduceByKeyAndWindow(F f, Duration window_duration,
                                  std::optional<Duration> slide_duration = std::nullopt,
                                  int num_partitions = -1) const;
  // Incremental: previous window, minus the batches leaving (inv_f), plus those entering (f).
  // Keys whose value returns to the identity stay unless `filter` drops them. A slide costs the
  // batches entering and leaving, not the window's keys: `filter` runs only on the keys a slide
  // changes, so it must depend on the pair alone.
  // (InvF is never a duration, so reduceByKeyAndWindow(f, W, S) picks the naive form.)
  template <class F, class InvF>
  requires(!std::is_convertible_v<InvF, Duration>) DStream<T> reduceByKeyAndWindow(
      F f, InvF inv_f, Duration window_duration,
      std::optional<Duration> slide_duration = std::nullopt, int num_partitions = -1,
      std::function<bool(const T&)> filter = nullptr)
  const;
  DStream<std::pair<T, long long>> countByValueAndWindow(Duration window_duration,
                                                         Duration slide_duration,
                                                         int num_partitions = -1) const;
  auto groupByKeyAndWindow(Duration window_duration,
                           std::optional<Duration> slide_duration = std::nullopt,
                           int num_partitions = -1) const;

  // ---- state (sluice/streaming/state.hpp) ----
  // f(const std::vector<V>& new_values, std::optional<S> state) -> std::optional<S>; the output
  // is the full state every batch; std::nullopt removes the key.
  template <class F>
  auto updateStateByKey(F f, int num_partitions = -1) const;
  template <class F, class K, class S>
  auto updateStateByKey(F f, int num_partitions, const RDD<std::pair<K, S>>& initial) const;
  // f(Time, const K&, const std::vector<V>&, std::optional<S>) -> std::optional<S>.
  template <class F>
  auto updateStateByKeyWithTime(F f, int num_partitions = -1) const;
  template <class K, class V, class S, class M, class F>
  auto mapWithState(const StateSpec<K, V, S, M, F>& spec) const;

  // ---- outputs (sluice/streaming/output.hpp) ----
  // PySpark's pprint: 43 dashes, "Time: YYYY-MM-DD HH:MM:SS" (local time), up to num elements,
  // "..." when there are more, then a blank line; printed for empty batches too.
  void pprint(int num = 10) const;
  // Scala's print: like pprint with "Time: <ms> ms".
  void print(int num = 10) const;
  // f(rdd) or f(rdd, time), called on the batch thread for every batch with an RDD.
  template <class F>
  void foreachRDD(F f) const;
  // Each batch writes the directory prefix-<ms>[.suffix] atomically (a re-run rewrites it).
  void saveAsTextFiles(const std::string& prefix, const std::string& suffix = "") const;

 private:
  detail::DStreamNodePtr<T> node_;
};

}  // namespace sluice
