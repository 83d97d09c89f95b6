// Actions: run a job and bring the result back to the caller. Each runs the RDD's stages on the
// Context's worker threads; an exception thrown by user code fails the job and is rethrown here
// as JobFailedError naming the stage and partition.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <functional>
#include <map>
#include <sluice/rdd.hpp>
#include <sluice/rdd/text_output.hpp>

namespace sluice {
namespace detail {

// Runs `node` on every partition, handing each task's sink to finish(task, sink).
template <class T, class MakeSink, class Finish>
void runAll(Node<T>& node, std::string_view description, MakeSink make_sink, Finish finish) {
  auto all = allPartitions(node.numPartitions());
  runJob(node, all, description, std::move(make_sink), std::move(finish));
}

// Per-partition results of `fold_chunk(state&, span)` starting from `init`, in partition order.
template <class T, class S, class FoldChunk>
std::vector<S> perPartition(Node<T>& node, std::string_view description, const S& init,
                            FoldChunk fold_chunk) {
  std::vector<S> results(static_cast<std::size_t>(node.numPartitions()), init);
  runAll(
      node, description,
      [&](int task) {
        auto body = [&results, task, fold_chunk](std::span<T> chunk) mutable {
          fold_chunk(results[static_cast<std::size_t>(task)], chunk);
        };
        return LambdaSink<T, decltype(body)>(body);
      },
      [](int, auto&) {});
  return results;
}

// Keeps the n smallest elements by `less` seen so far; amortized O(log n) per element.
template <class T, class Less>
class BoundedSmallest {
 public:
  BoundedSmallest(std::size_t n, Less less) : n_(n), less_(std::move(less)) {}
  void add(T&& x) {
    if (n_ == 0) return;
    items_.push_back(std::move(x));
    // Same as size >= 2 * n_ + 16, written so that a huge n_ (e.g. LLONG_MAX) cannot overflow.
    if (items_.size() > n_ && items_.size() - n_ >= n_ + 16) trim();
  }
  std::vector<T> finish() {
    std::stable_sort(items_.begin(), items_.end(), less_);
    if (items_.size() > n_) items_.resize(n_);
    return std::move(items_);
  }

 private:
  void trim() {
    std::nth_element(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n_), items_.end(),
                     less_);
    items_.resize(n_);
  }
  std::size_t n_;
  Less less_;
  std::vector<T> items_;
};

template <class T, class Less>
std::vector<T> takeSmallest(Node<T>& node, long long n, Less less) {
  if (n < 0) throw InvalidArgumentError("takeOrdered: n must be non-negative");
  auto parts = perPartition<T>(node, "takeOrdered", std::vector<T>{},
                               [n, less](std::vector<T>& best, std::span<T> chunk) {
                                 BoundedSmallest<T, Less> keep(static_cast<std::size_t>(n), less);
                                 for (auto& x : best) keep.add(std::move(x));
                                 for (auto& x : chunk) keep.add(std::move(x));
                                 best = keep.finish();
                               });
  BoundedSmallest<T, Less> keep(static_cast<std::size_t>(n), less);
  for (auto& part : parts) {
    for (auto& x : part) keep.add(std::move(x));
  }
  return keep.finish();
}

}  // namespace detail

template <class T>
std::vector<T> RDD<T>::collect() const {
  std::vector<std::vector<T>> parts(static_cast<std::size_t>(getNumPartitions()));
  detail::runAll(
      *node_, "collect",
      [&](int task) { return detail::VectorSink<T>(parts[static_cast<std::size_t>(task)]); },
      [](int, auto&) {});
  std::size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<T> result;
  result.reserve(total);
  for (auto& p : parts) std::move(p.begin(), p.end(), std::back_inserter(result));
  return result;
}

template <class T>
long long RDD<T>::count() const {
  auto counts = detail::perPartition<T>(*node_, "count", 0LL, [](long long& n, std::span<T> chunk) {
    n += static_cast<long long>(chunk.size());
  });
  long long total = 0;
  for (long long c : counts) total += c;
  return total;
}

