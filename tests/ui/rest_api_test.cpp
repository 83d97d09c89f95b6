// Spark's REST API (/api/v1) rendered from a StatusStore fed a fixed application: every field of
// each endpoint compared with the value Spark would give, filters, and the 404s.
#include "ui/rest_api.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "ui/ui_events.hpp"

namespace {

using namespace sluice;
using namespace sluice::ui_test;
using detail::ui::StatusStore;
using Json = nlohmann::json;

const std::string kApp = "/applications/" + testApp().id;

struct Reply {
  int status;
  Json body;
};

Reply get(const StatusStore& store, const std::string& path,
          const std::map<std::string, std::string>& query = {}) {
  auto response = detail::ui::restGet(store, path, query);
  EXPECT_EQ(response.content_type, "application/json") << path;
  return {response.status, Json::parse(response.body)};
}

void expectNotFound(const StatusStore& store, const std::string& path, const std::string& message) {
  auto reply = get(store, path);
  EXPECT_EQ(reply.status, 404) << path;
  EXPECT_EQ(reply.body, (Json{{"message", message}})) << path;
}

TaskInfo endedTask(int stage, int index, std::int64_t launch, std::int64_t finish) {
  TaskInfo t;
  t.stage_id = stage;
  t.task_index = index;
  t.launch_time_ms = launch;
  t.finish_time_ms = finish;
  return t;
}

void batchEvent(StatusStore& store, Kind kind, const BatchInfo& info) {
  store.onEvent(streamingEvent(kContextA, kind, info));
}

void opEvent(StatusStore& store, Kind kind, const OutputOperationInfo& op) {
  store.onEvent(streamingEvent(kContextA, kind, op));
}

void streamingJob(StatusStore& store, int id, std::int64_t t, int op, std::int64_t start,
                  std::optional<std::int64_t> end, std::optional<std::string> failure = {}) {
  JobInfo job = jobInfo(id, start, std::make_pair(t, op));
  store.onEvent(detail::JobStartEvent{job});
  if (!end) return;
  job.completion_time_ms = end;
  job.failure_reason = std::move(failure);
  store.onEvent(detail::JobEndEvent{job});
}

// The application: three plain jobs (succeeded, running, failed) and a StreamingContext with
// two completed batches, one processing and one queued, two receivers and a queue stream.
void populate(StatusStore& store) {
  JobInfo count = jobInfo(0, 500);
  count.description = "count";
  count.properties = {{"spark.job.description", "counting words"}, {"spark.jobGroup.id", "g1"}};
  store.onEvent(detail::JobStartEvent{count});
  StageInfo stage = stageInfo(0, 0, 2, 510);
  stage.name = "count";
  store.onEvent(detail::StageSubmittedEvent{stage});
  store.onEvent(detail::TaskStartEvent{endedTask(0, 0, 520, 0)});
  store.onEvent(detail::TaskStartEvent{endedTask(0, 1, 521, 0)});
  store.onEvent(detail::TaskEndEvent{endedTask(0, 0, 520, 600)});
  store.onEvent(detail::TaskEndEvent{endedTask(0, 1, 521, 700)});
  stage.completion_time_ms = 880;
  stage.metrics.records_read = 7;
  stage.metrics.shuffle_records_written = 3;
  store.onEvent(detail::StageCompletedEvent{stage});
  count.completion_time_ms = 900;
  count.stage_ids = {0};
  store.onEvent(detail::JobEndEvent{count});

  store.onEvent(detail::JobStartEvent{jobInfo(1, 950)});
  store.onEvent(detail::StageSubmittedEvent{stageInfo(1, 1, 4, 951)});
  store.onEvent(detail::TaskStartEvent{endedTask(1, 0, 952, 0)});
  JobInfo failed = jobInfo(2, 960);
  store.onEvent(detail::JobStartEvent{failed});
  failed.completion_time_ms = 970;
  failed.failure_reason = "Job aborted";
  store.onEvent(detail::JobEndEvent{failed});

  store.onEvent(
      streamingStarted(kContextA, 999, 1000, {{0, "socket"}, {1, "socket"}, {2, "queue"}}));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStarted, 0, true));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStarted, 1, true));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverError, 1, true, "connection refused"));
  store.onEvent(receiverEvent(kContextA, Kind::kReceiverStopped, 1, false, "connection refused"));

  // Batch 1000: two output operations, the second failed.
  BatchInfo b1 = batchInfo(1000, {{0, 4}, {1, 6}, {2, 0}}, 1000);
  batchEvent(store, Kind::kBatchSubmitted, b1);
  b1.processing_start_time_ms = 1010;
  batchEvent(store, Kind::kBatchStarted, b1);
  opEvent(store, Kind::kOutputOperationStarted, outputOp(1000, 0, 1010));
  streamingJob(store, 10, 1000, 0, 1010, 1030);
  streamingJob(store, 11, 1000, 0, 1030, 1060);
  b1.output_operation_infos[0] = outputOp(1000, 0, 1010, 1060);
  opEvent(store, Kind::kOutputOperationCompleted, b1.output_operation_infos[0]);
  opEvent(store, Kind::kOutputOperationStarted, outputOp(1000, 1, 1060));
  streamingJob(store, 12, 1000, 1, 1060, 1110, "op failed");
  b1.output_operation_infos[1] = outputOp(1000, 1, 1060, 1110, "op failed");
  opEvent(store, Kind::kOutputOperationCompleted, b1.output_operation_infos[1]);
  b1.processing_end_time_ms = 1110;
  batchEvent(store, Kind::kBatchCompleted, b1);

  BatchInfo b2 = batchInfo(2000, {{0, 30}}, 2000);
  batchEvent(store, Kind::kBatchSubmitted, b2);
  b2.processing_start_time_ms = 2040;
  batchEvent(store, Kind::kBatchStarted, b2);
  opEvent(store, Kind::kOutputOperationStarted, outputOp(2000, 0, 2040));
  streamingJob(store, 13, 2000, 0, 2040, 2245);
  b2.output_operation_infos[0] = outputOp(2000, 0, 2040, 2245);
  opEvent(store, Kind::kOutputOperationCompleted, b2.output_operation_infos[0]);
  b2.processing_end_time_ms = 2245;
  batchEvent(store, Kind::kBatchCompleted, b2);

  BatchInfo b3 = batchInfo(3000, {{0, 20}}, 3000);
  batchEvent(store, Kind::kBatchSubmitted, b3);
  b3.processing_start_time_ms = 3003;
  batchEvent(store, Kind::kBatchStarted, b3);
  opEvent(store, Kind::kOutputOperationStarted, outputOp(3000, 0, 3003));
  streamingJob(store, 14, 3000, 0, 3003, std::nullopt);

  batchEvent(store, Kind::kBatchSubmitted, batchInfo(4000, {}, 4000));

  store.onEvent(stateReport(kContextA, 1000, 3, "counts@3", 5, 500));
  store.onEvent(stateReport(kContextA, 2000, 3, "counts@3", 8, 800));
  store.onEvent(checkpointReport(kContextA, 1000, 12, 4096, true));
  store.onEvent(checkpointReport(kContextA, 2000, 7, 512, false));
}

