// Tests of the receiver write-ahead log: record round trips, rolling and cleaning by caller time,
// reopening, concurrent appends, torn tails, corruption, and injected I/O failures.
#include "streaming/write_ahead_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sluice/error.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "io/faulty_file_system.hpp"

namespace {

namespace fs = std::filesystem;
using sluice::detail::FileSystem;
using sluice::detail::FsyncPolicy;
using sluice::detail::WalReadStats;
using sluice::detail::WalRecordHandle;
using sluice::detail::WritableFile;
using sluice::detail::WriteAheadLog;
using sluice::detail::WriteAheadLogOptions;
using sluice::testing_io::FaultyFileSystem;

// A fresh directory, unique to the running test and process, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
    }
    path_ =
        fs::path(::testing::TempDir()) / ("sluice_wal_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Deterministic bytes that differ between records, so a swapped or interleaved record shows.
std::string payload(std::uint32_t seed, std::size_t size) {
  std::mt19937 gen(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(gen() & 0xffU);
  return bytes;
}

struct Record {
  WalRecordHandle handle;
  std::string payload;
};

std::vector<Record> readAll(WriteAheadLog& wal, WalReadStats* stats = nullptr) {
  std::vector<Record> records;
  const WalReadStats s = wal.readAll([&](const WalRecordHandle& handle, std::string_view bytes) {
    records.push_back({handle, std::string(bytes)});
  });
  if (stats != nullptr) *stats = s;
  return records;
}

std::vector<std::string> segmentNames(const std::string& dir) {
  return FileSystem::local()->listDirectory(dir);
}

WriteAheadLogOptions rolling(std::int64_t interval_ms,
                             FsyncPolicy policy = FsyncPolicy::kEveryRecord) {
  WriteAheadLogOptions options;
  options.rolling_interval_ms = interval_ms;
  options.fsync_policy = policy;
  return options;
}

std::string le32(std::uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffU));
  return out;
}

std::uint32_t maskCrc(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8U; }

TEST(WriteAheadLog, RoundTripsRecordsOfSizesUpToOneMiB) {
  ScratchDir dir;
  std::vector<std::size_t> sizes = {0,    1,    2,    7,     8,     9,      255,    256,
                                    4095, 4096, 4097, 65535, 65536, 100000, 1 << 20};
  std::mt19937 gen(42);
  for (int i = 0; i < 8; ++i) sizes.push_back(gen() % ((1U << 20) + 1));

  std::vector<Record> written;
  {
    WriteAheadLog wal(dir.sub("log"));
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::string bytes = payload(static_cast<std::uint32_t>(i), sizes[i]);
      WalRecordHandle handle = wal.append(1000, bytes);
      EXPECT_EQ(handle.length, sizes[i]);
      EXPECT_EQ(wal.read(handle), bytes) << "record " << i;
      written.push_back({std::move(handle), std::move(bytes)});
    }
    WalReadStats stats;
    const auto read = readAll(wal, &stats);
    ASSERT_EQ(read.size(), written.size());
    for (std::size_t i = 0; i < read.size(); ++i) {
      EXPECT_EQ(read[i].handle, written[i].handle) << "record " << i;
      EXPECT_EQ(read[i].payload, written[i].payload) << "record " << i;
    }
    EXPECT_EQ(stats.records, written.size());
    EXPECT_EQ(stats.torn_tails, 0U);
    EXPECT_EQ(stats.corrupt_segments, 0U);
  }
  // All records share one segment, back to back.
  std::size_t total = 0;
  for (const auto& r : written) total += 8 + r.payload.size();
  EXPECT_EQ(fs::file_size(written.front().handle.path), total);

  WriteAheadLog reopened(dir.sub("log"));
  for (const auto& r : written) EXPECT_EQ(reopened.read(r.handle), r.payload);
}

