// textFileStream: Spark's FileInputDStream selection rules. A file is taken by the batch at time
// T when its name does not start with '.' or '_', ignoreThreshold < modTime <= T, and it was not
// taken by a batch still remembered; ignoreThreshold = max(initial, T - rememberWindow), initial
// being the clock time at creation (new files only).
#include <fmt/format.h>
#include <glob.h>

#include <filesystem>
#include <map>
#include <set>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <sluice/serialization.hpp>
#include <sluice/streaming/streaming_context.hpp>

namespace sluice {
namespace detail {
namespace {

namespace fs = std::filesystem;

std::int64_t modTimeMs(const fs::directory_entry& entry, std::error_code& ec) {
  auto ft = entry.last_write_time(ec);
  auto sys = std::chrono::file_clock::to_sys(ft);
  return std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
}

std::vector<std::string> matchingDirectories(const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return {pattern};
  glob_t matches{};
  std::vector<std::string> dirs;
  if (::glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &matches) == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) dirs.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  return dirs;
}

class FileInputNode final : public DStreamNode<std::string>, public InputBase {
 public:
  FileInputNode(std::shared_ptr<StreamingCore> core, std::string directory)
      : DStreamNode<std::string>(core, core->batchDuration(), {}),
        directory_(std::move(directory)),
        initial_threshold_ms_(core->clock().nowMs()) {}
  int streamId() const override { return this->id(); }
  std::string inputName() const override { return "FileInputDStream(" + directory_ + ")"; }

  // The files of every remembered batch and the creation time: a restart regenerates a batch
  // with exactly the files it took (exactly-once input from a directory).
  std::string checkpointData(Time) override {
    std::lock_guard lock(mu_);
    return serialize(std::make_pair(initial_threshold_ms_, batch_files_));
  }
  void restoreCheckpointData(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    try {
      std::tie(initial_threshold_ms_, batch_files_) =
          deserialize<std::pair<std::int64_t, BatchFiles>>(bytes);
    } catch (const Error& e) {
      throw CheckpointError("Cannot restore the files of " + inputName() + ": " + e.what());
    }
    selected_.clear();
    for (const auto& [time, files] : batch_files_) {
      for (const auto& f : files) selected_.emplace(f, time);
    }
  }

  void clearMetadata(Time t) override {
    DStreamNode<std::string>::clearMetadata(t);
    std::lock_guard lock(mu_);
    // Kept as long as the selection rule and a restart's replay may need them.
    const std::int64_t keep = std::max(rememberWindow(), rememberDuration().count());
    batch_files_.erase(batch_files_.begin(), batch_files_.lower_bound(t.milliseconds() - keep));
  }

 protected:
  std::optional<RDD<std::string>> compute(Time t) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> files;
    if (auto it = batch_files_.find(t.milliseconds()); it != batch_files_.end()) {
      files = it->second;  // regenerated after a restart: the files it took before
    } else {
      files = select(t);
      batch_files_.emplace(t.milliseconds(), files);
    }
    std::vector<RDD<std::string>> rdds;
    for (const auto& f : files) rdds.push_back(core().context().textFile(f, 1));
    core().reportInputRecords(t, id(), 0);
    return unionAll<std::string>(core().context().runtime(), rdds);
  }

 private:
  using BatchFiles = std::map<std::int64_t, std::vector<std::string>>;

  std::int64_t rememberWindow() const {
    const std::int64_t batch = core().batchDuration().count();
    const std::int64_t min_remember = core().conf().file_min_remember.count();
    return batch * ((min_remember + batch - 1) / batch);
  }

  std::vector<std::string> select(Time t) {
    const std::int64_t remember_window = rememberWindow();
    const std::int64_t threshold =
        std::max(initial_threshold_ms_, t.milliseconds() - remember_window);
    // Forget selections older than the remember window: their files can no longer qualify.
    for (auto it = selected_.begin(); it != selected_.end();) {
      it = it->second < t.milliseconds() - remember_window ? selected_.erase(it) : std::next(it);
    }
    std::vector<std::string> files;
    for (const auto& dir : matchingDirectories(directory_)) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name[0] == '.' || name[0] == '_') continue;
        std::error_code file_ec;
        if (!entry.is_regular_file(file_ec)) continue;
        const std::int64_t mod = modTimeMs(entry, file_ec);
        if (file_ec || mod <= threshold || mod > t.milliseconds()) continue;
        const std::string path = entry.path().string();
        if (selected_.contains(path)) continue;
        selected_.emplace(path, t.milliseconds());
        files.push_back(path);
      }
      if (ec) log(LogLevel::kWarn, fmt::format("Cannot list {}: {}", dir, ec.message()));
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  std::mutex mu_;
  std::string directory_;
  std::int64_t initial_threshold_ms_;
  std::map<std::string, std::int64_t> selected_;  // path -> batch time that took it
  BatchFiles batch_files_;                        // batch time -> the files it took
};

}  // namespace
}  // namespace detail

DStream<std::string> StreamingContext::textFileStream(const std::string& directory) {
  core_->checkCanBuild();
  auto node = std::make_shared<detail::FileInputNode>(core_, directory);
  core_->registerInput(node, node);
  return DStream<std::string>(node);
}

}  // namespace sluice