class RestApi : public ::testing::Test {
 protected:
  RestApi() { populate(store_); }
  StatusStore store_{testApp(), {}, nullptr};
};

std::vector<int> ids(const Json& list, const char* field) {
  std::vector<int> out;
  for (const auto& e : list) out.push_back(e.at(field).get<int>());
  return out;
}

TEST_F(RestApi, ListsTheApplication) {
  const Json app = Json::parse(R"({
    "id": "local-1700000000123", "name": "ui test",
    "attempts": [{"startTime": "2023-11-14T22:13:20.123GMT",
                  "endTime": "1969-12-31T23:59:59.999GMT",
                  "lastUpdated": "2023-11-14T22:13:20.123GMT", "duration": 0,
                  "sparkUser": "tester", "completed": false, "appSparkVersion": "0.1.0",
                  "startTimeEpoch": 1700000000123, "endTimeEpoch": -1,
                  "lastUpdatedEpoch": 1700000000123}]})");
  auto reply = get(store_, "/applications");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, Json::array({app}));
  EXPECT_EQ(get(store_, "/applications/", {{"status", "running"}}).body, Json::array({app}));
  EXPECT_EQ(get(store_, "/applications", {{"status", "completed"}}).body, Json::array());
  EXPECT_EQ(get(store_, "/applications", {{"status", "done"}}).status, 400);
  EXPECT_EQ(get(store_, kApp).body, app);
  expectNotFound(store_, "/applications/local-1/jobs", "no such app: local-1");
  expectNotFound(store_, "/applications/local-1", "no such app: local-1");
}

