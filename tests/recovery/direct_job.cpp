// The job the direct-input kill harness (direct_kill_harness.py) kills: it reads Redis streams
// (RedisUtils::createDirectStream; entries with fields "key" and "seq") or Kafka topics
// (KafkaUtils::createDirectStream; records with key "key" and value "seq") whose records carry
// per key the sequence numbers 1, 2, 3, ..., and keeps per key, with updateStateByKey, how many
// of the numbers 1..n it has seen without a gap, the numbers seen past a gap, and how many it
// saw more than once; it saves that state every batch and resumes from its checkpoint
// (getOrCreate). Exactly-once input means: no gap and no duplicate, whatever the kills.
// It stops gracefully on SIGTERM.
//
// Usage: direct_job redis|kafka ADDRESS CHECKPOINT_DIR OUTPUT_DIR BATCH_MS MASTER STREAM...
//   (ADDRESS: Redis's HOST:PORT or Kafka's bootstrap servers; STREAM: stream keys or topics)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <set>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sluice/streaming/kafka.hpp>
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

// (key, sequence number) of every record of the source.
sluice::DStream<std::pair<std::string, long long>> numbers(sluice::StreamingContext& ssc,
                                                           const std::string& source,
                                                           const std::string& address,
                                                           const std::vector<std::string>& streams) {
  if (source == "redis") {
    auto entries = sluice::RedisUtils::createDirectStream(
        ssc, streams, {{"redis.address", address}, {"auto.offset.reset", "earliest"}});
    entries.uid("redis");
    return entries.map([](const sluice::RedisStreamEntry& e) {
      const std::string* key = e.get("key");
      const std::string* seq = e.get("seq");
      if (key == nullptr || seq == nullptr) {
        throw std::runtime_error("entry " + e.id + " has no key or seq field");
      }
      return std::make_pair(*key, std::stoll(*seq));
    });
  }
  auto records = sluice::KafkaUtils::createDirectStream(
      ssc, streams, {{"bootstrap.servers", address}, {"auto.offset.reset", "earliest"}});
  records.uid("kafka");
  return records.map([](const sluice::KafkaRecord& r) {
    if (!r.key) throw std::runtime_error(fmt::format("record {} has no key", r.offset));
    return std::make_pair(*r.key, std::stoll(r.value));
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8 || (std::string(argv[1]) != "redis" && std::string(argv[1]) != "kafka")) {
    std::cerr << "usage: direct_job redis|kafka ADDRESS CHECKPOINT_DIR OUTPUT_DIR BATCH_MS MASTER "
                 "STREAM...\n";
    return 2;
  }
  const std::string source = argv[1], address = argv[2], checkpoint = argv[3], output = argv[4];
  const std::chrono::milliseconds batch(std::stoll(argv[5]));
  const std::string master = argv[6];
  const std::vector<std::string> streams(argv + 7, argv + argc);
  try {
    sluice::Context sc(master, "directJob");
    sc.setLogLevel("WARN");
    auto ssc = sluice::StreamingContext::getOrCreate(checkpoint, [&] {
      auto s = std::make_unique<sluice::StreamingContext>(sc, batch);
      s->conf().set("spark.streaming.stopGracefullyOnShutdown", "true");
      auto seen = numbers(*s, source, address, streams)
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
    std::cerr << "direct_job: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
