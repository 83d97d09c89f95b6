// Window operations. The window at time t covers the parent's batches in (t - W, t]; windowed
// streams produce RDDs at zeroTime + k*S. Both W and S must be multiples of the parent's slide.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <sluice/rdd/shuffle.hpp>
#include <sluice/streaming/transform.hpp>
#include <sluice/streaming/window_state.hpp>

namespace sluice {
namespace detail {

inline void checkWindow(const char* kind, Duration window, Duration slide, Duration parent_slide) {
  if (!isMultipleOf(window, parent_slide)) {
    throw InvalidArgumentError(std::string("The window duration of ") + kind + " (" +
                               toString(window) +
                               ") must be a multiple of the slide duration of parent DStream (" +
                               toString(parent_slide) + ")");
  }
  if (!isMultipleOf(slide, parent_slide)) {
    throw InvalidArgumentError(std::string("The slide duration of ") + kind + " (" +
                               toString(slide) +
                               ") must be a multiple of the slide duration of parent DStream (" +
                               toString(parent_slide) + ")");
  }
}

// The union of the parent's RDDs in the window; empty windows give an empty RDD.
template <class T>
class WindowedNode final : public DStreamNode<T> {
 public:
  WindowedNode(DStreamNodePtr<T> parent, Duration window, Duration slide)
      : DStreamNode<T>(parent->corePtr(), slide, {parent}),
        parent_(std::move(parent)),
        window_(window) {
    checkWindow("windowed DStream", window, slide, parent_->slideDuration());
    // Each parent RDD is read by W/S windows: keep it computed once.
    parent_->setMustPersist();
  }
  Duration parentRememberExtra() const override { return window_; }

 protected:
  std::optional<RDD<T>> compute(Time t) override {
    auto rdds = parent_->slice(t - window_ + parent_->slideDuration(), t);
    return unionAll<T>(this->core().context().runtime(), rdds);
  }

 private:
  DStreamNodePtr<T> parent_;
  Duration window_;
};

// Computes an RDD now and returns one that reads the computed partitions, so that long chains of
// windows or states never grow lineage. Keeps the hash partitioning.
template <class T>
RDD<T> materialize(const RDD<T>& rdd) {
  std::vector<std::vector<T>> parts(static_cast<std::size_t>(rdd.getNumPartitions()));
  auto all = allPartitions(rdd.getNumPartitions());
  runJob(
      *rdd.node(), all, "materialize",
      [&](int task) { return VectorSink<T>(parts[static_cast<std::size_t>(task)]); },
      [](int, auto&) {});
  auto& runtime = rdd.node()->runtimePtr();
  std::vector<std::size_t> bounds{0};
  std::size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<T> data;
  data.reserve(total);
  for (auto& p : parts) {
    std::move(p.begin(), p.end(), std::back_inserter(data));
    bounds.push_back(data.size());
  }
  auto node = std::make_shared<MemoryNode<T>>(
      runtime, std::make_shared<const std::vector<T>>(std::move(data)), std::move(bounds));
  node->setHashPartitions(rdd.node()->hashPartitions());
  return RDD<T>(std::move(node));
}

// The RDD of an incremental window: the snapshots of its per-partition slot stores at one slide,
// so the RDD stays the same while the stores go on changing. Its pairs are hash-partitioned.
template <class K, class V>
class WindowSnapshotNode final : public Node<std::pair<K, V>> {
 public:
  using P = std::pair<K, V>;
  using Snapshot = typename PersistentSlots<P>::Snapshot;
  WindowSnapshotNode(std::shared_ptr<Runtime> runtime, std::vector<Snapshot> parts)
      : Node<P>(std::move(runtime), static_cast<int>(parts.size())), parts_(std::move(parts)) {
    this->setHashPartitions(this->numPartitions());
  }
  void visitDependencies(const DependencyVisitor&) override {}

 protected:
  void compute(TaskContext& tc, int partition, Sink<P>& out) override {
    ChunkBuffer<P> buf(out);
    parts_[static_cast<std::size_t>(partition)].forEach([&](std::uint32_t, const P& kv) {
      buf.emplace(kv);
      return !tc.isCancelled();
    });
    buf.flush();
  }