TEST_F(RestApi, Jobs) {
  auto reply = get(store_, kApp + "/jobs");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(ids(reply.body, "jobId"), (std::vector<int>{14, 13, 12, 11, 10, 2, 1, 0}));
  EXPECT_EQ(ids(get(store_, kApp + "/jobs", {{"status", "running"}}).body, "jobId"),
            (std::vector<int>{14, 1}));
  EXPECT_EQ(ids(get(store_, kApp + "/jobs", {{"status", "SUCCEEDED"}}).body, "jobId"),
            (std::vector<int>{13, 11, 10, 0}));
  EXPECT_EQ(ids(get(store_, kApp + "/jobs", {{"status", "failed"}}).body, "jobId"),
            (std::vector<int>{12, 2}));
  auto bad = get(store_, kApp + "/jobs", {{"status", "lost"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.at("message").get<std::string>().find("lost"), std::string::npos);

  EXPECT_EQ(get(store_, kApp + "/jobs/0").body, Json::parse(R"({
    "jobId": 0, "name": "count", "description": "counting words",
    "submissionTime": "1970-01-01T00:00:00.500GMT", "completionTime": "1970-01-01T00:00:00.900GMT",
    "stageIds": [0], "jobGroup": "g1", "jobTags": [], "status": "SUCCEEDED",
    "numTasks": 2, "numActiveTasks": 0, "numCompletedTasks": 2, "numSkippedTasks": 0,
    "numFailedTasks": 0, "numKilledTasks": 0, "numCompletedIndices": 2, "numActiveStages": 0,
    "numCompletedStages": 1, "numSkippedStages": 0, "numFailedStages": 0,
    "killedTasksSummary": {}})"));
  auto running = get(store_, kApp + "/jobs/1").body;
  EXPECT_EQ(running.at("status"), "RUNNING");
  EXPECT_FALSE(running.contains("completionTime"));
  EXPECT_FALSE(running.contains("description"));
  EXPECT_EQ(running.at("numTasks"), 4);
  EXPECT_EQ(running.at("numActiveTasks"), 1);
  EXPECT_EQ(running.at("numActiveStages"), 1);
  EXPECT_EQ(running.at("stageIds"), Json::array({1}));
  EXPECT_EQ(get(store_, kApp + "/jobs/2").body.at("status"), "FAILED");

  expectNotFound(store_, kApp + "/jobs/99", "unknown job: 99");
  expectNotFound(store_, kApp + "/jobs/abc", "unknown job: abc");
  expectNotFound(store_, kApp + "/jobs/-1", "unknown job: -1");
  expectNotFound(store_, kApp + "/jobs/0/x", "unknown path: " + kApp + "/jobs/0/x");
}

TEST_F(RestApi, Stages) {
  auto reply = get(store_, kApp + "/stages");
  EXPECT_EQ(ids(reply.body, "stageId"), (std::vector<int>{1, 0}));
  EXPECT_EQ(ids(get(store_, kApp + "/stages", {{"status", "active"}}).body, "stageId"),
            std::vector<int>{1});
  EXPECT_EQ(ids(get(store_, kApp + "/stages", {{"status", "complete"}}).body, "stageId"),
            std::vector<int>{0});
  EXPECT_EQ(get(store_, kApp + "/stages", {{"status", "pending"}}).body, Json::array());
  EXPECT_EQ(get(store_, kApp + "/stages", {{"status", "done"}}).status, 400);

  const Json stage0 = Json::parse(R"({
    "status": "COMPLETE", "stageId": 0, "attemptId": 0, "numTasks": 2, "numActiveTasks": 0,
    "numCompleteTasks": 2, "numFailedTasks": 0, "numKilledTasks": 0, "numCompletedIndices": 2,
    "submissionTime": "1970-01-01T00:00:00.510GMT",
    "firstTaskLaunchedTime": "1970-01-01T00:00:00.520GMT",
    "completionTime": "1970-01-01T00:00:00.880GMT", "executorRunTime": 259,
    "memoryBytesSpilled": 0, "diskBytesSpilled": 0, "inputBytes": 0, "inputRecords": 7,
    "outputBytes": 0, "outputRecords": 0, "shuffleReadBytes": 0, "shuffleReadRecords": 0,
    "shuffleWriteBytes": 0, "shuffleWriteRecords": 3, "name": "count", "details": "",
    "schedulingPool": "default", "rddIds": [], "accumulatorUpdates": [],
    "killedTasksSummary": {}, "resourceProfileId": 0})");
  EXPECT_EQ(get(store_, kApp + "/stages/0").body, Json::array({stage0}));  // its attempts
  EXPECT_EQ(get(store_, kApp + "/stages/0/0").body, stage0);
  EXPECT_EQ(get(store_, kApp + "/stages/1/0").body.at("status"), "ACTIVE");
  EXPECT_EQ(get(store_, kApp + "/stages/1/0").body.at("numActiveTasks"), 1);
  EXPECT_EQ(get(store_, kApp + "/stages/0/1").status, 404);
  expectNotFound(store_, kApp + "/stages/5", "unknown stage: 5");
  expectNotFound(store_, kApp + "/stages/x", "unknown stage: x");
}

TEST_F(RestApi, Environment) {
  EXPECT_EQ(get(store_, kApp + "/environment").body, Json::parse(R"({
    "sparkProperties": [["spark.app.name", "ui test"], ["spark.master", "local[2]"]],
    "hadoopProperties": [], "systemProperties": [], "metricsProperties": [],
    "classpathEntries": [], "resourceProfiles": []})"));
}

TEST_F(RestApi, StreamingStatisticsAveragesAsSpark) {
  auto reply = get(store_, kApp + "/streaming/statistics");
  EXPECT_EQ(reply.status, 200);
  // Over the four retained batches (queued and processing ones too): rates 10, 30, 20 and 0
  // records/s; scheduling delays 10, 40, 3; processing 100, 205; total 110, 245 (whole ms).
  EXPECT_EQ(reply.body, Json::parse(R"({
    "startTime": "1970-01-01T00:00:00.999GMT", "batchDuration": 1000, "numReceivers": 2,
    "numActiveReceivers": 1, "numInactiveReceivers": 1, "numTotalCompletedBatches": 2,
    "numRetainedCompletedBatches": 2, "numActiveBatches": 2, "numProcessedRecords": 40,
    "numReceivedRecords": 60, "avgInputRate": 15.0, "avgSchedulingDelay": 17,
    "avgProcessingTime": 152, "avgTotalDelay": 177})"));
  EXPECT_TRUE(reply.body.at("avgInputRate").is_number_float());
  EXPECT_TRUE(reply.body.at("avgProcessingTime").is_number_integer());
}

TEST(RestApiStreaming, StatisticsLeaveOutUndefinedAverages) {
  StatusStore store(testApp(), {}, nullptr);
  store.onEvent(streamingStarted(kContextA, 10, 1000, {}));
  auto body = get(store, kApp + "/streaming/statistics").body;
  EXPECT_EQ(body.at("numTotalCompletedBatches"), 0);
  for (const char* field :
       {"avgInputRate", "avgSchedulingDelay", "avgProcessingTime", "avgTotalDelay"})
    EXPECT_FALSE(body.contains(field)) << field;
}

TEST(RestApiStreaming, NotFoundWithoutAStreamingContext) {
  StatusStore store(testApp(), {}, nullptr);
  for (const char* area :
       {"statistics", "receivers", "batches", "batches/1000", "state", "checkpoints"}) {
    expectNotFound(store, kApp + "/streaming/" + area, "no streaming listener attached to ui test");
  }
}

TEST_F(RestApi, Receivers) {
  const Json receiver0 = Json::parse(R"({
    "streamId": 0, "streamName": "receiver-0", "isActive": true, "executorId": "driver",
    "executorHost": "localhost", "avgEventRate": 13.5,
    "eventRates": [[1000, 4.0], [2000, 30.0], [3000, 20.0], [4000, 0.0]]})");
  const Json receiver1 = Json::parse(R"({
    "streamId": 1, "streamName": "receiver-1", "isActive": false, "executorId": "driver",
    "executorHost": "localhost", "lastErrorMessage": "connection refused",
    "lastError": "trace of connection refused", "avgEventRate": 1.5,
    "eventRates": [[1000, 6.0], [2000, 0.0], [3000, 0.0], [4000, 0.0]]})");
  // An input stream without a receiver is listed too, as Spark does.
  const Json queue = Json::parse(R"({
    "streamId": 2, "streamName": "queue", "avgEventRate": 0.0,
    "eventRates": [[1000, 0.0], [2000, 0.0], [3000, 0.0], [4000, 0.0]]})");
  EXPECT_EQ(get(store_, kApp + "/streaming/receivers").body,
            Json::array({receiver0, receiver1, queue}));
  EXPECT_EQ(get(store_, kApp + "/streaming/receivers/1").body, receiver1);
  expectNotFound(store_, kApp + "/streaming/receivers/9", "unknown receiver: 9");
  expectNotFound(store_, kApp + "/streaming/receivers/a", "unknown receiver: a");
}

