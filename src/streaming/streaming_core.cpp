#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/streaming/core.hpp>
#include <sluice/streaming/state_backend.hpp>
#include <sluice/streaming/state_store.hpp>
#include <unordered_set>

#include "core/crash_point.hpp"
#include "core/listener_bus.hpp"
#include "io/file_system.hpp"
#include "streaming/checkpointer.hpp"
#include "streaming/rate_estimator.hpp"

namespace sluice {
namespace {

std::atomic<detail::StreamingCore*> g_active{nullptr};
constexpr std::chrono::seconds kListenerDrainTimeout{30};

template <class Info>
void postStreamingEvent(detail::Runtime& runtime, const void* source,
                        detail::StreamingEvent::Kind kind, const Info& info) {
  auto& bus = runtime.listenerBus();
  if (!bus.hasListeners()) return;
  detail::StreamingEvent event;
  event.source = source;
  event.kind = kind;
  event.info = info;
  bus.post(std::move(event));
}

}  // namespace

namespace detail {

DStreamBase::DStreamBase(std::shared_ptr<StreamingCore> core, Duration slide,
                         std::vector<std::shared_ptr<DStreamBase>> parents)
    : core_(std::move(core)), slide_(slide), parents_(std::move(parents)) {
  if (slide_.count() <= 0) throw InvalidArgumentError("slide duration must be positive");
  id_ = core_->registerStream();
}

void DStreamBase::setStateStore(std::shared_ptr<StateStoreBase> store,
                                StateCheckpoint default_interval) {
  store_ = std::move(store);
  default_checkpoint_ = default_interval;
}

std::optional<Duration> DStreamBase::effectiveCheckpointInterval() const {
  if (checkpoint_interval_ || !store_) return checkpoint_interval_;
  if (default_checkpoint_ == StateCheckpoint::kTenBatches) return 10 * slide_;
  const std::int64_t s = slide_.count();
  return Duration(s * ((10000 + s - 1) / s));
}

void DStreamBase::initialize(Time zero_time, Duration min_remember) {
  if (initialized_) return;
  for (auto& p : parents_) p->initialize(zero_time, min_remember);
  zero_time_ = zero_time;
  remember_ = std::max({remember_, slide_, min_remember});
  // A restart replays the input of the batches since a stream's last data checkpoint, so the
  // inputs must remember them.
  const auto interval =
      core_->checkpointDir().empty() ? checkpoint_interval_ : effectiveCheckpointInterval();
  if (interval) remember_ = std::max(remember_, 2 * *interval);
  initialized_ = true;
}

void DStreamBase::rememberAtLeast(Duration d) {
  remember_ = std::max(remember_, d);
  for (auto& p : parents_) p->rememberAtLeast(remember_ + parentRememberExtra());
}

StreamingCore::StreamingCore(Context& context, Duration batch_duration,
                             std::shared_ptr<Clock> clock)
    : context_(context),
      runtime_(context.runtime()),
      batch_duration_(batch_duration),
      clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()),
      fs_(FileSystem::local()) {
  if (batch_duration_.count() <= 0) {
    throw InvalidArgumentError("Batch duration for StreamingContext must be positive");
  }
  // Spark's streaming context reads its settings from the SparkContext's conf.
  for (const auto& [key, value] : context.getConf().getAll()) {
    if (StreamingConf::isStreamingKey(key)) conf_.set(key, value);
  }
}

std::vector<std::pair<std::string, DStreamBase*>> StreamingCore::statefulStreams() const {
  std::vector<DStreamBase*> pending;
  {
    std::lock_guard lock(mu_);
    for (auto& output : outputs_) pending.push_back(&output->stream());
  }
  std::unordered_set<DStreamBase*> seen;
  std::vector<DStreamBase*> found;
  while (!pending.empty()) {
    DStreamBase* s = pending.back();
    pending.pop_back();
    if (!seen.insert(s).second) continue;
    if (s->stateStore()) found.push_back(s);
    for (auto& p : s->parents()) pending.push_back(p.get());
  }
  std::sort(found.begin(), found.end(),
            [](const DStreamBase* a, const DStreamBase* b) { return a->id() < b->id(); });
  std::vector<std::pair<std::string, DStreamBase*>> out;
  for (DStreamBase* s : found) {
    out.emplace_back(s->uid().value_or(fmt::format("{}@{}", s->stateStore()->kind(), s->id())), s);
  }
  return out;
}

std::vector<std::pair<std::string, InputBase*>> StreamingCore::checkpointedInputs() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, InputBase*>> out;
  for (auto& [input, node] : inputs_) {
    out.emplace_back(node->uid().value_or(fmt::format("input@{}", node->id())), input.get());
  }
  return out;
}

