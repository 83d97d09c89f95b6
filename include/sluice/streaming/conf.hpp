// StreamingConf: Spark's spark.streaming.* settings that apply here, and Sluice's own
// sluice.streaming.* and sluice.checkpoint.* ones, parsed. A StreamingContext starts from the
// streaming settings of its Context's Conf; ssc.conf().set(key, value) changes one before
// start().
// Thread-safety: written by the thread that builds the graph, before start(); the batch and
// receiver threads read it without a lock afterwards, which is why set() refuses every change
// once the context has started (as Spark refuses changes to a running context's conf).
#pragma once

#include <cstddef>
#include <optional>
#include <sluice/streaming/time.hpp>
#include <string>
#include <string_view>

namespace sluice {

namespace detail {
class StreamingCore;
}

struct StreamingConf {
  Duration block_interval{200};  // spark.streaming.blockInterval
  std::optional<Duration>
      graceful_stop_timeout;     // spark.streaming.gracefulStopTimeout (10 x batch)
  double receiver_max_rate = 0;  // spark.streaming.receiver.maxRate (records/s; <= 0: none)
  // spark.streaming.backpressure.*: each receiver's rate follows what the job processes
  // (Spark's PID rate estimator), starting at initialRate (<= 0: unlimited), never above maxRate.
  bool backpressure = false;            // .enabled
  double backpressure_initial_rate = 0;  // .initialRate (records/s)
  double pid_proportional = 1.0;         // .pid.proportional
  double pid_integral = 0.2;             // .pid.integral
  double pid_derivative = 0.0;           // .pid.derived
  double pid_min_rate = 100;             // .pid.minRate (records/s, > 0)
  // sluice.streaming.redis.maxRatePerPartition: entries/s per Redis stream key of a direct Redis
  // stream (Spark's spark.streaming.kafka.maxRatePerPartition); <= 0: none
  double redis_max_rate_per_partition = 0;
  // spark.streaming.kafka.maxRatePerPartition: records/s per Kafka partition of a direct Kafka
  // stream; <= 0: none
  double kafka_max_rate_per_partition = 0;
  Duration receiver_restart_delay{2000};     // spark.streaming.receiverRestartDelay
  Duration file_min_remember{60000};         // spark.streaming.fileStream.minRememberDuration
  bool unpersist = true;                     // spark.streaming.unpersist
  bool stop_gracefully_on_shutdown = false;  // spark.streaming.stopGracefullyOnShutdown
  std::size_t max_line_bytes = 1 << 20;      // socket sources: longer lines are dropped and counted
  bool receiver_wal = false;                 // spark.streaming.receiver.writeAheadLog.enable
  // spark.streaming.receiver.writeAheadLog.rollingIntervalSecs
  Duration receiver_wal_rolling_interval{60000};
  // sluice.streaming.receiver.writeAheadLog.fsync: each block is fdatasync'ed before store()
  // returns (survives a machine crash); false leaves flushing to the OS (survives a process kill)
  bool receiver_wal_fsync = true;
  int checkpoints_retained = 3;  // sluice.checkpoint.retained: checkpoint files kept
  // sluice.streaming.stateBackend: where stateful streams keep their committed state, "memory"
  // or "rocksdb" (on local disk)
  std::string state_backend = "memory";
  // sluice.streaming.stateBackend.rocksdb.localDir: the databases' working directory (default:
  // under the checkpoint directory, so that checkpoints are hard links; else the temp directory)
  std::string state_backend_dir;

  // Sets a key by its name, e.g. set("spark.streaming.blockInterval", "100ms"); values are
  // parsed as by sluice::Conf (durations take Spark's suffixes us, ms, s, m or min, h, d; no
  // suffix: ms). Throws InvalidArgumentError for an unknown key, a bad value (the setting then
  // keeps its value) or spark.streaming.concurrentJobs other than 1, and IllegalStateError once
  // the StreamingContext has started.
  void set(const std::string& key, const std::string& value);

  // Whether set() takes `key`.
  static bool isStreamingKey(std::string_view key);

 private:
  friend class detail::StreamingCore;
  bool frozen_ = false;  // set by StreamingCore::start()
};

}  // namespace sluice
