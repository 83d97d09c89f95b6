// The web UI's view of the running application (Spark's AppStatusStore and its streaming
// listener): built from the listener bus's events, bounded by the spark.ui.retained* settings so
// that a job running for weeks holds constant memory.
// Thread-safety: onEvent runs on the bus thread; every const method may be called from any thread
// (the HTTP server's) at the same time. Accessors return copies taken under one lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/listener_bus.hpp"

namespace sluice::detail::ui {

struct AppInfo {
  std::string id;  // Spark's form: local-<start time ms>
  std::string name;
  std::int64_t start_time_ms = 0;
  // The Context's settings (Conf::getAll), for the Environment page and endpoint.
  std::vector<std::pair<std::string, std::string>> spark_properties;
  // Spark's sparkUser and appSparkVersion of the application attempt (here the Sluice version).
  std::string spark_user;
  std::string version;
};

struct RetentionLimits {
  std::size_t batches = 1000;  // spark.ui.retainedBatches
  std::size_t jobs = 1000;     // spark.ui.retainedJobs
  std::size_t stages = 1000;   // spark.ui.retainedStages
};

// Spark's JobExecutionStatus and StageStatus (those a live local application can have).
enum class JobStatus { kRunning, kSucceeded, kFailed };
enum class StageStatus { kActive, kComplete, kFailed };

// A job as Spark's JobData shows it: its event, and counts gathered from its stages' events.
struct JobData {
  JobInfo info;  // stage_ids holds the stages submitted so far while the job runs
  JobStatus status = JobStatus::kRunning;
  int num_tasks = 0;
  int num_active_tasks = 0;
  int num_completed_tasks = 0;
  int num_failed_tasks = 0;
  int num_killed_tasks = 0;  // cancelled because another task of the stage failed
  int num_active_stages = 0;
  int num_completed_stages = 0;
  int num_failed_stages = 0;
};

// A stage as Spark's StageData shows it (Sluice runs one attempt per stage).
struct StageData {
  StageInfo info;  // metrics: the sum over its ended tasks so far, the stage's own once completed
  StageStatus status = StageStatus::kActive;
  int num_active_tasks = 0;
  int num_complete_tasks = 0;
  int num_failed_tasks = 0;
  int num_killed_tasks = 0;
  std::optional<std::int64_t> first_task_launched_time_ms;
  std::int64_t executor_run_time_ms = 0;  // summed over its ended tasks
};

// Spark's BatchStatus: submitted (waiting), started, completed.
enum class BatchStatus { kQueued, kProcessing, kCompleted };

struct BatchData {
  BatchInfo info;  // output_operation_infos as started and completed so far
  BatchStatus status = BatchStatus::kQueued;
  // The jobs each output operation ran, ascending, from the jobs' kBatchTimeProperty and
  // kOutputOpIdProperty.
  std::map<int, std::vector<int>> job_ids;
};

// A latency distribution over every observation (not only the retained ones), in cumulative
// buckets for Prometheus.
struct Histogram {
  // Upper bounds in milliseconds, from 1 ms to 60 s; an implicit +Inf bucket follows.
  static const std::vector<double>& boundsMs();
  void observe(std::int64_t ms);

