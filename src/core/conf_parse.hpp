// The value parsers behind every configuration key (sluice::Conf, StreamingConf::set, the master
// URL of a Context). One set, so that a value means the same under every key and every key
// rejects the same mistakes: trailing garbage, overflow, non-finite numbers. Each throws
// InvalidArgumentError naming the key and the value. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <sluice/error.hpp>
#include <string>

namespace sluice::detail {

// A non-negative whole number with one of Spark's time suffixes: us, ms, s, m or min, h, d (no
// suffix: ms). Microseconds must come to whole milliseconds, the engine's resolution.
std::chrono::milliseconds parseDuration(const std::string& key, const std::string& value);

// Exactly "true" or "false".
bool parseBool(const std::string& key, const std::string& value);

// A decimal integer in [min, max], nothing after it.
std::int64_t parseInteger(const std::string& key, const std::string& value, std::int64_t min,
                          std::int64_t max);

// A finite decimal number (no nan, no inf, nothing after it).
double parseFiniteNumber(const std::string& key, const std::string& value);

// A host to bind a server to: an IPv4 or IPv6 address or a host name (letters, digits and
// "-._:"), not empty; resolved only when the server binds.
std::string parseBindAddress(const std::string& key, const std::string& value);

// The error for a key no setting has.
InvalidArgumentError unknownKeyError(const std::string& key, const std::string& value);

// The worker thread count of a master URL: local (1), local[N] or local[*] (all cores).
int parseMaster(const std::string& master);

}  // namespace sluice::detail
