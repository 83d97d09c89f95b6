#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <string>

namespace sluice::detail {
namespace {

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stderr_color_mt("sluice");
    l->set_pattern("%C/%m/%d %H:%M:%S %^%L%$ %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return *instance;
}

spdlog::level::level_enum toSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kFatal:
      return spdlog::level::critical;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::warn;
}

}  // namespace

void log(LogLevel level, std::string_view message) { logger().log(toSpdlog(level), message); }

bool logEnabled(LogLevel level) { return logger().should_log(toSpdlog(level)); }

LogLevel parseLogLevel(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  static constexpr std::array<std::pair<std::string_view, LogLevel>, 8> kLevels{{
      {"ALL", LogLevel::kTrace},
      {"TRACE", LogLevel::kTrace},
      {"DEBUG", LogLevel::kDebug},
      {"INFO", LogLevel::kInfo},
      {"WARN", LogLevel::kWarn},
      {"ERROR", LogLevel::kError},
      {"FATAL", LogLevel::kFatal},
      {"OFF", LogLevel::kOff},
  }};
  for (const auto& [level_name, level] : kLevels) {
    if (upper == level_name) return level;
  }
  throw InvalidArgumentError("Supplied level " + std::string(name) +
                             " did not match one of: ALL,DEBUG,ERROR,FATAL,INFO,OFF,TRACE,WARN");
}

void setLogLevel(LogLevel level) { logger().set_level(toSpdlog(level)); }

}  // namespace sluice::detail
