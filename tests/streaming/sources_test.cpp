// Streaming sources against real parts: socketTextStream against `nc -lk` and against an
// in-process TCP server on 127.0.0.1, textFileStream over real directories, queueStream, and
// custom receivers. Batches are driven one at a time by a ManualClock; asynchronous arrival
// (socket data) is awaited by advancing one batch at a time until the output holds what is
// expected or a real-time deadline passes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <sluice/testing.hpp>
#include <string>
#include <thread>
#include <vector>

#include "streaming/socket_receiver.hpp"
#include "streaming/stream_test_util.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::Context;
using sluice::DStream;
using sluice::ManualClock;
using sluice::RDD;
using sluice::StreamingContext;
using sluice::Time;
using Batches = sluice::stream_test::Batches<int>;
using sluice::stream_test::collectEach;
using sluice::stream_test::Collected;
using sluice::stream_test::TempDir;
using sluice::testing_util::sorted;

// Real-time bound on any single wait; generous for a loaded 2-core machine.
constexpr std::chrono::seconds kDeadline{30};
constexpr std::int64_t kBatchMs = 1000;
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// Advances a ManualClock one batch at a time and waits (real time, bounded) for each batch.
class Driver {
 public:
  Driver(StreamingContext& ssc, std::shared_ptr<ManualClock> clock)
      : ssc_(ssc), clock_(std::move(clock)) {}

  // Moves the clock to the next batch time and returns once that batch has completed.
  Time step() {
    clock_->advance(ssc_.batchDuration().count());
    Time t(clock_->nowMs());
    if (!ssc_.core()->waitForBatch(t, kDeadline)) {
      throw std::runtime_error("batch " + t.toString() + " did not complete in time");
    }
    ssc_.core()->rethrowError();
    return t;
  }
  void steps(int n) {
    for (int i = 0; i < n; ++i) step();
  }
  // Steps until `done()` holds or the real-time deadline passes; returns done().
  template <class Pred>
  bool stepUntil(Pred done, std::chrono::seconds deadline = kDeadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      step();
    }
    return true;
  }

 private:
  StreamingContext& ssc_;
  std::shared_ptr<ManualClock> clock_;
};

// A port on 127.0.0.1 that was free a moment ago (the kernel picked it for port 0).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind/getsockname failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// `nc -4 -lk 127.0.0.1 PORT` (Debian's netcat-openbsd) as a child process; what the test
// writes to its stdin goes to the connected client. Killed by PID at the end.
class NcServer {
 public:
  explicit NcServer(int port) {
    std::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    std::string port_str = std::to_string(port);
    std::vector<std::string> args{"nc", "-4", "-l", "-k", "127.0.0.1", port_str};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawnp(&pid_, "nc", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[0]);
    if (rc != 0) {
      ::close(fds[1]);
      throw std::runtime_error("posix_spawnp(nc) failed: " + std::to_string(rc));
    }
    stdin_fd_ = fds[1];
  }
  ~NcServer() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  NcServer(const NcServer&) = delete;
  NcServer& operator=(const NcServer&) = delete;

  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(stdin_fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("write to nc failed");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
};

// A TCP server on 127.0.0.1 with its own accept loop in a thread. Connection k (k = 0, 1, ...)
// receives payloads[k] exactly once over a live connection. Every connection but the last is
// then closed in order: the server half-closes and waits for the client to close its side (so
// nothing sent is in flight when it goes). The last connection stays open until destruction.
class LineServer {
 public:
  explicit LineServer(std::vector<std::string> payloads, int port = 0)
      : payloads_(std::move(payloads)) {
    std::signal(SIGPIPE, SIG_IGN);
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("LineServer: bind/listen failed");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~LineServer() {
    char b = 1;
    [[maybe_unused]] auto n = ::write(stop_pipe_[1], &b, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  int port() const { return port_; }
  // Waits until `n` connections have been accepted (and the earlier ones fully served).
  bool waitForConnections(int n, std::chrono::seconds deadline = kDeadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return accepted_ >= n; });
  }
  int accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }

 private:
  // Waits for `events` on fd; false when the server is stopping.
  bool waitFor(int fd, short events) {
    pollfd fds[2] = {{fd, events, 0}, {stop_pipe_[0], POLLIN, 0}};
    while (true) {
      int rc = ::poll(fds, 2, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return false;
      if (fds[1].revents != 0) return false;
      if (fds[0].revents != 0) return true;
    }
  }
  bool sendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      if (!waitFor(fd, POLLOUT)) return false;
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void run() {
    for (std::size_t k = 0; k < payloads_.size(); ++k) {
      if (!waitFor(listen_fd_, POLLIN)) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        --k;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        ++accepted_;
      }
      cv_.notify_all();
      const bool last = k + 1 == payloads_.size();
      bool ok = sendAll(fd, payloads_[k]);
      if (ok && !last) {
        // Half-close, then wait for the client to close: every byte sent has been read.
        ::shutdown(fd, SHUT_WR);
        char buf[256];
        while (waitFor(fd, POLLIN)) {
          ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
        }
      } else if (ok) {
        waitFor(stop_pipe_[0], POLLIN);  // keep the last connection open until stopped
      }
      ::close(fd);
    }
  }

