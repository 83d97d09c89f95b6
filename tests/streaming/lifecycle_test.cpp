// StreamingContext lifecycle: states, graph validation, one active context, stop variants,
// failed batches and awaitTermination*, listener events, graceful stop, conf keys and the
// output operations' formats. Batches are driven one at a time by a ManualClock.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sluice/testing.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/listener_bus.hpp"
#include "streaming/stream_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::Context;
using sluice::DStream;
using sluice::ManualClock;
using sluice::RDD;
using sluice::StreamingContext;
using sluice::StreamingContextState;
using sluice::Time;
using Batches = sluice::stream_test::Batches<int>;
using sluice::stream_test::collectEach;
using sluice::stream_test::Collected;
using sluice::stream_test::range;
using sluice::stream_test::TempDir;

constexpr std::chrono::seconds kDeadline{30};  // real-time bound on any single wait

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// Advances the clock to the next batch time and waits (bounded, real time) for that batch.
// Batch errors are left for the test to observe through awaitTermination*.
Time step(StreamingContext& ssc, ManualClock& clock) {
  clock.advance(ssc.batchDuration().count());
  Time t(clock.nowMs());
  if (!ssc.core()->waitForBatch(t, kDeadline)) {
    throw std::runtime_error("batch " + t.toString() + " did not complete in time");
  }
  return t;
}

std::string localTime(std::int64_t seconds) {
  std::time_t tt = static_cast<std::time_t>(seconds);
  std::tm local{};
  localtime_r(&tt, &local);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

const std::string kDashes(43, '-');

std::string expectedPrint(const std::string& time_line, const std::vector<std::string>& lines,
                          bool more) {
  std::string s = kDashes + "\n" + time_line + "\n" + kDashes + "\n";
  for (const auto& l : lines) s += l + "\n";
  if (more) s += "...\n";
  return s + "\n";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A receiver driven from the test thread: the test calls store() itself.
class ManualReceiver final : public sluice::Receiver<int> {
 public:
  void onStart() override {}
  void onStop() override {}
  std::string name() const override { return "ManualReceiver"; }
};

// Stores n records from its own thread, then signals.
class FixedCountReceiver final : public sluice::Receiver<int> {
 public:
  explicit FixedCountReceiver(int n) : n_(n) {}
  void onStart() override {
    thread_ = std::thread([this] {
      for (int i = 0; i < n_; ++i) store(i);
      {
        std::lock_guard lock(mu_);
        done_ = true;
      }
      cv_.notify_all();
    });
  }
  void onStop() override {
    if (thread_.joinable()) thread_.join();
  }
  bool waitDone() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return done_; });
  }

 private:
  int n_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Stores 0, 1, 2, ... as fast as it can until stopped (or a cap), counting what it stored.
class ContinuousReceiver final : public sluice::Receiver<long long> {
 public:
  static constexpr long long kCap = 2'000'000;
  void onStart() override {
    thread_ = std::thread([this] {
      long long i = 0;
      while (!isStopped() && i < kCap) {
        store(i);
        ++i;
        stored_.store(i);
        if (i == 1000) {
          { std::lock_guard lock(mu_); }
          cv_.notify_all();
        }
      }
    });
  }
  void onStop() override {
    if (thread_.joinable()) thread_.join();
  }
  bool waitStored(long long n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return stored_.load() >= n; });
  }
  long long stored() const { return stored_.load(); }

 private:
  std::thread thread_;
  std::atomic<long long> stored_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

struct Event {
  std::string kind;
  std::int64_t time;
  int op;
  bool operator==(const Event&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << e.kind << "@" << e.time << "#" << e.op;
}

class RecordingListener : public sluice::StreamingListener {
 public:
  void onStreamingStarted(std::int64_t) override {
    std::lock_guard lock(mu);
    ++streaming_started;
  }
  void onReceiverStarted(const sluice::ReceiverInfo& i) override {
    std::lock_guard lock(mu);
    receivers_started.push_back(i);
  }
  void onReceiverError(const sluice::ReceiverInfo& i) override {
    std::lock_guard lock(mu);
    receiver_errors.push_back(i);
  }
  void onReceiverStopped(const sluice::ReceiverInfo& i) override {
    std::lock_guard lock(mu);
    receivers_stopped.push_back(i);
  }
  void onBatchSubmitted(const sluice::BatchInfo& b) override {
    std::lock_guard lock(mu);
    events.push_back({"submitted", b.batch_time.milliseconds(), -1});
    submitted.push_back(b);
  }
  void onBatchStarted(const sluice::BatchInfo& b) override {
    std::lock_guard lock(mu);
    events.push_back({"started", b.batch_time.milliseconds(), -1});
  }
  void onBatchCompleted(const sluice::BatchInfo& b) override {
    std::lock_guard lock(mu);
    events.push_back({"completed", b.batch_time.milliseconds(), -1});
    completed.push_back(b);
  }
  void onOutputOperationStarted(const sluice::OutputOperationInfo& o) override {
    std::lock_guard lock(mu);
    events.push_back({"opStarted", o.batch_time.milliseconds(), o.id});
  }
  void onOutputOperationCompleted(const sluice::OutputOperationInfo& o) override {
    std::lock_guard lock(mu);
    events.push_back({"opCompleted", o.batch_time.milliseconds(), o.id});
    ops_completed.push_back(o);
  }