  std::vector<long long> counts = std::vector<long long>(boundsMs().size(), 0);  // cumulative
  long long count = 0;
  std::int64_t sum_ms = 0;
};

// Sluice's addition: a stateful stream's size after each retained batch.
struct StateHistory {
  int stream_id = 0;
  std::string name;
  std::deque<StateReport> reports;  // ascending batch time
};

// The streaming section of the latest StreamingContext (Spark's StreamingJobProgressListener).
struct StreamingData {
  std::int64_t start_time_ms = -1;  // -1 until its kStreamingStarted arrives, as Spark
  std::int64_t batch_duration_ms = 0;
  std::vector<std::pair<int, std::string>> input_streams;  // id and name
  std::map<int, ReceiverInfo> receivers;                   // the latest event of each
  // Every retained batch, ascending batch time: queued, processing and the last completed ones.
  std::vector<BatchData> batches;
  // Totals since the StreamingContext started, whatever the retention.
  long long num_total_completed_batches = 0;
  long long num_received_records = 0;   // counted when a batch starts, as Spark
  long long num_processed_records = 0;  // counted when a batch completes
  std::map<int, long long> received_records_by_stream;
  Histogram processing_time;
  Histogram scheduling_delay;
  Histogram total_delay;
  Histogram checkpoint_duration;
  // Sluice's additions, the last limits.batches entries of each.
  std::vector<StateHistory> state;           // ascending stream id
  std::deque<CheckpointReport> checkpoints;  // in the order written

  std::size_t numRetainedCompletedBatches() const;
  std::size_t numActiveBatches() const;  // queued or processing
  // The input stream's name, or Spark's "Stream-<id>" for a stream it was not told of.
  std::string streamName(int stream_id) const;
};

// Totals of ended jobs since the application started, whatever the retention.
struct JobTotals {
  long long succeeded = 0;
  long long failed = 0;
  long long running = 0;
};

class StatusStore final : public EventObserver {
 public:
  // `dropped_events` reads the bus's drop count (for /metrics and the page header); it is called
  // from the reading threads, without the store's lock. An empty function reads 0.
  StatusStore(AppInfo app, RetentionLimits limits, std::function<long long()> dropped_events);
  ~StatusStore() override;
  StatusStore(const StatusStore&) = delete;
  StatusStore& operator=(const StatusStore&) = delete;

  void onEvent(const ListenerEvent& event) override;

  const AppInfo& app() const noexcept;
  const RetentionLimits& limits() const noexcept { return limits_; }
  long long droppedEvents() const;

  // Retained jobs and stages, ascending id.
  std::vector<JobData> jobs() const;
  std::optional<JobData> job(int job_id) const;
  std::vector<StageData> stages() const;
  std::optional<StageData> stage(int stage_id) const;
  JobTotals jobTotals() const;
  // Empty until a StreamingContext posts its first event.
  std::optional<StreamingData> streaming() const;

 private:
  struct Batch {
    BatchInfo info;
    std::map<int, std::vector<int>> job_ids;
  };
  struct Streaming {
    const void* source = nullptr;
    // Everything but batches and state, which snapshots assemble from the fields below.
    StreamingData data;
    std::map<std::int64_t, Batch> waiting;
    std::map<std::int64_t, Batch> running;
    std::deque<Batch> completed;  // in completion order, the oldest evicted first
    std::map<int, StateHistory> state;
  };

  void onJobStart(const JobInfo& info);
  void onJobEnd(const JobInfo& info);
  void onStageSubmitted(const StageInfo& info);
  void onStageCompleted(const StageInfo& info);
  void onTaskStart(const TaskInfo& info);
  void onTaskEnd(const TaskInfo& info);
  void onStreamingEvent(const StreamingEvent& event);
  void onBatchEvent(StreamingEvent::Kind kind, const BatchInfo& info);
  void onOutputOperation(const OutputOperationInfo& info);
  void linkJobToBatch(const JobInfo& info);
  JobData* jobOfStage(int stage_id);
  void evictJobs();
  void evictStages();
  void evictBatches();

  const AppInfo app_;
  const RetentionLimits limits_;
  const std::function<long long()> dropped_events_;

  mutable std::mutex mu_;
  std::map<int, JobData> jobs_;
  std::map<int, StageData> stages_;
  // Ended jobs and stages in the order they ended: eviction takes the oldest of those, as Spark
  // never evicts a running one.
  std::deque<int> finished_jobs_;
  std::deque<int> finished_stages_;
  JobTotals job_totals_;
  std::optional<Streaming> streaming_;
};

}  // namespace sluice::detail::ui
