// The job the Redis kill harness (redis_kill_harness.py) kills: it reads Redis streams whose
// entries carry a field "key" and a field "seq" (1, 2, 3, ... per key) with
// RedisUtils::createDirectStream, and keeps per key, with updateStateByKey, how many of the
// sequence numbers 1..n it has seen without a gap, the numbers seen past a gap, and how many it
// saw more than once; it saves that state every batch and resumes from its checkpoint
// (getOrCreate). Exactly-once input means: no gap and no duplicate, whatever the kills.
// It stops gracefully on SIGTERM.
//
// Usage: redis_job HOST:PORT CHECKPOINT_DIR OUTPUT_DIR BATCH_MS MASTER STREAM...
#include <algorithm>
#include <chrono>
#include <iostream>
#include <set>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sluice/streaming/redis.hpp>
#include <string>
#include <tuple>
#include <vector>

namespace {

// (numbers 1..contiguous all seen, numbers seen past a gap, duplicates seen)
using Seen = std::tuple<long long, std::vector<long long>, long long>;

Seen add(Seen seen, const std::vector<long long>& numbers) {
  auto& [contiguous, past_gap, duplicates] = seen;
  std::set<long long> pending(past_gap.begin(), past_gap.end());
  for (long long n : numbers) {
    if (n <= contiguous || !pending.insert(n).second) ++duplicates;
  }
  while (!pending.empty() && *pending.begin() == contiguous + 1) {
    ++contiguous;
    pending.erase(pending.begin());
  }
  past_gap.assign(pending.begin(), pending.end());
  return seen;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::cerr << "usage: redis_job HOST:PORT CHECKPOINT_DIR OUTPUT_DIR BATCH_MS MASTER STREAM...\n";
    return 2;
  }
  const std::string address = argv[1], checkpoint = argv[2], output = argv[3];
  const std::chrono::milliseconds batch(std::stoll(argv[4]));
  const std::string master = argv[5];
  const std::vector<std::string> streams(argv + 6, argv + argc);
  try {
    sluice::Context sc(master, "redisJob");
    sc.setLogLevel("WARN");
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, batch);
      s->conf().set("spark.streaming.stopGracefullyOnShutdown", "true");
      auto entries = sluice::RedisUtils::createDirectStream(
          *s, streams, {{"redis.address", address}, {"auto.offset.reset", "earliest"}});
      entries.uid("redis");
      auto seen =
          entries
              .map([](const sluice::RedisStreamEntry& e) {
                const std::string* key = e.get("key");
                const std::string* seq = e.get("seq");
                if (key == nullptr || seq == nullptr) {
                  throw std::runtime_error("entry " + e.id + " has no key or seq field");
                }
                return std::make_pair(*key, std::stoll(*seq));
              })
              .updateStateByKey([](const std::vector<long long>& numbers,
                                   std::optional<Seen> state) {
                return std::optional<Seen>(add(state.value_or(Seen{}), numbers));
              });
      seen.uid("seen").checkpoint(10 * batch);
      seen.map([](const std::pair<std::string, Seen>& kv) {
            const auto& [contiguous, past_gap, duplicates] = kv.second;
            return std::make_pair(kv.first, std::make_tuple(contiguous,
                                                            static_cast<long long>(past_gap.size()),
                                                            duplicates));
          })
          .saveAsTextFiles(output + "/seen");
      s->checkpoint(checkpoint);
      return s;
    });
    ssc->start();
    ssc->awaitTermination();
  } catch (const std::exception& e) {
    std::cerr << "redis_job: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
