// Output operations: pprint, print, foreachRDD, saveAsTextFiles. Each registers with the context
// and produces one job per batch in which its stream has an RDD, run in registration order.
#pragma once

#include <cstdio>
#include <sluice/streaming/dstream.hpp>
#include <string>

namespace sluice {
namespace detail {

template <class T, class F>
class ForEachOutput final : public OutputBase {
 public:
  ForEachOutput(DStreamNodePtr<T> parent, F f, std::string name)
      : parent_(std::move(parent)), f_(std::move(f)), name_(std::move(name)) {}
  DStreamBase& stream() override { return *parent_; }
  std::optional<std::function<void()>> generateJob(Time t) override {
    auto rdd = parent_->getOrCompute(t);
    if (!rdd) return std::nullopt;
    return std::function<void()>([this, rdd = std::move(*rdd), t] { f_(rdd, t); });
  }
  std::string outputName() const override { return name_; }

 private:
  DStreamNodePtr<T> parent_;
  F f_;
  std::string name_;
};

template <class T, class F>
void registerOutput(const DStreamNodePtr<T>& node, F f, std::string name) {
  node->core().checkCanBuild();
  node->core().registerOutput(
      std::make_shared<ForEachOutput<T, F>>(node, std::move(f), std::move(name)));
}

// "2019-02-04 11:34:08" in local time, with ".500000" when there are milliseconds (Python's
// str(datetime)).
std::string pythonLocalTime(Time t);
// Prints the header, the lines and the blank line in one write.
void printBatch(const std::string& time_line, const std::vector<std::string>& lines, bool more);

template <class T>
void printFirst(const RDD<T>& rdd, std::size_t num, const std::string& time_line) {
  auto taken = rdd.take(static_cast<long long>(num) + 1);
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < taken.size() && i < num; ++i) lines.push_back(str(taken[i]));
  printBatch(time_line, lines, taken.size() > num);
}

}  // namespace detail

template <class T>
void DStream<T>::pprint(int num) const {
  if (num < 0) throw InvalidArgumentError("pprint: num must be non-negative");
  detail::registerOutput(
      node_,
      [num](const RDD<T>& rdd, Time t) {
        detail::printFirst(rdd, static_cast<std::size_t>(num),
                           "Time: " + detail::pythonLocalTime(t));
      },
      "pprint");
}

template <class T>
void DStream<T>::print(int num) const {
  if (num < 0) throw InvalidArgumentError("print: num must be non-negative");
  detail::registerOutput(
      node_,
      [num](const RDD<T>& rdd, Time t) {
        detail::printFirst(rdd, static_cast<std::size_t>(num), "Time: " + t.toString());
      },
      "print");
}

template <class T>
template <class F>
void DStream<T>::foreachRDD(F f) const {
  if constexpr (std::is_invocable_v<F&, const RDD<T>&, Time>) {
    detail::registerOutput(node_, std::move(f), "foreachRDD");
  } else {
    static_assert(std::is_invocable_v<F&, const RDD<T>&>,
                  "foreachRDD: the function must take (RDD<T>) or (RDD<T>, sluice::Time)");
    detail::registerOutput(
        node_, [f = std::move(f)](const RDD<T>& rdd, Time) mutable { f(rdd); }, "foreachRDD");
  }
}

template <class T>
void DStream<T>::saveAsTextFiles(const std::string& prefix, const std::string& suffix) const {
  detail::registerOutput(
      node_,
      [prefix, suffix](const RDD<T>& rdd, Time t) {
        std::string path = prefix + "-" + std::to_string(t.milliseconds());
        if (!suffix.empty()) path += "." + suffix;
        detail::saveText(rdd, path, true);
      },
      "saveAsTextFiles");
}

}  // namespace sluice
