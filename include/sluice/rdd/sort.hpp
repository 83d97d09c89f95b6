// Global sorting: sortByKey and sortBy. A range partitioner chosen from a sample of the keys
// (a job that runs when the sort is defined, as in Spark) sends each key range to one partition,
// which is then sorted, so partition i holds keys before those of partition i + 1.
#pragma once

#include <algorithm>
#include <random>
#include <sluice/rdd.hpp>
#include <sluice/rdd/shuffle.hpp>

namespace sluice {
namespace detail {

// Up to `per_partition` keys sampled uniformly (reservoir) from each partition, with the
// partition's size, so that bounds can weigh samples by how many keys each one stands for.
template <class T, class K>
std::vector<K> rangeBounds(Node<T>& node, int num_partitions, bool ascending) {
  const int parts = node.numPartitions();
  if (num_partitions <= 1 || parts == 0) return {};
  const std::size_t per_partition =
      static_cast<std::size_t>(std::ceil(3.0 * std::min(20.0 * num_partitions, 1e6) / parts));
  struct Sample {
    std::vector<K> keys;
    std::size_t seen = 0;
  };
  std::vector<Sample> samples(static_cast<std::size_t>(parts));
  auto all = allPartitions(parts);
  runJob(
      node, all, "sortByKey sample",
      [&](int task) {
        auto add = [&samples, task, per_partition,
                    rng = std::mt19937_64(taskSeed(0x50F7, task))](std::span<T> chunk) mutable {
          Sample& s = samples[static_cast<std::size_t>(task)];
          for (auto& kv : chunk) {
            ++s.seen;
            if (s.keys.size() < per_partition) {
              s.keys.push_back(kv.first);
            } else {
              std::size_t j = rng() % s.seen;
              if (j < per_partition) s.keys[j] = kv.first;
            }
          }
        };
        return LambdaSink<T, decltype(add)>(add);
      },
      [](int, auto&) {});
  std::vector<std::pair<K, double>> weighted;
  for (auto& s : samples) {
    if (s.keys.empty()) continue;
    double weight = static_cast<double>(s.seen) / static_cast<double>(s.keys.size());
    for (auto& k : s.keys) weighted.emplace_back(std::move(k), weight);
  }
  if (weighted.empty()) return {};
  std::sort(weighted.begin(), weighted.end(), [ascending](const auto& a, const auto& b) {
    return ascending ? a.first < b.first : b.first < a.first;
  });
  double total = 0;
  for (const auto& w : weighted) total += w.second;
  const double step = total / num_partitions;
  std::vector<K> bounds;
  double cumulative = 0;
  double target = step;
  for (const auto& [key, weight] : weighted) {
    cumulative += weight;
    if (cumulative >= target) {
      bool distinct = bounds.empty() || (ascending ? bounds.back() < key : key < bounds.back());
      if (distinct) {
        bounds.push_back(key);
        target += step;
        if (static_cast<int>(bounds.size()) == num_partitions - 1) break;
      }
    }
  }
  return bounds;
}

}  // namespace detail

template <class T>
RDD<T> RDD<T>::sortByKey(bool ascending, int num_partitions) const {
  static_assert(detail::PairType<T>, "sortByKey needs an RDD of std::pair<K, V>");
  using K = typename T::first_type;
  int n = num_partitions == -1
              ? std::max(1, getNumPartitions())
              : detail::resolvePartitions(num_partitions, node_->runtime(), "sortByKey");
  auto bounds =
      std::make_shared<const std::vector<K>>(detail::rangeBounds<T, K>(*node_, n, ascending));
  auto make_fn = [bounds, ascending](int) {
    return [bounds, ascending](const T& kv) {
      auto it = ascending ? std::upper_bound(bounds->begin(), bounds->end(), kv.first)
                          : std::upper_bound(bounds->begin(), bounds->end(), kv.first,
                                             [](const K& a, const K& b) { return b < a; });
      return static_cast<int>(it - bounds->begin());
    };
  };
  auto dep = std::make_shared<detail::PartitioningShuffle<T, decltype(make_fn)>>(node_, make_fn, n);
  auto sort_partition = [ascending](std::vector<T>& items) {
    if (ascending) {
      std::stable_sort(items.begin(), items.end(),
                       [](const T& a, const T& b) { return a.first < b.first; });
    } else {
      std::stable_sort(items.begin(), items.end(),
                       [](const T& a, const T& b) { return b.first < a.first; });
    }
  };
  return RDD<T>(
      std::make_shared<detail::ShuffleReadNode<T, decltype(sort_partition)>>(dep, sort_partition));
}

template <class T>
template <class F>
RDD<T> RDD<T>::sortBy(F key_fn, bool ascending, int num_partitions) const {
  static_assert(std::is_invocable_v<F&, const T&>, "sortBy: the key function must take `const T&`");
  return keyBy(std::move(key_fn)).sortByKey(ascending, num_partitions).values();
}

}  // namespace sluice
