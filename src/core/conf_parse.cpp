#include "core/conf_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sluice/error.hpp>
#include <string_view>
#include <thread>
#include <utility>

namespace sluice::detail {
namespace {

// Microseconds per unit, so that "us" fits the same table as the others.
constexpr std::array<std::pair<std::string_view, std::int64_t>, 7> kTimeUnits{{
    {"us", 1},
    {"ms", 1000},
    {"s", 1000 * 1000},
    {"m", 60 * 1000 * 1000},
    {"min", 60 * 1000 * 1000},
    {"h", 60LL * 60 * 1000 * 1000},
    {"d", 24LL * 60 * 60 * 1000 * 1000},
}};

}  // namespace

std::chrono::milliseconds parseDuration(const std::string& key, const std::string& value) {
  const char* end = value.data() + value.size();
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), end, n);
  const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  const auto* found = std::find_if(kTimeUnits.begin(), kTimeUnits.end(),
                                   [&](const auto& u) { return u.first == unit; });
  if (ec == std::errc::result_out_of_range) {
    throw InvalidArgumentError(fmt::format("{}: '{}' is too long a duration", key, value));
  }
  if (ec != std::errc() || n < 0 || (!unit.empty() && found == kTimeUnits.end())) {
    throw InvalidArgumentError(fmt::format(
        "{}: '{}' is not a duration (a whole number with us, ms, s, m or min, h or d; no unit "
        "means ms)",
        key, value));
  }
  const std::int64_t us_per_unit = unit.empty() ? 1000 : found->second;
  std::int64_t us = 0;
  if (__builtin_mul_overflow(n, us_per_unit, &us)) {
    throw InvalidArgumentError(fmt::format("{}: '{}' is too long a duration", key, value));
  }
  if (us % 1000 != 0) {
    throw InvalidArgumentError(
        fmt::format("{}: '{}' is not a whole number of milliseconds", key, value));
  }
  return std::chrono::milliseconds(us / 1000);
}

bool parseBool(const std::string& key, const std::string& value) {
  if (value == "true") return true;
  if (value == "false") return false;
  throw InvalidArgumentError(fmt::format("{}: '{}' is not true or false", key, value));
}

std::int64_t parseInteger(const std::string& key, const std::string& value, std::int64_t min,
                          std::int64_t max) {
  const char* end = value.data() + value.size();
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (ec != std::errc() || ptr != end || n < min || n > max) {
    throw InvalidArgumentError(
        fmt::format("{}: '{}' is not an integer from {} to {}", key, value, min, max));
  }
  return n;
}

std::string parseBindAddress(const std::string& key, const std::string& value) {
  const bool valid = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' ||
           c == ':';
  });
  if (!valid) {
    throw InvalidArgumentError(fmt::format(
        "{}: '{}' is not an IP address or a host name (letters, digits, '-', '.', '_', ':')", key,
        value));
  }
  return value;
}

double parseFiniteNumber(const std::string& key, const std::string& value) {
  const char* end = value.data() + value.size();
  double x = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), end, x);
  // from_chars reads "nan" and "inf" as numbers; a rate or a fraction must be finite.
  if (ec != std::errc() || ptr != end || !std::isfinite(x)) {
    throw InvalidArgumentError(fmt::format("{}: '{}' is not a finite number", key, value));
  }
  return x;
}

InvalidArgumentError unknownKeyError(const std::string& key, const std::string& value) {
  return InvalidArgumentError(fmt::format(
      "Unknown configuration key '{}' (value '{}'); docs/configuration.md lists the keys", key,
      value));
}

int parseMaster(const std::string& master) {
  auto invalid = [&] {
    return InvalidArgumentError("Could not parse Master URL: '" + master +
                                "' (spark.master is local, local[N] or local[*])");
  };
  if (master == "local") return 1;
  constexpr std::string_view kPrefix = "local[";
  if (!master.starts_with(kPrefix) || !master.ends_with(']')) throw invalid();
  const std::string_view inner(master.data() + kPrefix.size(), master.size() - kPrefix.size() - 1);
  if (inner == "*") return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  int n = 0;
  const auto [ptr, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
  if (ec != std::errc() || ptr != inner.data() + inner.size()) throw invalid();
  if (n <= 0) {
    throw InvalidArgumentError("Asked to run locally with " + std::to_string(n) +
                               " threads; the thread count must be positive");
  }
  return n;
}

}  // namespace sluice::detail
