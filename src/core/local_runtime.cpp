#include "core/local_runtime.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <mutex>
#include <sluice/error.hpp>
#include <thread>

namespace sluice::detail {
namespace {

// libtbb is not built with ThreadSanitizer, so TSan cannot see how TBB orders the hand-off of a
// task from the thread that made it to the thread that runs it, the reuse of a finished task's
// memory, or the end of parallel_for. StageBody states that ordering: every copy of it (TBB copies
// the body into each task it hands over, on whichever thread splits the range) and every call
// acquires one sync object before touching anything and releases it when done, and the caller
// acquires it after parallel_for. Tasks running at the same time stay unordered, so TSan still
// checks the engine's own sharing between them. The sync object is a global because a copy must
// reach it before reading anything; the price is that stages of different threads are ordered
// with each other too.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
char stage_sync;
void acquireStage() { __tsan_acquire(&stage_sync); }
void releaseStage() { __tsan_release(&stage_sync); }
#else
void acquireStage() {}
void releaseStage() {}
#endif

// The parallel_for body of a stage: runs run_task(i) for each task index of its range.
template <class RunTask>
class StageBody {
 public:
  explicit StageBody(const RunTask& run_task) : run_task_(&run_task) { releaseStage(); }
  // No member initializer: nothing may be written before acquireStage().
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  StageBody(const StageBody& other) {
    acquireStage();
    run_task_ = other.run_task_;
    releaseStage();
  }
  StageBody& operator=(const StageBody&) = delete;

  void operator()(const tbb::blocked_range<int>& range) const {
    acquireStage();
    for (int i = range.begin(); i != range.end(); ++i) (*run_task_)(i);
    releaseStage();
  }

 private:
  const RunTask* run_task_;
};

}  // namespace

LocalRuntime::LocalRuntime(int parallelism)
    : parallelism_(parallelism),
      thread_limit_(tbb::global_control::max_allowed_parallelism,
                    static_cast<std::size_t>(std::max<int>(
                        parallelism, static_cast<int>(std::thread::hardware_concurrency())))),
      arena_(parallelism),
      progress_bar_(ConsoleProgressBar::createIfTerminal()) {}

void LocalRuntime::stop() {
  stopped_.store(true);
  progress_bar_.reset();
}

void LocalRuntime::runStage(std::string_view description, std::span<const int> partitions,
                            const TaskFunction& task) {
  checkActive();
  const int stage_id = next_stage_id_.fetch_add(1);
  const int num_tasks = static_cast<int>(partitions.size());
  auto status = std::make_shared<StageStatus>();
  status->stage_id = stage_id;
  status->total = num_tasks;
  if (progress_bar_) progress_bar_->add(status);

  std::atomic<bool> cancelled{false};
  std::mutex failure_mu;
  std::exception_ptr failure;
  int failed_partition = -1;

  auto run_task = [&](int i) {
    if (cancelled.load(std::memory_order_relaxed)) return;
    TaskContext tc{this, stage_id, partitions[static_cast<std::size_t>(i)], &cancelled};
    status->running.fetch_add(1, std::memory_order_relaxed);
    try {
      task(tc, i);
    } catch (...) {
      std::lock_guard lock(failure_mu);
      if (!failure) {
        failure = std::current_exception();
        failed_partition = tc.partition;
      }
      cancelled.store(true);
    }
    status->running.fetch_sub(1, std::memory_order_relaxed);
    status->completed.fetch_add(1, std::memory_order_relaxed);
  };

  // One task, or one thread, needs no hand-off: the calling thread runs it, saving the wake-up.
  if (num_tasks == 1 || parallelism_ == 1) {
    for (int i = 0; i < num_tasks; ++i) run_task(i);
  } else if (num_tasks > 1) {
    StageBody body(run_task);
    arena_.execute([&] {
      tbb::parallel_for(tbb::blocked_range<int>(0, num_tasks, 1), body, tbb::simple_partitioner());
    });
    acquireStage();
  }
  if (progress_bar_) progress_bar_->remove(stage_id);

  if (failure) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    throw JobFailedError(fmt::format("Job aborted due to stage failure: task for partition {} in "
                                     "stage {} ({}) failed: {}",
                                     failed_partition, stage_id, description, what),
                         stage_id, failed_partition, failure);
  }
}

}  // namespace sluice::detail
