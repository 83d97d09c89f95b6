// The rocksdb state backend: the database itself (writes, scans, checkpoints as hard links,
// restore, repartitioning), and what a streaming job sees of it: state kept on disk and saved by
// hard links, old saves removed with their checkpoints, a restore under another partition count,
// and clear errors for a checkpoint of the other backend or a missing saved state. The state
// suites and Spark's CheckpointSuite cases also run with this backend (SLUICE_STATE_BACKENDS).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sluice/log.hpp>
#include <sluice/streaming.hpp>
#include <sluice/streaming/state_backend.hpp>
#include <sluice/testing.hpp>

#include "stream_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::DStream;
using sluice::RDD;
using sluice::StreamingContext;
using sluice::Time;
using sluice::detail::KeyValueBackend;
using sluice::stream_test::Batches;
using sluice::stream_test::Collected;
using sluice::stream_test::TempDir;
using KV = std::pair<std::string, int>;

std::vector<std::pair<std::string, std::string>> scanAll(const KeyValueBackend& db, int p) {
  std::vector<std::pair<std::string, std::string>> out;
  db.scan(p, [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  });
  return out;
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RocksDbBackend, WritesScansAndRestoresItsCheckpoints) {
  TempDir work("sluice_rocks_work");
  TempDir saved("sluice_rocks_saved");
  auto db = sluice::detail::openRocksDbBackend(work.path().string(), "store@1", 2);
  db->write({{0, "b", "2"}, {0, "a", "1"}, {1, "z", "other partition"}, {0, "c", "3"}});
  db->write({{0, "c", std::nullopt}, {0, "a", "10"}});
  EXPECT_EQ(db->get(0, "a"), "10");
  EXPECT_EQ(db->get(0, "c"), std::nullopt);
  EXPECT_EQ(db->get(1, "z"), "other partition");
  EXPECT_EQ(db->get(1, "a"), std::nullopt) << "partitions are apart";
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(scanAll(*db, 0), (Pairs{{"a", "10"}, {"b", "2"}})) << "one partition, in key order";

  const std::string first = db->checkpoint(saved.path().string(), Time(1000));
  db->write({{0, "d", "4"}});
  const std::string second = db->checkpoint(saved.path().string(), Time(2000));
  EXPECT_NE(first, second);
  db->write({{0, "e", "after the checkpoints"}});

  // A second database restores each save as it was.
  auto other = sluice::detail::openRocksDbBackend(work.path().string(), "store@1", 2);
  other->restore(saved.path().string(), first);
  EXPECT_EQ(scanAll(*other, 0), (Pairs{{"a", "10"}, {"b", "2"}}));
  EXPECT_EQ(other->savedPartitions(), 2);
  other->restore(saved.path().string(), second);
  EXPECT_EQ(scanAll(*other, 0), (Pairs{{"a", "10"}, {"b", "2"}, {"d", "4"}}));
  EXPECT_EQ(scanAll(*other, 1), (Pairs{{"z", "other partition"}}));

  // The second save shares the first one's table files (hard links): it cost the changes.
  std::size_t shared = 0;
  for (const auto& f : entries(saved.path() / second)) {
    if (f.extension() == ".sst" && fs::hard_link_count(f) > 1) ++shared;
  }
  EXPECT_GT(shared, 0U);

  other->repartition(3, [](std::string_view key) { return key == "a" ? 2 : key == "z" ? 1 : 0; });
  EXPECT_EQ(scanAll(*other, 2), (Pairs{{"a", "10"}}));
  EXPECT_EQ(scanAll(*other, 0), (Pairs{{"b", "2"}, {"d", "4"}}));
  EXPECT_EQ(scanAll(*other, 1), (Pairs{{"z", "other partition"}}));

  EXPECT_THROW(other->restore(saved.path().string(), "3000-0"), sluice::CheckpointError);
}

TEST(RocksDbBackend, SavedStatesBeforeTheOldestKeptCheckpointAreRemoved) {
  TempDir work("sluice_rocks_work");
  TempDir saved("sluice_rocks_saved");
  auto db = sluice::detail::openRocksDbBackend(work.path().string(), "s", 1);
  const fs::path store = saved.path() / "s";
  std::vector<std::string> names;
  for (int t = 1; t <= 4; ++t) {
    db->write({{0, "k", std::to_string(t)}});
    names.push_back(db->checkpoint(store.string(), Time(t * 1000)));
  }
  sluice::detail::removeSavedStatesBefore(saved.path().string(), Time(3000));
  EXPECT_EQ(entries(store), (std::vector<fs::path>{store / names[2], store / names[3]}));
}

TEST(RocksDbBackend, ItsWorkingDirectoryGoesWithIt) {
  TempDir work("sluice_rocks_work");
  {
    auto db = sluice::detail::openRocksDbBackend(work.path().string(), "gone", 1);
    EXPECT_EQ(entries(work.path()).size(), 1U);
  }
  EXPECT_TRUE(entries(work.path()).empty());
}

