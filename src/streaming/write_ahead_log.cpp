#include "streaming/write_ahead_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <tuple>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_file.hpp"  // crc32c, shared with the checkpoint files

namespace sluice::detail {
namespace {

constexpr std::size_t kHeaderSize = 8;  // u32 length + u32 masked CRC
constexpr std::string_view kSegmentPrefix = "log-";

// LevelDB's mask: the CRC of an empty payload is 0, so without it eight zero bytes would be a
// valid record (see the header).
std::uint32_t maskCrc(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8U; }

void putU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffU));
}

std::uint32_t getU32(std::string_view in, std::size_t pos) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
  }
  return v;
}

// A record that is not what its handle says: recovery data that cannot be used, as for a corrupt
// checkpoint.
[[noreturn]] void throwCorruption(const std::string& message) { throw CheckpointError(message); }

struct Segment {
  std::string path;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::uint64_t seq = 0;  // the ".<n>" suffix; 0 without one
};

bool parseInt(std::string_view& s, auto& value) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr == s.data()) return false;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return true;
}

// Parses `log-<start>-<end>` or `log-<start>-<end>.<n>`; nullopt for any other name.
std::optional<Segment> parseSegmentName(std::string_view name) {
  if (!name.starts_with(kSegmentPrefix)) return std::nullopt;
  name.remove_prefix(kSegmentPrefix.size());
  Segment seg;
  if (!parseInt(name, seg.start_ms) || !name.starts_with('-')) return std::nullopt;
  name.remove_prefix(1);
  if (!parseInt(name, seg.end_ms)) return std::nullopt;
  if (name.starts_with('.')) {
    name.remove_prefix(1);
    if (!parseInt(name, seg.seq)) return std::nullopt;
  }
  if (!name.empty()) return std::nullopt;
  return seg;
}

std::vector<Segment> listSegments(FileSystem& fs, const std::string& directory) {
  std::vector<Segment> segments;
  for (const std::string& name : fs.listDirectory(directory)) {
    if (auto seg = parseSegmentName(name)) {
      seg->path = directory + "/" + name;
      segments.push_back(std::move(*seg));
    }
  }
  std::sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) {
    return std::tie(a.start_ms, a.end_ms, a.seq) < std::tie(b.start_ms, b.end_ms, b.seq);
  });
  return segments;
}

void warn(const std::string& message) { log(LogLevel::kWarn, message); }

}  // namespace

WriteAheadLog::WriteAheadLog(std::string directory, WriteAheadLogOptions options)
    : directory_(std::move(directory)),
      rolling_interval_ms_(options.rolling_interval_ms),
      fsync_policy_(options.fsync_policy),
      fs_(options.file_system ? std::move(options.file_system) : FileSystem::local()) {
  if (rolling_interval_ms_ <= 0) {
    throw InvalidArgumentError(fmt::format(
        "write-ahead log rolling interval {} ms must be positive", rolling_interval_ms_));
  }
  fs_->createDirectories(directory_);
}

WriteAheadLog::~WriteAheadLog() {
  try {
    close();
  } catch (const std::exception& e) {
    warn(fmt::format("Closing write-ahead log '{}' failed: {}", directory_, e.what()));
  }
}

void WriteAheadLog::closeActiveLocked(bool sync) {
  // Cleared first so that a failing sync or close never leaves a half-closed writer behind.
  std::unique_ptr<WritableFile> file = std::move(active_);
  active_path_.clear();
  active_size_ = 0;
  if (!file) return;
  if (sync) file->sync();
  file->close();
}

void WriteAheadLog::openSegmentLocked(std::int64_t time_ms) {
  const std::int64_t end_ms =
      time_ms > std::numeric_limits<std::int64_t>::max() - rolling_interval_ms_
          ? std::numeric_limits<std::int64_t>::max()
          : time_ms + rolling_interval_ms_;
  const std::string base = fmt::format("{}/{}{}-{}", directory_, kSegmentPrefix, time_ms, end_ms);
  // Never reuse a name: newWritableFile truncates, and the old file holds records of an earlier run
  // (or of a segment abandoned after a failed append).
  std::string path = base;
  for (std::uint64_t n = 1; fs_->exists(path); ++n) path = fmt::format("{}.{}", base, n);
  auto file = fs_->newWritableFile(path, /*append=*/false);
  // fdatasync on the file does not make its directory entry durable; without this a machine crash
  // could lose a whole segment of records that were each reported durable.
  if (fsync_policy_ == FsyncPolicy::kEveryRecord) fs_->syncDirectory(directory_);
  active_ = std::move(file);
  active_path_ = std::move(path);
  active_end_ms_ = end_ms;
  active_size_ = 0;
}

