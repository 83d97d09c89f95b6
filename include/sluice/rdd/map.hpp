// Narrow transformations: map, flatMap, filter, mapPartitions, glom, keyBy and the pair forms
// mapValues, flatMapValues, keys, values. Each is a node that transforms its parent's chunks in an
// inlined per-element loop; a chain of them is one pass per partition.
#pragma once

#include <sluice/rdd.hpp>

namespace sluice {
namespace detail {

// Feeds a pipe's input to its op. Stored chunks are read in place when the op takes `const In&`
// (kConst), else copied first.
template <class In, class Out, class Op, bool kConst>
class PipeSink final : public Sink<In> {
 public:
  PipeSink(Op& op, ChunkBuffer<Out>& out) : op_(op), out_(out) {}
  void push(std::span<In> chunk) override {
    for (In& x : chunk) op_(x, out_);
  }
  void pushConst(std::span<const In> chunk) override {
    if constexpr (kConst) {
      for (const In& x : chunk) op_(x, out_);
    } else {
      Sink<In>::pushConst(chunk);
    }
  }

 private:
  Op& op_;
  ChunkBuffer<Out>& out_;
};

// Element-wise operator node. `Op` is copied per task and called as op(element&, ChunkBuffer&),
// emitting zero or more outputs, and also with a const element when kConst; `preserves` keeps
// the parent's hash partitioning.
template <class In, class Out, class Op, bool kConst>
class PipeNode final : public Node<Out> {
 public:
  PipeNode(NodePtr<In> parent, Op op, bool preserves_partitioning)
      : Node<Out>(parent->runtimePtr(), parent->numPartitions()),
        parent_(std::move(parent)),
        op_(std::move(op)) {
    if (preserves_partitioning) this->setHashPartitions(parent_->hashPartitions());
  }
  void visitDependencies(const DependencyVisitor& visitor) override { visitor.narrow(*parent_); }

 protected:
  void compute(TaskContext& tc, int partition, Sink<Out>& out) override {
    Op op = op_;
    ChunkBuffer<Out> buf(out);
    PipeSink<In, Out, Op, kConst> sink(op, buf);
    parent_->iterate(tc, partition, sink);
    buf.flush();
  }

 private:
  NodePtr<In> parent_;
  Op op_;
};

template <class Out, bool kConst = false, class In, class Op>
RDD<Out> makePipe(const NodePtr<In>& parent, Op op, bool preserves_partitioning = false) {
  return RDD<Out>(std::make_shared<PipeNode<In, Out, Op, kConst>>(parent, std::move(op),
                                                                  preserves_partitioning));
}

template <class R>
using IterableElement = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;

// Moves the elements of an iterable returned by value into `buf`; copies from one returned by
// reference (the function may own it).
template <class R>
struct IsStdVector : std::false_type {};
template <class U, class A>
struct IsStdVector<std::vector<U, A>> : std::true_type {};

// A std::vector returned by value is handed downstream as a chunk, with no per-element move.
template <class Result, class Out>
void emitAll(Result&& result, ChunkBuffer<Out>& buf) {
  if constexpr (std::is_lvalue_reference_v<Result>) {
    for (const auto& y : result) buf.emplace(y);
  } else if constexpr (IsStdVector<std::remove_cvref_t<Result>>::value &&
                       std::is_same_v<typename std::remove_cvref_t<Result>::value_type, Out>) {
    buf.pushThrough(std::span<Out>(result.data(), result.size()));
  } else {
    for (auto&& y : result) buf.emplace(std::move(y));
  }
}

// Whole-partition operator: materializes the parent's partition and calls f(index, vector&&).
template <class In, class Out, class F>
class PartitionNode final : public Node<Out> {
 public:
  PartitionNode(NodePtr<In> parent, F f, bool preserves_partitioning)
      : Node<Out>(parent->runtimePtr(), parent->numPartitions()),
        parent_(std::move(parent)),
        f_(std::move(f)) {
    if (preserves_partitioning) this->setHashPartitions(parent_->hashPartitions());
  }
  void visitDependencies(const DependencyVisitor& visitor) override { visitor.narrow(*parent_); }

 protected:
  void compute(TaskContext& tc, int partition, Sink<Out>& out) override {
    std::vector<In> items;
    VectorSink<In> sink(items);
    parent_->iterate(tc, partition, sink);
    F f = f_;
    ChunkBuffer<Out> buf(out);
    emitAll<decltype(f(partition, std::move(items)))>(f(partition, std::move(items)), buf);
    buf.flush();
  }

