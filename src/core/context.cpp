#include <fmt/format.h>

#include <sluice/context.hpp>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <utility>

#include "core/conf_parse.hpp"
#include "core/local_runtime.hpp"

namespace sluice {
namespace {

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
      runtime_(std::make_shared<detail::LocalRuntime>(parallelism_)) {}

Context::~Context() { stop(); }

void Context::setLogLevel(std::string_view level) {
  detail::setLogLevel(detail::parseLogLevel(level));
}

void Context::stop() { static_cast<detail::LocalRuntime&>(*runtime_).stop(); }

bool Context::isStopped() const noexcept { return runtime_->isStopped(); }

}  // namespace sluice