namespace {

std::vector<Checkpointer::Stateful> statefulEntries(
    const std::vector<std::pair<std::string, DStreamBase*>>& streams, std::optional<Time> t) {
  std::vector<Checkpointer::Stateful> out;
  for (auto& [identity, s] : streams) {
    bool due = !t.has_value();
    if (t) {
      const auto interval = s->effectiveCheckpointInterval();
      due = interval && (*t - s->zeroTime()).count() % interval->count() == 0;
    }
    out.push_back({identity, s->stateStore().get(), due, s->uid().has_value()});
  }
  return out;
}

std::vector<Checkpointer::Input> inputEntries(
    const std::vector<std::pair<std::string, InputBase*>>& inputs) {
  std::vector<Checkpointer::Input> out;
  // Inputs are named by a uid when their identity is not the default "input@<id>".
  for (auto& [identity, input] : inputs) {
    out.push_back({identity, input, identity.rfind("input@", 0) != 0});
  }
  return out;
}

void checkUniqueIdentities(const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (const auto& name : names) {
    if (!seen.insert(name).second) {
      throw InvalidArgumentError("Two streams of the graph have the uid '" + name +
                                 "'; uids must be unique");
    }
  }
}

}  // namespace

bool StreamingCore::restoreFromCheckpoint() {
  std::unique_lock lock(mu_);
  if (state_ != StreamingContextState::kInitialized) {
    throw IllegalStateError("A StreamingContext can only be restored before it starts");
  }
  if (checkpoint_dir_.empty()) {
    throw IllegalStateError("No checkpoint directory: call checkpoint(dir) first");
  }
  lock.unlock();
  auto checkpointer = makeCheckpointer();
  const auto stateful = statefulStreams();
  openStateBackends(stateful);
  const auto inputs = checkpointedInputs();
  auto meta = checkpointer->restore(batch_duration_.count(),
                                    statefulEntries(stateful, std::nullopt), inputEntries(inputs));
  if (!meta) return false;
  lock.lock();
  zero_time_ = Time(meta->zero_ms);
  restored_time_ = Time(meta->time_ms);
  checkpointer_ = std::move(checkpointer);
  return true;
}

void StreamingCore::openStateBackends(
    const std::vector<std::pair<std::string, DStreamBase*>>& stateful) {
  if (conf_.state_backend != "rocksdb") return;
  std::string dir = conf_.state_backend_dir;
  if (dir.empty()) {
    dir = checkpoint_dir_.empty()
              ? (std::filesystem::temp_directory_path() / "sluice-state").string()
              : checkpoint_dir_ + "/rocksdb-working";
  }
  for (auto& [identity, stream] : stateful) {
    StateStoreBase& store = *stream->stateStore();
    if (store.backend() != nullptr) continue;
    store.setBackend(openRocksDbBackend(dir, identity, store.numPartitions(), fs_));
  }
}

std::unique_ptr<Checkpointer> StreamingCore::makeCheckpointer() {
  auto on_error = [this](std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      detail::log(LogLevel::kError, fmt::format("Error writing a checkpoint: {}", e.what()));
    } catch (...) {
      detail::log(LogLevel::kError, "Error writing a checkpoint");
    }
    recordError(error);
  };
  auto on_retained = [this](Time oldest) {
    for (auto& [identity, input] : checkpointedInputs()) input->checkpointsKeptFrom(oldest);
  };
  auto on_written = [this](const Checkpointer::Written& w) {
    CheckpointReport report;
    report.batch_time = w.time;
    report.duration_ms = w.duration_ms;
    report.bytes = static_cast<long long>(w.bytes);
    report.full = w.full;
    postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kCheckpointWritten, report);
  };
  return std::make_unique<Checkpointer>(fs_, checkpoint_dir_, conf_.checkpoints_retained,
                                        std::move(on_error), std::move(on_retained), clock_,
                                        std::move(on_written));
}

