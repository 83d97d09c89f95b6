// The Runtime of a local[N] Context: a oneTBB arena of N threads runs the tasks of each stage.
#pragma once

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <memory>
#include <sluice/rdd/runtime.hpp>

#include "core/progress_bar.hpp"
#include "shuffle/local_shuffle_service.hpp"

namespace sluice::detail {

class LocalRuntime final : public Runtime {
 public:
  explicit LocalRuntime(int parallelism);
  int parallelism() const override { return parallelism_; }
  int newRddId() override { return next_rdd_id_.fetch_add(1); }
  int newShuffleId() override { return next_shuffle_id_.fetch_add(1); }
  BlockStore& blockStore() override { return block_store_; }
  ShuffleService& shuffleService() override { return shuffle_service_; }
  void runStage(std::string_view description, std::span<const int> partitions,
                const TaskFunction& task) override;
  bool isStopped() const override { return stopped_.load(); }
  void stop();

 private:
  int parallelism_;
  // Lets the arena own `parallelism_` threads even beyond the core count (local[4] on 2 cores).
  tbb::global_control thread_limit_;
  tbb::task_arena arena_;
  std::atomic<int> next_rdd_id_{0};
  std::atomic<int> next_shuffle_id_{0};
  std::atomic<int> next_stage_id_{0};
  std::atomic<bool> stopped_{false};
  BlockStore block_store_;
  LocalShuffleService shuffle_service_;
  std::unique_ptr<ConsoleProgressBar> progress_bar_;
};

}  // namespace sluice::detail
