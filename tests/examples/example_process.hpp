// Running a built example as a user does, for tests/examples: the program as a child process
// whose output the test reads while it runs, a line server on 127.0.0.1 that plays `nc -lk`,
// and the parsing of pprint's batches. Every wait is on something observable, with a deadline.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

extern char** environ;

namespace example_test {

using namespace std::chrono_literals;
using sluice::testing_util::TempDir;

inline std::string examplePath(const std::string& name) {
  return std::string(SLUICE_EXAMPLES_DIR) + "/" + name;
}

inline void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

// Writes `text` under a hidden name in `dir` and renames it to `name`, so that a file stream
// sees it whole.
inline void moveFileIn(const std::filesystem::path& dir, const std::string& name,
                       const std::string& text) {
  writeFile(dir / ("." + name + ".tmp"), text);
  std::filesystem::rename(dir / ("." + name + ".tmp"), dir / name);
}

// One child process running an example: stdout and stderr collected as they come, stopped by
// its PID (SIGINT, the graceful stop of Ctrl-C, or SIGKILL); killed at destruction if still up.
class ExampleProcess {
 public:
  ExampleProcess(const std::string& name, const std::vector<std::string>& args,
                 const std::filesystem::path& cwd = SLUICE_SOURCE_DIR) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    ::posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    std::string path = examplePath(name);
    std::vector<std::string> argv_strings{path};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0) throw std::runtime_error("cannot start " + path);
    readers_.emplace_back([this, fd = out_pipe[0]] { readAll(fd, out_); });
    readers_.emplace_back([this, fd = err_pipe[0]] { readAll(fd, err_); });
  }
  ~ExampleProcess() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      wait(60s);
    }
    for (auto& t : readers_) t.join();
  }
  ExampleProcess(const ExampleProcess&) = delete;
  ExampleProcess& operator=(const ExampleProcess&) = delete;

  // Waits until `done(stdout so far)` holds; false at the deadline.
  bool waitForOutput(const std::function<bool(const std::string&)>& done,
                     std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done(out_); });
  }
  // Waits until `done(stderr so far)` holds; false at the deadline.
  bool waitForErr(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done(err_); });
  }
  // Waits until stdout holds `count` occurrences of `text`.
  bool waitForCount(const std::string& text, std::size_t count,
                    std::chrono::milliseconds timeout = 30s) {
    return waitForOutput([&](const std::string& out) { return occurrences(out, text) >= count; },
                         timeout);
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // Waits for the process to end (both pipes closed); its exit status, or -1 at the deadline.
  int wait(std::chrono::milliseconds timeout = 60s) {
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, timeout, [&] { return closed_ == 2; })) return -1;
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string out() {
    std::lock_guard lock(mu_);
    return out_;
  }
  std::string err() {
    std::lock_guard lock(mu_);
    return err_;
  }

  static std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
  }

 private:
  void readAll(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu_);
      if (n <= 0) {
        ++closed_;
        cv_.notify_all();
        break;
      }
      into.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
    ::close(fd);
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  int closed_ = 0;
  std::vector<std::thread> readers_;
};

// `nc -lk`: a TCP server on 127.0.0.1 (any free port) that takes one client and sends it what
// the test says.
class LineServer {
 public:
  LineServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~LineServer() {
    if (client_ >= 0) ::close(client_);
    ::close(fd_);
  }
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  int port() const { return port_; }

  // Waits for the client to connect; false at the deadline.
  bool accept(std::chrono::milliseconds timeout = 30s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    client_ = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    return client_ >= 0;
  }

  void send(const std::string& text) {
    std::size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(client_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_ = -1;
  int client_ = -1;
  int port_ = 0;
};

// One batch of pprint's output: the time (ms since an arbitrary origin, to compare spacing) and
// the printed lines.
struct Batch {
  long long time_ms;
  std::vector<std::string> lines;
};

// Splits pprint's output into batches; `preamble` gets the lines before the first one. Throws
// when the output is not a sequence of pprint blocks (43 dashes, "Time: YYYY-MM-DD HH:MM:SS[.f]",
// 43 dashes, lines, an empty line).
inline std::vector<Batch> parseBatches(const std::string& out,
                                       std::vector<std::string>* preamble = nullptr) {
  static const std::regex kTime(R"(Time: (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.(\d{6}))?)");
  const std::string dashes(43, '-');
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto nl = out.find('\n'); nl != std::string::npos; nl = out.find('\n', start)) {
    lines.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  std::vector<Batch> batches;
  std::size_t i = 0;
  for (; i < lines.size() && lines[i] != dashes; ++i) {
    if (preamble != nullptr) preamble->push_back(lines[i]);
  }
  while (i < lines.size()) {
    std::smatch m;
    if (i + 2 >= lines.size() || lines[i] != dashes || lines[i + 2] != dashes ||
        !std::regex_match(lines[i + 1], m, kTime)) {
      throw std::runtime_error("not a pprint header at line " + std::to_string(i + 1));
    }
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    Batch batch{
        static_cast<long long>(::timegm(&tm)) * 1000 + (m[8].matched ? std::stoll(m[8]) / 1000 : 0),
        {}};
    for (i += 3; i < lines.size() && !lines[i].empty(); ++i) batch.lines.push_back(lines[i]);
    if (i == lines.size()) throw std::runtime_error("a batch without its closing empty line");
    ++i;
    batches.push_back(std::move(batch));
  }
  return batches;
}

inline std::vector<std::string> sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The block pprint prints for the state of a running count (running_count,
// recoverable_word_count): one "(key, count)" line a key, in the hash partitions' order, which
// the tests do not fix (they compare sorted lines).
inline std::vector<std::string> stateLines(const std::map<long long, long long>& state) {
  std::vector<std::string> lines;
  for (const auto& [k, v] : state) {
    lines.push_back("(" + std::to_string(k) + ", " + std::to_string(v) + ")");
  }
  return sorted(lines);
}

// Whether one batch of a running count, its state block then its number of keys, prints `state`.
inline bool printsState(const Batch& states, const Batch& count,
                        const std::map<long long, long long>& state) {
  return sorted(states.lines) == stateLines(state) &&
         count.lines == std::vector<std::string>{std::to_string(state.size())};
}

}  // namespace example_test
