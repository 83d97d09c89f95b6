// Window operations. The window at time t covers the parent's batches in (t - W, t]; windowed
// streams produce RDDs at zeroTime + k*S. Both W and S must be multiples of the parent's slide.
#pragma once

#include <sluice/streaming/transform.hpp>

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

// Spark's ReducedWindowedDStream: window(t) = window(t - S) - leaving batches + entering batches,
// per key, each batch reduced once. Window results are materialized, so lineage stays short.
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
        filter_(std::move(filter)) {
    reduced_->setMustPersist();
  }
  Duration parentRememberExtra() const override { return window_; }

 protected:
  std::optional<RDD<P>> compute(Time t) override {
    const Duration batch = reduced_->slideDuration();
    const Duration slide = this->slideDuration();
    const Time cur_begin = t - window_ + batch;
    const Time prev_begin = cur_begin - slide;
    const Time prev_end = t - slide;
    auto old_rdds = reduced_->slice(prev_begin, cur_begin - batch);
    auto new_rdds = reduced_->slice(prev_end + batch, t);
    auto& runtime = this->core().context().runtime();
    // The previous window is this stream's own (filtered) RDD at t - S, as in Spark.
    std::optional<RDD<P>> prev = this->getOrCompute(prev_end);
    if (!prev) old_rdds.clear();  // nothing to subtract from

    // The leaving and entering batches, tagged and combined per key: a shuffle of batch data
    // only. The previous window is already hash-partitioned the same way, so the cogroup below
    // reads both sides where they are, without moving the window's keys.
    struct Change {
      std::optional<V> old, added;
    };
    using Tagged = std::pair<K, std::pair<bool, V>>;  // true: entering
    std::vector<RDD<Tagged>> parts;
    auto tag = [](bool entering) {
      return [entering](P kv) {
        return Tagged(std::move(kv.first), {entering, std::move(kv.second)});
      };
    };
    for (auto& r : old_rdds) parts.push_back(r.map(tag(false)));
    for (auto& r : new_rdds) parts.push_back(r.map(tag(true)));
    F f = f_;
    auto add = [f](Change c, std::pair<bool, V>&& value) mutable {
      std::optional<V>& slot = value.first ? c.added : c.old;
      slot = slot ? f(std::move(*slot), std::move(value.second)) : std::move(value.second);
      return c;
    };
    auto merge = [add](Change a, Change b) mutable {
      if (b.old) a = add(std::move(a), {false, std::move(*b.old)});
      if (b.added) a = add(std::move(a), {true, std::move(*b.added)});
      return a;
    };
    auto changes = unionAll<Tagged>(runtime, parts)
                       .combineByKey(
                           [add](std::pair<bool, V>&& value) mutable {
                             return add(Change{}, std::move(value));
                           },
                           add, merge, partitions_);
    RDD<P> previous =
        prev ? *prev
             : RDD<P>(std::make_shared<MemoryNode<P>>(
                   runtime, std::make_shared<const std::vector<P>>(), std::vector<std::size_t>{0}));
    InvF inv_f = inv_f_;
    auto result =
        previous.cogroup(changes, partitions_)
            .flatMapValues([f, inv_f](std::pair<std::vector<V>, std::vector<Change>>&& g) mutable {
              std::vector<V> out;
              std::optional<V> old, added;
              if (!g.second.empty()) {
                old = std::move(g.second.front().old);
                added = std::move(g.second.front().added);
              }
              if (g.first.empty()) {
                if (!added) {
                  throw Error("Neither previous window has value for key, nor new values found");
                }
                out.push_back(std::move(*added));
                return out;
              }
              V v = std::move(g.first.front());
              if (old) v = inv_f(std::move(v), std::move(*old));
              if (added) v = f(std::move(v), std::move(*added));
              out.push_back(std::move(v));
              return out;
            });
    return materialize(filter_ ? result.filter(filter_) : result);
  }

 private:
  DStreamNodePtr<P> reduced_;
  Duration window_;
  int partitions_;
  F f_;
  InvF inv_f_;
  std::function<bool(const P&)> filter_;
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
