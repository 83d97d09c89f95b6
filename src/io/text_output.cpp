#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sluice/error.hpp>
#include <sluice/rdd/text_output.hpp>
#include <utility>

#include "core/crash_point.hpp"

namespace sluice::detail {
namespace {

constexpr std::size_t kWriteBuffer = 1 << 16;

IOError ioError(std::string_view what, const std::string& path, int err) {
  return IOError(fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

void syncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ioError("Cannot open for sync", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw ioError("Cannot sync", path, err);
}

}  // namespace

TextOutputCommitter::TextOutputCommitter(std::string path, bool overwrite)
    : path_(std::move(path)), overwrite_(overwrite) {
  namespace fs = std::filesystem;
  // "out/" names the directory "out": without this its parent would be "out" itself, and the
  // temporary directory would be created inside the output path.
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  std::error_code ec;
  if (!overwrite_ && fs::exists(path_, ec)) {
    throw IOError(fmt::format("Output directory '{}' already exists", path_));
  }
  fs::path target(path_);
  fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  fs::create_directories(parent, ec);
  if (ec) throw IOError(fmt::format("Cannot create '{}': {}", parent.string(), ec.message()));
  static std::atomic<int> counter{0};
  temp_path_ = (parent / fmt::format(".{}._temporary-{}-{}", target.filename().string(), ::getpid(),
                                     counter.fetch_add(1)))
                   .string();
  if (!fs::create_directory(temp_path_, ec) || ec) {
    throw IOError(fmt::format("Cannot create temporary directory '{}': {}", temp_path_,
                              ec ? ec.message() : "already exists"));
  }
}

TextOutputCommitter::~TextOutputCommitter() {
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove_all(temp_path_, ec);
  }
}

std::string TextOutputCommitter::partPath(int partition) const {
  return fmt::format("{}/part-{:05d}", temp_path_, partition);
}

void TextOutputCommitter::commit() {
  PartFileWriter success(temp_path_ + "/_SUCCESS");
  success.close();
  syncPath(temp_path_);
  crashPoint("output-staged");
  std::error_code ec;
  const bool exists = std::filesystem::exists(path_, ec);
  if (exists && !overwrite_) {
    throw IOError(fmt::format("Output directory '{}' already exists", path_));
  }
  if (exists) {
    // Swap old and new in one step: readers see either the old or the new directory, whole.
    if (::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) != 0) {
      throw ioError("Cannot replace the output", path_, errno);
    }
    committed_ = true;
    std::filesystem::remove_all(temp_path_, ec);  // now holds the old output
    return;
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw ioError("Cannot move the finished output to", path_, errno);
  }
  committed_ = true;
}

PartFileWriter::PartFileWriter(std::string path) : path_(std::move(path)), buffer_(kWriteBuffer) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw ioError("Cannot create", path_, errno);
}

PartFileWriter::~PartFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void PartFileWriter::write(std::string_view data) {
  if (used_ + data.size() > buffer_.size()) {
    flushBuffer();
    if (data.size() > buffer_.size()) buffer_.resize(data.size());
  }
  std::memcpy(buffer_.data() + used_, data.data(), data.size());
  used_ += data.size();
  bytes_written_ += static_cast<long long>(data.size());
}

void PartFileWriter::flushBuffer() {
  std::size_t done = 0;
  while (done < used_) {
    ssize_t n = ::write(fd_, buffer_.data() + done, used_ - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ioError("Cannot write", path_, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  used_ = 0;
}

void PartFileWriter::close() {
  if (fd_ < 0) return;
  flushBuffer();
  if (::fsync(fd_) != 0) throw ioError("Cannot sync", path_, errno);
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw ioError("Cannot close", path_, errno);
}

}  // namespace sluice::detail
