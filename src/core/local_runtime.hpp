// The Runtime of a local[N] Context: a oneTBB arena of N threads runs the tasks of each stage.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <sluice/rdd/runtime.hpp>
#include <sluice/streaming/clock.hpp>

#include "core/listener_bus.hpp"
#include "core/progress_bar.hpp"
#include "shuffle/local_shuffle_service.hpp"

namespace sluice::detail {

class LocalRuntime final : public Runtime {
 public:
  LocalRuntime(int parallelism, std::size_t listener_queue_capacity);
  int parallelism() const override { return parallelism_; }
  int newRddId() override { return next_rdd_id_.fetch_add(1); }
  int newShuffleId() override { return next_shuffle_id_.fetch_add(1); }
  BlockStore& blockStore() override { return block_store_; }
  ShuffleService& shuffleService() override { return shuffle_service_; }
  void runStage(std::string_view description, std::span<const int> partitions,
                const TaskFunction& task) override;
  int beginJob(std::string_view description) override;
  void endJob(int job_id, const std::exception_ptr& failure) override;
  void setLocalProperty(const std::string& key, const std::optional<std::string>& value) override;
  std::optional<std::string> getLocalProperty(const std::string& key) const override;
  ListenerBus& listenerBus() override { return listener_bus_; }
  bool isStopped() const override { return stopped_.load(); }
  void stop();

 private:
  int currentJob() const;
  void addStageToJob(int job_id, int stage_id);

  int parallelism_;
  // Lets the arena own `parallelism_` threads even beyond the core count (local[4] on 2 cores).
  tbb::global_control thread_limit_;
  tbb::task_arena arena_;
  std::atomic<int> next_rdd_id_{0};
  std::atomic<int> next_shuffle_id_{0};
  std::atomic<int> next_stage_id_{0};
  std::atomic<int> next_job_id_{0};
  // Tells this runtime's entries apart in the per-thread job stacks and local properties.
  const std::uint64_t serial_;
  SystemClock clock_;
  // The jobs that began while a listener was registered, until they end.
  std::mutex jobs_mu_;
  absl::flat_hash_map<int, JobInfo> jobs_;
  std::atomic<bool> stopped_{false};
  BlockStore block_store_;
  LocalShuffleService shuffle_service_;
  std::unique_ptr<ConsoleProgressBar> progress_bar_;
  ListenerBus listener_bus_;  // last: stopped and joined before the rest goes
};

}  // namespace sluice::detail
