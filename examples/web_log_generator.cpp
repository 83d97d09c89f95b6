// Web log generator: a TCP server on 127.0.0.1 that sends every connected client the same stream
// of made-up web server log lines, the input of web_log_analytics. Each line is
//   <ISO time> <client ip> <status> <method> <url> <seconds>
//   2026-11-22T10:00:00 203.0.113.7 200 GET /index.html 0.023
// The client IPs (documentation addresses, listed in examples/data/ip_country.csv) follow a
// skewed distribution, so a few of them make most requests. Everything but the time comes from
// a generator with a fixed seed: the same seed gives the same lines.
//
// Usage: web_log_generator [--port N] [--rate LINES_PER_SEC] [--seed N] [--seconds N]
//                          [--malformed FRACTION] [--port-file PATH]
//   --port 0 listens on any free port; --port-file writes the port there once listening.
//   --malformed sends that fraction of broken lines (default 0.01), to exercise the parser.
//   build/release/examples/web_log_generator --port 9999 --rate 50 &
//   nc 127.0.0.1 9999 | head
// Runs until SIGINT/SIGTERM, or for --seconds N. Clients may come and go at any time; the lines
// start with the first client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <optional>
#include <string>
#include <vector>

#include "example_cli.hpp"

namespace {

// A client that falls this far behind loses lines instead of growing its buffer further.
constexpr std::size_t kMaxPendingBytes = 1 << 20;

volatile std::sig_atomic_t g_stop = 0;

void onStopSignal(int) { g_stop = 1; }

struct Weighted {
  const char* value;
  unsigned weight;
};

// Heavy hitters first; the weights add up to 100.
constexpr Weighted kClientIps[] = {
    {"203.0.113.7", 30}, {"198.51.100.23", 18}, {"192.0.2.14", 11},    {"203.0.113.42", 8},
    {"198.51.100.5", 7}, {"192.0.2.88", 6},     {"203.0.113.99", 5},   {"198.51.100.77", 4},
    {"192.0.2.150", 4},  {"203.0.113.201", 3},  {"198.51.100.131", 2}, {"192.0.2.201", 2},
};
constexpr Weighted kStatuses[] = {{"200", 80}, {"304", 8}, {"404", 9}, {"500", 3}};
constexpr Weighted kMethods[] = {{"GET", 85}, {"POST", 12}, {"HEAD", 3}};
constexpr Weighted kUrls[] = {
    {"/index.html", 25},      {"/products", 15},     {"/products/42", 10}, {"/cart", 8},
    {"/checkout", 5},         {"/api/v1/items", 12}, {"/login", 6},        {"/static/app.js", 8},
    {"/static/style.css", 8}, {"/favicon.ico", 3},
};

// Log lines from a seeded std::mt19937_64, whose output the standard fixes, picking by integer
// weights so that a seed gives the same lines everywhere.
class LogLineGenerator {
 public:
  LogLineGenerator(std::uint64_t seed, double malformed_fraction)
      : rng_(seed), malformed_per_million_(static_cast<std::uint64_t>(malformed_fraction * 1e6)) {}

  std::string next(std::time_t now) {
    char time_text[32];
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    std::strftime(time_text, sizeof time_text, "%Y-%m-%dT%H:%M:%S", &utc);
    const char* ip = pick(kClientIps);
    const char* status = pick(kStatuses);
    const char* method = pick(kMethods);
    const char* url = pick(kUrls);
    // Mostly fast responses with a long tail: 2 ms to about 1.5 s.
    const double u = static_cast<double>(rng_() % 1000) / 1000.0;
    const double seconds = 0.002 + 1.5 * std::pow(u, 6);
    char line[256];
    std::snprintf(line, sizeof line, "%s %s %s %s %s %.3f", time_text, ip, status, method, url,
                  seconds);
    if (rng_() % 1000000 < malformed_per_million_) return malformed(line);
    return line;
  }

 private:
  template <std::size_t N>
  const char* pick(const Weighted (&choices)[N]) {
    unsigned total = 0;
    for (const auto& c : choices) total += c.weight;
    auto r = static_cast<unsigned>(rng_() % total);
    for (const auto& c : choices) {
      if (r < c.weight) return c.value;
      r -= c.weight;
    }
    return choices[N - 1].value;
  }

  // A broken variant of a good line, as a real feed sometimes has.
  std::string malformed(const std::string& line) {
    switch (rng_() % 4) {
      case 0:
        return line.substr(0, line.size() / 2);  // cut short
      case 1:
        return "#### log rotated ####";
      case 2:
        return line.substr(0, line.find(' ')) + " 999.1.2.3 200 GET / 0.010";  // bad address
      default:
        return line.substr(0, line.rfind(' ')) + " fast";  // bad duration
    }
  }

