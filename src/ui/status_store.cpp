#include "ui/status_store.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <variant>

namespace sluice::detail::ui {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// TaskInfo::failure_reason of a task that never ran because another task of its stage failed:
// Spark counts such tasks as killed, not failed.
constexpr std::string_view kCancelledPrefix = "cancelled:";

template <class Int>
std::optional<Int> parseInt(const std::map<std::string, std::string>& properties, const char* key) {
  auto it = properties.find(key);
  if (it == properties.end()) return std::nullopt;
  const std::string& s = it->second;
  Int value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

template <class T>
void trimFront(std::deque<T>& entries, std::size_t limit) {
  while (entries.size() > limit) entries.pop_front();
}

}  // namespace

const std::vector<double>& Histogram::boundsMs() {
  static const std::vector<double> bounds{1,   2.5,  5,    10,   25,    50,    100,  250,
                                          500, 1000, 2500, 5000, 10000, 30000, 60000};
  return bounds;
}

void Histogram::observe(std::int64_t ms) {
  const auto& bounds = boundsMs();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (static_cast<double>(ms) <= bounds[i]) ++counts[i];
  }
  ++count;
  sum_ms += ms;
}

std::size_t StreamingData::numRetainedCompletedBatches() const {
  return static_cast<std::size_t>(std::count_if(batches.begin(), batches.end(), [](const auto& b) {
    return b.status == BatchStatus::kCompleted;
  }));
}

std::size_t StreamingData::numActiveBatches() const {
  return batches.size() - numRetainedCompletedBatches();
}

std::string StreamingData::streamName(int stream_id) const {
  for (const auto& [id, name] : input_streams) {
    if (id == stream_id) return name;
  }
  return "Stream-" + std::to_string(stream_id);
}

StatusStore::StatusStore(AppInfo app, RetentionLimits limits,
                         std::function<long long()> dropped_events)
    : app_(std::move(app)), limits_(limits), dropped_events_(std::move(dropped_events)) {}

StatusStore::~StatusStore() = default;

const AppInfo& StatusStore::app() const noexcept { return app_; }

long long StatusStore::droppedEvents() const { return dropped_events_ ? dropped_events_() : 0; }

void StatusStore::onEvent(const ListenerEvent& event) {
  std::lock_guard lock(mu_);
  std::visit(Overloaded{
                 [&](const JobStartEvent& e) { onJobStart(e.job); },
                 [&](const JobEndEvent& e) { onJobEnd(e.job); },
                 [&](const StageSubmittedEvent& e) { onStageSubmitted(e.stage); },
                 [&](const StageCompletedEvent& e) { onStageCompleted(e.stage); },
                 [&](const TaskStartEvent& e) { onTaskStart(e.task); },
                 [&](const TaskEndEvent& e) { onTaskEnd(e.task); },
                 [&](const StreamingEvent& e) { onStreamingEvent(e); },
             },
             event);
}

// --- Jobs, stages and tasks ---

void StatusStore::onJobStart(const JobInfo& info) {
  JobData& job = jobs_[info.job_id];
  job.info = info;
  job.status = JobStatus::kRunning;
  linkJobToBatch(info);
}

void StatusStore::onJobEnd(const JobInfo& info) {
  auto [it, inserted] = jobs_.try_emplace(info.job_id);
  JobData& job = it->second;
  if (!inserted && job.status != JobStatus::kRunning) return;
  job.info = info;
  job.status = info.failure_reason ? JobStatus::kFailed : JobStatus::kSucceeded;
  ++(info.failure_reason ? job_totals_.failed : job_totals_.succeeded);
  if (inserted) linkJobToBatch(info);  // its start was dropped
  finished_jobs_.push_back(info.job_id);
  evictJobs();
}

JobData* StatusStore::jobOfStage(int stage_id) {
  auto stage = stages_.find(stage_id);
  if (stage == stages_.end()) return nullptr;
  auto job = jobs_.find(stage->second.info.job_id);
  return job == jobs_.end() ? nullptr : &job->second;
}

void StatusStore::onStageSubmitted(const StageInfo& info) {
  StageData& stage = stages_[info.stage_id];
  stage.info = info;
  stage.status = StageStatus::kActive;
  if (JobData* job = jobOfStage(info.stage_id)) {
    job->num_tasks += info.num_tasks;
    ++job->num_active_stages;
    auto& ids = job->info.stage_ids;
    if (std::find(ids.begin(), ids.end(), info.stage_id) == ids.end()) ids.push_back(info.stage_id);
  }
}

void StatusStore::onStageCompleted(const StageInfo& info) {
  auto [it, inserted] = stages_.try_emplace(info.stage_id);
  StageData& stage = it->second;
  if (!inserted && stage.status != StageStatus::kActive) return;
  stage.info = info;
  stage.status = info.failure_reason ? StageStatus::kFailed : StageStatus::kComplete;
  if (JobData* job = jobOfStage(info.stage_id)) {
    if (!inserted) --job->num_active_stages;
    ++(info.failure_reason ? job->num_failed_stages : job->num_completed_stages);
  }
  finished_stages_.push_back(info.stage_id);
  evictStages();
}