TEST(WriteAheadLog, OnDiskFormatIsLengthMaskedCrc32cPayload) {
  ScratchDir dir;
  WriteAheadLog wal(dir.sub("log"));
  const WalRecordHandle a = wal.append(0, "123456789");
  const WalRecordHandle b = wal.append(0, "");
  wal.close();
  // 0xe3069283 is CRC-32C's published check value for "123456789"; the CRC of "" is 0.
  const std::string expected =
      le32(9) + le32(maskCrc(0xe3069283U)) + "123456789" + le32(0) + le32(maskCrc(0));
  EXPECT_EQ(readBytes(a.path), expected);
  EXPECT_EQ(a.offset, 0U);
  EXPECT_EQ(b.offset, 17U);
  EXPECT_EQ(b.length, 0U);
}

TEST(WriteAheadLog, RollsSegmentsOnCallerTime) {
  ScratchDir dir;
  const std::string log_dir = dir.sub("receivedData/0");
  WriteAheadLog wal(log_dir, rolling(1000));
  std::map<std::int64_t, std::string> path_of;
  for (const std::int64_t t : {0, 500, 999, 1000, 2500, 2600, 10000}) {
    path_of[t] = wal.append(t, "at " + std::to_string(t)).path;
  }
  EXPECT_EQ(segmentNames(log_dir), (std::vector<std::string>{"log-0-1000", "log-1000-2000",
                                                             "log-10000-11000", "log-2500-3500"}));
  EXPECT_EQ(path_of[0], log_dir + "/log-0-1000");
  EXPECT_EQ(path_of[500], path_of[0]);
  EXPECT_EQ(path_of[999], path_of[0]);
  EXPECT_EQ(path_of[1000], log_dir + "/log-1000-2000");
  EXPECT_EQ(path_of[2500], log_dir + "/log-2500-3500");
  EXPECT_EQ(path_of[2600], path_of[2500]);
  EXPECT_EQ(path_of[10000], log_dir + "/log-10000-11000");

  // Segments are read in time order, not in the directory's (string) order.
  std::vector<std::string> payloads;
  for (const auto& r : readAll(wal)) payloads.push_back(r.payload);
  EXPECT_EQ(payloads, (std::vector<std::string>{"at 0", "at 500", "at 999", "at 1000", "at 2500",
                                                "at 2600", "at 10000"}));
}

TEST(WriteAheadLog, ReadByHandleChecksBoundsAndLength) {
  ScratchDir dir;
  WriteAheadLog wal(dir.sub("log"));
  const WalRecordHandle first = wal.append(0, "first");
  const WalRecordHandle second = wal.append(0, "second record");
  EXPECT_EQ(wal.read(second), "second record");
  EXPECT_EQ(wal.read(first), "first");

  WalRecordHandle wrong_length = second;
  wrong_length.length = 3;
  EXPECT_THROW(wal.read(wrong_length), sluice::CheckpointError);
  WalRecordHandle past_end = second;
  past_end.offset = 1000;
  EXPECT_THROW(wal.read(past_end), sluice::CheckpointError);
  WalRecordHandle huge = second;
  huge.length = 0xffffffffU;
  EXPECT_THROW(wal.read(huge), sluice::CheckpointError);
  WalRecordHandle missing = second;
  missing.path = dir.sub("log/log-5-6");
  EXPECT_THROW(wal.read(missing), sluice::FileNotFoundError);
}

TEST(WriteAheadLog, CleanDeletesSegmentsEndingBeforeTheThresholdButNeverTheActiveOne) {
  ScratchDir dir;
  const std::string log_dir = dir.sub("log");
  WriteAheadLog wal(log_dir, rolling(1000));
  for (const std::int64_t t : {0, 1000, 2500, 10000}) wal.append(t, "x");

  wal.clean(2000);  // log-0-1000 ends before 2000; log-1000-2000 ends at it and stays
  EXPECT_EQ(segmentNames(log_dir),
            (std::vector<std::string>{"log-1000-2000", "log-10000-11000", "log-2500-3500"}));
  wal.clean(3501);
  EXPECT_EQ(segmentNames(log_dir), (std::vector<std::string>{"log-10000-11000"}));
  wal.clean(1'000'000);  // the active segment is still open
  EXPECT_EQ(segmentNames(log_dir), (std::vector<std::string>{"log-10000-11000"}));
  EXPECT_EQ(readAll(wal).size(), 1U);

  wal.close();
  wal.clean(1'000'000);
  EXPECT_TRUE(segmentNames(log_dir).empty());
  EXPECT_TRUE(readAll(wal).empty());
}

