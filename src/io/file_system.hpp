// The file layer under checkpoints and the receiver write-ahead log (LevelDB's Env is the model):
// production code uses FileSystem::local(); tests substitute a FileSystem that fails on demand
// (ENOSPC, EIO, a crash between two calls) to prove that a failed write never damages what was
// written before. Every failure is an IOError naming the path and the system's reason.
// Thread-safety: local() may be used from any thread; one WritableFile is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual void append(std::string_view bytes) = 0;
  // Flushes what was appended to stable storage (fdatasync).
  virtual void sync() = 0;
  // Closes the file; an error from close() is reported. The destructor closes silently.
  virtual void close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The process's real file system.
  static std::shared_ptr<FileSystem> local();

  // Creates `path`, truncating it, or opens it for appending at its end.
  virtual std::unique_ptr<WritableFile> newWritableFile(const std::string& path,
                                                        bool append = false) = 0;
  // The whole file; FileNotFoundError when it does not exist.
  virtual std::string readFile(const std::string& path) = 0;
  // Atomically replaces `to` (rename(2)).
  virtual void rename(const std::string& from, const std::string& to) = 0;
  // Removes a file; a missing file is not an error.
  virtual void remove(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual void syncDirectory(const std::string& dir) = 0;
  // Names (not paths) of the entries of `dir`, sorted; empty when it does not exist.
  virtual std::vector<std::string> listDirectory(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual void createDirectories(const std::string& dir) = 0;
  // Shortens a file to `size` bytes (used to cut a torn tail off a log).
  virtual void truncate(const std::string& path, std::size_t size) = 0;
};

}  // namespace sluice::detail
