// Tests of the checkpoint container file (checkpoint/checkpoint_file.hpp): round trips, rejection
// of every truncation and of bit flips, fallback past unusable checkpoints, retention, and that a
// write failing at any step leaves the earlier checkpoints as they were.
#include "checkpoint/checkpoint_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using sluice::detail::CheckpointFile;
using sluice::detail::checkpointPath;
using sluice::detail::CheckpointSection;
using sluice::detail::crc32c;
using sluice::detail::FileSystem;
using sluice::detail::isCheckpointTemporary;
using sluice::detail::listCheckpoints;
using sluice::detail::loadLatestCheckpoint;
using sluice::detail::readCheckpointFile;
using sluice::detail::WritableFile;
using sluice::detail::writeCheckpointFile;

// A fresh directory, unique to the running test and process, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
    }
    path_ = (fs::path(::testing::TempDir()) /
             ("sluice_checkpoint_" + name + "_" + std::to_string(::getpid())))
                .string();
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Lowers the (process-wide) log level for a scope, so loops over hundreds of corrupt files stay
// quiet. Tests run one at a time, so nothing else logs meanwhile.
class QuietLog {
 public:
  QuietLog() { sluice::detail::setLogLevel(sluice::LogLevel::kError); }
  ~QuietLog() { sluice::detail::setLogLevel(sluice::LogLevel::kWarn); }
};

FileSystem& localFs() { return *FileSystem::local(); }

std::string readBytes(const std::string& path) { return localFs().readFile(path); }

void writeBytes(const std::string& path, std::string_view bytes) {
  auto out = localFs().newWritableFile(path);
  out->append(bytes);
  out->close();
}

std::string randomBytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

CheckpointFile makeFile(std::int64_t time_ms, std::vector<std::int64_t> depends_on = {},
                        std::vector<CheckpointSection> sections = {}) {
  CheckpointFile file;
  file.time_ms = time_ms;
  file.depends_on = std::move(depends_on);
  file.sections = std::move(sections);
  return file;
}

// A small checkpoint using every feature: dependencies, an empty section, binary bytes, and one
// section large enough to be compressed.
CheckpointFile smallFile(std::int64_t time_ms, std::vector<std::int64_t> depends_on = {}) {
  std::string compressible;
  for (int i = 0; i < 150; ++i) compressible += "word" + std::to_string(i % 7) + " ";
  return makeFile(time_ms, std::move(depends_on),
                  {{"meta", "batch " + std::to_string(time_ms)},
                   {"empty", ""},
                   {"binary", std::string("a\0b\0\xff\x01", 6)},
                   {"state", compressible}});
}

std::vector<std::int64_t> chainTimes(const std::vector<CheckpointFile>& chain) {
  std::vector<std::int64_t> times;
  for (const CheckpointFile& file : chain) times.push_back(file.time_ms);
  return times;
}

void expectSameContents(const CheckpointFile& expected, const CheckpointFile& actual) {
  EXPECT_EQ(expected.time_ms, actual.time_ms);
  EXPECT_EQ(expected.depends_on, actual.depends_on);
  ASSERT_EQ(expected.sections.size(), actual.sections.size());
  for (std::size_t i = 0; i < expected.sections.size(); ++i) {
    EXPECT_EQ(expected.sections[i].name, actual.sections[i].name);
    EXPECT_TRUE(expected.sections[i].payload == actual.sections[i].payload)
        << "section " << expected.sections[i].name;
  }
}

// The last time in the chain loaded from dir, or -1 when there is none.
std::int64_t latestTime(const std::string& dir) {
  const auto chain = loadLatestCheckpoint(localFs(), dir);
  return chain ? chain->back().time_ms : -1;
}

// --- CRC-32C ---------------------------------------------------------------------------------