  std::mt19937_64 rng_;
  std::uint64_t malformed_per_million_;
};

struct Client {
  int fd;
  std::string address;
  std::string pending;  // bytes not yet accepted by the socket
  long long dropped = 0;
};

// Listens on 127.0.0.1:port (0: any free port); returns the socket, or -1 with a message.
int listenOnLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    std::cerr << "web_log_generator: cannot listen on 127.0.0.1:" << port << ": "
              << std::strerror(errno) << "\n";
    ::close(fd);
    return -1;
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Sends what the socket takes now; false when the client is gone.
bool flush(Client& client) {
  while (!client.pending.empty()) {
    ssize_t n = ::send(client.fd, client.pending.data(), client.pending.size(),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      client.pending.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }
  return true;
}

void closeClient(Client& client, const char* what) {
  std::cerr << "web_log_generator: " << client.address << " " << what;
  if (client.dropped > 0) std::cerr << " (too slow: " << client.dropped << " lines dropped)";
  std::cerr << "\n";
  ::close(client.fd);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 9999;
  double rate = 50;
  std::uint64_t seed = 42;
  double seconds = 0;  // 0: until SIGINT/SIGTERM
  double malformed_fraction = 0.01;
  std::string port_file;
  CLI::App app("Serves a made-up web server log on 127.0.0.1 to every client that connects.",
               "web_log_generator");
  app.add_option("--port", port, "Port to listen on (0: any free port)")
      ->capture_default_str()
      ->transform(examples::numberIn(0, 65535, "a port number, or 0 for any free port"));
  app.add_option("--rate", rate, "Lines per second")
      ->capture_default_str()
      ->transform(examples::numberIn(std::numeric_limits<double>::min(),
                                     std::numeric_limits<double>::max(),
                                     "a number of lines per second above 0"));
  app.add_option("--seed", seed, "Seed of the generator: the same seed gives the same lines")
      ->capture_default_str()
      ->transform(examples::numberIn(std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max(),
                                     "a whole number from 0 to 2^64 - 1"));
  app.add_option("--seconds", seconds, "Stop after this many seconds (0: at SIGINT or SIGTERM)")
      ->capture_default_str()
      ->transform(examples::numberIn(0.0, 1e9, "a number of seconds from 0 to 1e9"));
  app.add_option("--malformed", malformed_fraction, "Fraction of broken lines")
      ->capture_default_str()
      ->transform(examples::numberIn(0.0, 1.0, "a fraction from 0 to 1"));
  app.add_option("--port-file", port_file, "Write the port there once listening");
  if (auto status = examples::parse(app, argc, argv)) return *status;

  // A client that disconnects must not kill the server: no SIGPIPE, send() reports EPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop_action {};
  stop_action.sa_handler = onStopSignal;  // no SA_RESTART: poll() returns early with EINTR
  sigemptyset(&stop_action.sa_mask);
  ::sigaction(SIGINT, &stop_action, nullptr);
  ::sigaction(SIGTERM, &stop_action, nullptr);

  const int listen_fd = listenOnLoopback(port);
  if (listen_fd < 0) return 1;
  port = boundPort(listen_fd);
  std::cerr << "web_log_generator: listening on 127.0.0.1:" << port << ", " << rate
            << " lines/s, seed " << seed << "\n";
  if (!port_file.empty()) {
    // Written whole under a temporary name, so a reader never sees a partial port number.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    if (std::rename(tmp.c_str(), port_file.c_str()) != 0) {
      std::cerr << "web_log_generator: cannot write " << port_file << "\n";
      ::close(listen_fd);
      return 1;
    }
  }

  LogLineGenerator generator(seed, malformed_fraction);
  std::vector<Client> clients;
  const auto started = std::chrono::steady_clock::now();
  // The feed starts with its first client, so that a client gets the seed's lines from the
  // first one however long it took to connect.
  std::optional<std::chrono::steady_clock::time_point> feed_start;
  auto fed_seconds = [&] {
    return feed_start ? std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                      *feed_start)
                            .count()
                      : 0.0;
  };
  long long generated = 0;
  while (!g_stop) {
    if (seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() >=
            seconds) {
      break;
    }

    // Sleep until the next line is due (at most 100 ms), waking for clients and signals.
    const double next_due = static_cast<double>(generated + 1) / rate;
    const int timeout_ms =
        feed_start ? std::clamp(static_cast<int>((next_due - fed_seconds()) * 1000) + 1, 0, 100)
                   : 100;
    std::vector<pollfd> fds{{listen_fd, POLLIN, 0}};
    for (const auto& c : clients) {
      fds.push_back({c.fd, static_cast<short>(POLLIN | (c.pending.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      std::perror("web_log_generator: poll");
      break;
    }

    // Clients that hung up (read returns 0) or failed are dropped; what they send is ignored.
    std::vector<Client> alive;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      bool gone = (fds[i + 1].revents & (POLLERR | POLLNVAL)) != 0;
      if (!gone && (fds[i + 1].revents & (POLLIN | POLLHUP))) {
        char buf[4096];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      }
      if (gone) {
        closeClient(c, "disconnected");
      } else {
        alive.push_back(std::move(c));
      }
    }
    clients = std::move(alive);

    if (fds[0].revents & POLLIN) {
      for (;;) {
        sockaddr_in addr{};
        socklen_t len = sizeof addr;
        int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        char host[INET_ADDRSTRLEN] = "?";
        ::inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
        Client c{fd, std::string(host) + ":" + std::to_string(ntohs(addr.sin_port)), {}};
        std::cerr << "web_log_generator: " << c.address << " connected\n";
        clients.push_back(std::move(c));
        if (!feed_start) feed_start = std::chrono::steady_clock::now();
      }
    }

    // The lines due by now go to every client (once the feed started, lines due while nobody
    // listens are lost, as with a live feed).
    const auto due = static_cast<long long>(fed_seconds() * rate);
    const std::time_t wall = std::time(nullptr);
    for (; generated < due; ++generated) {
      const std::string line = generator.next(wall) + "\n";
      for (auto& c : clients) {
        if (c.pending.size() + line.size() > kMaxPendingBytes) {
          ++c.dropped;
        } else {
          c.pending += line;
        }
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      if (flush(*it)) {
        ++it;
      } else {
        closeClient(*it, "disconnected");
        it = clients.erase(it);
      }
    }
  }

  for (auto& c : clients) {
    flush(c);
    closeClient(c, "closed");
  }
  ::close(listen_fd);
  std::cerr << "web_log_generator: stopped after " << generated << " lines\n";
  return 0;
}
