#include <fmt/format.h>

#include <limits>
#include <sluice/context.hpp>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <utility>

#include "core/conf_parse.hpp"
#include "core/listener_bus.hpp"
#include "core/local_runtime.hpp"

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
              1, std::numeric_limits<int>::max())))) {}

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

void Context::stop() { static_cast<detail::LocalRuntime&>(*runtime_).stop(); }

bool Context::isStopped() const noexcept { return runtime_->isStopped(); }

}  // namespace sluice
