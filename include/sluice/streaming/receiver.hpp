// Receiver<T>: the base class of custom sources (Spark's Receiver). Subclass it, implement
// onStart() (must not block: start your own threads) and onStop(), and call store() from your
// threads. Records stored one at a time are grouped into blocks every block interval; the blocks
// waiting at a batch time become that batch's partitions. Pass it to
// StreamingContext::receiverStream. Thread-safety: store, restart, reportError, stop and the
// is* queries may be called from any thread.
#pragma once

#include <deque>
#include <memory>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/streaming_context.hpp>
#include <string>
#include <vector>

namespace sluice {

namespace detail {

// The non-template half of a receiver: lifecycle, restarts, rate limit and listener events.
class ReceiverSupervisor {
 public:
  ReceiverSupervisor(std::shared_ptr<StreamingCore> core, int stream_id, std::string name,
                     std::function<void()> on_start, std::function<void()> on_stop);
  ~ReceiverSupervisor();
  void start();
  // Stops for good; waits for a restart in progress.
  void stop(const std::string& message);
  // Asynchronously: onStop(), wait `delay` (default spark.streaming.receiverRestartDelay),
  // onStart().
  void restart(const std::string& message, std::optional<Duration> delay = std::nullopt);
  void reportError(const std::string& message);
  bool isStarted() const;
  bool isStopped() const;
  // Blocks as needed to keep single-record stores under spark.streaming.receiver.maxRate.
  void waitToStore();
  int streamId() const noexcept { return stream_id_; }

 private:
  ReceiverInfo info(bool active) const;
  void restartLoop();

  std::shared_ptr<StreamingCore> core_;
  int stream_id_;
  std::string name_;
  std::function<void()> on_start_;
  std::function<void()> on_stop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopped_ = false;
  std::thread restart_thread_;
  bool restarting_ = false;
  bool restart_again_ = false;
  Duration restart_delay_{0};
  double tokens_ = 0;
  std::chrono::steady_clock::time_point last_refill_{};
  std::mutex rate_mu_;
};

// Records waiting to become partitions: the block being filled and the completed blocks.
template <class T>
class BlockBuffer {
 public:
  void add(T item) {
    std::lock_guard lock(mu_);
    current_.push_back(std::move(item));
  }
  // A block stored whole; it is in the buffer when this returns ("block stored").
  void addBlock(std::vector<T> block) {
    if (block.empty()) return;
    std::lock_guard lock(mu_);
    cutLocked();
    blocks_.push_back(std::move(block));
  }
  void cut() {
    std::lock_guard lock(mu_);
    cutLocked();
  }
  // Every record stored so far, as blocks in arrival order.
  std::vector<std::vector<T>> takeAll() {
    std::lock_guard lock(mu_);
    cutLocked();
    std::vector<std::vector<T>> out(std::make_move_iterator(blocks_.begin()),
                                    std::make_move_iterator(blocks_.end()));
    blocks_.clear();
    return out;
  }
  bool empty() const {
    std::lock_guard lock(mu_);
    return blocks_.empty() && current_.empty();
  }

 private:
  void cutLocked() {
    if (current_.empty()) return;
    blocks_.push_back(std::move(current_));
    current_ = {};
  }
  mutable std::mutex mu_;
  std::vector<T> current_;
  std::deque<std::vector<T>> blocks_;
};

template <class T>
class ReceiverInputNode;

}  // namespace detail

template <class T>
class Receiver {
 public:
  virtual ~Receiver() = default;
  virtual void onStart() = 0;
  virtual void onStop() = 0;
  virtual std::string name() const { return "Receiver"; }

  // One record; grouped into blocks every block interval; rate-limited by maxRate.
  void store(T item) {
    supervisor().waitToStore();
    buffer_->add(std::move(item));
  }
  // One block of records, stored when this returns.
  void store(std::vector<T> items) { buffer_->addBlock(std::move(items)); }
  void restart(const std::string& message) { supervisor().restart(message); }
  void restart(const std::string& message, Duration delay) { supervisor().restart(message, delay); }
  void reportError(const std::string& message) { supervisor().reportError(message); }
  void stop(const std::string& message) { supervisor().stop(message); }
  bool isStarted() const { return supervisor_ && supervisor_->isStarted(); }
  bool isStopped() const { return !supervisor_ || supervisor_->isStopped(); }
  int streamId() const { return supervisor().streamId(); }

