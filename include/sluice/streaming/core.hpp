// Internals of the streaming engine that DStream templates call into: the DStream graph, its
// batch thread and the listener bus (implemented in src/streaming/). Users go through
// StreamingContext and DStream<T>.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sluice/context.hpp>
#include <sluice/streaming/clock.hpp>
#include <sluice/streaming/conf.hpp>
#include <sluice/streaming/listener.hpp>
#include <sluice/streaming/time.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sluice {

enum class StreamingContextState { kInitialized, kActive, kStopped };

namespace detail {

class StreamingCore;
class StateStoreBase;
class Checkpointer;
class FileSystem;

// A node of the DStream graph. Ids are assigned in creation order, starting at 0.
class DStreamBase {
 public:
  DStreamBase(std::shared_ptr<StreamingCore> core, Duration slide,
              std::vector<std::shared_ptr<DStreamBase>> parents);
  DStreamBase(const DStreamBase&) = delete;
  DStreamBase& operator=(const DStreamBase&) = delete;
  virtual ~DStreamBase() = default;

  int id() const noexcept { return id_; }
  Duration slideDuration() const noexcept { return slide_; }
  StreamingCore& core() const noexcept { return *core_; }
  const std::shared_ptr<StreamingCore>& corePtr() const noexcept { return core_; }
  const std::vector<std::shared_ptr<DStreamBase>>& parents() const noexcept { return parents_; }

  Time zeroTime() const noexcept { return zero_time_; }
  Duration rememberDuration() const noexcept { return remember_; }
  // Spark's isTimeValid: after zero time and on this stream's slide grid.
  bool isTimeValid(Time t) const noexcept {
    return initialized_ && t > zero_time_ && (t - zero_time_).count() % slide_.count() == 0;
  }
  // How much longer than this stream's own remember duration its parents must remember
  // (the window length for windowed streams).
  virtual Duration parentRememberExtra() const { return Duration(0); }

  // Called at start(): sets zero time and remember durations, parents first.
  void initialize(Time zero_time, Duration min_remember);
  void rememberAtLeast(Duration d);
  // Forgets generated RDDs older than t - rememberDuration().
  virtual void clearMetadata(Time t) = 0;
  void setMustPersist() noexcept { persist_ = true; }
  bool mustPersist() const noexcept { return persist_; }
  void setCheckpointInterval(Duration d) noexcept { checkpoint_interval_ = d; }
  std::optional<Duration> checkpointInterval() const noexcept { return checkpoint_interval_; }

  // Spark's default data checkpoint intervals of stateful streams: the smallest multiple of the
  // slide that is at least 10 s (updateStateByKey, reduceByKeyAndWindow with an inverse), or 10
  // batches (mapWithState).
  enum class StateCheckpoint { kTenSeconds, kTenBatches };
  // Marks this stream stateful, its state kept in `store`.
  void setStateStore(std::shared_ptr<StateStoreBase> store, StateCheckpoint default_interval);
  const std::shared_ptr<StateStoreBase>& stateStore() const noexcept { return store_; }
  // The data checkpoint interval: set by checkpoint(interval), else the stateful default.
  std::optional<Duration> effectiveCheckpointInterval() const;
  // A stable identity for matching checkpointed state: uid("...") when given, else derived from
  // the stream's operation and its position in the graph.
  void setUid(std::string uid) { uid_ = std::move(uid); }
  const std::optional<std::string>& uid() const noexcept { return uid_; }

 protected:
  std::atomic<bool> persist_{false};

