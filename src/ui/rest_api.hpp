// Spark's monitoring REST API (/api/v1) and Prometheus metrics, rendered from a StatusStore.
// Pure functions of the store: the HTTP server (web_ui.cpp) only routes to them.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ui/status_store.hpp"

namespace sluice::detail::ui {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// GET of `path` below /api/v1 (e.g. "/applications", "/applications/<id>/streaming/batches"),
// with the request's query parameters. Unknown paths and ids give 404 with a JSON message.
Response restGet(const StatusStore& store, std::string_view path,
                 const std::map<std::string, std::string>& query);

// The /metrics page in Prometheus's text exposition format (version 0.0.4).
std::string prometheusText(const StatusStore& store);

}  // namespace sluice::detail::ui
