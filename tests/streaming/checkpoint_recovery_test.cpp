// Recovery from checkpoints, after Spark's CheckpointSuite: run part of the batches, drop the
// context without a graceful stop, getOrCreate a new one from the checkpoint directory and run
// the rest; the outputs equal those of the uninterrupted run, batch by batch, and the batches of
// the down time are regenerated. Also: graph mismatches, uids, create_on_error, queueStream.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sluice/streaming.hpp>
#include <sluice/testing.hpp>

#include "stream_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::DStream;
using sluice::RDD;
using sluice::StreamingContext;
using sluice::Time;
using sluice::stream_test::Batches;
using sluice::stream_test::Collected;
using sluice::stream_test::StateParam;
using sluice::stream_test::TempDir;
using KV = std::pair<std::string, int>;

class CheckpointRecovery : public ::testing::TestWithParam<std::string> {};
SLUICE_STATE_BACKENDS(CheckpointRecovery);

// Runs batches 1..n of `make`'s output over a time-indexed input, checkpointing into `dir`.
// With `crash_after`, the context is dropped without a graceful stop after that batch and
// `down` batches of down time pass before getOrCreate resumes it; the restarted context runs
// the batches of the down time at once, then the rest. Returns each batch's sorted output.
template <class Out, class In, class Make>
std::map<std::int64_t, std::vector<Out>> runRecovering(const std::string& master,
                                                       const std::string& dir,
                                                       const Batches<In>& input, Make make, int n,
                                                       std::optional<int> crash_after, int down = 0,
                                                       bool graceful = false) {
  const StateParam param(master);
  sluice::Context sc(param.master, "recovery");
  auto collected = std::make_shared<Collected<Out>>();
  auto run = [&](int first, int last, std::int64_t start_ms, bool stop_gracefully) {
    auto clock = std::make_shared<sluice::ManualClock>(start_ms);
    auto ssc = StreamingContext::getOrCreate(dir, [&] {
      auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
      param.apply(*s);
      auto in = sluice::testing::detail::testInput(sc, *s, input, 2);
      make(sc, *s, in).foreachRDD([collected](const RDD<Out>& rdd, Time t) {
        collected->add(t, rdd.collect());
      });
      s->checkpoint(dir);
      return s;
    });
    ssc->start();
    for (int k = first; k <= last; ++k) {
      if (clock->nowMs() < k * 1000) clock->setTime(k * 1000);
      if (!ssc->core()->waitForBatch(Time(k * 1000), 60s)) throw sluice::Error("batch timeout");
      ssc->core()->rethrowError();
    }
    ssc->stop(false, stop_gracefully);
  };
  if (crash_after) {
    run(1, *crash_after, 0, graceful);
    run(*crash_after + 1, n, (*crash_after + down) * 1000, false);
  } else {
    run(1, n, 0, false);
  }
  auto out = collected->by_batch;
  for (auto& [t, v] : out) std::sort(v.begin(), v.end());
  return out;
}

// The uninterrupted run and runs that crash after every batch in `crashes` give one answer.
template <class Out, class In, class Make>
void expectRecoveryMatches(const std::string& master, const Batches<In>& input, Make make, int n,
                           std::vector<int> crashes, int down = 0) {
  TempDir straight_dir("sluice_ckpt");
  const auto expected =
      runRecovering<Out>(master, straight_dir.path().string(), input, make, n, std::nullopt);
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(n));
  for (int crash : crashes) {
    TempDir dir("sluice_ckpt");
    const auto got = runRecovering<Out>(master, dir.path().string(), input, make, n, crash, down);
    EXPECT_EQ(got, expected) << "crash after batch " << crash << ", " << down
                             << " batches of down time";
  }
}

Batches<std::string> words() {
  return {{"a", "b", "a"}, {"b"}, {}, {"c", "a"}, {"a", "a", "d"}, {}, {"b", "c"},
          {"d"},           {"a"}, {}, {"e", "e"}, {"a"},           {}, {"b"}};
}

auto pairs(DStream<std::string> s) {
  return s.map([](std::string w) { return KV(std::move(w), 1); });
}

