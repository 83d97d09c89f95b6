#include <fmt/format.h>

#include <algorithm>
#include <sluice/log.hpp>
#include <sluice/streaming/receiver.hpp>

#include "streaming/rate_limiter.hpp"

namespace sluice::detail {

ReceiverSupervisor::ReceiverSupervisor(std::shared_ptr<StreamingCore> core, int stream_id,
                                       std::string name, std::function<void()> on_start,
                                       std::function<void()> on_stop)
    : core_(std::move(core)),
      stream_id_(stream_id),
      name_(std::move(name)),
      on_start_(std::move(on_start)),
      on_stop_(std::move(on_stop)),
      limiter_(std::make_unique<RateLimiter>(core_->clock(), core_->conf().receiver_max_rate)) {}

ReceiverSupervisor::~ReceiverSupervisor() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cancelRateWaits(true);
  cv_.notify_all();
  if (restart_thread_.joinable()) restart_thread_.join();
}

ReceiverInfo ReceiverSupervisor::info(bool active) const {
  ReceiverInfo i;
  i.stream_id = stream_id_;
  i.name = name_;
  i.active = active;
  return i;
}

void ReceiverSupervisor::cancelRateWaits(bool cancel) {
  rate_waits_cancelled_ = cancel;
  if (cancel) core_->clock().wakeWaiters();
}

void ReceiverSupervisor::start() {
  {
    std::lock_guard lock(mu_);
    started_ = true;
    stopped_ = false;
  }
  // The rate is read here: the settings are fixed once the context started. With backpressure
  // the receiver starts at initialRate (Spark's), never above maxRate.
  const StreamingConf& conf = core_->conf();
  double rate = conf.receiver_max_rate;
  if (conf.backpressure && conf.backpressure_initial_rate > 0) {
    rate = rate > 0 ? std::min(rate, conf.backpressure_initial_rate)
                    : conf.backpressure_initial_rate;
  }
  limiter_->setRate(rate);
  cancelRateWaits(false);
  on_start_();
  auto i = info(true);
  core_->postReceiverEvent(StreamingCore::ReceiverEvent::kStarted, i);
}

void ReceiverSupervisor::stop(const std::string& message, long long records_dropped,
                              bool kept_in_log) {
  std::thread restart;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    restart = std::move(restart_thread_);
  }
  cancelRateWaits(true);
  cv_.notify_all();
  if (restart.joinable()) {
    if (restart.get_id() == std::this_thread::get_id()) {
      restart.detach();  // stop() called from onStart() during a restart
    } else {
      restart.join();
    }
  }
  try {
    on_stop_();
  } catch (const std::exception& e) {
    log(LogLevel::kWarn, fmt::format("Receiver {} onStop failed: {}", name_, e.what()));
  }
  log(LogLevel::kInfo, fmt::format("Receiver {} stopped: {}", name_, message));
  if (records_dropped > 0) {
    log(kept_in_log ? LogLevel::kInfo : LogLevel::kWarn,
        fmt::format("Receiver {} stopped with {} records that no batch took: {}", name_,
                    records_dropped,
                    kept_in_log ? "they stay in the write-ahead log for a restart"
                                : "they are lost (spark.streaming.receiver.writeAheadLog.enable "
                                  "keeps them for a restart)"));
  }
  auto i = info(false);
  i.last_error_message = message;
  i.records_lost = kept_in_log ? 0 : records_dropped;
  core_->postReceiverEvent(StreamingCore::ReceiverEvent::kStopped, i);
}

void ReceiverSupervisor::restart(const std::string& message, std::optional<Duration> delay) {
  const Duration wait = delay.value_or(core_->conf().receiver_restart_delay);
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    log(LogLevel::kWarn,
        fmt::format("Restarting receiver {} with delay {} ms: {}", name_, wait.count(), message));
    restart_delay_ = wait;
    if (restarting_) {
      restart_again_ = true;  // the running restart loop goes round once more
    } else {
      restarting_ = true;
      // A finished earlier restart thread no longer needs the lock: safe to join here.
      if (restart_thread_.joinable()) restart_thread_.join();
      restart_thread_ = std::thread([this] { restartLoop(); });
    }
  }
  auto i = info(true);
  i.last_error_message = message;
  i.last_error_time_ms = core_->clock().nowMs();
  core_->postReceiverEvent(StreamingCore::ReceiverEvent::kError, i);
}

void ReceiverSupervisor::restartLoop() {
  while (true) {
    Duration wait;
    {
      std::lock_guard lock(mu_);
      restart_again_ = false;
      wait = restart_delay_;
    }
    cancelRateWaits(true);
    try {
      on_stop_();
    } catch (const std::exception& e) {
      log(LogLevel::kWarn, fmt::format("Receiver {} onStop failed: {}", name_, e.what()));
    }
    {
      // The delay is operational (how soon to retry), so it runs on real time; stop() cuts it
      // short.
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, wait, [&] { return stopped_; })) {
        restarting_ = false;
        return;
      }
    }
    cancelRateWaits(false);
    try {
      on_start_();
    } catch (const std::exception& e) {
      log(LogLevel::kError, fmt::format("Receiver {} failed to restart: {}", name_, e.what()));
    }
    std::lock_guard lock(mu_);
    if (!restart_again_ || stopped_) {
      restarting_ = false;
      return;
    }
  }
}

void ReceiverSupervisor::reportError(const std::string& message) {
  log(LogLevel::kWarn, fmt::format("Receiver {} reported an error: {}", name_, message));
  auto i = info(true);
  i.last_error_message = message;
  i.last_error_time_ms = core_->clock().nowMs();
  core_->postReceiverEvent(StreamingCore::ReceiverEvent::kError, i);
}

bool ReceiverSupervisor::isStarted() const {
  std::lock_guard lock(mu_);
  return started_ && !stopped_;
}

bool ReceiverSupervisor::isStopped() const {
  std::lock_guard lock(mu_);
  return stopped_ || !started_;
}

void ReceiverSupervisor::updateRate(double records_per_second) {
  if (!(records_per_second > 0)) return;
  const double max = core_->conf().receiver_max_rate;
  limiter_->setRate(max > 0 ? std::min(max, records_per_second) : records_per_second);
}

void ReceiverSupervisor::waitToStore() {
  limiter_->acquire([this] { return rate_waits_cancelled_.load(); });
}

BlockTimer::BlockTimer(std::shared_ptr<StreamingCore> core, std::function<void()> cut)
    : core_(std::move(core)), cut_(std::move(cut)) {}

BlockTimer::~BlockTimer() { stop(); }

void BlockTimer::start() {
  stopped_ = false;
  thread_ = std::thread([this] {
    const std::int64_t interval = core_->conf().block_interval.count();
    std::int64_t next = (core_->clock().nowMs() / interval + 1) * interval;
    while (core_->clock().waitUntil(next, [this] { return stopped_.load(); })) {
      cut_();
      next += interval;
    }
  });
}

void BlockTimer::stop() {
  stopped_ = true;
  core_->clock().wakeWaiters();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::detail