  std::mutex mu;
  int streaming_started = 0;
  std::vector<sluice::ReceiverInfo> receivers_started, receiver_errors, receivers_stopped;
  std::vector<Event> events;
  std::vector<sluice::BatchInfo> submitted, completed;
  std::vector<sluice::OutputOperationInfo> ops_completed;
};

class ThrowingListener : public sluice::StreamingListener {
 public:
  void onBatchSubmitted(const sluice::BatchInfo&) override { throw std::runtime_error("oops"); }
  void onBatchCompleted(const sluice::BatchInfo&) override { throw std::runtime_error("oops"); }
};

class LifecycleTest : public ::testing::TestWithParam<std::string> {};

// ---------------------------------------------------------------------------------------------
// States and graph validation
// ---------------------------------------------------------------------------------------------

TEST_P(LifecycleTest, StatesGoInitializedActiveStopped) {
  Context sc(GetParam(), "states");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kInitialized);
  auto out = collectEach(ssc.queueStream(Batches{{1}, {2}}));
  EXPECT_EQ(ssc.getState(), StreamingContextState::kInitialized);
  ssc.start();
  EXPECT_EQ(ssc.getState(), StreamingContextState::kActive);
  ssc.start();  // already active: a warning, nothing else
  EXPECT_EQ(ssc.getState(), StreamingContextState::kActive);
  step(ssc, *clock);
  step(ssc, *clock);
  EXPECT_FALSE(ssc.awaitTerminationOrTimeout(0ms));
  ssc.stop(false);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
  EXPECT_TRUE(ssc.awaitTerminationOrTimeout(0ms));
  EXPECT_FALSE(sc.isStopped());
  EXPECT_EQ(out->all(), (std::vector<int>{1, 2}));
}

TEST_P(LifecycleTest, StartWithoutOutputOperationsThrows) {
  Context sc(GetParam(), "noOutputs");
  StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
  auto stream = ssc.queueStream(Batches{{1}}).map([](int x) { return x + 1; });
  try {
    ssc.start();
    FAIL() << "start() without output operations must throw";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_TRUE(contains(e.what(), "No output operations")) << e.what();
  }
  // A failed start leaves the context stopped (Spark).
  EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
  EXPECT_THROW(ssc.start(), sluice::IllegalStateError);
}

TEST_P(LifecycleTest, GraphCannotChangeAfterStart) {
  TempDir tmp("sluice_lifecycle");
  Context sc(GetParam(), "graphAfterStart");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto stream = ssc.queueStream(Batches{{1}});
  auto out = collectEach(stream);
  ssc.start();
  auto expect_active_error = [](const auto& f) {
    try {
      f();
      ADD_FAILURE() << "expected IllegalStateError";
    } catch (const sluice::IllegalStateError& e) {
      EXPECT_TRUE(contains(e.what(), "after starting a context is not supported")) << e.what();
    }
  };
  expect_active_error([&] { ssc.queueStream(Batches{{2}}); });
  expect_active_error([&] { ssc.socketTextStream("127.0.0.1", 9); });
  expect_active_error([&] { ssc.textFileStream(tmp.path().string()); });
  expect_active_error([&] { ssc.receiverStream<int>(std::make_shared<ManualReceiver>()); });
  expect_active_error([&] { stream.map([](int x) { return x; }); });
  expect_active_error([&] { stream.foreachRDD([](const RDD<int>&) {}); });
  expect_active_error([&] { stream.pprint(); });
  expect_active_error([&] { ssc.remember(10s); });
  step(ssc, *clock);  // the running graph is intact
  ssc.stop(false);
  EXPECT_EQ(out->all(), (std::vector<int>{1}));

  try {
    stream.foreachRDD([](const RDD<int>&) {});
    ADD_FAILURE() << "expected IllegalStateError";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_TRUE(contains(e.what(), "after stopping a context is not supported")) << e.what();
  }
  EXPECT_THROW(ssc.queueStream(Batches{{3}}), sluice::IllegalStateError);
}

