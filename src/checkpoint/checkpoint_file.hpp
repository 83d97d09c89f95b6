// The checkpoint container file: one file per checkpointed batch time, holding named opaque
// sections (the streaming layer decides what goes in them), written atomically and validated in
// full when read. Also the directory-level policy on top of it: finding the newest usable
// checkpoint (falling back past corrupt or incomplete ones).
// The byte layout, the version policy and the guarantees are specified in
// docs/checkpoint-format.md.
//
// All I/O goes through a FileSystem so that tests can inject faults. Thread-safety: the functions
// keep no state and may be called from any thread, but one checkpoint directory must have one
// writer at a time (whoever deletes old files and leftover temporaries must not run beside a
// write, whose temporary it would delete).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/file_system.hpp"

namespace sluice::detail {

// One named part of a checkpoint. The payload is opaque bytes (NULs allowed).
struct CheckpointSection {
  std::string name;
  std::string payload;
};

// The contents of one checkpoint file.
struct CheckpointFile {
  // The batch time the checkpoint is for; names the file. Must be >= 0.
  std::int64_t time_ms = 0;
  // Times of older checkpoint files this one needs (incremental data), each < time_ms. The
  // writer stores them sorted and without duplicates; the reader returns them that way.
  std::vector<std::int64_t> depends_on;
  // Unique names, written and read back in this order.
  std::vector<CheckpointSection> sections;
  // Set by the reader to the path it read; ignored by the writer.
  std::string path;

  // The section called `name`, or nullptr.
  const CheckpointSection* find(std::string_view name) const;
};

// CRC-32C (Castagnoli, as in iSCSI and LevelDB) of `bytes`, continuing from `crc`, the CRC of
// the bytes before them (0 for none). crc32c("123456789") == 0xE3069283. Uses the SSE4.2
// instruction where the CPU has it.
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

// Largest section payload the format accepts. The reader never allocates more than this for one
// section, whatever a corrupt size field says.
inline constexpr std::uint64_t kMaxCheckpointSectionBytes = std::uint64_t{1} << 32;

// dir + "/checkpoint-" + time_ms zero-padded to 13 digits (milliseconds since the epoch have 13
// digits until the year 2286), so that `ls` lists current checkpoints in time order. Larger times
// simply get more digits; listCheckpoints orders by the parsed number, not by name.
std::string checkpointPath(const std::string& dir, std::int64_t time_ms);

// Whether `name` is the temporary of a write (see writeCheckpointFile) that did not finish.
bool isCheckpointTemporary(std::string_view name);

// Writes dir/checkpoint-<time> (see checkpointPath), creating dir if needed: to the temporary
// dir/.checkpoint-<time>.tmp, fdatasync, close, rename over the final name, fsync the directory.
// Sections over 512 bytes are zstd-compressed (level 1) when that makes them smaller.
// Throws InvalidArgumentError for a negative time, a dependency not older than time_ms, duplicate
// section names or a section over kMaxCheckpointSectionBytes (nothing is written then). Throws
// IOError when a step fails; before the rename that removes the temporary (when it can) and
// leaves every existing file untouched. A failure of the final directory fsync leaves the new,
// complete file in place (whether it survives a crash is unknown) and still throws.
// Returns the file's size in bytes.
std::uint64_t writeCheckpointFile(FileSystem& fs, const std::string& dir,
                                  const CheckpointFile& file);

// Reads `path` and validates all of it: magic numbers, format version, header and section
// checksums, decompression to the recorded sizes, the whole-file checksum in the trailer. So a
// file cut at any length or with any bit flipped is rejected. Throws CheckpointError naming the
// file and what is wrong; FileNotFoundError when it does not exist; IOError when reading fails.
CheckpointFile readCheckpointFile(FileSystem& fs, const std::string& path);

// Times of the checkpoint files in dir, newest first. Only exact checkpointPath names count;
// temporaries and other files are ignored. Empty when dir does not exist.
std::vector<std::int64_t> listCheckpoints(FileSystem& fs, const std::string& dir);

// Decides whether a chain of valid checkpoint files (oldest first) can be used beyond the files
// themselves, e.g. whether the state saves they refer to are intact: returns an empty string to
// take it, or why not. What it throws goes to the caller of loadLatestCheckpoint.
using ChainCheck = std::function<std::string(const std::vector<CheckpointFile>& chain)>;

// Loads the newest checkpoint that is valid together with every file it depends on
// (transitively) and that `check` (when given) accepts. Each newer checkpoint passed over is
// logged as a warning naming the file and why. Returns the chain oldest first: the dependencies,
// then the chosen checkpoint last. std::nullopt when dir holds no checkpoint file; throws
// CheckpointError listing every file and its fault when there are checkpoint files but none is
// usable.
std::optional<std::vector<CheckpointFile>> loadLatestCheckpoint(FileSystem& fs,
                                                                const std::string& dir,
                                                                const ChainCheck& check = {});

}  // namespace sluice::detail