const auto plus = [](int a, int b) { return a + b; };
const auto minus = [](int a, int b) { return a - b; };

TEST_P(CheckpointRecovery, MapAndReduceByKey) {
  expectRecoveryMatches<KV>(
      GetParam(), words(),
      [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
        return pairs(s).reduceByKey(plus);
      },
      10, {3, 6}, 2);
}

TEST_P(CheckpointRecovery, UpdateStateByKey) {
  auto running = [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
    return pairs(s).updateStateByKey(
        [](const std::vector<int>& vs, std::optional<int> state) -> std::optional<int> {
          int sum = state.value_or(0);
          for (int v : vs) sum += v;
          return sum;
        });
  };
  // Crashes before the first data checkpoint (replay from the start), just after one, and
  // later; down time too.
  expectRecoveryMatches<KV>(GetParam(), words(), running, 14, {2, 10, 12});
  expectRecoveryMatches<KV>(GetParam(), words(), running, 14, {5, 11}, 3);
}

TEST_P(CheckpointRecovery, UpdateStateByKeyWithShortCheckpointInterval) {
  // Incremental data checkpoints every 2 batches, compacted every tenth.
  auto running = [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
    auto state = pairs(s).updateStateByKey(
        [](const std::vector<int>& vs, std::optional<int> state) -> std::optional<int> {
          int sum = state.value_or(0);
          for (int v : vs) sum += v;
          if (sum >= 4) return std::nullopt;  // removals go through incremental saves too
          return sum;
        });
    state.checkpoint(2s);
    return state;
  };
  expectRecoveryMatches<KV>(GetParam(), words(), running, 14, {3, 4, 7, 13}, 1);
}

TEST_P(CheckpointRecovery, InvertibleReduceByKeyAndWindow) {
  auto windowed = [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
    auto w = pairs(s).reduceByKeyAndWindow(plus, minus, 4s, 2s, 2,
                                           [](const KV& kv) { return kv.second != 0; });
    w.checkpoint(4s);
    return w;
  };
  // On the 2 s grid of the window: a crash between two slides and one after a slide.
  std::vector<int> crashes{3, 4, 9};
  TempDir straight_dir("sluice_ckpt");
  const auto expected = runRecovering<KV>(GetParam(), straight_dir.path().string(), words(),
                                          windowed, 14, std::nullopt);
  for (int crash : crashes) {
    TempDir dir("sluice_ckpt");
    EXPECT_EQ(runRecovering<KV>(GetParam(), dir.path().string(), words(), windowed, 14, crash, 2),
              expected)
        << "crash after batch " << crash;
  }
}

TEST_P(CheckpointRecovery, NonInvertibleReduceByKeyAndWindow) {
  auto windowed = [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
    return pairs(s).reduceByKeyAndWindow(plus, 3s, 1s);
  };
  expectRecoveryMatches<KV>(GetParam(), words(), windowed, 12, {2, 5}, 1);
}

TEST_P(CheckpointRecovery, MapWithStateWithTimeout) {
  using Out = std::pair<std::string, std::string>;
  auto tracked = [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
    auto spec = sluice::stateSpecFunction<std::string, int, int>([](Time, const std::string& key,
                                                                    std::optional<int> v,
                                                                    sluice::State<int>& state)
                                                                     -> std::optional<Out> {
                  if (state.isTimingOut())
                    return Out(key, "timeout " + std::to_string(state.get()));
                  const int sum = state.getOption().value_or(0) + v.value_or(0);
                  state.update(sum);
                  return Out(key, std::to_string(sum));
                }).timeout(3s);
    auto mapped = pairs(s).mapWithState(spec);
    auto snapshots = mapped.stateSnapshots().map([](std::pair<std::string, int> kv) {
      return Out("state " + kv.first, std::to_string(kv.second));
    });
    return mapped.unionWith(snapshots);
  };
  expectRecoveryMatches<Out>(GetParam(), words(), tracked, 14, {2, 6, 11}, 2);
}

