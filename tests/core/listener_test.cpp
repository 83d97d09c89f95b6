// The listener bus (ordering, bounded queue, drops, stop) and the job, stage and task events the
// batch engine posts through it.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sluice/sluice.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/listener_bus.hpp"
#include "core/test_util.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::Context;
using sluice::JobInfo;
using sluice::StageInfo;
using sluice::TaskInfo;
using sluice::detail::JobStartEvent;
using sluice::detail::ListenerBus;

constexpr auto kDeadline = 60s;

JobStartEvent jobStart(int id) {
  JobStartEvent e;
  e.job.job_id = id;
  return e;
}

// A gate a listener callback can wait at, and the test can wait for it to be reached.
class Gate {
 public:
  void arriveAndWait() {
    std::unique_lock lock(mu_);
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool waitForArrival() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return arrived_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool arrived_ = false;
  bool open_ = false;
};

class JobIdRecorder : public sluice::SparkListener {
 public:
  explicit JobIdRecorder(Gate* gate_at_first = nullptr) : gate_(gate_at_first) {}
  void onJobStart(const JobInfo& job) override {
    {
      std::lock_guard lock(mu);
      ids.push_back(job.job_id);
      if (ids.size() > 1 || gate_ == nullptr) return;
    }
    gate_->arriveAndWait();
  }
  std::vector<int> seen() {
    std::lock_guard lock(mu);
    return ids;
  }

  std::mutex mu;
  std::vector<int> ids;

 private:
  Gate* gate_;
};

TEST(ListenerBus, DeliversEventsToEachListenerInPostingOrder) {
  ListenerBus bus(100000);
  auto a = std::make_shared<JobIdRecorder>();
  auto b = std::make_shared<JobIdRecorder>();
  bus.addListener(a);
  bus.addListener(b);
  std::vector<int> expected;
  for (int i = 0; i < 20000; ++i) {
    bus.post(jobStart(i));
    expected.push_back(i);
  }
  ASSERT_TRUE(bus.waitUntilEmpty(kDeadline));
  EXPECT_EQ(a->seen(), expected);
  EXPECT_EQ(b->seen(), expected);
  EXPECT_EQ(bus.droppedEvents(), 0);
}

TEST(ListenerBus, AFullQueueDropsAndCountsInsteadOfBlocking) {
  Gate gate;
  ListenerBus bus(3);
  auto slow = std::make_shared<JobIdRecorder>(&gate);
  bus.addListener(slow);
  bus.post(jobStart(0));
  ASSERT_TRUE(gate.waitForArrival());  // event 0 is being delivered; the queue is empty
  for (int i = 1; i <= 5; ++i) bus.post(jobStart(i));  // 1..3 fit, 4 and 5 do not
  EXPECT_EQ(bus.droppedEvents(), 2);
  gate.open();
  ASSERT_TRUE(bus.waitUntilEmpty(kDeadline));
  EXPECT_EQ(slow->seen(), (std::vector<int>{0, 1, 2, 3}));
  bus.post(jobStart(6));  // room again
  ASSERT_TRUE(bus.waitUntilEmpty(kDeadline));
  EXPECT_EQ(slow->seen(), (std::vector<int>{0, 1, 2, 3, 6}));
  EXPECT_EQ(bus.droppedEvents(), 2);
}

TEST(ListenerBus, StopDeliversWhatIsQueuedAndIgnoresLaterPosts) {
  Gate gate;
  ListenerBus bus;
  auto slow = std::make_shared<JobIdRecorder>(&gate);
  bus.addListener(slow);
  bus.post(jobStart(0));
  ASSERT_TRUE(gate.waitForArrival());
  for (int i = 1; i < 100; ++i) bus.post(jobStart(i));
  gate.open();
  bus.stop();
  EXPECT_EQ(slow->seen().size(), 100u);
  bus.post(jobStart(100));
  bus.stop();  // idempotent
  EXPECT_EQ(slow->seen().size(), 100u);
  EXPECT_EQ(bus.droppedEvents(), 0);
}

class StoppingListener : public sluice::SparkListener {
 public:
  explicit StoppingListener(ListenerBus& bus) : bus_(bus) {}
  void onJobStart(const JobInfo&) override {
    try {
      bus_.stop();
    } catch (const sluice::IllegalStateError& e) {
      std::lock_guard lock(mu);
      error = e.what();
    }
  }
  std::mutex mu;
  std::string error;