 private:
  std::vector<Snapshot> parts_;
};

// Spark's ReducedWindowedDStream: window(t) = window(t - S) - leaving batches + entering batches,
// per key, each batch reduced once. The window is kept as state, per hash partition a persistent
// slot store of its pairs plus an index from key to slot, and each slide runs one stage whose
// task p reads partition p of the leaving and entering batches and changes only the keys in them;
// so a slide costs O(those batches), not O(keys in the window), and the window's RDD is an O(1)
// snapshot of the stores.
// A slide's changes go to copies of the stores (O(1) each) and to lists of index changes, which
// are committed only once the whole stage has succeeded: a failed slide leaves the state at the
// previous window, and the next slide retries the failed one from there.
// Thread-safety: compute() runs on the batch thread; task p of its stage reads only partition p's
// state, and the state changes only between stages.
template <class K, class V, class F, class InvF>
class ReducedWindowedNode final : public DStreamNode<std::pair<K, V>> {
 public:
  using P = std::pair<K, V>;
  ReducedWindowedNode(DStreamNodePtr<P> reduced, Duration window, Duration slide, int partitions,
                      F f, InvF inv_f, std::function<bool(const P&)> filter)
      : DStreamNode<P>(reduced->corePtr(), slide, {reduced}),
        reduced_(std::move(reduced)),
        window_(window),
        partitions_(partitions),
        f_(std::move(f)),
        inv_f_(std::move(inv_f)),
        filter_(std::move(filter)),
        parts_(static_cast<std::size_t>(partitions)) {
    reduced_->setMustPersist();
  }
  Duration parentRememberExtra() const override { return window_; }

 protected:
  std::optional<RDD<P>> compute(Time t) override {
    const Duration batch = reduced_->slideDuration();
    const Time prev_end = t - this->slideDuration();
    const Time cur_begin = t - window_ + batch;
    const Time prev_begin = prev_end - window_ + batch;
    bool has_previous = true;
    if (state_time_ != prev_end) {
      // Off the sequential path. Computing the previous window may bring the state to it.
      std::optional<RDD<P>> prev = this->getOrCompute(prev_end);
      if (!prev) {
        // No previous window (the first one), as in Spark: nothing to subtract from.
        resetState();
        has_previous = false;
      } else if (state_time_ != prev_end) {
        rebuildState(*prev);
        state_time_ = prev_end;
      }
    }
    std::vector<NodePtr<P>> leaving;
    if (has_previous) leaving = partitioned(reduced_->slice(prev_begin, cur_begin - batch));
    std::vector<NodePtr<P>> entering = partitioned(reduced_->slice(prev_end + batch, t));
    if (!leaving.empty() || !entering.empty()) applyChanges(leaving, entering);
    state_time_ = t;
    std::vector<typename PersistentSlots<P>::Snapshot> snapshots;
    snapshots.reserve(parts_.size());
    for (const auto& part : parts_) snapshots.push_back(part.slots.snapshot());
    return RDD<P>(std::make_shared<WindowSnapshotNode<K, V>>(this->core().context().runtime(),
                                                             std::move(snapshots)));
  }

 private:
  // One hash partition of the window.
  struct Partition {
    PersistentSlots<P> slots;
    absl::flat_hash_map<K, std::uint32_t, StableHasher<K>> index;
  };
  // What a slide's task p makes of partition p, committed after the stage.
  struct Update {
    PersistentSlots<P> slots;
    std::vector<std::pair<K, std::uint32_t>> added;  // keys new to the window
    std::vector<K> removed;                          // keys the filter dropped
  };
  // A key's leaving and entering values, each reduced with f.
  struct Change {
    std::optional<V> old, added;
  };

  std::vector<NodePtr<P>> partitioned(const std::vector<RDD<P>>& rdds) const {
    std::vector<NodePtr<P>> nodes;
    nodes.reserve(rdds.size());
    // The batches come from reduceByKey(f, partitions_), which partitionBy passes through as
    // they are.
    for (const auto& rdd : rdds) nodes.push_back(rdd.partitionBy(partitions_).node());
    return nodes;
  }

