// What the REST endpoints share (rest_api.cpp, rest_streaming.cpp): Spark's date format, JSON
// responses and errors, path ids and the `status` filter. Internal to src/ui; pure functions.
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ui/rest_api.hpp"

namespace sluice::detail::ui {

// Ordered, so that fields appear in Spark's order.
using Json = nlohmann::ordered_json;

// A GET below /api/v1/applications/<app id>/: `rest` holds the path's segments after the app id.
struct Request {
  std::string path;  // the whole path, for messages
  std::vector<std::string> rest;
  const std::map<std::string, std::string>& query;
};

// Spark's JacksonMessageWriter date format, yyyy-MM-dd'T'HH:mm:ss.SSS'GMT'.
std::string sparkDate(std::int64_t ms);

Response jsonResponse(const Json& body);
// Spark's error statuses, with the message as {"message": ...}.
Response errorResponse(int status, const std::string& message);
inline Response notFound(const std::string& message) { return errorResponse(404, message); }
inline Response unknownPath(const Request& request) {
  return notFound("unknown path: " + request.path);
}

// A path segment that Spark's {id: \d+} accepts: decimal digits only.
template <class Int>
std::optional<Int> parseId(const std::string& s) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  Int value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// The `status` query parameter, matched case-insensitively against `names` (upper case) as
// Spark's enum parameters are: `value` is empty without one, `bad` holds the 400 for a value
// that is none of them.
struct StatusFilter {
  std::optional<std::string> value;  // upper case
  std::optional<Response> bad;

  bool accepts(const std::string& status) const { return !value || *value == status; }
};
StatusFilter statusFilter(const std::map<std::string, std::string>& query,
                          const std::vector<std::string>& names);

// The streaming endpoints (rest[0] == "streaming").
Response streamingGet(const StatusStore& store, const Request& request);

}  // namespace sluice::detail::ui
