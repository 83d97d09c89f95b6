// The Context's listener bus (Spark's LiveListenerBus): engine threads post events into a bounded
// queue and return at once; one thread delivers them to the registered listeners in the order they
// were posted. A full queue drops the event and counts it; posting never blocks, so a slow
// listener (or the web UI) cannot stall the batch thread or a task.
// Thread-safety: every method may be called from any thread, except stop() from a listener.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <sluice/listener.hpp>
#include <sluice/streaming/listener.hpp>
#include <sluice/streaming/time.hpp>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace sluice::detail {

struct JobStartEvent {
  JobInfo job;
};
struct JobEndEvent {
  JobInfo job;
};
struct StageSubmittedEvent {
  StageInfo stage;
};
struct StageCompletedEvent {
  StageInfo stage;
};
struct TaskStartEvent {
  TaskInfo task;
};
struct TaskEndEvent {
  TaskInfo task;
};

// A stateful stream's state after a batch committed: Sluice's addition to Spark's events.
struct StateReport {
  Time batch_time;
  int stream_id = 0;
  std::string name;  // the stream's identity: its uid, or operation@id
  long long keys = 0;
  long long bytes = 0;  // estimated in-memory size, or the database's for the rocksdb backend
};

// A checkpoint written to the checkpoint directory.
struct CheckpointReport {
  Time batch_time;
  std::int64_t duration_ms = 0;
  long long bytes = 0;
  bool full = false;  // a full save of every stream's state, not an increment
};

// A streaming event goes to the listeners of the StreamingContext that posted it (`source`).
// kStateReport and kCheckpointWritten reach EventObservers only (StreamingListener has no
// callback for them).
struct StreamingEvent {
  enum class Kind {
    kStreamingStarted,
    kReceiverStarted,
    kReceiverError,
    kReceiverStopped,
    kBatchSubmitted,
    kBatchStarted,
    kBatchCompleted,
    kOutputOperationStarted,
    kOutputOperationCompleted,
    kStateReport,
    kCheckpointWritten,
  };
  const void* source = nullptr;
  Kind kind = Kind::kStreamingStarted;
  std::int64_t time_ms = 0;                                // kStreamingStarted
  std::int64_t batch_duration_ms = 0;                      // kStreamingStarted
  std::vector<std::pair<int, std::string>> input_streams;  // kStreamingStarted: id and name
  std::variant<std::monostate, ReceiverInfo, BatchInfo, OutputOperationInfo, StateReport,
               CheckpointReport>
      info;
};

using ListenerEvent =
    std::variant<JobStartEvent, JobEndEvent, StageSubmittedEvent, StageCompletedEvent,
                 TaskStartEvent, TaskEndEvent, StreamingEvent>;

// Sees every event as posted, of every StreamingContext: the web UI's status store.
class EventObserver {
 public:
  virtual ~EventObserver() = default;
  virtual void onEvent(const ListenerEvent& event) = 0;
};

class ListenerBus {
 public:
  // Spark's spark.scheduler.listenerbus.eventqueue.capacity default.
  static constexpr std::size_t kDefaultCapacity = 10000;
  // Events that start or report progress (task and stage events, batch submitted and started,
  // output operations) wait in the queue up to this long, or until an event that ends a job or a
  // batch, a receiver event or a waitUntilEmpty() wakes the bus thread: one wake-up per batch
  // instead of one per event, which on few cores is most of what listening costs.
  static constexpr std::chrono::milliseconds kMaxLinger{100};
  // A queue this long wakes the bus thread whatever it holds.
  static constexpr std::size_t kWakeAtSize = 1024;

  explicit ListenerBus(std::size_t capacity = kDefaultCapacity);
  ~ListenerBus();
  ListenerBus(const ListenerBus&) = delete;
  ListenerBus& operator=(const ListenerBus&) = delete;

  void addListener(std::shared_ptr<SparkListener> listener);
  void removeListener(const std::shared_ptr<SparkListener>& listener);
  // Listeners of one StreamingContext (`source`): they see only the events it posts.
  void addStreamingListener(const void* source, std::shared_ptr<StreamingListener> listener);
  void removeStreamingListener(const void* source,
                               const std::shared_ptr<StreamingListener>& listener);
  void removeStreamingListeners(const void* source);
  void addObserver(std::shared_ptr<EventObserver> observer);
  void removeObserver(const std::shared_ptr<EventObserver>& observer);

  // True while some listener is registered: without one, posting is a no-op and callers may
  // skip building the event.
  bool hasListeners() const noexcept { return has_listeners_.load(std::memory_order_relaxed); }
  void post(ListenerEvent event);
  // Blocks until every event posted before the call has been delivered, or `timeout` passes in
  // real time; returns whether the queue emptied. For tests and for stop().
  bool waitUntilEmpty(std::chrono::milliseconds timeout);
  long long droppedEvents() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  bool onBusThread() const noexcept { return thread_id_.load() == std::this_thread::get_id(); }
  // Delivers what is queued, then ends the bus thread; later posts are ignored. Idempotent.
  // Throws IllegalStateError when called from a listener callback (it would wait for itself).
  void stop();

 private:
  struct Listeners {
    std::vector<std::shared_ptr<SparkListener>> spark;
    std::vector<std::pair<const void*, std::shared_ptr<StreamingListener>>> streaming;
    std::vector<std::shared_ptr<EventObserver>> observers;
  };
  template <class Change>
  void changeListeners(Change change);
  void run();
  // Wakes the bus thread to deliver now; may unlock `lock`.
  void flushLocked(std::unique_lock<std::mutex>& lock);
  void deliver(const Listeners& listeners, const ListenerEvent& event);

  const std::size_t capacity_;
  std::atomic<bool> has_listeners_{false};
  std::atomic<long long> dropped_{0};

  std::mutex listeners_mu_;
  std::shared_ptr<const Listeners> listeners_ = std::make_shared<Listeners>();

  std::mutex mu_;
  std::condition_variable wake_;   // the bus thread waits for events or stop
  std::condition_variable empty_;  // waitUntilEmpty waits for delivered_ to catch up
  std::deque<ListenerEvent> queue_;
  std::uint64_t posted_ = 0;     // events accepted into the queue
  std::uint64_t delivered_ = 0;  // of those, delivered to every listener
  bool thread_waiting_ = false;
  bool flush_ = false;    // deliver what is queued now, without lingering
  bool running_ = false;  // the bus thread was started and has not finished
  bool stopped_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
};

}  // namespace sluice::detail