void StreamingCore::writeCheckpoint(Time t, bool all_state) {
  if (!checkpointer_) return;
  const auto& stateful = stateful_;
  const auto inputs = checkpointedInputs();
  CheckpointMeta meta;
  meta.batch_ms = batch_duration_.count();
  meta.zero_ms = zero_time_.milliseconds();
  meta.time_ms = t.milliseconds();
  for (auto& [identity, s] : stateful) meta.stateful.push_back(identity);
  for (auto& [identity, in] : inputs) meta.inputs.push_back(identity);
  checkpointer_->write(meta, statefulEntries(stateful, all_state ? std::nullopt : std::optional(t)),
                       inputEntries(inputs));
}

void StreamingCore::checkpointNow() {
  std::optional<Time> t;
  {
    std::lock_guard lock(mu_);
    t = last_completed_;
  }
  if (t) writeCheckpoint(*t, true);
  flushCheckpoints();
}

void StreamingCore::flushCheckpoints() {
  if (checkpointer_) checkpointer_->flush();
}

StreamingCore::~StreamingCore() {
  if (thread_.joinable() || generator_.joinable()) {
    stopping_ = true;
    clock_->wakeWaiters();
    {
      std::lock_guard lock(mu_);
      queue_cv_.notify_all();
    }
    if (generator_.joinable()) generator_.join();
    if (thread_.joinable()) thread_.join();
  }
  checkpointer_.reset();  // its writer thread reports to this core: finish it first
  runtime_->listenerBus().removeStreamingListeners(this);
}

StreamingContextState StreamingCore::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void StreamingCore::checkCanBuild() const {
  std::lock_guard lock(mu_);
  if (state_ == StreamingContextState::kActive) {
    throw IllegalStateError(
        "Adding new inputs, transformations, and output operations after "
        "starting a context is not supported");
  }
  if (state_ == StreamingContextState::kStopped) {
    throw IllegalStateError(
        "Adding new inputs, transformations, and output operations after "
        "stopping a context is not supported");
  }
}

int StreamingCore::registerStream() {
  checkCanBuild();
  std::lock_guard lock(mu_);
  return next_stream_id_++;
}

void StreamingCore::registerInput(std::shared_ptr<InputBase> input,
                                  std::shared_ptr<DStreamBase> node) {
  checkCanBuild();
  std::lock_guard lock(mu_);
  inputs_.emplace_back(std::move(input), std::move(node));
}

void StreamingCore::registerOutput(std::shared_ptr<OutputBase> output) {
  checkCanBuild();
  std::lock_guard lock(mu_);
  outputs_.push_back(std::move(output));
}

void StreamingCore::setRemember(Duration d) {
  checkCanBuild();
  std::lock_guard lock(mu_);
  remember_ = d;
}

void StreamingCore::setFileSystem(std::shared_ptr<FileSystem> fs) {
  checkCanBuild();
  fs_ = std::move(fs);
}

void StreamingCore::setCheckpointDir(std::string dir) {
  std::lock_guard lock(mu_);
  checkpoint_dir_ = std::move(dir);
}

void StreamingCore::addListener(std::shared_ptr<StreamingListener> listener) {
  runtime_->listenerBus().addStreamingListener(this, std::move(listener));
}

void StreamingCore::removeListener(const std::shared_ptr<StreamingListener>& listener) {
  runtime_->listenerBus().removeStreamingListener(this, listener);
}

void StreamingCore::postReceiverEvent(ReceiverEvent kind, const ReceiverInfo& info) {
  using Kind = StreamingEvent::Kind;
  postStreamingEvent(*runtime_, this,
                     kind == ReceiverEvent::kStarted ? Kind::kReceiverStarted
                     : kind == ReceiverEvent::kError ? Kind::kReceiverError
                                                     : Kind::kReceiverStopped,
                     info);
}

void StreamingCore::reportInputRecords(Time t, int stream_id, long long records) {
  std::lock_guard lock(records_mu_);
  batch_records_[t][stream_id] += records;
}

Time StreamingCore::zeroTime() const {
  std::lock_guard lock(mu_);
  return zero_time_;
}

