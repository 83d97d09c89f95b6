// Sources of RDDs that live in memory: parallelize, fromPartitions, emptyRDD and range.
// (textFile is implemented in src/io.)
#pragma once

#include <sluice/rdd.hpp>

namespace sluice {
namespace detail {

// Partitions held in memory, shared read-only by every job that reads them.
template <class T>
class MemoryNode final : public Node<T> {
 public:
  // `bounds` has numPartitions + 1 offsets into `data`.
  MemoryNode(std::shared_ptr<Runtime> runtime, std::shared_ptr<const std::vector<T>> data,
             std::vector<std::size_t> bounds)
      : Node<T>(std::move(runtime), static_cast<int>(bounds.size()) - 1),
        data_(std::move(data)),
        bounds_(std::move(bounds)) {}
  void visitDependencies(const DependencyVisitor&) override {}

 protected:
  void compute(TaskContext& tc, int partition, Sink<T>& out) override {
    auto begin = bounds_[static_cast<std::size_t>(partition)];
    auto end = bounds_[static_cast<std::size_t>(partition) + 1];
    tc.metrics.records_read += static_cast<long long>(end - begin);
    pushStored(std::span<const T>(data_->data() + begin, end - begin), out, tc);
  }

 private:
  std::shared_ptr<const std::vector<T>> data_;
  std::vector<std::size_t> bounds_;
};

// Spark's slicing: slice i holds [i * n / slices, (i + 1) * n / slices).
inline std::vector<std::size_t> sliceBounds(std::size_t n, int slices) {
  std::vector<std::size_t> bounds(static_cast<std::size_t>(slices) + 1);
  for (int i = 0; i <= slices; ++i) {
    bounds[static_cast<std::size_t>(i)] =
        static_cast<std::size_t>((static_cast<unsigned __int128>(n) * static_cast<unsigned>(i)) /
                                 static_cast<unsigned>(slices));
  }
  return bounds;
}

class RangeNode final : public Node<long long> {
 public:
  RangeNode(std::shared_ptr<Runtime> runtime, long long start, long long step,
            std::vector<std::size_t> bounds)
      : Node<long long>(std::move(runtime), static_cast<int>(bounds.size()) - 1),
        start_(start),
        step_(step),
        bounds_(std::move(bounds)) {}
  void visitDependencies(const DependencyVisitor&) override {}

 protected:
  void compute(TaskContext& tc, int partition, Sink<long long>& out) override {
    ChunkBuffer<long long> buf(out);
    for (auto i = bounds_[static_cast<std::size_t>(partition)];
         i < bounds_[static_cast<std::size_t>(partition) + 1] && !tc.isCancelled(); ++i) {
      buf.emplace(start_ + static_cast<long long>(i) * step_);
    }
    buf.flush();
    tc.metrics.records_read +=
        static_cast<long long>(bounds_[static_cast<std::size_t>(partition) + 1] -
                               bounds_[static_cast<std::size_t>(partition)]);
  }

 private:
  long long start_;
  long long step_;
  std::vector<std::size_t> bounds_;
};

}  // namespace detail

template <class T>
RDD<T> Context::parallelize(std::vector<T> data, int num_slices) const {
  runtime_->checkActive();
  int slices = detail::resolvePartitions(num_slices, *runtime_, "parallelize");
  auto bounds = detail::sliceBounds(data.size(), slices);
  return RDD<T>(std::make_shared<detail::MemoryNode<T>>(
      runtime_, std::make_shared<const std::vector<T>>(std::move(data)), std::move(bounds)));
}

template <class T>
RDD<T> Context::fromPartitions(std::vector<std::vector<T>> partitions) const {
  runtime_->checkActive();
  std::vector<std::size_t> bounds{0};
  std::size_t total = 0;
  for (const auto& p : partitions) total += p.size();
  std::vector<T> data;
  data.reserve(total);
  for (auto& p : partitions) {
    std::move(p.begin(), p.end(), std::back_inserter(data));
    bounds.push_back(data.size());
  }
  return RDD<T>(std::make_shared<detail::MemoryNode<T>>(
      runtime_, std::make_shared<const std::vector<T>>(std::move(data)), std::move(bounds)));
}

template <class T>
RDD<T> Context::emptyRDD() const {
  return fromPartitions<T>({});
}

inline RDD<long long> Context::range(long long start, long long end, long long step,
                                     int num_slices) const {
  runtime_->checkActive();
  if (step == 0) throw InvalidArgumentError("range: step must not be 0");
  int slices = detail::resolvePartitions(num_slices, *runtime_, "range");
  std::size_t n = 0;
  if ((step > 0 && end > start) || (step < 0 && end < start)) {
    auto span = static_cast<unsigned long long>(step > 0 ? end - start : start - end);
    auto abs_step = static_cast<unsigned long long>(step > 0 ? step : -step);
    n = static_cast<std::size_t>((span + abs_step - 1) / abs_step);
  }
  return RDD<long long>(
      std::make_shared<detail::RangeNode>(runtime_, start, step, detail::sliceBounds(n, slices)));
}

}  // namespace sluice
