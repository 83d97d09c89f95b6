// queueStream: batches from a queue of RDDs (tests and demos).
#pragma once

#include <deque>
#include <sluice/streaming/dstream.hpp>

namespace sluice::detail {

// Per batch: one RDD (oneAtATime) or the union of all queued RDDs; when the queue is empty, the
// default RDD, or no RDD at all when there is none (Scala's explicit null default; the default of
// StreamingContext::queueStream is an empty RDD, so a drained queue still gives empty batches).
template <class T>
class QueueInputNode final : public DStreamNode<T>, public InputBase {
 public:
  QueueInputNode(std::shared_ptr<StreamingCore> core, std::deque<RDD<T>> queue, bool one_at_a_time,
                 std::optional<RDD<T>> default_rdd)
      : DStreamNode<T>(core, core->batchDuration(), {}),
        queue_(std::move(queue)),
        one_at_a_time_(one_at_a_time),
        default_rdd_(std::move(default_rdd)) {}
  int streamId() const override { return this->id(); }
  std::string inputName() const override { return "QueueInputDStream"; }
  std::optional<std::string> checkpointUnsupported() const override {
    return "queueStream doesn't support checkpointing. Please don't use queueStream when "
           "checkpointing is enabled.";
  }

 protected:
  std::optional<RDD<T>> compute(Time) override {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return default_rdd_;
    if (one_at_a_time_) {
      RDD<T> rdd = std::move(queue_.front());
      queue_.pop_front();
      return rdd;
    }
    std::vector<RDD<T>> all(std::make_move_iterator(queue_.begin()),
                            std::make_move_iterator(queue_.end()));
    queue_.clear();
    return unionAll<T>(this->core().context().runtime(), all);
  }

 private:
  std::mutex mu_;
  std::deque<RDD<T>> queue_;
  bool one_at_a_time_;
  std::optional<RDD<T>> default_rdd_;
};

}  // namespace sluice::detail