std::uint32_t referenceCrc32c(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0x82F63B78u : 0u);
  }
  return ~crc;
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  // RFC 3720, B.4.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32c, MatchesBitwiseReferenceAtAnyLengthAndSplit) {
  const std::string bytes = randomBytes(300, 7);
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t len = 0; offset + len <= bytes.size(); len += 13) {
      const std::string_view piece = std::string_view(bytes).substr(offset, len);
      ASSERT_EQ(crc32c(piece), referenceCrc32c(piece)) << offset << " " << len;
      const std::size_t split = len / 3;
      ASSERT_EQ(crc32c(piece.substr(split), crc32c(piece.substr(0, split))), crc32c(piece));
    }
  }
}

// --- Round trips and names -------------------------------------------------------------------

TEST(CheckpointFile, RoundTripsEveryKindOfSection) {
  ScratchDir dir;
  std::string compressible;
  for (int i = 0; compressible.size() < (8u << 20); ++i) {
    compressible += "key" + std::to_string(i % 1000) + "\tvalue\n";
  }
  const std::string incompressible = randomBytes(1 << 20, 42);
  std::string binary = randomBytes(5000, 3);
  binary[0] = '\0';
  binary[4999] = '\0';
  const CheckpointFile written = makeFile(1'700'000'000'000, {1'699'999'990'000, 1'699'999'980'000},
                                          {{"empty", ""},
                                           {"small", "x"},
                                           {"binary", binary},
                                           {"nuls", std::string(2000, '\0')},
                                           {"compressible", compressible},
                                           {"incompressible", incompressible}});
  writeCheckpointFile(localFs(), dir.path(), written);

  const std::string path = checkpointPath(dir.path(), written.time_ms);
  const CheckpointFile read = readCheckpointFile(localFs(), path);
  EXPECT_EQ(read.path, path);
  CheckpointFile expected = written;
  expected.depends_on = {1'699'999'980'000, 1'699'999'990'000};  // stored sorted
  expectSameContents(expected, read);
  ASSERT_NE(read.find("compressible"), nullptr);
  EXPECT_EQ(read.find("compressible")->payload.size(), compressible.size());
  EXPECT_EQ(read.find("missing"), nullptr);
  // The compressible section was compressed and the random one stored as it was.
  EXPECT_LT(fs::file_size(path), compressible.size() / 4 + incompressible.size() + 20000);
  EXPECT_GT(fs::file_size(path), incompressible.size());
}

TEST(CheckpointFile, RoundTripsNoSectionsAndTimeZero) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), makeFile(0));
  expectSameContents(makeFile(0), readCheckpointFile(localFs(), checkpointPath(dir.path(), 0)));
}

TEST(CheckpointFile, PathsAndListing) {
  ScratchDir dir;
  EXPECT_EQ(checkpointPath("d", 42), "d/checkpoint-0000000000042");
  EXPECT_EQ(checkpointPath("d/", 1'700'000'000'000), "d/checkpoint-1700000000000");
  EXPECT_EQ(checkpointPath("d", 123'456'789'012'345), "d/checkpoint-123456789012345");
  EXPECT_TRUE(listCheckpoints(localFs(), dir.path() + "/missing").empty());

  for (const std::int64_t time : std::vector<std::int64_t>{300, 5, 1'700'000'000'000}) {
    writeCheckpointFile(localFs(), dir.path(), makeFile(time));
  }
  for (const char* other : {"checkpoint-42", "checkpoint-", "checkpoint-12x", "notes.txt",
                            ".checkpoint-0000000000400.tmp", "checkpoint-99999999999999999999"}) {
    writeBytes(dir.path() + "/" + other, "x");
  }
  EXPECT_EQ(listCheckpoints(localFs(), dir.path()),
            (std::vector<std::int64_t>{1'700'000'000'000, 300, 5}));
}

TEST(CheckpointFile, WriterRejectsWhatTheReaderWouldRefuse) {
  ScratchDir dir;
  using sluice::InvalidArgumentError;
  EXPECT_THROW(writeCheckpointFile(localFs(), dir.path(), makeFile(-1)), InvalidArgumentError);
  EXPECT_THROW(writeCheckpointFile(localFs(), dir.path(), makeFile(10, {10})),
               InvalidArgumentError);
  EXPECT_THROW(writeCheckpointFile(localFs(), dir.path(), makeFile(10, {-2})),
               InvalidArgumentError);
  EXPECT_THROW(writeCheckpointFile(localFs(), dir.path(), makeFile(10, {}, {{"a", ""}, {"a", ""}})),
               InvalidArgumentError);
  EXPECT_THROW(writeCheckpointFile(localFs(), dir.path(), makeFile(10, {}, {{"", "x"}})),
               InvalidArgumentError);
  EXPECT_TRUE(localFs().listDirectory(dir.path()).empty());
}

