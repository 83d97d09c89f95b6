#include "core/local_runtime.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <sluice/error.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::detail {
namespace {

// libtbb is not built with ThreadSanitizer, so TSan cannot see how TBB orders the hand-off of a
// task from the thread that made it to the thread that runs it, the reuse of a finished task's
// memory, or the end of parallel_for. StageBody states that ordering: every copy of it (TBB copies
// the body into each task it hands over, on whichever thread splits the range) and every call
// acquires one sync object before touching anything and releases it when done, and the caller
// acquires it after parallel_for. Tasks running at the same time stay unordered, so TSan still
// checks the engine's own sharing between them. The sync object is a global because a copy must
// reach it before reading anything; the price is that stages of different threads are ordered
// with each other too.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
char stage_sync;
void acquireStage() { __tsan_acquire(&stage_sync); }
void releaseStage() { __tsan_release(&stage_sync); }
#else
void acquireStage() {}
void releaseStage() {}
#endif

// The parallel_for body of a stage: runs run_task(i) for each task index of its range.
template <class RunTask>
class StageBody {
 public:
  explicit StageBody(const RunTask& run_task) : run_task_(&run_task) { releaseStage(); }
  // No member initializer: nothing may be written before acquireStage().
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  StageBody(const StageBody& other) {
    acquireStage();
    run_task_ = other.run_task_;
    releaseStage();
  }
  StageBody& operator=(const StageBody&) = delete;

  void operator()(const tbb::blocked_range<int>& range) const {
    acquireStage();
    for (int i = range.begin(); i != range.end(); ++i) (*run_task_)(i);
    releaseStage();
  }

