// Receiver<T>: the base class of custom sources (Spark's Receiver). Subclass it, implement
// onStart() (must not block: start your own threads) and onStop(), and call store() from your
// threads. Records stored one at a time are grouped into blocks every block interval; the blocks
// waiting at a batch time become that batch's partitions. Pass it to
// StreamingContext::receiverStream. Thread-safety: store, restart, reportError, stop and the
// is* queries may be called from any thread.
//
// With spark.streaming.receiver.writeAheadLog.enable (and a checkpoint directory), every block is
// appended to a write-ahead log in <checkpoint>/receivedData/<stream> before it joins the
// receiver's buffer: store(std::vector<T>) returns only once its block is logged (and fsynced,
// unless sluice.streaming.receiver.writeAheadLog.fsync is false), so a source may forget what it
// sent once store returns (a reliable receiver). Records stored one at a time are logged when
// their block is cut, every block interval; a crash before that loses them, as in Spark. After a
// crash, getOrCreate replays the logged blocks that no completed batch took into the batches they
// had been given to, and the rest into the first batch after the restart.
#pragma once

#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <sluice/serialization.hpp>
#include <sluice/streaming/dstream.hpp>
#include <sluice/streaming/streaming_context.hpp>
#include <string>
#include <vector>

namespace sluice {

namespace detail {

class RateLimiter;

// The non-template half of a receiver: lifecycle, restarts, rate limit and listener events.
class ReceiverSupervisor {
 public:
  ReceiverSupervisor(std::shared_ptr<StreamingCore> core, int stream_id, std::string name,
                     std::function<void()> on_start, std::function<void()> on_stop);
  ~ReceiverSupervisor();
  void start();
  // Stops for good; waits for a restart in progress. `records_dropped`: records the stop takes
  // away from every batch, lost unless `kept_in_log` (reported in onReceiverStopped).
  void stop(const std::string& message, long long records_dropped = 0, bool kept_in_log = false);
  // Asynchronously: onStop(), wait `delay` (default spark.streaming.receiverRestartDelay),
  // onStart().
  void restart(const std::string& message, std::optional<Duration> delay = std::nullopt);
  void reportError(const std::string& message);
  bool isStarted() const;
  bool isStopped() const;
  // Blocks as needed to keep single-record stores under spark.streaming.receiver.maxRate (or
  // the rate backpressure set).
  void waitToStore();
  // Backpressure's new rate (records/s), capped by spark.streaming.receiver.maxRate.
  void updateRate(double records_per_second);
  int streamId() const noexcept { return stream_id_; }

 private:
  ReceiverInfo info(bool active) const;
  void restartLoop();
  void cancelRateWaits(bool cancel);

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
  std::unique_ptr<RateLimiter> limiter_;  // spark.streaming.receiver.maxRate
  // Set while stopping or restarting: a store waiting for the rate limit returns at once, so
  // that onStop() can join the receiver's threads whatever the clock does.
  std::atomic<bool> rate_waits_cancelled_{false};
};

// Records waiting to become partitions: the block being filled and the completed blocks. With a
// log hook (the write-ahead log), each block is logged before it joins the completed blocks, in
// the order it joins them.
template <class T>
class BlockBuffer {
 public:
  using LogHook = std::function<void(const std::vector<T>&)>;
  using ErrorHook = std::function<void(const std::string&)>;
  // Before the receiver starts. What `log` throws is rethrown by addBlock (the block is not
  // stored) and passed to `on_error` for the blocks cut from single records (which stay
  // buffered, unlogged).
  void setLog(LogHook log, ErrorHook on_error) {
    std::lock_guard order(order_mu_);
    log_ = std::move(log);
    on_error_ = std::move(on_error);
  }
  void add(T item) {
    std::lock_guard lock(mu_);
    current_.push_back(std::move(item));
  }
  // A block stored whole; it is in the buffer (and logged) when this returns ("block stored").
  void addBlock(std::vector<T> block) {
    if (block.empty()) return;
    std::optional<std::string> cut_error;
    std::exception_ptr log_error;
    ErrorHook on_error;
    {
      std::lock_guard order(order_mu_);
      cut_error = cutLocked();
      on_error = on_error_;
      try {
        if (log_) log_(block);
        std::lock_guard lock(mu_);
        blocks_.push_back(std::move(block));
      } catch (...) {
        log_error = std::current_exception();
      }
    }
    // Reported without the locks: a listener may call back into the receiver.
    if (cut_error && on_error) on_error(*cut_error);
    if (log_error) std::rethrow_exception(log_error);
  }
  void cut() {
    std::optional<std::string> error;
    ErrorHook on_error;
    {
      std::lock_guard order(order_mu_);
      error = cutLocked();
      on_error = on_error_;
    }
    if (error && on_error) on_error(*error);
  }
  // Every record stored so far, as blocks in arrival order; `taken` runs before any later block
  // is logged (it logs the allocation).
  std::vector<std::vector<T>> takeAll(const std::function<void()>& taken = {}) {
    std::optional<std::string> error;
    ErrorHook on_error;
    std::vector<std::vector<T>> out;
    {
      std::lock_guard order(order_mu_);
      error = cutLocked();
      on_error = on_error_;
      {
        std::lock_guard lock(mu_);
        out.assign(std::make_move_iterator(blocks_.begin()),
                   std::make_move_iterator(blocks_.end()));
        blocks_.clear();
      }
      if (taken) taken();
    }
    if (error && on_error) on_error(*error);
    return out;
  }
  bool empty() const {
    std::lock_guard order(order_mu_);  // a block being logged is in neither list
    std::lock_guard lock(mu_);
    return blocks_.empty() && current_.empty();
  }

