#include "streaming/redis_client.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <signal.h>

#include <charconv>
#include <ctime>

namespace sluice::detail {
namespace {

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string text(const redisReply* r) { return std::string(r->str, r->len); }

bool parseNumber(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// hiredis writes with write(2): to a connection the server reset, that raises SIGPIPE, whose
// default action ends the process. The library must not change the process's signal handling,
// so SIGPIPE is blocked in the calling thread around each command (the write then fails with
// EPIPE, a lost connection) and a SIGPIPE it raised is taken off the thread before unblocking.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeBlocked() {
    if (!blocked_) return;
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

}  // namespace

StreamId StreamId::parse(const std::string& id) {
  StreamId parsed;
  const auto dash = id.find('-');
  if (dash == std::string::npos ||
      !parseNumber(std::string_view(id).substr(0, dash), parsed.ms) ||
      !parseNumber(std::string_view(id).substr(dash + 1), parsed.seq)) {
    throw InvalidArgumentError(fmt::format("'{}' is not a Redis stream entry id", id));
  }
  return parsed;
}

std::string StreamId::toString() const { return fmt::format("{}-{}", ms, seq); }

RedisConnection::RedisConnection(const std::string& host, int port,
                                 std::chrono::milliseconds timeout)
    : where_(fmt::format("{}:{}", host, port)) {
  context_ = redisConnectWithTimeout(host.c_str(), port, toTimeval(timeout));
  if (context_ == nullptr) throw RedisError("Cannot connect to Redis at " + where_, true);
  if (context_->err != 0) {
    std::string why = context_->errstr;
    redisFree(context_);
    context_ = nullptr;
    throw RedisError(fmt::format("Cannot connect to Redis at {}: {}", where_, why), true);
  }
  if (redisSetTimeout(context_, toTimeval(timeout)) != REDIS_OK) {
    // Without a read timeout a hung server would block the batch generator for good.
    redisFree(context_);
    context_ = nullptr;
    throw RedisError(fmt::format("Cannot set the timeout of the connection to Redis at {}", where_),
                     true);
  }
}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) redisFree(context_);
}

void RedisConnection::ReplyDeleter::operator()(void* reply) const { freeReplyObject(reply); }

RedisConnection::Reply RedisConnection::run(const std::vector<std::string>& args) {
  if (!usable_) throw RedisError("The connection to Redis at " + where_ + " was lost", true);
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  SigpipeBlocked no_sigpipe;
  Reply reply(redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(),
                               lengths.data()));
  if (!reply) {
    usable_ = false;
    throw RedisError(fmt::format("Redis at {}: {} failed: {}", where_, args.at(0),
                                 context_->errstr[0] != 0 ? context_->errstr : "no reply"),
                     true);
  }
  const auto* r = static_cast<const redisReply*>(reply.get());
  if (r->type == REDIS_REPLY_ERROR) {
    throw RedisError(fmt::format("Redis at {}: {} {}: {}", where_, args.at(0),
                                 args.size() > 1 ? args[1] : "", text(r)),
                     false);
  }
  return reply;
}

std::string RedisConnection::command(const std::vector<std::string>& args) {
  Reply reply = run(args);
  const auto* r = static_cast<const redisReply*>(reply.get());
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return text(r);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    default:
      return {};
  }
}

RedisError RedisConnection::unexpectedReply(const char* command, const std::string& key) const {
  return RedisError(fmt::format("Redis at {}: {} {}: unexpected reply", where_, command, key),
                    false);
}

std::optional<StreamId> RedisConnection::lastId(const std::string& key) {
  Reply reply = run({"XREVRANGE", key, "+", "-", "COUNT", "1"});
  const auto* r = static_cast<const redisReply*>(reply.get());
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return std::nullopt;
  const redisReply* entry = r->element[0];
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1 ||
      entry->element[0]->type != REDIS_REPLY_STRING) {
    throw unexpectedReply("XREVRANGE", key);
  }
  return StreamId::parse(text(entry->element[0]));
}

std::vector<RedisStreamEntry> RedisConnection::range(const std::string& key, StreamId after,
                                                     StreamId to, long long count) {
  Reply reply = run({"XRANGE", key, "(" + after.toString(), to.toString(), "COUNT",
                     std::to_string(count)});
  const auto* r = static_cast<const redisReply*>(reply.get());
  std::vector<RedisStreamEntry> entries;
  if (r->type != REDIS_REPLY_ARRAY) return entries;
  entries.reserve(r->elements);
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING) {
      throw unexpectedReply("XRANGE", key);
    }
    RedisStreamEntry entry;
    entry.stream = key;
    entry.id = text(e->element[0]);
    const redisReply* fields = e->element[1];
    if (fields->type == REDIS_REPLY_ARRAY) {
      if (fields->elements % 2 != 0) throw unexpectedReply("XRANGE", key);
      entry.fields.reserve(fields->elements / 2);
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (fields->element[f]->type != REDIS_REPLY_STRING ||
            fields->element[f + 1]->type != REDIS_REPLY_STRING) {
          throw unexpectedReply("XRANGE", key);
        }
        entry.fields.emplace_back(text(fields->element[f]), text(fields->element[f + 1]));
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace sluice::detail