TEST(WriteAheadLog, ReopeningContinuesInANewSegmentWithoutOverwriting) {
  ScratchDir dir;
  const std::string log_dir = dir.sub("log");
  {
    WriteAheadLog wal(log_dir, rolling(1000));
    wal.append(0, "a");
    wal.append(1500, "b");
  }
  {
    // A restarted process whose times start again at 0 must not truncate log-0-1000.
    WriteAheadLog wal(log_dir, rolling(1000));
    std::vector<std::string> before;
    for (const auto& r : readAll(wal)) before.push_back(r.payload);
    EXPECT_EQ(before, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(wal.append(0, "c").path, log_dir + "/log-0-1000.1");
    EXPECT_EQ(wal.append(3000, "d").path, log_dir + "/log-3000-4000");
  }
  WriteAheadLog wal(log_dir, rolling(1000));
  std::vector<std::string> after;
  for (const auto& r : readAll(wal)) after.push_back(r.payload);
  EXPECT_EQ(after, (std::vector<std::string>{"a", "c", "b", "d"}));
  EXPECT_EQ(wal.append(3000, "e").path, log_dir + "/log-3000-4000.1");
}

TEST(WriteAheadLog, ConcurrentAppendsFromFourThreadsAreAllReadableAndWhole) {
  ScratchDir dir;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 400;
  WriteAheadLog wal(dir.sub("log"), rolling(100, FsyncPolicy::kNone));
  std::vector<std::vector<Record>> written(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const auto seed = static_cast<std::uint32_t>(t * kPerThread + i);
        std::string bytes = payload(seed, 1 + seed % 3000);
        // Times from every thread interleave, so rolling happens under contention too.
        WalRecordHandle handle = wal.append(i, bytes);
        written[t].push_back({std::move(handle), std::move(bytes)});
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::map<std::pair<std::string, std::uint64_t>, std::string> expected;
  for (const auto& per_thread : written) {
    for (const auto& r : per_thread) {
      EXPECT_EQ(wal.read(r.handle), r.payload);
      expected[{r.handle.path, r.handle.offset}] = r.payload;
    }
  }
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kThreads * kPerThread));
  WalReadStats stats;
  const auto read = readAll(wal, &stats);
  EXPECT_EQ(stats.torn_tails + stats.corrupt_segments, 0U);
  ASSERT_EQ(read.size(), expected.size());
  for (const auto& r : read) {
    const auto it = expected.find({r.handle.path, r.handle.offset});
    ASSERT_NE(it, expected.end()) << r.handle.path << " @" << r.handle.offset;
    EXPECT_EQ(r.payload, it->second);
  }
}

// Two closed segments; the last one holds three records, the last of which is `last_size` bytes.
struct TornFixture {
  std::vector<Record> records;
  std::string last_segment;
};

TornFixture writeTwoSegments(const std::string& log_dir, std::size_t last_size) {
  TornFixture f;
  WriteAheadLog wal(log_dir, rolling(1000));
  const std::vector<std::pair<std::int64_t, std::size_t>> plan = {
      {0, 10}, {10, 20}, {5000, 30}, {5001, 0}, {5002, last_size}};
  for (std::size_t i = 0; i < plan.size(); ++i) {
    std::string bytes = payload(static_cast<std::uint32_t>(100 + i), plan[i].second);
    WalRecordHandle handle = wal.append(plan[i].first, bytes);
    f.records.push_back({std::move(handle), std::move(bytes)});
  }
  f.last_segment = f.records.back().handle.path;
  return f;
}

void expectPayloads(const std::vector<Record>& got, const std::vector<Record>& want,
                    std::size_t count) {
  ASSERT_EQ(got.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(got[i].handle, want[i].handle) << "record " << i;
    EXPECT_EQ(got[i].payload, want[i].payload) << "record " << i;
  }
}