// Scans partitions in growing batches (1, then 4x more each round) until n elements are found.
template <class T>
std::vector<T> RDD<T>::take(long long n) const {
  if (n < 0) throw InvalidArgumentError("take: n must be non-negative");
  std::vector<T> result;
  const int parts = getNumPartitions();
  int scanned = 0;
  int batch = 1;
  while (static_cast<long long>(result.size()) < n && scanned < parts) {
    int end = std::min(parts, scanned + batch);
    std::vector<int> partitions;
    for (int p = scanned; p < end; ++p) partitions.push_back(p);
    std::vector<std::vector<T>> found(partitions.size());
    const long long want = n - static_cast<long long>(result.size());
    detail::runJob(
        *node_, partitions, "take",
        [&](int task) {
          auto body = [&found, task, want](std::span<T> chunk) {
            auto& mine = found[static_cast<std::size_t>(task)];
            for (auto& x : chunk) {
              if (static_cast<long long>(mine.size()) >= want) return;
              mine.push_back(std::move(x));
            }
          };
          return detail::LambdaSink<T, decltype(body)>(body);
        },
        [](int, auto&) {});
    for (auto& f : found) {
      for (auto& x : f) {
        if (static_cast<long long>(result.size()) == n) break;
        result.push_back(std::move(x));
      }
    }
    scanned = end;
    batch *= 4;
  }
  return result;
}

template <class T>
T RDD<T>::first() const {
  auto one = take(1);
  if (one.empty()) throw UnsupportedOperationError("first: RDD is empty");
  return std::move(one.front());
}

template <class T>
std::vector<T> RDD<T>::takeOrdered(long long n) const {
  return detail::takeSmallest(*node_, n, std::less<T>());
}

template <class T>
template <class KeyFn>
std::vector<T> RDD<T>::takeOrdered(long long n, KeyFn key_fn) const {
  static_assert(std::is_invocable_v<KeyFn&, const T&>,
                "takeOrdered: the key function must take `const T&`");
  return detail::takeSmallest(*node_, n, [key_fn](const T& a, const T& b) {
    return std::invoke(key_fn, a) < std::invoke(key_fn, b);
  });
}

template <class T>
std::vector<T> RDD<T>::top(long long n) const {
  return detail::takeSmallest(*node_, n, std::greater<T>());
}

template <class T>
template <class F>
T RDD<T>::reduce(F f) const {
  static_assert(std::is_invocable_r_v<T, F&, T&&, T&&>,
                "reduce: the function must take two elements and return one");
  auto parts = detail::perPartition<T>(*node_, "reduce", std::optional<T>{},
                                       [f](std::optional<T>& acc, std::span<T> chunk) mutable {
                                         for (auto& x : chunk) {
                                           if (acc) {
                                             acc = f(std::move(*acc), std::move(x));
                                           } else {
                                             acc = std::move(x);
                                           }
                                         }
                                       });
  std::optional<T> result;
  for (auto& p : parts) {
    if (!p) continue;
    result = result ? f(std::move(*result), std::move(*p)) : std::move(*p);
  }
  if (!result) throw UnsupportedOperationError("reduce: empty collection");
  return std::move(*result);
}

template <class T>
template <class F>
T RDD<T>::fold(T zero_value, F f) const {
  return aggregate(std::move(zero_value), f, f);
}

template <class T>
template <class U, class SeqOp, class CombOp>
U RDD<T>::aggregate(U zero_value, SeqOp seq_op, CombOp comb_op) const {
  auto parts = detail::perPartition<T>(*node_, "aggregate", zero_value,
                                       [seq_op](U& acc, std::span<T> chunk) mutable {
                                         for (auto& x : chunk)
                                           acc = seq_op(std::move(acc), std::move(x));
                                       });
  U result = std::move(zero_value);
  for (auto& p : parts) result = comb_op(std::move(result), std::move(p));
  return result;
}

template <class T>
template <class F>
void RDD<T>::foreach (F f) const {
  static_assert(std::is_invocable_v<F&, T&>, "foreach: the function must accept the element type");
  detail::runAll(
      *node_, "foreach",
      [&](int) {
        auto body = [f](std::span<T> chunk) mutable {
          for (auto& x : chunk) std::invoke(f, x);
        };
        return detail::LambdaSink<T, decltype(body)>(body);
      },
      [](int, auto&) {});
}

template <class T>
template <class F>
void RDD<T>::foreachPartition(F f) const {
  static_assert(std::is_invocable_v<F&, std::vector<T>&&>,
                "foreachPartition: the function must take the partition as std::vector<T>&&");
  std::vector<std::vector<T>> parts(static_cast<std::size_t>(getNumPartitions()));
  detail::runAll(
      *node_, "foreachPartition",
      [&](int task) { return detail::VectorSink<T>(parts[static_cast<std::size_t>(task)]); },
      [&](int task, auto&) {
        F task_f = f;
        task_f(std::move(parts[static_cast<std::size_t>(task)]));
      });
}

template <class T>
auto RDD<T>::countByValue() const {
  using Counts = absl::flat_hash_map<T, long long, StableHasher<T>>;
  auto parts = detail::perPartition<T>(*node_, "countByValue", Counts{},
                                       [](Counts& counts, std::span<T> chunk) {
                                         for (auto& x : chunk) ++counts[std::move(x)];
                                       });
  std::map<T, long long> result;
  for (auto& p : parts) {
    for (auto& [k, v] : p) result[k] += v;
  }
  return result;
}

