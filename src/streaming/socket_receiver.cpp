#include "streaming/socket_receiver.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <sluice/log.hpp>

namespace sluice::detail {

std::string decodeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char c = byte(i);
    std::size_t len = c < 0x80                 ? 1
                      : c >= 0xC2 && c <= 0xDF ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok && len == 3) {
      ok = !(c == 0xE0 && byte(i + 1) < 0xA0) && !(c == 0xED && byte(i + 1) >= 0xA0);
    }
    if (ok && len == 4)
      ok = !(c == 0xF0 && byte(i + 1) < 0x90) && !(c == 0xF4 && byte(i + 1) >= 0x90);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

SocketTextReceiver::SocketTextReceiver(std::string host, int port, std::size_t max_line_bytes)
    : host_(std::move(host)), port_(port), max_line_bytes_(max_line_bytes) {}

SocketTextReceiver::~SocketTextReceiver() { onStop(); }

std::string SocketTextReceiver::name() const {
  return fmt::format("SocketReceiver({}:{})", host_, port_);
}

void SocketTextReceiver::onStart() {
  std::lock_guard lock(thread_mu_);
  thread_ = std::thread([this] { receive(); });
}

void SocketTextReceiver::onStop() {
  std::lock_guard lock(thread_mu_);
  int fd = fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes the blocked recv()
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
}

void SocketTextReceiver::storeLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  store(decodeUtf8(line));
}

void SocketTextReceiver::receive() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  std::string port = std::to_string(port_);
  if (int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &addrs); rc != 0) {
    restart(fmt::format("Error connecting to {}:{}: {}", host_, port_, ::gai_strerror(rc)));
    return;
  }
  int fd = -1;
  int err = 0;
  for (addrinfo* a = addrs; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(addrs);
  if (fd < 0) {
    restart(fmt::format("Error connecting to {}:{}: {}", host_, port_, std::strerror(err)));
    return;
  }
  fd_ = fd;
  log(LogLevel::kInfo, fmt::format("Connected to {}:{}", host_, port_));
  std::string pending;
  bool dropping = false;  // inside an oversize line: skip until its end
  // The bound applies to the line without its terminator: a "\r" before the "\n" may take
  // pending one byte past it.
  auto countDropped = [&] {
    ++dropped_lines_;
    log(LogLevel::kWarn, fmt::format("{}: dropped a line longer than {} bytes ({} dropped so far)",
                                     name(), max_line_bytes_, dropped_lines_.load()));
  };
  auto endLine = [&] {
    std::string_view line = pending;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (dropping || line.size() > max_line_bytes_) {
      countDropped();
    } else {
      storeLine(pending);
    }
    dropping = false;
    pending.clear();
  };
  const std::size_t pending_limit =
      max_line_bytes_ + (max_line_bytes_ < std::numeric_limits<std::size_t>::max() ? 1 : 0);
  char buf[1 << 16];
  std::string reason = "Socket data stream had no more data";
  while (!isStopped()) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      reason = fmt::format("Error receiving data: {}", std::strerror(errno));
      break;
    }
    if (n == 0) break;
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      auto nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      if (!dropping) {
        if (pending.size() + piece.size() > pending_limit) {
          dropping = true;
          pending.clear();
        } else {
          pending.append(piece);
        }
      }
      if (nl == std::string_view::npos) break;
      endLine();
      chunk.remove_prefix(nl + 1);
    }
  }
  if (!pending.empty() || dropping) endLine();  // a last line without "\n"
  fd_ = -1;
  ::close(fd);
  if (!isStopped()) restart(reason);
}

}  // namespace sluice::detail

namespace sluice {

DStream<std::string> StreamingContext::socketTextStream(const std::string& host, int port) {
  if (port <= 0 || port > 65535) {
    throw InvalidArgumentError("socketTextStream: port must be in 1..65535, got " +
                               std::to_string(port));
  }
  return receiverStream<std::string>(
      std::make_shared<detail::SocketTextReceiver>(host, port, conf().max_line_bytes));
}

}  // namespace sluice
