#include "checkpoint/checkpoint_file.hpp"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <utility>

#include "core/crash_point.hpp"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sluice::detail {
namespace {

// See docs/checkpoint-format.md for what each constant means on disk.
constexpr std::string_view kHeaderMagic = "SLUICECK";
constexpr std::string_view kTrailerMagic = "SLUICEND";
constexpr std::uint16_t kMajorVersion = 1;
constexpr std::uint16_t kMinorVersion = 0;
constexpr std::string_view kFilePrefix = "checkpoint-";
constexpr std::string_view kTempPrefix = ".checkpoint-";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr std::uint8_t kCodecRaw = 0;
constexpr std::uint8_t kCodecZstd = 1;
// Below this, compression saves too little to be worth a zstd frame header and the CPU.
constexpr std::size_t kCompressThreshold = 512;
constexpr int kZstdLevel = 1;
constexpr std::size_t kMaxSectionNameBytes = 1024;
// magic, version, time, dependency count, section count, header CRC.
constexpr std::size_t kMinHeaderBytes = 8 + 2 + 2 + 8 + 4 + 4 + 4;
constexpr std::size_t kTrailerBytes = 4 + 8;
// A one-byte name, codec, sizes, CRC and no payload.
constexpr std::size_t kMinSectionBytes = 4 + 1 + 1 + 8 + 8 + 4;

// --- CRC-32C ---------------------------------------------------------------------------------

constexpr std::array<std::uint32_t, 256> makeCrc32cTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}
constexpr auto kCrc32cTable = makeCrc32cTable();

// Works on the inverted register, as both implementations below do.
std::uint32_t crc32cSoftware(std::uint32_t crc, std::string_view bytes) {
  for (const char c : bytes) {
    crc = kCrc32cTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  }
  return crc;
}

#if defined(__x86_64__)
// The SSE4.2 crc32 instruction computes exactly CRC-32C, eight bytes a cycle or so: checkpoints
// are checksummed twice on write and twice on read, so the table loop would dominate.
__attribute__((target("sse4.2"))) std::uint32_t crc32cHardware(std::uint32_t crc,
                                                               std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t wide = crc;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    wide = _mm_crc32_u64(wide, word);
    p += 8;
    n -= 8;
  }
  crc = static_cast<std::uint32_t>(wide);
  while (n > 0) {
    crc = _mm_crc32_u8(crc, static_cast<unsigned char>(*p++));
    --n;
  }
  return crc;
}
bool haveSse42() {
  // A function-local static, so that a crc32c call from another file's static initializer
  // still finds the CPU model initialised.
  static const bool kHave = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return kHave;
}
#endif

// --- Little-endian encoding ------------------------------------------------------------------

template <typename T>
void putFixed(std::string& out, T value) {
  const auto bits = static_cast<std::make_unsigned_t<T>>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
}

template <typename T>
T getFixed(const char* p) {
  std::make_unsigned_t<T> bits = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bits |= static_cast<std::make_unsigned_t<T>>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return static_cast<T>(bits);
}

// --- Names -----------------------------------------------------------------------------------

std::string fileName(std::int64_t time_ms) {
  return fmt::format("{}{:013d}", kFilePrefix, time_ms);
}

std::string joinPath(const std::string& dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return fmt::format("{}{}", dir, name);
  return fmt::format("{}/{}", dir, name);
}

// The time a checkpoint file name stands for; nullopt for any other name (temporaries, a
// non-canonical "checkpoint-5" beside "checkpoint-0000000000005", ...).
std::optional<std::int64_t> parseFileName(std::string_view name) {
  if (!name.starts_with(kFilePrefix)) return std::nullopt;
  const std::string_view digits = name.substr(kFilePrefix.size());
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::int64_t time_ms = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), time_ms);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (fileName(time_ms) != name) return std::nullopt;
  return time_ms;
}

// --- Reading ---------------------------------------------------------------------------------

// What parseCheckpoint throws: the bare reason, which readCheckpointFile prefixes with the file's
// path and loadLatestCheckpoint puts in its own sentences. Never escapes this file.
class CorruptCheckpoint : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void corrupt(const std::string& what) { throw CorruptCheckpoint(what); }

