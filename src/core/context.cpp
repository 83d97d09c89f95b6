#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <limits>
#include <sluice/context.hpp>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <utility>

#include "core/conf_parse.hpp"
#include "core/listener_bus.hpp"
#include "core/local_runtime.hpp"
#include "ui/status_store.hpp"
#include "ui/web_ui.hpp"

namespace sluice {
namespace {

constexpr const char* kQueueCapacityKey = "spark.scheduler.listenerbus.eventqueue.capacity";

std::string requireSetting(const Conf& conf, const std::string& key, const char* what) {
  auto value = conf.getOption(key);
  if (!value) {
    throw InvalidArgumentError(fmt::format("{} must be set in your configuration ({})", what, key));
  }
  return std::move(*value);
}

std::size_t retained(const Conf& conf, const char* key) {
  return static_cast<std::size_t>(
      detail::parseInteger(key, conf.get(key, "1000"), 1, std::numeric_limits<int>::max()));
}

}  // namespace

Context::Context(const std::string& master, const std::string& app_name)
    : Context(Conf().setMaster(master).setAppName(app_name)) {}

Context::Context(const Conf& conf)
    : conf_(conf),
      master_(requireSetting(conf_, "spark.master", "A master URL")),
      app_name_(requireSetting(conf_, "spark.app.name", "An application name")),
      parallelism_(detail::parseMaster(master_)),
      runtime_(std::make_shared<detail::LocalRuntime>(
          parallelism_,
          static_cast<std::size_t>(detail::parseInteger(
              kQueueCapacityKey,
              conf_.get(kQueueCapacityKey, std::to_string(detail::ListenerBus::kDefaultCapacity)),
              1, std::numeric_limits<int>::max())))) {
  if (!detail::parseBool("spark.ui.enabled", conf_.get("spark.ui.enabled", "true"))) return;
  namespace ui = detail::ui;
  const std::int64_t start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  ui::AppInfo app;
  app.id = fmt::format("local-{}", start_ms);
  app.name = app_name_;
  app.start_time_ms = start_ms;
  app.spark_properties = conf_.getAll();
  // Spark's sparkUser: the user the process runs as.
  if (const char* user = std::getenv("USER")) app.spark_user = user;
  app.version = SLUICE_VERSION;
  const ui::RetentionLimits limits{retained(conf_, "spark.ui.retainedBatches"),
                                   retained(conf_, "spark.ui.retainedJobs"),
                                   retained(conf_, "spark.ui.retainedStages")};
  web_ui_ = std::make_unique<ui::WebUi>(runtime_->listenerBus(), std::move(app), limits,
                                        ui::WebUiSettings::fromConf(conf_));
}

Context::~Context() {
  try {
    stop();
  } catch (const IllegalStateError& e) {
    detail::log(LogLevel::kError, fmt::format("Context destroyed badly: {}", e.what()));
  }
}

void Context::addSparkListener(std::shared_ptr<SparkListener> listener) {
  runtime_->listenerBus().addListener(std::move(listener));
}

void Context::removeSparkListener(const std::shared_ptr<SparkListener>& listener) {
  runtime_->listenerBus().removeListener(listener);
}

void Context::setLocalProperty(const std::string& key, const std::optional<std::string>& value) {
  runtime_->setLocalProperty(key, value);
}

std::optional<std::string> Context::getLocalProperty(const std::string& key) const {
  return runtime_->getLocalProperty(key);
}

void Context::setLogLevel(std::string_view level) {
  detail::setLogLevel(detail::parseLogLevel(level));
}

std::optional<std::string> Context::uiWebUrl() const {
  if (!web_ui_) return std::nullopt;
  return web_ui_->url();
}

void Context::stop() {
  if (web_ui_) web_ui_->stop();
  static_cast<detail::LocalRuntime&>(*runtime_).stop();
}

bool Context::isStopped() const noexcept { return runtime_->isStopped(); }

}  // namespace sluice
