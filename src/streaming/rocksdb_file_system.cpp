#include "streaming/rocksdb_file_system.hpp"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <exception>
#include <string_view>

#include "io/file_system.hpp"

namespace sluice::detail {
namespace {

// Inside classes derived from RocksDB's, `FileSystem` names RocksDB's.
using Files = FileSystem;

// A failed write is reported as retryable: RocksDB then keeps the unflushed memtable and
// retries the flush once the disk recovers, instead of stopping the database for good (the
// state backend writes without RocksDB's log, so the memtable is the only copy of a batch's
// changes until the next checkpoint).
rocksdb::IOStatus failed(const std::exception& e) {
  auto status = rocksdb::IOStatus::IOError(e.what());
  status.SetRetryable(true);
  return status;
}

template <class F>
rocksdb::IOStatus attempt(F&& f) {
  try {
    f();
    return rocksdb::IOStatus::OK();
  } catch (const std::exception& e) {
    return failed(e);
  }
}

class RoutedWritableFile final : public rocksdb::FSWritableFile {
 public:
  RoutedWritableFile(std::shared_ptr<Files> fs, std::string path,
                     std::unique_ptr<WritableFile> file, std::uint64_t size,
                     const rocksdb::FileOptions& options)
      : rocksdb::FSWritableFile(options),
        fs_(std::move(fs)),
        path_(std::move(path)),
        file_(std::move(file)),
        size_(size) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions&,
                           rocksdb::IODebugContext*) override {
    return attempt([&] {
      file_->append(std::string_view(data.data(), data.size()));
      size_ += data.size();
    });
  }
  rocksdb::IOStatus Truncate(std::uint64_t size, const rocksdb::IOOptions&,
                             rocksdb::IODebugContext*) override {
    return attempt([&] {
      fs_->truncate(path_, size);
      size_ = size;
    });
  }
  // Appends go straight to the file: there is nothing buffered here to flush.
  rocksdb::IOStatus Flush(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return attempt([&] { file_->sync(); });
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return attempt([&] { file_->close(); });
  }
  std::uint64_t GetFileSize(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return size_;
  }

 private:
  std::shared_ptr<Files> fs_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::uint64_t size_;
};

class RoutedDirectory final : public rocksdb::FSDirectory {
 public:
  RoutedDirectory(std::shared_ptr<Files> fs, std::string path)
      : fs_(std::move(fs)), path_(std::move(path)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return attempt([&] { fs_->syncDirectory(path_); });
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }

 private:
  std::shared_ptr<Files> fs_;
  std::string path_;
};

class RoutedFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit RoutedFileSystem(std::shared_ptr<Files> fs)
      : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), fs_(std::move(fs)) {}

  static const char* kClassName() { return "SluiceRoutedFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext*) override {
    return open(path, options, false, result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext*) override {
    return open(path, options, true, result);
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return attempt([&] { fs_->rename(from, to); });
  }
  rocksdb::IOStatus NewDirectory(const std::string& path, const rocksdb::IOOptions&,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext*) override {
    *result = std::make_unique<RoutedDirectory>(fs_, path);
    return rocksdb::IOStatus::OK();
  }

 private:
  rocksdb::IOStatus open(const std::string& path, const rocksdb::FileOptions& options, bool append,
                         std::unique_ptr<rocksdb::FSWritableFile>* result) {
    std::uint64_t size = 0;
    if (append) {
      const auto status = target()->GetFileSize(path, options.io_options, &size, nullptr);
      if (!status.ok() && !status.IsNotFound()) return status;
    }
    return attempt([&] {
      *result = std::make_unique<RoutedWritableFile>(fs_, path, fs_->newWritableFile(path, append),
                                                     size, options);
    });
  }

  std::shared_ptr<Files> fs_;
};

}  // namespace

std::unique_ptr<rocksdb::Env> routedRocksDbEnv(std::shared_ptr<FileSystem> fs) {
  return rocksdb::NewCompositeEnv(std::make_shared<RoutedFileSystem>(std::move(fs)));
}

}  // namespace sluice::detail
