// Window operations. The window at time t covers the parent's batches in (t - W, t]; windowed
// streams produce RDDs at zeroTime + k*S. Both W and S must be multiples of the parent's slide.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <sluice/rdd/shuffle.hpp>
#include <sluice/streaming/state_store.hpp>
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

// Spark's ReducedWindowedDStream: window(t) = window(t') - batches leaving + batches entering,
// per key, each batch reduced once, t' being the window of the committed state. The window is a
// state store (state_store.hpp): per hash partition a persistent slot store of its pairs plus an
// index from key to slot. The RDD at t is a version whose task p reads partition p of the
// leaving and entering batches and changes only their keys, in a copy of the slots (O(1)) and
// lists of index changes; so a slide costs O(those batches), not O(keys in the window), and the
// window's RDD is an O(1) snapshot of the slots. The batch commits the version; a failed slide
// leaves the state at the previous window, and the next slide goes from there. With a state
// backend (RocksDB) the committed window lives in the backend instead: a slide reads the keys it
// touches from it and keeps their new values in memory until the commit writes them, and the
// window's RDD is the backend's partition with the version's changes over it, readable until a
// later version commits: outputs read it in its batch, and a window of this stream persists it.
template <class K, class V, class F, class InvF>
class ReducedWindowedNode final : public DStreamNode<std::pair<K, V>> {
  static_assert(Serializable<K> && Serializable<V>,
                "reduceByKeyAndWindow with an inverse function: the key and value types must go "
                "through sluice/serialization.hpp (checkpoints save them); give them a cereal "
                "serialize()");

 public:
  using P = std::pair<K, V>;
  ReducedWindowedNode(DStreamNodePtr<P> reduced, Duration window, Duration slide, int partitions,
                      F f, InvF inv_f, std::function<bool(const P&)> filter)
      : DStreamNode<P>(reduced->corePtr(), slide, {reduced}),
        reduced_(std::move(reduced)),
        window_(window),
        f_(std::move(f)),
        inv_f_(std::move(inv_f)),
        filter_(std::move(filter)),
        store_(std::make_shared<Store>(partitions)) {
    reduced_->setMustPersist();
    this->setStateStore(store_, DStreamBase::StateCheckpoint::kTenSeconds);
  }
  Duration parentRememberExtra() const override { return window_; }

 protected:
  std::optional<RDD<P>> compute(Time t) override {
    const Duration batch = reduced_->slideDuration();
    std::optional<Time> base = store_->committedTime();
    const Time zero = reduced_->zeroTime();
    const Time cur_begin = t - window_ + batch;
    // A window asked for again once the state has moved past it is computed from its batches.
    const bool detached = base && t <= *base;
    if (detached) base.reset();
    auto version = std::make_shared<Version>(t, base, store_->numPartitions(), detached);
    // Entering: the current window's batches the committed window lacks; leaving: the committed
    // window's batches the current one lacks. Without a committed window, all of the current.
    Time entering_after = std::max(cur_begin - batch, zero);
    if (base) {
      held_.forgetUpTo(std::max(*base - window_, zero));
      entering_after = std::max(entering_after, *base);
      const Time leaving_to = std::min(*base, cur_begin - batch);
      addInputs(*version, held_.range(*reduced_, std::max(*base - window_, zero), leaving_to),
                false);
    }
    addInputs(*version, held_.range(*reduced_, entering_after, t), true);
    store_->addVersion(version);
    auto body = [store = store_, version, f = f_, inv_f = inv_f_, filter = filter_](
                    TaskContext& tc, int p, Sink<P>& out) {
      version->computeOnce(p, tc, [&] {
        store->checkReadable(*version);
        store->slide(tc, p, *version, f, inv_f, filter);
      });
      ChunkBuffer<P> buf(out);
      if (store->backend() != nullptr) {
        store->readWindow(tc, p, *version, buf);
      } else {
        version->parts[static_cast<std::size_t>(p)].snapshot.forEach(
            [&](std::uint32_t, const P& kv) {
              buf.emplace(kv);
              return !tc.isCancelled();
            });
      }
      buf.flush();
    };
    return RDD<P>(std::make_shared<StateVersionNode<P, decltype(body)>>(
        this->core().context().runtime(), store_->numPartitions(), version->deps, std::move(body)));
  }