TEST_P(CheckpointRecovery, TransformWithStaticRddJoin) {
  using Out = std::pair<std::string, std::pair<int, std::string>>;
  auto joined = [](sluice::Context& sc, StreamingContext&, DStream<std::string> s) {
    auto names = sc.parallelize(std::vector<std::pair<std::string, std::string>>{
        {"a", "alpha"}, {"b", "beta"}, {"c", "gamma"}});
    return pairs(s)
        .updateStateByKey([](const std::vector<int>& vs, std::optional<int> state) {
          return std::optional<int>(state.value_or(0) + static_cast<int>(vs.size()));
        })
        .transform([names](const RDD<KV>& rdd) { return rdd.join(names); });
  };
  expectRecoveryMatches<Out>(GetParam(), words(), joined, 12, {4, 10}, 1);
}

TEST_P(CheckpointRecovery, GracefulStopThenRestartRerunsNothing) {
  // The graceful stop saves every stream's state at its last batch (replacing that batch's
  // checkpoint, which held an incremental save); the restart runs only the batches after it.
  auto running = [](sluice::Context&, StreamingContext&, DStream<std::string> s) {
    auto state = pairs(s).updateStateByKey(
        [](const std::vector<int>& vs, std::optional<int> state) -> std::optional<int> {
          return state.value_or(0) + static_cast<int>(vs.size());
        });
    state.checkpoint(2s);
    return state;
  };
  TempDir straight("sluice_ckpt");
  const auto expected =
      runRecovering<KV>(GetParam(), straight.path().string(), words(), running, 12, std::nullopt);
  for (int stop_after : {4, 5}) {
    TempDir dir("sluice_ckpt");
    const auto got = runRecovering<KV>(GetParam(), dir.path().string(), words(), running, 12,
                                       stop_after, 0, true);
    EXPECT_EQ(got, expected) << "stopped after batch " << stop_after;
  }
}

TEST_P(CheckpointRecovery, DownTimeBatchesAreRegenerated) {
  TempDir dir("sluice_ckpt");
  const auto got = runRecovering<long long>(
      GetParam(), dir.path().string(), words(),
      [](sluice::Context&, StreamingContext&, DStream<std::string> s) { return s.count(); }, 10, 3,
      4);
  std::vector<std::int64_t> times;
  for (const auto& [t, v] : got) times.push_back(t);
  std::vector<std::int64_t> expected;
  for (int k = 1; k <= 10; ++k) expected.push_back(k * 1000);
  EXPECT_EQ(times, expected) << "every batch time once, the down time's included";
}