 private:
  friend class detail::ReceiverInputNode<T>;
  detail::ReceiverSupervisor& supervisor() const {
    if (!supervisor_) throw IllegalStateError("Receiver is not attached to a StreamingContext");
    return *supervisor_;
  }
  std::shared_ptr<detail::ReceiverSupervisor> supervisor_;
  std::shared_ptr<detail::BlockBuffer<T>> buffer_;
};

namespace detail {

// Runs `cut` every block interval on the context's clock until stopped.
class BlockTimer {
 public:
  BlockTimer(std::shared_ptr<StreamingCore> core, std::function<void()> cut);
  ~BlockTimer();
  void start();
  void stop();

 private:
  std::shared_ptr<StreamingCore> core_;
  std::function<void()> cut_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

template <class T>
class ReceiverInputNode final : public DStreamNode<T>, public InputBase {
 public:
  ReceiverInputNode(std::shared_ptr<StreamingCore> core, std::shared_ptr<Receiver<T>> receiver)
      : DStreamNode<T>(core, core->batchDuration(), {}),
        receiver_(std::move(receiver)),
        buffer_(std::make_shared<BlockBuffer<T>>()) {
    Receiver<T>* r = receiver_.get();
    receiver_->buffer_ = buffer_;
    receiver_->supervisor_ = std::make_shared<ReceiverSupervisor>(
        core, this->id(), receiver_->name(), [r] { r->onStart(); }, [r] { r->onStop(); });
    timer_ = std::make_unique<BlockTimer>(core, [buffer = buffer_] { buffer->cut(); });
  }
  ~ReceiverInputNode() override { timer_->stop(); }
  int streamId() const override { return this->id(); }
  std::string inputName() const override { return receiver_->name(); }
  void startInput() override {
    receiver_->supervisor_->start();
    timer_->start();
  }
  void stopInput(bool) override {
    receiver_->supervisor_->stop("Stopped by StreamingContext");
    timer_->stop();
  }
  bool hasPendingData() const override { return !buffer_->empty(); }

  void allocateBatch(Time t) override {
    auto blocks = buffer_->takeAll();
    long long records = 0;
    for (const auto& b : blocks) records += static_cast<long long>(b.size());
    this->core().reportInputRecords(this->id(), records);
    std::lock_guard lock(allocated_mu_);
    allocated_[t] = std::move(blocks);
  }

  void clearMetadata(Time t) override {
    DStreamNode<T>::clearMetadata(t);
    std::lock_guard lock(allocated_mu_);
    const Time cutoff = t - this->rememberDuration();
    allocated_.erase(allocated_.begin(), allocated_.upper_bound(cutoff));
  }

 protected:
  // The blocks allocated to batch t become its partitions.
  std::optional<RDD<T>> compute(Time t) override {
    std::vector<std::vector<T>> blocks;
    {
      std::lock_guard lock(allocated_mu_);
      if (auto it = allocated_.find(t); it != allocated_.end()) {
        blocks = std::move(it->second);
        allocated_.erase(it);
      }
    }
    return this->core().context().fromPartitions(std::move(blocks));
  }

 private:
  std::mutex allocated_mu_;
  std::map<Time, std::vector<std::vector<T>>> allocated_;
  std::shared_ptr<Receiver<T>> receiver_;
  std::shared_ptr<BlockBuffer<T>> buffer_;
  std::unique_ptr<BlockTimer> timer_;
};

}  // namespace detail

template <class T>
DStream<T> StreamingContext::receiverStream(std::shared_ptr<Receiver<T>> receiver) {
  core_->checkCanBuild();
  auto node = std::make_shared<detail::ReceiverInputNode<T>>(core_, std::move(receiver));
  core_->registerInput(node, node);
  return DStream<T>(node);
}

}  // namespace sluice