 private:
  // One hash partition of the window.
  struct Partition {
    PersistentSlots<P> slots;
    absl::flat_hash_map<K, std::uint32_t, StableHasher<K>> index;
  };
  // What a slide's task p makes of partition p, committed with the batch. With a backend only
  // `values` is used.
  struct Update {
    CombinerMap<K, std::optional<V>> values;  // each touched key's new value, or removed
    PersistentSlots<P> slots;
    typename PersistentSlots<P>::Snapshot snapshot;
    std::vector<std::pair<K, std::uint32_t>> added;  // keys new to the window
    std::vector<K> removed;                          // keys the filter dropped
    std::vector<K> changed;                          // every key the slide touched
  };
  struct Version final : StateVersionBase {
    Version(Time t, std::optional<Time> base, int n, bool detached)
        : StateVersionBase(t, base, n, detached), parts(static_cast<std::size_t>(n)) {}
    std::vector<std::pair<NodePtr<P>, bool>> inputs;  // (reduced batch, entering)
    std::vector<std::shared_ptr<NodeBase>> deps;
    std::vector<Update> parts;
  };
  // A key's leaving and entering values, each reduced with f.
  struct Change {
    std::optional<V> old, added;
  };

  void addInputs(Version& version, const std::vector<std::pair<Time, std::optional<RDD<P>>>>& rdds,
                 bool entering) const {
    for (const auto& [u, rdd] : rdds) {
      if (!rdd) continue;
      // The batches come from reduceByKey(f, partitions), which partitionBy passes through.
      auto node = rdd->partitionBy(store_->numPartitions()).node();
      version.deps.push_back(node);
      version.inputs.emplace_back(std::move(node), entering);
    }
  }

  class Store final : public StateStoreBase {
   public:
    explicit Store(int n)
        : StateStoreBase("reduceByKeyAndWindow", n), parts_(static_cast<std::size_t>(n)) {}
    void addVersion(std::shared_ptr<Version> v) { addPending(std::move(v)); }
    using StateStoreBase::checkReadable;