  void applyChanges(const std::vector<NodePtr<P>>& leaving,
                    const std::vector<NodePtr<P>>& entering) {
    for (const auto& node : leaving) materializeShuffles(*node);
    for (const auto& node : entering) materializeShuffles(*node);
    std::vector<Update> updates(parts_.size());
    auto all = allPartitions(partitions_);
    this->core().context().runtime()->runStage(
        "reduceByKeyAndWindow", all, [&](TaskContext& tc, int p) {
          const Partition& part = parts_[static_cast<std::size_t>(p)];
          F f = f_;
          InvF inv_f = inv_f_;
          std::function<bool(const P&)> filter = filter_;
          CombinerMap<K, Change> changes;
          auto read = [&](const NodePtr<P>& node, bool is_entering) {
            auto body = [&](std::span<P> chunk) {
              for (auto& kv : chunk) {
                auto it = changes.lazy_emplace(kv.first, [&](const auto& construct) {
                  construct(std::move(kv.first), Change{});
                });
                std::optional<V>& value = is_entering ? it->second.added : it->second.old;
                value = value ? f(std::move(*value), std::move(kv.second)) : std::move(kv.second);
              }
            };
            LambdaSink<P, decltype(body)> sink(body);
            node->iterate(tc, p, sink);
          };
          for (const auto& node : leaving) read(node, false);
          for (const auto& node : entering) read(node, true);
          if (tc.isCancelled()) return;
          Update& update = updates[static_cast<std::size_t>(p)];
          update.slots = part.slots;
          drainMap(changes, [&](K&& key, Change&& change) {
            auto it = part.index.find(key);
            if (it == part.index.end()) {
              // Spark's mergeValues: a key new to the window takes the entering values alone.
              if (!change.added) {
                throw Error("Neither previous window has value for key, nor new values found");
              }
              P kv(std::move(key), std::move(*change.added));
              if (filter && !filter(std::as_const(kv))) return;
              update.added.emplace_back(kv.first, 0);
              update.added.back().second = update.slots.add(std::move(kv));
              return;
            }
            P& kv = update.slots.mutableRef(it->second);
            if (change.old) kv.second = inv_f(std::move(kv.second), std::move(*change.old));
            if (change.added) kv.second = f(std::move(kv.second), std::move(*change.added));
            // Keys left unchanged passed the filter with the values they still have.
            if (filter && !filter(std::as_const(kv))) {
              update.slots.erase(it->second);
              update.removed.push_back(std::move(key));
            }
          });
        });
    // Past the stage no user function runs: only running out of memory can interrupt the
    // commit, and then the state is dropped, to be rebuilt from the previous window's RDD.
    try {
      for (std::size_t p = 0; p < parts_.size(); ++p) {
        Partition& part = parts_[p];
        part.slots = std::move(updates[p].slots);
        for (const K& key : updates[p].removed) part.index.erase(key);
        for (auto& [key, slot] : updates[p].added) part.index.emplace(std::move(key), slot);
      }
    } catch (...) {
      state_time_.reset();
      throw;
    }
  }

  void resetState() {
    state_time_.reset();
    parts_.assign(parts_.size(), Partition{});
  }

  // Reloads the state from a window RDD: O(keys in the window), only when the window is computed
  // out of sequence.
  void rebuildState(const RDD<P>& window) {
    RDD<P> rdd = window.partitionBy(partitions_);
    std::vector<Partition> fresh(parts_.size());
    auto all = allPartitions(partitions_);
    runJob(
        *rdd.node(), all, "reduceByKeyAndWindow state",
        [&](int task) {
          auto body = [&part = fresh[static_cast<std::size_t>(task)]](std::span<P> chunk) {
            for (auto& kv : chunk) {
              K key = kv.first;
              part.index.emplace(std::move(key), part.slots.add(std::move(kv)));
            }
          };
          return LambdaSink<P, decltype(body)>(body);
        },
        [](int, auto&) {});
    parts_ = std::move(fresh);
  }

