// The web UI's HTTP server, through real sockets on 127.0.0.1: the pages, the REST API and the
// metrics of a Context (and of a StreamingContext driven by a ManualClock), the read-only
// methods, POST /api/v1/loglevel, ports (ephemeral, taken, freed by stop) and
// spark.ui.enabled=false. Each test enables the UI itself: ctest runs every test with
// spark.ui.enabled=false in the environment.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <sluice/log.hpp>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/listener_bus.hpp"

namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr std::chrono::seconds kDeadline{30};  // real-time bound on any single wait

sluice::Conf uiConf(int port = 0) {
  return sluice::Conf()
      .setMaster("local[2]")
      .setAppName("WebUiTest")
      .set("spark.ui.enabled", "true")
      .set("spark.ui.port", std::to_string(port));
}

int portOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

httplib::Client clientFor(const sluice::Context& sc) {
  httplib::Client client(sc.uiWebUrl().value());
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  return client;
}

// Blocks until every event posted so far reached the UI's status store.
void drainEvents(const sluice::Context& sc) {
  ASSERT_TRUE(sc.runtime()->listenerBus().waitUntilEmpty(kDeadline));
}

// The application's REST path prefix, /api/v1/applications/<id>.
std::string appPath(httplib::Client& client) {
  auto res = client.Get("/api/v1/applications");
  if (!res || res->status != 200) throw std::runtime_error("GET /api/v1/applications failed");
  return "/api/v1/applications/" + Json::parse(res->body).at(0).at("id").get<std::string>();
}

// A TCP socket of ours listening on 127.0.0.1:`port` (0: an ephemeral one), closed on
// destruction.
class ListeningSocket {
 public:
  explicit ListeningSocket(int port = 0) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    int yes = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
             ::listen(fd_, 4) == 0;
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~ListeningSocket() { ::close(fd_); }
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;
  bool bound() const { return bound_; }
  int port() const { return port_; }

 private:
  int fd_;
  bool bound_ = false;
  int port_ = 0;
};

TEST(WebUi, ServesTheStreamingPageRestApiAndMetrics) {
  sluice::Context sc(uiConf());
  const auto url = sc.uiWebUrl();
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->rfind("http://127.0.0.1:", 0), 0u) << *url;
  EXPECT_GT(portOf(*url), 0);

  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.queueStream(std::vector<std::vector<int>>{{1, 2, 3}, {4, 5}, {6}})
      .foreachRDD([](const sluice::RDD<int>& rdd) { rdd.count(); });
  ssc.start();
  std::vector<std::int64_t> batch_times;
  for (int i = 0; i < 3; ++i) {
    clock->advance(1000);
    const sluice::Time t(clock->nowMs());
    ASSERT_TRUE(ssc.core()->waitForBatch(t, kDeadline));
    batch_times.push_back(t.milliseconds());
  }
  drainEvents(sc);

  httplib::Client client = clientFor(sc);
  auto root = client.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/streaming/");

  auto page = client.Get("/streaming/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* part : {"Streaming Statistics", "completed-batches", "active-batches",
                           "/static/chart.umd.js", "/static/streaming.js"}) {
    EXPECT_NE(page->body.find(part), std::string::npos) << part;
  }
  auto bare = client.Get("/streaming/batch?id=1000");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 302);
  EXPECT_EQ(bare->get_header_value("Location"), "/streaming/batch/?id=1000");

  auto apps = client.Get("/api/v1/applications");
  ASSERT_TRUE(apps);
  EXPECT_EQ(apps->status, 200);
  const Json app = Json::parse(apps->body).at(0);
  EXPECT_EQ(app.at("name"), "WebUiTest");
  EXPECT_EQ(app.at("id").get<std::string>().rfind("local-", 0), 0u) << app.dump();
  const std::string prefix = appPath(client);

  auto statistics = client.Get(prefix + "/streaming/statistics");
  ASSERT_TRUE(statistics);
  ASSERT_EQ(statistics->status, 200) << statistics->body;
  EXPECT_EQ(Json::parse(statistics->body).at("numTotalCompletedBatches"), 3);
  EXPECT_EQ(Json::parse(statistics->body).at("batchDuration"), 1000);

  const std::string batch_path =
      prefix + "/streaming/batches/" + std::to_string(batch_times.front());
  auto batch = client.Get(batch_path);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->status, 200) << batch->body;
  const Json batch_json = Json::parse(batch->body);
  EXPECT_EQ(batch_json.at("batchId"), batch_times.front());
  EXPECT_EQ(batch_json.at("status"), "COMPLETED");
  EXPECT_EQ(batch_json.at("numTotalOutputOps"), 1);
  auto operations = client.Get(batch_path + "/operations");
  ASSERT_TRUE(operations);
  ASSERT_EQ(operations->status, 200) << operations->body;
  const Json ops = Json::parse(operations->body);
  ASSERT_EQ(ops.size(), 1u) << ops.dump();
  EXPECT_FALSE(ops.at(0).at("jobIds").empty()) << ops.dump();

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(metrics->body.find("# TYPE"), std::string::npos) << metrics->body;

  auto chart = client.Get("/static/chart.umd.js");
  ASSERT_TRUE(chart);
  EXPECT_EQ(chart->status, 200);
  EXPECT_EQ(chart->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(chart->body.find("Chart.js v3"), std::string::npos);
  EXPECT_NE(chart->body.find(".Chart="), std::string::npos);  // the UMD build's global
  for (const char* asset :
       {"/static/common.js", "/static/streaming.js", "/static/batch.js", "/static/sluice.css"}) {
    auto res = client.Get(asset);
    ASSERT_TRUE(res) << asset;
    EXPECT_EQ(res->status, 200) << asset;
    EXPECT_FALSE(res->body.empty()) << asset;
  }
  ssc.stop(false);
}