void StreamingCore::start() {
  auto stateful = statefulStreams();
  {
    std::vector<std::string> names;
    for (auto& [identity, stream] : stateful) names.push_back(identity);
    for (auto& [identity, input] : checkpointedInputs()) names.push_back(identity);
    checkUniqueIdentities(names);
  }
  std::unique_lock lock(mu_);
  if (state_ == StreamingContextState::kInitialized) {
    lock.unlock();
    openStateBackends(stateful);
    lock.lock();
  }
  stateful_ = std::move(stateful);
  if (state_ == StreamingContextState::kActive) {
    detail::log(LogLevel::kWarn, "StreamingContext has already been started");
    return;
  }
  if (state_ == StreamingContextState::kStopped) {
    throw IllegalStateError("StreamingContext has already been stopped");
  }
  if (outputs_.empty()) {
    state_ = StreamingContextState::kStopped;
    throw IllegalStateError("No output operations registered, so nothing to execute");
  }
  StreamingCore* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, this)) {
    throw IllegalStateError("Only one StreamingContext may be started in this process");
  }
  const std::int64_t batch = batch_duration_.count();
  Time first((clock_->nowMs() / batch + 1) * batch);
  if (restored_time_) {
    // Spark's JobGenerator.restart: the batches after the last completed one, those of the down
    // time included, are generated on the checkpoint's grid, then the timer goes on.
    first = *restored_time_ + batch_duration_;
  } else {
    zero_time_ = first - batch_duration_;
  }
  if (!checkpoint_dir_.empty()) {
    for (auto& [input, node] : inputs_) {
      if (auto why = input->checkpointUnsupported()) {
        state_ = StreamingContextState::kStopped;
        g_active.store(nullptr);
        throw IllegalStateError(*why);
      }
    }
    if (!checkpointer_) checkpointer_ = makeCheckpointer();
  }
  for (auto& output : outputs_) output->stream().initialize(zero_time_, remember_);
  for (auto& output : outputs_) {
    auto& s = output->stream();
    s.rememberAtLeast(s.rememberDuration());
  }
  state_ = StreamingContextState::kActive;
  conf_.frozen_ = true;
  auto inputs = inputs_;
  lock.unlock();
  try {
    for (auto& [input, node] : inputs) input->startInput();
  } catch (...) {
    stopInputs(false);
    std::lock_guard relock(mu_);
    state_ = StreamingContextState::kStopped;
    g_active.store(nullptr);
    throw;
  }
  started_at_ms_ = clock_->nowMs();
  generator_ = std::thread([this, first] { generateLoop(first); });
  thread_ = std::thread([this] { runLoop(); });
  StreamingEvent started;
  started.source = this;
  started.kind = StreamingEvent::Kind::kStreamingStarted;
  started.time_ms = clock_->nowMs();
  started.batch_duration_ms = batch_duration_.count();
  for (auto& [input, node] : inputs)
    started.input_streams.emplace_back(input->streamId(), input->inputName());
  runtime_->listenerBus().post(std::move(started));
}

void StreamingCore::stopInputs(bool graceful) {
  std::vector<std::pair<std::shared_ptr<InputBase>, std::shared_ptr<DStreamBase>>> inputs;
  {
    std::lock_guard lock(mu_);
    inputs = inputs_;
  }
  for (auto& [input, node] : inputs) {
    try {
      input->stopInput(graceful);
    } catch (const std::exception& e) {
      detail::log(LogLevel::kWarn,
                  fmt::format("Error stopping {}: {}", input->inputName(), e.what()));
    }
  }
}

bool StreamingCore::inputsHavePendingData() const {
  std::vector<std::pair<std::shared_ptr<InputBase>, std::shared_ptr<DStreamBase>>> inputs;
  {
    std::lock_guard lock(mu_);  // not held while inputs take their own locks
    inputs = inputs_;
  }
  return std::any_of(inputs.begin(), inputs.end(),
                     [](const auto& in) { return in.first->hasPendingData(); });
}

