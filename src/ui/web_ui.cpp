#include "ui/web_ui.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <sluice/error.hpp>
#include <sluice/log.hpp>
#include <string_view>
#include <utility>

#include "core/conf_parse.hpp"
#include "ui/assets.hpp"
#include "ui/rest_api.hpp"

namespace sluice::detail::ui {
namespace {

constexpr const char* kServiceName = "SparkUI";
// How long an idle keep-alive connection holds a server thread; also bounds how long stop()
// waits for a browser that keeps its connections open.
constexpr time_t kKeepAliveSeconds = 1;
constexpr std::size_t kServerThreads = 6;
constexpr const char* kPlainText = "text/plain; charset=utf-8";

// The pages: each path serves one static HTML file whose script fills it from the REST API.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kPages{{
    {"/streaming/", "streaming.html"},
    {"/streaming/batch/", "batch.html"},
    {"/jobs/", "jobs.html"},
    {"/jobs/job/", "job.html"},
    {"/stages/", "stages.html"},
    {"/environment/", "environment.html"},
}};

// "http://host:port", with an IPv6 address in brackets and a wildcard address replaced by the
// loopback one (a browser cannot open 0.0.0.0).
std::string urlFor(const std::string& address, int port) {
  std::string host = address;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("http://{}:{}", host, port);
}

void serveAsset(httplib::Response& res, std::string_view name) {
  const auto asset = findAsset(name);
  if (!asset) {
    res.status = 404;
    res.set_content(fmt::format("No such file: {}\n", name), kPlainText);
    return;
  }
  res.set_content(asset->bytes.data(), asset->bytes.size(), std::string(asset->content_type));
}

}  // namespace

// Tells whether a StreamingContext ever started in this Context.
// Thread-safety: onEvent on the bus thread, seen() from any thread.
class WebUi::StreamingStartSeen final : public EventObserver {
 public:
  void onEvent(const ListenerEvent& event) override {
    const auto* streaming = std::get_if<StreamingEvent>(&event);
    if (streaming != nullptr && streaming->kind == StreamingEvent::Kind::kStreamingStarted) {
      seen_.store(true);
    }
  }
  bool seen() const noexcept { return seen_.load(); }

 private:
  std::atomic<bool> seen_{false};
};

WebUiSettings WebUiSettings::fromConf(const Conf& conf) {
  WebUiSettings settings;
  if (auto address = conf.getOption("spark.driver.bindAddress")) {
    settings.bind_address = parseBindAddress("spark.driver.bindAddress", *address);
  }
  if (auto port = conf.getOption("spark.ui.port")) {
    settings.port = static_cast<int>(parseInteger("spark.ui.port", *port, 0, 65535));
  }
  if (auto retries = conf.getOption("spark.port.maxRetries")) {
    settings.max_retries =
        static_cast<int>(parseInteger("spark.port.maxRetries", *retries, 0, 65535));
  }
  return settings;
}

WebUi::WebUi(ListenerBus& bus, AppInfo app, RetentionLimits limits, const WebUiSettings& settings)
    : bus_(bus),
      store_(std::make_shared<StatusStore>(std::move(app), limits,
                                           [&bus] { return bus.droppedEvents(); })),
      streaming_seen_(std::make_shared<StreamingStartSeen>()),
      server_(std::make_unique<httplib::Server>()) {
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, with which a second UI in this
  // or another process would bind the same port instead of moving to the next one.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server_->set_keep_alive_timeout(kKeepAliveSeconds);
  addRoutes();
  port_ = bind(settings);
  url_ = urlFor(settings.bind_address, port_);

  bus_.addObserver(store_);
  bus_.addObserver(streaming_seen_);
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_.store(true);
  });
  // httplib's stop() only takes effect once the accept loop runs: wait for it, so that a stop()
  // right after construction cannot be missed.
  while (!server_->is_running() && !listen_returned_.load()) std::this_thread::yield();
  log(LogLevel::kInfo,
      fmt::format("Bound {} to {}, and started at {}", kServiceName, settings.bind_address, url_));
}

WebUi::~WebUi() { stop(); }