 private:
  // order_mu_ held; the logging runs without mu_, so single-record stores go on meanwhile. A
  // block that cannot be logged stays buffered, unlogged; the error is returned for reporting.
  std::optional<std::string> cutLocked() {
    std::vector<T> block;
    {
      std::lock_guard lock(mu_);
      if (current_.empty()) return std::nullopt;
      block.swap(current_);
    }
    std::optional<std::string> error;
    if (log_) {
      try {
        log_(block);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    std::lock_guard lock(mu_);
    blocks_.push_back(std::move(block));
    return error;
  }
  mutable std::mutex order_mu_;  // orders blocks: logging and joining the buffer happen under it
  mutable std::mutex mu_;
  std::vector<T> current_;
  std::deque<std::vector<T>> blocks_;
  LogHook log_;         // guarded by order_mu_
  ErrorHook on_error_;  // guarded by order_mu_
};

// The write-ahead log of one receiver's blocks and of the batches they were given to, in
// <checkpoint>/receivedData/<stream> (format in src/streaming/received_block_log.cpp).
// Thread-safety: any thread; the caller orders appends (BlockBuffer's order lock).
class ReceivedBlockLog {
 public:
  ReceivedBlockLog(std::string directory, const StreamingConf& conf,
                   std::shared_ptr<FileSystem> fs);
  ~ReceivedBlockLog();
  const std::string& directory() const;
  // Logs a block (its encoded records) durably; returns its sequence number. Throws IOError.
  std::uint64_t appendBlock(std::int64_t now_ms, std::string bytes);
  // Logs that every block logged so far and not yet allocated makes batch t; returns the
  // sequence number after them. Throws IOError.
  std::uint64_t appendAllocation(Time t);
  std::uint64_t nextSequence() const;
  // The checkpoint of batch t is being saved and a restart from it recomputes the batches from
  // `first_needed` on (those since the oldest data checkpoint of the stateful streams).
  void noteCheckpoint(Time t, Time first_needed);
  // Deletes the segments that no restart from a checkpoint of batch `oldest` or later needs.
  void checkpointsKeptFrom(Time oldest);

  // The blocks [begin, end) of one batch.
  struct Range {
    Time time;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    template <class Archive>
    void serialize(Archive& ar) {
      std::int64_t ms = time.milliseconds();
      ar(ms, begin, end);
      time = Time(ms);
    }
  };
  // What a restart replays, from a checkpoint of batch `restored` that lists the ranges of the
  // completed batches it may recompute and `processed_end`, the first block no completed batch
  // took: those batches' blocks; the blocks from `processed_end` on, grouped into the batches
  // after `restored` they had been given to; then those given to none. Without a checkpoint
  // (`restored` empty) the log belongs to a run that is not resumed: it is discarded.
  struct Replay {
    struct Batch {
      Time time;
      std::uint64_t begin = 0;
      std::uint64_t end = 0;
      std::vector<std::string> blocks;
    };
    std::vector<Batch> completed;
    std::vector<Batch> allocated;
    std::vector<std::string> unallocated;
  };
  Replay replay(std::optional<Time> restored, const std::vector<Range>& completed,
                std::uint64_t processed_end);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
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
    if (this->core().conf().receiver_wal) startLog();
    receiver_->supervisor_->start();
    timer_->start();
  }
  void stopInput(bool graceful) override {
    long long dropped = 0;
    if (!graceful && !logging_) {
      // What no batch has taken yet never reaches one: taken away here so that the count is
      // exact. (With the log, it stays: a batch still running may take it, and whatever none
      // takes is in the log for a restart.)
      for (const auto& block : buffer_->takeAll()) dropped += static_cast<long long>(block.size());
      std::lock_guard lock(allocated_mu_);
      for (const auto& block : replayed_) dropped += static_cast<long long>(block.size());
      replayed_.clear();
    }
    receiver_->supervisor_->stop("Stopped by StreamingContext", dropped, logging_);
    timer_->stop();
    // A receiver thread the user did not join may still store; the log hook points at this node.
    buffer_->setLog({}, {});
  }
  void updateRateLimit(double records_per_second) override {
    receiver_->supervisor_->updateRate(records_per_second);
  }
  bool hasPendingData() const override {
    {
      std::lock_guard lock(allocated_mu_);
      if (!replayed_.empty() || !restored_.empty()) return true;
    }
    return !buffer_->empty();
  }

  void allocateBatch(Time t) override {
    std::lock_guard lock(allocated_mu_);
    std::vector<std::vector<T>> blocks;
    const std::uint64_t begin = processed_end_;
    if (auto it = restored_.find(t); it != restored_.end()) {
      // A batch regenerated after a restart gets exactly the blocks it had been given.
      blocks = std::move(it->second.first);
      processed_end_ = it->second.second;
      restored_.erase(it);
    } else if (!restored_.empty() && restored_.begin()->first > t) {
      // Regenerated, but its allocation never reached the log: the blocks after it belong to
      // the later regenerated batches, so it had none.
    } else {
      blocks.assign(std::make_move_iterator(replayed_.begin()),
                    std::make_move_iterator(replayed_.end()));
      replayed_.clear();
      std::optional<std::string> error;
      auto fresh = buffer_->takeAll([&] {
        if (!logging_) return;
        try {
          processed_end_ = log_->appendAllocation(t);
        } catch (const std::exception& e) {
          // The blocks are still processed; a restart would give them to its first batch.
          processed_end_ = log_->nextSequence();
          error = e.what();
        }
      });
      for (auto& b : fresh) blocks.push_back(std::move(b));
      if (error) {
        receiver_->supervisor_->reportError("Cannot log the blocks of batch " + t.toString() +
                                            ": " + *error);
      }
    }
    long long records = 0;
    for (const auto& b : blocks) records += static_cast<long long>(b.size());
    this->core().reportInputRecords(t, this->id(), records);
    allocated_[t] = std::move(blocks);
    if (logging_) ranges_[t] = {t, begin, processed_end_};
  }

  void clearMetadata(Time t) override {
    DStreamNode<T>::clearMetadata(t);
    std::lock_guard lock(allocated_mu_);
    const Time cutoff = t - this->rememberDuration();
    allocated_.erase(allocated_.begin(), allocated_.upper_bound(cutoff));
    ranges_.erase(ranges_.begin(), ranges_.upper_bound(cutoff));
  }

  // With the write-ahead log: the batch, the blocks of the remembered batches (a restart
  // recomputes the batches since the stateful streams' last data checkpoints from them) and the
  // first block no completed batch has taken.
  // Batches after t may already be allocated (they are queued behind it): they are left out,
  // and a restart finds their allocations in the log.
  std::string checkpointData(Time t) override {
    std::lock_guard lock(allocated_mu_);
    if (!logging_) return {};
    std::vector<ReceivedBlockLog::Range> ranges;
    for (const auto& [time, range] : ranges_) {
      if (time <= t) ranges.push_back(range);
    }
    const auto at_t = ranges_.find(t);
    const std::uint64_t end = at_t != ranges_.end() ? at_t->second.end : processed_end_;
    log_->noteCheckpoint(t, ranges.empty() ? t + this->slideDuration() : ranges.front().time);
    return serialize(std::make_tuple(t.milliseconds(), end, ranges));
  }
  void restoreCheckpointData(std::string_view bytes) override {
    std::tuple<std::int64_t, std::uint64_t, std::vector<ReceivedBlockLog::Range>> mark;
    try {
      mark = deserialize<decltype(mark)>(bytes);
    } catch (const Error& e) {
      throw CheckpointError("Cannot restore the logged blocks of " + inputName() + ": " + e.what());
    }
    auto& [time_ms, processed_end, ranges] = mark;
    openLog();
    auto replay = log_->replay(Time(time_ms), ranges, processed_end);
    std::lock_guard lock(allocated_mu_);
    processed_end_ = processed_end;
    for (auto& batch : replay.completed) {
      allocated_[batch.time] = decodeBlocks(batch.blocks);
      ranges_[batch.time] = {batch.time, batch.begin, batch.end};
    }
    for (auto& batch : replay.allocated) {
      restored_[batch.time] = {decodeBlocks(batch.blocks), batch.end};
    }
    for (auto& block : decodeBlocks(replay.unallocated)) replayed_.push_back(std::move(block));
  }
  void checkpointsKeptFrom(Time oldest) override {
    if (logging_) log_->checkpointsKeptFrom(oldest);
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
  void openLog() {
    if (log_) return;
    const std::string id = this->uid().value_or(std::to_string(this->id()));
    log_ = std::make_unique<ReceivedBlockLog>(this->core().checkpointDir() + "/receivedData/" + id,
                                              this->core().conf(), this->core().fileSystem());
  }

  // Called once, at start, with spark.streaming.receiver.writeAheadLog.enable.
  void startLog() {
    if (this->core().checkpointDir().empty()) {
      throw IllegalStateError(
          "spark.streaming.receiver.writeAheadLog.enable needs a checkpoint directory: call "
          "StreamingContext::checkpoint(dir) first");
    }
    if constexpr (!Serializable<T>) {
      throw IllegalStateError("The records of receiver " + receiver_->name() +
                              " cannot be written to the write-ahead log: their type has no "
                              "cereal serialize function");
    } else {
      if (!log_) {
        openLog();
        log_->replay(std::nullopt, {}, 0);  // a fresh start: an old log is not resumed
      }
      buffer_->setLog(
          [this, log = log_.get()](const std::vector<T>& block) {
            log->appendBlock(this->core().clock().nowMs(), serialize(block));
          },
          [supervisor = receiver_->supervisor_.get()](const std::string& message) {
            supervisor->reportError(
                "Cannot log a block; its records are not protected against "
                "a crash: " +
                message);
          });
      logging_ = true;
    }
  }

  std::vector<std::vector<T>> decodeBlocks(std::vector<std::string>& encoded) {
    std::vector<std::vector<T>> blocks;
    if constexpr (Serializable<T>) {
      for (auto& bytes : encoded) {
        try {
          blocks.push_back(deserialize<std::vector<T>>(bytes));
        } catch (const Error& e) {
          throw CheckpointError("Cannot decode a logged block of " + inputName() + " in '" +
                                log_->directory() + "': " + e.what());
        }
      }
    } else if (!encoded.empty()) {
      throw CheckpointError("The logged blocks of " + inputName() +
                            " cannot be decoded: their type has no cereal serialize function");
    }
    return blocks;
  }

  mutable std::mutex allocated_mu_;
  std::map<Time, std::vector<std::vector<T>>> allocated_;
  // From a restart: blocks of regenerated batches, with the sequence number after them, and
  // blocks no batch had taken (they go to the next batch).
  std::map<Time, std::pair<std::vector<std::vector<T>>, std::uint64_t>> restored_;
  std::deque<std::vector<T>> replayed_;
  std::map<Time, ReceivedBlockLog::Range> ranges_;  // the blocks of each remembered batch
  std::uint64_t processed_end_ = 0;                 // guarded by allocated_mu_
  std::shared_ptr<Receiver<T>> receiver_;
  std::shared_ptr<BlockBuffer<T>> buffer_;
  std::unique_ptr<BlockTimer> timer_;
  std::unique_ptr<ReceivedBlockLog> log_;
  bool logging_ = false;  // set at start, before any block arrives
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