TEST(WebUi, BatchProgramsHaveJobsStagesAndEnvironment) {
  sluice::Context sc(uiConf());
  EXPECT_EQ(sc.parallelize(std::vector<int>{1, 2, 3, 4}, 2).count(), 4);
  drainEvents(sc);
  httplib::Client client = clientFor(sc);

  auto root = client.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/jobs/");
  for (const char* page : {"/jobs/", "/jobs/job/?id=0", "/stages/", "/environment/"}) {
    auto res = client.Get(page);
    ASSERT_TRUE(res) << page;
    EXPECT_EQ(res->status, 200) << page;
    EXPECT_NE(res->body.find("/static/common.js"), std::string::npos) << page;
  }

  const std::string prefix = appPath(client);
  auto jobs = client.Get(prefix + "/jobs");
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->status, 200) << jobs->body;
  const Json jobs_json = Json::parse(jobs->body);
  ASSERT_EQ(jobs_json.size(), 1u) << jobs_json.dump();
  EXPECT_EQ(jobs_json.at(0).at("status"), "SUCCEEDED");
  EXPECT_EQ(jobs_json.at(0).at("numTasks"), 2);
  auto stages = client.Get(prefix + "/stages");
  ASSERT_TRUE(stages);
  ASSERT_EQ(stages->status, 200) << stages->body;
  EXPECT_FALSE(Json::parse(stages->body).empty());
  auto environment = client.Get(prefix + "/environment");
  ASSERT_TRUE(environment);
  ASSERT_EQ(environment->status, 200);
  EXPECT_NE(environment->body.find("spark.app.name"), std::string::npos) << environment->body;
  // No StreamingContext: the streaming endpoints do not exist.
  auto statistics = client.Get(prefix + "/streaming/statistics");
  ASSERT_TRUE(statistics);
  EXPECT_EQ(statistics->status, 404);
}

