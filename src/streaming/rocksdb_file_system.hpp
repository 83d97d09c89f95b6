// RocksDB's writes routed through Sluice's file layer, so that the state backend's files fail
// exactly as the checkpoint files do when a test injects a full or failing disk (or a user's
// FileSystem adds its own policy). Reads, links and locks stay with RocksDB's own file system:
// only what changes the disk goes through Sluice's layer.
#pragma once

#include <memory>

namespace rocksdb {
class Env;
}

namespace sluice::detail {

class FileSystem;

// An Env for rocksdb::Options::env whose new, reopened and copied files, renames and directory
// syncs go through `fs`. Thread-safe as `fs` is: RocksDB calls it from its background threads.
std::unique_ptr<rocksdb::Env> routedRocksDbEnv(std::shared_ptr<FileSystem> fs);

}  // namespace sluice::detail
