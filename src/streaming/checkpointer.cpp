#include "streaming/checkpointer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/core.hpp>
#include <sluice/streaming/state_backend.hpp>
#include <sluice/streaming/state_store.hpp>
#include <tuple>

namespace sluice::detail {
namespace {

constexpr std::string_view kMeta = "meta";
constexpr std::string_view kInputPrefix = "input/";
constexpr std::string_view kStatePrefix = "state/";
// The saved states of the RocksDB backend, one directory per stateful stream.
constexpr std::string_view kBackendDir = "rocksdb";

// A stream's saved state: (has committed state, its batch time, full, the store's bytes).
// Without committed state a restart replays the stream's input from the zero time, or, when the
// time is not 0 (a stream added at a restart that has not committed yet), from after that time;
// either way its initial state RDD is then loaded.
using StateRecord = std::tuple<bool, std::int64_t, bool, std::string>;

std::string encodeMeta(const CheckpointMeta& m) {
  return serialize(std::make_tuple(m.batch_ms, m.zero_ms, m.time_ms, m.stateful, m.inputs));
}

CheckpointMeta decodeMeta(const CheckpointFile& file) {
  const CheckpointSection* section = file.find(kMeta);
  if (section == nullptr) {
    throw CheckpointError(fmt::format("Checkpoint '{}' has no meta section", file.path));
  }
  CheckpointMeta m;
  try {
    std::tie(m.batch_ms, m.zero_ms, m.time_ms, m.stateful, m.inputs) =
        deserialize<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::vector<std::string>,
                               std::vector<std::string>>>(section->payload);
  } catch (const Error& e) {
    throw CheckpointError(
        fmt::format("Checkpoint '{}': bad meta section: {}", file.path, e.what()));
  }
  return m;
}

// "what is missing and what is new" between a checkpoint's names and the graph's; streams new
// to the checkpoint are accepted when they have a uid.
template <class Entry>
std::string mismatch(const char* what, const std::vector<std::string>& saved,
                     const std::vector<Entry>& graph) {
  const std::set<std::string> a(saved.begin(), saved.end());
  std::set<std::string> b;
  std::vector<std::string> missing, added;
  for (const auto& e : graph) {
    b.insert(e.identity);
    if (!a.contains(e.identity) && !e.named) added.push_back(e.identity);
  }
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(missing));
  if (missing.empty() && added.empty()) return {};
  added.clear();
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(added));
  return fmt::format(
      "{}: in the checkpoint but not in the graph: [{}]; in the graph but not in "
      "the checkpoint: [{}]",
      what, fmt::join(missing, ", "), fmt::join(added, ", "));
}

}  // namespace

Checkpointer::Checkpointer(std::shared_ptr<FileSystem> fs, std::string dir, int keep,
                           ErrorHandler on_error, RetainedHandler on_retained,
                           std::shared_ptr<Clock> clock, WrittenHandler on_written)
    : fs_(std::move(fs)),
      dir_(std::move(dir)),
      keep_(keep),
      on_error_(std::move(on_error)),
      on_retained_(std::move(on_retained)),
      clock_(std::move(clock)),
      on_written_(std::move(on_written)) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::write(const CheckpointMeta& meta, const std::vector<Stateful>& stateful,
                         const std::vector<Input>& inputs) {
  std::uint64_t failures;
  {
    std::lock_guard lock(mu_);
    failures = failures_;
  }
  // A failed write may have held incremental saves that cleared the stores' change logs, and
  // the files queued behind it were dropped: only full saves of every stream are safe now.
  const bool force_full = failures != failures_seen_;
  if (force_full) chains_.clear();
  failures_seen_ = failures;

  CheckpointFile file;
  file.time_ms = meta.time_ms;
  auto chains = chains_;  // committed only once the file is queued
  try {
    file.sections.push_back({std::string(kMeta), encodeMeta(meta)});
    for (const auto& in : inputs) {
      std::string data = in.input->checkpointData(Time(meta.time_ms));
      if (!data.empty()) {
        file.sections.push_back({std::string(kInputPrefix) + in.identity, std::move(data)});
      }
    }
    for (const auto& s : stateful) {
      auto& chain = chains[s.identity];
      if (!s.due && !chain.empty()) continue;
      // A second checkpoint of the same batch (a graceful stop's) replaces the file that holds
      // the stream's last incremental save, so it saves the state in full.
      // A backend's save is whole by itself (its checkpoint shares unchanged files instead).
      const bool full = s.store->backend() != nullptr || chain.empty() ||
                        chain.back() == meta.time_ms ||
                        static_cast<int>(chain.size()) >= kCompactEvery;
      const auto committed = s.store->committedTime();
      StateRecord record(!s.store->awaitsInitialState(), committed ? committed->milliseconds() : 0,
                         full,
                         s.store->saveState(full, {stateDir(s.identity), Time(meta.time_ms)}));
      file.sections.push_back({std::string(kStatePrefix) + s.identity, serialize(record)});
      if (full) chain.clear();
      chain.push_back(meta.time_ms);
    }
  } catch (...) {
    // The incremental saves encoded so far cleared their stores' change logs.
    chains_.clear();
    throw;
  }
  std::set<std::int64_t> deps;
  for (const auto& s : stateful) {
    for (std::int64_t t : chains[s.identity]) {
      if (t != meta.time_ms) deps.insert(t);
    }
  }
  file.depends_on.assign(deps.begin(), deps.end());

  std::unique_lock lock(mu_);
  try {
    if (!thread_.joinable()) thread_ = std::thread([this] { writerLoop(); });
  } catch (...) {
    chains_.clear();
    throw;
  }
  cv_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
  queue_.push_back({std::move(file), failures});
  chains_ = std::move(chains);
  cv_.notify_all();
}

