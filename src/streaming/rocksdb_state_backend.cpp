// The RocksDB state backend. Keys are laid out as a 4-byte big-endian partition number followed
// by the store's serialized key, so a partition is one contiguous, ordered range; the partition
// count is kept under a reserved prefix. Writes skip RocksDB's own log: the durable copy of the
// state is the checkpoint, which flushes the memtable and hard-links the immutable files.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/streaming/state_backend.hpp>
#include <system_error>

#include "io/file_system.hpp"
#include "streaming/rocksdb_file_system.hpp"

namespace sluice::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kMetaPrefix = 0xFFFFFFFFU;
constexpr std::string_view kPartitionsKey = "partitions";
constexpr std::string_view kSaveNameKey = "save";

std::string prefix(std::uint32_t p) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>(p >> (24 - 8 * i));
  return out;
}

std::string fullKey(int partition, std::string_view key) {
  std::string out = prefix(static_cast<std::uint32_t>(partition));
  out.append(key);
  return out;
}

// File names keep letters, digits, '.', '-' and '_'; any other byte becomes %XX.
std::string fileName(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

void check(const rocksdb::Status& status, std::string_view what, const std::string& path) {
  if (!status.ok()) {
    throw Error(
        fmt::format("RocksDB state backend: {} '{}' failed: {}", what, path, status.ToString()));
  }
}

// The checkpoint time a saved state's directory name starts with ("<ms>-<n>").
std::optional<std::int64_t> savedTime(const std::string& name) {
  std::int64_t t = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), t);
  if (ec != std::errc() || ptr == name.data() + name.size() || *ptr != '-') return std::nullopt;
  return t;
}