// Bounds-checked sequential reads over a file's bytes: every length is checked against what
// remains before anything is read or allocated. One thread at a time.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }

  std::string_view bytes(std::uint64_t n, std::string_view what) {
    if (n > remaining()) {
      corrupt(fmt::format("{} at offset {} needs {} bytes but only {} remain (truncated?)", what,
                          pos_, n, remaining()));
    }
    const std::string_view out = data_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  template <typename T>
  T fixed(std::string_view what) {
    return getFixed<T>(bytes(sizeof(T), what).data());
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

std::string decompress(std::string_view stored, std::uint64_t raw_size,
                       const std::string& section) {
  const unsigned long long frame_size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (frame_size == ZSTD_CONTENTSIZE_ERROR || frame_size == ZSTD_CONTENTSIZE_UNKNOWN ||
      frame_size != raw_size) {
    corrupt(fmt::format("section '{}': the zstd frame does not record its size as {}", section,
                        raw_size));
  }
  // raw_size was checked against kMaxCheckpointSectionBytes before we got here.
  std::string out(static_cast<std::size_t>(raw_size), '\0');
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), stored.data(), stored.size());
  if (ZSTD_isError(n) != 0) {
    corrupt(fmt::format("section '{}': zstd: {}", section, ZSTD_getErrorName(n)));
  }
  if (n != raw_size) {
    corrupt(
        fmt::format("section '{}' decompressed to {} bytes, {} recorded", section, n, raw_size));
  }
  return out;
}

// Throws CorruptCheckpoint; sets no path.
CheckpointFile parseCheckpoint(std::string_view data) {
  // Identity and version come first, before any checksum, so that a file from a newer Sluice
  // (whose layout may differ) gets a message saying so rather than "checksum mismatch".
  if (data.size() >= kHeaderMagic.size() && data.substr(0, kHeaderMagic.size()) != kHeaderMagic) {
    corrupt("not a Sluice checkpoint (wrong magic number)");
  }
  if (data.size() >= 12) {
    const auto major = getFixed<std::uint16_t>(data.data() + 8);
    const auto minor = getFixed<std::uint16_t>(data.data() + 10);
    if (major != kMajorVersion) {
      corrupt(fmt::format(
          "format version {}.{}; this Sluice reads only {}.x{}", major, minor, kMajorVersion,
          major > kMajorVersion ? " (it was written by a newer Sluice: upgrade to read it)" : ""));
    }
  }
  if (data.size() < kMinHeaderBytes + kTrailerBytes) {
    corrupt(fmt::format("{} bytes is shorter than any checkpoint (truncated?)", data.size()));
  }
  const std::size_t body_size = data.size() - kTrailerBytes;
  if (data.substr(body_size + 4) != kTrailerMagic) {
    corrupt("no end marker: the file is truncated or was not completely written");
  }
  const auto stored_file_crc = getFixed<std::uint32_t>(data.data() + body_size);
  if (crc32c(data.substr(0, body_size)) != stored_file_crc) {
    corrupt("file checksum mismatch (the contents are damaged)");
  }

  // The whole-file checksum matched; every field is still bounds-checked so that no file,
  // however it was made, can make the reader overrun, hang or allocate without limit.
  ByteReader in(data.substr(0, body_size));
  CheckpointFile file;
  in.bytes(kHeaderMagic.size() + 4, "magic and version");
  file.time_ms = in.fixed<std::int64_t>("time");
  if (file.time_ms < 0) corrupt(fmt::format("negative time {}", file.time_ms));
  const auto dependency_count = in.fixed<std::uint32_t>("dependency count");
  if (dependency_count > in.remaining() / 8) {
    corrupt(fmt::format("dependency count {} exceeds the file size", dependency_count));
  }
  file.depends_on.reserve(dependency_count);
  for (std::uint32_t i = 0; i < dependency_count; ++i) {
    const auto dependency = in.fixed<std::int64_t>("dependency");
    if (dependency < 0 || dependency >= file.time_ms ||
        (!file.depends_on.empty() && dependency <= file.depends_on.back())) {
      corrupt(fmt::format("dependency {} is not an older time in ascending order", dependency));
    }
    file.depends_on.push_back(dependency);
  }
  const auto section_count = in.fixed<std::uint32_t>("section count");
  const std::size_t header_size = in.position();
  const auto header_crc = in.fixed<std::uint32_t>("header checksum");
  if (crc32c(data.substr(0, header_size)) != header_crc) {
    corrupt("header checksum mismatch");
  }
  if (section_count > in.remaining() / kMinSectionBytes) {
    corrupt(fmt::format("section count {} exceeds the file size", section_count));
  }

  file.sections.reserve(section_count);
  std::set<std::string, std::less<>> names;
  for (std::uint32_t i = 0; i < section_count; ++i) {
    const std::size_t start = in.position();
    const auto name_size = in.fixed<std::uint32_t>("section name length");
    if (name_size == 0 || name_size > kMaxSectionNameBytes) {
      corrupt(fmt::format("section {} has a name of {} bytes", i, name_size));
    }
    std::string name(in.bytes(name_size, "section name"));
    const auto codec = in.fixed<std::uint8_t>("section codec");
    const auto raw_size = in.fixed<std::uint64_t>("section size");
    const auto stored_size = in.fixed<std::uint64_t>("section stored size");
    const std::string_view descriptor = data.substr(start, in.position() - start);
    const auto section_crc = in.fixed<std::uint32_t>("section checksum");
    const std::string_view stored = in.bytes(stored_size, "section bytes");
    if (crc32c(stored, crc32c(descriptor)) != section_crc) {
      corrupt(fmt::format("section '{}' checksum mismatch", name));
    }
    if (!names.insert(name).second) corrupt(fmt::format("section '{}' appears twice", name));
    if (raw_size > kMaxCheckpointSectionBytes) {
      corrupt(
          fmt::format("section '{}' claims {} bytes, more than the format allows", name, raw_size));
    }
    std::string payload;
    if (codec == kCodecRaw) {
      if (raw_size != stored_size) {
        corrupt(fmt::format("uncompressed section '{}' has size {} but {} stored bytes", name,
                            raw_size, stored_size));
      }
      payload.assign(stored);
    } else if (codec == kCodecZstd) {
      payload = decompress(stored, raw_size, name);
    } else {
      corrupt(fmt::format("section '{}' uses unknown codec {}", name, codec));
    }
    file.sections.push_back({std::move(name), std::move(payload)});
  }
  if (in.remaining() != 0) {
    corrupt(fmt::format("{} unexplained bytes before the trailer", in.remaining()));
  }
  return file;
}