void StreamingCore::stop(bool gracefully) {
  {
    std::lock_guard lock(mu_);
    if (state_ == StreamingContextState::kInitialized) {
      detail::log(LogLevel::kWarn, "StreamingContext has not been started yet");
      state_ = StreamingContextState::kStopped;
      cv_.notify_all();
      return;
    }
    if (state_ == StreamingContextState::kStopped) {
      detail::log(LogLevel::kWarn, "StreamingContext has already been stopped");
      return;
    }
    if (thread_.joinable() && std::this_thread::get_id() == thread_.get_id()) {
      throw IllegalStateError("Cannot stop StreamingContext from inside one of its batches");
    }
    if (runtime_->listenerBus().onBusThread()) {
      throw IllegalStateError("Cannot stop StreamingContext within a listener callback");
    }
  }
  // Receivers stop first so that nothing arrives after the last batch; a graceful stop then
  // turns everything received into batches without waiting for the clock.
  stopInputs(gracefully);
  if (gracefully) {
    draining_ = true;
  } else {
    stopping_ = true;
  }
  clock_->wakeWaiters();
  if (gracefully) {
    const auto timeout = conf_.graceful_stop_timeout.value_or(10 * batch_duration_);
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !thread_.joinable() || stopping_; })) {
      detail::log(LogLevel::kWarn, "Graceful stop timed out; stopping now");
    }
    stopping_ = true;
  }
  clock_->wakeWaiters();
  {
    std::lock_guard lock(mu_);
    queue_cv_.notify_all();
  }
  if (generator_.joinable()) generator_.join();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    if (!queued_.empty()) {
      // As Spark's stop: queued batches are not run. With the receiver write-ahead log their
      // blocks are logged as allocated, and a restart from the checkpoint runs them.
      detail::log(LogLevel::kWarn,
                  fmt::format("Stopped with {} queued batch(es) not processed, from {} to {}",
                              queued_.size(), queued_.front().time.toString(),
                              queued_.back().time.toString()));
      std::lock_guard records_lock(records_mu_);
      for (const auto& batch : queued_) batch_records_.erase(batch.time);
      queued_.clear();
    }
  }
  if (gracefully) {
    // All received data is processed: save every stream's state, so a restart replays nothing.
    try {
      checkpointNow();
    } catch (const std::exception& e) {
      detail::log(LogLevel::kError,
                  fmt::format("Error writing the final checkpoint: {}", e.what()));
      recordError(std::current_exception());
    }
  }
  flushCheckpoints();  // as Spark's stop waits for its checkpoint writer
  // The listeners see every event of this context before stop() returns (a slow one is given
  // up on, with a warning).
  if (!runtime_->listenerBus().waitUntilEmpty(kListenerDrainTimeout)) {
    detail::log(LogLevel::kWarn,
                fmt::format("Listeners did not take this StreamingContext's last events within {} "
                            "ms; they are not delivered",
                            kListenerDrainTimeout.count()));
  }
  runtime_->listenerBus().removeStreamingListeners(this);
  std::lock_guard lock(mu_);
  state_ = StreamingContextState::kStopped;
  StreamingCore* self = this;
  g_active.compare_exchange_strong(self, nullptr);
  cv_.notify_all();
}

void StreamingCore::generateLoop(Time first) {
  Time t = first;
  auto cancelled = [this] { return stopping_.load() || draining_.load(); };
  while (!stopping_) {
    if (draining_) {
      // Graceful stop: keep allocating batches, without waiting for the clock, while received
      // data is waiting for one.
      if (!inputsHavePendingData()) break;
    } else if (!clock_->waitUntil(t.milliseconds(), cancelled)) {
      continue;
    }
    allocateBatch(t);
    t = t + batch_duration_;
  }
  std::lock_guard lock(mu_);
  generating_done_ = true;
  queue_cv_.notify_all();
}

void StreamingCore::allocateBatch(Time t) {
  std::vector<std::pair<std::shared_ptr<InputBase>, std::shared_ptr<DStreamBase>>> inputs;
  {
    std::lock_guard lock(mu_);
    inputs = inputs_;
  }
  {
    std::lock_guard lock(records_mu_);
    auto& records = batch_records_[t];
    for (auto& [input, node] : inputs) records[input->streamId()] = 0;
  }
  BatchInfo info;
  info.batch_time = t;
  // Read before the inputs allocate: a direct input reading its source at allocation delays the
  // batch as processing would, and counts as its scheduling delay.
  info.submission_time_ms = clock_->nowMs();
  // Spark's allocateBlocksToBatch: what the receivers hold at t belongs to batch t, however
  // late the batch runs.
  for (auto& [input, node] : inputs) {
    try {
      input->allocateBatch(t);
    } catch (const std::exception& e) {
      // On the generator thread an escaping exception would end the process: the batch goes on
      // without this input's data and the error surfaces from awaitTermination.
      detail::log(LogLevel::kError, fmt::format("Error allocating the input of {} to batch {}: {}",
                                                input->inputName(), t.toString(), e.what()));
      recordError(std::current_exception());
    }
  }
  {
    std::lock_guard lock(records_mu_);
    info.stream_id_to_num_records = batch_records_[t];
  }
  postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kBatchSubmitted, info);
  std::lock_guard lock(mu_);
  queued_.push_back({t, info.submission_time_ms});
  queue_cv_.notify_one();
}