 private:
  ListenerBus& bus_;
};

TEST(ListenerBus, StopFromAListenerIsRefusedInsteadOfDeadlocking) {
  ListenerBus bus;
  auto stopper = std::make_shared<StoppingListener>(bus);
  bus.addListener(stopper);
  bus.post(jobStart(0));
  ASSERT_TRUE(bus.waitUntilEmpty(kDeadline));
  std::lock_guard lock(stopper->mu);
  EXPECT_NE(stopper->error.find("listener"), std::string::npos) << stopper->error;
}

class ThrowingListener : public sluice::SparkListener {
 public:
  void onJobStart(const JobInfo&) override { throw std::runtime_error("listener bug"); }
};

TEST(ListenerBus, AThrowingListenerDoesNotStopTheOthers) {
  ListenerBus bus;
  auto recorder = std::make_shared<JobIdRecorder>();
  bus.addListener(std::make_shared<ThrowingListener>());
  bus.addListener(recorder);
  bus.post(jobStart(1));
  bus.post(jobStart(2));
  ASSERT_TRUE(bus.waitUntilEmpty(kDeadline));
  EXPECT_EQ(recorder->seen(), (std::vector<int>{1, 2}));
}

TEST(ListenerBus, WithoutListenersNothingIsQueued) {
  ListenerBus bus(1);
  EXPECT_FALSE(bus.hasListeners());
  for (int i = 0; i < 10; ++i) bus.post(jobStart(i));
  EXPECT_EQ(bus.droppedEvents(), 0);
  EXPECT_TRUE(bus.waitUntilEmpty(0ms));
}

// Everything the engine reports, in delivery order.
class EventLog : public sluice::SparkListener {
 public:
  void onJobStart(const JobInfo& j) override {
    add("jobStart", [&] { job_starts.push_back(j); });
  }
  void onJobEnd(const JobInfo& j) override {
    add("jobEnd", [&] { job_ends.push_back(j); });
  }
  void onStageSubmitted(const StageInfo& s) override {
    add("stageSubmitted", [&] { stages_submitted.push_back(s); });
  }
  void onStageCompleted(const StageInfo& s) override {
    add("stageCompleted", [&] { stages_completed.push_back(s); });
  }
  void onTaskStart(const TaskInfo& t) override {
    add("taskStart", [&] { task_starts.push_back(t); });
  }
  void onTaskEnd(const TaskInfo& t) override {
    add("taskEnd", [&] { task_ends.push_back(t); });
  }

  std::vector<std::string> kinds;
  std::vector<JobInfo> job_starts, job_ends;
  std::vector<StageInfo> stages_submitted, stages_completed;
  std::vector<TaskInfo> task_starts, task_ends;

 private:
  template <class F>
  void add(const char* kind, F f) {
    kinds.emplace_back(kind);
    f();
  }
};

class JobEvents : public sluice::testing_util::MasterTest {
 protected:
  // Delivers what was posted; the log is then read on this thread only.
  std::shared_ptr<EventLog> drained() {
    EXPECT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(kDeadline));
    return log;
  }
  std::shared_ptr<EventLog> log = [this] {
    auto l = std::make_shared<EventLog>();
    sc.addSparkListener(l);
    return l;
  }();
};

TEST_P(JobEvents, AShuffleJobReportsItsStagesTasksAndRecordCounts) {
  std::vector<std::pair<int, int>> data;
  for (int i = 0; i < 1000; ++i) data.emplace_back(i % 7, 1);
  auto counts = sc.parallelize(data, 5).reduceByKey([](int a, int b) { return a + b; }, 3);
  EXPECT_EQ(counts.collect().size(), 7u);
  auto events = drained();

  ASSERT_EQ(events->job_starts.size(), 1u);
  ASSERT_EQ(events->job_ends.size(), 1u);
  const JobInfo& job = events->job_ends[0];
  EXPECT_EQ(job.job_id, events->job_starts[0].job_id);
  EXPECT_EQ(job.description, "collect");
  EXPECT_FALSE(job.failure_reason);
  ASSERT_TRUE(job.completion_time_ms);
  EXPECT_GE(*job.completion_time_ms, job.submission_time_ms);

  ASSERT_EQ(events->stages_completed.size(), 2u);
  const StageInfo& map = events->stages_completed[0];
  const StageInfo& result = events->stages_completed[1];
  EXPECT_EQ(job.stage_ids, (std::vector<int>{map.stage_id, result.stage_id}));
  EXPECT_EQ(map.name, "shuffle map");
  EXPECT_EQ(map.job_id, job.job_id);
  EXPECT_EQ(map.num_tasks, 5);
  EXPECT_EQ(result.num_tasks, 3);
  EXPECT_EQ(map.metrics.records_read, 1000);
  // The map side combines: at most 7 keys per map task leave it.
  EXPECT_GT(map.metrics.shuffle_records_written, 0);
  EXPECT_LE(map.metrics.shuffle_records_written, 5 * 7);
  EXPECT_EQ(result.metrics.shuffle_records_read, map.metrics.shuffle_records_written);
  EXPECT_EQ(map.num_failed_tasks + result.num_failed_tasks, 0);

  EXPECT_EQ(events->task_starts.size(), 8u);
  ASSERT_EQ(events->task_ends.size(), 8u);
  long long read = 0;
  for (const auto& t : events->task_ends) {
    ASSERT_TRUE(t.finish_time_ms);
    EXPECT_GE(*t.finish_time_ms, t.launch_time_ms);
    EXPECT_FALSE(t.failure_reason);
    if (t.stage_id == map.stage_id) read += t.metrics.records_read;
  }
  EXPECT_EQ(read, 1000);

  // A stage's tasks come between its submission and completion; the job's events frame all.
  const auto& k = events->kinds;
  EXPECT_EQ(k.front(), "jobStart");
  EXPECT_EQ(k.back(), "jobEnd");
  EXPECT_EQ(k[1], "stageSubmitted");
  EXPECT_EQ(std::count(k.begin(), k.end(), "stageCompleted"), 2);
}