template <class T>
auto RDD<T>::countByKey() const {
  static_assert(detail::PairType<T>, "countByKey needs an RDD of std::pair<K, V>");
  return keys().countByValue();
}

template <class T>
auto RDD<T>::collectAsMap() const {
  static_assert(detail::PairType<T>, "collectAsMap needs an RDD of std::pair<K, V>");
  std::map<typename T::first_type, typename T::second_type> result;
  for (auto& kv : collect()) result.insert_or_assign(std::move(kv.first), std::move(kv.second));
  return result;
}

template <class T>
template <class K>
auto RDD<T>::lookup(const K& key) const {
  static_assert(detail::PairType<T>, "lookup needs an RDD of std::pair<K, V>");
  using V = typename T::second_type;
  const typename T::first_type wanted(key);
  std::vector<int> partitions;
  if (auto n = node_->hashPartitions(); n && *n == getNumPartitions()) {
    partitions.push_back(partitionOf(wanted, *n));
  } else {
    partitions = detail::allPartitions(getNumPartitions());
  }
  std::vector<std::vector<V>> found(partitions.size());
  detail::runJob(
      *node_, partitions, "lookup",
      [&](int task) {
        auto body = [&found, &wanted, task](std::span<T> chunk) {
          for (auto& kv : chunk) {
            if (kv.first == wanted)
              found[static_cast<std::size_t>(task)].push_back(std::move(kv.second));
          }
        };
        return detail::LambdaSink<T, decltype(body)>(body);
      },
      [](int, auto&) {});
  std::vector<V> result;
  for (auto& f : found) std::move(f.begin(), f.end(), std::back_inserter(result));
  return result;
}

template <class T>
bool RDD<T>::isEmpty() const {
  return getNumPartitions() == 0 || take(1).empty();
}

template <class T>
T RDD<T>::sum() const {
  static_assert(detail::Numeric<T>, "sum needs an RDD of numbers");
  return fold(T{}, [](T a, T b) { return a + b; });
}

template <class T>
T RDD<T>::max() const {
  return reduce([](T a, T b) { return a < b ? std::move(b) : std::move(a); });
}

template <class T>
T RDD<T>::min() const {
  return reduce([](T a, T b) { return b < a ? std::move(b) : std::move(a); });
}

template <class T>
double RDD<T>::mean() const {
  static_assert(detail::Numeric<T>, "mean needs an RDD of numbers");
  auto [total, n] = aggregate(
      std::pair<double, long long>(0.0, 0),
      [](std::pair<double, long long> acc, T x) {
        return std::pair<double, long long>(acc.first + static_cast<double>(x), acc.second + 1);
      },
      [](std::pair<double, long long> a, std::pair<double, long long> b) {
        return std::pair<double, long long>(a.first + b.first, a.second + b.second);
      });
  if (n == 0) throw UnsupportedOperationError("mean: empty collection");
  return total / static_cast<double>(n);
}

namespace detail {
// Writes `rdd` as text part files into `path`; with `overwrite`, an existing directory is
// replaced atomically (streaming re-runs), otherwise it is an error.
template <class T>
void saveText(const RDD<T>& rdd, const std::string& path, bool overwrite) {
  TextOutputCommitter committer(path, overwrite);
  std::vector<std::unique_ptr<PartFileWriter>> writers(
      static_cast<std::size_t>(rdd.getNumPartitions()));
  std::vector<long long> lines(writers.size());
  runAll(
      *rdd.node(), "saveAsTextFile",
      [&](int task) {
        auto& writer = writers[static_cast<std::size_t>(task)];
        writer = std::make_unique<PartFileWriter>(committer.partPath(task));
        auto body = [&writer, &count = lines[static_cast<std::size_t>(task)],
                     line = std::string()](std::span<T> chunk) mutable {
          count += static_cast<long long>(chunk.size());
          for (const auto& x : chunk) {
            line.clear();
            appendStr(line, x);
            line.push_back('\n');
            writer->write(line);
          }
        };
        return LambdaSink<T, decltype(body)>(body);
      },
      [&](int task, auto&, TaskContext& tc) {
        auto& writer = *writers[static_cast<std::size_t>(task)];
        writer.close();
        tc.metrics.records_written += lines[static_cast<std::size_t>(task)];
        tc.metrics.bytes_written += writer.bytesWritten();
      });
  committer.commit();
}
}  // namespace detail

template <class T>
void RDD<T>::saveAsTextFile(const std::string& path) const {
  detail::saveText(*this, path, false);
}

}  // namespace sluice