// ---- in a streaming job ----

Batches<std::string> words() {
  return {{"a", "b", "a"}, {"b"}, {"c", "a"}, {"a", "d"}, {"b", "c"}, {"a"}, {"e"}, {"b"}};
}

// Runs batches first..last of a mapWithState running count over words(), checkpointing every
// batch into `dir`, then drops the context without a graceful stop.
void runCounts(const std::string& master, const std::string& backend, const std::string& dir,
               int first, int last, const std::shared_ptr<Collected<KV>>& collected,
               bool create_on_error = false, bool with_added_stream = false) {
  sluice::Context sc(master, "backend");
  auto clock = std::make_shared<sluice::ManualClock>((first - 1) * 1000);
  auto ssc = StreamingContext::getOrCreate(
      dir,
      [&] {
        auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
        s->conf().set("sluice.streaming.stateBackend", backend);
        auto in = sluice::testing::detail::testInput(sc, *s, words(), 2);
        auto spec = sluice::stateSpecFunction<std::string, int, int>(
            [](const std::string& w, std::optional<int> one, sluice::State<int>& state) {
              const int n = state.getOption().value_or(0) + one.value_or(0);
              state.update(n);
              return KV(w, n);
            });
        if (with_added_stream) {
          // Created first, so restore reads its state before that of "counts".
          in.map([](std::string w) { return KV(std::move(w), 1); })
              .mapWithState(spec)
              .uid("added")
              .checkpoint(1s)
              .foreachRDD([](const RDD<KV>&, Time) {});
        }
        in.map([](std::string w) { return KV(std::move(w), 1); })
            .mapWithState(spec)
            .uid("counts")
            .checkpoint(1s)
            .foreachRDD(
                [collected](const RDD<KV>& rdd, Time t) { collected->add(t, rdd.collect()); });
        s->checkpoint(dir);
        return s;
      },
      create_on_error);
  ssc->start();
  for (int k = first; k <= last; ++k) {
    clock->setTime(k * 1000);
    ASSERT_TRUE(ssc->core()->waitForBatch(Time(k * 1000), 60s));
    ssc->core()->rethrowError();
  }
  ssc->stop(false);
}

std::map<std::int64_t, std::vector<KV>> sortedBatches(const Collected<KV>& c) {
  auto out = c.by_batch;
  for (auto& [t, v] : out) std::sort(v.begin(), v.end());
  return out;
}

TEST(RocksDbStateBackend, KeepsStateOnDiskAndSavesItByHardLinks) {
  TempDir dir("sluice_ckpt");
  auto collected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 1, 8, collected);
  EXPECT_EQ(sluice::testing_util::sorted(collected->batch(8000)), (std::vector<KV>{{"b", 4}}));
  const fs::path saved = dir.path() / "rocksdb" / "counts";
  const auto saves = entries(saved);
  // Every batch saved its state; retention keeps those of the 3 newest checkpoints.
  ASSERT_EQ(saves.size(), 3U);
  EXPECT_EQ(saves.back().filename().string().substr(0, 5), "8000-");
  std::size_t linked = 0;
  for (const auto& f : entries(saves.back())) {
    if (f.extension() == ".sst" && fs::hard_link_count(f) > 1) ++linked;
  }
  EXPECT_GT(linked, 0U) << "the newest save shares table files with the earlier ones";
}

// Runs the counts of words() over a 3 s window sliding every second (with its inverse and a filter
// dropping zero counts) for 11 batches with `backend`, checkpointing into `dir`.
void runWindow(const std::string& backend, const std::string& dir,
               const std::shared_ptr<Collected<KV>>& collected) {
  sluice::Context sc("local[2]", "backend");
  auto clock = std::make_shared<sluice::ManualClock>();
  StreamingContext ssc(sc, 1s, clock);
  ssc.conf().set("sluice.streaming.stateBackend", backend);
  ssc.checkpoint(dir);
  auto in = sluice::testing::detail::testInput(sc, ssc, words(), 2);
  in.map([](std::string w) { return KV(std::move(w), 1); })
      .reduceByKeyAndWindow([](int a, int b) { return a + b; }, [](int a, int b) { return a - b; },
                            3s, 1s, 2, [](const KV& kv) { return kv.second != 0; })
      .uid("window")
      .foreachRDD([collected](const RDD<KV>& rdd, Time t) { collected->add(t, rdd.collect()); });
  ssc.start();
  for (int k = 1; k <= 11; ++k) {
    clock->setTime(k * 1000);
    ASSERT_TRUE(ssc.core()->waitForBatch(Time(k * 1000), 60s));
    ssc.core()->rethrowError();
  }
  ssc.stop(false);
}

