#include "core/listener_bus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <type_traits>
#include <utility>

#include "core/overloaded.hpp"

namespace sluice::detail {
namespace {

void deliverStreaming(StreamingListener& l, const StreamingEvent& e) {
  using Kind = StreamingEvent::Kind;
  switch (e.kind) {
    case Kind::kStreamingStarted:
      l.onStreamingStarted(e.time_ms);
      return;
    case Kind::kReceiverStarted:
      l.onReceiverStarted(std::get<ReceiverInfo>(e.info));
      return;
    case Kind::kReceiverError:
      l.onReceiverError(std::get<ReceiverInfo>(e.info));
      return;
    case Kind::kReceiverStopped:
      l.onReceiverStopped(std::get<ReceiverInfo>(e.info));
      return;
    case Kind::kBatchSubmitted:
      l.onBatchSubmitted(std::get<BatchInfo>(e.info));
      return;
    case Kind::kBatchStarted:
      l.onBatchStarted(std::get<BatchInfo>(e.info));
      return;
    case Kind::kBatchCompleted:
      l.onBatchCompleted(std::get<BatchInfo>(e.info));
      return;
    case Kind::kOutputOperationStarted:
      l.onOutputOperationStarted(std::get<OutputOperationInfo>(e.info));
      return;
    case Kind::kOutputOperationCompleted:
      l.onOutputOperationCompleted(std::get<OutputOperationInfo>(e.info));
      return;
    case Kind::kStateReport:
    case Kind::kCheckpointWritten:
      return;
  }
}

// The events after which a listener expects to see a finished whole (a job, a batch) or that
// report a receiver's health; the others may wait for them (ListenerBus::kMaxLinger).
bool endsSomething(const ListenerEvent& event) {
  // A streaming batch's jobs end before their batch does, which wakes the thread then.
  if (const auto* end = std::get_if<JobEndEvent>(&event))
    return !end->job.properties.contains(kBatchTimeProperty);
  const auto* streaming = std::get_if<StreamingEvent>(&event);
  if (streaming == nullptr) return false;
  using Kind = StreamingEvent::Kind;
  switch (streaming->kind) {
    case Kind::kBatchSubmitted:
    case Kind::kBatchStarted:
    case Kind::kOutputOperationStarted:
    case Kind::kOutputOperationCompleted:
    case Kind::kStateReport:
      return false;
    default:
      return true;
  }
}

template <class F>
void guarded(const char* kind, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log(LogLevel::kWarn, fmt::format("{} threw: {}", kind, e.what()));
  } catch (...) {
    log(LogLevel::kWarn, fmt::format("{} threw a non-standard exception", kind));
  }
}

}  // namespace

