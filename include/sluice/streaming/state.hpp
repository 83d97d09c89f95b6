// Stateful operations: updateStateByKey (full state every batch) and mapWithState (per-record
// calls against per-key state kept in hash maps that each batch updates in place).
#pragma once

#include <deque>
#include <sluice/streaming/window.hpp>

namespace sluice {
namespace detail {

// Spark's StateDStream. f(time, key, values, state) -> optional new state. The state RDD of each
// batch is materialized and hash-partitioned, so the next batch reads it without a shuffle and
// lineage never grows.
template <class K, class V, class S, class F>
class StateNode final : public DStreamNode<std::pair<K, S>> {
 public:
  using P = std::pair<K, S>;
  StateNode(DStreamNodePtr<std::pair<K, V>> parent, F f, int partitions,
            std::optional<RDD<P>> initial)
      : DStreamNode<P>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)),
        f_(std::move(f)),
        partitions_(partitions),
        initial_(std::move(initial)) {}

 protected:
  std::optional<RDD<P>> compute(Time t) override {
    std::optional<RDD<P>> prev = this->getOrCompute(t - this->slideDuration());
    if (!prev && initial_) prev = initial_->partitionBy(partitions_);
    auto batch = parent_->getOrCompute(t);
    if (!prev && !batch) return std::nullopt;
    auto& runtime = this->core().context().runtime();
    RDD<P> state = prev ? *prev : RDD<P>(emptyNode(runtime));
    RDD<std::pair<K, V>> values = batch ? *batch : RDD<std::pair<K, V>>(emptyValues(runtime));
    F f = f_;
    auto next =
        state.cogroup(values, partitions_)
            .flatMap([f, t](std::pair<K, std::pair<std::vector<S>, std::vector<V>>>&& kv) mutable {
              std::optional<S> old;
              if (!kv.second.first.empty()) old = std::move(kv.second.first.front());
              std::optional<S> updated =
                  f(t, std::as_const(kv.first), std::as_const(kv.second.second), std::move(old));
              std::vector<P> out;
              if (updated) out.emplace_back(std::move(kv.first), std::move(*updated));
              return out;
            });
    auto result = materialize(next);
    result.node()->setHashPartitions(partitions_);  // flatMap kept every key in its partition
    return result;
  }

 private:
  static NodePtr<P> emptyNode(const std::shared_ptr<Runtime>& rt) {
    return std::make_shared<MemoryNode<P>>(rt, std::make_shared<const std::vector<P>>(),
                                           std::vector<std::size_t>{0});
  }
  static NodePtr<std::pair<K, V>> emptyValues(const std::shared_ptr<Runtime>& rt) {
    return std::make_shared<MemoryNode<std::pair<K, V>>>(
        rt, std::make_shared<const std::vector<std::pair<K, V>>>(), std::vector<std::size_t>{0});
  }

  DStreamNodePtr<std::pair<K, V>> parent_;
  F f_;
  int partitions_;
  std::optional<RDD<P>> initial_;
};

}  // namespace detail

// The per-key state handed to a mapWithState function. Valid only during that call.
template <class S>
class State {
 public:
  bool exists() const noexcept { return value_.has_value() && !removed_; }
  // Throws UnsupportedOperationError("State is not set") when there is no state.
  const S& get() const {
    if (!exists()) throw UnsupportedOperationError("State is not set");
    return *value_;
  }
  std::optional<S> getOption() const { return exists() ? value_ : std::nullopt; }
  void update(S value) {
    if (removed_) throw InvalidArgumentError("Cannot update the state after it has been removed");
    if (timing_out_) throw InvalidArgumentError("Cannot update the state that is timing out");
    value_ = std::move(value);
    updated_ = true;
  }
  void remove() {
    if (timing_out_) throw InvalidArgumentError("Cannot remove the state that is timing out");
    if (removed_)
      throw InvalidArgumentError("Cannot remove the state that has already been removed");
    removed_ = true;
  }
  bool isTimingOut() const noexcept { return timing_out_; }

