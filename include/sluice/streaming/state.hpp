// Stateful operations: updateStateByKey (full state every batch) and mapWithState (per-record
// calls against per-key state kept in hash maps that each batch updates in place).
#pragma once

#include <deque>
#include <sluice/streaming/state_store.hpp>
#include <sluice/streaming/window.hpp>
#include <unordered_map>

namespace sluice {
namespace detail {

// Spark's StateDStream. f(time, key, values, state) -> optional new state, called for every key
// with state or new values at every batch; the output is the whole state. Its RDD at t is a
// version of the stream's state store (state_store.hpp): task p brings partition p from the
// committed state through every batch since, so the RDD is hash-partitioned and lineage never
// grows.
template <class K, class V, class S, class F>
class StateNode final : public DStreamNode<std::pair<K, S>> {
 public:
  using P = std::pair<K, S>;
  using Part = std::shared_ptr<const std::vector<P>>;
  static_assert(Serializable<K> && Serializable<S>,
                "updateStateByKey: the key and state types must go through "
                "sluice/serialization.hpp (checkpoints save them); give them a cereal serialize()");

  StateNode(DStreamNodePtr<std::pair<K, V>> parent, F f, int partitions,
            std::optional<RDD<P>> initial)
      : DStreamNode<P>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)),
        f_(std::move(f)),
        initial_(std::move(initial)),
        store_(std::make_shared<Store>(partitions)) {
    this->setStateStore(store_, DStreamBase::StateCheckpoint::kTenSeconds);
  }

 protected:
  std::optional<RDD<P>> compute(Time t) override {
    const std::optional<Time> base = store_->committedTime();
    inputs_.forgetUpTo(base.value_or(this->zeroTime()));
    auto inputs = inputs_.range(*parent_, base.value_or(this->zeroTime()), t);
    const int n = store_->numPartitions();
    std::vector<std::shared_ptr<NodeBase>> deps;
    std::vector<std::pair<Time, NodePtr<std::pair<K, V>>>> steps;
    for (auto& [u, rdd] : inputs) {
      NodePtr<std::pair<K, V>> node;
      if (rdd) {
        node = rdd->partitionBy(n).node();
        deps.push_back(node);
      }
      steps.emplace_back(u, std::move(node));
    }
    NodePtr<P> initial;
    if (store_->awaitsInitialState() && initial_) {
      initial = initial_->partitionBy(n).node();
      deps.push_back(initial);
    }
    const bool has_input =
        std::any_of(steps.begin(), steps.end(), [](const auto& s) { return s.second != nullptr; });
    if (!base && !initial && !has_input) {
      store_->noteEmpty(t);
      return std::nullopt;
    }
    auto version = std::make_shared<Version>(t, base, n);
    store_->addVersion(version);
    auto body = [store = store_, version, steps = std::move(steps), initial, f = f_](
                    TaskContext& tc, int p, Sink<P>& out) {
      version->computeOnce(p, tc, [&] {
        store->checkReadable(*version);
        F fn = f;
        store->advance(tc, p, initial, steps, fn, version->parts[static_cast<std::size_t>(p)]);
      });
      pushStored(std::span<const P>(*version->parts[static_cast<std::size_t>(p)].state), out, tc);
    };
    return RDD<P>(std::make_shared<StateVersionNode<P, decltype(body)>>(
        this->core().context().runtime(), n, std::move(deps), std::move(body)));
  }

 private:
  // Partition p of a version: the whole state, and the keys whose state changed (or went) since
  // the committed state, for incremental checkpoints.
  struct Result {
    Part state;
    std::vector<std::pair<K, std::optional<S>>> changed;
  };
  struct Version final : StateVersionBase {
    Version(Time t, std::optional<Time> base, int n)
        : StateVersionBase(t, base, n), parts(static_cast<std::size_t>(n)) {}
    std::vector<Result> parts;
  };

  class Store final : public StateStoreBase {
   public:
    explicit Store(int n)
        : StateStoreBase("updateStateByKey", n),
          parts_(static_cast<std::size_t>(n), std::make_shared<const std::vector<P>>()) {}
    void addVersion(std::shared_ptr<Version> v) { addPending(std::move(v)); }
    using StateStoreBase::checkReadable;
    using StateStoreBase::noteEmpty;

