// The Redis Streams direct input: a DirectInputNode whose partitions are stream keys and whose
// positions are entry ids (the id of the last entry taken; "0-0" before the first).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <sluice/log.hpp>
#include <sluice/streaming/redis.hpp>

#include "streaming/direct_input.hpp"
#include "streaming/redis_client.hpp"

namespace sluice {
namespace detail {
namespace {

constexpr long long kPageEntries = 10000;  // entries per XRANGE round trip

struct RedisParams {
  std::string host;
  int port = 0;
  bool earliest = false;
  std::chrono::milliseconds timeout{5000};
};

RedisParams parseParams(const std::map<std::string, std::string>& params) {
  RedisParams p;
  bool have_address = false;
  for (const auto& [key, value] : params) {
    if (key == "redis.address") {
      const auto colon = value.rfind(':');
      int port = 0;
      const char* end = value.data() + value.size();
      if (colon == std::string::npos || colon == 0 ||
          std::from_chars(value.data() + colon + 1, end, port).ptr != end || port <= 0 ||
          port > 65535) {
        throw InvalidArgumentError(
            fmt::format("redis.address: '{}' is not host:port (e.g. 127.0.0.1:6379)", value));
      }
      p.host = value.substr(0, colon);
      p.port = port;
      have_address = true;
    } else if (key == "auto.offset.reset") {
      if (value == "earliest" || value == "smallest") {
        p.earliest = true;
      } else if (value == "latest" || value == "largest") {
        p.earliest = false;
      } else {
        throw InvalidArgumentError(fmt::format(
            "auto.offset.reset: '{}' is not earliest, latest, smallest or largest", value));
      }
    } else if (key == "redis.timeout.ms") {
      long long ms = 0;
      const char* end = value.data() + value.size();
      if (std::from_chars(value.data(), end, ms).ptr != end || ms <= 0 || ms > 3600000) {
        throw InvalidArgumentError(
            fmt::format("redis.timeout.ms: '{}' is not a number of milliseconds (1 to 3600000)",
                        value));
      }
      p.timeout = std::chrono::milliseconds(ms);
    } else {
      throw InvalidArgumentError(fmt::format(
          "Unknown Redis stream setting '{}' (redis.address, auto.offset.reset, redis.timeout.ms)",
          key));
    }
  }
  if (!have_address) throw InvalidArgumentError("redis.address is required (host:port)");
  return p;
}

class RedisDirectNode final : public DirectInputNode<RedisStreamEntry> {
 public:
  RedisDirectNode(std::shared_ptr<StreamingCore> core, std::vector<std::string> keys,
                  RedisParams params)
      : DirectInputNode<RedisStreamEntry>(core, keys),
        keys_(std::move(keys)),
        params_(std::move(params)) {}

  std::string inputName() const override {
    return fmt::format("RedisDirectStream({}:{} {})", params_.host, params_.port,
                       fmt::join(keys_, ","));
  }

 protected:
  // "earliest": before the first entry; "latest": the newest entry now.
  std::string startPosition(const std::string& key) override {
    if (params_.earliest) return StreamId{}.toString();
    return connection().lastId(key).value_or(StreamId{}).toString();
  }

  std::vector<RedisStreamEntry> readAfter(const std::string& key, const std::string& position,
                                          std::optional<long long> limit,
                                          std::string& last) override {
    const StreamId after = StreamId::parse(position);
    const std::optional<StreamId> newest = connection().lastId(key);
    if (!newest || *newest <= after) {
      if (newest && *newest < after && warned_behind_.insert(key).second) {
        warnBehind(key, *newest, after);
      }
      return {};
    }
    warned_behind_.erase(key);
    std::vector<RedisStreamEntry> entries = readBetween(connection(), key, after, *newest, limit);
    if (!entries.empty()) last = entries.back().id;
    return entries;
  }

  // On a connection of its own: the runner thread calls it for recomputed batches.
  std::vector<std::vector<RedisStreamEntry>> readAgain(
      const std::vector<DirectRange>& ranges) override {
    RedisConnection connection(params_.host, params_.port, params_.timeout);
    std::vector<std::vector<RedisStreamEntry>> blocks;
    for (const auto& range : ranges) {
      std::vector<RedisStreamEntry> entries =
          readBetween(connection, range.partition, StreamId::parse(range.after),
                      StreamId::parse(range.last), range.count);
      if (static_cast<long long>(entries.size()) != range.count) {
        throw CheckpointError(fmt::format(
            "{}: stream '{}' holds {} entries after {} up to {} where the batch took {} before "
            "the restart: entries were deleted or trimmed, the batch cannot be replayed exactly",
            inputName(), range.partition, entries.size(), range.after, range.last, range.count));
      }
      blocks.push_back(std::move(entries));
    }
    return blocks;
  }

  double maxRatePerPartition() const override {
    return core().conf().redis_max_rate_per_partition;
  }

 private:
  RedisConnection& connection() {
    if (!connection_ || !connection_->usable()) {
      connection_.reset();
      connection_ = std::make_unique<RedisConnection>(params_.host, params_.port, params_.timeout);
    }
    return *connection_;
  }

  // The entries of `key` after `after` up to `last`, at most `limit`, a page at a time.
  static std::vector<RedisStreamEntry> readBetween(RedisConnection& connection,
                                                   const std::string& key, StreamId after,
                                                   StreamId last, std::optional<long long> limit) {
    std::vector<RedisStreamEntry> entries;
    for (;;) {
      const long long left =
          limit ? *limit - static_cast<long long>(entries.size()) : kPageEntries;
      if (left <= 0) break;
      const long long want = std::min(left, kPageEntries);
      auto page = connection.range(key, after, last, want);
      if (page.empty()) break;
      after = StreamId::parse(page.back().id);
      const bool short_page = static_cast<long long>(page.size()) < want;
      std::move(page.begin(), page.end(), std::back_inserter(entries));
      if (short_page || after >= last) break;
    }
    return entries;
  }

  void warnBehind(const std::string& key, StreamId newest, StreamId position) {
    log(LogLevel::kWarn,
        fmt::format("{}: the newest entry of stream '{}' is {}, older than its position {}: "
                    "entries were deleted, or the stream was recreated; new entries with ids up "
                    "to {} will not be read",
                    inputName(), key, newest.toString(), position.toString(),
                    position.toString()));
  }

  const std::vector<std::string> keys_;
  const RedisParams params_;
  std::unique_ptr<RedisConnection> connection_;  // the generator thread's
  std::set<std::string> warned_behind_;          // generator thread only
};

}  // namespace
}  // namespace detail

DStream<RedisStreamEntry> RedisUtils::createDirectStream(
    StreamingContext& ssc, const std::vector<std::string>& streams,
    const std::map<std::string, std::string>& params) {
  ssc.core()->checkCanBuild();
  if (streams.empty()) throw InvalidArgumentError("createDirectStream: no Redis stream given");
  std::set<std::string> unique;
  for (const auto& s : streams) {
    if (s.empty()) throw InvalidArgumentError("createDirectStream: a stream key is empty");
    if (!unique.insert(s).second) {
      throw InvalidArgumentError("createDirectStream: stream '" + s + "' is given twice");
    }
  }
  auto node = std::make_shared<detail::RedisDirectNode>(ssc.core(), streams,
                                                        detail::parseParams(params));
  ssc.core()->registerInput(node, node);
  return DStream<RedisStreamEntry>(node);
}

}  // namespace sluice