TEST(CheckpointFile, RewritingATimeReplacesTheFile) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), makeFile(7, {}, {{"v", "old"}}));
  writeCheckpointFile(localFs(), dir.path(), makeFile(7, {}, {{"v", "new"}}));
  EXPECT_EQ(readCheckpointFile(localFs(), checkpointPath(dir.path(), 7)).find("v")->payload, "new");
  EXPECT_EQ(localFs().listDirectory(dir.path()).size(), 1u);
}

// --- Corruption ------------------------------------------------------------------------------

TEST(CheckpointFile, EveryTruncationIsRejectedAndLoadingFallsBack) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  writeCheckpointFile(localFs(), dir.path(), smallFile(200, {100}));
  const std::string path = checkpointPath(dir.path(), 200);
  const std::string bytes = readBytes(path);
  // Small, so the loop stays fast, and smaller than its 900-byte section: that one is compressed.
  ASSERT_LT(bytes.size(), 500u);

  QuietLog quiet;
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    writeBytes(path, std::string_view(bytes).substr(0, size));
    EXPECT_THROW(readCheckpointFile(localFs(), path), sluice::CheckpointError) << size;
    const auto chain = loadLatestCheckpoint(localFs(), dir.path());
    ASSERT_TRUE(chain.has_value());
    ASSERT_EQ(chainTimes(*chain), std::vector<std::int64_t>{100}) << size;
  }
  writeBytes(path, bytes);
  expectSameContents(smallFile(200, {100}), readCheckpointFile(localFs(), path));
}

TEST(CheckpointFile, EverySingleBitFlipIsRejected) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  const std::string path = checkpointPath(dir.path(), 100);
  const std::string bytes = readBytes(path);
  std::mt19937 rng(20240607);
  std::uniform_int_distribution<std::size_t> bit(0, bytes.size() * 8 - 1);
  for (int i = 0; i < 1000; ++i) {
    const std::size_t flipped = bit(rng);
    std::string copy = bytes;
    copy[flipped / 8] = static_cast<char>(copy[flipped / 8] ^ (1 << (flipped % 8)));
    writeBytes(path, copy);
    EXPECT_THROW(readCheckpointFile(localFs(), path), sluice::CheckpointError) << "bit " << flipped;
  }
}

TEST(CheckpointFile, RefusesAFileFromANewerMajorVersion) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  const std::string path = checkpointPath(dir.path(), 100);
  std::string bytes = readBytes(path);
  bytes[8] = 2;  // major version, little-endian u16 at offset 8
  writeBytes(path, bytes);
  try {
    readCheckpointFile(localFs(), path);
    FAIL() << "expected CheckpointError";
  } catch (const sluice::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("version 2.0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer Sluice"), std::string::npos) << e.what();
  }
  writeBytes(path, "this is no checkpoint at all, just text");
  EXPECT_THROW(readCheckpointFile(localFs(), path), sluice::CheckpointError);
}

// Rewrites the checksums of a file with no dependencies and one section (layout in
// docs/checkpoint-format.md), so that a forged length field reaches the reader's bounds checks.
std::string resealOneSectionFile(std::string bytes) {
  auto putU32 = [&](std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i));
  };
  constexpr std::size_t kHeaderCrcAt = 28;
  putU32(kHeaderCrcAt, crc32c(std::string_view(bytes).substr(0, kHeaderCrcAt)));
  constexpr std::size_t kSectionAt = 32;
  const std::size_t name_size = static_cast<unsigned char>(bytes[kSectionAt]);
  const std::size_t crc_at = kSectionAt + 4 + name_size + 1 + 8 + 8;
  const std::size_t trailer_at = bytes.size() - 12;
  putU32(crc_at, crc32c(std::string_view(bytes).substr(crc_at + 4, trailer_at - crc_at - 4),
                        crc32c(std::string_view(bytes).substr(kSectionAt, crc_at - kSectionAt))));
  putU32(trailer_at, crc32c(std::string_view(bytes).substr(0, trailer_at)));
  return bytes;
}

