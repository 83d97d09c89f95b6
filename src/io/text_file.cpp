#include "io/text_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sluice/error.hpp>
#include <sluice/rdd.hpp>

namespace sluice::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxSplit = 32ULL << 20;
constexpr double kSplitSlop = 1.1;
constexpr std::size_t kReadBlock = 1 << 20;
constexpr std::size_t kMinReadBlock = 4096;

bool visibleName(const fs::path& p) {
  auto name = p.filename().string();
  return !name.empty() && name[0] != '.' && name[0] != '_';
}

void addPath(const fs::path& p, std::vector<std::string>& files) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    std::vector<std::string> inside;
    for (const auto& entry : fs::directory_iterator(p, ec)) {
      if (entry.is_regular_file() && visibleName(entry.path()))
        inside.push_back(entry.path().string());
    }
    if (ec) throw IOError(fmt::format("Cannot list directory '{}': {}", p.string(), ec.message()));
    std::sort(inside.begin(), inside.end());
    files.insert(files.end(), inside.begin(), inside.end());
  } else if (fs::exists(p, ec)) {
    files.push_back(p.string());
  }
}

class TextFileNode final : public Node<std::string> {
 public:
  TextFileNode(std::shared_ptr<Runtime> runtime, std::vector<FileSplit> splits)
      : Node<std::string>(std::move(runtime), static_cast<int>(splits.size())),
        splits_(std::move(splits)) {}
  void visitDependencies(const DependencyVisitor&) override {}

 protected:
  void compute(TaskContext& tc, int partition, Sink<std::string>& out) override {
    // Strings in the chunk are reassigned in place, reusing their capacity from chunk to chunk.
    std::vector<std::string> chunk(kChunkSize);
    std::size_t n = 0;
    readLines(
        splits_[static_cast<std::size_t>(partition)], [&] { return tc.isCancelled(); },
        [&](std::span<const std::string_view> lines) {
          tc.metrics.records_read += static_cast<long long>(lines.size());
          for (std::string_view line : lines) {
            tc.metrics.bytes_read += static_cast<long long>(line.size()) + 1;
            chunk[n++].assign(line);
            if (n == kChunkSize) {
              out.push(std::span<std::string>(chunk.data(), n));
              n = 0;
            }
          }
        });
    if (n > 0) out.push(std::span<std::string>(chunk.data(), n));
  }

 private:
  std::vector<FileSplit> splits_;
};

}  // namespace

std::vector<std::string> listInputFiles(const std::string& path) {
  std::vector<std::string> files;
  if (path.find_first_of("*?[") != std::string::npos) {
    glob_t matches{};
    int rc = ::glob(path.c_str(), 0, nullptr, &matches);
    if (rc == 0) {
      for (std::size_t i = 0; i < matches.gl_pathc; ++i) addPath(matches.gl_pathv[i], files);
    }
    ::globfree(&matches);
    if (rc != 0 && rc != GLOB_NOMATCH) throw IOError(fmt::format("Cannot expand glob '{}'", path));
    if (rc == GLOB_NOMATCH) {
      throw FileNotFoundError(fmt::format("Input Pattern {} matches 0 files", path));
    }
    return files;
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw FileNotFoundError(fmt::format("Input path does not exist: {}", path));
  }
  addPath(path, files);
  return files;
}

std::vector<FileSplit> computeSplits(const std::vector<std::string>& files, int min_partitions) {
  std::vector<std::pair<std::string, std::uint64_t>> sized;
  std::uint64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    auto size = fs::file_size(f, ec);
    if (ec) throw IOError(fmt::format("Cannot read size of '{}': {}", f, ec.message()));
    sized.emplace_back(f, size);
    total += size;
  }
  const std::uint64_t goal = total / static_cast<std::uint64_t>(std::max(min_partitions, 1));
  const std::uint64_t split_size = std::max<std::uint64_t>(1, std::min(goal, kMaxSplit));
  std::vector<FileSplit> splits;
  for (const auto& [file, size] : sized) {
    if (size == 0) {
      splits.push_back({file, 0, 0});
      continue;
    }
    std::uint64_t remaining = size;
    while (static_cast<double>(remaining) / static_cast<double>(split_size) > kSplitSlop) {
      splits.push_back({file, size - remaining, size - remaining + split_size});
      remaining -= split_size;
    }
    if (remaining != 0) splits.push_back({file, size - remaining, size});
  }
  return splits;
}

void readLines(const FileSplit& split, const std::function<bool()>& should_stop,
               const std::function<void(std::span<const std::string_view>)>& on_lines) {
  int fd = ::open(split.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IOError(fmt::format("Cannot open '{}': {}", split.path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  // Lines are handed over in batches, one call per buffer, while the buffer still holds them.
  std::vector<std::string_view> lines;
  auto emit = [&](const char* begin, std::size_t len) {
    if (len > 0 && begin[len - 1] == '\r') --len;
    lines.emplace_back(begin, len);
  };
  auto hand_over = [&] {
    if (!lines.empty()) on_lines(lines);
    lines.clear();
  };
  // A split reads its own bytes plus the rest of its last line: a small split (many small files,
  // or many partitions) needs no full-size block.
  std::vector<char> buf(static_cast<std::size_t>(
      std::min<std::uint64_t>(kReadBlock, split.end - split.start + kMinReadBlock)));
  std::size_t have = 0;
  std::uint64_t buf_offset = split.start;  // file offset of buf[0]
  std::uint64_t line_start = split.start;  // file offset of the next line's first byte
  bool skipping = split.start != 0;        // the first partial line belongs to the previous split
  bool eof = false;
  while (true) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the buffer
    ssize_t n =
        ::pread(fd, buf.data() + have, buf.size() - have, static_cast<off_t>(buf_offset + have));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IOError(fmt::format("Cannot read '{}': {}", split.path, std::strerror(errno)));
    }
    eof = n == 0;
    have += static_cast<std::size_t>(n);
    std::size_t pos = 0;
    while (true) {
      if (!skipping && line_start > split.end) return hand_over();
      const void* found = std::memchr(buf.data() + pos, '\n', have - pos);
      if (found == nullptr) break;
      auto nl = static_cast<std::size_t>(static_cast<const char*>(found) - buf.data());
      if (!skipping) emit(buf.data() + pos, nl - pos);
      skipping = false;
      pos = nl + 1;
      line_start = buf_offset + pos;
    }
    if (eof) {
      if (!skipping && pos < have && line_start <= split.end) emit(buf.data() + pos, have - pos);
      return hand_over();
    }
    hand_over();
    if (should_stop()) return;
    if (skipping) pos = have;  // still inside the previous split's line: drop it
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    buf_offset += pos;
  }
}

}  // namespace sluice::detail

namespace sluice {

RDD<std::string> Context::textFile(const std::string& path, int min_partitions) const {
  runtime_->checkActive();
  if (min_partitions == 0 || min_partitions < -1) {
    throw InvalidArgumentError("textFile: minPartitions must be positive, got " +
                               std::to_string(min_partitions));
  }
  int min_parts = min_partitions > 0 ? min_partitions : std::min(parallelism_, 2);
  auto splits = detail::computeSplits(detail::listInputFiles(path), min_parts);
  return RDD<std::string>(std::make_shared<detail::TextFileNode>(runtime_, std::move(splits)));
}

}  // namespace sluice