TEST(WriteAheadLog, TornTailAtEveryByteOfTheLastRecordIsCutOff) {
  ScratchDir dir;
  const std::string original = dir.sub("original");
  const TornFixture f = writeTwoSegments(original, 40);
  const std::string segment_name = fs::path(f.last_segment).filename().string();
  const std::string full = readBytes(f.last_segment);
  const std::size_t last_offset = f.records.back().handle.offset;
  ASSERT_EQ(full.size(), last_offset + 8 + 40);

  for (std::size_t cut = last_offset; cut < full.size(); ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    const std::string copy = dir.sub("copy_" + std::to_string(cut));
    fs::copy(original, copy, fs::copy_options::recursive);
    writeBytes(copy + "/" + segment_name, full.substr(0, cut));

    WriteAheadLog wal(copy, rolling(1000));
    WalReadStats stats;
    const auto read = readAll(wal, &stats);
    ASSERT_EQ(read.size(), f.records.size() - 1);
    for (std::size_t i = 0; i < read.size(); ++i) EXPECT_EQ(read[i].payload, f.records[i].payload);
    EXPECT_EQ(stats.torn_tails, cut > last_offset ? 1U : 0U);
    EXPECT_EQ(stats.corrupt_segments, 0U);
    EXPECT_EQ(fs::file_size(copy + "/" + segment_name), last_offset);

    // Recovery goes on appending after the cut, and a second pass finds nothing to repair.
    if (cut == last_offset + 5) {
      wal.append(5003, "after recovery");
      const auto again = readAll(wal, &stats);
      ASSERT_EQ(again.size(), f.records.size());
      EXPECT_EQ(again.back().payload, "after recovery");
      EXPECT_EQ(stats.torn_tails + stats.corrupt_segments, 0U);
    }
    fs::remove_all(copy);
  }
}

TEST(WriteAheadLog, BadCrcOrZeroFilledTailOfTheLastRecordIsATornTail) {
  ScratchDir dir;
  const std::string log_dir = dir.sub("log");
  const TornFixture f = writeTwoSegments(log_dir, 40);
  const std::string full = readBytes(f.last_segment);
  const std::size_t last_offset = f.records.back().handle.offset;

  for (const bool zero_fill : {false, true}) {
    SCOPED_TRACE(zero_fill ? "zero-filled payload and tail" : "flipped last byte");
    std::string damaged = full;
    if (zero_fill) {
      std::fill(damaged.begin() + static_cast<std::ptrdiff_t>(last_offset + 8), damaged.end(),
                '\0');
      damaged.append(64, '\0');  // the size reached the disk before the data did
    } else {
      damaged.back() = static_cast<char>(damaged.back() ^ 0x01);
    }
    writeBytes(f.last_segment, damaged);
    WriteAheadLog wal(log_dir, rolling(1000));
    EXPECT_THROW(wal.read(f.records.back().handle), sluice::CheckpointError);
    WalReadStats stats;
    expectPayloads(readAll(wal, &stats), f.records, f.records.size() - 1);
    EXPECT_EQ(stats.torn_tails, 1U);
    EXPECT_EQ(stats.corrupt_segments, 0U);
    EXPECT_EQ(fs::file_size(f.last_segment), last_offset);
  }
}