    // Brings partition p from the committed state (or the initial RDD) through every step.
    void advance(TaskContext& tc, int p, const NodePtr<P>& initial,
                 const std::vector<std::pair<Time, NodePtr<std::pair<K, V>>>>& steps, F& f,
                 Result& result) const {
      std::vector<K> keys;
      std::vector<std::optional<S>> states;
      CombinerMap<K, std::size_t> index;
      auto add = [&](const K& key) {
        auto [it, fresh] = index.try_emplace(key, keys.size());
        if (fresh) {
          keys.push_back(key);
          states.emplace_back();
        }
        return it->second;
      };
      if (initial) {
        std::vector<P> pairs;
        VectorSink<P> sink(pairs);
        initial->iterate(tc, p, sink);
        for (auto& kv : pairs) states[add(kv.first)] = std::move(kv.second);
      } else if (backend() != nullptr) {
        backend()->scan(p, [&](std::string_view key, std::string_view state) {
          states[add(deserialize<K>(key))] = deserialize<S>(state);
          return true;
        });
      } else {
        for (const auto& kv : *parts_[static_cast<std::size_t>(p)]) {
          states[add(kv.first)] = kv.second;
        }
      }
      // Keys of the committed state (none when starting from the initial RDD: all are new).
      const std::size_t committed_keys = initial ? 0 : keys.size();
      std::vector<std::optional<S>> before;
      if constexpr (std::equality_comparable<S>) before = states;
      for (const auto& [u, node] : steps) {
        std::vector<std::vector<V>> values(keys.size());
        if (node) {
          auto body = [&](std::span<std::pair<K, V>> chunk) {
            for (auto& kv : chunk) {
              const std::size_t i = add(kv.first);
              if (i >= values.size()) values.resize(i + 1);
              values[i].push_back(std::move(kv.second));
            }
          };
          LambdaSink<std::pair<K, V>, decltype(body)> sink(body);
          node->iterate(tc, p, sink);
        }
        values.resize(keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) {
          if (!states[i] && values[i].empty()) continue;  // removed earlier in this version
          states[i] = f(u, std::as_const(keys[i]), std::as_const(values[i]), std::move(states[i]));
        }
      }
      auto next = std::make_shared<std::vector<P>>();
      next->reserve(keys.size());
      for (std::size_t i = 0; i < keys.size(); ++i) {
        bool changed = true;
        if constexpr (std::equality_comparable<S>) {
          changed = i >= committed_keys || states[i] != before[i];
        }
        if (changed && (states[i] || i < committed_keys)) {
          result.changed.emplace_back(keys[i], states[i]);
        }
        if (states[i]) next->emplace_back(std::move(keys[i]), std::move(*states[i]));
      }
      result.state = std::move(next);
    }

    std::string saveState(bool full, const StateSaveTarget& target) override {
      if (backend() != nullptr) return saveBackend(target);
      if (full) {
        changes_.clear();
        std::vector<P> all;
        for (const auto& part : parts_) all.insert(all.end(), part->begin(), part->end());
        return serialize(all);
      }
      std::vector<std::pair<K, std::optional<S>>> changes;
      drainMap(changes_, [&](K&& k, std::optional<S>&& s) {
        changes.emplace_back(std::move(k), std::move(s));
      });
      changes_.clear();
      return serialize(changes);
    }

    void restoreState(std::string_view bytes, bool full, const std::string& dir) override {
      if (backend() != nullptr) {
        restoreBackend<K>(bytes, dir);
        return;
      }
      checkInMemoryFormat(bytes);
      const int n = numPartitions();
      std::vector<std::vector<P>> parts(static_cast<std::size_t>(n));
      if (full) {
        for (auto& kv : decodeState<std::vector<P>>(bytes, kind())) {
          parts[static_cast<std::size_t>(partitionOf(kv.first, n))].push_back(std::move(kv));
        }
      } else {
        CombinerMap<K, std::optional<S>> changes;
        for (auto& [k, s] : decodeState<std::vector<std::pair<K, std::optional<S>>>>(bytes, kind()))
          changes.insert_or_assign(std::move(k), std::move(s));
        for (std::size_t p = 0; p < parts_.size(); ++p) {
          for (const auto& kv : *parts_[p]) {
            auto it = changes.find(kv.first);
            if (it == changes.end()) {
              parts[p].push_back(kv);
            } else if (it->second) {
              parts[p].emplace_back(kv.first, std::move(*it->second));
              changes.erase(it);
            } else {
              changes.erase(it);
            }
          }
        }
        drainMap(changes, [&](K&& k, std::optional<S>&& s) {
          if (!s) return;
          const int p = partitionOf(k, n);
          parts[static_cast<std::size_t>(p)].emplace_back(std::move(k), std::move(*s));
        });
      }
      for (std::size_t p = 0; p < parts.size(); ++p)
        parts_[p] = std::make_shared<const std::vector<P>>(std::move(parts[p]));
    }

