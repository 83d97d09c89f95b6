// sluice::Context plays SparkContext's role: it owns the worker threads, the cache and the shuffle
// service, and creates RDDs. Create one per process, e.g. `sluice::Context sc("local[4]", "app")`
// or from a Conf; masters are "local" (1 thread), "local[N]" and "local[*]" (all cores).
// Thread-safety: every method may be called from any thread. RDDs keep the engine state alive, but
// after stop() every action on them throws IllegalStateError.
#pragma once

#include <memory>
#include <optional>
#include <sluice/conf.hpp>
#include <sluice/listener.hpp>
#include <sluice/rdd/runtime.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

template <class T>
class RDD;

namespace detail::ui {
class WebUi;
}

class Context {
 public:
  explicit Context(const std::string& master = "local[*]", const std::string& app_name = "sluice");
  // Takes spark.master and spark.app.name from `conf`, which must set both (as Spark requires),
  // and keeps a copy of it: later changes to `conf` do not reach this Context.
  explicit Context(const Conf& conf);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Number of worker threads; the default partition count of parallelize and of shuffles.
  int defaultParallelism() const noexcept { return parallelism_; }
  const std::string& master() const noexcept { return master_; }
  const std::string& appName() const noexcept { return app_name_; }
  // The settings this Context was made with (a Context(master, appName) has those two, over the
  // defaults Conf() takes from the environment).
  const Conf& getConf() const noexcept { return conf_; }

  // Spark's level names: ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF (case-insensitive).
  void setLogLevel(std::string_view level);

  // Job, stage and task events (see <sluice/listener.hpp>).
  void addSparkListener(std::shared_ptr<SparkListener> listener);
  void removeSparkListener(const std::shared_ptr<SparkListener>& listener);
  // Spark's local properties: set on the calling thread, copied into every job it submits
  // (JobInfo::properties); std::nullopt removes the key.
  void setLocalProperty(const std::string& key, const std::optional<std::string>& value);
  std::optional<std::string> getLocalProperty(const std::string& key) const;

  // The address of this Context's web UI, e.g. "http://127.0.0.1:4040" (Spark's uiWebUrl);
  // std::nullopt when spark.ui.enabled is false. The UI serves from construction until stop().
  std::optional<std::string> uiWebUrl() const;

  // Stops the web UI and the workers; idempotent. Later actions throw IllegalStateError.
  void stop();
  bool isStopped() const noexcept;

  // Splits `data` into `num_slices` contiguous slices in order (default: defaultParallelism()).
  template <class T>
  RDD<T> parallelize(std::vector<T> data, int num_slices = -1) const;

  // An RDD whose partitions are exactly `partitions`, in order; cheap (no copy of the data).
  template <class T>
  RDD<T> fromPartitions(std::vector<std::vector<T>> partitions) const;

  template <class T>
  RDD<T> emptyRDD() const;

  // start, start + step, ... below `end` (above it for a negative step).
  RDD<long long> range(long long start, long long end, long long step = 1,
                       int num_slices = -1) const;

  // Lines of a file, of every visible file in a directory, or of the files matching a glob;
  // split by byte ranges at line boundaries into at least `min_partitions` partitions
  // (default min(defaultParallelism(), 2)). Line terminators ("\n", "\r\n") are removed.
  RDD<std::string> textFile(const std::string& path, int min_partitions = -1) const;

  const std::shared_ptr<detail::Runtime>& runtime() const noexcept { return runtime_; }

 private:
  Conf conf_;
  std::string master_;
  std::string app_name_;
  int parallelism_;
  std::shared_ptr<detail::Runtime> runtime_;
  std::unique_ptr<detail::ui::WebUi> web_ui_;  // null when spark.ui.enabled is false
};

}  // namespace sluice
