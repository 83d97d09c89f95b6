// Writes and reads the streaming checkpoints of one checkpoint directory, on the format of
// checkpoint/checkpoint_file.hpp. Every completed batch t gets a file checkpoint-<t> holding
// - "meta": the batch duration, zero time, t, and the identities of the stateful streams and
//   inputs of the graph (to match a restarted graph against);
// - "input/<identity>": each input's record of its batches (files taken, logged blocks);
// - "state/<identity>": the committed state of the stateful streams whose data checkpoint is due
//   at t (Spark's rule: t - zeroTime a multiple of the stream's interval), as all its keys or only
//   those changed since its previous data checkpoint; every kCompactEvery-th one is full.
// A file lists the older files holding the state it does not repeat (depends_on), so retention
// keeps those and recovery reads the chain: per stream the newest full state, then the
// incremental ones after it.
//
// Files are written by a writer thread of their own (Spark's CheckpointWriter): the batch thread
// only encodes the sections (a snapshot of the committed state, so the next batch may go on
// changing it) and queues the file, so the batch never waits for compression or fsync. At most
// kMaxQueued files wait; a batch thread that gets further ahead waits for the writer (memory stays
// bounded). Files are written in batch order. When a write fails, the files queued behind it are
// dropped (they may depend on it) and the next checkpoint saves every stream in full.
// Thread-safety: write, flush and restore are called from one thread at a time (the batch thread,
// or before start / after stop by the context); the writer thread is internal.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sluice/streaming/clock.hpp>
#include <sluice/streaming/time.hpp>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_file.hpp"

namespace sluice::detail {

class StateStoreBase;
class InputBase;

struct CheckpointMeta {
  std::int64_t batch_ms = 0;
  std::int64_t zero_ms = 0;
  std::int64_t time_ms = 0;
  std::vector<std::string> stateful;
  std::vector<std::string> inputs;
};

class Checkpointer {
 public:
  static constexpr int kCompactEvery = 10;
  static constexpr std::size_t kMaxQueued = 2;

  // `on_error` is called on the writer thread with each write that failed.
  using ErrorHandler = std::function<void(std::exception_ptr)>;
  // `on_retained` is called on the writer thread after each successful write with the time of the
  // oldest checkpoint kept: what a restart may fall back to, so inputs may forget what only older
  // batches needed.
  using RetainedHandler = std::function<void(Time oldest_kept)>;
  // `on_written` is called on the writer thread after each successful write: the checkpoint's
  // batch time, the file's size, whether it is full (depends on no older file), and how long
  // the write took on `clock`.
  struct Written {
    Time time;
    std::uint64_t bytes = 0;
    bool full = false;
    std::int64_t duration_ms = 0;
  };
  using WrittenHandler = std::function<void(const Written&)>;

  Checkpointer(std::shared_ptr<FileSystem> fs, std::string dir, int keep,
               ErrorHandler on_error = {}, RetainedHandler on_retained = {},
               std::shared_ptr<Clock> clock = nullptr, WrittenHandler on_written = {});
  // Waits for the queued files to be written.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  struct Stateful {
    std::string identity;
    StateStoreBase* store;
    bool due;    // its data checkpoint is due at this batch
    bool named;  // identified by a uid given by the user
  };
  struct Input {
    std::string identity;
    InputBase* input;
    bool named;
  };
  // Encodes the checkpoint of completed batch t and queues it for the writer thread. A failed
  // write goes to `on_error`; the previous checkpoints stay intact, and the next data checkpoint
  // of every stream is a full one. Throws what encoding throws (a state that cannot be
  // serialized), with the same effect on the next checkpoint.
  void write(const CheckpointMeta& meta, const std::vector<Stateful>& stateful,
             const std::vector<Input>& inputs);
  // Blocks until every queued file is written (or has failed).
  void flush();

  // Loads the newest valid checkpoint and restores the given streams and inputs from it; returns
  // its meta, or nothing when the directory holds no checkpoint. A checkpoint whose file or saved
  // state is damaged is passed over for the one before it (with a warning). Throws
  // CheckpointError when no checkpoint is usable, or when the newest usable one does not match
  // `stateful`/`inputs`: a stream of the checkpoint missing from the graph, or one of the graph
  // missing from the checkpoint that has no uid (a named one is new and starts empty at the
  // checkpoint's time).
  std::optional<CheckpointMeta> restore(std::int64_t batch_ms,
                                        const std::vector<Stateful>& stateful,
                                        const std::vector<Input>& inputs);

 private:
  std::shared_ptr<FileSystem> fs_;
  std::string dir_;
  int keep_;
  ErrorHandler on_error_;
  RetainedHandler on_retained_;
  std::shared_ptr<Clock> clock_;
  WrittenHandler on_written_;

  struct Queued {
    CheckpointFile file;
    std::uint64_t failures_seen;  // writer failures when it was encoded
  };
  void writerLoop();
  // Returns the file's size.
  std::uint64_t writeNow(const CheckpointFile& file);
  // The meta of `newest`; throws CheckpointError when it does not fit the graph.
  CheckpointMeta checkFits(const CheckpointFile& newest, std::int64_t batch_ms,
                           const std::vector<Stateful>& stateful,
                           const std::vector<Input>& inputs) const;
  // Restores every stateful stream from `chain` (oldest first) and records their chains.
  // Throws DamagedStateError when a saved state cannot be read back.
  void restoreStates(const std::vector<CheckpointFile>& chain, const CheckpointMeta& meta,
                     const std::vector<Stateful>& stateful);
  // Where the stateful stream `identity` saves the files of a state backend.
  std::string stateDir(const std::string& identity) const;
  // Deletes the files that neither the newest `keep_` checkpoints written or restored here nor
  // their dependencies need, from what this writer knows of them (reading no file, so that it
  // costs a directory listing per batch, not the state's size).
  void retain();

  // Per stateful stream, the files holding its current state: a full one, then incremental ones.
  // Batch thread only.
  std::map<std::string, std::vector<std::int64_t>> chains_;
  // The stateful streams whose stores restore has written to, by any chain it tried.
  std::set<std::string> restored_;
  std::uint64_t failures_seen_ = 0;  // batch thread: writer failures the chains account for
  // The valid checkpoint files written or restored here, with their dependencies. Writer thread
  // (and restore, before the thread starts).
  std::map<std::int64_t, std::vector<std::int64_t>> known_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;    // guarded by mu_
  bool writing_ = false;        // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  std::uint64_t failures_ = 0;  // guarded by mu_
  std::thread thread_;          // started by the first write()
};

}  // namespace sluice::detail
