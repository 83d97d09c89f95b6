// SparkListener: the batch engine's events (jobs, stages, tasks), as Spark's scheduler posts them.
// Register with Context::addSparkListener. Events reach listeners through the Context's listener
// bus: a bounded queue drained by one thread, so callbacks never run on (or slow down) the threads
// that run jobs. Each listener sees events in the order they were posted, one at a time, on the
// bus thread. When the queue (spark.scheduler.listenerbus.eventqueue.capacity, default 10000) is
// full, events are dropped, counted and logged, never waited for. A throwing callback is logged
// and ignored. Listener objects must be thread-safe only if they are also read elsewhere.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

// What one task read and wrote. Input counts records (and bytes, for files) that the task's
// source produced; output counts what it saved (saveAsTextFile); shuffle counts the records its
// map side wrote and its reduce side fetched. Shuffle bytes are zero while shuffles stay in
// process (blocks are handed over by pointer, never serialized).
struct TaskMetrics {
  long long records_read = 0;
  long long bytes_read = 0;
  long long records_written = 0;
  long long bytes_written = 0;
  long long shuffle_records_written = 0;
  long long shuffle_bytes_written = 0;
  long long shuffle_records_read = 0;
  long long shuffle_bytes_read = 0;

  TaskMetrics& operator+=(const TaskMetrics& o) {
    records_read += o.records_read;
    bytes_read += o.bytes_read;
    records_written += o.records_written;
    bytes_written += o.bytes_written;
    shuffle_records_written += o.shuffle_records_written;
    shuffle_bytes_written += o.shuffle_bytes_written;
    shuffle_records_read += o.shuffle_records_read;
    shuffle_bytes_read += o.shuffle_bytes_read;
    return *this;
  }
  bool operator==(const TaskMetrics&) const = default;
};

struct TaskInfo {
  int stage_id = 0;
  int task_index = 0;  // position in the stage, 0 .. num_tasks - 1
  int partition = 0;
  std::int64_t launch_time_ms = 0;
  std::optional<std::int64_t> finish_time_ms;  // set in onTaskEnd
  // Set in onTaskEnd for a task that failed; a task skipped because another task of its stage
  // failed first reports "cancelled: ...".
  std::optional<std::string> failure_reason;
  TaskMetrics metrics;  // set in onTaskEnd
};

struct StageInfo {
  int stage_id = 0;
  // The job that submitted the stage; -1 when it ran outside a job.
  int job_id = -1;
  std::string name;  // "shuffle map", "collect", ...
  int num_tasks = 0;
  std::int64_t submission_time_ms = 0;
  std::optional<std::int64_t> completion_time_ms;  // set in onStageCompleted
  std::optional<std::string> failure_reason;
  int num_failed_tasks = 0;
  TaskMetrics metrics;  // the sum over its tasks, set in onStageCompleted
};

struct JobInfo {
  int job_id = 0;
  std::string description;  // the action: "collect", "count", "saveAsTextFile", ...
  std::int64_t submission_time_ms = 0;
  std::optional<std::int64_t> completion_time_ms;  // set in onJobEnd
  std::vector<int> stage_ids;                      // the stages it ran, set in onJobEnd
  std::optional<std::string> failure_reason;       // set in onJobEnd for a failed job
  // The submitting thread's local properties (Context::setLocalProperty) when it was submitted;
  // a streaming batch's jobs carry spark.streaming.internal.batchTime and .outputOpId.
  std::map<std::string, std::string> properties;
};

class SparkListener {
 public:
  virtual ~SparkListener() = default;
  virtual void onJobStart(const JobInfo&) {}
  virtual void onJobEnd(const JobInfo&) {}
  virtual void onStageSubmitted(const StageInfo&) {}
  virtual void onStageCompleted(const StageInfo&) {}
  virtual void onTaskStart(const TaskInfo&) {}
  virtual void onTaskEnd(const TaskInfo&) {}
};

}  // namespace sluice