  std::vector<std::string> payloads_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int accepted_ = 0;
  std::thread thread_;
};

// Counts receiver errors (e.g. refused connections) reported to the listener bus.
class ReceiverErrorCounter : public sluice::StreamingListener {
 public:
  void onReceiverError(const sluice::ReceiverInfo& info) override {
    {
      std::lock_guard lock(mu_);
      ++errors_;
      last_message_ = info.last_error_message;
    }
    cv_.notify_all();
  }
  bool waitForErrors(int n, std::chrono::seconds deadline = kDeadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return errors_ >= n; });
  }
  std::string lastMessage() const {
    std::lock_guard lock(mu_);
    return last_message_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int errors_ = 0;
  std::string last_message_;
};

bool isValidUtf8(std::string_view s) {
  std::size_t i = 0;
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char c = b(i);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      if ((b(i + k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Engine tests run under several masters (receivers run on their own threads).
// ---------------------------------------------------------------------------------------------

class SocketSourceTest : public ::testing::TestWithParam<std::string> {};
class FileStreamTest : public ::testing::TestWithParam<std::string> {};
class QueueStreamTest : public ::testing::TestWithParam<std::string> {};
class ReceiverStreamTest : public ::testing::TestWithParam<std::string> {};

// ---- socketTextStream -----------------------------------------------------------------------

TEST_P(SocketSourceTest, LinesFromNetcatArriveInOrderWithCrLfTrimmed) {
  const int port = freePort();
  NcServer nc(port);
  Context sc(GetParam(), "socketNc");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;  // nc may not be listening yet at the first try
  auto out = collectEach(ssc.socketTextStream("127.0.0.1", port));
  ssc.start();
  Driver driver(ssc, clock);

  nc.send("hello\r\nworld\n  spaces kept  \r\n\r\n\nend\n");
  const std::vector<std::string> expected{"hello", "world", "  spaces kept  ", "", "", "end"};
  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= expected.size(); }))
      << "received only " << out->size() << " lines";
  nc.send("more\r\n");
  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= expected.size() + 1; }));
  driver.steps(3);  // nothing arrives twice
  ssc.stop(false);

  auto all = out->all();
  auto want = expected;
  want.push_back("more");
  EXPECT_EQ(all, want);
  for (const auto& line : all) {
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_EQ(line.find('\n'), std::string::npos);
  }
}

TEST_P(SocketSourceTest, ReconnectsAfterServerClosesWithoutLossOrDuplicates) {
  // Three connections in turn: the server sends a session's lines, closes, and accepts the
  // receiver's reconnection for the next session. The first session ends with a line without
  // "\n", which is stored at end of stream.
  std::vector<std::string> payloads(3);
  std::vector<std::string> expected;
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < 100; ++i) {
      std::string line = "s" + std::to_string(s) + "-" + std::to_string(i);
      expected.push_back(line);
      payloads[s] += line + (i % 2 ? "\r\n" : "\n");
    }
  }
  payloads[0] += "s0-tail";
  expected.insert(expected.begin() + 100, "s0-tail");
  LineServer server(payloads);

  Context sc(GetParam(), "socketReconnect");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;
  auto errors = std::make_shared<ReceiverErrorCounter>();
  ssc.addStreamingListener(errors);
  auto out = collectEach(ssc.socketTextStream("127.0.0.1", server.port()));
  ssc.start();
  Driver driver(ssc, clock);

  // The third connection is accepted only after the receiver read both earlier sessions to
  // their end and reconnected twice; no batch has run yet, so everything stored before the
  // restarts must reach the first batch.
  ASSERT_TRUE(server.waitForConnections(3));
  EXPECT_TRUE(errors->waitForErrors(2));
  EXPECT_NE(errors->lastMessage().find("no more data"), std::string::npos) << errors->lastMessage();
  Time first = driver.step();
  auto first_batch = out->batch(first.milliseconds());
  ASSERT_GE(first_batch.size(), 201u);
  EXPECT_EQ(std::vector<std::string>(first_batch.begin(), first_batch.begin() + 201),
            std::vector<std::string>(expected.begin(), expected.begin() + 201));

  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= expected.size(); }))
      << "received " << out->size() << " of " << expected.size();
  driver.steps(3);
  ssc.stop(false);
  EXPECT_EQ(out->all(), expected);  // every line exactly once, in order
}

