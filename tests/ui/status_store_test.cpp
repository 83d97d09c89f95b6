// The web UI's StatusStore fed fixed event sequences: job, stage and task counts, streaming
// batches through their states, job links, retention bounds and a new StreamingContext.
#include "ui/status_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ui/rest_api.hpp"
#include "ui/ui_events.hpp"

namespace {

using namespace sluice;
using namespace sluice::ui_test;
using detail::ui::BatchStatus;
using detail::ui::JobStatus;
using detail::ui::RetentionLimits;
using detail::ui::StageStatus;
using detail::ui::StatusStore;

TaskInfo task(int stage, int index, std::int64_t launch) {
  TaskInfo t;
  t.stage_id = stage;
  t.task_index = index;
  t.partition = index;
  t.launch_time_ms = launch;
  return t;
}

TEST(StatusStore, CountsTasksOfStagesAndJobs) {
  StatusStore store(testApp(), {}, nullptr);
  store.onEvent(detail::JobStartEvent{jobInfo(7, 100)});
  store.onEvent(detail::StageSubmittedEvent{stageInfo(3, 7, 3, 101)});
  for (int i = 0; i < 3; ++i) store.onEvent(detail::TaskStartEvent{task(3, i, 110 + i)});
  {
    auto job = store.job(7);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->status, JobStatus::kRunning);
    EXPECT_EQ(job->num_tasks, 3);
    EXPECT_EQ(job->num_active_tasks, 3);
    EXPECT_EQ(job->num_active_stages, 1);
    EXPECT_EQ(job->info.stage_ids, std::vector<int>{3});
  }
  TaskInfo ok = task(3, 0, 110);
  ok.finish_time_ms = 130;
  ok.metrics.records_read = 5;
  ok.metrics.shuffle_records_written = 2;
  TaskInfo failed = task(3, 1, 111);
  failed.finish_time_ms = 121;
  failed.failure_reason = "boom";
  failed.metrics.records_read = 1;
  TaskInfo cancelled = task(3, 2, 112);
  cancelled.finish_time_ms = 112;
  cancelled.failure_reason = "cancelled: another task of the stage failed";
  for (const auto& t : {ok, failed, cancelled}) store.onEvent(detail::TaskEndEvent{t});

  auto stage = store.stage(3);
  ASSERT_TRUE(stage);
  EXPECT_EQ(stage->status, StageStatus::kActive);
  EXPECT_EQ(stage->num_active_tasks, 0);
  EXPECT_EQ(stage->num_complete_tasks, 1);
  EXPECT_EQ(stage->num_failed_tasks, 1);
  EXPECT_EQ(stage->num_killed_tasks, 1);
  EXPECT_EQ(stage->first_task_launched_time_ms, 110);
  EXPECT_EQ(stage->executor_run_time_ms, 20 + 10 + 0);
  EXPECT_EQ(stage->info.metrics.records_read, 6);  // summed from the tasks while active
  EXPECT_EQ(stage->info.metrics.shuffle_records_written, 2);

  StageInfo done = stageInfo(3, 7, 3, 101);
  done.completion_time_ms = 140;
  done.failure_reason = "task failed";
  done.metrics.records_read = 6;
  store.onEvent(detail::StageCompletedEvent{done});
  JobInfo end = jobInfo(7, 100);
  end.completion_time_ms = 150;
  end.stage_ids = {3};
  end.failure_reason = "Job aborted";
  store.onEvent(detail::JobEndEvent{end});

  stage = store.stage(3);
  EXPECT_EQ(stage->status, StageStatus::kFailed);
  EXPECT_EQ(stage->info.completion_time_ms, 140);
  auto job = store.job(7);
  EXPECT_EQ(job->status, JobStatus::kFailed);
  EXPECT_EQ(job->info.completion_time_ms, 150);
  EXPECT_EQ(job->num_completed_tasks, 1);
  EXPECT_EQ(job->num_failed_tasks, 1);
  EXPECT_EQ(job->num_killed_tasks, 1);
  EXPECT_EQ(job->num_active_tasks, 0);
  EXPECT_EQ(job->num_active_stages, 0);
  EXPECT_EQ(job->num_failed_stages, 1);
  EXPECT_EQ(job->num_completed_stages, 0);
  auto totals = store.jobTotals();
  EXPECT_EQ(totals.failed, 1);
  EXPECT_EQ(totals.succeeded, 0);
  EXPECT_EQ(totals.running, 0);
}

