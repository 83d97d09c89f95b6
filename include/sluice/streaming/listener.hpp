// StreamingListener: Spark's streaming events. Register with
// StreamingContext::addStreamingListener. Events are delivered by the Context's listener bus (see
// <sluice/listener.hpp>): on the bus thread, one at a time, in the order they were posted, never
// on the batch or receiver threads; a full queue drops events (counted). StreamingContext::stop
// returns after the context's events have been delivered. A throwing callback is logged and
// ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sluice/streaming/time.hpp>
#include <string>

namespace sluice {

// The local properties (JobInfo::properties) that tie a streaming batch's jobs to the batch, as
// in Spark: its time in milliseconds and the id of the output operation that ran the job.
inline constexpr const char* kBatchTimeProperty = "spark.streaming.internal.batchTime";
inline constexpr const char* kOutputOpIdProperty = "spark.streaming.internal.outputOpId";

struct OutputOperationInfo {
  Time batch_time;
  int id = 0;  // registration order of the output operation
  std::string name;
  std::optional<std::int64_t> start_time_ms;
  std::optional<std::int64_t> end_time_ms;
  std::optional<std::string> failure_reason;
};

struct BatchInfo {
  Time batch_time;
  std::map<int, long long> stream_id_to_num_records;
  std::int64_t submission_time_ms = 0;
  std::optional<std::int64_t> processing_start_time_ms;
  std::optional<std::int64_t> processing_end_time_ms;
  std::map<int, OutputOperationInfo> output_operation_infos;

  long long numRecords() const {
    long long n = 0;
    for (const auto& [id, records] : stream_id_to_num_records) n += records;
    return n;
  }
  // Time from submission until the first job started.
  std::optional<std::int64_t> schedulingDelay() const {
    if (!processing_start_time_ms) return std::nullopt;
    return *processing_start_time_ms - submission_time_ms;
  }
  // Time from the first job's start to the last job's end.
  std::optional<std::int64_t> processingDelay() const {
    if (!processing_start_time_ms || !processing_end_time_ms) return std::nullopt;
    return *processing_end_time_ms - *processing_start_time_ms;
  }
  std::optional<std::int64_t> totalDelay() const {
    auto s = schedulingDelay();
    auto p = processingDelay();
    if (!s || !p) return std::nullopt;
    return *s + *p;
  }
};

struct ReceiverInfo {
  int stream_id = 0;
  std::string name;
  bool active = false;
  std::string last_error_message;
  std::string last_error;
  std::int64_t last_error_time_ms = -1;  // on the context's clock; -1 without an error
  // In onReceiverStopped: records received but dropped unprocessed by a stop that was not
  // graceful while the write-ahead log was off (with it on they stay in the log for a restart).
  long long records_lost = 0;
};

class StreamingListener {
 public:
  virtual ~StreamingListener() = default;
  virtual void onStreamingStarted(std::int64_t /*time_ms*/) {}
  virtual void onReceiverStarted(const ReceiverInfo&) {}
  virtual void onReceiverError(const ReceiverInfo&) {}
  virtual void onReceiverStopped(const ReceiverInfo&) {}
  virtual void onBatchSubmitted(const BatchInfo&) {}
  virtual void onBatchStarted(const BatchInfo&) {}
  virtual void onBatchCompleted(const BatchInfo&) {}
  virtual void onOutputOperationStarted(const OutputOperationInfo&) {}
  virtual void onOutputOperationCompleted(const OutputOperationInfo&) {}
};

}  // namespace sluice