 private:
  const RunTask* run_task_;
};

std::atomic<std::uint64_t> next_runtime_serial{0};

// Per thread: the jobs it is running (innermost last) and its local properties, each tagged with
// its runtime's serial.
thread_local std::vector<std::pair<std::uint64_t, int>> t_jobs;
thread_local std::map<std::uint64_t, std::map<std::string, std::string>> t_properties;

std::string describe(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

LocalRuntime::LocalRuntime(int parallelism, std::size_t listener_queue_capacity)
    : parallelism_(parallelism),
      thread_limit_(tbb::global_control::max_allowed_parallelism,
                    static_cast<std::size_t>(std::max<int>(
                        parallelism, static_cast<int>(std::thread::hardware_concurrency())))),
      arena_(parallelism),
      serial_(next_runtime_serial.fetch_add(1)),
      progress_bar_(ConsoleProgressBar::createIfTerminal()),
      listener_bus_(listener_queue_capacity) {}

void LocalRuntime::stop() {
  stopped_.store(true);
  progress_bar_.reset();
  listener_bus_.stop();
}

int LocalRuntime::beginJob(std::string_view description) {
  const int job_id = next_job_id_.fetch_add(1);
  t_jobs.emplace_back(serial_, job_id);
  if (!listener_bus_.hasListeners()) return job_id;
  JobInfo job;
  job.job_id = job_id;
  job.description = std::string(description);
  job.submission_time_ms = clock_.nowMs();
  if (auto it = t_properties.find(serial_); it != t_properties.end()) job.properties = it->second;
  {
    std::lock_guard lock(jobs_mu_);
    jobs_[job_id] = job;
  }
  listener_bus_.post(JobStartEvent{std::move(job)});
  return job_id;
}

void LocalRuntime::endJob(int job_id, const std::exception_ptr& failure) {
  auto it = std::find(t_jobs.rbegin(), t_jobs.rend(), std::make_pair(serial_, job_id));
  if (it != t_jobs.rend()) t_jobs.erase(std::next(it).base());
  JobInfo job;
  {
    std::lock_guard lock(jobs_mu_);
    auto found = jobs_.find(job_id);
    if (found == jobs_.end()) return;  // began without listeners
    job = std::move(found->second);
    jobs_.erase(found);
  }
  job.completion_time_ms = clock_.nowMs();
  if (failure) job.failure_reason = describe(failure);
  listener_bus_.post(JobEndEvent{std::move(job)});
}

int LocalRuntime::currentJob() const {
  for (auto it = t_jobs.rbegin(); it != t_jobs.rend(); ++it) {
    if (it->first == serial_) return it->second;
  }
  return -1;
}

void LocalRuntime::addStageToJob(int job_id, int stage_id) {
  std::lock_guard lock(jobs_mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) it->second.stage_ids.push_back(stage_id);
}

void LocalRuntime::setLocalProperty(const std::string& key,
                                    const std::optional<std::string>& value) {
  if (value) {
    t_properties[serial_][key] = *value;
    return;
  }
  auto it = t_properties.find(serial_);
  if (it == t_properties.end()) return;
  it->second.erase(key);
  if (it->second.empty()) t_properties.erase(it);
}

std::optional<std::string> LocalRuntime::getLocalProperty(const std::string& key) const {
  auto it = t_properties.find(serial_);
  if (it == t_properties.end()) return std::nullopt;
  auto value = it->second.find(key);
  if (value == it->second.end()) return std::nullopt;
  return value->second;
}

void LocalRuntime::runStage(std::string_view description, std::span<const int> partitions,
                            const TaskFunction& task) {
  checkActive();
  const int stage_id = next_stage_id_.fetch_add(1);
  const int num_tasks = static_cast<int>(partitions.size());
  // Events are built only while a listener is registered; otherwise a stage pays one load.
  const bool report = listener_bus_.hasListeners();
  StageInfo stage;
  std::vector<TaskMetrics> task_metrics;
  std::atomic<int> failed_tasks{0};
  if (report) {
    stage.stage_id = stage_id;
    stage.job_id = currentJob();
    stage.name = std::string(description);
    stage.num_tasks = num_tasks;
    stage.submission_time_ms = clock_.nowMs();
    addStageToJob(stage.job_id, stage_id);
    listener_bus_.post(StageSubmittedEvent{stage});
    task_metrics.resize(static_cast<std::size_t>(num_tasks));
  }
  auto status = std::make_shared<StageStatus>();
  status->stage_id = stage_id;
  status->total = num_tasks;
  if (progress_bar_) progress_bar_->add(status);

  std::atomic<bool> cancelled{false};
  std::mutex failure_mu;
  std::exception_ptr failure;
  int failed_partition = -1;

  auto run_task = [&](int i) {
    const auto index = static_cast<std::size_t>(i);
    TaskInfo info;
    if (report) {
      info.stage_id = stage_id;
      info.task_index = i;
      info.partition = partitions[index];
      info.launch_time_ms = clock_.nowMs();
      listener_bus_.post(TaskStartEvent{info});
    }
    auto report_end = [&](TaskMetrics metrics, std::optional<std::string> failure_reason) {
      if (!report) return;
      if (failure_reason) failed_tasks.fetch_add(1, std::memory_order_relaxed);
      task_metrics[index] = metrics;
      info.finish_time_ms = clock_.nowMs();
      info.failure_reason = std::move(failure_reason);
      info.metrics = metrics;
      listener_bus_.post(TaskEndEvent{std::move(info)});
    };
    if (cancelled.load(std::memory_order_relaxed)) {
      report_end({}, "cancelled: another task of the stage failed");
      return;
    }
    TaskContext tc{this, stage_id, partitions[index], &cancelled, {}};
    status->running.fetch_add(1, std::memory_order_relaxed);
    std::optional<std::string> task_failure;
    try {
      task(tc, i);
    } catch (...) {
      if (report) task_failure = describe(std::current_exception());
      std::lock_guard lock(failure_mu);
      if (!failure) {
        failure = std::current_exception();
        failed_partition = tc.partition;
      }
      cancelled.store(true);
    }
    report_end(tc.metrics, std::move(task_failure));
    status->running.fetch_sub(1, std::memory_order_relaxed);
    status->completed.fetch_add(1, std::memory_order_relaxed);
  };

  // One task, or one thread, needs no hand-off: the calling thread runs it, saving the wake-up.
  if (num_tasks == 1 || parallelism_ == 1) {
    for (int i = 0; i < num_tasks; ++i) run_task(i);
  } else if (num_tasks > 1) {
    StageBody body(run_task);
    arena_.execute([&] {
      tbb::parallel_for(tbb::blocked_range<int>(0, num_tasks, 1), body, tbb::simple_partitioner());
    });
    acquireStage();
  }
  if (progress_bar_) progress_bar_->remove(stage_id);

  std::optional<JobFailedError> error;
  if (failure) {
    error.emplace(fmt::format("Job aborted due to stage failure: task for partition {} in stage "
                              "{} ({}) failed: {}",
                              failed_partition, stage_id, description, describe(failure)),
                  stage_id, failed_partition, failure);
  }
  if (report) {
    for (const auto& m : task_metrics) stage.metrics += m;
    stage.num_failed_tasks = failed_tasks.load();
    stage.completion_time_ms = clock_.nowMs();
    if (error) stage.failure_reason = error->what();
    listener_bus_.post(StageCompletedEvent{std::move(stage)});
  }
  if (error) throw std::move(*error);
}

}  // namespace sluice::detail