// Removes the working directories that earlier processes left under `local_dir` for `name`
// ("<name>-<pid>-<n>") when that process is gone: they are scratch copies, the state's durable
// copy is the checkpoint.
void removeAbandoned(const fs::path& local_dir, const std::string& name) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(local_dir, ec)) {
    const std::string dir = entry.path().filename().string();
    if (!dir.starts_with(name + "-")) continue;
    const std::string rest = dir.substr(name.size() + 1);
    long pid = 0;
    auto [ptr, err] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    if (err != std::errc() || ptr == rest.data() + rest.size() || *ptr != '-') continue;
    if (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

class RocksDbBackend final : public KeyValueBackend {
 public:
  RocksDbBackend(fs::path path, int partitions, std::shared_ptr<FileSystem> files)
      : path_(std::move(path)), partitions_(partitions), env_(routedRocksDbEnv(std::move(files))) {
    options_.env = env_.get();
    options_.create_if_missing = true;
    // Recovery from a failed write is driven by the next write or checkpoint (writeBatch), not by
    // a background thread that would retry on its own clock and hold up closing the database.
    options_.max_bgerror_resume_count = 0;
    options_.error_if_exists = true;
    open();
  }
  ~RocksDbBackend() override {
    db_.reset();
    std::error_code ec;
    fs::remove_all(path_, ec);
  }

  std::optional<std::string> get(int partition, std::string_view key) const override {
    std::string value;
    const auto status = db_->Get(rocksdb::ReadOptions(), fullKey(partition, key), &value);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "reading", path_.string());
    return value;
  }

  void scan(int partition,
            const std::function<bool(std::string_view, std::string_view)>& f) const override {
    const std::string start = prefix(static_cast<std::uint32_t>(partition));
    rocksdb::ReadOptions options;
    options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
      const rocksdb::Slice k = it->key();
      const rocksdb::Slice v = it->value();
      if (!f(std::string_view(k.data() + 4, k.size() - 4), std::string_view(v.data(), v.size()))) {
        return;
      }
    }
    check(it->status(), "reading", path_.string());
  }

  void write(const std::vector<Write>& writes) override {
    rocksdb::WriteBatch batch;
    for (const auto& w : writes) {
      const std::string k = fullKey(w.partition, w.key);
      if (w.value) {
        batch.Put(k, *w.value);
      } else {
        batch.Delete(k);
      }
    }
    writeBatch(batch);
  }

  std::string checkpoint(const std::string& dir, Time t) override {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(fmt::format("Cannot create '{}': {}", dir, ec.message()));
    std::string name;
    for (int n = 0;; ++n) {
      name = fmt::format("{}-{}", t.milliseconds(), n);
      if (!fs::exists(fs::path(dir) / name) && !fs::exists(fs::path(dir) / (name + ".tmp"))) break;
    }
    // The save's own name goes into the table file the checkpoint flushes, so that a restore
    // knows it got this save whole, not an older state (RocksDB reads a MANIFEST whose last
    // record is cut as if that record had never been written).
    rocksdb::WriteBatch meta;
    meta.Put(fullKey(static_cast<int>(kMetaPrefix), kPartitionsKey), std::to_string(partitions_));
    meta.Put(fullKey(static_cast<int>(kMetaPrefix), kSaveNameKey), name);
    writeBatch(meta);
    // After a failed flush the database's background work stays stopped until resumed.
    check(db_->Resume(), "recovering from a failed write to", path_.string());
    rocksdb::Checkpoint* raw = nullptr;
    check(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpointing", path_.string());
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    const std::string target = (fs::path(dir) / name).string();
    check(cp->CreateCheckpoint(target), "checkpointing into", target);
    return name;
  }

  void restore(const std::string& dir, const std::string& name) override {
    const fs::path from = fs::path(dir) / name;
    std::error_code ec;
    if (!fs::is_directory(from, ec)) {
      throw DamagedStateError(
          fmt::format("The RocksDB state '{}' the checkpoint refers to is missing", from.string()));
    }
    db_.reset();
    fs::remove_all(path_, ec);
    fs::create_directories(path_, ec);
    if (ec) {
      throw DamagedStateError(fmt::format("Cannot restore the RocksDB state '{}' into '{}': {}",
                                          from.string(), path_.string(), ec.message()));
    }
    // The immutable table files are shared by hard links; the others are copied, as RocksDB
    // may change them.
    for (const auto& entry : fs::directory_iterator(from, ec)) {
      const fs::path to = path_ / entry.path().filename();
      std::error_code err;
      if (entry.path().extension() == ".sst") {
        fs::create_hard_link(entry.path(), to, err);
        if (!err) continue;
      }
      fs::copy_file(entry.path(), to, err);
      if (err) {
        throw DamagedStateError(
            fmt::format("Cannot restore the RocksDB state '{}': {}", from.string(), err.message()));
      }
    }
    if (ec) {
      throw DamagedStateError(
          fmt::format("Cannot read the RocksDB state '{}': {}", from.string(), ec.message()));
    }
    rocksdb::Options options = options_;
    options.error_if_exists = false;
    options.paranoid_checks = true;
    rocksdb::DB* raw = nullptr;
    const auto status = rocksdb::DB::Open(options, path_.string(), &raw);
    if (!status.ok()) {
      throw DamagedStateError(
          fmt::format("Cannot open the RocksDB state '{}': {}", from.string(), status.ToString()));
    }
    db_.reset(raw);
    // Table blocks carry checksums that RocksDB checks only when it reads them: read them all
    // now, so that a damaged save is found at restore (and an older checkpoint used), not by
    // a batch long after.
    if (const auto verified = db_->VerifyChecksum(); !verified.ok()) {
      throw DamagedStateError(
          fmt::format("The RocksDB state '{}' is damaged: {}", from.string(), verified.ToString()));
    }
    if (get(static_cast<int>(kMetaPrefix), kSaveNameKey) != name) {
      throw DamagedStateError(
          fmt::format("The RocksDB state '{}' is damaged: it does not hold the state saved under "
                      "that name",
                      from.string()));
    }
    saved_partitions_ = -1;
    if (auto n = get(static_cast<int>(kMetaPrefix), kPartitionsKey)) {
      int parsed = -1;
      std::from_chars(n->data(), n->data() + n->size(), parsed);
      saved_partitions_ = parsed;
    }
  }

  int savedPartitions() const override { return saved_partitions_; }

  StateSize approximateSize() const override {
    auto property = [&](const char* name) {
      std::uint64_t value = 0;
      db_->GetIntProperty(name, &value);
      return static_cast<long long>(value);
    };
    return {property("rocksdb.estimate-num-keys"),
            property("rocksdb.total-sst-files-size") + property("rocksdb.cur-size-all-mem-tables")};
  }

  void repartition(int partitions,
                   const std::function<int(std::string_view)>& partition_of) override {
    const int old = saved_partitions_;
    if (old < 0) throw DamagedStateError("The RocksDB state does not name its partition count");
    std::vector<Write> writes;
    for (int p = 0; p < old; ++p) {
      scan(p, [&](std::string_view key, std::string_view value) {
        const int q = partition_of(key);
        if (q != p) {
          writes.push_back({p, std::string(key), std::nullopt});
          writes.push_back({q, std::string(key), std::string(value)});
        }
        return true;
      });
    }
    write(writes);
    partitions_ = partitions;
    saved_partitions_ = partitions;
  }

 private:
  static rocksdb::WriteOptions writeOptions() {
    rocksdb::WriteOptions options;
    options.disableWAL = true;
    return options;
  }

  // A failed flush (a full or failing disk) stops RocksDB's writes until it is resumed; the
  // unflushed memtable is kept. Resuming retries the flush, so a write after the disk recovered
  // goes through, and one while it still fails reports the disk's error.
  void writeBatch(rocksdb::WriteBatch& batch) {
    auto status = db_->Write(writeOptions(), &batch);
    if (!status.ok() && db_->Resume().ok()) status = db_->Write(writeOptions(), &batch);
    check(status, "writing", path_.string());
  }

  void open() {
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(options_, path_.string(), &raw), "opening", path_.string());
    db_.reset(raw);
  }

  fs::path path_;
  int partitions_;
  int saved_partitions_ = -1;
  std::unique_ptr<rocksdb::Env> env_;  // outlives db_
  rocksdb::Options options_;
  std::unique_ptr<rocksdb::DB> db_;
};