 private:
  NodePtr<In> parent_;
  F f_;
};

}  // namespace detail

template <class T>
template <class F>
auto RDD<T>::map(F f) const {
  static_assert(detail::ElementFunction<F, T>,
                "map: the function must accept the RDD's element type");
  using U = detail::CallResult<F, T>;
  static_assert(!std::is_void_v<U>, "map: the function must return a value");
  return detail::makePipe<U, detail::kReadsConst<F, T>>(
      node_, [f = std::move(f)](auto& x, detail::ChunkBuffer<U>& out) mutable {
        out.emplaceResult([&]() -> U { return detail::callMove(f, x); });
      });
}

template <class T>
template <class F>
auto RDD<T>::flatMap(F f) const {
  static_assert(detail::ElementFunction<F, T>,
                "flatMap: the function must accept the RDD's element type");
  using R = detail::CallResult<F, T>;
  using U = detail::IterableElement<R>;
  return detail::makePipe<U, detail::kReadsConst<F, T>>(
      node_, [f = std::move(f)](auto& x, detail::ChunkBuffer<U>& out) mutable {
        detail::emitAll<decltype(detail::callMove(f, x))>(detail::callMove(f, x), out);
      });
}

template <class T>
template <class F>
RDD<T> RDD<T>::filter(F predicate) const {
  static_assert(std::is_invocable_r_v<bool, F&, const T&>,
                "filter: the predicate must take `const T&` and return bool");
  return detail::makePipe<T, true>(
      node_,
      [f = std::move(predicate)](auto& x, detail::ChunkBuffer<T>& out) mutable {
        if (std::invoke(f, std::as_const(x))) out.emplace(std::move(x));
      },
      true);
}

template <class T>
template <class F>
auto RDD<T>::mapPartitionsWithIndex(F f, bool preserves_partitioning) const {
  static_assert(std::is_invocable_v<F&, int, std::vector<T>&&>,
                "mapPartitionsWithIndex: the function must take (int, std::vector<T>&&)");
  using R = std::invoke_result_t<F&, int, std::vector<T>&&>;
  using U = detail::IterableElement<R>;
  return RDD<U>(std::make_shared<detail::PartitionNode<T, U, F>>(node_, std::move(f),
                                                                 preserves_partitioning));
}

template <class T>
template <class F>
auto RDD<T>::mapPartitions(F f, bool preserves_partitioning) const {
  static_assert(std::is_invocable_v<F&, std::vector<T>&&>,
                "mapPartitions: the function must take the partition as std::vector<T>&&");
  return mapPartitionsWithIndex(
      [f = std::move(f)](int, std::vector<T>&& items) mutable { return f(std::move(items)); },
      preserves_partitioning);
}

template <class T>
RDD<std::vector<T>> RDD<T>::glom() const {
  return mapPartitionsWithIndex([](int, std::vector<T>&& items) {
    std::vector<std::vector<T>> one;
    one.push_back(std::move(items));
    return one;
  });
}

template <class T>
template <class F>
auto RDD<T>::keyBy(F f) const {
  static_assert(std::is_invocable_v<F&, const T&>, "keyBy: the function must take `const T&`");
  using K = std::decay_t<std::invoke_result_t<F&, const T&>>;
  using P = std::pair<K, T>;
  return detail::makePipe<P, true>(
      node_, [f = std::move(f)](auto& x, detail::ChunkBuffer<P>& out) mutable {
        K key = std::invoke(f, std::as_const(x));
        out.emplace(std::move(key), std::move(x));
      });
}

template <class T>
template <class F>
auto RDD<T>::mapValues(F f) const {
  static_assert(detail::PairType<T>, "mapValues needs an RDD of std::pair<K, V>");
  using K = typename T::first_type;
  using V = typename T::second_type;
  static_assert(detail::ElementFunction<F, V>,
                "mapValues: the function must accept the value type");
  using P = std::pair<K, detail::CallResult<F, V>>;
  return detail::makePipe<P, detail::kReadsConst<F, V>>(
      node_,
      [f = std::move(f)](auto& x, detail::ChunkBuffer<P>& out) mutable {
        out.emplace(std::move(x.first), detail::callMove(f, x.second));
      },
      true);
}

template <class T>
template <class F>
auto RDD<T>::flatMapValues(F f) const {
  static_assert(detail::PairType<T>, "flatMapValues needs an RDD of std::pair<K, V>");
  using K = typename T::first_type;
  using V = typename T::second_type;
  static_assert(detail::ElementFunction<F, V>,
                "flatMapValues: the function must accept the value type");
  using P = std::pair<K, detail::IterableElement<detail::CallResult<F, V>>>;
  return detail::makePipe<P, detail::kReadsConst<F, V>>(
      node_,
      [f = std::move(f)](auto& x, detail::ChunkBuffer<P>& out) mutable {
        auto&& values = detail::callMove(f, x.second);
        for (auto&& v : values) out.emplace(x.first, std::move(v));
      },
      true);
}

template <class T>
auto RDD<T>::keys() const {
  static_assert(detail::PairType<T>, "keys needs an RDD of std::pair<K, V>");
  using K = typename T::first_type;
  return detail::makePipe<K, true>(
      node_, [](auto& x, detail::ChunkBuffer<K>& out) { out.emplace(std::move(x.first)); });
}

template <class T>
auto RDD<T>::values() const {
  static_assert(detail::PairType<T>, "values needs an RDD of std::pair<K, V>");
  using V = typename T::second_type;
  return detail::makePipe<V, true>(
      node_, [](auto& x, detail::ChunkBuffer<V>& out) { out.emplace(std::move(x.second)); });
}

}  // namespace sluice
