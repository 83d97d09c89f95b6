// The /metrics page: Prometheus's text exposition format 0.0.4, rendered from StatusStore
// snapshots. Counters and histograms of the streaming section count since the latest
// StreamingContext started (a new one resets them, which Prometheus reads as a counter reset).
#include <fmt/format.h>

#include <set>
#include <string>

#include "ui/rest_api.hpp"

namespace sluice::detail::ui {
namespace {

// A label value with backslash, double quote and line feed escaped, as the format requires.
std::string escapeLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string streamLabels(int stream_id, const std::string& name) {
  return fmt::format("{{stream_id=\"{}\",stream=\"{}\"}}", stream_id, escapeLabel(name));
}

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(const std::string& name, const std::string& labels, long long value) {
    out_ += fmt::format("{}{} {}\n", name, labels, value);
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    out_ += fmt::format("{}{} {}\n", name, labels, value);
  }
  void histogram(const char* name, const char* help, const Histogram& h) {
    family(name, "histogram", help);
    const auto& bounds = Histogram::boundsMs();
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < bounds.size(); ++i)
      sample(bucket, fmt::format("{{le=\"{}\"}}", bounds[i] / 1000.0), h.counts[i]);
    sample(bucket, "{le=\"+Inf\"}", h.count);
    sample(std::string(name) + "_sum", "", static_cast<double>(h.sum_ms) / 1000.0);
    sample(std::string(name) + "_count", "", h.count);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string prometheusText(const StatusStore& store) {
  const JobTotals jobs = store.jobTotals();
  // Before any StreamingContext, its metrics read zero.
  const StreamingData streaming = store.streaming().value_or(StreamingData{});
  Writer w;

  w.family("sluice_listener_dropped_events_total", "counter",
           "Listener bus events dropped because its queue was full.");
  w.sample("sluice_listener_dropped_events_total", "", store.droppedEvents());
  w.family("sluice_jobs_total", "counter", "Jobs ended, by outcome.");
  w.sample("sluice_jobs_total", "{status=\"succeeded\"}", jobs.succeeded);
  w.sample("sluice_jobs_total", "{status=\"failed\"}", jobs.failed);
  w.family("sluice_jobs_active", "gauge", "Jobs running.");
  w.sample("sluice_jobs_active", "", jobs.running);

  w.family("sluice_completed_batches_total", "counter", "Streaming batches completed.");
  w.sample("sluice_completed_batches_total", "", streaming.num_total_completed_batches);
  w.family("sluice_batches_active", "gauge", "Streaming batches queued or processing.");
  w.sample("sluice_batches_active", "", static_cast<long long>(streaming.numActiveBatches()));
  w.family("sluice_input_records_total", "counter",
           "Records received into started batches, per input stream.");
  std::set<int> streams;
  for (const auto& [id, name] : streaming.input_streams) streams.insert(id);
  for (const auto& [id, records] : streaming.received_records_by_stream) streams.insert(id);
  for (int id : streams) {
    auto it = streaming.received_records_by_stream.find(id);
    w.sample("sluice_input_records_total", streamLabels(id, streaming.streamName(id)),
             it == streaming.received_records_by_stream.end() ? 0LL : it->second);
  }
  w.family("sluice_processed_records_total", "counter", "Records of completed batches.");
  w.sample("sluice_processed_records_total", "", streaming.num_processed_records);
  w.family("sluice_receivers_active", "gauge", "Receivers running.");
  long long active_receivers = 0;
  for (const auto& [id, receiver] : streaming.receivers) active_receivers += receiver.active;
  w.sample("sluice_receivers_active", "", active_receivers);

  w.histogram("sluice_batch_processing_seconds",
              "Processing time of each completed batch: its first job's start to its last's end.",
              streaming.processing_time);
  w.histogram("sluice_batch_scheduling_delay_seconds",
              "Scheduling delay of each completed batch: its submission to its first job's start.",
              streaming.scheduling_delay);
  w.histogram("sluice_batch_total_delay_seconds",
              "Total delay of each completed batch: its submission to its last job's end.",
              streaming.total_delay);
  w.histogram("sluice_checkpoint_seconds", "Time to write each checkpoint.",
              streaming.checkpoint_duration);

  w.family("sluice_state_keys", "gauge", "Keys in a stateful stream's state after its last batch.");
  for (const auto& s : streaming.state) {
    if (!s.reports.empty())
      w.sample("sluice_state_keys", streamLabels(s.stream_id, s.name), s.reports.back().keys);
  }
  w.family("sluice_state_bytes", "gauge",
           "Estimated size in bytes of a stateful stream's state after its last batch.");
  for (const auto& s : streaming.state) {
    if (!s.reports.empty())
      w.sample("sluice_state_bytes", streamLabels(s.stream_id, s.name), s.reports.back().bytes);
  }
  return w.take();
}

}  // namespace sluice::detail::ui