TEST(WriteAheadLog, BitFlipsInTheMiddleAreDetectedWithoutCrashing) {
  ScratchDir dir;
  const std::string original = dir.sub("original");
  std::vector<Record> first;  // the segment that gets damaged
  std::vector<Record> second;
  {
    WriteAheadLog wal(original, rolling(1000));
    std::mt19937 gen(7);
    for (int i = 0; i < 40; ++i) {
      std::string bytes = payload(static_cast<std::uint32_t>(i), 20 + gen() % 300);
      WalRecordHandle handle = wal.append(0, bytes);
      first.push_back({std::move(handle), std::move(bytes)});
    }
    for (int i = 0; i < 5; ++i) {
      std::string bytes = payload(static_cast<std::uint32_t>(1000 + i), 50);
      WalRecordHandle handle = wal.append(2000, bytes);
      second.push_back({std::move(handle), std::move(bytes)});
    }
  }
  const std::string name = fs::path(first.front().handle.path).filename().string();
  const std::string full = readBytes(first.front().handle.path);
  // The middle: anywhere before the segment's last record.
  const std::size_t middle_end = first.back().handle.offset;

  std::mt19937 gen(20240611);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t byte = gen() % middle_end;
    const int bit = static_cast<int>(gen() % 8);
    SCOPED_TRACE("flip bit " + std::to_string(bit) + " of byte " + std::to_string(byte));
    const std::string copy = dir.sub("copy");
    fs::remove_all(copy);
    fs::copy(original, copy, fs::copy_options::recursive);
    std::string damaged = full;
    damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
    writeBytes(copy + "/" + name, damaged);

    WriteAheadLog wal(copy, rolling(1000));
    WalReadStats stats;
    const auto read = readAll(wal, &stats);
    EXPECT_EQ(stats.torn_tails + stats.corrupt_segments, 1U);
    // A strict prefix of the damaged segment, then all of the next one.
    ASSERT_GE(read.size(), second.size());
    const std::size_t kept = read.size() - second.size();
    ASSERT_LT(kept, first.size());
    for (std::size_t i = 0; i < kept; ++i) EXPECT_EQ(read[i].payload, first[i].payload);
    for (std::size_t i = 0; i < second.size(); ++i) {
      EXPECT_EQ(read[kept + i].payload, second[i].payload);
    }
    // The damaged record holds the flipped byte; reading it by its handle fails cleanly.
    EXPECT_LE(first[kept].handle.offset, byte);
    WalRecordHandle damaged_handle = first[kept].handle;
    damaged_handle.path = copy + "/" + name;
    EXPECT_THROW(wal.read(damaged_handle), sluice::CheckpointError);
  }
}

class WriteAheadLogFaults : public ::testing::TestWithParam<FaultyFileSystem::Fault> {};

TEST_P(WriteAheadLogFaults, FailedAppendThrowsAndKeepsEarlierRecords) {
  ScratchDir dir;
  auto faulty = std::make_shared<FaultyFileSystem>();
  WriteAheadLogOptions options = rolling(1000);
  options.file_system = faulty;
  WriteAheadLog wal(dir.sub("log"), options);
  std::vector<Record> written;
  for (int i = 0; i < 5; ++i) {
    std::string bytes = payload(static_cast<std::uint32_t>(i), 100 + i);
    WalRecordHandle handle = wal.append(0, bytes);
    written.push_back({std::move(handle), std::move(bytes)});
  }

  faulty->setFault(GetParam());
  EXPECT_THROW(wal.append(0, payload(99, 500)), sluice::IOError);
  for (const auto& r : written) EXPECT_EQ(wal.read(r.handle), r.payload);
  EXPECT_EQ(fs::file_size(written.front().handle.path), written.back().handle.offset + 8 + 104);

  // The disk recovers: the next append goes to a fresh segment, and nothing is lost or torn.
  faulty->setFault(FaultyFileSystem::Fault::kNone);
  std::string bytes = payload(100, 10);
  WalRecordHandle handle = wal.append(0, bytes);
  EXPECT_NE(handle.path, written.front().handle.path);
  written.push_back({std::move(handle), std::move(bytes)});
  WalReadStats stats;
  expectPayloads(readAll(wal, &stats), written, written.size());
  EXPECT_EQ(stats.torn_tails + stats.corrupt_segments, 0U);
}

INSTANTIATE_TEST_SUITE_P(Faults, WriteAheadLogFaults,
                         ::testing::Values(FaultyFileSystem::Fault::kAppend,
                                           FaultyFileSystem::Fault::kPartialAppend,
                                           FaultyFileSystem::Fault::kSync),
                         [](const auto& info) {
                           switch (info.param) {
                             case FaultyFileSystem::Fault::kAppend:
                               return std::string("Append");
                             case FaultyFileSystem::Fault::kPartialAppend:
                               return std::string("PartialAppend");
                             default:
                               return std::string("Sync");
                           }
                         });

TEST(WriteAheadLog, RejectsMisuse) {
  ScratchDir dir;
  EXPECT_THROW({ WriteAheadLog bad(dir.sub("a"), rolling(0)); }, sluice::InvalidArgumentError);
  WriteAheadLog wal(dir.sub("log"));
  const WalRecordHandle handle = wal.append(0, "kept");
  wal.close();
  wal.close();  // idempotent
  EXPECT_THROW(wal.append(0, "late"), sluice::IllegalStateError);
  EXPECT_EQ(wal.read(handle), "kept");
}

}  // namespace