TEST_P(LifecycleTest, StoppedContextCannotRestart) {
  Context sc(GetParam(), "noRestart");
  StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
  collectEach(ssc.queueStream(Batches{{1}}));
  ssc.start();
  ssc.stop(false);
  try {
    ssc.start();
    FAIL() << "a stopped context must not restart";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_TRUE(contains(e.what(), "already been stopped")) << e.what();
  }
  EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
}

TEST_P(LifecycleTest, OnlyOneActiveContextAtATime) {
  Context sc(GetParam(), "twoContexts");
  auto clock1 = std::make_shared<ManualClock>();
  auto clock2 = std::make_shared<ManualClock>();
  StreamingContext ssc1(sc, 1s, clock1);
  StreamingContext ssc2(sc, 1s, clock2);
  auto out1 = collectEach(ssc1.queueStream(Batches{{1}}));
  auto out2 = collectEach(ssc2.queueStream(Batches{{2}}));
  ssc1.start();
  EXPECT_THROW(ssc2.start(), sluice::IllegalStateError);
  EXPECT_EQ(ssc1.getState(), StreamingContextState::kActive);
  EXPECT_EQ(ssc2.getState(), StreamingContextState::kInitialized);
  step(ssc1, *clock1);
  ssc1.stop(false);
  // The first one stopped without stopping the Context: the second may start on it now.
  ssc2.start();
  EXPECT_EQ(ssc2.getState(), StreamingContextState::kActive);
  step(ssc2, *clock2);
  ssc2.stop(false);
  EXPECT_EQ(out1->all(), (std::vector<int>{1}));
  EXPECT_EQ(out2->all(), (std::vector<int>{2}));
}

TEST_P(LifecycleTest, StopTwiceAndStopBeforeStart) {
  Context sc(GetParam(), "stopTwice");
  {
    StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
    collectEach(ssc.queueStream(Batches{{1}}));
    ssc.stop(false);  // before start
    EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
    EXPECT_TRUE(ssc.awaitTerminationOrTimeout(0ms));
    EXPECT_THROW(ssc.start(), sluice::IllegalStateError);
    EXPECT_NO_THROW(ssc.stop(false));
  }
  {
    StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
    collectEach(ssc.queueStream(Batches{{1}}));
    ssc.start();
    EXPECT_NO_THROW(ssc.stop(false));
    EXPECT_NO_THROW(ssc.stop(false));
    EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
    EXPECT_FALSE(sc.isStopped());
    // stop(true) after stop(false) still stops the Context.
    ssc.stop(true);
    EXPECT_TRUE(sc.isStopped());
  }
}

TEST_P(LifecycleTest, StopStopsTheContextByDefault) {
  Context sc(GetParam(), "stopContext");
  StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
  collectEach(ssc.queueStream(Batches{{1}}));
  ssc.start();
  ssc.stop();
  EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
  EXPECT_TRUE(sc.isStopped());
}

TEST_P(LifecycleTest, AwaitTerminationReturnsWhenStoppedFromAnotherThread) {
  Context sc(GetParam(), "awaitTermination");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  collectEach(ssc.queueStream(Batches{{1}}));
  ssc.start();
  std::atomic<bool> returned{false};
  std::exception_ptr error;
  std::thread waiter([&] {
    try {
      ssc.awaitTermination();
      returned = true;
    } catch (...) {
      error = std::current_exception();
    }
  });
  step(ssc, *clock);
  EXPECT_FALSE(returned.load());
  ssc.stop(false);
  waiter.join();
  EXPECT_TRUE(returned.load());
  EXPECT_FALSE(error);
}

// ---------------------------------------------------------------------------------------------
// Failed batches
// ---------------------------------------------------------------------------------------------