std::string Checkpointer::stateDir(const std::string& identity) const {
  return fmt::format("{}/{}/{}", dir_, kBackendDir, stateFileName(identity));
}

void Checkpointer::flush() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

void Checkpointer::writerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is written
    Queued item = std::move(queue_.front());
    queue_.pop_front();
    if (item.failures_seen != failures_) {
      log(LogLevel::kWarn, fmt::format("The checkpoint of batch {} is not written: an earlier "
                                       "checkpoint failed and it may depend on it",
                                       Time(item.file.time_ms).toString()));
      cv_.notify_all();
      continue;
    }
    writing_ = true;
    lock.unlock();
    std::exception_ptr error;
    Written written;
    written.time = Time(item.file.time_ms);
    written.full = item.file.depends_on.empty();
    const std::int64_t started = clock_ ? clock_->nowMs() : 0;
    try {
      written.bytes = writeNow(item.file);
    } catch (...) {
      error = std::current_exception();
    }
    if (!error && on_written_) {
      written.duration_ms = clock_ ? clock_->nowMs() - started : 0;
      try {
        on_written_(written);
      } catch (...) {
        log(LogLevel::kError, "The checkpoint written handler threw");
      }
    }
    if (error && on_error_) {
      try {
        on_error_(error);
      } catch (...) {
        log(LogLevel::kError, "The checkpoint error handler threw");
      }
    }
    lock.lock();
    if (error) ++failures_;
    writing_ = false;
    cv_.notify_all();
  }
}

std::uint64_t Checkpointer::writeNow(const CheckpointFile& file) {
  const std::uint64_t bytes = writeCheckpointFile(*fs_, dir_, file);
  known_[file.time_ms] = file.depends_on;
  retain();
  return bytes;
}

void Checkpointer::retain() {
  std::set<std::int64_t> needed;
  int kept = 0;
  for (auto it = known_.rbegin(); it != known_.rend() && kept < keep_; ++it, ++kept) {
    needed.insert(it->first);
    needed.insert(it->second.begin(), it->second.end());
  }
  const std::int64_t oldest_kept = *needed.begin();
  try {
    bool removed = false;
    for (std::int64_t t : listCheckpoints(*fs_, dir_)) {
      // An unknown file (corrupt, or from before a restart) newer than the oldest one kept is
      // left alone; a later write of its time replaces it.
      if (needed.contains(t) || (!known_.contains(t) && t >= oldest_kept)) continue;
      fs_->remove(checkpointPath(dir_, t));
      known_.erase(t);
      removed = true;
    }
    // Temporaries left by a crash mid-write (see checkpointPath); no write is running now.
    for (const std::string& name : fs_->listDirectory(dir_)) {
      if (isCheckpointTemporary(name)) {
        fs_->remove(dir_ + "/" + name);
        removed = true;
      }
    }
    if (removed) fs_->syncDirectory(dir_);
    removeSavedStatesBefore(dir_ + "/" + std::string(kBackendDir), Time(oldest_kept));
  } catch (const std::exception& e) {
    log(LogLevel::kWarn, fmt::format("Checkpoint retention in '{}' failed: {}", dir_, e.what()));
  }
  if (on_retained_) {
    try {
      on_retained_(Time(oldest_kept));
    } catch (const std::exception& e) {
      log(LogLevel::kWarn,
          fmt::format("Cleaning behind the kept checkpoints failed: {}", e.what()));
    }
  }
}