int WebUi::bind(const WebUiSettings& settings) {
  const std::string& address = settings.bind_address;
  if (settings.port == 0) {
    const int port = server_->bind_to_any_port(address);
    if (port > 0) return port;
    throw IOError(fmt::format(
        "Service '{}' could not bind an ephemeral port on {} (spark.driver.bindAddress)",
        kServiceName, address));
  }
  int port = settings.port;
  for (int attempt = 0;; ++attempt) {
    if (server_->bind_to_port(address, port)) return port;
    if (attempt == settings.max_retries || port == 65535) break;
    log(LogLevel::kWarn, fmt::format("Service '{}' could not bind on port {}. Attempting port {}.",
                                     kServiceName, port, port + 1));
    ++port;
  }
  throw IOError(fmt::format(
      "Service '{}' could not bind on {} at any port from {} to {}: set spark.ui.port to a free "
      "port (0 for any), raise spark.port.maxRetries, or set spark.ui.enabled=false",
      kServiceName, address, settings.port, port));
}

void WebUi::addRoutes() {
  httplib::Server& server = *server_;
  server.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(streaming_seen_->seen() ? "/streaming/" : "/jobs/");
  });
  for (const auto& [path, file] : kPages) {
    server.Get(std::string(path),
               [file](const httplib::Request&, httplib::Response& res) { serveAsset(res, file); });
    // Without the trailing slash: to the page, keeping the query.
    const std::string bare(path.substr(0, path.size() - 1));
    server.Get(bare, [path](const httplib::Request& req, httplib::Response& res) {
      const auto query = req.target.find('?');
      res.set_redirect(std::string(path) +
                       (query == std::string::npos ? "" : req.target.substr(query)));
    });
  }
  server.Get(R"(/static/([A-Za-z0-9._-]+))",
             [](const httplib::Request& req, httplib::Response& res) {
               serveAsset(res, req.matches[1].str());
               res.set_header("Cache-Control", "max-age=3600");
             });
  server.Get(R"(/api/v1(/.*)?)", [this](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> query;
    for (const auto& [key, value] : req.params) query.emplace(key, value);
    const std::string path = req.matches[1].matched ? req.matches[1].str() : "/";
    Response response = restGet(*store_, path, query);
    res.status = response.status;
    res.set_content(std::move(response.body), response.content_type);
  });
  server.Post("/api/v1/loglevel", [](const httplib::Request& req, httplib::Response& res) {
    std::string level = req.has_param("level") ? req.get_param_value("level") : req.body;
    while (!level.empty() && std::isspace(static_cast<unsigned char>(level.back()))) {
      level.pop_back();
    }
    try {
      const LogLevel parsed = parseLogLevel(level);
      // What Context::setLogLevel does.
      setLogLevel(parsed);
      res.set_content(fmt::format("Log level set to {}\n", level), kPlainText);
    } catch (const InvalidArgumentError& e) {
      res.status = 400;
      res.set_content(std::string(e.what()) + "\n", kPlainText);
    }
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheusText(*store_), "text/plain; version=0.0.4");
  });

  // Read-only: every other method is refused.
  const auto refuse = [](const httplib::Request& req, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", req.path == "/api/v1/loglevel" ? "POST" : "GET, HEAD");
    res.set_content(
        fmt::format("Method {} is not allowed on {}: the UI is read-only\n", req.method, req.path),
        kPlainText);
  };
  server.Post(".*", refuse);
  server.Put(".*", refuse);
  server.Patch(".*", refuse);
  server.Delete(".*", refuse);
  server.Options(".*", refuse);

  server.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(res.status == 404 ? fmt::format("Not found: {}\n", req.path)
                                          : fmt::format("Error {}: {}\n", res.status, req.path),
                        kPlainText);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                  std::exception_ptr error) {
    std::string message = "unknown error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    log(LogLevel::kError, fmt::format("Web UI: {} {} failed: {}", req.method, req.path, message));
    res.status = 500;
    res.set_content(fmt::format("Internal error: {}\n", message), kPlainText);
  });
}

void WebUi::stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  bus_.removeObserver(store_);
  bus_.removeObserver(streaming_seen_);
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::detail::ui