    StateSize stateSize() const override {
      if (backend() != nullptr) return backend()->approximateSize();
      long long keys = 0;
      for (const auto& part : parts_) keys += static_cast<long long>(part->size());
      return sampledStateSize(keys, [&](auto&& f) {
        for (const auto& part : parts_) {
          for (const auto& entry : *part) {
            if (!f(deepBytes(entry))) return;
          }
        }
      });
    }

   protected:
    void commit(StateVersionBase& base) override {
      auto& version = static_cast<Version&>(base);
      if (backend() != nullptr) {
        commitToBackend([&](int p) -> const auto& {
          return version.parts[static_cast<std::size_t>(p)].changed;
        });
        return;
      }
      for (std::size_t p = 0; p < parts_.size(); ++p) {
        parts_[p] = version.parts[p].state;
        for (auto& [k, s] : version.parts[p].changed) changes_.insert_or_assign(k, s);
      }
    }

   private:
    std::vector<Part> parts_;                   // committed state, by partition
    CombinerMap<K, std::optional<S>> changes_;  // since the last save
  };

  DStreamNodePtr<std::pair<K, V>> parent_;
  F f_;
  std::optional<RDD<P>> initial_;
  std::shared_ptr<Store> store_;
  HeldInputs<std::pair<K, V>> inputs_;
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

// Spark's MapWithStateDStream. The state is a store (state_store.hpp) holding, per partition, a
// hash map from key to (state, last update time) and, with a timeout, a queue of (update time,
// key) oldest first. The RDD at t is a version: task p runs the function on partition p's
// records against the committed map and keeps only what changed (a delta), so a batch costs the
// keys it touches (plus keys timing out, found at the queue's front), not the state's size; the
// delta is applied to the map when the batch commits. Mapped values come from batch t's records
// only; the records of a failed batch retried by this one change the state, as in Spark.
template <class K, class V, class S, class M, class F>
class MapWithStateNode final : public DStreamNode<M> {
  static_assert(Serializable<K> && Serializable<S>,
                "mapWithState: the key and state types must go through sluice/serialization.hpp "
                "(checkpoints save them); give them a cereal serialize()");

 public:
  struct Entry {
    S value;
    std::int64_t updated_ms = 0;
    template <class Archive>
    void serialize(Archive& archive) {
      archive(value, updated_ms);
    }
  };

 private:
  struct Result {
    CombinerMap<K, std::optional<Entry>> changes;    // the keys touched: new entry, or removed
    std::size_t popped = 0;                          // taken off the committed timeout queue
    std::vector<std::pair<std::int64_t, K>> queued;  // added to the timeout queue, in order
    std::vector<M> mapped;
  };
  struct Version final : StateVersionBase {
    Version(Time t, std::optional<Time> base, int n)
        : StateVersionBase(t, base, n), parts(static_cast<std::size_t>(n)) {}
    std::vector<std::pair<Time, NodePtr<std::pair<K, V>>>> steps;  // the batches since base
    NodePtr<std::pair<K, S>> initial;  // the initial state, loaded by the first version
    std::vector<std::shared_ptr<NodeBase>> deps;
    std::vector<Result> parts;
  };
  struct Partition {
    CombinerMap<K, Entry> map;
    std::deque<std::pair<std::int64_t, K>> queue;  // (update time, key), oldest first
  };

  class Store final : public StateStoreBase {
   public:
    Store(int n, bool timeout)
        : StateStoreBase("mapWithState", n),
          parts_(static_cast<std::size_t>(n)),
          timeout_(timeout) {}
    void addVersion(std::shared_ptr<Version> v) { addPending(std::move(v)); }
    using StateStoreBase::checkReadable;
    const Partition& committed(int p) const { return parts_[static_cast<std::size_t>(p)]; }

