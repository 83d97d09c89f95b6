#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <sluice/error.hpp>
#include <sluice/streaming/conf.hpp>
#include <utility>

#include "core/conf_parse.hpp"

namespace sluice {
namespace {

using Setter = void (*)(StreamingConf&, const std::string& key, const std::string& value);

template <auto kField>
void setDuration(StreamingConf& c, const std::string& key, const std::string& value) {
  c.*kField = detail::parseDuration(key, value);
}

template <auto kField>
void setBool(StreamingConf& c, const std::string& key, const std::string& value) {
  c.*kField = detail::parseBool(key, value);
}

template <auto kField>
void setNonNegative(StreamingConf& c, const std::string& key, const std::string& value) {
  const double v = detail::parseFiniteNumber(key, value);
  if (v < 0) throw InvalidArgumentError(fmt::format("{}: '{}' must not be negative", key, value));
  c.*kField = v;
}

// Every key StreamingConf takes, with how its value is parsed into the field: the one list, so
// that sluice::Conf accepts exactly these (through isStreamingKey and a trial set()).
constexpr std::array<std::pair<std::string_view, Setter>, 22> kSetters{{
    {"spark.streaming.blockInterval",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       const Duration interval = detail::parseDuration(key, value);
       if (interval.count() <= 0) {
         throw InvalidArgumentError(fmt::format("{}: '{}' must be positive", key, value));
       }
       c.block_interval = interval;
     }},
    {"spark.streaming.gracefulStopTimeout", setDuration<&StreamingConf::graceful_stop_timeout>},
    {"spark.streaming.receiver.maxRate",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       c.receiver_max_rate = detail::parseFiniteNumber(key, value);
     }},
    {"spark.streaming.backpressure.enabled", setBool<&StreamingConf::backpressure>},
    {"spark.streaming.backpressure.initialRate",
     setNonNegative<&StreamingConf::backpressure_initial_rate>},
    {"spark.streaming.backpressure.pid.proportional",
     setNonNegative<&StreamingConf::pid_proportional>},
    {"spark.streaming.backpressure.pid.integral", setNonNegative<&StreamingConf::pid_integral>},
    {"spark.streaming.backpressure.pid.derived", setNonNegative<&StreamingConf::pid_derivative>},
    {"spark.streaming.backpressure.pid.minRate",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       const double v = detail::parseFiniteNumber(key, value);
       if (v <= 0) throw InvalidArgumentError(fmt::format("{}: '{}' must be positive", key, value));
       c.pid_min_rate = v;
     }},
    {"spark.streaming.kafka.maxRatePerPartition",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       c.kafka_max_rate_per_partition = detail::parseFiniteNumber(key, value);
     }},
    {"sluice.streaming.redis.maxRatePerPartition",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       c.redis_max_rate_per_partition = detail::parseFiniteNumber(key, value);
     }},
    {"spark.streaming.receiverRestartDelay", setDuration<&StreamingConf::receiver_restart_delay>},
    {"spark.streaming.fileStream.minRememberDuration",
     setDuration<&StreamingConf::file_min_remember>},
    {"spark.streaming.unpersist", setBool<&StreamingConf::unpersist>},
    {"spark.streaming.stopGracefullyOnShutdown",
     setBool<&StreamingConf::stop_gracefully_on_shutdown>},
    {"spark.streaming.receiver.writeAheadLog.enable", setBool<&StreamingConf::receiver_wal>},
    {"spark.streaming.receiver.writeAheadLog.rollingIntervalSecs",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       // Bounded so that the interval in milliseconds cannot overflow.
       c.receiver_wal_rolling_interval =
           Duration(detail::parseInteger(key, value, 1, std::int64_t{1} << 40) * 1000);
     }},
    {"sluice.streaming.receiver.writeAheadLog.fsync", setBool<&StreamingConf::receiver_wal_fsync>},
    {"sluice.checkpoint.retained",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       c.checkpoints_retained =
           static_cast<int>(detail::parseInteger(key, value, 1, std::numeric_limits<int>::max()));
     }},
    {"sluice.streaming.stateBackend",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       if (value != "memory" && value != "rocksdb") {
         throw InvalidArgumentError(
             fmt::format("{}: '{}' is not a state backend (memory or rocksdb)", key, value));
       }
       c.state_backend = value;
     }},
    {"sluice.streaming.stateBackend.rocksdb.localDir",
     [](StreamingConf& c, const std::string& key, const std::string& value) {
       if (value.empty()) throw InvalidArgumentError(key + " must not be empty");
       c.state_backend_dir = value;
     }},
    {"spark.streaming.concurrentJobs",
     [](StreamingConf&, const std::string& key, const std::string& value) {
       if (value != "1") {
         throw InvalidArgumentError(fmt::format(
             "{}: '{}': only 1 is supported (jobs of a batch run one at a time in registration "
             "order)",
             key, value));
       }
     }},
}};

const std::pair<std::string_view, Setter>* findSetter(std::string_view key) {
  const auto* it = std::find_if(kSetters.begin(), kSetters.end(),
                                [&](const auto& entry) { return entry.first == key; });
  return it == kSetters.end() ? nullptr : it;
}

}  // namespace

void StreamingConf::set(const std::string& key, const std::string& value) {
  const auto* setter = findSetter(key);
  if (!setter) throw detail::unknownKeyError(key, value);
  if (frozen_) {
    throw IllegalStateError(fmt::format(
        "Cannot set {} to '{}': the StreamingContext has started; set it before start()", key,
        value));
  }
  setter->second(*this, key, value);
}

bool StreamingConf::isStreamingKey(std::string_view key) { return findSetter(key) != nullptr; }

}  // namespace sluice