TEST_F(RestApi, Batches) {
  const Json b1 = Json::parse(R"({
    "batchId": 1000, "batchTime": "1970-01-01T00:00:01.000GMT", "status": "COMPLETED",
    "batchDuration": 1000, "inputSize": 10, "schedulingDelay": 10, "processingTime": 100,
    "totalDelay": 110, "numActiveOutputOps": 0, "numCompletedOutputOps": 1,
    "numFailedOutputOps": 1, "numTotalOutputOps": 2, "firstFailureReason": "op failed"})");
  const Json b3 = Json::parse(R"({
    "batchId": 3000, "batchTime": "1970-01-01T00:00:03.000GMT", "status": "PROCESSING",
    "batchDuration": 1000, "inputSize": 20, "schedulingDelay": 3, "numActiveOutputOps": 1,
    "numCompletedOutputOps": 0, "numFailedOutputOps": 0, "numTotalOutputOps": 1})");
  const Json b4 = Json::parse(R"({
    "batchId": 4000, "batchTime": "1970-01-01T00:00:04.000GMT", "status": "QUEUED",
    "batchDuration": 1000, "inputSize": 0, "numActiveOutputOps": 0,
    "numCompletedOutputOps": 0, "numFailedOutputOps": 0, "numTotalOutputOps": 0})");
  auto all = get(store_, kApp + "/streaming/batches").body;
  EXPECT_EQ(ids(all, "batchId"), (std::vector<int>{4000, 3000, 2000, 1000}));  // newest first
  EXPECT_EQ(all[3], b1);
  EXPECT_EQ(all[1], b3);
  EXPECT_EQ(all[0], b4);
  EXPECT_EQ(
      ids(get(store_, kApp + "/streaming/batches", {{"status", "COMPLETED"}}).body, "batchId"),
      (std::vector<int>{2000, 1000}));
  EXPECT_EQ(get(store_, kApp + "/streaming/batches", {{"status", "processing"}}).body,
            Json::array({b3}));
  EXPECT_EQ(get(store_, kApp + "/streaming/batches", {{"status", "QUEUED"}}).body,
            Json::array({b4}));
  EXPECT_EQ(get(store_, kApp + "/streaming/batches", {{"status", "RUNNING"}}).status, 400);
  EXPECT_EQ(get(store_, kApp + "/streaming/batches/1000").body, b1);
  EXPECT_EQ(get(store_, kApp + "/streaming/batches/4000/").body, b4);
  expectNotFound(store_, kApp + "/streaming/batches/5000", "unknown batch: 5000");
  expectNotFound(store_, kApp + "/streaming/batches/x", "unknown batch: x");
}

