// socketTextStream's receiver: a TCP client (as Spark connects to `nc -lk PORT`) storing UTF-8
// lines. On refusal, end of stream or error it restarts after the restart delay, keeping what it
// stored. Lines longer than the configured bound are dropped and counted, with a warning.
#pragma once

#include <atomic>
#include <sluice/streaming/receiver.hpp>
#include <string>
#include <thread>

namespace sluice::detail {

class SocketTextReceiver final : public Receiver<std::string> {
 public:
  SocketTextReceiver(std::string host, int port, std::size_t max_line_bytes);
  ~SocketTextReceiver() override;
  void onStart() override;
  void onStop() override;
  std::string name() const override;
  long long droppedLines() const noexcept { return dropped_lines_.load(); }

 private:
  void receive();
  void storeLine(std::string_view line);

  std::string host_;
  int port_;
  std::size_t max_line_bytes_;
  std::atomic<int> fd_{-1};
  std::thread thread_;
  std::mutex thread_mu_;
  std::atomic<long long> dropped_lines_{0};
};

// Replaces each invalid UTF-8 sequence with U+FFFD, as a UTF-8 decoder does.
std::string decodeUtf8(std::string_view bytes);

}  // namespace sluice::detail