TEST(RocksDbStateBackend, KeepsTheWindowsStateOnDisk) {
  TempDir in_memory("sluice_ckpt");
  auto expected = std::make_shared<Collected<KV>>();
  runWindow("memory", in_memory.path().string(), expected);
  TempDir dir("sluice_ckpt");
  auto got = std::make_shared<Collected<KV>>();
  runWindow("rocksdb", dir.path().string(), got);
  EXPECT_EQ(sortedBatches(*got), sortedBatches(*expected));
  // Spark's answer for the last windows: batches 6-8 hold a, e, b; then the window drains.
  EXPECT_EQ(sluice::testing_util::sorted(got->batch(8000)),
            (std::vector<KV>{{"a", 1}, {"b", 1}, {"e", 1}}));
  EXPECT_EQ(got->batch(10000), (std::vector<KV>{{"b", 1}}));
  EXPECT_TRUE(got->batch(11000).empty());
  EXPECT_FALSE(entries(dir.path() / "rocksdb" / "window").empty());
  EXPECT_TRUE(entries(in_memory.path() / "rocksdb").empty());
}

TEST(RocksDbStateBackend, RecoveryMatchesTheUninterruptedRunUnderAnotherPartitionCount) {
  TempDir straight("sluice_ckpt");
  auto expected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", straight.path().string(), 1, 8, expected);
  TempDir dir("sluice_ckpt");
  auto got = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 1, 3, got);
  // mapWithState's partitions follow the default parallelism: 2, then 4.
  runCounts("local[4]", "rocksdb", dir.path().string(), 4, 8, got);
  EXPECT_EQ(sortedBatches(*got), sortedBatches(*expected));
}

TEST(RocksDbStateBackend, ACheckpointOfTheOtherBackendFailsClearly) {
  for (const auto& [saved_with, restored_with, hint] :
       {std::tuple<std::string, std::string, std::string>{"memory", "rocksdb", "saved in memory"},
        {"rocksdb", "memory", "set sluice.streaming.stateBackend to rocksdb"}}) {
    TempDir dir("sluice_ckpt");
    auto collected = std::make_shared<Collected<KV>>();
    runCounts("local[2]", saved_with, dir.path().string(), 1, 2, collected);
    try {
      runCounts("local[2]", restored_with, dir.path().string(), 3, 3, collected);
      ADD_FAILURE() << "restoring a " << saved_with << " checkpoint with " << restored_with;
    } catch (const sluice::CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(hint), std::string::npos) << e.what();
    }
    // create_on_error starts afresh.
    auto fresh = std::make_shared<Collected<KV>>();
    runCounts("local[2]", restored_with, dir.path().string(), 1, 1, fresh, true);
    EXPECT_EQ(sluice::testing_util::sorted(fresh->batch(1000)),
              (std::vector<KV>{{"a", 1}, {"a", 2}, {"b", 1}}));
  }
}

TEST(RocksDbStateBackend, AMissingSavedStateFailsClearly) {
  TempDir dir("sluice_ckpt");
  auto collected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 1, 2, collected);
  fs::remove_all(dir.path() / "rocksdb");
  try {
    runCounts("local[2]", "rocksdb", dir.path().string(), 3, 3, collected);
    ADD_FAILURE() << "restored without the saved state";
  } catch (const sluice::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("is missing"), std::string::npos) << e.what();
  }
}

TEST(RocksDbStateBackend, ATruncatedSavedStateFailsClearly) {
  TempDir dir("sluice_ckpt");
  auto collected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 1, 2, collected);
  // Truncating one table file of the newest save changes every save that links it.
  const auto saves = entries(dir.path() / "rocksdb" / "counts");
  ASSERT_FALSE(saves.empty());
  std::size_t truncated = 0;
  for (const auto& f : entries(saves.back())) {
    if (f.extension() != ".sst") continue;
    fs::resize_file(f, fs::file_size(f) / 2);
    ++truncated;
  }
  ASSERT_GT(truncated, 0U);
  try {
    runCounts("local[2]", "rocksdb", dir.path().string(), 3, 3, collected);
    ADD_FAILURE() << "restored a truncated state";
  } catch (const sluice::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("Cannot open the RocksDB state"), std::string::npos)
        << e.what();
  }
}

// The table files of the newest save of `dir` that no other save shares.
std::vector<fs::path> ownTableFiles(const fs::path& dir) {
  const auto saves = entries(dir / "rocksdb" / "counts");
  std::vector<fs::path> own;
  if (saves.empty()) return own;
  for (const auto& f : entries(saves.back())) {
    if (f.extension() == ".sst" && fs::hard_link_count(f) == 1) own.push_back(f);
  }
  return own;
}