std::optional<CheckpointMeta> Checkpointer::restore(std::int64_t batch_ms,
                                                    const std::vector<Stateful>& stateful,
                                                    const std::vector<Input>& inputs) {
  CheckpointMeta meta;
  // A chain whose saved state turns out damaged (a backend's files are checked only now) is
  // passed over like a corrupt file; a graph or configuration that does not fit is not damage,
  // and older checkpoints would not fit either, so it fails at once.
  auto loaded = loadLatestCheckpoint(*fs_, dir_,
                                     [&](const std::vector<CheckpointFile>& chain) -> std::string {
                                       meta = checkFits(chain.back(), batch_ms, stateful, inputs);
                                       try {
                                         restoreStates(chain, meta, stateful);
                                       } catch (const DamagedStateError& e) {
                                         return e.what();
                                       }
                                       return {};
                                     });
  if (!loaded) return std::nullopt;
  for (const auto& file : *loaded) known_[file.time_ms] = file.depends_on;
  const CheckpointFile& newest = loaded->back();
  for (const auto& in : inputs) {
    if (const auto* section = newest.find(std::string(kInputPrefix) + in.identity)) {
      in.input->restoreCheckpointData(section->payload);
    }
  }
  log(LogLevel::kInfo, fmt::format("Restored the streaming state from checkpoint '{}' (batch {})",
                                   newest.path, Time(meta.time_ms).toString()));
  return meta;
}

CheckpointMeta Checkpointer::checkFits(const CheckpointFile& newest, std::int64_t batch_ms,
                                       const std::vector<Stateful>& stateful,
                                       const std::vector<Input>& inputs) const {
  CheckpointMeta meta = decodeMeta(newest);
  if (meta.batch_ms != batch_ms) {
    throw CheckpointError(fmt::format(
        "Checkpoint '{}' was written with a batch duration of {} ms, the graph has {} ms",
        newest.path, meta.batch_ms, batch_ms));
  }
  std::string problems = mismatch("stateful streams", meta.stateful, stateful);
  if (std::string p = mismatch("input streams", meta.inputs, inputs); !p.empty()) {
    problems += (problems.empty() ? "" : "; ") + p;
  }
  if (!problems.empty()) {
    throw CheckpointError(fmt::format(
        "The checkpoint '{}' does not match the streaming graph ({}). Name stateful streams and "
        "inputs with uid(\"...\") to keep their state across code changes, or start fresh "
        "(getOrCreate with create_on_error, or a new checkpoint directory)",
        newest.path, problems));
  }
  return meta;
}

void Checkpointer::restoreStates(const std::vector<CheckpointFile>& chain,
                                 const CheckpointMeta& meta,
                                 const std::vector<Stateful>& stateful) {
  chains_.clear();
  for (const auto& s : stateful) {
    // The newest full save in the chain, then the incremental ones after it.
    std::vector<std::pair<std::int64_t, StateRecord>> records;
    for (const auto& file : chain) {
      const CheckpointSection* section = file.find(std::string(kStatePrefix) + s.identity);
      if (section == nullptr) continue;
      StateRecord record;
      try {
        record = deserialize<StateRecord>(section->payload);
      } catch (const Error& e) {
        throw DamagedStateError(
            fmt::format("Checkpoint '{}': bad state of {}: {}", file.path, s.identity, e.what()));
      }
      if (std::get<2>(record)) records.clear();
      records.emplace_back(file.time_ms, std::move(record));
    }
    if (records.empty() &&
        std::find(meta.stateful.begin(), meta.stateful.end(), s.identity) == meta.stateful.end()) {
      // New to this checkpoint (it has a uid): empty as of the checkpoint's batch. A store that
      // a newer, rejected chain already filled cannot be emptied again, so that is an error
      // rather than a stream starting with the newer state.
      if (restored_.contains(s.identity)) {
        throw CheckpointError(fmt::format(
            "Cannot fall back to checkpoint '{}': {} was added after it and its state was "
            "already read from a newer, damaged checkpoint (getOrCreate with create_on_error, or "
            "a new checkpoint directory)",
            chain.back().path, s.identity));
      }
      s.store->startEmptyAt(Time(meta.time_ms));
      continue;
    }
    if (records.empty() || !std::get<2>(records.front().second)) {
      throw DamagedStateError(
          fmt::format("Checkpoint '{}' holds no full state of {}", chain.back().path, s.identity));
    }
    auto& saved = chains_[s.identity];
    restored_.insert(s.identity);
    for (auto& [time, record] : records) {
      s.store->restoreState(std::get<3>(record), std::get<2>(record), stateDir(s.identity));
      if (std::get<0>(record)) {
        s.store->setCommittedTime(Time(std::get<1>(record)));
      } else if (std::get<1>(record) != 0) {
        s.store->startEmptyAt(Time(std::get<1>(record)));
      } else {
        s.store->setCommittedTime(std::nullopt);
      }
      saved.push_back(time);
    }
  }
}

}  // namespace sluice::detail