void StatusStore::onTaskStart(const TaskInfo& info) {
  auto it = stages_.find(info.stage_id);
  if (it == stages_.end()) return;
  StageData& stage = it->second;
  ++stage.num_active_tasks;
  if (!stage.first_task_launched_time_ms ||
      info.launch_time_ms < *stage.first_task_launched_time_ms)
    stage.first_task_launched_time_ms = info.launch_time_ms;
  if (JobData* job = jobOfStage(info.stage_id)) ++job->num_active_tasks;
}

void StatusStore::onTaskEnd(const TaskInfo& info) {
  auto it = stages_.find(info.stage_id);
  if (it == stages_.end()) return;
  StageData& stage = it->second;
  JobData* job = jobOfStage(info.stage_id);
  const bool killed = info.failure_reason && info.failure_reason->starts_with(kCancelledPrefix);
  auto count = [&](auto& active, auto& complete, auto& failed, auto& killed_count) {
    if (active > 0) --active;
    if (!info.failure_reason) {
      ++complete;
    } else if (killed) {
      ++killed_count;
    } else {
      ++failed;
    }
  };
  count(stage.num_active_tasks, stage.num_complete_tasks, stage.num_failed_tasks,
        stage.num_killed_tasks);
  if (job) {
    count(job->num_active_tasks, job->num_completed_tasks, job->num_failed_tasks,
          job->num_killed_tasks);
  }
  if (info.finish_time_ms) stage.executor_run_time_ms += *info.finish_time_ms - info.launch_time_ms;
  // A completed stage's metrics are its own event's sum already.
  if (stage.status == StageStatus::kActive) stage.info.metrics += info.metrics;
}

void StatusStore::evictJobs() {
  while (jobs_.size() > limits_.jobs && !finished_jobs_.empty()) {
    jobs_.erase(finished_jobs_.front());
    finished_jobs_.pop_front();
  }
}

void StatusStore::evictStages() {
  while (stages_.size() > limits_.stages && !finished_stages_.empty()) {
    stages_.erase(finished_stages_.front());
    finished_stages_.pop_front();
  }
}

// --- Streaming ---

void StatusStore::onStreamingEvent(const StreamingEvent& event) {
  using Kind = StreamingEvent::Kind;
  // A new StreamingContext starts the section over. Its receivers may report before its
  // kStreamingStarted (inputs start first), so any of its events does.
  if (!streaming_ || streaming_->source != event.source) {
    streaming_.emplace();
    streaming_->source = event.source;
  }
  StreamingData& data = streaming_->data;
  switch (event.kind) {
    case Kind::kStreamingStarted:
      data.start_time_ms = event.time_ms;
      data.batch_duration_ms = event.batch_duration_ms;
      data.input_streams = event.input_streams;
      return;
    case Kind::kReceiverStarted:
    case Kind::kReceiverError:
    case Kind::kReceiverStopped: {
      const auto& receiver = std::get<ReceiverInfo>(event.info);
      data.receivers[receiver.stream_id] = receiver;
      return;
    }
    case Kind::kBatchSubmitted:
    case Kind::kBatchStarted:
    case Kind::kBatchCompleted:
      onBatchEvent(event.kind, std::get<BatchInfo>(event.info));
      return;
    case Kind::kOutputOperationStarted:
    case Kind::kOutputOperationCompleted:
      onOutputOperation(std::get<OutputOperationInfo>(event.info));
      return;
    case Kind::kStateReport: {
      const auto& report = std::get<StateReport>(event.info);
      StateHistory& history = streaming_->state[report.stream_id];
      history.stream_id = report.stream_id;
      history.name = report.name;
      history.reports.push_back(report);
      trimFront(history.reports, limits_.batches);
      return;
    }
    case Kind::kCheckpointWritten: {
      const auto& report = std::get<CheckpointReport>(event.info);
      data.checkpoints.push_back(report);
      trimFront(data.checkpoints, limits_.batches);
      data.checkpoint_duration.observe(report.duration_ms);
      return;
    }
  }
}