  // Engine side.
  State(std::optional<S> value, bool timing_out)
      : value_(std::move(value)), timing_out_(timing_out) {}
  bool wasUpdated() const noexcept { return updated_; }
  bool wasRemoved() const noexcept { return removed_; }
  std::optional<S>& value() noexcept { return value_; }

 private:
  std::optional<S> value_;
  bool timing_out_ = false;
  bool updated_ = false;
  bool removed_ = false;
};

// Spark's StateSpec: the mapping function f(Time, const K&, std::optional<V>, State<S>&) ->
// std::optional<M> (or f(const K&, std::optional<V>, State<S>&) -> M, always emitted), with
// optional initial state, partition count and idle timeout.
template <class K, class V, class S, class M, class F>
class StateSpec {
 public:
  explicit StateSpec(F f) : f_(std::move(f)) {}
  StateSpec& initialState(RDD<std::pair<K, S>> rdd) {
    initial_ = std::move(rdd);
    return *this;
  }
  StateSpec& numPartitions(int n) {
    if (n <= 0) throw InvalidArgumentError("StateSpec.numPartitions must be positive");
    partitions_ = n;
    return *this;
  }
  StateSpec& timeout(Duration idle) {
    timeout_ = idle;
    return *this;
  }
  const F& function() const { return f_; }
  const std::optional<RDD<std::pair<K, S>>>& initial() const { return initial_; }
  int partitions() const { return partitions_; }
  const std::optional<Duration>& idleTimeout() const { return timeout_; }

 private:
  F f_;
  std::optional<RDD<std::pair<K, S>>> initial_;
  int partitions_ = -1;
  std::optional<Duration> timeout_;
};

namespace detail {
template <class K, class V, class S, class F>
auto normalizeStateFunction(F f) {
  if constexpr (std::is_invocable_v<F&, Time, const K&, std::optional<V>, State<S>&>) {
    return f;
  } else {
    static_assert(std::is_invocable_v<F&, const K&, std::optional<V>, State<S>&>,
                  "mapWithState: the function must take (const K&, std::optional<V>, State<S>&) or "
                  "(sluice::Time, const K&, std::optional<V>, State<S>&)");
    return [f = std::move(f)](Time, const K& k, std::optional<V> v, State<S>& s) mutable {
      return std::optional(f(k, std::move(v), s));
    };
  }
}
}  // namespace detail

// StateSpec.function in Spark: K, V, S name the key, value and state types.
template <class K, class V, class S, class F>
auto stateSpecFunction(F f) {
  auto g = detail::normalizeStateFunction<K, V, S>(std::move(f));
  using R = std::invoke_result_t<decltype(g)&, Time, const K&, std::optional<V>, State<S>&>;
  using M = typename R::value_type;
  return StateSpec<K, V, S, M, decltype(g)>(std::move(g));
}