    // Entries read from a backend by one task, by key: decoded once, at stable addresses.
    using Fetched = std::unordered_map<K, std::optional<Entry>, StableHasher<K>>;
    // The committed entry of `key` in partition p, or null.
    const Entry* find(int p, const K& key, Fetched& fetched) const {
      if (backend() == nullptr) {
        const auto& map = parts_[static_cast<std::size_t>(p)].map;
        auto it = map.find(key);
        return it == map.end() ? nullptr : &it->second;
      }
      auto it = fetched.find(key);
      if (it == fetched.end()) {
        std::optional<Entry> entry;
        if (auto bytes = backend()->get(p, serialize(key))) entry = deserialize<Entry>(*bytes);
        it = fetched.emplace(key, std::move(entry)).first;
      }
      return it->second ? &*it->second : nullptr;
    }
    // Calls f(key, entry) for every committed entry of partition p.
    template <class Fn>
    void forEachCommitted(int p, Fn&& f) const {
      if (backend() == nullptr) {
        for (const auto& [k, e] : parts_[static_cast<std::size_t>(p)].map) f(k, e);
        return;
      }
      backend()->scan(p, [&](std::string_view key, std::string_view entry) {
        f(deserialize<K>(key), deserialize<Entry>(entry));
        return true;
      });
    }

    std::string saveState(bool full, const StateSaveTarget& target) override {
      if (backend() != nullptr) return saveBackend(target);
      std::vector<std::pair<K, std::optional<Entry>>> out;
      if (full) {
        dirty_.clear();
        for (const auto& part : parts_)
          for (const auto& [k, e] : part.map) out.emplace_back(k, e);
      } else {
        for (const auto& [k, unused] : dirty_) {
          const auto& map = parts_[static_cast<std::size_t>(partitionOf(k, numPartitions()))].map;
          auto it = map.find(k);
          out.emplace_back(k, it == map.end() ? std::nullopt : std::optional<Entry>(it->second));
        }
        dirty_.clear();
      }
      return serialize(out);
    }

    void restoreState(std::string_view bytes, bool full, const std::string& dir) override {
      const int n = numPartitions();
      if (backend() != nullptr) {
        restoreBackend<K>(bytes, dir);
      } else {
        checkInMemoryFormat(bytes);
        if (full) parts_.assign(parts_.size(), Partition{});
        for (auto& [k, e] :
             decodeState<std::vector<std::pair<K, std::optional<Entry>>>>(bytes, kind())) {
          auto& map = parts_[static_cast<std::size_t>(partitionOf(k, n))].map;
          if (e) {
            map.insert_or_assign(std::move(k), std::move(*e));
          } else {
            map.erase(k);
          }
        }
      }
      // The timeout queue is not saved: it is rebuilt from each entry's last update time.
      for (int p = 0; p < n; ++p) {
        auto& queue = parts_[static_cast<std::size_t>(p)].queue;
        queue.clear();
        if (!timeout_) continue;
        forEachCommitted(p,
                         [&](const K& k, const Entry& e) { queue.emplace_back(e.updated_ms, k); });
        std::sort(queue.begin(), queue.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
      }
    }

    StateSize stateSize() const override {
      if (backend() != nullptr) return backend()->approximateSize();
      long long keys = 0;
      for (const auto& part : parts_) keys += static_cast<long long>(part.map.size());
      return sampledStateSize(keys, [&](auto&& f) {
        for (const auto& part : parts_) {
          for (const auto& entry : part.map) {
            if (!f(deepBytes(entry.first) + deepBytes(entry.second.value) +
                   sizeof(entry.second.updated_ms))) {
              return;
            }
          }
        }
      });
    }

   protected:
    void commit(StateVersionBase& base) override {
      auto& version = static_cast<Version&>(base);
      if (backend() != nullptr) {
        commitToBackend([&](int p) -> const auto& {
          return version.parts[static_cast<std::size_t>(p)].changes;
        });
      }
      for (std::size_t p = 0; p < parts_.size(); ++p) {
        Partition& part = parts_[p];
        Result& result = version.parts[p];
        if (backend() == nullptr) {
          for (auto& [k, e] : result.changes) {
            dirty_.insert_or_assign(k, true);
            if (e) {
              part.map.insert_or_assign(k, std::move(*e));
            } else {
              part.map.erase(k);
            }
          }
        }
        result.changes.clear();
        part.queue.erase(part.queue.begin(),
                         part.queue.begin() + static_cast<std::ptrdiff_t>(result.popped));
        for (auto& q : result.queued) part.queue.push_back(std::move(q));
        result.queued.clear();
      }
    }

   private:
    std::vector<Partition> parts_;
    bool timeout_;
    CombinerMap<K, bool> dirty_;  // keys changed since the last save
  };