 private:
  std::shared_ptr<StreamingCore> core_;
  int id_;
  Duration slide_;
  std::vector<std::shared_ptr<DStreamBase>> parents_;
  bool initialized_ = false;
  Time zero_time_;
  Duration remember_{0};
  std::optional<Duration> checkpoint_interval_;
  std::shared_ptr<StateStoreBase> store_;
  StateCheckpoint default_checkpoint_ = StateCheckpoint::kTenSeconds;
  std::optional<std::string> uid_;
};

// An input stream: started and stopped with the context; reports its records per batch.
class InputBase {
 public:
  virtual ~InputBase() = default;
  virtual int streamId() const = 0;
  virtual void startInput() {}
  // Stops receiving; with `graceful`, everything received so far stays available to batches.
  virtual void stopInput(bool /*graceful*/) {}
  // Called at every batch time before any RDD is built: a receiver assigns what it has received
  // to batch t here, whether or not an output reads its stream at t (Spark's
  // allocateBlocksToBatch).
  virtual void allocateBatch(Time /*t*/) {}
  // True while received data is waiting for a batch (graceful stop drains it).
  virtual bool hasPendingData() const { return false; }
  // Backpressure's new bound on this input's ingestion rate (records/s, > 0), after a batch.
  // Inputs that cannot throttle ignore it.
  virtual void updateRateLimit(double /*records_per_second*/) {}
  virtual std::string inputName() const = 0;
  // What a restarted job needs to regenerate this input's batches exactly (the files each batch
  // took, the logged blocks each batch was given), saved with every checkpoint after batch t;
  // empty when there is nothing to save. Called on the batch thread.
  virtual std::string checkpointData(Time /*t*/) { return {}; }
  // Restores checkpointData() before start(). Throws CheckpointError on bytes it cannot decode.
  virtual void restoreCheckpointData(std::string_view /*bytes*/) {}
  // Every checkpoint a restart may fall back to is of batch `oldest` or later: what only older
  // batches needed (logged blocks) may be deleted. Called on the checkpoint writer's thread.
  virtual void checkpointsKeptFrom(Time /*oldest*/) {}
  // Why this input cannot run with checkpointing (its batches cannot be regenerated), if so.
  virtual std::optional<std::string> checkpointUnsupported() const { return std::nullopt; }
};

// An output operation: at each batch time it may produce one job.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual DStreamBase& stream() = 0;
  // The job for time t, or nothing when the stream has no RDD at t.
  virtual std::optional<std::function<void()>> generateJob(Time t) = 0;
  virtual std::string outputName() const = 0;
};

class PidRateEstimator;

// The shared state of a StreamingContext. Thread-safe.
class StreamingCore : public std::enable_shared_from_this<StreamingCore> {
 public:
  StreamingCore(Context& context, Duration batch_duration, std::shared_ptr<Clock> clock);
  ~StreamingCore();

  Context& context() const noexcept { return context_; }
  Duration batchDuration() const noexcept { return batch_duration_; }
  Clock& clock() const noexcept { return *clock_; }
  StreamingConf& conf() noexcept { return conf_; }
  StreamingContextState state() const;

  // Graph building; throw IllegalStateError once started or stopped.
  int registerStream();
  void registerInput(std::shared_ptr<InputBase> input, std::shared_ptr<DStreamBase> node);
  void registerOutput(std::shared_ptr<OutputBase> output);
  void checkCanBuild() const;
  void setRemember(Duration d);
  void setCheckpointDir(std::string dir);
  const std::string& checkpointDir() const noexcept { return checkpoint_dir_; }
  // The file layer of checkpoints and write-ahead logs (the local one unless a test injects
  // faults); set before start or restore.
  void setFileSystem(std::shared_ptr<FileSystem> fs);
  const std::shared_ptr<FileSystem>& fileSystem() const noexcept { return fs_; }
  // Resumes from the newest valid checkpoint in the checkpoint directory: state, input records,
  // zero time and the last completed batch; start() then regenerates the batches after it.
  // Returns false when the directory holds no checkpoint. Throws CheckpointError when the
  // checkpoints are unusable or do not match the graph (naming what is missing and what is new).
  bool restoreFromCheckpoint();
  // Saves the state of every stateful stream now (a data checkpoint), as a graceful stop does.
  void checkpointNow();
  // Blocks until the checkpoints of completed batches are written (they are written on a thread
  // of their own, behind the batches).
  void flushCheckpoints();

  // Listeners of this context's events, delivered by the Context's listener bus.
  void addListener(std::shared_ptr<StreamingListener> listener);
  void removeListener(const std::shared_ptr<StreamingListener>& listener);
  enum class ReceiverEvent { kStarted, kError, kStopped };
  void postReceiverEvent(ReceiverEvent kind, const ReceiverInfo& info);
  // Records of batch t (called by inputs from allocateBatch() or compute()).
  void reportInputRecords(Time t, int stream_id, long long records);

