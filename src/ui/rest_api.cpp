// Spark's monitoring REST API over a StatusStore snapshot: routing, and the application, job,
// stage and environment endpoints (the streaming ones are in rest_streaming.cpp). Field names,
// units and list order follow Spark's api.scala classes as its Jackson writer renders them: dates
// in Spark's GMT format, durations in ms, an undefined Option left out.
#include "ui/rest_api.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <vector>

#include "ui/rest_json.hpp"

namespace sluice::detail::ui {
namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// --- Application, jobs, stages, environment ---

Json applicationJson(const AppInfo& app) {
  Json attempt;
  // A live application: Spark's SparkUI reports no end yet (the epoch's last millisecond).
  attempt["startTime"] = sparkDate(app.start_time_ms);
  attempt["endTime"] = sparkDate(-1);
  attempt["lastUpdated"] = sparkDate(app.start_time_ms);
  attempt["duration"] = 0;
  attempt["sparkUser"] = app.spark_user.empty() ? "<unknown>" : app.spark_user;
  attempt["completed"] = false;
  attempt["appSparkVersion"] = app.version;
  attempt["startTimeEpoch"] = app.start_time_ms;
  attempt["endTimeEpoch"] = -1;
  attempt["lastUpdatedEpoch"] = app.start_time_ms;
  return Json{{"id", app.id}, {"name", app.name}, {"attempts", Json::array({attempt})}};
}

const char* statusName(JobStatus s) {
  switch (s) {
    case JobStatus::kRunning:
      return "RUNNING";
    case JobStatus::kSucceeded:
      return "SUCCEEDED";
    case JobStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

const char* statusName(StageStatus s) {
  switch (s) {
    case StageStatus::kActive:
      return "ACTIVE";
    case StageStatus::kComplete:
      return "COMPLETE";
    case StageStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

void putProperty(Json& out, const char* field, const std::map<std::string, std::string>& props,
                 const char* key) {
  if (auto it = props.find(key); it != props.end()) out[field] = it->second;
}

Json jobJson(const JobData& job) {
  const JobInfo& info = job.info;
  Json out;
  out["jobId"] = info.job_id;
  out["name"] = info.description;
  putProperty(out, "description", info.properties, "spark.job.description");
  out["submissionTime"] = sparkDate(info.submission_time_ms);
  if (info.completion_time_ms) out["completionTime"] = sparkDate(*info.completion_time_ms);
  out["stageIds"] = info.stage_ids;
  putProperty(out, "jobGroup", info.properties, "spark.jobGroup.id");
  out["jobTags"] = Json::array();
  out["status"] = statusName(job.status);
  out["numTasks"] = job.num_tasks;
  out["numActiveTasks"] = job.num_active_tasks;
  out["numCompletedTasks"] = job.num_completed_tasks;
  out["numSkippedTasks"] = 0;
  out["numFailedTasks"] = job.num_failed_tasks;
  out["numKilledTasks"] = job.num_killed_tasks;
  out["numCompletedIndices"] = job.num_completed_tasks;  // a task never runs twice here
  out["numActiveStages"] = job.num_active_stages;
  out["numCompletedStages"] = job.num_completed_stages;
  out["numSkippedStages"] = 0;
  out["numFailedStages"] = job.num_failed_stages;
  out["killedTasksSummary"] = Json::object();
  return out;
}

Json stageJson(const StageData& stage) {
  const StageInfo& info = stage.info;
  const TaskMetrics& m = info.metrics;
  Json out;
  out["status"] = statusName(stage.status);
  out["stageId"] = info.stage_id;
  out["attemptId"] = 0;
  out["numTasks"] = info.num_tasks;
  out["numActiveTasks"] = stage.num_active_tasks;
  out["numCompleteTasks"] = stage.num_complete_tasks;
  out["numFailedTasks"] = stage.num_failed_tasks;
  out["numKilledTasks"] = stage.num_killed_tasks;
  out["numCompletedIndices"] = stage.num_complete_tasks;
  out["submissionTime"] = sparkDate(info.submission_time_ms);
  if (stage.first_task_launched_time_ms)
    out["firstTaskLaunchedTime"] = sparkDate(*stage.first_task_launched_time_ms);
  if (info.completion_time_ms) out["completionTime"] = sparkDate(*info.completion_time_ms);
  if (info.failure_reason) out["failureReason"] = *info.failure_reason;
  out["executorRunTime"] = stage.executor_run_time_ms;
  out["memoryBytesSpilled"] = 0;
  out["diskBytesSpilled"] = 0;
  out["inputBytes"] = m.bytes_read;
  out["inputRecords"] = m.records_read;
  out["outputBytes"] = m.bytes_written;
  out["outputRecords"] = m.records_written;
  out["shuffleReadBytes"] = m.shuffle_bytes_read;
  out["shuffleReadRecords"] = m.shuffle_records_read;
  out["shuffleWriteBytes"] = m.shuffle_bytes_written;
  out["shuffleWriteRecords"] = m.shuffle_records_written;
  out["name"] = info.name;
  out["details"] = "";
  out["schedulingPool"] = "default";
  out["rddIds"] = Json::array();
  out["accumulatorUpdates"] = Json::array();
  out["killedTasksSummary"] = Json::object();
  out["resourceProfileId"] = 0;
  return out;
}

Response jobs(const StatusStore& store, const Request& request) {
  const auto& rest = request.rest;
  if (rest.size() == 1) {
    auto filter = statusFilter(request.query, {"RUNNING", "SUCCEEDED", "FAILED", "UNKNOWN"});
    if (filter.bad) return *filter.bad;
    Json out = Json::array();
    auto all = store.jobs();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {  // newest first, as Spark
      if (filter.accepts(statusName(it->status))) out.push_back(jobJson(*it));
    }
    return jsonResponse(out);
  }
  if (rest.size() != 2) return unknownPath(request);
  const auto id = parseId<int>(rest[1]);
  auto job = id ? store.job(*id) : std::nullopt;
  if (!job) return notFound("unknown job: " + rest[1]);
  return jsonResponse(jobJson(*job));
}

Response stages(const StatusStore& store, const Request& request) {
  const auto& rest = request.rest;
  if (rest.size() == 1) {
    auto filter =
        statusFilter(request.query, {"ACTIVE", "COMPLETE", "PENDING", "FAILED", "SKIPPED"});
    if (filter.bad) return *filter.bad;
    Json out = Json::array();
    auto all = store.stages();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {  // newest first, as Spark
      if (filter.accepts(statusName(it->status))) out.push_back(stageJson(*it));
    }
    return jsonResponse(out);
  }
  if (rest.size() > 3) return unknownPath(request);
  const auto id = parseId<int>(rest[1]);
  auto stage = id ? store.stage(*id) : std::nullopt;
  if (!stage) return notFound("unknown stage: " + rest[1]);
  // stages/{id} lists the stage's attempts; stages/{id}/{attemptId} is one of them, and a stage
  // runs once here.
  if (rest.size() == 2) return jsonResponse(Json::array({stageJson(*stage)}));
  if (parseId<int>(rest[2]) != 0) {
    return notFound(fmt::format("unknown attempt for stage {}.  Found attempts: [0]", rest[1]));
  }
  return jsonResponse(stageJson(*stage));
}

Response environment(const AppInfo& app) {
  auto props = app.spark_properties;
  std::sort(props.begin(), props.end());
  Json pairs = Json::array();
  for (const auto& [key, value] : props) pairs.push_back(Json::array({key, value}));
  Json out;
  out["sparkProperties"] = pairs;
  out["hadoopProperties"] = Json::array();
  out["systemProperties"] = Json::array();
  out["metricsProperties"] = Json::array();
  out["classpathEntries"] = Json::array();
  out["resourceProfiles"] = Json::array();
  return jsonResponse(out);
}

}  // namespace

std::string sparkDate(std::int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{ms}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}GMT", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

Response jsonResponse(const Json& body) {
  // Indented as Spark's writer does.
  return Response{200, "application/json", body.dump(2)};
}

Response errorResponse(int status, const std::string& message) {
  return Response{status, "application/json", Json{{"message", message}}.dump(2)};
}

StatusFilter statusFilter(const std::map<std::string, std::string>& query,
                          const std::vector<std::string>& names) {
  auto it = query.find("status");
  if (it == query.end()) return {};
  std::string value = upper(it->second);
  if (std::find(names.begin(), names.end(), value) != names.end()) return {value, std::nullopt};
  std::string expected;
  for (const auto& name : names) expected += (expected.empty() ? "" : ", ") + name;
  return {std::nullopt,
          errorResponse(400, fmt::format("bad value for parameter \"status\": \"{}\"; expected "
                                         "one of {}",
                                         it->second, expected))};
}

Response restGet(const StatusStore& store, std::string_view path,
                 const std::map<std::string, std::string>& query) {
  std::vector<std::string> segments;
  for (std::size_t begin = 0; begin <= path.size();) {
    std::size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    if (end > begin) segments.emplace_back(path.substr(begin, end - begin));
    begin = end + 1;
  }
  const AppInfo& app = store.app();
  Request request{std::string(path), {}, query};
  if (segments.empty() || segments[0] != "applications") return unknownPath(request);
  if (segments.size() == 1) {
    // This process's application is the one running; none has completed.
    auto filter = statusFilter(query, {"RUNNING", "COMPLETED"});
    if (filter.bad) return *filter.bad;
    Json out = Json::array();
    if (filter.accepts("RUNNING")) out.push_back(applicationJson(app));
    return jsonResponse(out);
  }
  if (segments[1] != app.id) return notFound("no such app: " + segments[1]);
  if (segments.size() == 2) return jsonResponse(applicationJson(app));
  request.rest.assign(segments.begin() + 2, segments.end());
  const std::string& area = request.rest[0];
  if (area == "jobs") return jobs(store, request);
  if (area == "stages") return stages(store, request);
  if (area == "environment" && request.rest.size() == 1) return environment(app);
  if (area == "streaming") return streamingGet(store, request);
  return unknownPath(request);
}

}  // namespace sluice::detail::ui