// Each batch of `got` equals the uninterrupted run's, and got has every batch from `from` on.
void expectAsUninterrupted(const Collected<KV>& got, const Collected<KV>& expected,
                           std::int64_t from) {
  const auto want = sortedBatches(expected);
  const auto have = sortedBatches(got);
  for (const auto& [t, values] : want) {
    if (t >= from) EXPECT_TRUE(have.contains(t)) << "batch " << t << " is missing";
  }
  for (const auto& [t, values] : have) {
    ASSERT_TRUE(want.contains(t)) << "batch " << t;
    EXPECT_EQ(values, want.at(t)) << "batch " << t;
  }
}

void flipBit(const fs::path& file, std::uintmax_t offset, int bit) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
}

TEST(RocksDbStateBackend, ADamagedNewestSaveFallsBackToThePreviousCheckpoint) {
  TempDir straight("sluice_ckpt");
  auto expected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", straight.path().string(), 1, 8, expected);

  TempDir dir("sluice_ckpt");
  auto got = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 1, 3, got);
  // Batch 3's changes were flushed into a table file of its own.
  const auto own = ownTableFiles(dir.path());
  ASSERT_EQ(own.size(), 1U);
  flipBit(own[0], fs::file_size(own[0]) / 3, 2);
  ::testing::internal::CaptureStderr();
  auto resumed = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 4, 8, resumed);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("Skipping checkpoint"), std::string::npos) << log;
  EXPECT_NE(log.find("checkpoint-0000000003000"), std::string::npos) << log;
  EXPECT_NE(log.find("Corruption"), std::string::npos) << log;
  // Batch 3 is regenerated from the checkpoint of batch 2.
  expectAsUninterrupted(*resumed, *expected, 3000);
}

// A uid stream added after the checkpoint that restore falls back to, whose state restore had
// already read from the damaged newer one, cannot be emptied again: an error, not stale state.
TEST(RocksDbStateBackend, FallingBackPastAStreamAddedSinceFailsClearly) {
  TempDir dir("sluice_ckpt");
  auto collected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", dir.path().string(), 1, 2, collected);
  runCounts("local[2]", "rocksdb", dir.path().string(), 3, 3, collected, false, true);
  const auto own = ownTableFiles(dir.path());
  ASSERT_EQ(own.size(), 1U);
  flipBit(own[0], fs::file_size(own[0]) / 3, 2);
  try {
    runCounts("local[2]", "rocksdb", dir.path().string(), 4, 4, collected, false, true);
    ADD_FAILURE() << "fell back with the added stream's newer state";
  } catch (const sluice::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("added after it"), std::string::npos) << e.what();
  }
}

// Every save's files are damaged at random (one bit each time, in a copy of the checkpoint
// directory): a restart either reads the newest save intact or falls back to an older one; either
// way the outputs equal the uninterrupted run's, and no restart hangs.
TEST(RocksDbStateBackend, RandomBitFlipsInTheNewestSaveNeverGiveWrongState) {
  TempDir straight("sluice_ckpt");
  auto expected = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", straight.path().string(), 1, 8, expected);
  TempDir original("sluice_ckpt");
  auto first = std::make_shared<Collected<KV>>();
  runCounts("local[2]", "rocksdb", original.path().string(), 1, 3, first);
  std::vector<std::pair<fs::path, std::uintmax_t>> files;  // of the newest save, relative
  std::uintmax_t total = 0;
  const auto saves = entries(original.path() / "rocksdb" / "counts");
  ASSERT_FALSE(saves.empty());
  for (const auto& f : entries(saves.back())) {
    const auto size = fs::file_size(f);
    if (size == 0) continue;
    files.emplace_back(fs::relative(f, original.path()), size);
    total += size;
  }
  std::mt19937_64 rng(20261202);
  sluice::detail::setLogLevel(sluice::LogLevel::kError);
  for (int round = 0; round < 40; ++round) {
    TempDir dir("sluice_ckpt");
    fs::copy(original.path(), dir.path(), fs::copy_options::recursive);
    std::uintmax_t at = rng() % total;
    std::size_t i = 0;
    while (at >= files[i].second) at -= files[i++].second;
    SCOPED_TRACE(fmt::format("{} byte {}", files[i].first.string(), at));
    flipBit(dir.path() / files[i].first, at, static_cast<int>(rng() % 8));
    auto resumed = std::make_shared<Collected<KV>>();
    const auto start = std::chrono::steady_clock::now();
    runCounts("local[2]", "rocksdb", dir.path().string(), 4, 8, resumed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
    expectAsUninterrupted(*resumed, *expected, 4000);
  }
  sluice::detail::setLogLevel(sluice::LogLevel::kWarn);
}

TEST(RocksDbStateBackend, UnknownBackendIsRejected) {
  sluice::Context sc("local[1]", "conf");
  StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  EXPECT_THROW(ssc.conf().set("sluice.streaming.stateBackend", "leveldb"),
               sluice::InvalidArgumentError);
}

}  // namespace