 public:
  MapWithStateNode(DStreamNodePtr<std::pair<K, V>> parent, StateSpec<K, V, S, M, F> spec,
                   int partitions)
      : DStreamNode<M>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)),
        spec_(std::move(spec)),
        store_(std::make_shared<Store>(partitions, spec_.idleTimeout().has_value())) {
    this->setStateStore(store_, DStreamBase::StateCheckpoint::kTenBatches);
  }

  // The state after batch t as an RDD (stateSnapshots): the committed map with version t's delta
  // over it, read while version t is current.
  std::optional<RDD<std::pair<K, S>>> snapshot(Time t) {
    if (!this->getOrCompute(t)) return std::nullopt;
    auto it = versions_.find(t);
    if (it == versions_.end()) {
      throw IllegalStateError("The state of mapWithState at " + t.toString() +
                              " is no longer available");
    }
    auto ensure = ensurer(it->second);
    auto body = [ensure, store = store_, version = it->second](TaskContext& tc, int p,
                                                               Sink<std::pair<K, S>>& out) {
      ensure(tc, p);
      ChunkBuffer<std::pair<K, S>> buf(out);
      if (store->committedTime() == version->time()) {
        store->forEachCommitted(p, [&](const K& k, const Entry& e) { buf.emplace(k, e.value); });
      } else {
        store->checkReadable(*version);
        const auto& changes = version->parts[static_cast<std::size_t>(p)].changes;
        store->forEachCommitted(p, [&](const K& k, const Entry& e) {
          if (!changes.contains(k)) buf.emplace(k, e.value);
        });
        for (const auto& [k, e] : changes) {
          if (e) buf.emplace(k, e->value);
        }
      }
      buf.flush();
    };
    return RDD<std::pair<K, S>>(std::make_shared<StateVersionNode<std::pair<K, S>, decltype(body)>>(
        this->core().context().runtime(), store_->numPartitions(), it->second->deps,
        std::move(body)));
  }

 protected:
  std::optional<RDD<M>> compute(Time t) override {
    const std::optional<Time> base = store_->committedTime();
    versions_.erase(versions_.begin(), versions_.lower_bound(base.value_or(Time(0))));
    const int n = store_->numPartitions();
    auto version = std::make_shared<Version>(t, base, n);
    inputs_.forgetUpTo(base.value_or(this->zeroTime()));
    for (auto& [u, rdd] : inputs_.range(*parent_, base.value_or(this->zeroTime()), t)) {
      NodePtr<std::pair<K, V>> node;
      if (rdd) {
        node = rdd->partitionBy(n).node();
        version->deps.push_back(node);
      }
      version->steps.emplace_back(u, std::move(node));
    }
    if (store_->awaitsInitialState() && spec_.initial()) {
      version->initial = spec_.initial()->partitionBy(n).node();
      version->deps.push_back(version->initial);
    }
    store_->addVersion(version);
    versions_[t] = version;
    auto ensure = ensurer(version);
    auto body = [ensure, version](TaskContext& tc, int p, Sink<M>& out) {
      ensure(tc, p);
      pushStored(std::span<const M>(version->parts[static_cast<std::size_t>(p)].mapped), out, tc);
    };
    return RDD<M>(std::make_shared<StateVersionNode<M, decltype(body)>>(
        this->core().context().runtime(), n, version->deps, std::move(body)));
  }

 private:
  // Computes partition p of `version` once, for whichever of its RDDs reads it first.
  auto ensurer(const std::shared_ptr<Version>& version) const {
    return [store = store_, version, f = spec_.function(), timeout = spec_.idleTimeout()](
               TaskContext& tc, int p) {
      version->computeOnce(p, tc, [&] {
        store->checkReadable(*version);
        F fn = f;
        advance(tc, *store, *version, p, fn, timeout);
      });
    };
  }