ListenerBus::ListenerBus(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

ListenerBus::~ListenerBus() {
  try {
    stop();
  } catch (const IllegalStateError&) {
    // Destroyed by its own thread (a listener dropped the last reference): nothing to wait for.
    thread_.detach();
  }
}

template <class Change>
void ListenerBus::changeListeners(Change change) {
  std::lock_guard lock(listeners_mu_);
  auto next = std::make_shared<Listeners>(*listeners_);
  change(*next);
  has_listeners_.store(!next->spark.empty() || !next->streaming.empty() || !next->observers.empty(),
                       std::memory_order_relaxed);
  listeners_ = std::move(next);
  std::lock_guard queue_lock(mu_);
  if (!running_ && !stopped_ && has_listeners_.load(std::memory_order_relaxed)) {
    running_ = true;
    thread_ = std::thread([this] { run(); });
  }
}

void ListenerBus::addListener(std::shared_ptr<SparkListener> listener) {
  changeListeners([&](Listeners& l) { l.spark.push_back(std::move(listener)); });
}

void ListenerBus::removeListener(const std::shared_ptr<SparkListener>& listener) {
  changeListeners([&](Listeners& l) { std::erase(l.spark, listener); });
}

void ListenerBus::addStreamingListener(const void* source,
                                       std::shared_ptr<StreamingListener> listener) {
  changeListeners([&](Listeners& l) { l.streaming.emplace_back(source, std::move(listener)); });
}

void ListenerBus::removeStreamingListener(const void* source,
                                          const std::shared_ptr<StreamingListener>& listener) {
  changeListeners([&](Listeners& l) {
    std::erase_if(l.streaming,
                  [&](const auto& e) { return e.first == source && e.second == listener; });
  });
}

void ListenerBus::removeStreamingListeners(const void* source) {
  changeListeners([&](Listeners& l) {
    std::erase_if(l.streaming, [&](const auto& e) { return e.first == source; });
  });
}

void ListenerBus::addObserver(std::shared_ptr<EventObserver> observer) {
  changeListeners([&](Listeners& l) { l.observers.push_back(std::move(observer)); });
}

void ListenerBus::removeObserver(const std::shared_ptr<EventObserver>& observer) {
  changeListeners([&](Listeners& l) { std::erase(l.observers, observer); });
}

void ListenerBus::post(ListenerEvent event) {
  if (!hasListeners()) return;
  std::unique_lock lock(mu_);
  if (stopped_) return;
  if (queue_.size() >= capacity_) {
    lock.unlock();
    const long long dropped = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
    // Spark logs the first drop and then periodically; here the first and every 10000th.
    if (dropped == 1 || dropped % 10000 == 0) {
      log(LogLevel::kWarn,
          fmt::format("Dropped {} listener event(s) so far: the listener bus queue (capacity {}) "
                      "is full because a listener is slower than the engine; raise "
                      "spark.scheduler.listenerbus.eventqueue.capacity or speed up the listener",
                      dropped, capacity_));
    }
    return;
  }
  const bool urgent = endsSomething(event);
  queue_.push_back(std::move(event));
  ++posted_;
  if (urgent || queue_.size() >= kWakeAtSize) flushLocked(lock);
}

void ListenerBus::flushLocked(std::unique_lock<std::mutex>& lock) {
  flush_ = true;
  if (thread_waiting_) {
    thread_waiting_ = false;
    lock.unlock();
    wake_.notify_one();
  }
}

void ListenerBus::run() {
  thread_id_.store(std::this_thread::get_id());
  std::deque<ListenerEvent> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    // Without a flush, whatever is queued is delivered after at most kMaxLinger.
    while (!flush_ && !stopped_) {
      thread_waiting_ = true;
      if (wake_.wait_for(lock, kMaxLinger) == std::cv_status::timeout) break;
    }
    thread_waiting_ = false;
    flush_ = false;
    if (queue_.empty()) {
      if (!stopped_) continue;
      running_ = false;  // stopped, and everything delivered
      empty_.notify_all();
      return;
    }
    batch.swap(queue_);
    lock.unlock();
    std::shared_ptr<const Listeners> listeners;
    {
      std::lock_guard listeners_lock(listeners_mu_);
      listeners = listeners_;
    }
    for (const auto& event : batch) deliver(*listeners, event);
    const auto n = batch.size();
    batch.clear();
    lock.lock();
    delivered_ += n;
    empty_.notify_all();
  }
}

void ListenerBus::deliver(const Listeners& listeners, const ListenerEvent& event) {
  for (auto& o : listeners.observers) guarded("EventObserver", [&] { o->onEvent(event); });
  std::visit(Overloaded{
                 [&](const JobStartEvent& e) {
                   for (auto& l : listeners.spark)
                     guarded("SparkListener", [&] { l->onJobStart(e.job); });
                 },
                 [&](const JobEndEvent& e) {
                   for (auto& l : listeners.spark)
                     guarded("SparkListener", [&] { l->onJobEnd(e.job); });
                 },
                 [&](const StageSubmittedEvent& e) {
                   for (auto& l : listeners.spark)
                     guarded("SparkListener", [&] { l->onStageSubmitted(e.stage); });
                 },
                 [&](const StageCompletedEvent& e) {
                   for (auto& l : listeners.spark)
                     guarded("SparkListener", [&] { l->onStageCompleted(e.stage); });
                 },
                 [&](const TaskStartEvent& e) {
                   for (auto& l : listeners.spark)
                     guarded("SparkListener", [&] { l->onTaskStart(e.task); });
                 },
                 [&](const TaskEndEvent& e) {
                   for (auto& l : listeners.spark)
                     guarded("SparkListener", [&] { l->onTaskEnd(e.task); });
                 },
                 [&](const StreamingEvent& e) {
                   for (auto& [source, l] : listeners.streaming) {
                     if (source == e.source)
                       guarded("StreamingListener", [&] { deliverStreaming(*l, e); });
                   }
                 },
             },
             event);
}

bool ListenerBus::waitUntilEmpty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const auto target = posted_;
  if (delivered_ < target) {
    flushLocked(lock);
    if (!lock.owns_lock()) lock.lock();
  }
  return empty_.wait_for(lock, timeout, [&] { return delivered_ >= target || !running_; });
}

void ListenerBus::stop() {
  if (onBusThread()) {
    throw IllegalStateError("Cannot stop the listener bus from a listener callback");
  }
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::detail