void StreamingCore::runLoop() {
  for (;;) {
    QueuedBatch next;
    {
      std::unique_lock lock(mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queued_.empty() || generating_done_; });
      if (stopping_) return;  // a stop without draining leaves the queued batches
      if (queued_.empty()) {  // drained: the generator queues nothing more
        stopping_ = true;
        cv_.notify_all();
        return;
      }
      next = queued_.front();
      queued_.pop_front();
    }
    runBatch(next.time, next.submission_time_ms);
  }
}

void StreamingCore::warnAboutDelay(Time t, std::int64_t processing_start_ms) {
  // The batches of a restart's down time are late by it: expected, not a warning.
  if (t.milliseconds() <= started_at_ms_) return;
  const std::int64_t delay = processing_start_ms - t.milliseconds();
  const std::int64_t threshold = kDelayWarningBatches * batch_duration_.count();
  if (delay > threshold && delay >= 2 * warned_delay_ms_) {
    detail::log(LogLevel::kWarn,
                fmt::format("Batch {} starts {} ms after its batch time ({} batch intervals): the "
                            "job is slower than its input and batches are queueing; consider "
                            "spark.streaming.backpressure.enabled, "
                            "spark.streaming.receiver.maxRate or a longer batch interval",
                            t.toString(), delay, delay / batch_duration_.count()));
    warned_delay_ms_ = delay;
  } else if (delay <= threshold && warned_delay_ms_ > 0) {
    detail::log(LogLevel::kInfo,
                fmt::format("Batch {} starts {} ms after its batch time: caught up", t.toString(),
                            delay));
    warned_delay_ms_ = 0;
  }
}

void StreamingCore::updateRateLimits(const BatchInfo& info) {
  std::vector<std::pair<std::shared_ptr<InputBase>, std::shared_ptr<DStreamBase>>> inputs;
  {
    std::lock_guard lock(mu_);
    inputs = inputs_;
  }
  const std::int64_t processing = info.processingDelay().value_or(0);
  const std::int64_t scheduling = info.schedulingDelay().value_or(0);
  for (auto& [input, node] : inputs) {
    auto& estimator = rate_estimators_[input->streamId()];
    if (!estimator) {
      estimator = std::make_unique<PidRateEstimator>(batch_duration_.count(), conf_.pid_proportional,
                                                     conf_.pid_integral, conf_.pid_derivative,
                                                     conf_.pid_min_rate);
    }
    const auto records = info.stream_id_to_num_records.find(input->streamId());
    const auto rate = estimator->compute(
        *info.processing_end_time_ms,
        records == info.stream_id_to_num_records.end() ? 0 : records->second, processing,
        scheduling);
    if (rate) input->updateRateLimit(*rate);
  }
}

void StreamingCore::recordError(std::exception_ptr error) {
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::move(error);
  cv_.notify_all();
}