TEST(CheckpointFile, ForgedLengthsWithValidChecksumsAreRejectedWithoutHugeAllocations) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), makeFile(100, {}, {{"s", "payload"}}));
  const std::string path = checkpointPath(dir.path(), 100);
  const std::string bytes = readBytes(path);
  ASSERT_EQ(resealOneSectionFile(bytes), bytes);  // the helper knows the layout

  auto expectRejected = [&](std::string forged, std::string_view why) {
    writeBytes(path, resealOneSectionFile(std::move(forged)));
    try {
      readCheckpointFile(localFs(), path);
      FAIL() << "expected CheckpointError for " << why;
    } catch (const sluice::CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  std::string forged = bytes;
  forged.replace(20, 4, "\xff\xff\xff\x7f");  // dependency count
  expectRejected(forged, "dependency count");
  forged = bytes;
  forged.replace(24, 4, "\xff\xff\xff\xff");  // section count
  expectRejected(forged, "section count");
  forged = bytes;
  forged[37] = 1;                                             // codec zstd
  forged.replace(38, 8, std::string("\0\0\0\0\0\1\0\0", 8));  // raw size 2^40
  expectRejected(forged, "more than the format allows");
  forged = bytes;
  forged[37] = 1;
  forged.replace(38, 8, std::string("\0\0\0\x40\0\0\0\0", 8));  // raw size 1 GiB
  expectRejected(forged, "zstd frame");
  forged = bytes;
  forged.replace(46, 8, std::string("\0\0\0\0\0\0\0\x01", 8));  // stored size 2^56
  expectRejected(forged, "section bytes");
  forged = bytes;
  forged.replace(32, 4, std::string("\0\0\0\x01", 4));  // name length 2^24
  expectRejected(forged, "name");
}

// --- Fallback --------------------------------------------------------------------------------

void flipByte(const std::string& path, std::size_t at) {
  std::string bytes = readBytes(path);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
  writeBytes(path, bytes);
}

TEST(LoadLatestCheckpoint, EmptyOrMissingDirectoryHasNoCheckpoint) {
  ScratchDir dir;
  EXPECT_FALSE(loadLatestCheckpoint(localFs(), dir.path()).has_value());
  EXPECT_FALSE(loadLatestCheckpoint(localFs(), dir.path() + "/missing").has_value());
  writeBytes(dir.path() + "/.checkpoint-0000000000100.tmp", "partial");
  writeBytes(dir.path() + "/README", "not a checkpoint");
  EXPECT_FALSE(loadLatestCheckpoint(localFs(), dir.path()).has_value());
}

TEST(LoadLatestCheckpoint, SkipsACorruptNewestFileWithAWarning) {
  ScratchDir dir;
  for (const std::int64_t time : {100, 200, 300}) {
    writeCheckpointFile(localFs(), dir.path(), smallFile(time));
  }
  flipByte(checkpointPath(dir.path(), 300), 60);

  ::testing::internal::CaptureStderr();
  const auto chain = loadLatestCheckpoint(localFs(), dir.path());
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(chain.has_value());
  ASSERT_EQ(chainTimes(*chain), std::vector<std::int64_t>{200});
  expectSameContents(smallFile(200), chain->front());
  EXPECT_EQ(chain->front().path, checkpointPath(dir.path(), 200));
  EXPECT_NE(log.find("checkpoint-0000000000300"), std::string::npos) << log;
  EXPECT_NE(log.find("checksum mismatch"), std::string::npos) << log;
}

TEST(LoadLatestCheckpoint, ThrowsListingEveryFileWhenNoneIsUsable) {
  ScratchDir dir;
  for (const std::int64_t time : {100, 200}) {
    writeCheckpointFile(localFs(), dir.path(), smallFile(time));
  }
  flipByte(checkpointPath(dir.path(), 100), 60);
  const std::string newest = checkpointPath(dir.path(), 200);
  writeBytes(newest, readBytes(newest).substr(0, 50));

  QuietLog quiet;
  try {
    loadLatestCheckpoint(localFs(), dir.path());
    FAIL() << "expected CheckpointError";
  } catch (const sluice::CheckpointError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("checkpoint-0000000000100"), std::string::npos) << message;
    EXPECT_NE(message.find("checkpoint-0000000000200"), std::string::npos) << message;
    EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message;
    EXPECT_NE(message.find("end marker"), std::string::npos) << message;
  }
}