TEST_P(LifecycleTest, FailingForeachRddDoesNotStopTheStream) {
  Context sc(GetParam(), "failingForeach");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto listener = std::make_shared<RecordingListener>();
  ssc.addStreamingListener(listener);
  auto stream = ssc.queueStream(Batches{{1}, {2}, {3}, {4}, {5}});
  auto seen = std::make_shared<Collected<int>>();
  stream.foreachRDD([seen](const RDD<int>& rdd, Time t) {
    auto v = rdd.collect();
    seen->add(t, v);
    if (v == std::vector<int>{2}) throw std::runtime_error("boom in foreachRDD");
  });
  auto after = collectEach(stream);  // the next output of the failed batch still runs
  ssc.start();
  for (int i = 0; i < 4; ++i) step(ssc, *clock);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kActive);
  EXPECT_EQ(seen->all(), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(after->all(), (std::vector<int>{1, 2, 3, 4}));

  try {
    ssc.awaitTerminationOrTimeout(0ms);
    FAIL() << "the batch error must be rethrown";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "boom in foreachRDD")) << e.what();
  }
  // Rethrown once; the stream goes on.
  EXPECT_FALSE(ssc.awaitTerminationOrTimeout(0ms));
  step(ssc, *clock);
  EXPECT_EQ(seen->all(), (std::vector<int>{1, 2, 3, 4, 5}));
  ssc.stop(false);
  EXPECT_TRUE(ssc.awaitTerminationOrTimeout(0ms));

  std::lock_guard lock(listener->mu);
  int failed = 0;
  for (const auto& op : listener->ops_completed) {
    if (op.failure_reason) {
      ++failed;
      EXPECT_EQ(op.batch_time, Time(2000));
      EXPECT_EQ(op.id, 0);
      EXPECT_TRUE(contains(*op.failure_reason, "boom in foreachRDD")) << *op.failure_reason;
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(listener->completed.size(), 5u);
}

TEST_P(LifecycleTest, FailingTaskInMapDoesNotStopTheStream) {
  Context sc(GetParam(), "failingMap");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto out = collectEach(ssc.queueStream(Batches{{1}, {2, 20}, {3}, {4}}).map([](int x) {
    if (x == 2) throw std::runtime_error("bad record 2");
    return x * 10;
  }));
  ssc.start();
  for (int i = 0; i < 4; ++i) step(ssc, *clock);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kActive);
  EXPECT_EQ(out->times(), (std::vector<std::int64_t>{1000, 3000, 4000}));
  EXPECT_EQ(out->all(), (std::vector<int>{10, 30, 40}));
  ssc.stop(false);
  // Reported even after the stop, then cleared.
  try {
    ssc.awaitTerminationOrTimeout(0ms);
    FAIL() << "the task error must be rethrown";
  } catch (const sluice::JobFailedError& e) {
    EXPECT_TRUE(contains(e.what(), "bad record 2")) << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "bad record 2")) << e.what();
  }
  EXPECT_TRUE(ssc.awaitTerminationOrTimeout(0ms));
}

TEST_P(LifecycleTest, StopFromInsideABatchIsRefused) {
  Context sc(GetParam(), "stopInBatch");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto refused = std::make_shared<std::atomic<int>>(0);
  ssc.queueStream(Batches{{1}, {2}}).foreachRDD([&ssc, refused](const RDD<int>&) {
    try {
      ssc.stop(false);
    } catch (const sluice::IllegalStateError&) {
      ++*refused;
    }
  });
  ssc.start();
  step(ssc, *clock);
  step(ssc, *clock);
  EXPECT_EQ(refused->load(), 2);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kActive);
  ssc.stop(false);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
}

TEST_P(LifecycleTest, ErrorInJobGenerationIsRethrownAndLaterBatchesRun) {
  Context sc(GetParam(), "failingGeneration");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto out = collectEach(
      ssc.queueStream(Batches{{1}, {2}, {3}}).transform([](const RDD<int>& rdd, Time t) {
        if (t == Time(2000)) throw std::runtime_error("cannot generate 2000");
        return rdd;
      }));
  ssc.start();
  std::exception_ptr error;
  std::thread waiter([&] {
    try {
      ssc.awaitTermination();
    } catch (...) {
      error = std::current_exception();
    }
  });
  for (int i = 0; i < 3; ++i) step(ssc, *clock);
  waiter.join();  // awaitTermination returns with the error while the stream still runs
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    EXPECT_TRUE(contains(e.what(), "cannot generate 2000")) << e.what();
  }
  EXPECT_EQ(ssc.getState(), StreamingContextState::kActive);
  EXPECT_EQ(out->times(), (std::vector<std::int64_t>{1000, 3000}));
  EXPECT_EQ(out->all(), (std::vector<int>{1, 3}));
  ssc.stop(false);
}

