// The job the receiver kill harness (receiver_kill_harness.py) kills: a reliable custom receiver
// reads an append-only file of lines "<id> <word>" and stores them in blocks through the receiver
// write-ahead log; the job keeps a count per id and a total per word with updateStateByKey and
// saves both every batch. It resumes from its checkpoint (getOrCreate) and stops gracefully on
// SIGTERM.
//
// The receiver acknowledges its source the way a reliable receiver does: only after
// store(block) returned (the block is in the log) does it move its read position forward, in an
// ack file written durably. A kill between the two makes it read the block again after the
// restart: the at-least-once duplicates the harness bounds.
//
// Usage: receiver_job INPUT_FILE ACK_FILE CHECKPOINT_DIR OUTPUT_DIR [BATCH_MS [MASTER]]
//        [--no-wal]
// --no-wal leaves the write-ahead log off (the harness's control round, where data can be lost).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

[[noreturn]] void throwErrno(const std::string& what, const std::string& path, int err = errno) {
  throw std::runtime_error(fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

// How far the source has been consumed: complete lines, and the byte offset after them.
struct Position {
  long long lines = 0;
  long long offset = 0;
};

class AppendedFileReceiver final : public sluice::Receiver<std::string> {
 public:
  AppendedFileReceiver(std::string input, std::string ack, std::size_t block_lines)
      : input_(std::move(input)), ack_(std::move(ack)), block_lines_(block_lines) {}

  void onStart() override {
    stopping_ = false;
    thread_ = std::thread([this] { receive(); });
  }
  void onStop() override {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::string name() const override { return "AppendedFileReceiver"; }

 private:
  void receive() {
    try {
      Position at = readAck();
      while (!stopping_) {
        Position next = at;
        std::vector<std::string> block = readLines(next);
        if (block.empty()) {
          // The harness appends over time; a test program may poll for it.
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        store(std::move(block));
        writeAck(next);
        at = next;
      }
    } catch (const std::exception& e) {
      // Nothing past the ack file's position is forgotten: a restart reads it again.
      restart(fmt::format("Receiving from '{}' failed: {}", input_, e.what()));
    }
  }

  Position readAck() const {
    Position p;
    std::ifstream in(ack_);
    if (in && !(in >> p.lines >> p.offset)) {
      throw std::runtime_error(fmt::format("Malformed ack file '{}'", ack_));
    }
    return p;
  }

  // Up to block_lines_ complete lines after `at`, which moves past them. A line the harness is
  // still writing (no newline yet) waits for the next call.
  std::vector<std::string> readLines(Position& at) const {
    std::vector<std::string> lines;
    std::ifstream in(input_, std::ios::binary);
    if (!in) return lines;
    in.seekg(at.offset);
    std::string line;
    while (lines.size() < block_lines_ && std::getline(in, line)) {
      if (in.eof()) break;  // no newline after it
      at.offset += static_cast<long long>(line.size()) + 1;
      ++at.lines;
      lines.push_back(std::move(line));
    }
    return lines;
  }

  // Atomic and durable: a restart sees either the old position or the new one.
  void writeAck(const Position& p) const {
    const std::string temp = ack_ + ".tmp";
    const std::string text = fmt::format("{} {}\n", p.lines, p.offset);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throwErrno("Cannot create", temp);
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const bool synced = written && ::fsync(fd) == 0;
    const int err = errno;  // before close() may change it
    ::close(fd);
    if (!synced) throwErrno("Cannot write", temp, err);
    if (::rename(temp.c_str(), ack_.c_str()) != 0) throwErrno("Cannot rename", temp);
    const std::string dir = std::filesystem::path(ack_).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) throwErrno("Cannot open", dir);
    const bool dir_synced = ::fsync(dfd) == 0;
    const int dir_err = errno;
    ::close(dfd);
    if (!dir_synced) throwErrno("Cannot sync", dir, dir_err);
  }

  const std::string input_;
  const std::string ack_;
  const std::size_t block_lines_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

std::pair<long long, std::string> parseLine(const std::string& line) {
  const auto space = line.find(' ');
  if (space == std::string::npos) throw std::runtime_error("Malformed input line: " + line);
  return {std::stoll(line.substr(0, space)), line.substr(space + 1)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  bool wal = true;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--no-wal") {
      wal = false;
    } else {
      args.emplace_back(argv[i]);
    }
  }
  if (args.size() < 4) {
    std::cerr << "usage: receiver_job INPUT_FILE ACK_FILE CHECKPOINT_DIR OUTPUT_DIR [BATCH_MS "
                 "[MASTER]] [--no-wal]\n";
    return 2;
  }
  const std::string input = args[0], ack = args[1], checkpoint = args[2], output = args[3];
  const std::chrono::milliseconds batch(args.size() > 4 ? std::stoll(args[4]) : 100);
  const std::string master = args.size() > 5 ? args[5] : "local[2]";
  constexpr std::size_t kBlockLines = 50;
  auto sum = [](const std::vector<long long>& values, std::optional<long long> state) {
    long long total = state.value_or(0);
    for (long long v : values) total += v;
    return std::optional<long long>(total);
  };
  try {
    sluice::Context sc(master, "receiverJob");
    sc.setLogLevel("WARN");
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, batch);
      if (wal) s->conf().set("spark.streaming.receiver.writeAheadLog.enable", "true");
      auto lines = s->receiverStream<std::string>(
                        std::make_shared<AppendedFileReceiver>(input, ack, kBlockLines))
                       .uid("lines");
      auto ids = lines
                     .map([](const std::string& line) {
                       return std::pair<long long, long long>(parseLine(line).first, 1);
                     })
                     .updateStateByKey(sum);
      ids.uid("ids").checkpoint(10 * batch);
      ids.saveAsTextFiles(output + "/ids");
      auto totals = lines
                        .map([](const std::string& line) {
                          return std::pair<std::string, long long>(parseLine(line).second, 1);
                        })
                        .updateStateByKey(sum);
      totals.uid("totals").checkpoint(10 * batch);
      totals.saveAsTextFiles(output + "/totals");
      s->checkpoint(checkpoint);
      return s;
    });
    ssc->stopGracefullyOnShutdown();
    ssc->start();
    ssc->awaitTermination();
  } catch (const std::exception& e) {
    std::cerr << "receiver_job: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