TEST(LoadLatestCheckpoint, ReturnsTheWholeDependencyChainOldestFirst) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(50));
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  writeCheckpointFile(localFs(), dir.path(), smallFile(200, {100}));
  writeCheckpointFile(localFs(), dir.path(), smallFile(300, {200, 100}));
  writeCheckpointFile(localFs(), dir.path(), smallFile(400, {300}));
  const auto chain = loadLatestCheckpoint(localFs(), dir.path());
  ASSERT_TRUE(chain.has_value());
  EXPECT_EQ(chainTimes(*chain), (std::vector<std::int64_t>{100, 200, 300, 400}));
  expectSameContents(smallFile(300, {100, 200}), (*chain)[2]);
}

TEST(LoadLatestCheckpoint, ABrokenDependencyFallsBackPastTheWholeChain) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(50));
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  writeCheckpointFile(localFs(), dir.path(), smallFile(200, {100}));
  writeCheckpointFile(localFs(), dir.path(), smallFile(300, {200}));
  const std::string middle = checkpointPath(dir.path(), 200);
  const std::string middle_bytes = readBytes(middle);

  // 200 corrupt: 300 depends on it, so both are skipped and 100 is the newest usable.
  flipByte(middle, 40);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(latestTime(dir.path()), 100);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("depends on '" + middle + "', which is unusable"), std::string::npos) << log;

  // 100 missing: 300 needs it through 200, so 50 is the newest usable.
  writeBytes(middle, middle_bytes);
  fs::remove(checkpointPath(dir.path(), 100));
  QuietLog quiet;
  EXPECT_EQ(latestTime(dir.path()), 50);

  // A file whose contents are for another time than its name is unusable too.
  fs::copy_file(checkpointPath(dir.path(), 50), checkpointPath(dir.path(), 100));
  EXPECT_EQ(latestTime(dir.path()), 50);
}

TEST(LoadLatestCheckpoint, AChainTheCheckRejectsIsPassedOverWithItsFilesIntact) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  writeCheckpointFile(localFs(), dir.path(), smallFile(200, {100}));
  writeCheckpointFile(localFs(), dir.path(), smallFile(300, {100}));
  std::vector<std::int64_t> offered;
  ::testing::internal::CaptureStderr();
  const auto chain =
      loadLatestCheckpoint(localFs(), dir.path(), [&](const std::vector<CheckpointFile>& c) {
        offered.push_back(c.back().time_ms);
        return c.back().time_ms == 300 ? std::string("its saved state is damaged") : std::string();
      });
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(offered, (std::vector<std::int64_t>{300, 200}));
  ASSERT_TRUE(chain.has_value());
  EXPECT_EQ(chainTimes(*chain), (std::vector<std::int64_t>{100, 200}));
  // 100 was offered with 300 first, then handed out again whole.
  expectSameContents(smallFile(100), (*chain)[0]);
  expectSameContents(smallFile(200, {100}), (*chain)[1]);
  EXPECT_NE(log.find("Skipping checkpoint '" + checkpointPath(dir.path(), 300) +
                     "': its saved state is damaged"),
            std::string::npos)
      << log;
}

