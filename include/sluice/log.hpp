// Sluice's logging, shared by the engine and its templates. Messages go to stderr through spdlog
// at or above the level set by Context::setLogLevel (default WARN). Safe from any thread.
#pragma once

#include <string_view>

namespace sluice {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kFatal, kOff };

namespace detail {
void log(LogLevel level, std::string_view message);
bool logEnabled(LogLevel level);
// Parses Spark's level names; throws InvalidArgumentError for anything else.
LogLevel parseLogLevel(std::string_view name);
void setLogLevel(LogLevel level);
}  // namespace detail

}  // namespace sluice