WalRecordHandle WriteAheadLog::append(std::int64_t time_ms, std::string_view payload) {
  if (payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw InvalidArgumentError(fmt::format(
        "write-ahead log record of {} bytes is too large: the limit is 4 GiB - 1; split the block",
        payload.size()));
  }
  const auto length = static_cast<std::uint32_t>(payload.size());
  // One buffer, so the record reaches the file in one write(2) and a crash tears at most its tail.
  std::string record;
  record.reserve(kHeaderSize + payload.size());
  putU32(record, length);
  putU32(record, maskCrc(crc32c(payload)));
  record.append(payload);

  std::lock_guard lock(mu_);
  if (closed_) {
    throw IllegalStateError(
        fmt::format("write-ahead log '{}' is closed; open a new one to append", directory_));
  }
  if (active_ && time_ms >= active_end_ms_) {
    try {
      // Under kEveryRecord every record was synced already; under kNone flushing is the OS's job.
      closeActiveLocked(/*sync=*/false);
    } catch (const std::exception& e) {
      warn(fmt::format("Closing write-ahead log segment failed while rolling '{}': {}", directory_,
                       e.what()));
    }
  }
  if (!active_) openSegmentLocked(time_ms);

  const std::uint64_t offset = active_size_;
  try {
    active_->append(record);
    if (fsync_policy_ == FsyncPolicy::kEveryRecord) active_->sync();
  } catch (...) {
    // The file may end in part of this record. Cut it back to the last complete record (best
    // effort: readAll() cuts a torn tail off anyway) and never write to it again, so later records
    // are not hidden behind garbage.
    const std::string path = active_path_;
    try {
      closeActiveLocked(/*sync=*/false);
    } catch (const std::exception&) {
      // The append's error is the one to report.
    }
    try {
      fs_->truncate(path, offset);
    } catch (const std::exception& e) {
      warn(
          fmt::format("Cannot cut write-ahead log segment '{}' back to {} bytes after a failed "
                      "append: {}",
                      path, offset, e.what()));
    }
    throw;
  }
  active_size_ += record.size();
  return WalRecordHandle{active_path_, offset, length};
}

std::string WriteAheadLog::read(const WalRecordHandle& handle) const {
  const std::string data = fs_->readFile(handle.path);
  if (handle.offset > data.size() || data.size() - handle.offset < kHeaderSize + handle.length) {
    throwCorruption(fmt::format(
        "write-ahead log record at offset {} ({} bytes) lies past the end of '{}' ({} bytes)",
        handle.offset, handle.length, handle.path, data.size()));
  }
  const auto pos = static_cast<std::size_t>(handle.offset);
  const std::uint32_t length = getU32(data, pos);
  if (length != handle.length) {
    throwCorruption(fmt::format(
        "write-ahead log record at offset {} of '{}' has length {}, expected {}: corrupt log or "
        "wrong handle",
        handle.offset, handle.path, length, handle.length));
  }
  const std::string_view payload = std::string_view(data).substr(pos + kHeaderSize, length);
  if (maskCrc(crc32c(payload)) != getU32(data, pos + 4)) {
    throwCorruption(fmt::format("write-ahead log record at offset {} of '{}' fails its CRC check",
                                handle.offset, handle.path));
  }
  return std::string(payload);
}

WalReadStats WriteAheadLog::readAll(const RecordCallback& callback) {
  WalReadStats stats;
  for (const Segment& seg : listSegments(*fs_, directory_)) {
    std::string data;
    bool active = false;
    try {
      // Under the mutex so that the active segment is never read in the middle of an append.
      std::lock_guard lock(mu_);
      active = seg.path == active_path_;
      data = fs_->readFile(seg.path);
    } catch (const FileNotFoundError&) {
      continue;  // cleaned since the listing
    }
    const std::string_view bytes = data;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      const std::size_t remaining = bytes.size() - pos;
      std::uint32_t length = 0;
      const char* problem = nullptr;
      bool torn = false;
      if (remaining < kHeaderSize) {
        problem = "header cut short";
        torn = true;
      } else if ((length = getU32(bytes, pos)) > remaining - kHeaderSize) {
        // Bounded by the file size: a corrupt length can never make us read or allocate more.
        problem = "payload cut short";
        torn = true;
      } else if (maskCrc(crc32c(bytes.substr(pos + kHeaderSize, length))) !=
                 getU32(bytes, pos + 4)) {
        problem = "CRC mismatch";
        // Only the file's last record can be a torn write; one followed by more bytes is damage,
        // unless those bytes are all zero: some file systems extend a file with zeros when a crash
        // comes after the size was updated but before the data reached the disk.
        const std::string_view rest = bytes.substr(pos + kHeaderSize + length);
        torn = std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; });
      }
      if (problem == nullptr) {
        callback(WalRecordHandle{seg.path, pos, length}, bytes.substr(pos + kHeaderSize, length));
        ++stats.records;
        pos += kHeaderSize + length;
        continue;
      }
      if (torn && !active) {
        ++stats.torn_tails;
        warn(fmt::format(
            "Write-ahead log segment '{}' ends in a torn record at offset {} ({}, {} bytes); "
            "cutting it off",
            seg.path, pos, problem, remaining));
        try {
          fs_->truncate(seg.path, pos);
        } catch (const std::exception& e) {
          warn(fmt::format("Cannot cut the torn tail off '{}': {}", seg.path, e.what()));
        }
      } else {
        ++stats.corrupt_segments;
        warn(fmt::format(
            "Write-ahead log segment '{}' is corrupt at offset {} ({}); skipping its last {} bytes",
            seg.path, pos, problem, remaining));
      }
      break;
    }
  }
  return stats;
}

void WriteAheadLog::clean(std::int64_t threshold_ms) {
  std::vector<Segment> segments;
  try {
    segments = listSegments(*fs_, directory_);
  } catch (const std::exception& e) {
    warn(fmt::format("Cannot list write-ahead log '{}' to clean it: {}", directory_, e.what()));
    return;
  }
  for (const Segment& seg : segments) {
    if (seg.end_ms >= threshold_ms) continue;
    {
      // Checked now rather than at listing time: a segment becomes active only when it is created
      // (under mu_), every listed segment exists already, and no name is ever created twice.
      std::lock_guard lock(mu_);
      if (seg.path == active_path_) continue;
    }
    try {
      fs_->remove(seg.path);
    } catch (const std::exception& e) {
      warn(fmt::format("Cannot delete old write-ahead log segment '{}': {}", seg.path, e.what()));
    }
  }
}

void WriteAheadLog::close() {
  std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  closeActiveLocked(/*sync=*/true);
}

}  // namespace sluice::detail
