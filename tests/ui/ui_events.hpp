// Fixed listener-bus event sequences for the web UI's store tests: each builder makes the event
// the engine would post, with times given explicitly (no clock, no engine).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/listener_bus.hpp"
#include "ui/status_store.hpp"

namespace sluice::ui_test {

using detail::ListenerEvent;
using detail::StreamingEvent;
using Kind = StreamingEvent::Kind;

// Two StreamingContexts' identities: events carry only a pointer (distinct contents, so the two
// can never share an address).
inline constexpr char kContextA[] = "context A";
inline constexpr char kContextB[] = "context B";

inline detail::ui::AppInfo testApp() {
  detail::ui::AppInfo app;
  app.id = "local-1700000000123";
  app.name = "ui test";
  app.start_time_ms = 1700000000123;
  app.spark_properties = {{"spark.master", "local[2]"}, {"spark.app.name", "ui test"}};
  app.spark_user = "tester";
  app.version = "0.1.0";
  return app;
}

inline StreamingEvent streamingStarted(const void* source, std::int64_t time_ms,
                                       std::int64_t batch_ms,
                                       std::vector<std::pair<int, std::string>> inputs) {
  StreamingEvent e;
  e.source = source;
  e.kind = Kind::kStreamingStarted;
  e.time_ms = time_ms;
  e.batch_duration_ms = batch_ms;
  e.input_streams = std::move(inputs);
  return e;
}

inline StreamingEvent streamingEvent(const void* source, Kind kind,
                                     decltype(StreamingEvent::info) info) {
  StreamingEvent e;
  e.source = source;
  e.kind = kind;
  e.info = std::move(info);
  return e;
}

inline StreamingEvent receiverEvent(const void* source, Kind kind, int stream_id, bool active,
                                    std::string error_message = {}) {
  ReceiverInfo info;
  info.stream_id = stream_id;
  info.name = "receiver-" + std::to_string(stream_id);
  info.active = active;
  info.last_error_message = error_message;
  if (!error_message.empty()) info.last_error = "trace of " + error_message;
  return streamingEvent(source, kind, info);
}

inline BatchInfo batchInfo(std::int64_t t, std::map<int, long long> records,
                           std::int64_t submitted) {
  BatchInfo b;
  b.batch_time = Time(t);
  b.stream_id_to_num_records = std::move(records);
  b.submission_time_ms = submitted;
  return b;
}

inline OutputOperationInfo outputOp(std::int64_t t, int id, std::int64_t start,
                                    std::optional<std::int64_t> end = std::nullopt,
                                    std::optional<std::string> failure = std::nullopt) {
  OutputOperationInfo op;
  op.batch_time = Time(t);
  op.id = id;
  op.name = "foreachRDD@" + std::to_string(id);
  op.start_time_ms = start;
  op.end_time_ms = end;
  op.failure_reason = std::move(failure);
  return op;
}

inline JobInfo jobInfo(int id, std::int64_t submitted,
                       std::optional<std::pair<std::int64_t, int>> batch_and_op = std::nullopt) {
  JobInfo job;
  job.job_id = id;
  job.description = "collect";
  job.submission_time_ms = submitted;
  if (batch_and_op) {
    job.properties[kBatchTimeProperty] = std::to_string(batch_and_op->first);
    job.properties[kOutputOpIdProperty] = std::to_string(batch_and_op->second);
  }
  return job;
}

inline StageInfo stageInfo(int id, int job_id, int num_tasks, std::int64_t submitted) {
  StageInfo s;
  s.stage_id = id;
  s.job_id = job_id;
  s.name = "collect";
  s.num_tasks = num_tasks;
  s.submission_time_ms = submitted;
  return s;
}

// Feeds a store a whole batch as the engine posts it: submitted, started, then for each output
// operation its start, one job (id `first_job` + op index, with one single-task stage of the same
// id) and its end, then the batch's completion. Times: submitted at t, started at t + sched,
// each op takes `op_ms`, completion right after the last.
struct BatchRun {
  std::int64_t t = 0;
  std::map<int, long long> records;
  std::int64_t sched = 0;
  std::int64_t op_ms = 10;
  int ops = 1;
  int first_job = 0;
  std::optional<std::string> failure;  // of the last operation
};

inline void runBatch(detail::ui::StatusStore& store, const void* source, const BatchRun& run) {
  BatchInfo info = batchInfo(run.t, run.records, run.t);
  store.onEvent(streamingEvent(source, Kind::kBatchSubmitted, info));
  info.processing_start_time_ms = run.t + run.sched;
  store.onEvent(streamingEvent(source, Kind::kBatchStarted, info));
  std::int64_t now = run.t + run.sched;
  for (int op = 0; op < run.ops; ++op) {
    const int job_id = run.first_job + op;
    store.onEvent(streamingEvent(source, Kind::kOutputOperationStarted, outputOp(run.t, op, now)));
    JobInfo job = jobInfo(job_id, now, std::make_pair(run.t, op));
    store.onEvent(detail::JobStartEvent{job});
    StageInfo stage = stageInfo(job_id, job_id, 1, now);
    store.onEvent(detail::StageSubmittedEvent{stage});
    now += run.op_ms;
    stage.completion_time_ms = now;
    store.onEvent(detail::StageCompletedEvent{stage});
    const bool failed = run.failure && op == run.ops - 1;
    job.completion_time_ms = now;
    job.stage_ids = {job_id};
    if (failed) job.failure_reason = run.failure;
    store.onEvent(detail::JobEndEvent{job});
    auto op_info = outputOp(run.t, op, now - run.op_ms, now,
                            failed ? run.failure : std::optional<std::string>());
    info.output_operation_infos[op] = op_info;
    store.onEvent(streamingEvent(source, Kind::kOutputOperationCompleted, op_info));
  }
  info.processing_end_time_ms = now;
  store.onEvent(streamingEvent(source, Kind::kBatchCompleted, info));
}

inline StreamingEvent stateReport(const void* source, std::int64_t t, int stream_id,
                                  std::string name, long long keys, long long bytes) {
  detail::StateReport r;
  r.batch_time = Time(t);
  r.stream_id = stream_id;
  r.name = std::move(name);
  r.keys = keys;
  r.bytes = bytes;
  return streamingEvent(source, Kind::kStateReport, r);
}

inline StreamingEvent checkpointReport(const void* source, std::int64_t t, std::int64_t ms,
                                       long long bytes, bool full) {
  detail::CheckpointReport r;
  r.batch_time = Time(t);
  r.duration_ms = ms;
  r.bytes = bytes;
  r.full = full;
  return streamingEvent(source, Kind::kCheckpointWritten, r);
}

}  // namespace sluice::ui_test