namespace detail {

// The state of mapWithState: one hash map per partition, updated in place by each batch. A batch
// touches only the keys of its records (plus keys timing out, found through an update-time queue),
// so its cost follows the batch, not the state.
template <class K, class S>
struct StateStore {
  struct Entry {
    S value;
    std::int64_t updated_ms;
  };
  struct Partition {
    CombinerMap<K, Entry> map;
    std::deque<std::pair<std::int64_t, K>> touched;  // (update time, key), oldest first
  };
  std::vector<Partition> partitions;
};

template <class K, class V, class S, class M, class F>
class MapWithStateNode final : public DStreamNode<M> {
 public:
  MapWithStateNode(DStreamNodePtr<std::pair<K, V>> parent, StateSpec<K, V, S, M, F> spec,
                   int partitions)
      : DStreamNode<M>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)),
        spec_(std::move(spec)),
        store_(std::make_shared<StateStore<K, S>>()) {
    store_->partitions.resize(static_cast<std::size_t>(partitions));
  }

  // The state after batch t as an RDD (stateSnapshots).
  std::optional<RDD<std::pair<K, S>>> snapshot(Time t) {
    if (!this->getOrCompute(t)) return std::nullopt;
    std::vector<std::vector<std::pair<K, S>>> parts(store_->partitions.size());
    for (std::size_t p = 0; p < parts.size(); ++p) {
      for (const auto& [k, e] : store_->partitions[p].map) parts[p].emplace_back(k, e.value);
    }
    auto rdd = this->core().context().fromPartitions(std::move(parts));
    rdd.node()->setHashPartitions(static_cast<int>(store_->partitions.size()));
    return rdd;
  }

 protected:
  std::optional<RDD<M>> compute(Time t) override {
    const int n = static_cast<int>(store_->partitions.size());
    auto batch = parent_->getOrCompute(t);
    if (!loaded_initial_ && spec_.initial()) {
      for (auto& kv : spec_.initial()->collect()) {
        auto& part = store_->partitions[static_cast<std::size_t>(partitionOf(kv.first, n))];
        part.map.insert_or_assign(kv.first,
                                  typename StateStore<K, S>::Entry{kv.second, t.milliseconds()});
        part.touched.emplace_back(t.milliseconds(), kv.first);
      }
    }
    loaded_initial_ = true;
    std::vector<std::vector<M>> outputs(static_cast<std::size_t>(n));
    std::optional<RDD<std::pair<K, V>>> partitioned;
    if (batch) partitioned = batch->partitionBy(n);
    auto store = store_;
    const auto timeout = spec_.idleTimeout();
    const F& f = spec_.function();
    auto all = allPartitions(n);
    auto process_partition = [&, t](int p, std::span<std::pair<K, V>> records) {
      F fn = f;
      auto& part = store->partitions[static_cast<std::size_t>(p)];
      auto& out = outputs[static_cast<std::size_t>(p)];
      for (auto& kv : records) {
        auto it = part.map.find(kv.first);
        State<S> state(it == part.map.end() ? std::nullopt : std::optional<S>(it->second.value),
                       false);
        std::optional<M> mapped =
            fn(t, std::as_const(kv.first), std::optional<V>(std::move(kv.second)), state);
        if (state.wasRemoved()) {
          if (it != part.map.end()) part.map.erase(it);
        } else if (state.wasUpdated() || (timeout && state.exists())) {
          // With a timeout, a record for a key with state makes it active again even without
          // update() (Spark re-puts the state with the batch time).
          part.map.insert_or_assign(kv.first, typename StateStore<K, S>::Entry{
                                                  std::move(*state.value()), t.milliseconds()});
          if (timeout) part.touched.emplace_back(t.milliseconds(), kv.first);
        }
        if (mapped) out.push_back(std::move(*mapped));
      }
    };
    if (partitioned) {
      runJob(
          *partitioned->node(), all, "mapWithState",
          [&](int task) {
            auto body = [&process_partition, task](std::span<std::pair<K, V>> chunk) {
              process_partition(task, chunk);
            };
            return LambdaSink<std::pair<K, V>, decltype(body)>(body);
          },
          [](int, auto&) {});
    }
    if (timeout) {
      const std::int64_t threshold = t.milliseconds() - timeout->count();
      for (int p = 0; p < n; ++p) {
        auto& part = store->partitions[static_cast<std::size_t>(p)];
        F fn = f;
        while (!part.touched.empty() && part.touched.front().first < threshold) {
          auto [when, key] = std::move(part.touched.front());
          part.touched.pop_front();
          auto it = part.map.find(key);
          if (it == part.map.end() || it->second.updated_ms != when) continue;  // newer update
          State<S> state(std::optional<S>(it->second.value), true);
          std::optional<M> mapped = fn(t, std::as_const(key), std::optional<V>(), state);
          part.map.erase(it);
          if (mapped) outputs[static_cast<std::size_t>(p)].push_back(std::move(*mapped));
        }
      }
    }
    return this->core().context().fromPartitions(std::move(outputs));
  }

 private:
  DStreamNodePtr<std::pair<K, V>> parent_;
  StateSpec<K, V, S, M, F> spec_;
  std::shared_ptr<StateStore<K, S>> store_;
  bool loaded_initial_ = false;
};