  static void advance(TaskContext& tc, const Store& store, Version& version, int p, F& f,
                      const std::optional<Duration>& timeout) {
    Result& result = version.parts[static_cast<std::size_t>(p)];
    result = Result{};
    const Partition& committed = store.committed(p);
    typename Store::Fetched fetched;
    auto lookup = [&](const K& key) -> const Entry* {
      if (auto it = result.changes.find(key); it != result.changes.end()) {
        return it->second ? &*it->second : nullptr;
      }
      return store.find(p, key, fetched);
    };
    if (version.initial) {
      // Spark loads the initial state with the first batch's time.
      const std::int64_t first = version.steps.front().first.milliseconds();
      std::vector<std::pair<K, S>> pairs;
      VectorSink<std::pair<K, S>> sink(pairs);
      version.initial->iterate(tc, p, sink);
      for (auto& [k, s] : pairs) {
        if (timeout) result.queued.emplace_back(first, k);
        result.changes.insert_or_assign(std::move(k), Entry{std::move(s), first});
      }
    }
    std::size_t queued_done = 0;  // entries of result.queued already scanned for timeouts
    for (const auto& [u, node] : version.steps) {
      const bool emit = u == version.time();
      const std::int64_t now = u.milliseconds();
      if (node) {
        auto body = [&](std::span<std::pair<K, V>> chunk) {
          for (auto& kv : chunk) {
            const Entry* current = lookup(kv.first);
            State<S> state(current ? std::optional<S>(current->value) : std::nullopt, false);
            std::optional<M> mapped =
                f(u, std::as_const(kv.first), std::optional<V>(std::move(kv.second)), state);
            if (state.wasRemoved()) {
              result.changes.insert_or_assign(kv.first, std::nullopt);
            } else if (state.wasUpdated() || (timeout && state.exists())) {
              // With a timeout, a record for a key with state makes it active again even without
              // update() (Spark re-puts the state with the batch time).
              result.changes.insert_or_assign(kv.first, Entry{std::move(*state.value()), now});
              if (timeout) result.queued.emplace_back(now, kv.first);
            }
            if (mapped && emit) result.mapped.push_back(std::move(*mapped));
          }
        };
        LambdaSink<std::pair<K, V>, decltype(body)> sink(body);
        node->iterate(tc, p, sink);
      }
      if (!timeout) continue;
      const std::int64_t threshold = now - timeout->count();
      auto expire = [&](std::int64_t when, const K& key) {
        const Entry* current = lookup(key);
        if (current == nullptr || current->updated_ms != when) return;  // updated since
        State<S> state(std::optional<S>(current->value), true);
        std::optional<M> mapped = f(u, key, std::optional<V>(), state);
        result.changes.insert_or_assign(key, std::nullopt);
        if (mapped && emit) result.mapped.push_back(std::move(*mapped));
      };
      while (result.popped < committed.queue.size() &&
             committed.queue[result.popped].first < threshold) {
        const auto& [when, key] = committed.queue[result.popped++];
        expire(when, key);
      }
      while (queued_done < result.queued.size() && result.queued[queued_done].first < threshold) {
        const auto [when, key] = result.queued[queued_done++];
        expire(when, key);
      }
    }
    // What was scanned off this version's own queue entries is gone for good.
    result.queued.erase(result.queued.begin(),
                        result.queued.begin() + static_cast<std::ptrdiff_t>(queued_done));
  }

  DStreamNodePtr<std::pair<K, V>> parent_;
  StateSpec<K, V, S, M, F> spec_;
  std::shared_ptr<Store> store_;
  HeldInputs<std::pair<K, V>> inputs_;
  std::map<Time, std::shared_ptr<Version>> versions_;  // for stateSnapshots
};

template <class K, class V, class S, class M, class F>
class StateSnapshotNode final : public DStreamNode<std::pair<K, S>> {
 public:
  explicit StateSnapshotNode(std::shared_ptr<MapWithStateNode<K, V, S, M, F>> parent)
      : DStreamNode<std::pair<K, S>>(parent->corePtr(), parent->slideDuration(), {parent}),
        parent_(std::move(parent)) {
    // Read once while its version is current, then from the cache.
    this->setMustPersist();
  }

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