  void start();
  void stop(bool gracefully);
  // Rethrows the first error of a failed batch since the last rethrow.
  void awaitTermination();
  bool awaitTerminationOrTimeout(Duration timeout);
  // Blocks until batch `t` (and all before it) has completed, or `timeout` passes in real
  // time; returns whether it completed. For test harnesses.
  bool waitForBatch(Time t, std::chrono::milliseconds timeout);
  // Rethrows the pending batch error, if any, without waiting.
  void rethrowError();
  Time zeroTime() const;
  // Drops the graph, breaking the ownership cycle between the core and its streams.
  void clearGraph();

 private:
  // Two threads, as Spark's JobGenerator and JobScheduler: the generator allocates each batch's
  // input at its batch time and queues the batch; the runner runs the queued batches in order.
  void generateLoop(Time first);
  void allocateBatch(Time t);
  void runLoop();
  void runBatch(Time t, std::int64_t submission_time_ms);
  // Warns when batches start more than kDelayWarningBatches intervals late (and again each time
  // the delay doubles), and tells when they caught up.
  void warnAboutDelay(Time t, std::int64_t processing_start_ms);
  // spark.streaming.backpressure.enabled: each input's new rate bound from this batch's figures.
  void updateRateLimits(const BatchInfo& info);
  // Stateful streams and inputs of the graph, each with its identity (uid or operation@id).
  std::vector<std::pair<std::string, DStreamBase*>> statefulStreams() const;
  std::vector<std::pair<std::string, InputBase*>> checkpointedInputs() const;
  void writeCheckpoint(Time t, bool all_state);
  std::unique_ptr<Checkpointer> makeCheckpointer();
  // With sluice.streaming.stateBackend=rocksdb, gives each stateful stream that supports it a
  // database; before a restore and before the first batch.
  void openStateBackends(const std::vector<std::pair<std::string, DStreamBase*>>& stateful);
  void recordError(std::exception_ptr error);
  void stopInputs(bool graceful);
  bool inputsHavePendingData() const;

  Context& context_;
  // The Context's runtime, kept for its listener bus: the core may outlive the Context.
  std::shared_ptr<Runtime> runtime_;
  Duration batch_duration_;
  std::shared_ptr<Clock> clock_;
  StreamingConf conf_;
  std::string checkpoint_dir_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::optional<Time> restored_time_;  // the last batch completed before a restart
  std::vector<std::pair<std::string, DStreamBase*>> stateful_;  // fixed at start()
  Duration remember_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  StreamingContextState state_ = StreamingContextState::kInitialized;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::optional<Time> last_completed_;
  std::exception_ptr error_;
  Time zero_time_;
  int next_stream_id_ = 0;
  std::vector<std::pair<std::shared_ptr<InputBase>, std::shared_ptr<DStreamBase>>> inputs_;
  std::vector<std::shared_ptr<OutputBase>> outputs_;
  std::map<Time, std::map<int, long long>> batch_records_;  // batch -> stream -> records
  std::mutex records_mu_;
  struct QueuedBatch {
    Time time;
    std::int64_t submission_time_ms;
  };
  std::deque<QueuedBatch> queued_;  // allocated, not yet running; under mu_
  // The runner waits on this one, so that queuing a batch wakes only the runner (cv_ has the
  // threads waiting for batches to complete).
  std::condition_variable queue_cv_;
  bool generating_done_ = false;    // the generator will queue no more batches; under mu_
  static constexpr std::int64_t kDelayWarningBatches = 5;
  std::int64_t warned_delay_ms_ = 0;  // the scheduling delay last warned about; runner only
  std::int64_t started_at_ms_ = 0;    // clock time of start(); earlier batches are catch-up
  // Backpressure: one estimator per input stream id; runner only.
  std::map<int, std::unique_ptr<PidRateEstimator>> rate_estimators_;
  std::thread generator_;
  std::thread thread_;  // the runner
};

}  // namespace detail
}  // namespace sluice