TEST_P(SocketSourceTest, OversizeLinesAreDroppedAndCounted) {
  const std::string sixteen = "0123456789abcdef";
  // First connection: ends with an oversize line cut off by the end of stream; the second
  // (after the reconnection) carries the end marker.
  std::string first = "short1\n" + std::string(17, 'x') + "\n" + "short2\r\n" +
                      std::string(200000, 'y') + "\n" +  // spans several reads
                      sixteen + "\n" +                   // exactly the bound: kept
                      sixteen + "\r\n" +                 // the bound plus "\r\n": kept
                      sixteen + "g\r\n" +                // one over: dropped
                      "tail-" + std::string(40, 't');    // oversize, no "\n": dropped
  LineServer server({first, "END\n"});

  Context sc(GetParam(), "socketOversize");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;
  auto receiver =
      std::make_shared<sluice::detail::SocketTextReceiver>("127.0.0.1", server.port(), 16);
  auto out = collectEach(ssc.receiverStream<std::string>(receiver));
  ssc.start();
  Driver driver(ssc, clock);
  auto has_end = [&] {
    auto all = out->all();
    return std::find(all.begin(), all.end(), "END") != all.end();
  };
  ASSERT_TRUE(driver.stepUntil(has_end));
  ssc.stop(false);

  EXPECT_EQ(out->all(), (std::vector<std::string>{"short1", "short2", sixteen, sixteen, "END"}));
  EXPECT_EQ(receiver->droppedLines(), 4);
}

TEST_P(SocketSourceTest, MaxLineBytesFromConfAppliesToSocketTextStream) {
  std::string payload =
      "keep-1\n" + std::string(40, 'z') + "\nkeep-2\n" + std::string(100000, 'w') + "\r\nkeep-3\n";
  LineServer server({payload});
  Context sc(GetParam(), "socketOversizeConf");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;
  ssc.conf().max_line_bytes = 16;
  auto out = collectEach(ssc.socketTextStream("127.0.0.1", server.port()));
  ssc.start();
  Driver driver(ssc, clock);
  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= 3; }));
  driver.steps(2);
  ssc.stop(false);
  EXPECT_EQ(out->all(), (std::vector<std::string>{"keep-1", "keep-2", "keep-3"}));
}

TEST_P(SocketSourceTest, InvalidUtf8IsReplacedNotFatal) {
  std::string payload =
      "ok\xff\n"              // invalid byte
      "\xc3(x\n"              // lead byte without its continuation
      "caf\xc3\xa9\n"         // valid two-byte sequence
      "\xe2\x82\xac 5\n"      // valid three-byte sequence
      "\xc0\xaf\n"            // overlong encoding of '/'
      "\x80\n"                // lone continuation byte
      "\xed\xa0\x80\n"        // UTF-16 surrogate
      "\xf0\x9f\x98\n"        // truncated four-byte sequence
      "\xf4\x90\x80\x80\r\n"  // above U+10FFFF
      "END\n";
  LineServer server({payload});
  Context sc(GetParam(), "socketUtf8");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;
  auto out = collectEach(ssc.socketTextStream("127.0.0.1", server.port()));
  ssc.start();
  Driver driver(ssc, clock);
  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= 10; }));
  driver.steps(2);
  ssc.stop(false);

  auto all = out->all();
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[0], "ok" + kReplacement);
  EXPECT_EQ(all[1], kReplacement + "(x");
  EXPECT_EQ(all[2], "caf\xc3\xa9");
  EXPECT_EQ(all[3], "\xe2\x82\xac 5");
  EXPECT_EQ(all[4], kReplacement + kReplacement);
  EXPECT_EQ(all[5], kReplacement);
  for (int i = 6; i <= 8; ++i) {
    EXPECT_NE(all[i].find(kReplacement), std::string::npos) << i;
  }
  EXPECT_EQ(all[9], "END");
  for (const auto& line : all) EXPECT_TRUE(isValidUtf8(line)) << line;
}

