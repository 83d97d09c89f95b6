// StreamingContext: Spark Streaming's entry point. Wraps a Context and a batch duration, creates
// input streams, and runs the graph: at every batch time (first at the next multiple of the batch
// duration on the injected clock) it builds each output's RDD and runs its job, one output at a
// time in registration order. A failed batch does not stop the stream; its error is rethrown by
// awaitTermination*. States: INITIALIZED -> ACTIVE (start) -> STOPPED (stop); one ACTIVE context
// per process; the graph cannot change after start, and a stopped context cannot restart.
// Thread-safety: start/stop/await* may be called from any thread; build the graph from one.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <sluice/rdd.hpp>
#include <sluice/streaming/core.hpp>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/queue_stream.hpp>
#include <string>
#include <vector>

namespace sluice {

template <class T>
class Receiver;

class StreamingContext {
 public:
  // `clock` defaults to the system clock; tests pass a ManualClock.
  StreamingContext(Context& context, Duration batch_duration,
                   std::shared_ptr<Clock> clock = nullptr);
  ~StreamingContext();
  StreamingContext(const StreamingContext&) = delete;
  StreamingContext& operator=(const StreamingContext&) = delete;

  Context& sparkContext() const noexcept { return core_->context(); }
  Duration batchDuration() const noexcept { return core_->batchDuration(); }
  StreamingConf& conf() noexcept { return core_->conf(); }
  StreamingContextState getState() const { return core_->state(); }

  void start();
  // Stops the batches (and the Context with stop_spark_context). A graceful stop first stops
  // the receivers, then processes everything they received, bounded by the graceful timeout.
  void stop(bool stop_spark_context = true, bool stop_gracefully = false);
  void awaitTermination();
  // True if the context stopped within `timeout`; rethrows a batch error.
  bool awaitTerminationOrTimeout(Duration timeout);
  // Stops gracefully on SIGINT/SIGTERM (Spark's spark.streaming.stopGracefullyOnShutdown).
  void stopGracefullyOnShutdown();

  // Spark's StreamingContext.getOrCreate. Always runs `setup` (C++ closures cannot be serialized,
  // so the same code rebuilds the graph); if `checkpoint_dir` holds a valid checkpoint, the
  // returned context resumes from it: the state of every stateful stream, the input records of
  // the batches since its data checkpoint, and the batches after the last completed one (those
  // of the down time included) are run when it starts. A checkpoint that is unusable or whose
  // streams do not match the graph throws CheckpointError, unless `create_on_error`, which logs
  // it and returns a fresh context from a second call of `setup`.
  static std::unique_ptr<StreamingContext> getOrCreate(
      const std::string& checkpoint_dir,
      const std::function<std::unique_ptr<StreamingContext>()>& setup,
      bool create_on_error = false);

  // Enables checkpointing into `directory`: after every batch a checkpoint with the batch's
  // input records, and each stateful stream's state at its checkpoint interval
  // (DStream::checkpoint). Stateful operations also run without it, their state then in memory
  // only.
  void checkpoint(const std::string& directory);
  const std::string& checkpointDirectory() const noexcept { return core_->checkpointDir(); }
  void remember(Duration duration);
  void addStreamingListener(std::shared_ptr<StreamingListener> listener);
  void removeStreamingListener(const std::shared_ptr<StreamingListener>& listener);

  // ---- input streams ----
  // Scala's queueStream(queue, oneAtATime): each batch takes the next RDD of the queue
  // (one_at_a_time) or the union of all of them; once the queue is drained, each batch is an
  // empty RDD of one partition, as Spark's default `sc.makeRDD(Seq.empty, 1)`.
  template <class T>
  DStream<T> queueStream(std::deque<RDD<T>> queue, bool one_at_a_time = true);
  // Scala's queueStream(queue, oneAtATime, defaultRDD): once the queue is drained, each batch is
  // `default_rdd`; std::nullopt (Scala's null) gives no RDD at all, so no output job runs.
  template <class T>
  DStream<T> queueStream(std::deque<RDD<T>> queue, bool one_at_a_time,
                         std::optional<RDD<T>> default_rdd);
  // PySpark's queueStream(rdds, oneAtATime, default) over lists: each inner vector becomes one
  // RDD (parallelized with defaultParallelism slices), and so does `default_batch`; with no
  // default, or an empty one (false in Python), a drained queue gives empty RDDs of one partition.
  template <class T>
  DStream<T> queueStream(const std::vector<std::vector<T>>& batches, bool one_at_a_time = true,
                         std::optional<std::vector<T>> default_batch = std::nullopt);
  // Lines from a TCP server (as from `nc -lk PORT`), decoded as UTF-8, reconnecting on failure.
  DStream<std::string> socketTextStream(const std::string& host, int port);
  // Lines of the new files that appear in `directory` (or in directories matching a glob).
  DStream<std::string> textFileStream(const std::string& directory);
  template <class T>
  DStream<T> receiverStream(std::shared_ptr<Receiver<T>> receiver);