TEST(StatusStore, EvictsOldestFinishedJobsAndStagesNeverRunningOnes) {
  RetentionLimits limits;
  limits.jobs = 10;
  limits.stages = 10;
  StatusStore store(testApp(), limits, nullptr);
  // 15 jobs start and stay running: none may go.
  for (int id = 0; id < 15; ++id) {
    store.onEvent(detail::JobStartEvent{jobInfo(id, id)});
    store.onEvent(detail::StageSubmittedEvent{stageInfo(id, id, 1, id)});
  }
  EXPECT_EQ(store.jobs().size(), 15u);
  EXPECT_EQ(store.stages().size(), 15u);
  // They end in reverse order: the first to end are the first evicted.
  for (int id = 14; id >= 0; --id) {
    StageInfo s = stageInfo(id, id, 1, id);
    s.completion_time_ms = 100;
    store.onEvent(detail::StageCompletedEvent{s});
    JobInfo j = jobInfo(id, id);
    j.completion_time_ms = 100;
    store.onEvent(detail::JobEndEvent{j});
  }
  auto jobs = store.jobs();
  ASSERT_EQ(jobs.size(), 10u);
  EXPECT_EQ(jobs.front().info.job_id, 0);
  EXPECT_EQ(jobs.back().info.job_id, 9);
  EXPECT_FALSE(store.job(14));
  auto stages = store.stages();
  ASSERT_EQ(stages.size(), 10u);
  EXPECT_EQ(stages.back().info.stage_id, 9);
  EXPECT_EQ(store.jobTotals().succeeded, 15);  // totals outlive retention

  for (int id = 100; id < 1100; ++id) {
    JobInfo j = jobInfo(id, id);
    store.onEvent(detail::JobStartEvent{j});
    j.completion_time_ms = id + 1;
    store.onEvent(detail::JobEndEvent{j});
  }
  jobs = store.jobs();
  ASSERT_EQ(jobs.size(), 10u);
  EXPECT_EQ(jobs.front().info.job_id, 1090);
  EXPECT_EQ(store.jobTotals().succeeded, 1015);
}

TEST(StatusStore, TracksABatchThroughItsStatesWithItsJobs) {
  StatusStore store(testApp(), {}, nullptr);
  EXPECT_FALSE(store.streaming());
  store.onEvent(streamingStarted(kContextA, 5000, 1000, {{0, "socket"}, {1, "queue"}}));
  BatchInfo info = batchInfo(6000, {{0, 4}, {1, 6}}, 6001);
  store.onEvent(streamingEvent(kContextA, Kind::kBatchSubmitted, info));
  auto s = store.streaming();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->start_time_ms, 5000);
  EXPECT_EQ(s->batch_duration_ms, 1000);
  ASSERT_EQ(s->batches.size(), 1u);
  EXPECT_EQ(s->batches[0].status, BatchStatus::kQueued);
  EXPECT_EQ(s->num_received_records, 0);

  info.processing_start_time_ms = 6003;
  store.onEvent(streamingEvent(kContextA, Kind::kBatchStarted, info));
  store.onEvent(streamingEvent(kContextA, Kind::kOutputOperationStarted, outputOp(6000, 0, 6004)));
  store.onEvent(detail::JobStartEvent{jobInfo(11, 6004, std::make_pair(6000, 0))});
  store.onEvent(detail::JobStartEvent{jobInfo(10, 6005, std::make_pair(6000, 0))});
  store.onEvent(detail::JobStartEvent{jobInfo(12, 6006)});  // not a streaming job
  s = store.streaming();
  ASSERT_EQ(s->batches.size(), 1u);
  EXPECT_EQ(s->batches[0].status, BatchStatus::kProcessing);
  EXPECT_EQ(s->num_received_records, 10);
  ASSERT_EQ(s->batches[0].info.output_operation_infos.size(), 1u);
  EXPECT_FALSE(s->batches[0].info.output_operation_infos.at(0).end_time_ms);
  EXPECT_EQ(s->batches[0].job_ids.at(0), (std::vector<int>{10, 11}));

  auto op = outputOp(6000, 0, 6004, 6020);
  info.output_operation_infos[0] = op;
  store.onEvent(streamingEvent(kContextA, Kind::kOutputOperationCompleted, op));
  info.processing_end_time_ms = 6021;
  store.onEvent(streamingEvent(kContextA, Kind::kBatchCompleted, info));
  s = store.streaming();
  ASSERT_EQ(s->batches.size(), 1u);
  EXPECT_EQ(s->batches[0].status, BatchStatus::kCompleted);
  EXPECT_EQ(s->batches[0].job_ids.at(0), (std::vector<int>{10, 11}));  // kept on completion
  EXPECT_EQ(s->num_total_completed_batches, 1);
  EXPECT_EQ(s->num_processed_records, 10);
  EXPECT_EQ(s->received_records_by_stream, (std::map<int, long long>{{0, 4}, {1, 6}}));
  EXPECT_EQ(s->processing_time.count, 1);
  EXPECT_EQ(s->processing_time.sum_ms, 18);
  EXPECT_EQ(s->scheduling_delay.sum_ms, 2);
  EXPECT_EQ(s->total_delay.sum_ms, 20);
  // A job of the batch after its completion is still linked.
  store.onEvent(detail::JobStartEvent{jobInfo(13, 6030, std::make_pair(6000, 1))});
  EXPECT_EQ(store.streaming()->batches[0].job_ids.at(1), std::vector<int>{13});
}