TEST_P(SocketSourceTest, ConnectionRefusedAtStartThenServerAppears) {
  const int port = freePort();  // nothing listens here yet
  Context sc(GetParam(), "socketRefused");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;
  auto errors = std::make_shared<ReceiverErrorCounter>();
  ssc.addStreamingListener(errors);
  auto out = collectEach(ssc.socketTextStream("127.0.0.1", port));
  ssc.start();
  Driver driver(ssc, clock);

  ASSERT_TRUE(errors->waitForErrors(2)) << "the receiver never reported a refused connection";
  EXPECT_NE(errors->lastMessage().find("Error connecting"), std::string::npos)
      << errors->lastMessage();
  driver.steps(2);
  EXPECT_EQ(out->size(), 0u);
  EXPECT_EQ(ssc.getState(), sluice::StreamingContextState::kActive);

  NcServer nc(port);
  nc.send("late-1\nlate-2\r\n");
  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= 2; }));
  driver.steps(2);
  ssc.stop(false);
  EXPECT_EQ(out->all(), (std::vector<std::string>{"late-1", "late-2"}));
}

TEST_P(SocketSourceTest, GracefulStopProcessesEveryReceivedLine) {
  // The server sends its lines and closes; once the receiver has reconnected, every line is
  // stored. A graceful stop without advancing the clock must still process all of them.
  std::string payload;
  for (int i = 0; i < 3000; ++i) payload += "line-" + std::to_string(i) + "\n";
  LineServer server({payload, ""});
  Context sc(GetParam(), "socketGraceful");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().receiver_restart_delay = 50ms;
  auto out = collectEach(ssc.socketTextStream("127.0.0.1", server.port()));
  ssc.start();
  ASSERT_TRUE(server.waitForConnections(2));
  const std::int64_t before = clock->nowMs();
  ssc.stop(false, true);
  EXPECT_EQ(clock->nowMs(), before);
  auto all = out->all();
  ASSERT_EQ(all.size(), 3000u);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(all[i], "line-" + std::to_string(i));
}

TEST_P(SocketSourceTest, StopDuringTheRestartDelayIsPrompt) {
  const int port = freePort();  // nothing listens: the receiver waits to retry
  Context sc(GetParam(), "socketStopInDelay");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, std::chrono::milliseconds(kBatchMs), clock);
  ssc.conf().set("spark.streaming.receiverRestartDelay", "60s");
  auto errors = std::make_shared<ReceiverErrorCounter>();
  ssc.addStreamingListener(errors);
  collectEach(ssc.socketTextStream("127.0.0.1", port));
  ssc.start();
  ASSERT_TRUE(errors->waitForErrors(1));
  const auto begin = std::chrono::steady_clock::now();
  ssc.stop(false);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 20s) << "stop waited out the restart delay";
  EXPECT_EQ(ssc.getState(), sluice::StreamingContextState::kStopped);
}

TEST(SocketSource, RejectsBadPort) {
  Context sc("local[2]", "socketBadPort");
  StreamingContext ssc(sc, 1s, std::make_shared<ManualClock>());
  EXPECT_THROW(ssc.socketTextStream("127.0.0.1", 0), sluice::InvalidArgumentError);
  EXPECT_THROW(ssc.socketTextStream("127.0.0.1", 70000), sluice::InvalidArgumentError);
}

// ---- textFileStream -------------------------------------------------------------------------

// A manual clock far from 0 so that file mtimes are ordinary epoch times.
constexpr std::int64_t kT0 = 1'700'000'000'000;

void setMtimeMs(const fs::path& path, std::int64_t ms) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ms / 1000);
  times[0].tv_nsec = times[1].tv_nsec = static_cast<long>((ms % 1000) * 1'000'000);
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    throw std::runtime_error("utimensat failed on " + path.string());
  }
}

// Files are written under a staging directory, given their mtime, then renamed into place.
class FileWriter {
 public:
  explicit FileWriter(fs::path staging) : staging_(std::move(staging)) {
    fs::create_directories(staging_);
  }
  void write(const fs::path& dir, const std::string& name, const std::vector<std::string>& lines,
             std::int64_t mtime_ms) {
    fs::path tmp = staging_ / ("f" + std::to_string(counter_++));
    {
      std::ofstream f(tmp, std::ios::binary);
      for (const auto& l : lines) f << l << "\n";
    }
    setMtimeMs(tmp, mtime_ms);
    fs::rename(tmp, dir / name);
  }

 private:
  fs::path staging_;
  int counter_ = 0;
};

struct FileStreamFixture {
  explicit FileStreamFixture(const std::string& master)
      : sc(master, "fileStream"),
        clock(std::make_shared<ManualClock>(kT0)),
        ssc(sc, std::chrono::milliseconds(kBatchMs), clock),
        writer(tmp.path() / "staging"),
        dir(tmp.path() / "in"),
        driver(ssc, clock) {
    fs::create_directories(dir);
  }
  TempDir tmp{"sluice_sources"};
  Context sc;
  std::shared_ptr<ManualClock> clock;
  StreamingContext ssc;
  FileWriter writer;
  fs::path dir;
  Driver driver;
};