std::atomic<int> g_next_backend{0};

}  // namespace

std::shared_ptr<KeyValueBackend> openRocksDbBackend(const std::string& local_dir,
                                                    const std::string& name, int partitions,
                                                    std::shared_ptr<FileSystem> files) {
  const fs::path dir(local_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw Error(
        fmt::format("RocksDB state backend: cannot create '{}': {}", local_dir, ec.message()));
  }
  const std::string base = fileName(name);
  removeAbandoned(dir, base);
  const fs::path path = dir / fmt::format("{}-{}-{}", base, ::getpid(), g_next_backend++);
  return std::make_shared<RocksDbBackend>(path, partitions,
                                          files ? std::move(files) : FileSystem::local());
}

void removeSavedStatesBefore(const std::string& dir, Time oldest) {
  std::error_code ec;
  for (const auto& store : fs::directory_iterator(dir, ec)) {
    std::error_code inner;
    for (const auto& saved : fs::directory_iterator(store.path(), inner)) {
      const std::string name = saved.path().filename().string();
      const auto t = savedTime(name);
      if (!t || *t >= oldest.milliseconds()) continue;
      std::error_code removed;
      fs::remove_all(saved.path(), removed);
      if (removed) {
        log(LogLevel::kWarn, fmt::format("Cannot remove the old RocksDB state '{}': {}",
                                         saved.path().string(), removed.message()));
      }
    }
  }
}

std::string stateFileName(std::string_view identity) { return fileName(identity); }

}  // namespace sluice::detail
