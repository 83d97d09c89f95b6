// A FileSystem over the real one whose writable files fail on demand, as a full or failing disk
// would: for the tests of the checkpoint writer, the write-ahead log and the streaming context.
// Thread-safe: the fault may be switched while other threads write.
#pragma once

#include <atomic>
#include <memory>
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
    return std::make_unique<File>(inner_->newWritableFile(path, append), fault_);
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

  void setFault(Fault fault) { fault_->store(fault); }

 private:
  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> inner, std::shared_ptr<std::atomic<Fault>> fault)
        : inner_(std::move(inner)), fault_(std::move(fault)) {}
    void append(std::string_view bytes) override {
      switch (fault_->load()) {
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
      if (fault_->load() == Fault::kSync) {
        throw sluice::IOError("Cannot sync (injected): Input/output error");
      }
      inner_->sync();
    }
    void close() override { inner_->close(); }

   private:
    std::unique_ptr<WritableFile> inner_;
    std::shared_ptr<std::atomic<Fault>> fault_;
  };

  std::shared_ptr<FileSystem> inner_ = FileSystem::local();
  std::shared_ptr<std::atomic<Fault>> fault_ = std::make_shared<std::atomic<Fault>>(Fault::kNone);
};

}  // namespace sluice::testing_io