std::vector<std::string> linesOf(const std::string& name, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(name + ":" + std::to_string(i));
  return v;
}

TEST_P(FileStreamTest, NewFilesAreReadInTheirBatchExactlyOnce) {
  FileStreamFixture f(GetParam());
  auto out = collectEach(f.ssc.textFileStream(f.dir.string()));
  f.ssc.start();

  Time t1 = f.driver.step();
  EXPECT_TRUE(out->hasBatch(t1.milliseconds())) << "an RDD is produced even with no new files";
  EXPECT_TRUE(out->batch(t1.milliseconds()).empty());

  // "a": mtime = the clock now (batch t1 already ran), "b": mtime = the next batch time.
  f.writer.write(f.dir, "a", linesOf("a", 3), f.clock->nowMs());
  f.writer.write(f.dir, "b", linesOf("b", 2), t1.milliseconds() + kBatchMs);
  Time t2 = f.driver.step();
  auto expected = linesOf("a", 3);
  for (auto& l : linesOf("b", 2)) expected.push_back(l);
  EXPECT_EQ(sorted(out->batch(t2.milliseconds())), sorted(expected));

  // A file taken once is not taken again, even when touched afterwards.
  f.writer.write(f.dir, "a", linesOf("a-rewritten", 1), f.clock->nowMs());
  f.writer.write(f.dir, "c", linesOf("c", 1), f.clock->nowMs() + 400);
  Time t3 = f.driver.step();
  EXPECT_EQ(out->batch(t3.milliseconds()), linesOf("c", 1));
  f.driver.steps(4);
  f.ssc.stop(false);

  auto all = sorted(out->all());
  auto want = expected;
  want.push_back("c:0");
  EXPECT_EQ(all, sorted(want));
}

TEST_P(FileStreamTest, FilesOlderThanTheStreamAreIgnored) {
  FileStreamFixture f(GetParam());
  // Written before the stream exists: mtime before the clock, and equal to it (the threshold
  // is exclusive).
  f.writer.write(f.dir, "old", linesOf("old", 2), kT0 - 10'000);
  f.writer.write(f.dir, "at-creation", linesOf("at-creation", 1), kT0);
  auto out = collectEach(f.ssc.textFileStream(f.dir.string()));
  f.ssc.start();
  f.writer.write(f.dir, "new1", linesOf("new1", 2), kT0 + kBatchMs);
  Time t1 = f.driver.step();
  f.writer.write(f.dir, "new2", linesOf("new2", 1), f.clock->nowMs() + kBatchMs);
  Time t2 = f.driver.step();
  f.driver.steps(3);
  f.ssc.stop(false);
  EXPECT_EQ(sorted(out->batch(t1.milliseconds())), sorted(linesOf("new1", 2)));
  EXPECT_EQ(out->batch(t2.milliseconds()), linesOf("new2", 1));
  EXPECT_EQ(out->size(), 3u);
}

TEST_P(FileStreamTest, HiddenAndUnderscoreFilesAndSubdirectoriesAreIgnored) {
  FileStreamFixture f(GetParam());
  auto out = collectEach(f.ssc.textFileStream(f.dir.string()));
  f.ssc.start();
  const std::int64_t next = kT0 + kBatchMs;
  f.writer.write(f.dir, ".hidden", linesOf(".hidden", 1), next);
  f.writer.write(f.dir, "_temporary", linesOf("_temporary", 1), next);
  f.writer.write(f.dir, "_SUCCESS", {}, next);
  fs::create_directories(f.dir / "sub");
  f.writer.write(f.dir / "sub", "nested", linesOf("nested", 1), next);
  setMtimeMs(f.dir / "sub", next);
  f.writer.write(f.dir, "visible", linesOf("visible", 2), next);
  Time t1 = f.driver.step();
  f.driver.steps(2);
  f.ssc.stop(false);
  EXPECT_EQ(out->batch(t1.milliseconds()), linesOf("visible", 2));
  EXPECT_EQ(out->size(), 2u);
}

TEST_P(FileStreamTest, FileFromTheFutureWaitsForItsBatch) {
  FileStreamFixture f(GetParam());
  auto out = collectEach(f.ssc.textFileStream(f.dir.string()));
  f.ssc.start();
  f.writer.write(f.dir, "future", linesOf("future", 2), kT0 + 2500);
  Time t1 = f.driver.step();
  Time t2 = f.driver.step();
  EXPECT_TRUE(out->batch(t1.milliseconds()).empty());
  EXPECT_TRUE(out->batch(t2.milliseconds()).empty());
  Time t3 = f.driver.step();
  EXPECT_EQ(out->batch(t3.milliseconds()), linesOf("future", 2));
  f.driver.steps(3);
  f.ssc.stop(false);
  EXPECT_EQ(out->size(), 2u);
}

TEST_P(FileStreamTest, TwoHundredFilesInOneBatch) {
  FileStreamFixture f(GetParam());
  auto out = collectEach(f.ssc.textFileStream(f.dir.string()));
  f.ssc.start();
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) {
    std::string name = "part-" + std::to_string(i);
    auto lines = linesOf(name, 3);
    expected.insert(expected.end(), lines.begin(), lines.end());
    f.writer.write(f.dir, name, lines, kT0 + kBatchMs);
  }
  Time t1 = f.driver.step();
  Time t2 = f.driver.step();
  f.driver.steps(2);
  f.ssc.stop(false);
  EXPECT_EQ(sorted(out->batch(t1.milliseconds())), sorted(expected));
  EXPECT_TRUE(out->batch(t2.milliseconds()).empty());
  EXPECT_EQ(out->size(), 600u);
}

