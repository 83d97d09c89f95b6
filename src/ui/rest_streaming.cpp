// The streaming endpoints of Spark's REST API (/applications/<id>/streaming/...), computed as
// Spark's StreamingJobProgressListener and its resources compute them, and two Sluice additions:
// streaming/state (each stateful stream's keys and bytes, latest and per retained batch) and
// streaming/checkpoints (the retained checkpoints written: batch time, duration, bytes, full).
#include <algorithm>
#include <numeric>
#include <set>

#include "ui/rest_json.hpp"

namespace sluice::detail::ui {
namespace {

const char* statusName(BatchStatus s) {
  switch (s) {
    case BatchStatus::kQueued:
      return "QUEUED";
    case BatchStatus::kProcessing:
      return "PROCESSING";
    case BatchStatus::kCompleted:
      return "COMPLETED";
  }
  return "UNKNOWN";
}

template <class T>
void putAverage(Json& out, const char* field, const std::vector<T>& values) {
  if (values.empty()) return;  // Spark's None
  // Spark averages delays in whole milliseconds (Long division) and rates as doubles.
  out[field] = std::accumulate(values.begin(), values.end(), T{}) / static_cast<T>(values.size());
}

// Records per second of `batch` (all streams, or one), as Spark's rates.
double recordRate(const StreamingData& data, const BatchInfo& batch, std::optional<int> stream) {
  long long records = batch.numRecords();
  if (stream) {
    auto it = batch.stream_id_to_num_records.find(*stream);
    records = it == batch.stream_id_to_num_records.end() ? 0 : it->second;
  }
  return static_cast<double>(records) * 1000.0 / static_cast<double>(data.batch_duration_ms);
}

Json statistics(const StreamingData& data) {
  // Spark averages over every retained batch, queued and processing ones included.
  std::vector<double> rates;
  std::vector<std::int64_t> scheduling, processing, total;
  for (const auto& batch : data.batches) {
    if (data.batch_duration_ms > 0) rates.push_back(recordRate(data, batch.info, std::nullopt));
    if (auto d = batch.info.schedulingDelay()) scheduling.push_back(*d);
    if (auto d = batch.info.processingDelay()) processing.push_back(*d);
    if (auto d = batch.info.totalDelay()) total.push_back(*d);
  }
  const auto active_receivers = std::count_if(data.receivers.begin(), data.receivers.end(),
                                              [](const auto& r) { return r.second.active; });
  Json out;
  out["startTime"] = sparkDate(data.start_time_ms);
  out["batchDuration"] = data.batch_duration_ms;
  out["numReceivers"] = data.receivers.size();
  out["numActiveReceivers"] = active_receivers;
  out["numInactiveReceivers"] = static_cast<long long>(data.receivers.size()) - active_receivers;
  out["numTotalCompletedBatches"] = data.num_total_completed_batches;
  out["numRetainedCompletedBatches"] = data.numRetainedCompletedBatches();
  out["numActiveBatches"] = data.numActiveBatches();
  out["numProcessedRecords"] = data.num_processed_records;
  out["numReceivedRecords"] = data.num_received_records;
  putAverage(out, "avgInputRate", rates);
  putAverage(out, "avgSchedulingDelay", scheduling);
  putAverage(out, "avgProcessingTime", processing);
  putAverage(out, "avgTotalDelay", total);
  return out;
}

// Spark lists every input stream here, with what its receiver (if any) last reported.
Json receiverJson(const StreamingData& data, int stream_id) {
  const auto receiver = data.receivers.find(stream_id);
  const ReceiverInfo* info = receiver == data.receivers.end() ? nullptr : &receiver->second;
  Json out;
  out["streamId"] = stream_id;
  out["streamName"] = info && !info->name.empty() ? info->name : data.streamName(stream_id);
  if (info) {
    out["isActive"] = info->active;
    // A local application: its receivers run in the driver.
    out["executorId"] = "driver";
    out["executorHost"] = "localhost";
    if (!info->last_error_message.empty()) out["lastErrorMessage"] = info->last_error_message;
    if (!info->last_error.empty()) out["lastError"] = info->last_error;
    if (info->last_error_time_ms >= 0) out["lastErrorTime"] = sparkDate(info->last_error_time_ms);
  }
  std::vector<double> rates;
  Json event_rates = Json::array();
  if (data.batch_duration_ms > 0) {
    for (const auto& batch : data.batches) {
      rates.push_back(recordRate(data, batch.info, stream_id));
      event_rates.push_back(Json::array({batch.info.batch_time.milliseconds(), rates.back()}));
    }
  }
  putAverage(out, "avgEventRate", rates);
  out["eventRates"] = event_rates;
  return out;
}

Response receivers(const StreamingData& data, const Request& request) {
  std::set<int> ids;
  for (const auto& [id, name] : data.input_streams) ids.insert(id);
  for (const auto& [id, info] : data.receivers) ids.insert(id);
  if (request.rest.size() == 2) {
    Json out = Json::array();
    for (int id : ids) out.push_back(receiverJson(data, id));
    return jsonResponse(out);
  }
  if (request.rest.size() != 3) return unknownPath(request);
  const std::string& key = request.rest[2];
  const auto id = parseId<int>(key);
  if (!id || !ids.contains(*id)) return notFound("unknown receiver: " + key);
  return jsonResponse(receiverJson(data, *id));
}

Json batchJson(const StreamingData& data, const BatchData& batch) {
  const BatchInfo& info = batch.info;
  int active = 0, completed = 0, failed = 0;
  std::optional<std::string> first_failure;
  for (const auto& [id, op] : info.output_operation_infos) {
    if (!op.end_time_ms) ++active;
    if (op.failure_reason) {
      ++failed;
      if (!first_failure) first_failure = op.failure_reason;
    } else if (op.end_time_ms) {
      ++completed;
    }
  }
  Json out;
  out["batchId"] = info.batch_time.milliseconds();
  out["batchTime"] = sparkDate(info.batch_time.milliseconds());
  out["status"] = statusName(batch.status);
  out["batchDuration"] = data.batch_duration_ms;
  out["inputSize"] = info.numRecords();
  if (auto d = info.schedulingDelay()) out["schedulingDelay"] = *d;
  if (auto d = info.processingDelay()) out["processingTime"] = *d;
  if (auto d = info.totalDelay()) out["totalDelay"] = *d;
  out["numActiveOutputOps"] = active;
  out["numCompletedOutputOps"] = completed;
  out["numFailedOutputOps"] = failed;
  out["numTotalOutputOps"] = info.output_operation_infos.size();
  if (first_failure) out["firstFailureReason"] = *first_failure;
  return out;
}

Json operationJson(const BatchData& batch, const OutputOperationInfo& op) {
  Json out;
  out["outputOpId"] = op.id;
  out["name"] = op.name;
  out["description"] = op.name;  // Sluice has no call sites to describe an operation with
  if (op.start_time_ms) out["startTime"] = sparkDate(*op.start_time_ms);
  if (op.end_time_ms) out["endTime"] = sparkDate(*op.end_time_ms);
  if (op.start_time_ms && op.end_time_ms) out["duration"] = *op.end_time_ms - *op.start_time_ms;
  if (op.failure_reason) out["failureReason"] = *op.failure_reason;
  auto jobs = batch.job_ids.find(op.id);
  out["jobIds"] = jobs == batch.job_ids.end() ? std::vector<int>{} : jobs->second;
  return out;
}

Response batches(const StreamingData& data, const Request& request) {
  const auto& rest = request.rest;
  if (rest.size() == 2) {
    auto filter = statusFilter(request.query, {"COMPLETED", "PROCESSING", "QUEUED"});
    if (filter.bad) return *filter.bad;
    Json out = Json::array();
    for (auto it = data.batches.rbegin(); it != data.batches.rend(); ++it) {  // newest first
      if (filter.accepts(statusName(it->status))) out.push_back(batchJson(data, *it));
    }
    return jsonResponse(out);
  }
  if (rest.size() > 5 || (rest.size() >= 4 && rest[3] != "operations")) {
    return unknownPath(request);
  }
  const auto id = parseId<std::int64_t>(rest[2]);
  auto batch = std::find_if(data.batches.begin(), data.batches.end(), [&](const BatchData& b) {
    return id && b.info.batch_time.milliseconds() == *id;
  });
  if (batch == data.batches.end()) return notFound("unknown batch: " + rest[2]);
  if (rest.size() == 3) return jsonResponse(batchJson(data, *batch));
  const auto& ops = batch->info.output_operation_infos;
  if (rest.size() == 4) {
    Json out = Json::array();
    for (const auto& [op_id, op] : ops) out.push_back(operationJson(*batch, op));
    return jsonResponse(out);
  }
  const auto op_id = parseId<int>(rest[4]);
  auto op = op_id ? ops.find(*op_id) : ops.end();
  if (op == ops.end()) return notFound("unknown output operation: " + rest[4]);
  return jsonResponse(operationJson(*batch, op->second));
}

Response state(const StreamingData& data) {
  Json out = Json::array();
  for (const auto& stream : data.state) {
    Json entry;
    entry["streamId"] = stream.stream_id;
    entry["name"] = stream.name;
    if (!stream.reports.empty()) {
      const StateReport& latest = stream.reports.back();
      entry["batchTime"] = latest.batch_time.milliseconds();
      entry["keys"] = latest.keys;
      entry["bytes"] = latest.bytes;
    }
    Json history = Json::array();
    for (const auto& r : stream.reports)
      history.push_back(Json::array({r.batch_time.milliseconds(), r.keys, r.bytes}));
    entry["history"] = history;
    out.push_back(entry);
  }
  return jsonResponse(out);
}

Response checkpoints(const StreamingData& data) {
  Json out = Json::array();
  for (const auto& c : data.checkpoints) {
    Json entry;
    entry["batchTime"] = c.batch_time.milliseconds();
    entry["duration"] = c.duration_ms;
    entry["bytes"] = c.bytes;
    entry["full"] = c.full;
    out.push_back(entry);
  }
  return jsonResponse(out);
}

}  // namespace

Response streamingGet(const StatusStore& store, const Request& request) {
  const auto data = store.streaming();
  if (!data) return notFound("no streaming listener attached to " + store.app().name);
  const auto& rest = request.rest;
  if (rest.size() < 2) return unknownPath(request);
  const std::string& area = rest[1];
  if (area == "statistics" && rest.size() == 2) return jsonResponse(statistics(*data));
  if (area == "receivers") return receivers(*data, request);
  if (area == "batches") return batches(*data, request);
  if (area == "state" && rest.size() == 2) return state(*data);
  if (area == "checkpoints" && rest.size() == 2) return checkpoints(*data);
  return unknownPath(request);
}

}  // namespace sluice::detail::ui
