// The live web UI of a Context (Spark's SparkUI): an HTTP server, on threads of its own, serving
// the Streaming, batch, Jobs, Stages and Environment pages (static HTML and JavaScript from
// src/ui/assets/ that poll the REST API), the monitoring REST API under /api/v1 and Prometheus
// metrics at /metrics, all read from a StatusStore that the Context's listener bus feeds.
// Read-only, as Spark's: GET only, but for POST /api/v1/loglevel.
// Thread-safety: port(), url() and store() may be called from any thread; stop() too, and more
// than once; the server threads only read the store.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <sluice/conf.hpp>
#include <string>
#include <thread>

#include "core/listener_bus.hpp"
#include "ui/status_store.hpp"

namespace httplib {
class Server;
}

namespace sluice::detail::ui {

struct WebUiSettings {
  std::string bind_address = "127.0.0.1";  // spark.driver.bindAddress
  int port = 4040;                         // spark.ui.port; 0: an ephemeral port
  int max_retries = 16;                    // spark.port.maxRetries

  // The settings of `conf`, with the defaults above for the keys it does not set.
  static WebUiSettings fromConf(const Conf& conf);
};

class WebUi {
 public:
  // Binds the port (when it is taken, the next one, up to max_retries times, as Spark does),
  // starts serving and registers the store with `bus`. Throws IOError when no port could be
  // bound. `bus` must outlive this object.
  WebUi(ListenerBus& bus, AppInfo app, RetentionLimits limits, const WebUiSettings& settings);
  ~WebUi();
  WebUi(const WebUi&) = delete;
  WebUi& operator=(const WebUi&) = delete;

  int port() const noexcept { return port_; }
  // "http://<address>:<port>", Spark's uiWebUrl.
  const std::string& url() const noexcept { return url_; }
  const StatusStore& store() const noexcept { return *store_; }

  // Unregisters the store and stops the server, freeing the port; idempotent.
  void stop();

 private:
  class StreamingStartSeen;

  void addRoutes();
  int bind(const WebUiSettings& settings);

  ListenerBus& bus_;
  std::shared_ptr<StatusStore> store_;
  // Whether a StreamingContext ever started: "/" leads to the Streaming page, else to Jobs.
  std::shared_ptr<StreamingStartSeen> streaming_seen_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::string url_;
  std::thread thread_;  // runs the server's accept loop
  std::atomic<bool> listen_returned_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace sluice::detail::ui