// ---------------------------------------------------------------------------------------------
// Listener events
// ---------------------------------------------------------------------------------------------

TEST_P(LifecycleTest, ListenerSeesBatchEventsInOrderWithRecordCounts) {
  Context sc(GetParam(), "listenerBatches");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto listener = std::make_shared<RecordingListener>();
  ssc.addStreamingListener(std::make_shared<ThrowingListener>());  // logged and ignored
  ssc.addStreamingListener(listener);
  auto receiver = std::make_shared<ManualReceiver>();
  auto stream = ssc.receiverStream<int>(receiver);
  auto counts = collectEach(stream.count());
  auto doubled = collectEach(stream.map([](int x) { return 2 * x; }));
  ssc.start();
  ASSERT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(kDeadline));  // events are asynchronous
  {
    std::lock_guard lock(listener->mu);
    EXPECT_EQ(listener->streaming_started, 1);
  }
  const std::vector<int> sizes{10, 20, 0};
  std::vector<std::int64_t> times;
  for (int n : sizes) {
    if (n > 0) receiver->store(range(1, n));
    times.push_back(step(ssc, *clock).milliseconds());
  }
  ssc.stop(false);
  EXPECT_EQ(counts->all(), (std::vector<long long>{10, 20, 0}));
  EXPECT_EQ(doubled->batch(times[0]).size(), 10u);

  std::lock_guard lock(listener->mu);
  std::vector<Event> expected;
  for (auto t : times) {
    expected.push_back({"submitted", t, -1});
    expected.push_back({"started", t, -1});
    expected.push_back({"opStarted", t, 0});
    expected.push_back({"opCompleted", t, 0});
    expected.push_back({"opStarted", t, 1});
    expected.push_back({"opCompleted", t, 1});
    expected.push_back({"completed", t, -1});
  }
  EXPECT_EQ(listener->events, expected);

  ASSERT_EQ(listener->completed.size(), sizes.size());
  ASSERT_EQ(listener->submitted.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto& b = listener->completed[i];
    EXPECT_EQ(b.batch_time, Time(times[i]));
    EXPECT_EQ(b.numRecords(), sizes[i]);
    EXPECT_EQ(listener->submitted[i].numRecords(), sizes[i]);
    ASSERT_TRUE(b.stream_id_to_num_records.contains(stream.id()));
    EXPECT_EQ(b.stream_id_to_num_records.at(stream.id()), sizes[i]);
    ASSERT_TRUE(b.schedulingDelay().has_value());
    ASSERT_TRUE(b.processingDelay().has_value());
    ASSERT_TRUE(b.totalDelay().has_value());
    EXPECT_GE(*b.schedulingDelay(), 0);
    EXPECT_GE(*b.processingDelay(), 0);
    EXPECT_GE(*b.totalDelay(), 0);
    EXPECT_GE(*b.processing_start_time_ms, b.submission_time_ms);
    ASSERT_EQ(b.output_operation_infos.size(), 2u);
    for (const auto& [id, op] : b.output_operation_infos) {
      EXPECT_EQ(op.id, id);
      EXPECT_EQ(op.batch_time, b.batch_time);
      EXPECT_EQ(op.name, "foreachRDD");
      ASSERT_TRUE(op.start_time_ms && op.end_time_ms);
      EXPECT_GE(*op.end_time_ms, *op.start_time_ms);
      EXPECT_FALSE(op.failure_reason);
    }
  }
}