void StreamingCore::runBatch(Time t, std::int64_t submission_time_ms) {
  std::vector<std::shared_ptr<OutputBase>> outputs;
  {
    std::lock_guard lock(mu_);
    outputs = outputs_;
  }
  BatchInfo info;
  info.batch_time = t;
  info.submission_time_ms = submission_time_ms;
  // Generating the jobs runs the stateful streams' updates: that is the batch's processing.
  const std::int64_t processing_start = clock_->nowMs();
  warnAboutDelay(t, processing_start);

  // Job generation: build each output's RDD for t (lazily; stateful streams run their update).
  std::vector<std::pair<int, std::function<void()>>> jobs;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    try {
      if (auto job = outputs[i]->generateJob(t))
        jobs.emplace_back(static_cast<int>(i), std::move(*job));
    } catch (...) {
      detail::log(LogLevel::kError, fmt::format("Error generating jobs for time {}", t.toString()));
      recordError(std::current_exception());
    }
  }
  {
    // Complete now: inputs that count in compute() (files) have reported too.
    std::lock_guard lock(records_mu_);
    auto it = batch_records_.find(t);
    if (it != batch_records_.end()) {
      info.stream_id_to_num_records = std::move(it->second);
      batch_records_.erase(it);
    }
  }
  info.processing_start_time_ms = processing_start;
  postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kBatchStarted, info);
  for (auto& [index, job] : jobs) {
    OutputOperationInfo op;
    op.batch_time = t;
    op.id = index;
    op.name = outputs[static_cast<std::size_t>(index)]->outputName();
    op.start_time_ms = clock_->nowMs();
    postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kOutputOperationStarted, op);
    // Spark's job properties: the UI and listeners link the batch's jobs to it.
    runtime_->setLocalProperty(kBatchTimeProperty, std::to_string(t.milliseconds()));
    runtime_->setLocalProperty(kOutputOpIdProperty, std::to_string(index));
    try {
      job();
    } catch (const std::exception& e) {
      op.failure_reason = e.what();
      detail::log(LogLevel::kError, fmt::format("Error running job {} of batch {}: {}", op.name,
                                                t.toString(), e.what()));
      recordError(std::current_exception());
    } catch (...) {
      op.failure_reason = "unknown exception";
      recordError(std::current_exception());
    }
    runtime_->setLocalProperty(kBatchTimeProperty, std::nullopt);
    runtime_->setLocalProperty(kOutputOpIdProperty, std::nullopt);
    op.end_time_ms = clock_->nowMs();
    info.output_operation_infos[index] = op;
    postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kOutputOperationCompleted, op);
  }
  // The batch's stateful versions that succeeded become the committed state, then the
  // checkpoint records the batch as done.
  crashPoint("batch-computed");
  for (auto& [identity, stream] : stateful_) stream->stateStore()->finishBatch();
  if (runtime_->listenerBus().hasListeners()) {
    for (auto& [identity, stream] : stateful_) {
      const StateSize size = stream->stateStore()->stateSize();
      StateReport report{t, stream->id(), identity, size.keys, size.bytes};
      postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kStateReport, report);
    }
  }
  try {
    writeCheckpoint(t, false);
  } catch (const std::exception& e) {
    detail::log(LogLevel::kError, fmt::format("Error writing the checkpoint of batch {}: {}",
                                              t.toString(), e.what()));
    recordError(std::current_exception());
  }
  info.processing_end_time_ms = clock_->nowMs();
  postStreamingEvent(*runtime_, this, StreamingEvent::Kind::kBatchCompleted, info);
  if (conf_.backpressure) updateRateLimits(info);

  for (auto& output : outputs) {
    std::vector<DStreamBase*> pending{&output->stream()};
    while (!pending.empty()) {
      DStreamBase* s = pending.back();
      pending.pop_back();
      s->clearMetadata(t);
      for (auto& p : s->parents()) pending.push_back(p.get());
    }
  }
  std::lock_guard lock(mu_);
  last_completed_ = t;
  cv_.notify_all();
}

void StreamingCore::rethrowError() {
  std::exception_ptr error;
  {
    std::lock_guard lock(mu_);
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

void StreamingCore::awaitTermination() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return state_ == StreamingContextState::kStopped || error_; });
  }
  rethrowError();
}

bool StreamingCore::awaitTerminationOrTimeout(Duration timeout) {
  bool stopped;
  {
    std::unique_lock lock(mu_);
    stopped = cv_.wait_for(lock, timeout,
                           [&] { return state_ == StreamingContextState::kStopped || error_; });
    stopped = state_ == StreamingContextState::kStopped;
  }
  rethrowError();
  return stopped;
}

bool StreamingCore::waitForBatch(Time t, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return last_completed_ && *last_completed_ >= t; });
}

void StreamingCore::clearGraph() {
  std::lock_guard lock(mu_);
  inputs_.clear();
  outputs_.clear();
}

}  // namespace detail
}  // namespace sluice
