// Spark's console progress bar: `[Stage 2:=======>      (5 + 2) / 8]` on stderr for stages that
// run longer than half a second, drawn only when stderr is a terminal. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace sluice::detail {

struct StageStatus {
  int stage_id = 0;
  int total = 0;
  std::atomic<int> running{0};
  std::atomic<int> completed{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

class ConsoleProgressBar {
 public:
  // Returns nullptr when stderr is not a terminal: then nothing is ever drawn.
  static std::unique_ptr<ConsoleProgressBar> createIfTerminal();
  ~ConsoleProgressBar();

  void add(const std::shared_ptr<StageStatus>& stage);
  void remove(int stage_id);

 private:
  ConsoleProgressBar();
  void run();
  void draw();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool drawn_ = false;
  std::map<int, std::shared_ptr<StageStatus>> stages_;
  std::thread thread_;
};

}  // namespace sluice::detail
