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
// Thread-safety: used by the batch thread only (and before start, by restore).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <sluice/streaming/time.hpp>
#include <string>
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

  Checkpointer(std::shared_ptr<FileSystem> fs, std::string dir, int keep);

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
  // Writes the checkpoint of completed batch t. Throws IOError (the previous checkpoints stay
  // intact, and the next data checkpoint of every stream is a full one).
  void write(const CheckpointMeta& meta, const std::vector<Stateful>& stateful,
             const std::vector<Input>& inputs);

  // Loads the newest valid checkpoint and restores the given streams and inputs from it; returns
  // its meta, or nothing when the directory holds no checkpoint. Throws CheckpointError when the
  // checkpoint is unusable or its streams do not match `stateful`/`inputs`: a stream of the
  // checkpoint missing from the graph, or one of the graph missing from the checkpoint that has
  // no uid (a named one is new and starts empty at the checkpoint's time).
  std::optional<CheckpointMeta> restore(std::int64_t batch_ms,
                                        const std::vector<Stateful>& stateful,
                                        const std::vector<Input>& inputs);

 private:
  std::shared_ptr<FileSystem> fs_;
  std::string dir_;
  int keep_;
  // Deletes the files that neither the newest `keep_` checkpoints written or restored here nor
  // their dependencies need, from what this writer knows of them (reading no file, so that it
  // costs a directory listing per batch, not the state's size).
  void retain();

  // Per stateful stream, the files holding its current state: a full one, then incremental ones.
  std::map<std::string, std::vector<std::int64_t>> chains_;
  // The valid checkpoint files this writer wrote or restored, with their dependencies.
  std::map<std::int64_t, std::vector<std::int64_t>> known_;
  bool force_full_ = false;
};

}  // namespace sluice::detail