TEST_P(JobEvents, AFailedTaskFailsItsStageAndJobWithTheMessage) {
  auto rdd = sc.parallelize(std::vector<int>{1, 2, 3, 4}, 4).map([](int x) {
    if (x == 3) throw std::runtime_error("bad record 3");
    return x;
  });
  EXPECT_THROW(rdd.collect(), sluice::JobFailedError);
  auto events = drained();
  ASSERT_EQ(events->job_ends.size(), 1u);
  ASSERT_TRUE(events->job_ends[0].failure_reason);
  EXPECT_NE(events->job_ends[0].failure_reason->find("bad record 3"), std::string::npos);
  ASSERT_EQ(events->stages_completed.size(), 1u);
  const auto& stage = events->stages_completed[0];
  ASSERT_TRUE(stage.failure_reason);
  EXPECT_NE(stage.failure_reason->find("bad record 3"), std::string::npos);
  EXPECT_GE(stage.num_failed_tasks, 1);
  ASSERT_EQ(events->task_ends.size(), 4u);
  int with_message = 0;
  for (const auto& t : events->task_ends) {
    if (t.failure_reason && t.failure_reason->find("bad record 3") != std::string::npos) {
      ++with_message;
      EXPECT_EQ(t.partition, 2);
    }
  }
  EXPECT_EQ(with_message, 1);
}

TEST_P(JobEvents, JobsCarryTheSubmittingThreadsLocalProperties) {
  sc.setLocalProperty("callSite", "word count");
  EXPECT_EQ(sc.getLocalProperty("callSite"), "word count");
  sc.parallelize(std::vector<int>{1, 2, 3}).count();
  sc.setLocalProperty("callSite", std::nullopt);
  EXPECT_FALSE(sc.getLocalProperty("callSite"));
  sc.parallelize(std::vector<int>{1, 2, 3}).count();
  auto events = drained();
  ASSERT_EQ(events->job_starts.size(), 2u);
  EXPECT_EQ(events->job_starts[0].properties.at("callSite"), "word count");
  EXPECT_FALSE(events->job_starts[1].properties.contains("callSite"));
  EXPECT_EQ(events->job_starts[0].description, "count");
}

TEST_P(JobEvents, SaveAsTextFileReportsRecordsAndBytesWritten) {
  sluice::testing_util::TempDir dir("sluice_listener");
  const auto out = (dir.path() / "out").string();
  sc.parallelize(std::vector<std::string>{"a", "bb", "ccc"}, 2).saveAsTextFile(out);
  auto events = drained();
  ASSERT_EQ(events->stages_completed.size(), 1u);
  EXPECT_EQ(events->stages_completed[0].metrics.records_written, 3);
  EXPECT_EQ(events->stages_completed[0].metrics.bytes_written, 2 + 3 + 4);
}

TEST_P(JobEvents, TextFileReportsLinesAndBytesRead) {
  sluice::testing_util::TempDir dir("sluice_listener");
  const auto file = dir.path() / "in.txt";
  {
    std::ofstream f(file);
    f << "one\ntwo\nthree\n";
  }
  EXPECT_EQ(sc.textFile(file.string(), 2).count(), 3);
  auto events = drained();
  ASSERT_EQ(events->stages_completed.size(), 1u);
  EXPECT_EQ(events->stages_completed[0].metrics.records_read, 3);
  EXPECT_EQ(events->stages_completed[0].metrics.bytes_read, 14);
}

SLUICE_ALL_MASTERS(JobEvents);

}  // namespace