void StatusStore::onBatchEvent(StreamingEvent::Kind kind, const BatchInfo& info) {
  using Kind = StreamingEvent::Kind;
  Streaming& s = *streaming_;
  StreamingData& data = s.data;
  const std::int64_t t = info.batch_time.milliseconds();
  // The batch as known so far (its job links survive each event's fresh BatchInfo).
  Batch batch;
  for (auto* active : {&s.waiting, &s.running}) {
    if (auto node = active->extract(t)) batch = std::move(node.mapped());
  }
  batch.info = info;
  switch (kind) {
    case Kind::kBatchSubmitted:
      s.waiting[t] = std::move(batch);
      break;
    case Kind::kBatchStarted:
      s.running[t] = std::move(batch);
      data.num_received_records += info.numRecords();
      for (const auto& [stream_id, records] : info.stream_id_to_num_records)
        data.received_records_by_stream[stream_id] += records;
      break;
    default:  // kBatchCompleted
      ++data.num_total_completed_batches;
      data.num_processed_records += info.numRecords();
      if (auto d = info.processingDelay()) data.processing_time.observe(*d);
      if (auto d = info.schedulingDelay()) data.scheduling_delay.observe(*d);
      if (auto d = info.totalDelay()) data.total_delay.observe(*d);
      s.completed.push_back(std::move(batch));
      break;
  }
  evictBatches();
}

void StatusStore::onOutputOperation(const OutputOperationInfo& info) {
  const std::int64_t t = info.batch_time.milliseconds();
  for (auto* active : {&streaming_->running, &streaming_->waiting}) {
    if (auto it = active->find(t); it != active->end()) {
      it->second.info.output_operation_infos[info.id] = info;
      return;
    }
  }
}

void StatusStore::linkJobToBatch(const JobInfo& info) {
  if (!streaming_) return;
  const auto t = parseInt<std::int64_t>(info.properties, kBatchTimeProperty);
  const auto op = parseInt<int>(info.properties, kOutputOpIdProperty);
  if (!t || !op) return;
  // The bus delivers in posting order and the batch thread posts a batch before running its
  // jobs, so the batch is known here unless its events were dropped.
  Batch* batch = nullptr;
  for (auto* active : {&streaming_->running, &streaming_->waiting}) {
    if (auto it = active->find(*t); it != active->end()) batch = &it->second;
  }
  if (!batch) {
    auto& done = streaming_->completed;
    auto it = std::find_if(done.rbegin(), done.rend(),
                           [&](const Batch& b) { return b.info.batch_time.milliseconds() == *t; });
    if (it == done.rend()) return;
    batch = &*it;
  }
  auto& ids = batch->job_ids[*op];
  ids.insert(std::upper_bound(ids.begin(), ids.end(), info.job_id), info.job_id);
}

void StatusStore::evictBatches() {
  Streaming& s = *streaming_;
  trimFront(s.completed, limits_.batches);
  // A batch whose completion a full bus dropped would otherwise stay active forever.
  while (s.waiting.size() + s.running.size() > limits_.batches) {
    auto* oldest = &s.waiting;
    if (s.waiting.empty() ||
        (!s.running.empty() && s.running.begin()->first < s.waiting.begin()->first))
      oldest = &s.running;
    oldest->erase(oldest->begin());
  }
}

// --- Snapshots ---

std::vector<JobData> StatusStore::jobs() const {
  std::lock_guard lock(mu_);
  std::vector<JobData> out;
  out.reserve(jobs_.size());
  for (const auto& [id, job] : jobs_) out.push_back(job);
  return out;
}

std::optional<JobData> StatusStore::job(int job_id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::vector<StageData> StatusStore::stages() const {
  std::lock_guard lock(mu_);
  std::vector<StageData> out;
  out.reserve(stages_.size());
  for (const auto& [id, stage] : stages_) out.push_back(stage);
  return out;
}

std::optional<StageData> StatusStore::stage(int stage_id) const {
  std::lock_guard lock(mu_);
  auto it = stages_.find(stage_id);
  if (it == stages_.end()) return std::nullopt;
  return it->second;
}

JobTotals StatusStore::jobTotals() const {
  std::lock_guard lock(mu_);
  JobTotals totals = job_totals_;
  // Running jobs are never evicted, so the retained ones are all of them.
  totals.running = std::count_if(jobs_.begin(), jobs_.end(), [](const auto& entry) {
    return entry.second.status == JobStatus::kRunning;
  });
  return totals;
}

std::optional<StreamingData> StatusStore::streaming() const {
  std::lock_guard lock(mu_);
  if (!streaming_) return std::nullopt;
  const Streaming& s = *streaming_;
  StreamingData data = s.data;
  data.batches.reserve(s.waiting.size() + s.running.size() + s.completed.size());
  auto add = [&](const Batch& batch, BatchStatus status) {
    data.batches.push_back(BatchData{batch.info, status, batch.job_ids});
  };
  for (const auto& [t, batch] : s.waiting) add(batch, BatchStatus::kQueued);
  for (const auto& [t, batch] : s.running) add(batch, BatchStatus::kProcessing);
  for (const auto& batch : s.completed) add(batch, BatchStatus::kCompleted);
  std::stable_sort(data.batches.begin(), data.batches.end(), [](const auto& a, const auto& b) {
    return a.info.batch_time < b.info.batch_time;
  });
  for (const auto& [id, history] : s.state) data.state.push_back(history);
  return data;
}

}  // namespace sluice::detail::ui
