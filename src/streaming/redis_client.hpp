// A blocking connection to a Redis server (hiredis), for the Redis Streams input: commands as
// argument vectors, errors as exceptions, and the one reply shape that input reads (XRANGE's
// entries).
// Thread-safety: none; one thread uses a connection at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sluice/error.hpp>
#include <sluice/streaming/redis.hpp>
#include <string>
#include <utility>
#include <vector>

#include "streaming/direct_input.hpp"

struct redisContext;

namespace sluice::detail {

// A failure to reach or talk to the server (the connection is then unusable), or an error reply.
class RedisError : public SourceError {
 public:
  using SourceError::SourceError;
};

// A stream entry id, "<ms>-<seq>", ordered as Redis orders them.
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  // Throws InvalidArgumentError for anything but two decimal numbers joined by '-'.
  static StreamId parse(const std::string& id);
  std::string toString() const;
  auto operator<=>(const StreamId&) const = default;
};

class RedisConnection {
 public:
  // Connects, or throws RedisError.
  RedisConnection(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // False once a command failed on the connection itself: open a new one.
  bool usable() const noexcept { return usable_; }
  // The id of the newest entry of stream `key`, or nothing when it is empty or absent.
  std::optional<StreamId> lastId(const std::string& key);
  // XRANGE key (after to COUNT count: up to `count` entries after `after`, up to `to`.
  std::vector<RedisStreamEntry> range(const std::string& key, StreamId after, StreamId to,
                                      long long count);
  // A command's reply as text (status, string or integer replies), for tests and set-up.
  std::string command(const std::vector<std::string>& args);

 private:
  struct ReplyDeleter {
    void operator()(void* reply) const;
  };
  using Reply = std::unique_ptr<void, ReplyDeleter>;
  Reply run(const std::vector<std::string>& args);
  RedisError unexpectedReply(const char* command, const std::string& key) const;

  std::string where_;
  redisContext* context_ = nullptr;
  bool usable_ = true;
};

}  // namespace sluice::detail