TEST_F(RestApi, OutputOperationsWithTheirJobs) {
  const Json op0 = Json::parse(R"({
    "outputOpId": 0, "name": "foreachRDD@0", "description": "foreachRDD@0",
    "startTime": "1970-01-01T00:00:01.010GMT", "endTime": "1970-01-01T00:00:01.060GMT",
    "duration": 50, "jobIds": [10, 11]})");
  const Json op1 = Json::parse(R"({
    "outputOpId": 1, "name": "foreachRDD@1", "description": "foreachRDD@1",
    "startTime": "1970-01-01T00:00:01.060GMT", "endTime": "1970-01-01T00:00:01.110GMT",
    "duration": 50, "failureReason": "op failed", "jobIds": [12]})");
  EXPECT_EQ(get(store_, kApp + "/streaming/batches/1000/operations").body, Json::array({op0, op1}));
  EXPECT_EQ(get(store_, kApp + "/streaming/batches/1000/operations/1").body, op1);
  // A running operation: no end, no duration, its job so far.
  EXPECT_EQ(get(store_, kApp + "/streaming/batches/3000/operations/0").body, Json::parse(R"({
    "outputOpId": 0, "name": "foreachRDD@0", "description": "foreachRDD@0",
    "startTime": "1970-01-01T00:00:03.003GMT", "jobIds": [14]})"));
  EXPECT_EQ(get(store_, kApp + "/streaming/batches/4000/operations").body, Json::array());
  expectNotFound(store_, kApp + "/streaming/batches/1000/operations/7",
                 "unknown output operation: 7");
  expectNotFound(store_, kApp + "/streaming/batches/999/operations", "unknown batch: 999");
  expectNotFound(store_, kApp + "/streaming/batches/1000/jobs",
                 "unknown path: " + kApp + "/streaming/batches/1000/jobs");
}

TEST_F(RestApi, SluiceStateAndCheckpoints) {
  EXPECT_EQ(get(store_, kApp + "/streaming/state").body, Json::parse(R"([{
    "streamId": 3, "name": "counts@3", "batchTime": 2000, "keys": 8, "bytes": 800,
    "history": [[1000, 5, 500], [2000, 8, 800]]}])"));
  EXPECT_EQ(get(store_, kApp + "/streaming/checkpoints").body, Json::parse(R"([
    {"batchTime": 1000, "duration": 12, "bytes": 4096, "full": true},
    {"batchTime": 2000, "duration": 7, "bytes": 512, "full": false}])"));
}

TEST_F(RestApi, UnknownPathsAreNotFound) {
  for (const std::string& path :
       {std::string("/"), std::string("/version"), kApp + "/nope", kApp + "/environment/x",
        kApp + "/streaming", kApp + "/streaming/nope", kApp + "/streaming/statistics/x",
        kApp + "/streaming/batches/1000/operations/0/x"}) {
    expectNotFound(store_, path, "unknown path: " + path);
  }
}

}  // namespace