TEST_P(FileStreamTest, GlobOfDirectories) {
  FileStreamFixture f(GetParam());
  fs::path logs = f.tmp.path() / "logs";
  fs::create_directories(logs / "a" / "deeper");
  fs::create_directories(logs / "b");
  auto out = collectEach(f.ssc.textFileStream((logs / "*").string()));
  f.ssc.start();

  const std::int64_t next = kT0 + kBatchMs;
  f.writer.write(logs / "a", "fa", linesOf("fa", 2), next);
  f.writer.write(logs / "b", "fb", linesOf("fb", 1), next);
  f.writer.write(logs / "a" / "deeper", "deep", linesOf("deep", 1), next);  // not direct
  f.writer.write(logs, "direct", linesOf("direct", 1), next);  // matches the glob, not a dir
  Time t1 = f.driver.step();
  auto want1 = linesOf("fa", 2);
  want1.push_back("fb:0");
  EXPECT_EQ(sorted(out->batch(t1.milliseconds())), sorted(want1));

  // A whole directory renamed into place starts to match the pattern.
  fs::path staged = f.tmp.path() / "staged-dir";
  fs::create_directories(staged);
  f.writer.write(staged, "fc", linesOf("fc", 2), f.clock->nowMs() + kBatchMs);
  fs::rename(staged, logs / "c");
  Time t2 = f.driver.step();
  EXPECT_EQ(out->batch(t2.milliseconds()), linesOf("fc", 2));
  f.driver.steps(2);
  f.ssc.stop(false);
  EXPECT_EQ(out->size(), 5u);
}

// ---- queueStream ----------------------------------------------------------------------------

TEST_P(QueueStreamTest, OneAtATimeTakesOneRddPerBatch) {
  Context sc(GetParam(), "queue");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto stream = ssc.queueStream(Batches{{1, 2}, {3}, {4, 5, 6}}, true);
  auto out = collectEach(stream);
  auto partitions = std::make_shared<Collected<int>>();
  stream.foreachRDD(
      [partitions](const RDD<int>& rdd, Time t) { partitions->add(t, {rdd.getNumPartitions()}); });
  ssc.start();
  Driver driver(ssc, clock);
  driver.steps(5);
  ssc.stop(false);
  EXPECT_EQ(out->batch(1000), (std::vector<int>{1, 2}));
  EXPECT_EQ(out->batch(2000), (std::vector<int>{3}));
  EXPECT_EQ(out->batch(3000), (std::vector<int>{4, 5, 6}));
  // Drained: Spark's default RDD, empty with one partition, every batch.
  EXPECT_TRUE(out->hasBatch(4000));
  EXPECT_TRUE(out->hasBatch(5000));
  EXPECT_EQ(out->numCalls(), 5);
  EXPECT_EQ(out->size(), 6u);
  EXPECT_EQ(partitions->batch(4000), (std::vector<int>{1}));
  EXPECT_EQ(partitions->batch(5000), (std::vector<int>{1}));
}

