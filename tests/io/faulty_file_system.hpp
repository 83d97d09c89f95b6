// A FileSystem over the real one whose writable files fail on demand, as a full or failing disk
// would: for the tests of the checkpoint writer, the write-ahead log and the streaming context.
// A fault may be limited to the files whose path contains a given part (one database's files),
// and syncs may be held up, as a slow disk would, so that later writes queue behind one.
// Thread-safe: the fault may be switched while other threads write.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <sluice/error.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "io/file_system.hpp"

namespace sluice::testing_io {

using sluice::detail::FileSystem;
using sluice::detail::WritableFile;

class FaultyFileSystem final : public FileSystem {
 public:
  enum class Fault { kNone, kAppend, kPartialAppend, kSync };

  std::unique_ptr<WritableFile> newWritableFile(const std::string& path, bool append) override {
    return std::make_unique<File>(inner_->newWritableFile(path, append), path, state_);
  }
  std::string readFile(const std::string& path) override { return inner_->readFile(path); }
  void rename(const std::string& from, const std::string& to) override { inner_->rename(from, to); }
  void remove(const std::string& path) override { inner_->remove(path); }
  void syncDirectory(const std::string& dir) override { inner_->syncDirectory(dir); }
  std::vector<std::string> listDirectory(const std::string& dir) override {
    return inner_->listDirectory(dir);
  }
  bool exists(const std::string& path) override { return inner_->exists(path); }
  void createDirectories(const std::string& dir) override { inner_->createDirectories(dir); }
  void truncate(const std::string& path, std::size_t size) override {
    inner_->truncate(path, size);
  }

  // Every file, open or opened later, whose path contains `only_paths_with` (every file for an
  // empty part) fails with `fault` from now on.
  void setFault(Fault fault, std::string only_paths_with = "") {
    std::lock_guard lock(state_->mu);
    state_->fault = fault;
    state_->only = std::move(only_paths_with);
  }

  // Syncs wait from now on until releaseSyncs(); a held sync then fails or not by the fault in
  // force at its release.
  void holdSyncs() {
    std::lock_guard lock(state_->mu);
    state_->hold = true;
  }
  void releaseSyncs() {
    std::lock_guard lock(state_->mu);
    state_->hold = false;
    state_->cv.notify_all();
  }
  // Blocks until a sync is held.
  void waitForHeldSync() {
    std::unique_lock lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->held > 0; });
  }

 private:
  struct State {
    std::mutex mu;
    Fault fault = Fault::kNone;
    std::string only;
    bool hold = false;
    int held = 0;
    std::condition_variable cv;
    void waitWhileHeld() {
      std::unique_lock lock(mu);
      if (!hold) return;
      ++held;
      cv.notify_all();
      cv.wait(lock, [&] { return !hold; });
      --held;
    }
    Fault faultOf(const std::string& path) {
      std::lock_guard lock(mu);
      return path.find(only) == std::string::npos ? Fault::kNone : fault;
    }
  };

  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> inner, std::string path, std::shared_ptr<State> state)
        : inner_(std::move(inner)), path_(std::move(path)), state_(std::move(state)) {}
    void append(std::string_view bytes) override {
      switch (state_->faultOf(path_)) {
        case Fault::kAppend:
          throw sluice::IOError("Cannot write (injected): No space left on device");
        case Fault::kPartialAppend:
          inner_->append(bytes.substr(0, bytes.size() / 2));
          throw sluice::IOError("Cannot write (injected): No space left on device");
        default:
          inner_->append(bytes);
      }
    }
    void sync() override {
      state_->waitWhileHeld();
      if (state_->faultOf(path_) == Fault::kSync) {
        throw sluice::IOError("Cannot sync (injected): Input/output error");
      }
      inner_->sync();
    }
    void close() override { inner_->close(); }

   private:
    std::unique_ptr<WritableFile> inner_;
    std::string path_;
    std::shared_ptr<State> state_;
  };

  std::shared_ptr<FileSystem> inner_ = FileSystem::local();
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace sluice::testing_io
