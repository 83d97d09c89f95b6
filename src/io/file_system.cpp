#include "io/file_system.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sluice/error.hpp>
#include <utility>

namespace sluice::detail {
namespace {

[[noreturn]] void fail(std::string_view what, const std::string& path, int err) {
  throw IOError(fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void append(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("Cannot write", path_, errno);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void sync() override {
    if (::fdatasync(fd_) != 0) fail("Cannot sync", path_, errno);
  }
  void close() override {
    if (fd_ < 0) return;
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("Cannot close", path_, errno);
  }

 private:
  std::string path_;
  int fd_;
};

class LocalFileSystem final : public FileSystem {
 public:
  std::unique_ptr<WritableFile> newWritableFile(const std::string& path, bool append) override {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) fail("Cannot create", path, errno);
    return std::make_unique<PosixWritableFile>(path, fd);
  }

  std::string readFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) throw FileNotFoundError(fmt::format("No such file: '{}'", path));
      fail("Cannot open", path, errno);
    }
    std::string data;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        fail("Cannot read", path, err);
      }
      if (n == 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return data;
  }

  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) fail("Cannot rename to '" + to + "'", from, errno);
  }

  void remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("Cannot remove", path, errno);
  }

  void syncDirectory(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("Cannot open directory", dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) fail("Cannot sync directory", dir, err);
  }

  std::vector<std::string> listDirectory(const std::string& dir) override {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      names.push_back(entry.path().filename().string());
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      throw IOError(fmt::format("Cannot list '{}': {}", dir, ec.message()));
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  bool exists(const std::string& path) override {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
  }

  void createDirectories(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw IOError(fmt::format("Cannot create directory '{}': {}", dir, ec.message()));
  }

  void truncate(const std::string& path, std::size_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0)
      fail("Cannot truncate", path, errno);
  }
};

}  // namespace

std::shared_ptr<FileSystem> FileSystem::local() {
  static const auto fs = std::make_shared<LocalFileSystem>();
  return fs;
}

}  // namespace sluice::detail