// A listener stuck in a callback holds up only the bus thread: batches go on, their events wait
// in the queue, and the listener gets every one of them, in order, once it returns.
class BlockedListener : public sluice::StreamingListener {
 public:
  void onBatchCompleted(const sluice::BatchInfo& b) override {
    std::unique_lock lock(mu);
    completed.push_back(b.batch_time.milliseconds());
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  }
  void release() {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::vector<std::int64_t> completed;
};

TEST_P(LifecycleTest, ABlockedListenerDoesNotStallBatches) {
  Context sc(GetParam(), "blockedListener");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto listener = std::make_shared<BlockedListener>();
  ssc.addStreamingListener(listener);
  auto out = collectEach(ssc.queueStream(Batches{{1}, {2}, {3}, {4}, {5}}));
  ssc.start();
  std::vector<std::int64_t> times{step(ssc, *clock).milliseconds()};
  {
    std::unique_lock lock(listener->mu);  // the listener is now stuck in its first callback
    ASSERT_TRUE(
        listener->cv.wait_for(lock, kDeadline, [&] { return !listener->completed.empty(); }));
  }
  for (int i = 0; i < 4; ++i) times.push_back(step(ssc, *clock).milliseconds());
  EXPECT_EQ(out->all(), (std::vector<int>{1, 2, 3, 4, 5}));  // all ran while it was blocked
  {
    std::lock_guard lock(listener->mu);
    EXPECT_EQ(listener->completed.size(), 1u);
  }
  listener->release();
  ssc.stop(false);  // returns once the queued events are delivered
  std::lock_guard lock(listener->mu);
  EXPECT_EQ(listener->completed, times);
}

TEST_P(LifecycleTest, ListenerSeesReceiverStartErrorAndStop) {
  Context sc(GetParam(), "listenerReceivers");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto listener = std::make_shared<RecordingListener>();
  ssc.addStreamingListener(listener);
  auto receiver = std::make_shared<ManualReceiver>();
  auto stream = ssc.receiverStream<int>(receiver);
  collectEach(stream);
  ssc.start();
  ASSERT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(kDeadline));
  {
    std::lock_guard lock(listener->mu);
    ASSERT_EQ(listener->receivers_started.size(), 1u);
    EXPECT_EQ(listener->receivers_started[0].stream_id, stream.id());
    EXPECT_EQ(listener->receivers_started[0].name, "ManualReceiver");
    EXPECT_TRUE(listener->receivers_started[0].active);
    EXPECT_TRUE(listener->receivers_stopped.empty());
  }
  clock->advance(500);  // before the first batch (at 1000)
  receiver->reportError("disk on fire");
  clock->advance(500);
  ASSERT_TRUE(ssc.core()->waitForBatch(Time(1000), kDeadline));
  ssc.stop(false);
  std::lock_guard lock(listener->mu);
  ASSERT_EQ(listener->receiver_errors.size(), 1u);
  EXPECT_EQ(listener->receiver_errors[0].last_error_message, "disk on fire");
  EXPECT_EQ(listener->receiver_errors[0].last_error_time_ms, 500);
  EXPECT_EQ(listener->receiver_errors[0].stream_id, stream.id());
  ASSERT_EQ(listener->receivers_stopped.size(), 1u);
  EXPECT_EQ(listener->receivers_stopped[0].stream_id, stream.id());
  EXPECT_EQ(listener->receivers_stopped[0].name, "ManualReceiver");
  EXPECT_FALSE(listener->receivers_stopped[0].active);
}

// ---------------------------------------------------------------------------------------------
// Graceful stop
// ---------------------------------------------------------------------------------------------

TEST_P(LifecycleTest, GracefulStopProcessesEverythingReceived) {
  Context sc(GetParam(), "gracefulFixed");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  constexpr int kRecords = 5000;
  auto receiver = std::make_shared<FixedCountReceiver>(kRecords);
  auto out = collectEach(ssc.receiverStream<int>(receiver));
  ssc.start();
  ASSERT_TRUE(receiver->waitDone());
  const std::int64_t clock_before = clock->nowMs();
  ssc.stop(false, true);  // without advancing the clock
  EXPECT_EQ(clock->nowMs(), clock_before);
  EXPECT_EQ(ssc.getState(), StreamingContextState::kStopped);
  auto all = out->all();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kRecords));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, range(0, kRecords - 1));
}