  // Spark's ssc.union: the union of same-slide streams, partitions in order.
  template <class T>
  DStream<T> unionAll(const std::vector<DStream<T>>& streams);
  // Spark's ssc.transform over several streams of one type: f(rdds, time) -> RDD.
  template <class T, class F>
  auto transform(const std::vector<DStream<T>>& streams, F f);

  const std::shared_ptr<detail::StreamingCore>& core() const noexcept { return core_; }

 private:
  std::shared_ptr<detail::StreamingCore> core_;
};

namespace detail {

template <class T, class U, class F>
class MultiTransformNode final : public DStreamNode<U> {
 public:
  MultiTransformNode(std::shared_ptr<StreamingCore> core, std::vector<DStreamNodePtr<T>> parents,
                     F f)
      : DStreamNode<U>(core, parents.at(0)->slideDuration(),
                       std::vector<std::shared_ptr<DStreamBase>>(parents.begin(), parents.end())),
        parents_(std::move(parents)),
        f_(std::move(f)) {
    for (auto& p : parents_) {
      if (p->slideDuration() != parents_[0]->slideDuration()) {
        throw InvalidArgumentError("Some of the DStreams have different slide durations");
      }
    }
  }

 protected:
  std::optional<RDD<U>> compute(Time t) override {
    std::vector<RDD<T>> rdds;
    for (auto& p : parents_) {
      auto rdd = p->getOrCompute(t);
      if (!rdd)
        throw Error("Could not generate RDD from a parent for unifying at time " + t.toString());
      rdds.push_back(std::move(*rdd));
    }
    return f_(rdds, t);
  }

 private:
  std::vector<DStreamNodePtr<T>> parents_;
  F f_;
};

}  // namespace detail

template <class T>
DStream<T> StreamingContext::queueStream(std::deque<RDD<T>> queue, bool one_at_a_time) {
  return queueStream(std::move(queue), one_at_a_time,
                     std::optional(sparkContext().parallelize(std::vector<T>{}, 1)));
}

template <class T>
DStream<T> StreamingContext::queueStream(std::deque<RDD<T>> queue, bool one_at_a_time,
                                         std::optional<RDD<T>> default_rdd) {
  core_->checkCanBuild();
  auto node = std::make_shared<detail::QueueInputNode<T>>(core_, std::move(queue), one_at_a_time,
                                                          std::move(default_rdd));
  core_->registerInput(node, node);
  return DStream<T>(node);
}

template <class T>
DStream<T> StreamingContext::queueStream(const std::vector<std::vector<T>>& batches,
                                         bool one_at_a_time,
                                         std::optional<std::vector<T>> default_batch) {
  std::deque<RDD<T>> queue;
  for (const auto& batch : batches) queue.push_back(sparkContext().parallelize(batch));
  if (!default_batch || default_batch->empty()) return queueStream(std::move(queue), one_at_a_time);
  return queueStream(std::move(queue), one_at_a_time,
                     std::optional(sparkContext().parallelize(*default_batch)));
}

template <class T>
DStream<T> StreamingContext::unionAll(const std::vector<DStream<T>>& streams) {
  if (streams.empty()) throw InvalidArgumentError("List of DStreams to union is empty");
  return transform(streams, [](const std::vector<RDD<T>>& rdds, Time) {
    return detail::unionAll<T>(rdds.front().node()->runtimePtr(), rdds);
  });
}

template <class T, class F>
auto StreamingContext::transform(const std::vector<DStream<T>>& streams, F f) {
  if (streams.empty()) throw InvalidArgumentError("transform needs at least one DStream");
  std::vector<detail::DStreamNodePtr<T>> nodes;
  for (const auto& s : streams) nodes.push_back(s.node());
  auto g = [f = std::move(f)](const std::vector<RDD<T>>& rdds, Time t) mutable {
    if constexpr (std::is_invocable_v<F&, const std::vector<RDD<T>>&, Time>) {
      return f(rdds, t);
    } else {
      return f(rdds);
    }
  };
  using U = typename detail::IsDStreamRDD<
      std::invoke_result_t<decltype(g)&, const std::vector<RDD<T>>&, Time>>::Element;
  return DStream<U>(std::make_shared<detail::MultiTransformNode<T, U, decltype(g)>>(
      core_, std::move(nodes), std::move(g)));
}

}  // namespace sluice