// --- Chains of dependent checkpoints ---------------------------------------------------------

// Reads the checkpoints of one directory on demand, each at most once, and decides which ones
// are usable together with everything they depend on. Single-threaded.
class ChainResolver {
 public:
  ChainResolver(FileSystem& fs, std::string dir, const std::vector<std::int64_t>& times)
      : fs_(fs), dir_(std::move(dir)), present_(times.begin(), times.end()) {}

  // The times of `time`'s chain oldest first, ending with `time`; on failure `error` says why
  // the chain is unusable.
  struct Chain {
    std::vector<std::int64_t> times;
    std::string error;
  };

  Chain resolve(std::int64_t time) {
    std::set<std::int64_t> seen{time};
    std::vector<std::int64_t> pending{time};
    while (!pending.empty()) {
      const std::int64_t next = pending.back();
      pending.pop_back();
      const std::string path = checkpointPath(dir_, next);
      if (present_.count(next) == 0) {
        return {{}, fmt::format("it depends on '{}', which is missing", path)};
      }
      const Entry& entry = load(next);
      if (!entry.file) {
        if (next == time) return {{}, entry.error};
        return {{}, fmt::format("it depends on '{}', which is unusable: {}", path, entry.error)};
      }
      for (const std::int64_t dependency : entry.file->depends_on) {
        // Dependencies are strictly older (the reader checks), so this terminates.
        if (seen.insert(dependency).second) pending.push_back(dependency);
      }
    }
    return {{seen.begin(), seen.end()}, {}};
  }

  // The file read for `time`; only after resolve() found a chain holding it. A file taken must
  // be given back before another chain that holds it is taken.
  CheckpointFile take(std::int64_t time) { return std::move(*cache_.at(time).file); }
  void giveBack(CheckpointFile file) { cache_.at(file.time_ms).file = std::move(file); }

 private:
  struct Entry {
    std::optional<CheckpointFile> file;
    std::string error;
  };

