// A redis-server of a test's own: started on 127.0.0.1 on a free port with its data in a
// temporary directory (append-only file, fsync'ed on every write, so a restart keeps every
// entry), stopped by its PID. Tests use it through RedisConnection.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "streaming/redis_client.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace sluice::stream_test {

class RedisServer {
 public:
  RedisServer() : dir_("sluice_redis") {
    port_ = freePort();
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // A client connection to it.
  detail::RedisConnection connect() const {
    return detail::RedisConnection("127.0.0.1", port_, std::chrono::milliseconds(5000));
  }

  // Shuts the server down (SIGTERM: it flushes its append-only file) and waits for it to exit.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Starts it again on the same port, with the same data.
  void start() {
    const std::string port = std::to_string(port_);
    const std::string dir = dir_.path().string();
    std::vector<std::string> args{"redis-server", "--port",       port,  "--bind",
                                  "127.0.0.1",    "--dir",        dir,   "--save",
                                  "",             "--appendonly", "yes", "--appendfsync",
                                  "always",       "--logfile",    dir + "/redis.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot run redis-server (scripts/install-deps.sh installs it)");
    }
    // Ready once it answers; it takes a few milliseconds, more on a loaded machine.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      try {
        if (connect().command({"PING"}) == "PONG") return;
      } catch (const detail::RedisError&) {
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start; see " + dir + "/redis.log");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("redis-server did not answer within 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  static int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  testing_util::TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::stream_test
