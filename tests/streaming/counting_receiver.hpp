// A receiver that stores 0, 1, 2, ... one record at a time as fast as store() lets it, so that
// tests see what a rate limit lets through.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sluice/streaming.hpp>
#include <string>
#include <thread>

namespace sluice::stream_test {

// Stores 0, 1, 2, ... one record at a time until stopped, counting what store() let through.
class CountingReceiver final : public sluice::Receiver<int> {
 public:
  void onStart() override {
    thread_ = std::thread([this] {
      int i = 0;
      while (!isStopped()) {
        store(i++);
        std::lock_guard lock(mu_);
        ++stored_;
        cv_.notify_all();
      }
    });
  }
  void onStop() override {
    if (thread_.joinable()) thread_.join();
  }
  std::string name() const override { return "CountingReceiver"; }
  bool waitStored(long long n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return stored_ >= n; });
  }
  long long stored() {
    std::lock_guard lock(mu_);
    return stored_;
  }

 private:
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  long long stored_ = 0;
};

}  // namespace sluice::stream_test