TEST_P(QueueStreamTest, AllAtOnceGivesTheUnionInQueueOrder) {
  Context sc(GetParam(), "queue");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  std::deque<RDD<int>> queue;
  queue.push_back(sc.parallelize(std::vector<int>{1, 2}, 2));
  queue.push_back(sc.parallelize(std::vector<int>{3}, 1));
  queue.push_back(sc.parallelize(std::vector<int>{4, 5, 6}, 3));
  auto stream = ssc.queueStream(std::move(queue), false);
  auto out = collectEach(stream);
  auto partitions = std::make_shared<Collected<int>>();
  stream.foreachRDD(
      [partitions](const RDD<int>& rdd, Time t) { partitions->add(t, {rdd.getNumPartitions()}); });
  ssc.start();
  Driver driver(ssc, clock);
  driver.steps(3);
  ssc.stop(false);
  EXPECT_EQ(out->batch(1000), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(partitions->batch(1000), (std::vector<int>{6}));
  // Drained after the first batch: empty batches of one partition.
  EXPECT_EQ(out->numCalls(), 3);
  EXPECT_EQ(out->size(), 6u);
  EXPECT_EQ(partitions->batch(2000), (std::vector<int>{1}));
  EXPECT_EQ(partitions->batch(3000), (std::vector<int>{1}));
}

TEST_P(QueueStreamTest, DefaultRddIsEmittedWhenTheQueueIsEmpty) {
  Context sc(GetParam(), "queue");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto with_default = collectEach(
      ssc.queueStream(Batches{{1}, {2}}, true, std::optional(std::vector<int>{-1, -2})));
  auto with_empty_default =
      collectEach(ssc.queueStream(Batches{{7}}, true, std::optional(std::vector<int>{})));
  auto without_default = collectEach(ssc.queueStream(Batches{{9}}, true));
  ssc.start();
  Driver driver(ssc, clock);
  driver.steps(4);
  ssc.stop(false);
  EXPECT_EQ(with_default->batch(1000), (std::vector<int>{1}));
  EXPECT_EQ(with_default->batch(2000), (std::vector<int>{2}));
  EXPECT_EQ(with_default->batch(3000), (std::vector<int>{-1, -2}));
  EXPECT_EQ(with_default->batch(4000), (std::vector<int>{-1, -2}));
  EXPECT_EQ(with_default->numCalls(), 4);
  EXPECT_EQ(with_empty_default->numCalls(), 4);
  EXPECT_TRUE(with_empty_default->hasBatch(4000));
  EXPECT_EQ(with_empty_default->all(), (std::vector<int>{7}));
  // PySpark's default=None: Scala's empty default RDD, so every batch still has an RDD.
  EXPECT_EQ(without_default->numCalls(), 4);
  EXPECT_TRUE(without_default->hasBatch(4000));
  EXPECT_EQ(without_default->all(), (std::vector<int>{9}));
}

// Scala's queueStream(queue, oneAtATime, defaultRDD): the given RDD itself each drained batch,
// one RDD at a time or all at once; an explicit null default (std::nullopt) gives no RDD.
TEST_P(QueueStreamTest, ExplicitDefaultRddIsTheGivenRddEachBatch) {
  Context sc(GetParam(), "queue");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto default_rdd = sc.parallelize(std::vector<int>{-1, -2, -3}, 2);
  auto queue_of = [&sc](std::vector<std::vector<int>> batches) {
    std::deque<RDD<int>> queue;
    for (auto& b : batches) queue.push_back(sc.parallelize(std::move(b), 2));
    return queue;
  };
  auto ids = std::make_shared<Collected<int>>();
  auto one_at_a_time = ssc.queueStream(queue_of({{1}, {2, 3}}), true, std::optional(default_rdd));
  one_at_a_time.foreachRDD([ids](const RDD<int>& rdd, Time t) { ids->add(t, {rdd.id()}); });
  auto one = collectEach(one_at_a_time);
  auto all =
      collectEach(ssc.queueStream(queue_of({{1}, {2, 3}}), false, std::optional(default_rdd)));
  auto none = collectEach(ssc.queueStream(queue_of({{4}, {5}}), true, std::optional<RDD<int>>()));
  auto none_at_once =
      collectEach(ssc.queueStream(queue_of({{4}, {5}}), false, std::optional<RDD<int>>()));
  ssc.start();
  Driver driver(ssc, clock);
  driver.steps(4);
  ssc.stop(false);

  const std::vector<int> d{-1, -2, -3};
  EXPECT_EQ(one->batch(1000), (std::vector<int>{1}));
  EXPECT_EQ(one->batch(2000), (std::vector<int>{2, 3}));
  EXPECT_EQ(one->batch(3000), d);
  EXPECT_EQ(one->batch(4000), d);
  EXPECT_EQ(one->numCalls(), 4);
  EXPECT_EQ(ids->batch(3000), (std::vector<int>{default_rdd.id()}));
  EXPECT_EQ(ids->batch(4000), (std::vector<int>{default_rdd.id()}));

  EXPECT_EQ(all->batch(1000), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(all->batch(2000), d);
  EXPECT_EQ(all->batch(3000), d);
  EXPECT_EQ(all->batch(4000), d);
  EXPECT_EQ(all->numCalls(), 4);

  EXPECT_EQ(none->times(), (std::vector<std::int64_t>{1000, 2000}));
  EXPECT_EQ(none->all(), (std::vector<int>{4, 5}));
  EXPECT_EQ(none_at_once->times(), (std::vector<std::int64_t>{1000}));
  EXPECT_EQ(none_at_once->all(), (std::vector<int>{4, 5}));
}

// ---- receiverStream -------------------------------------------------------------------------

// Spark's "multi-thread receiver": onStart starts 10 threads that each store 1000 records.
class MultiThreadReceiver final : public sluice::Receiver<int> {
 public:
  void onStart() override {
    std::lock_guard lock(mu_);
    for (int i = 0; i < 10; ++i) {
      threads_.emplace_back([this, i] {
        for (int j = 0; j < 1000; ++j) store(i * 1000 + j);
      });
    }
  }
  void onStop() override {
    std::lock_guard lock(mu_);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }
  std::string name() const override { return "MultiThreadReceiver"; }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

TEST_P(ReceiverStreamTest, TenThreadsStoringAThousandEachGiveTenThousand) {
  Context sc(GetParam(), "multiThreadReceiver");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("spark.streaming.blockInterval", "100ms");
  auto receiver = std::make_shared<MultiThreadReceiver>();
  auto out = collectEach(ssc.receiverStream<int>(receiver));
  ssc.start();
  Driver driver(ssc, clock);
  ASSERT_TRUE(driver.stepUntil([&] { return out->size() >= 10000; })) << "received " << out->size();
  driver.steps(3);
  ssc.stop(false);
  auto all = out->all();
  ASSERT_EQ(all.size(), 10000u);
  std::sort(all.begin(), all.end());
  std::vector<int> expected(10000);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);
}

class ManualReceiver final : public sluice::Receiver<int> {
 public:
  void onStart() override { ++starts; }
  void onStop() override { ++stops; }
  std::string name() const override { return "ManualReceiver"; }
  std::atomic<int> starts{0};
  std::atomic<int> stops{0};
};

TEST_P(ReceiverStreamTest, StoreOfAVectorIsOneBlockStoredWhenItReturns) {
  Context sc(GetParam(), "storeBlock");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto receiver = std::make_shared<ManualReceiver>();
  auto out = collectEach(ssc.receiverStream<int>(receiver).glom());
  ssc.start();
  Driver driver(ssc, clock);

  // The clock does not move between these calls, so no block interval passes: the partitions
  // are exactly the stored blocks, and single records form a block of their own.
  receiver->store(std::vector<int>{1, 2, 3});
  receiver->store(std::vector<int>{4, 5});
  Time t1 = driver.step();
  receiver->store(6);
  receiver->store(7);
  receiver->store(std::vector<int>{8});
  receiver->store(std::vector<int>{});  // nothing
  Time t2 = driver.step();
  Time t3 = driver.step();
  ssc.stop(false);
  using Parts = std::vector<std::vector<int>>;
  EXPECT_EQ(out->batch(t1.milliseconds()), (Parts{{1, 2, 3}, {4, 5}}));
  EXPECT_EQ(out->batch(t2.milliseconds()), (Parts{{6, 7}, {8}}));
  EXPECT_TRUE(out->hasBatch(t3.milliseconds()));
  EXPECT_TRUE(out->batch(t3.milliseconds()).empty());
}

TEST_P(ReceiverStreamTest, ReceiverLifecycleAndStoreBeforeAttach) {
  auto receiver = std::make_shared<ManualReceiver>();
  EXPECT_TRUE(receiver->isStopped());
  EXPECT_FALSE(receiver->isStarted());
  EXPECT_THROW(receiver->store(1), sluice::IllegalStateError);

  Context sc(GetParam(), "receiverLifecycle");
  auto clock = std::make_shared<ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  auto stream = ssc.receiverStream<int>(receiver);
  auto out = collectEach(stream);
  EXPECT_FALSE(receiver->isStarted());
  EXPECT_EQ(receiver->streamId(), stream.id());
  ssc.start();
  EXPECT_TRUE(receiver->isStarted());
  EXPECT_FALSE(receiver->isStopped());
  EXPECT_EQ(receiver->starts.load(), 1);
  receiver->store(41);
  Driver driver(ssc, clock);
  driver.step();
  ssc.stop(false);
  EXPECT_TRUE(receiver->isStopped());
  EXPECT_EQ(receiver->stops.load(), 1);
  EXPECT_EQ(out->all(), (std::vector<int>{41}));
}

SLUICE_RECEIVER_MASTERS(SocketSourceTest);
SLUICE_RECEIVER_MASTERS(FileStreamTest);
SLUICE_RECEIVER_MASTERS(QueueStreamTest);
SLUICE_RECEIVER_MASTERS(ReceiverStreamTest);

}  // namespace
