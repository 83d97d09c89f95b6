// sluice::Conf plays SparkConf's role: the settings of an application as key/value strings by
// Spark's key names, e.g.
//   sluice::Context sc(sluice::Conf().setMaster("local[2]").setAppName("app")
//                          .set("spark.streaming.blockInterval", "100ms"));
// Every key is checked when it is set: an unknown key or a value of the wrong type or range throws
// InvalidArgumentError naming both. The keys are spark.master, spark.app.name, the web UI's
// spark.ui.* and the streaming settings (spark.streaming.*, sluice.streaming.*,
// sluice.checkpoint.*); docs/configuration.md lists them. A Context keeps a copy of the Conf it
// was made from, and its StreamingContexts start from that copy's streaming settings.
// Defaults come from the environment, as SparkConf's come from the JVM's spark.* system
// properties: every environment variable whose name starts with "spark." or "sluice." is set
// first, e.g. `env spark.ui.port=4050 ./app` (Conf(false) skips them).
// Thread-safety: a value type, like std::map: concurrent reads are safe, a write needs exclusive
// access.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

class Conf {
 public:
  // With `load_defaults`, sets the spark.* and sluice.* environment variables (see above);
  // throws InvalidArgumentError naming the variable when one is unknown or has a bad value.
  explicit Conf(bool load_defaults = true);

  // Throws InvalidArgumentError for an unknown key or a bad value; the Conf is then unchanged.
  Conf& set(const std::string& key, const std::string& value);
  Conf& setMaster(const std::string& master) { return set("spark.master", master); }
  Conf& setAppName(const std::string& name) { return set("spark.app.name", name); }

  // The value set for `key`; throws NoSuchElementError when it is not set.
  std::string get(const std::string& key) const;
  // The value set for `key`, else `default_value`.
  std::string get(const std::string& key, const std::string& default_value) const;
  std::optional<std::string> getOption(const std::string& key) const;
  // Every key that is set with its value, sorted by key.
  std::vector<std::pair<std::string, std::string>> getAll() const;
  bool contains(const std::string& key) const { return settings_.contains(key); }

 private:
  std::map<std::string, std::string> settings_;
};

}  // namespace sluice
