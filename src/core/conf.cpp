#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <sluice/conf.hpp>
#include <sluice/error.hpp>
#include <sluice/streaming/conf.hpp>
#include <string_view>
#include <utility>

#include <unistd.h>  // environ

#include "core/conf_parse.hpp"

namespace sluice {
namespace {

using Check = void (*)(const std::string& key, const std::string& value);

void checkPort(const std::string& key, const std::string& value) {
  detail::parseInteger(key, value, 0, 65535);
}

void checkRetainedCount(const std::string& key, const std::string& value) {
  detail::parseInteger(key, value, 1, std::numeric_limits<int>::max());
}

// The keys of the application and of the web UI, each with the check of its value.
constexpr std::array<std::pair<std::string_view, Check>, 10> kChecks{{
    {"spark.master",
     [](const std::string&, const std::string& value) { detail::parseMaster(value); }},
    {"spark.app.name", [](const std::string&, const std::string&) {}},
    {"spark.ui.enabled",
     [](const std::string& key, const std::string& value) { detail::parseBool(key, value); }},
    {"spark.ui.port", checkPort},
    {"spark.driver.bindAddress",
     [](const std::string& key, const std::string& value) {
       detail::parseBindAddress(key, value);
     }},
    {"spark.port.maxRetries",
     [](const std::string& key, const std::string& value) {
       detail::parseInteger(key, value, 0, 65535);
     }},
    {"spark.scheduler.listenerbus.eventqueue.capacity", checkRetainedCount},
    {"spark.ui.retainedBatches", checkRetainedCount},
    {"spark.ui.retainedJobs", checkRetainedCount},
    {"spark.ui.retainedStages", checkRetainedCount},
}};

}  // namespace

Conf::Conf(bool load_defaults) {
  if (!load_defaults) return;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view var(*entry);
    if (!var.starts_with("spark.") && !var.starts_with("sluice.")) continue;
    const auto eq = var.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key(var.substr(0, eq));
    try {
      set(key, std::string(var.substr(eq + 1)));
    } catch (const InvalidArgumentError& e) {
      throw InvalidArgumentError(fmt::format("environment variable {}: {}", key, e.what()));
    }
  }
}

Conf& Conf::set(const std::string& key, const std::string& value) {
  const auto* check = std::find_if(kChecks.begin(), kChecks.end(),
                                   [&](const auto& entry) { return entry.first == key; });
  if (check != kChecks.end()) {
    check->second(key, value);
  } else if (StreamingConf::isStreamingKey(key)) {
    // Parsed into a scratch StreamingConf, so that a streaming key has one definition: the one
    // a StreamingContext applies.
    StreamingConf().set(key, value);
  } else {
    throw detail::unknownKeyError(key, value);
  }
  settings_[key] = value;
  return *this;
}

std::string Conf::get(const std::string& key) const {
  auto value = getOption(key);
  if (!value) throw NoSuchElementError(fmt::format("{} is not set", key));
  return std::move(*value);
}

std::string Conf::get(const std::string& key, const std::string& default_value) const {
  return getOption(key).value_or(default_value);
}

std::optional<std::string> Conf::getOption(const std::string& key) const {
  auto it = settings_.find(key);
  if (it == settings_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> Conf::getAll() const {
  return {settings_.begin(), settings_.end()};
}

}  // namespace sluice