TEST_P(CheckpointRecovery, TextFileStreamReadsTheSameFilesAfterRecovery) {
  // A regenerated batch takes exactly the files it took before the crash: the file written
  // after batch 2 completed is counted once, and not again by the batches after the restart.
  TempDir data("sluice_ckpt_in");
  TempDir dir("sluice_ckpt");
  const StateParam param(GetParam());
  sluice::Context sc(param.master, "fileRecovery");
  auto collected = std::make_shared<Collected<KV>>();
  auto write = [&](const std::string& name, const std::string& text, std::int64_t mtime_ms) {
    const auto tmp = data.path() / ("." + name);
    std::ofstream(tmp) << text;
    std::filesystem::last_write_time(
        tmp, std::chrono::file_clock::from_sys(std::chrono::sys_time<std::chrono::milliseconds>(
                 std::chrono::milliseconds(mtime_ms))));
    std::filesystem::rename(tmp, data.path() / name);
  };
  const std::int64_t base = 1'700'000'000'000;  // the manual clock's start, on the 1 s grid
  auto start = [&](std::int64_t now) {
    auto clock = std::make_shared<sluice::ManualClock>(now);
    auto ssc = StreamingContext::getOrCreate(dir.path().string(), [&] {
      auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
      param.apply(*s);
      s->textFileStream(data.path().string())
          .map([](std::string w) { return KV(std::move(w), 1); })
          .updateStateByKey([](const std::vector<int>& vs, std::optional<int> st) {
            return std::optional<int>(st.value_or(0) + static_cast<int>(vs.size()));
          })
          .foreachRDD(
              [collected](const RDD<KV>& rdd, Time t) { collected->add(t, rdd.collect()); });
      s->checkpoint(dir.path().string());
      return s;
    });
    ssc->start();
    return std::make_pair(std::move(ssc), clock);
  };
  {
    auto [ssc, clock] = start(base);
    write("f1", "x\ny\n", base + 500);
    clock->setTime(base + 1000);
    ASSERT_TRUE(ssc->core()->waitForBatch(Time(base + 1000), 60s));
    write("f2", "x\n", base + 1500);
    clock->setTime(base + 2000);
    ASSERT_TRUE(ssc->core()->waitForBatch(Time(base + 2000), 60s));
    ssc->stop(false);
  }
  write("f3", "y\n", base + 2500);  // during the down time
  {
    auto [ssc, clock] = start(base + 4000);
    ASSERT_TRUE(ssc->core()->waitForBatch(Time(base + 4000), 60s));
    ssc->core()->rethrowError();
    ssc->stop(false);
  }
  auto last = collected->batch(base + 4000);
  std::sort(last.begin(), last.end());
  EXPECT_EQ(last, (std::vector<KV>{{"x", 2}, {"y", 2}}));
  auto third = collected->batch(base + 3000);
  std::sort(third.begin(), third.end());
  EXPECT_EQ(third, (std::vector<KV>{{"x", 2}, {"y", 2}})) << "f3 belongs to the 3 s batch";
}

// ---- identity of stateful streams ----

auto runningCount(DStream<std::string> s) {
  return pairs(s).updateStateByKey(
      [](const std::vector<int>& vs, std::optional<int> state) -> std::optional<int> {
        return state.value_or(0) + static_cast<int>(vs.size());
      });
}

// Runs 3 batches of `build` into dir, then restarts with `rebuild` and returns batch 4's output.
// Each builds its stream from the input (and the Context, when it takes one).
template <class Build, class Rebuild>
std::vector<KV> restartWith(const std::string& dir, Build build, Rebuild rebuild,
                            bool create_on_error = false) {
  sluice::Context sc("local[2]", "identity");
  auto out = std::make_shared<Collected<KV>>();
  auto run = [&](auto make, int first, int last) {
    auto clock = std::make_shared<sluice::ManualClock>((first - 1) * 1000);
    auto ssc = StreamingContext::getOrCreate(
        dir,
        [&] {
          auto s = std::make_unique<StreamingContext>(sc, 1s, clock);
          auto in = sluice::testing::detail::testInput(sc, *s, words(), 2);
          auto made = [&] {
            if constexpr (std::is_invocable_v<decltype(make), DStream<std::string>,
                                              sluice::Context&>) {
              return make(in, sc);
            } else {
              return make(in);
            }
          }();
          made.foreachRDD([out](const RDD<KV>& rdd, Time t) { out->add(t, rdd.collect()); });
          s->checkpoint(dir);
          return s;
        },
        create_on_error);
    ssc->start();
    for (int k = first; k <= last; ++k) {
      clock->setTime(k * 1000);
      if (!ssc->core()->waitForBatch(Time(k * 1000), 60s)) throw sluice::Error("timeout");
    }
    ssc->stop(false);
  };
  run(build, 1, 3);
  run(rebuild, 4, 4);
  auto batch = out->batch(4000);
  std::sort(batch.begin(), batch.end());
  return batch;
}

const std::vector<KV> kCountsAfter4{{"a", 3}, {"b", 2}, {"c", 1}};

TEST(CheckpointIdentity, UidKeepsStateAcrossGraphChanges) {
  TempDir dir("sluice_ckpt");
  auto got = restartWith(
      dir.path().string(), [](DStream<std::string> s) { return runningCount(s).uid("counts"); },
      [](DStream<std::string> s) {
        // An unrelated stateful stream added before it, and a changed map: ids shift.
        auto other = pairs(s).reduceByKeyAndWindow(plus, minus, 2s, 1s).uid("window");
        other.foreachRDD([](const RDD<KV>&) {});
        return runningCount(s.filter([](const std::string&) { return true; })).uid("counts");
      },
      false);
  EXPECT_EQ(got, kCountsAfter4);
}