  DStreamNodePtr<P> reduced_;
  Duration window_;
  int partitions_;
  F f_;
  InvF inv_f_;
  std::function<bool(const P&)> filter_;
  std::vector<Partition> parts_;
  std::optional<Time> state_time_;  // the window time parts_ holds
};

}  // namespace detail

template <class T>
DStream<T> DStream<T>::window(Duration window_duration) const {
  return window(window_duration, slideDuration());
}

template <class T>
DStream<T> DStream<T>::window(Duration window_duration, Duration slide_duration) const {
  return DStream<T>(
      std::make_shared<detail::WindowedNode<T>>(node_, window_duration, slide_duration));
}

template <class T>
DStream<long long> DStream<T>::countByWindow(Duration window_duration,
                                             Duration slide_duration) const {
  return map([](const T&) { return 1LL; })
      .reduceByWindow([](long long a, long long b) { return a + b; },
                      [](long long a, long long b) { return a - b; }, window_duration,
                      slide_duration);
}

template <class T>
template <class F>
DStream<T> DStream<T>::reduceByWindow(F f, Duration window_duration,
                                      Duration slide_duration) const {
  return reduce(f).window(window_duration, slide_duration).reduce(f);
}

template <class T>
template <class F, class InvF>
DStream<T> DStream<T>::reduceByWindow(F f, InvF inv_f, Duration window_duration,
                                      Duration slide_duration) const {
  return map([](T x) { return std::pair<char, T>(1, std::move(x)); })
      .reduceByKeyAndWindow(f, inv_f, window_duration, slide_duration, 1)
      .map([](std::pair<char, T> kv) { return std::move(kv.second); });
}

template <class T>
template <class F>
DStream<T> DStream<T>::reduceByKeyAndWindow(F f, Duration window_duration,
                                            std::optional<Duration> slide_duration,
                                            int num_partitions) const {
  return reduceByKey(f, num_partitions)
      .window(window_duration, slide_duration.value_or(slideDuration()))
      .reduceByKey(f, num_partitions);
}

template <class T>
template <class F, class InvF>
requires(!std::is_convertible_v<InvF, Duration>) DStream<T> DStream<T>::reduceByKeyAndWindow(
    F f, InvF inv_f, Duration window_duration, std::optional<Duration> slide_duration,
    int num_partitions, std::function<bool(const T&)> filter)
const {
  static_assert(detail::PairType<T>, "reduceByKeyAndWindow needs a DStream of std::pair<K, V>");
  using K = typename T::first_type;
  using V = typename T::second_type;
  const Duration slide = slide_duration.value_or(slideDuration());
  detail::checkWindow("ReducedWindowedDStream", window_duration, slide, slideDuration());
  const int n = detail::resolvePartitions(num_partitions, *node_->core().context().runtime(),
                                          "reduceByKeyAndWindow");
  auto reduced = reduceByKey(f, n);
  return DStream<T>(std::make_shared<detail::ReducedWindowedNode<K, V, F, InvF>>(
      reduced.node(), window_duration, slide, n, std::move(f), std::move(inv_f),
      std::move(filter)));
}

template <class T>
DStream<std::pair<T, long long>> DStream<T>::countByValueAndWindow(Duration window_duration,
                                                                   Duration slide_duration,
                                                                   int num_partitions) const {
  return map([](T x) { return std::pair<T, long long>(std::move(x), 1); })
      .reduceByKeyAndWindow([](long long a, long long b) { return a + b; },
                            [](long long a, long long b) { return a - b; }, window_duration,
                            slide_duration, num_partitions,
                            [](const std::pair<T, long long>& kv) { return kv.second != 0; });
}

template <class T>
auto DStream<T>::groupByKeyAndWindow(Duration window_duration,
                                     std::optional<Duration> slide_duration,
                                     int num_partitions) const {
  using V = typename T::second_type;
  return groupByKey(num_partitions)
      .window(window_duration, slide_duration.value_or(slideDuration()))
      .combineByKey(
          [](std::vector<V>&& v) { return std::move(v); },
          [](std::vector<V>&& a, std::vector<V>&& b) {
            a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
            return std::move(a);
          },
          [](std::vector<V>&& a, std::vector<V>&& b) {
            a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
            return std::move(a);
          },
          num_partitions);
}

}  // namespace sluice