TEST(LoadLatestCheckpoint, WhenTheCheckRejectsEveryChainTheErrorListsEachReason) {
  ScratchDir dir;
  writeCheckpointFile(localFs(), dir.path(), smallFile(100));
  writeCheckpointFile(localFs(), dir.path(), smallFile(200));
  QuietLog quiet;
  try {
    loadLatestCheckpoint(localFs(), dir.path(), [](const std::vector<CheckpointFile>& c) {
      return "reason " + std::to_string(c.back().time_ms);
    });
    FAIL() << "expected CheckpointError";
  } catch (const sluice::CheckpointError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("reason 200"), std::string::npos) << what;
    EXPECT_NE(what.find("reason 100"), std::string::npos) << what;
  }
  // What the check throws is not a reason to fall back: it reaches the caller.
  EXPECT_THROW(loadLatestCheckpoint(localFs(), dir.path(),
                                    [](const std::vector<CheckpointFile>&) -> std::string {
                                      throw sluice::InvalidArgumentError("does not fit");
                                    }),
               sluice::InvalidArgumentError);
}

std::vector<std::string> entries(const std::string& dir) { return localFs().listDirectory(dir); }

// --- Write failures --------------------------------------------------------------------------

// A FileSystem over the real one that fails chosen calls the way a full disk does, to prove that a
// failed checkpoint write leaves the earlier checkpoints alone. Single-threaded, like its tests.
class FaultyFileSystem final : public FileSystem {
 public:
  struct Faults {
    int fail_append = 0;  // the n-th append (1-based) writes half its bytes, then fails
    bool fail_sync = false;
    bool fail_close = false;
    bool fail_rename = false;
    bool fail_sync_directory = false;
    bool fail_remove = false;
  };
  explicit FaultyFileSystem(Faults faults) : faults_(faults) {}

  int appends() const { return appends_; }

  std::unique_ptr<WritableFile> newWritableFile(const std::string& path, bool append) override {
    return std::make_unique<File>(*this, path, inner_->newWritableFile(path, append));
  }
  std::string readFile(const std::string& path) override { return inner_->readFile(path); }
  void rename(const std::string& from, const std::string& to) override {
    if (faults_.fail_rename) noSpace("rename", to);
    inner_->rename(from, to);
  }
  void remove(const std::string& path) override {
    if (faults_.fail_remove) throw sluice::IOError("Cannot remove '" + path + "': I/O error");
    inner_->remove(path);
  }
  void syncDirectory(const std::string& dir) override {
    if (faults_.fail_sync_directory) noSpace("sync directory", dir);
    inner_->syncDirectory(dir);
  }
  std::vector<std::string> listDirectory(const std::string& dir) override {
    return inner_->listDirectory(dir);
  }
  bool exists(const std::string& path) override { return inner_->exists(path); }
  void createDirectories(const std::string& dir) override { inner_->createDirectories(dir); }
  void truncate(const std::string& path, std::size_t size) override {
    inner_->truncate(path, size);
  }

 private:
  class File final : public WritableFile {
   public:
    File(FaultyFileSystem& owner, std::string path, std::unique_ptr<WritableFile> inner)
        : owner_(owner), path_(std::move(path)), inner_(std::move(inner)) {}
    void append(std::string_view bytes) override {
      if (++owner_.appends_ == owner_.faults_.fail_append) {
        inner_->append(bytes.substr(0, bytes.size() / 2));
        noSpace("write", path_);
      }
      inner_->append(bytes);
    }
    void sync() override {
      if (owner_.faults_.fail_sync) noSpace("sync", path_);
      inner_->sync();
    }
    void close() override {
      if (owner_.faults_.fail_close) noSpace("close", path_);
      inner_->close();
    }

   private:
    FaultyFileSystem& owner_;
    std::string path_;
    std::unique_ptr<WritableFile> inner_;
  };

  [[noreturn]] static void noSpace(std::string_view what, const std::string& path) {
    throw sluice::IOError("Cannot " + std::string(what) + " '" + path +
                          "': No space left on device");
  }

  std::shared_ptr<FileSystem> inner_ = FileSystem::local();
  Faults faults_;
  int appends_ = 0;
};