TEST(WebUi, UnknownPathsAre404AndOtherMethods405) {
  sluice::Context sc(uiConf());
  httplib::Client client = clientFor(sc);
  for (const char* path : {"/nope", "/static/nope.js", "/static/../CMakeLists.txt"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_FALSE(res->body.empty()) << path;
  }
  auto unknown_api = client.Get("/api/v1/nope");
  ASSERT_TRUE(unknown_api);
  EXPECT_EQ(unknown_api->status, 404);

  auto post = client.Post("/streaming/", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  auto put = client.Put("/api/v1/applications", "{}", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  auto del = client.Delete("/jobs/");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  auto patch = client.Patch("/metrics", "x", "text/plain");
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->status, 405);
  auto head = client.Head("/streaming/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

// Restores the log level the tests run with (WARN) at the end of a test.
class WebUiLogLevel : public ::testing::Test {
 protected:
  void TearDown() override { sluice::detail::setLogLevel(sluice::LogLevel::kWarn); }
};

TEST_F(WebUiLogLevel, PostLogLevelSetsTheLevelLikeSetLogLevel) {
  sluice::Context sc(uiConf());
  httplib::Client client = clientFor(sc);
  using sluice::LogLevel;
  using sluice::detail::logEnabled;

  auto debug = client.Post("/api/v1/loglevel", "DEBUG", "text/plain");
  ASSERT_TRUE(debug);
  EXPECT_EQ(debug->status, 200) << debug->body;
  EXPECT_TRUE(logEnabled(LogLevel::kDebug));
  EXPECT_FALSE(logEnabled(LogLevel::kTrace));

  auto error = client.Post("/api/v1/loglevel?level=error", "", "text/plain");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 200) << error->body;
  EXPECT_FALSE(logEnabled(LogLevel::kWarn));
  EXPECT_TRUE(logEnabled(LogLevel::kError));

  auto bad = client.Post("/api/v1/loglevel", "LOUD", "text/plain");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("LOUD"), std::string::npos) << bad->body;
  EXPECT_NE(bad->body.find("WARN"), std::string::npos) << bad->body;
  EXPECT_TRUE(logEnabled(LogLevel::kError));  // unchanged
  EXPECT_FALSE(logEnabled(LogLevel::kWarn));

  sc.setLogLevel("warn");
  EXPECT_TRUE(logEnabled(LogLevel::kWarn));
  auto get = client.Get("/api/v1/loglevel");  // not an endpoint for GET
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 404);
}

// The level changes (from the UI's server threads) while jobs run and engine threads log: the
// level is an atomic of the one logger, so this is race-free (the tsan preset checks it).
TEST_F(WebUiLogLevel, LevelChangesWhileJobsRunAndThreadsLog) {
  sluice::Context sc(uiConf());
  std::atomic<bool> done{false};
  std::vector<std::thread> loggers;
  for (int i = 0; i < 2; ++i) {
    loggers.emplace_back([&] {
      while (!done.load()) {
        sluice::detail::log(sluice::LogLevel::kTrace, "not shown: TRACE is never enabled here");
        sluice::detail::logEnabled(sluice::LogLevel::kInfo);
      }
    });
  }
  std::thread jobs([&] {
    for (int i = 0; i < 20; ++i) sc.range(0, 1000, 1, 4).count();
  });
  httplib::Client client = clientFor(sc);
  for (int i = 0; i < 40; ++i) {
    auto res = client.Post("/api/v1/loglevel", i % 2 == 0 ? "ERROR" : "WARN", "text/plain");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  jobs.join();
  done.store(true);
  for (auto& t : loggers) t.join();
  EXPECT_TRUE(sluice::detail::logEnabled(sluice::LogLevel::kWarn));  // the last POST: WARN
}

TEST(WebUi, ATakenPortMovesTheUiToALaterPort) {
  ListeningSocket taken;
  ASSERT_TRUE(taken.bound());
  sluice::Context sc(uiConf(taken.port()));
  const int port = portOf(sc.uiWebUrl().value());
  EXPECT_GT(port, taken.port());
  EXPECT_LE(port, taken.port() + 16);
  httplib::Client client = clientFor(sc);
  auto res = client.Get("/api/v1/applications");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(WebUi, NoFreePortWithinTheRetriesFailsTheContext) {
  ListeningSocket taken;
  ASSERT_TRUE(taken.bound());
  try {
    sluice::Context sc(uiConf(taken.port()).set("spark.port.maxRetries", "0"));
    ADD_FAILURE() << "the UI bound a taken port";
  } catch (const sluice::IOError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("SparkUI"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(taken.port())), std::string::npos) << message;
    EXPECT_NE(message.find("spark.port.maxRetries"), std::string::npos) << message;
  }
}

TEST(WebUi, DisabledUiHasNoUrlAndListensNowhere) {
  int free_port = 0;
  {
    ListeningSocket probe;
    ASSERT_TRUE(probe.bound());
    free_port = probe.port();
  }
  sluice::Context sc(uiConf(free_port).set("spark.ui.enabled", "false"));
  EXPECT_EQ(sc.uiWebUrl(), std::nullopt);
  httplib::Client client("127.0.0.1", free_port);
  client.set_connection_timeout(2);
  EXPECT_FALSE(client.Get("/"));
  // Nothing holds the port: it can be bound.
  ListeningSocket again(free_port);
  EXPECT_TRUE(again.bound());
}

TEST(WebUi, StopFreesThePort) {
  int port = 0;
  {
    sluice::Context sc(uiConf());
    port = portOf(sc.uiWebUrl().value());
    httplib::Client client = clientFor(sc);
    ASSERT_TRUE(client.Get("/streaming/"));
    sc.stop();
    EXPECT_EQ(sc.uiWebUrl(), "http://127.0.0.1:" + std::to_string(port));  // as Spark's
    EXPECT_FALSE(client.Get("/streaming/"));
    sc.stop();  // idempotent
  }
  // A new UI binds exactly the freed port.
  sluice::Context next(uiConf(port));
  EXPECT_EQ(next.uiWebUrl(), "http://127.0.0.1:" + std::to_string(port));
}

TEST(WebUi, SettingsAreChecked) {
  sluice::Conf conf(false);
  EXPECT_THROW(conf.set("spark.driver.bindAddress", ""), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.driver.bindAddress", "local host"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.port.maxRetries", "-1"), sluice::InvalidArgumentError);
  EXPECT_THROW(conf.set("spark.port.maxRetries", "many"), sluice::InvalidArgumentError);
  conf.set("spark.driver.bindAddress", "::1").set("spark.port.maxRetries", "3");
  conf.set("spark.driver.bindAddress", "localhost");
  EXPECT_EQ(conf.get("spark.driver.bindAddress"), "localhost");
}

}  // namespace