TEST(StatusStore, HoldsConstantMemoryOverManyBatches) {
  RetentionLimits limits;
  limits.batches = 100;
  limits.jobs = 50;
  limits.stages = 60;
  StatusStore store(testApp(), limits, nullptr);
  store.onEvent(streamingStarted(kContextA, 0, 1000, {{0, "socket"}}));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStarted, 0, true));
  int job = 0;
  for (int b = 1; b <= 5000; ++b) {
    const std::int64_t t = 1000LL * b;
    runBatch(store, kContextA,
             {.t = t, .records = {{0, 2}}, .sched = 1, .ops = 2, .first_job = job});
    job += 2;
    store.onEvent(stateReport(kContextA, t, 3, "counts", b, 10LL * b));
    store.onEvent(checkpointReport(kContextA, t, 5, 100, b % 10 == 0));
  }
  auto s = store.streaming();
  ASSERT_TRUE(s);
  ASSERT_EQ(s->batches.size(), 100u);
  EXPECT_EQ(s->numRetainedCompletedBatches(), 100u);
  EXPECT_EQ(s->num_total_completed_batches, 5000);
  EXPECT_EQ(s->num_received_records, 10000);
  EXPECT_EQ(s->num_processed_records, 10000);
  EXPECT_EQ(s->batches.front().info.batch_time, Time(4901000));
  EXPECT_EQ(s->batches.back().info.batch_time, Time(5000000));
  // The retained batches keep their own job links, and only theirs.
  EXPECT_EQ(s->batches.front().job_ids.at(0), std::vector<int>{9800});
  EXPECT_EQ(s->batches.front().job_ids.at(1), std::vector<int>{9801});
  EXPECT_EQ(s->batches.back().job_ids.at(1), std::vector<int>{9999});
  EXPECT_EQ(store.jobs().size(), 50u);
  EXPECT_EQ(store.jobs().front().info.job_id, 9950);
  EXPECT_EQ(store.stages().size(), 60u);
  ASSERT_EQ(s->state.size(), 1u);
  ASSERT_EQ(s->state[0].reports.size(), 100u);
  EXPECT_EQ(s->state[0].reports.front().batch_time, Time(4901000));
  EXPECT_EQ(s->state[0].reports.back().keys, 5000);
  ASSERT_EQ(s->checkpoints.size(), 100u);
  EXPECT_EQ(s->checkpoints.front().batch_time, Time(4901000));
  // Histograms cover every batch, not only the retained ones.
  EXPECT_EQ(s->processing_time.count, 5000);
  EXPECT_EQ(s->checkpoint_duration.count, 5000);
  EXPECT_EQ(store.jobTotals().succeeded, 10000);
}