// A stateful stream added at a restart (with a uid) has no state in the checkpoint: it starts
// from its initial state RDD, as it would have on a fresh start, with the first batch after the
// checkpoint.
TEST(CheckpointIdentity, AStreamAddedAtARestartStartsFromItsInitialState) {
  TempDir dir("sluice_ckpt");
  auto got = restartWith(
      dir.path().string(), [](DStream<std::string> s) { return runningCount(s).uid("counts"); },
      [](DStream<std::string> s, sluice::Context& sc) {
        runningCount(s).uid("counts").foreachRDD([](const RDD<KV>&) {});
        auto initial = sc.parallelize(std::vector<KV>{{"a", 100}, {"z", 7}});
        return pairs(s)
            .updateStateByKey(
                [](const std::vector<int>& vs, std::optional<int> state) -> std::optional<int> {
                  return state.value_or(0) + static_cast<int>(vs.size());
                },
                2, initial)
            .uid("seeded");
      });
  // Batch 4 holds "c" and "a".
  EXPECT_EQ(got, (std::vector<KV>{{"a", 101}, {"c", 1}, {"z", 7}}));
}

TEST(CheckpointIdentity, MismatchedGraphFailsNamingMissingAndNew) {
  TempDir dir("sluice_ckpt");
  try {
    restartWith(
        dir.path().string(), [](DStream<std::string> s) { return runningCount(s).uid("counts"); },
        [](DStream<std::string> s) { return runningCount(s).uid("totals"); });
    FAIL() << "expected CheckpointError";
  } catch (const sluice::CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("counts"), std::string::npos) << msg;
    EXPECT_NE(msg.find("totals"), std::string::npos) << msg;
  }
}

TEST(CheckpointIdentity, CreateOnErrorStartsFresh) {
  TempDir dir("sluice_ckpt");
  auto got = restartWith(
      dir.path().string(), [](DStream<std::string> s) { return runningCount(s).uid("counts"); },
      [](DStream<std::string> s) { return runningCount(s).uid("totals"); }, true);
  // A fresh context: a new zero time, so the time-indexed input starts over at batch 4.
  EXPECT_EQ(got, (std::vector<KV>{{"a", 2}, {"b", 1}})) << "fresh state";
}

TEST(CheckpointIdentity, DuplicateUidIsRejected) {
  sluice::Context sc("local[2]", "uid");
  StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  auto in = sluice::testing::detail::testInput(sc, ssc, words(), 2);
  runningCount(in).uid("x").pprint();
  runningCount(in).uid("x").pprint();
  EXPECT_THROW(ssc.start(), sluice::InvalidArgumentError);
}

TEST(CheckpointIdentity, QueueStreamWithCheckpointingFailsAtStart) {
  TempDir dir("sluice_ckpt");
  sluice::Context sc("local[2]", "queue");
  StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  ssc.queueStream(std::vector<std::vector<int>>{{1}}).pprint();
  ssc.checkpoint(dir.path().string());
  try {
    ssc.start();
    FAIL() << "expected an error";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_NE(std::string(e.what()).find("queueStream doesn't support checkpointing"),
              std::string::npos);
  }
}

TEST(CheckpointIdentity, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  TempDir dir("sluice_ckpt");
  const std::string path = dir.path().string();
  auto corrupt_newest = [&] {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(path)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::filesystem::resize_file(files.back(), std::filesystem::file_size(files.back()) / 2);
  };
  auto got = restartWith(
      path, [&](DStream<std::string> s) { return runningCount(s).uid("counts"); },
      [&](DStream<std::string> s) {
        corrupt_newest();
        return runningCount(s).uid("counts");
      });
  // Batch 3 is regenerated from the checkpoint of batch 2; batch 4 counts as before.
  EXPECT_EQ(got, kCountsAfter4);
}

}  // namespace
