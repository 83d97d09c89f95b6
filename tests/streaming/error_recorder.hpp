// A streaming listener that keeps the messages of the receiver error events (the direct inputs
// report a source they cannot read that way) and counts the receiver started events (a direct
// input that reads again clears its error with one), for tests to wait for and inspect.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <sluice/streaming.hpp>
#include <string>
#include <vector>

namespace sluice::stream_test {

class ErrorRecorder final : public sluice::StreamingListener {
 public:
  void onReceiverError(const sluice::ReceiverInfo& info) override {
    std::lock_guard lock(mu_);
    errors_.push_back(info.last_error_message);
    cv_.notify_all();
  }
  void onReceiverStarted(const sluice::ReceiverInfo& info) override {
    std::lock_guard lock(mu_);
    if (info.last_error_message.empty()) ++started_;
    cv_.notify_all();
  }
  // Until n errors were reported (false after a minute).
  bool waitErrors(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return errors_.size() >= n; });
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }
  // Until n started events without an error were reported (false after a minute).
  bool waitStarted(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return started_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> errors_;
  int started_ = 0;
};

}  // namespace sluice::stream_test