template <class K, class V, class S, class M, class F>
class StateSnapshotNode final : public DStreamNode<std::pair<K, S>> {
 public:
  explicit StateSnapshotNode(std::shared_ptr<MapWithStateNode<K, V, S, M, F>> parent)
      : DStreamNode<std::pair<K, S>>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)) {}

 protected:
  std::optional<RDD<std::pair<K, S>>> compute(Time t) override { return parent_->snapshot(t); }

 private:
  std::shared_ptr<MapWithStateNode<K, V, S, M, F>> parent_;
};

}  // namespace detail

// The stream returned by mapWithState: the mapped values, plus stateSnapshots().
template <class K, class V, class S, class M, class F>
class MapWithStateDStream : public DStream<M> {
 public:
  explicit MapWithStateDStream(std::shared_ptr<detail::MapWithStateNode<K, V, S, M, F>> node)
      : DStream<M>(node), state_node_(std::move(node)) {}
  DStream<std::pair<K, S>> stateSnapshots() const {
    return DStream<std::pair<K, S>>(
        std::make_shared<detail::StateSnapshotNode<K, V, S, M, F>>(state_node_));
  }

 private:
  std::shared_ptr<detail::MapWithStateNode<K, V, S, M, F>> state_node_;
};

template <class T>
template <class F>
auto DStream<T>::updateStateByKeyWithTime(F f, int num_partitions) const {
  static_assert(detail::PairType<T>, "updateStateByKey needs a DStream of std::pair<K, V>");
  using K = typename T::first_type;
  using V = typename T::second_type;
  using R = std::invoke_result_t<F&, Time, const K&, const std::vector<V>&, std::nullopt_t>;
  using S = typename R::value_type;
  const int n = detail::resolvePartitions(num_partitions, *node_->core().context().runtime(),
                                          "updateStateByKey");
  auto g = [f = std::move(f)](Time t, const K& k, const std::vector<V>& vs,
                              std::optional<S> s) mutable { return f(t, k, vs, std::move(s)); };
  return DStream<std::pair<K, S>>(std::make_shared<detail::StateNode<K, V, S, decltype(g)>>(
      node_, std::move(g), n, std::nullopt));
}

template <class T>
template <class F>
auto DStream<T>::updateStateByKey(F f, int num_partitions) const {
  static_assert(detail::PairType<T>, "updateStateByKey needs a DStream of std::pair<K, V>");
  using K = typename T::first_type;
  using V = typename T::second_type;
  using R = std::invoke_result_t<F&, const std::vector<V>&, std::nullopt_t>;
  using S = typename R::value_type;
  return updateStateByKeyWithTime(
      [f = std::move(f)](Time, const K&, const std::vector<V>& vs, std::optional<S> s) mutable {
        return f(vs, std::move(s));
      },
      num_partitions);
}

template <class T>
template <class F, class K, class S>
auto DStream<T>::updateStateByKey(F f, int num_partitions,
                                  const RDD<std::pair<K, S>>& initial) const {
  static_assert(detail::PairType<T>, "updateStateByKey needs a DStream of std::pair<K, V>");
  using V = typename T::second_type;
  const int n = detail::resolvePartitions(num_partitions, *node_->core().context().runtime(),
                                          "updateStateByKey");
  auto g = [f = std::move(f)](Time, const K&, const std::vector<V>& vs,
                              std::optional<S> s) mutable { return f(vs, std::move(s)); };
  return DStream<std::pair<K, S>>(
      std::make_shared<detail::StateNode<K, V, S, decltype(g)>>(node_, std::move(g), n, initial));
}

template <class T>
template <class K, class V, class S, class M, class F>
auto DStream<T>::mapWithState(const StateSpec<K, V, S, M, F>& spec) const {
  static_assert(std::is_same_v<T, std::pair<K, V>>,
                "mapWithState: the StateSpec's K and V must match the stream");
  const int n =
      spec.partitions() > 0 ? spec.partitions() : node_->core().context().defaultParallelism();
  return MapWithStateDStream<K, V, S, M, F>(
      std::make_shared<detail::MapWithStateNode<K, V, S, M, F>>(node_, spec, n));
}

}  // namespace sluice
