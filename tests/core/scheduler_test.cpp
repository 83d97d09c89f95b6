#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sluice/sluice.hpp>
#include <thread>

namespace {

// Each task waits until `n` tasks are inside at once: only possible if n threads run tasks.
bool allArriveTogether(sluice::Context& sc, int n) {
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  bool met = true;
  std::set<std::thread::id> threads;
  sc.parallelize(std::vector<int>(static_cast<std::size_t>(n), 0), n).foreach ([&](int) {
    std::unique_lock lock(mu);
    threads.insert(std::this_thread::get_id());
    ++inside;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(20), [&] { return inside >= n; })) met = false;
  });
  return met && static_cast<int>(threads.size()) == n;
}

TEST(Scheduler, RunsTasksOnExactlyNThreads) {
  for (int n : {2, 4}) {
    sluice::Context sc("local[" + std::to_string(n) + "]", "threads");
    EXPECT_TRUE(allArriveTogether(sc, n)) << "local[" << n << "]";
  }
}

TEST(Scheduler, ParsesMasters) {
  EXPECT_EQ(sluice::Context("local", "a").defaultParallelism(), 1);
  EXPECT_EQ(sluice::Context("local[3]", "a").defaultParallelism(), 3);
  EXPECT_EQ(sluice::Context("local[*]", "a").defaultParallelism(),
            static_cast<int>(std::thread::hardware_concurrency()));
  EXPECT_THROW(sluice::Context("yarn", "a"), sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::Context("local[0]", "a"), sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::Context("local[x]", "a"), sluice::InvalidArgumentError);
}

}  // namespace