    void slide(TaskContext& tc, int p, Version& version, F f, InvF inv_f,
               const std::function<bool(const P&)>& filter) const {
      CombinerMap<K, Change> changes;
      for (const auto& [node, is_entering] : version.inputs) {
        auto body = [&, is_entering = is_entering](std::span<P> chunk) {
          for (auto& kv : chunk) {
            auto it = changes.lazy_emplace(
                kv.first, [&](const auto& construct) { construct(std::move(kv.first), Change{}); });
            std::optional<V>& value = is_entering ? it->second.added : it->second.old;
            value = value ? f(std::move(*value), std::move(kv.second)) : std::move(kv.second);
          }
        };
        LambdaSink<P, decltype(body)> sink(body);
        node->iterate(tc, p, sink);
      }
      Update& update = version.parts[static_cast<std::size_t>(p)];
      update = Update{};
      if (backend() != nullptr) {
        slideInBackend(p, version.detached(), changes, update, f, inv_f, filter);
        return;
      }
      const Partition none;
      const Partition& part = version.detached() ? none : parts_[static_cast<std::size_t>(p)];
      update.slots = part.slots;
      drainMap(changes, [&](K&& key, Change&& change) {
        update.changed.push_back(key);
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
      update.snapshot = update.slots.snapshot();
    }

    // Partition p of the window at `version` from the backend, into `buf`.
    void readWindow(TaskContext& tc, int p, const Version& version, ChunkBuffer<P>& buf) const {
      const auto& values = version.parts[static_cast<std::size_t>(p)].values;
      if (committedTime() == version.time()) {
        backend()->scan(p, [&](std::string_view key, std::string_view value) {
          buf.emplace(deserialize<K>(key), deserialize<V>(value));
          return !tc.isCancelled();
        });
        return;
      }
      checkReadable(version);
      if (!version.detached()) {
        backend()->scan(p, [&](std::string_view key, std::string_view value) {
          K k = deserialize<K>(key);
          if (!values.contains(k)) buf.emplace(std::move(k), deserialize<V>(value));
          return !tc.isCancelled();
        });
      }
      for (const auto& [k, v] : values) {
        if (v) buf.emplace(k, *v);
      }
    }

    std::string saveState(bool full, const StateSaveTarget& target) override {
      if (backend() != nullptr) return saveBackend(target);
      std::vector<std::pair<K, std::optional<V>>> out;
      if (full) {
        dirty_.clear();
        for (const auto& part : parts_) {
          part.slots.snapshot().forEach([&](std::uint32_t, const P& kv) {
            out.emplace_back(kv.first, kv.second);
            return true;
          });
        }
      } else {
        for (const auto& [k, unused] : dirty_) {
          const Partition& part = parts_[static_cast<std::size_t>(partitionOf(k, numPartitions()))];
          auto it = part.index.find(k);
          out.emplace_back(k, it == part.index.end()
                                  ? std::nullopt
                                  : std::optional<V>(part.slots.get(it->second).second));
        }
        dirty_.clear();
      }
      return serialize(out);
    }

    void restoreState(std::string_view bytes, bool full, const std::string& dir) override {
      if (backend() != nullptr) {
        restoreBackend<K>(bytes, dir);
        return;
      }
      checkInMemoryFormat(bytes);
      if (full) parts_.assign(parts_.size(), Partition{});
      for (auto& [k, v] : decodeState<std::vector<std::pair<K, std::optional<V>>>>(bytes, kind())) {
        Partition& part = parts_[static_cast<std::size_t>(partitionOf(k, numPartitions()))];
        auto it = part.index.find(k);
        if (it != part.index.end()) {
          part.slots.erase(it->second);
          part.index.erase(it);
        }
        if (v) {
          const std::uint32_t slot = part.slots.add(P(k, std::move(*v)));
          part.index.emplace(std::move(k), slot);
        }
      }
    }

    StateSize stateSize() const override {
      if (backend() != nullptr) return backend()->approximateSize();
      long long keys = 0;
      for (const auto& part : parts_) keys += static_cast<long long>(part.index.size());
      return sampledStateSize(keys, [&](auto&& f) {
        for (const auto& part : parts_) {
          for (const auto& [key, slot] : part.index) {
            if (!f(deepBytes(part.slots.get(slot)))) return;
          }
        }
      });
    }

   protected:
    void commit(StateVersionBase& base) override {
      auto& version = static_cast<Version&>(base);
      if (backend() != nullptr) {
        commitToBackend([&](int p) -> const auto& {
          return version.parts[static_cast<std::size_t>(p)].values;
        });
        // The version's RDD now reads the backend alone.
        for (auto& update : version.parts) update.values.clear();
        return;
      }
      for (std::size_t p = 0; p < parts_.size(); ++p) {
        Partition& part = parts_[p];
        Update& update = version.parts[p];
        part.slots = update.slots;
        for (const K& key : update.removed) part.index.erase(key);
        for (auto& [key, slot] : update.added) part.index.emplace(std::move(key), slot);
        for (auto& key : update.changed) dirty_.insert_or_assign(std::move(key), true);
        update.added.clear();
        update.removed.clear();
        update.changed.clear();
        update.slots = PersistentSlots<P>();  // the version keeps its snapshot only
      }
    }

   private:
    // slide() with the committed window in the backend: reads each touched key's value there.
    void slideInBackend(int p, bool detached, CombinerMap<K, Change>& changes, Update& update, F& f,
                        InvF& inv_f, const std::function<bool(const P&)>& filter) const {
      drainMap(changes, [&](K&& key, Change&& change) {
        std::optional<std::string> bytes;
        if (!detached) bytes = backend()->get(p, serialize(key));
        if (!bytes) {
          if (!change.added) {
            throw Error("Neither previous window has value for key, nor new values found");
          }
          P kv(std::move(key), std::move(*change.added));
          if (filter && !filter(std::as_const(kv))) return;
          update.values.insert_or_assign(std::move(kv.first), std::move(kv.second));
          return;
        }
        P kv(std::move(key), deserialize<V>(*bytes));
        if (change.old) kv.second = inv_f(std::move(kv.second), std::move(*change.old));
        if (change.added) kv.second = f(std::move(kv.second), std::move(*change.added));
        if (filter && !filter(std::as_const(kv))) {
          update.values.insert_or_assign(std::move(kv.first), std::nullopt);
        } else {
          update.values.insert_or_assign(std::move(kv.first), std::move(kv.second));
        }
      });
    }

    std::vector<Partition> parts_;
    CombinerMap<K, bool> dirty_;  // keys changed since the last save
  };

  DStreamNodePtr<P> reduced_;
  Duration window_;
  F f_;
  InvF inv_f_;
  std::function<bool(const P&)> filter_;
  std::shared_ptr<Store> store_;
  HeldInputs<P> held_;
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