  const Entry& load(std::int64_t time) {
    auto [it, inserted] = cache_.try_emplace(time);
    if (!inserted) return it->second;
    const std::string path = checkpointPath(dir_, time);
    // The errors are bare reasons: the callers' messages name the file.
    try {
      const std::string data = fs_.readFile(path);
      CheckpointFile file = parseCheckpoint(data);
      if (file.time_ms != time) {
        it->second.error = fmt::format("it holds time {}, not the time in its name", file.time_ms);
      } else {
        file.path = path;
        it->second.file = std::move(file);
      }
    } catch (const CorruptCheckpoint& e) {
      it->second.error = e.what();
    } catch (const Error& e) {
      // FileNotFoundError, IOError: a file we cannot read is as unusable as a damaged one.
      it->second.error = e.what();
    }
    return it->second;
  }

  FileSystem& fs_;
  const std::string dir_;
  const std::set<std::int64_t> present_;
  std::map<std::int64_t, Entry> cache_;
};

}  // namespace

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
#if defined(__x86_64__)
  if (haveSse42()) return ~crc32cHardware(~crc, bytes);
#endif
  return ~crc32cSoftware(~crc, bytes);
}

const CheckpointSection* CheckpointFile::find(std::string_view name) const {
  for (const CheckpointSection& section : sections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

bool isCheckpointTemporary(std::string_view name) {
  return name.starts_with(kTempPrefix) && name.ends_with(kTempSuffix);
}

std::string checkpointPath(const std::string& dir, std::int64_t time_ms) {
  return joinPath(dir, fileName(time_ms));
}

std::uint64_t writeCheckpointFile(FileSystem& fs, const std::string& dir,
                                  const CheckpointFile& file) {
  const std::string path = checkpointPath(dir, file.time_ms);
  // Reject what the reader would refuse before touching the disk.
  if (file.time_ms < 0) {
    throw InvalidArgumentError(fmt::format("checkpoint time {} must be >= 0", file.time_ms));
  }
  std::vector<std::int64_t> depends_on = file.depends_on;
  std::sort(depends_on.begin(), depends_on.end());
  depends_on.erase(std::unique(depends_on.begin(), depends_on.end()), depends_on.end());
  if (!depends_on.empty() && (depends_on.front() < 0 || depends_on.back() >= file.time_ms)) {
    throw InvalidArgumentError(
        fmt::format("checkpoint {} may depend only on older checkpoints (times 0 to {}), not on {}",
                    file.time_ms, file.time_ms - 1,
                    depends_on.front() < 0 ? depends_on.front() : depends_on.back()));
  }
  std::set<std::string_view> names;
  for (const CheckpointSection& section : file.sections) {
    if (section.name.empty() || section.name.size() > kMaxSectionNameBytes) {
      throw InvalidArgumentError(fmt::format("checkpoint section name '{}' must have 1 to {} bytes",
                                             section.name, kMaxSectionNameBytes));
    }
    if (!names.insert(section.name).second) {
      throw InvalidArgumentError(
          fmt::format("checkpoint section '{}' appears twice", section.name));
    }
    if (section.payload.size() > kMaxCheckpointSectionBytes) {
      throw InvalidArgumentError(fmt::format("checkpoint section '{}' has {} bytes; at most {}",
                                             section.name, section.payload.size(),
                                             kMaxCheckpointSectionBytes));
    }
  }

  fs.createDirectories(dir);
  const std::string temp_path =
      joinPath(dir, fmt::format("{}{:013d}{}", kTempPrefix, file.time_ms, kTempSuffix));
  std::unique_ptr<WritableFile> out;
  std::uint64_t written = 0;
  try {
    out = fs.newWritableFile(temp_path);
    // Sections are encoded and appended one at a time so that at most one compressed copy of a
    // payload exists; file_crc runs over every byte for the trailer.
    std::uint32_t file_crc = 0;
    auto append = [&](std::string_view bytes) {
      if (bytes.empty()) return;
      written += bytes.size();
      out->append(bytes);
      file_crc = crc32c(bytes, file_crc);
    };

    std::string header(kHeaderMagic);
    putFixed(header, kMajorVersion);
    putFixed(header, kMinorVersion);
    putFixed(header, file.time_ms);
    putFixed(header, static_cast<std::uint32_t>(depends_on.size()));
    for (const std::int64_t dependency : depends_on) putFixed(header, dependency);
    putFixed(header, static_cast<std::uint32_t>(file.sections.size()));
    putFixed(header, crc32c(header));
    append(header);

    for (const CheckpointSection& section : file.sections) {
      const std::string_view payload = section.payload;
      std::string compressed;
      std::uint8_t codec = kCodecRaw;
      if (payload.size() > kCompressThreshold) {
        compressed.resize(ZSTD_compressBound(payload.size()));
        const std::size_t n = ZSTD_compress(compressed.data(), compressed.size(), payload.data(),
                                            payload.size(), kZstdLevel);
        if (ZSTD_isError(n) != 0) {
          throw IOError(fmt::format("Cannot compress section '{}' of '{}': {}", section.name, path,
                                    ZSTD_getErrorName(n)));
        }
        // Incompressible data (already compressed, random) is stored as it is.
        if (n < payload.size()) {
          compressed.resize(n);
          codec = kCodecZstd;
        } else {
          compressed = std::string();
        }
      }
      const std::string_view stored = codec == kCodecZstd ? std::string_view(compressed) : payload;
      std::string descriptor;
      putFixed(descriptor, static_cast<std::uint32_t>(section.name.size()));
      descriptor += section.name;
      putFixed(descriptor, codec);
      putFixed(descriptor, static_cast<std::uint64_t>(payload.size()));
      putFixed(descriptor, static_cast<std::uint64_t>(stored.size()));
      putFixed(descriptor, crc32c(stored, crc32c(descriptor)));
      append(descriptor);
      append(stored);
    }

    std::string trailer;
    putFixed(trailer, file_crc);
    trailer += kTrailerMagic;
    append(trailer);

    out->sync();
    out->close();
    out.reset();
    crashPoint("checkpoint-written");
    fs.rename(temp_path, path);
    crashPoint("checkpoint-renamed");
  } catch (...) {
    out.reset();  // closes silently if still open
    try {
      fs.remove(temp_path);
    } catch (const std::exception& e) {
      log(LogLevel::kWarn,
          fmt::format("Cannot remove the unfinished checkpoint '{}': {}", temp_path, e.what()));
    }
    throw;
  }
  // The new file is complete and in place; this makes its name durable.
  fs.syncDirectory(dir);
  return written;
}

CheckpointFile readCheckpointFile(FileSystem& fs, const std::string& path) {
  const std::string data = fs.readFile(path);
  try {
    CheckpointFile file = parseCheckpoint(data);
    file.path = path;
    return file;
  } catch (const CorruptCheckpoint& e) {
    throw CheckpointError(fmt::format("Checkpoint file '{}' is unusable: {}", path, e.what()));
  }
}

std::vector<std::int64_t> listCheckpoints(FileSystem& fs, const std::string& dir) {
  std::vector<std::int64_t> times;
  for (const std::string& name : fs.listDirectory(dir)) {
    if (const auto time_ms = parseFileName(name)) times.push_back(*time_ms);
  }
  std::sort(times.begin(), times.end(), std::greater<>());
  return times;
}

std::optional<std::vector<CheckpointFile>> loadLatestCheckpoint(FileSystem& fs,
                                                                const std::string& dir,
                                                                const ChainCheck& check) {
  const std::vector<std::int64_t> times = listCheckpoints(fs, dir);
  if (times.empty()) return std::nullopt;
  ChainResolver resolver(fs, dir, times);
  std::string failures;
  for (const std::int64_t time : times) {
    ChainResolver::Chain chain = resolver.resolve(time);
    std::string error = std::move(chain.error);
    if (error.empty()) {
      std::vector<CheckpointFile> files;
      files.reserve(chain.times.size());
      for (const std::int64_t t : chain.times) files.push_back(resolver.take(t));
      if (check) error = check(files);
      if (error.empty()) return files;
      for (CheckpointFile& file : files) resolver.giveBack(std::move(file));
    }
    const std::string path = checkpointPath(dir, time);
    log(LogLevel::kWarn,
        fmt::format("Skipping checkpoint '{}': {}; trying an older one", path, error));
    failures += fmt::format("\n  '{}': {}", path, error);
  }
  throw CheckpointError(fmt::format(
      "No usable checkpoint in '{}'; each file and why it cannot be used:{}", dir, failures));
}

}  // namespace sluice::detail