TEST_P(LifecycleTest, GracefulStopWhileReceivingCountsReceivedEqualsProcessed) {
  Context sc(GetParam(), "gracefulContinuous");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("spark.streaming.blockInterval", "100ms");
  auto receiver = std::make_shared<ContinuousReceiver>();
  auto processed = std::make_shared<std::atomic<long long>>(0);
  auto sum = std::make_shared<std::atomic<long long>>(0);
  ssc.receiverStream<long long>(receiver).foreachRDD([processed, sum](const RDD<long long>& rdd) {
    long long s = 0;
    auto v = rdd.collect();
    for (auto x : v) s += x;
    *processed += static_cast<long long>(v.size());
    *sum += s;
  });
  ssc.start();
  ASSERT_TRUE(receiver->waitStored(1000));
  step(ssc, *clock);  // part of it in an ordinary batch
  ssc.stop(false, true);
  const long long received = receiver->stored();
  EXPECT_GE(received, 1000);
  EXPECT_EQ(processed->load(), received);
  EXPECT_EQ(sum->load(), received * (received - 1) / 2);  // each record exactly once
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

TEST(StreamingConfTest, SetBySparkKeys) {
  Context sc("local[2]", "conf");
  StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
  auto& conf = ssc.conf();
  conf.set("spark.streaming.blockInterval", "100ms");
  EXPECT_EQ(conf.block_interval, 100ms);
  conf.set("spark.streaming.blockInterval", "2s");
  EXPECT_EQ(conf.block_interval, 2000ms);
  conf.set("spark.streaming.blockInterval", "250");
  EXPECT_EQ(conf.block_interval, 250ms);
  conf.set("spark.streaming.receiverRestartDelay", "50ms");
  EXPECT_EQ(conf.receiver_restart_delay, 50ms);
  conf.set("spark.streaming.gracefulStopTimeout", "5s");
  ASSERT_TRUE(conf.graceful_stop_timeout.has_value());
  EXPECT_EQ(*conf.graceful_stop_timeout, 5000ms);
  conf.set("spark.streaming.fileStream.minRememberDuration", "2min");
  EXPECT_EQ(conf.file_min_remember, 120000ms);
  conf.set("spark.streaming.receiver.maxRate", "1000");
  EXPECT_DOUBLE_EQ(conf.receiver_max_rate, 1000.0);
  conf.set("spark.streaming.unpersist", "false");
  EXPECT_FALSE(conf.unpersist);
  conf.set("spark.streaming.stopGracefullyOnShutdown", "true");
  EXPECT_TRUE(conf.stop_gracefully_on_shutdown);
  EXPECT_NO_THROW(conf.set("spark.streaming.concurrentJobs", "1"));

  EXPECT_THROW(conf.set("spark.streaming.concurrentJobs", "2"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.concurrentJobs", "0"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.noSuchKey", "1"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.blockinterval", "100ms"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.blockInterval", "fast"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.blockInterval", "10 parsecs"),
               sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.blockInterval", "0ms"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.unpersist", "yes"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.streaming.receiver.maxRate", "lots"), sluice::InvalidArgumentError);
  // A rejected value leaves the setting as it was.
  EXPECT_EQ(conf.block_interval, 250ms);
}

// ---------------------------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------------------------

TEST_P(LifecycleTest, PprintPrintsPythonStyleBatches) {
  Context sc(GetParam(), "pprint");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  ssc.queueStream(Batches{range(1, 12), {7}}).pprint();  // num defaults to 10
  ssc.start();
  testing::internal::CaptureStdout();
  step(ssc, *clock);
  std::string first = testing::internal::GetCapturedStdout();
  testing::internal::CaptureStdout();
  step(ssc, *clock);
  step(ssc, *clock);  // drained: the default RDD, empty, prints its header
  std::string rest = testing::internal::GetCapturedStdout();
  ssc.stop(false);

  std::vector<std::string> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(std::to_string(i));
  EXPECT_EQ(first, expectedPrint("Time: " + localTime(1), ten, true));
  EXPECT_EQ(rest, expectedPrint("Time: " + localTime(2), {"7"}, false) +
                      expectedPrint("Time: " + localTime(3), {}, false));
}

// PySpark's queueStream(rdds) over a drained queue: every later batch is Spark's empty default
// RDD, so pprint prints a header and a blank line for each, through a transform too (the
// bad_customers shape); only an explicit null default (Scala's) leaves batches without an RDD,
// which print nothing.
TEST_P(LifecycleTest, PprintPrintsAHeaderForEachDrainedBatch) {
  Context sc(GetParam(), "pprintDrained");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto joined = sc.parallelize(std::vector<std::pair<int, int>>{{1, 10}, {2, 20}});
  ssc.queueStream(Batches{{1}, {2}})
      .map([](int x) { return std::pair<int, int>(x, x); })
      .transform([joined](const RDD<std::pair<int, int>>& rdd) { return rdd.join(joined); })
      .map([](const auto& kv) { return kv.second.second; })
      .pprint();
  std::deque<RDD<int>> queue;
  queue.push_back(sc.parallelize(std::vector<int>{5}, 1));
  ssc.queueStream(std::move(queue), true, std::optional<RDD<int>>())
      .map([](int x) { return x * 100; })
      .pprint();
  ssc.start();
  testing::internal::CaptureStdout();
  for (int i = 0; i < 4; ++i) step(ssc, *clock);
  std::string text = testing::internal::GetCapturedStdout();
  ssc.stop(false);
  EXPECT_EQ(text, expectedPrint("Time: " + localTime(1), {"10"}, false) +
                      expectedPrint("Time: " + localTime(1), {"500"}, false) +
                      expectedPrint("Time: " + localTime(2), {"20"}, false) +
                      expectedPrint("Time: " + localTime(3), {}, false) +
                      expectedPrint("Time: " + localTime(4), {}, false));
}

TEST_P(LifecycleTest, PprintShowsMillisecondsAsMicroseconds) {
  Context sc(GetParam(), "pprintMillis");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1500ms, clock);
  ssc.queueStream(Batches{{1, 2}, {3}}).pprint(2);
  ssc.start();
  testing::internal::CaptureStdout();
  step(ssc, *clock);  // 1500 ms
  step(ssc, *clock);  // 3000 ms
  std::string text = testing::internal::GetCapturedStdout();
  ssc.stop(false);
  EXPECT_EQ(text, expectedPrint("Time: " + localTime(1) + ".500000", {"1", "2"}, false) +
                      expectedPrint("Time: " + localTime(3), {"3"}, false));
}

TEST_P(LifecycleTest, PrintUsesMillisecondTimesAndPrintsEmptyBatches) {
  Context sc(GetParam(), "print");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  ssc.queueStream(Batches{{1, 2, 3}, {4, 5, 6, 7}}, true, std::optional(std::vector<int>{}))
      .print(3);
  ssc.start();
  testing::internal::CaptureStdout();
  for (int i = 0; i < 3; ++i) step(ssc, *clock);
  std::string text = testing::internal::GetCapturedStdout();
  ssc.stop(false);
  EXPECT_EQ(text, expectedPrint("Time: 1000 ms", {"1", "2", "3"}, false) +
                      expectedPrint("Time: 2000 ms", {"4", "5", "6"}, true) +
                      expectedPrint("Time: 3000 ms", {}, false));
}

std::vector<std::string> sortedNames(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string readParts(const fs::path& dir) {
  std::string all;
  for (const auto& name : sortedNames(dir)) {
    if (name.rfind("part-", 0) != 0) continue;
    std::ifstream f(dir / name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    all += ss.str();
  }
  return all;
}

TEST_P(LifecycleTest, SaveAsTextFilesWritesOneDirectoryPerBatch) {
  TempDir tmp("sluice_lifecycle");
  Context sc(GetParam(), "saveAsTextFiles");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  std::deque<RDD<int>> queue;
  queue.push_back(sc.parallelize(std::vector<int>{1, 2, 3}, 2));
  queue.push_back(sc.parallelize(std::vector<int>{4, 5}, 3));
  auto stream =
      ssc.queueStream(std::move(queue), true, std::optional(sc.parallelize(std::vector<int>{}, 1)));
  const std::string with_suffix = (tmp.path() / "out").string();
  const std::string plain = (tmp.path() / "plain").string();
  stream.saveAsTextFiles(with_suffix, "txt");
  stream.saveAsTextFiles(plain);
  ssc.start();
  for (int i = 0; i < 3; ++i) step(ssc, *clock);
  ssc.stop(false);
  ssc.core()->rethrowError();

  EXPECT_EQ(sortedNames(tmp.path()),
            (std::vector<std::string>{"out-1000.txt", "out-2000.txt", "out-3000.txt", "plain-1000",
                                      "plain-2000", "plain-3000"}));
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected_files{
      {"1000", {"_SUCCESS", "part-00000", "part-00001"}},
      {"2000", {"_SUCCESS", "part-00000", "part-00001", "part-00002"}},
      {"3000", {"_SUCCESS", "part-00000"}}};
  const std::map<std::string, std::string> contents{
      {"1000", "1\n2\n3\n"}, {"2000", "4\n5\n"}, {"3000", ""}};
  for (const auto& [ms, files] : expected_files) {
    for (const fs::path dir : {tmp.path() / ("out-" + ms + ".txt"), tmp.path() / ("plain-" + ms)}) {
      ASSERT_TRUE(fs::is_directory(dir)) << dir;
      EXPECT_EQ(sortedNames(dir), files) << dir;
      EXPECT_EQ(readParts(dir), contents.at(ms)) << dir;
    }
  }
}

SLUICE_RECEIVER_MASTERS(LifecycleTest);

}  // namespace