// Writes 100 and 200 (which depends on 100) and remembers their bytes.
class CheckpointWriteFailure : public ::testing::Test {
 protected:
  void SetUp() override {
    writeCheckpointFile(localFs(), dir_.path(), smallFile(100));
    writeCheckpointFile(localFs(), dir_.path(), smallFile(200, {100}));
    for (const std::int64_t time : {100, 200}) {
      before_.push_back(readBytes(checkpointPath(dir_.path(), time)));
    }
  }

  // A checkpoint 300 as large as a real one, with several sections to append.
  static CheckpointFile next() {
    return makeFile(
        300, {200},
        {{"meta", "m"}, {"state", std::string(100000, 's')}, {"blob", randomBytes(3000, 1)}});
  }

  // The earlier files are byte-identical, and loading still finds 200.
  void expectEarlierCheckpointsIntact() {
    EXPECT_EQ(readBytes(checkpointPath(dir_.path(), 100)), before_[0]);
    EXPECT_EQ(readBytes(checkpointPath(dir_.path(), 200)), before_[1]);
    const auto chain = loadLatestCheckpoint(localFs(), dir_.path());
    ASSERT_TRUE(chain.has_value());
    EXPECT_EQ(chainTimes(*chain), (std::vector<std::int64_t>{100, 200}));
  }

  void expectFailsWithNoSpace(FaultyFileSystem& faulty) {
    try {
      writeCheckpointFile(faulty, dir_.path(), next());
      FAIL() << "expected IOError";
    } catch (const sluice::IOError& e) {
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos)
          << e.what();
    }
  }

  ScratchDir dir_;
  std::vector<std::string> before_;
};

TEST_F(CheckpointWriteFailure, EveryFailingAppendLeavesEarlierCheckpointsIntact) {
  FaultyFileSystem counting({});
  writeCheckpointFile(counting, dir_.path(), next());
  const int appends = counting.appends();
  ASSERT_GE(appends, 5);
  fs::remove(checkpointPath(dir_.path(), 300));

  for (int k = 1; k <= appends; ++k) {
    SCOPED_TRACE("append " + std::to_string(k));
    FaultyFileSystem faulty({.fail_append = k});
    expectFailsWithNoSpace(faulty);
    EXPECT_EQ(entries(dir_.path()).size(), 2u);  // no temporary, no 300
    expectEarlierCheckpointsIntact();
  }
}

TEST_F(CheckpointWriteFailure, FailingSyncCloseOrRenameLeavesEarlierCheckpointsIntact) {
  for (const FaultyFileSystem::Faults faults :
       {FaultyFileSystem::Faults{.fail_sync = true}, FaultyFileSystem::Faults{.fail_close = true},
        FaultyFileSystem::Faults{.fail_rename = true}}) {
    FaultyFileSystem faulty(faults);
    expectFailsWithNoSpace(faulty);
    EXPECT_EQ(entries(dir_.path()).size(), 2u);
    expectEarlierCheckpointsIntact();
  }
}

TEST_F(CheckpointWriteFailure, AnUnremovableTemporaryIsIgnored) {
  QuietLog quiet;
  FaultyFileSystem faulty({.fail_append = 2, .fail_remove = true});
  expectFailsWithNoSpace(faulty);
  const auto names = entries(dir_.path());
  EXPECT_EQ(names.size(), 3u);  // the temporary is still there
  EXPECT_EQ(std::count_if(names.begin(), names.end(),
                          [](const std::string& n) { return isCheckpointTemporary(n); }),
            1);
  expectEarlierCheckpointsIntact();
}

TEST_F(CheckpointWriteFailure, AFailingDirectorySyncLeavesTheCompleteNewFile) {
  FaultyFileSystem faulty({.fail_sync_directory = true});
  expectFailsWithNoSpace(faulty);
  EXPECT_EQ(readBytes(checkpointPath(dir_.path(), 100)), before_[0]);
  EXPECT_EQ(readBytes(checkpointPath(dir_.path(), 200)), before_[1]);
  EXPECT_EQ(latestTime(dir_.path()), 300);
}

}  // namespace