TEST(StatusStore, BoundsBatchesThatNeverComplete) {
  RetentionLimits limits;
  limits.batches = 100;
  StatusStore store(testApp(), limits, nullptr);
  store.onEvent(streamingStarted(kContextA, 0, 1000, {}));
  // Their completions lost (a full bus drops events): 150 started, 50 more only submitted.
  for (int b = 1; b <= 200; ++b) {
    BatchInfo info = batchInfo(1000LL * b, {}, 1000LL * b);
    store.onEvent(streamingEvent(kContextA, Kind::kBatchSubmitted, info));
    info.processing_start_time_ms = 1000LL * b;
    if (b <= 150) store.onEvent(streamingEvent(kContextA, Kind::kBatchStarted, info));
  }
  auto s = store.streaming();
  ASSERT_EQ(s->batches.size(), 100u);
  EXPECT_EQ(s->numActiveBatches(), 100u);
  EXPECT_EQ(s->batches.front().info.batch_time, Time(101000));  // the newest kept
  EXPECT_EQ(s->batches.front().status, BatchStatus::kProcessing);
  EXPECT_EQ(s->batches.back().status, BatchStatus::kQueued);
}

TEST(StatusStore, ANewStreamingContextStartsTheSectionOver) {
  StatusStore store(testApp(), {}, nullptr);
  store.onEvent(streamingStarted(kContextA, 0, 1000, {{0, "socket"}}));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStarted, 0, true));
  runBatch(store, kContextA, {.t = 1000, .records = {{0, 5}}});
  store.onEvent(stateReport(kContextA, 1000, 2, "counts", 1, 10));
  store.onEvent(checkpointReport(kContextA, 1000, 3, 50, true));
  ASSERT_EQ(store.streaming()->num_total_completed_batches, 1);

  // Context B's receiver reports before B's kStreamingStarted: B's section begins there.
  store.onEvent(receiverEvent(kContextB, Kind::kReceiverStarted, 4, true));
  auto s = store.streaming();
  EXPECT_EQ(s->start_time_ms, -1);
  EXPECT_EQ(s->receivers.size(), 1u);
  EXPECT_TRUE(s->receivers.contains(4));
  store.onEvent(streamingStarted(kContextB, 9000, 500, {{4, "kafka"}}));
  s = store.streaming();
  EXPECT_EQ(s->start_time_ms, 9000);
  EXPECT_EQ(s->batch_duration_ms, 500);
  EXPECT_EQ(s->input_streams, (std::vector<std::pair<int, std::string>>{{4, "kafka"}}));
  EXPECT_TRUE(s->receivers.contains(4));  // kept: same context
  EXPECT_TRUE(s->batches.empty());
  EXPECT_EQ(s->num_total_completed_batches, 0);
  EXPECT_EQ(s->num_received_records, 0);
  EXPECT_TRUE(s->received_records_by_stream.empty());
  EXPECT_EQ(s->processing_time.count, 0);
  EXPECT_TRUE(s->state.empty());
  EXPECT_TRUE(s->checkpoints.empty());
  // Jobs belong to the application, not to a StreamingContext.
  EXPECT_EQ(store.jobs().size(), 1u);
}

TEST(StatusStore, ReadsDroppedEventsThroughItsFunction) {
  long long dropped = 3;
  StatusStore store(testApp(), {}, [&] { return dropped; });
  EXPECT_EQ(store.droppedEvents(), 3);
  dropped = 8;
  EXPECT_EQ(store.droppedEvents(), 8);
  StatusStore without(testApp(), {}, nullptr);
  EXPECT_EQ(without.droppedEvents(), 0);
}

// The bus thread writes while HTTP threads read (run under the sanitizers: no data race, no
// torn snapshot).
TEST(StatusStore, ReadsWhileEventsArrive) {
  RetentionLimits limits;
  limits.batches = 20;
  limits.jobs = 20;
  limits.stages = 20;
  StatusStore store(testApp(), limits, nullptr);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    store.onEvent(streamingStarted(kContextA, 0, 1000, {{0, "socket"}}));
    for (int b = 1; b <= 500; ++b)
      runBatch(store, kContextA, {.t = 1000LL * b, .records = {{0, 1}}, .first_job = b});
    done = true;
  });
  long long last_total = 0;
  while (!done) {
    if (auto s = store.streaming()) {
      EXPECT_GE(s->num_total_completed_batches, last_total);
      last_total = s->num_total_completed_batches;
      EXPECT_LE(s->batches.size(), 21u);
    }
    EXPECT_LE(store.jobs().size(), 21u);  // the limit, and the job now running (kept until it ends)
    detail::ui::restGet(store, "/applications/" + testApp().id + "/streaming/batches", {});
    detail::ui::prometheusText(store);
  }
  writer.join();
  EXPECT_EQ(store.streaming()->num_total_completed_batches, 500);
}

}  // namespace
