// Tests of sluice::Conf: set/get round trips, the strict value parsers behind every key, a
// Context made from a Conf, and the streaming settings a StreamingContext takes from it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Expects set(key, value) to throw InvalidArgumentError whose message names both.
template <class Target>
void expectRejected(Target& target, const std::string& key, const std::string& value) {
  try {
    target.set(key, value);
    ADD_FAILURE() << key << " accepted '" << value << "'";
  } catch (const sluice::InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(key), std::string::npos) << message;
    EXPECT_NE(message.find("'" + value + "'"), std::string::npos) << message;
  }
}

TEST(Conf, SetGetRoundTrip) {
  sluice::Conf conf(false);  // without the environment's defaults (ctest sets spark.ui.enabled)
  conf.setMaster("local[2]").setAppName("app").set("spark.ui.port", "4050");
  conf.set("spark.streaming.blockInterval", "150ms");
  EXPECT_EQ(conf.get("spark.master"), "local[2]");
  EXPECT_EQ(conf.get("spark.app.name"), "app");
  EXPECT_EQ(conf.get("spark.ui.port"), "4050");
  EXPECT_EQ(conf.get("spark.streaming.blockInterval"), "150ms");
  EXPECT_TRUE(conf.contains("spark.ui.port"));
  EXPECT_FALSE(conf.contains("spark.ui.enabled"));
  EXPECT_EQ(conf.get("spark.ui.enabled", "true"), "true");
  EXPECT_EQ(conf.get("spark.ui.port", "4040"), "4050");
  EXPECT_EQ(conf.getOption("spark.app.name"), std::optional<std::string>("app"));
  EXPECT_EQ(conf.getOption("spark.ui.enabled"), std::nullopt);
  conf.set("spark.ui.port", "4051");  // a later set replaces the value
  EXPECT_EQ(conf.getAll(), (KeyValues{{"spark.app.name", "app"},
                                      {"spark.master", "local[2]"},
                                      {"spark.streaming.blockInterval", "150ms"},
                                      {"spark.ui.port", "4051"}}));
  EXPECT_TRUE(sluice::Conf(false).getAll().empty());
}

TEST(Conf, GetOfAMissingKeyThrowsNoSuchElement) {
  sluice::Conf conf;
  conf.setMaster("local");
  try {
    conf.get("spark.app.name");
    FAIL() << "get of a missing key returned";
  } catch (const sluice::NoSuchElementError& e) {
    EXPECT_NE(std::string(e.what()).find("spark.app.name"), std::string::npos) << e.what();
  }
}

TEST(Conf, UnknownKeyIsRejectedAndLeavesTheConfUnchanged) {
  sluice::Conf conf(false);
  expectRejected(conf, "spark.ui.prot", "4050");
  expectRejected(conf, "spark.streaming.blockinterval", "100ms");  // keys are case-sensitive
  expectRejected(conf, "sluice.nothing", "1");
  EXPECT_TRUE(conf.getAll().empty());
}

TEST(Conf, RejectedValueKeepsThePreviousOne) {
  sluice::Conf conf;
  conf.set("spark.ui.port", "4050");
  expectRejected(conf, "spark.ui.port", "4050x");
  EXPECT_EQ(conf.get("spark.ui.port"), "4050");
}

TEST(Conf, DurationsTakeSparksSuffixes) {
  sluice::Context sc("local", "durations");
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  auto& conf = ssc.conf();
  const std::vector<std::pair<std::string, sluice::Duration>> cases = {
      {"250", 250ms},  {"250ms", 250ms},
      {"3000us", 3ms}, {"2s", 2s},
      {"2m", 2min},    {"2min", 2min},
      {"1h", 1h},      {"1d", 24h},
      {"0", 0ms},      {"9223372036854775ms", sluice::Duration(9223372036854775)}};
  for (const auto& [text, expected] : cases) {
    conf.set("spark.streaming.receiverRestartDelay", text);
    EXPECT_EQ(conf.receiver_restart_delay, expected) << text;
    EXPECT_NO_THROW(sluice::Conf().set("spark.streaming.receiverRestartDelay", text)) << text;
  }
}

// A duration that does not fit used to wrap around (307445734561826min was 8384 ms).
TEST(Conf, DurationsRejectOverflowAndGarbage) {
  sluice::Context sc("local", "durations");
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  for (const std::string bad :
       {"307445734561826min", "9223372036854775808", "99999999999999999999ms", "106751992d",
        "9223372036854776ms", "1500us", "-5ms", "10 ms", "10MS", "10sec", "ms", "", " 10",
        "1.5s"}) {
    sluice::Conf conf;
    expectRejected(conf, "spark.streaming.blockInterval", bad);
    expectRejected(ssc.conf(), "spark.streaming.blockInterval", bad);
  }
  EXPECT_EQ(ssc.conf().block_interval, 200ms);
}

// spark.streaming.receiver.maxRate used to take "10abc" as 10 and accept nan and inf.
TEST(Conf, NumbersRejectGarbageAndNonFiniteValues) {
  sluice::Context sc("local", "numbers");
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  for (const std::string bad :
       {"10abc", "nan", "NaN", "inf", "-inf", "infinity", "1e999", "", " 10", "10 ", "0x10"}) {
    sluice::Conf conf;
    expectRejected(conf, "spark.streaming.receiver.maxRate", bad);
    expectRejected(ssc.conf(), "spark.streaming.receiver.maxRate", bad);
  }
  EXPECT_EQ(ssc.conf().receiver_max_rate, 0.0);
  ssc.conf().set("spark.streaming.receiver.maxRate", "2.5e3");
  EXPECT_EQ(ssc.conf().receiver_max_rate, 2500.0);
}

TEST(Conf, BooleansAreExactlyTrueOrFalse) {
  sluice::Conf conf;
  for (const std::string bad : {"True", "FALSE", "1", "0", "yes", "", "true "}) {
    expectRejected(conf, "spark.ui.enabled", bad);
    expectRejected(conf, "spark.streaming.unpersist", bad);
  }
  conf.set("spark.ui.enabled", "false").set("spark.streaming.unpersist", "true");
  EXPECT_EQ(conf.get("spark.ui.enabled"), "false");
}

TEST(Conf, IntegersAreCheckedForRange) {
  sluice::Conf conf;
  for (const std::string bad : {"65536", "-1", "4050x", "40.5", "99999999999999999999"}) {
    expectRejected(conf, "spark.ui.port", bad);
  }
  for (const std::string key : {"spark.ui.retainedBatches", "spark.ui.retainedJobs",
                                "spark.ui.retainedStages", "sluice.checkpoint.retained"}) {
    expectRejected(conf, key, "0");
    expectRejected(conf, key, "2147483648");
    expectRejected(conf, key, "10k");
    conf.set(key, "1000");
  }
  conf.set("spark.ui.port", "0").set("spark.ui.port", "65535");
  expectRejected(conf, "spark.streaming.receiver.writeAheadLog.rollingIntervalSecs",
                 "1099511627777");
  expectRejected(conf, "spark.streaming.concurrentJobs", "2");
  expectRejected(conf, "sluice.streaming.stateBackend", "leveldb");
}

TEST(Conf, MasterIsCheckedWhenSet) {
  sluice::Conf conf;
  for (const std::string bad : {"yarn", "local[0]", "local[2", "local[x]", "local[2]x", ""}) {
    EXPECT_THROW(conf.setMaster(bad), sluice::InvalidArgumentError) << bad;
  }
  EXPECT_FALSE(conf.contains("spark.master"));
  conf.setMaster("local[*]");
}

TEST(Conf, ContextTakesMasterAndAppName) {
  sluice::Conf conf;
  conf.setMaster("local[3]").setAppName("fromConf").set("spark.ui.port", "4050");
  sluice::Context sc(conf);
  EXPECT_EQ(sc.master(), "local[3]");
  EXPECT_EQ(sc.appName(), "fromConf");
  EXPECT_EQ(sc.defaultParallelism(), 3);
  EXPECT_EQ(sc.getConf().get("spark.ui.port"), "4050");
  conf.set("spark.ui.port", "4060");  // the Context keeps its own copy
  EXPECT_EQ(sc.getConf().get("spark.ui.port"), "4050");

  // Those two over the environment's defaults (ctest sets spark.ui.enabled=false).
  sluice::Context plain("local[2]", "plain");
  EXPECT_EQ(plain.getConf().getAll(),
            sluice::Conf().setMaster("local[2]").setAppName("plain").getAll());
  EXPECT_EQ(sluice::Conf(false).setMaster("local[2]").setAppName("plain").getAll(),
            (KeyValues{{"spark.app.name", "plain"}, {"spark.master", "local[2]"}}));
}

TEST(Conf, ContextNeedsMasterAndAppName) {
  EXPECT_THROW(sluice::Context(sluice::Conf().setAppName("app")), sluice::InvalidArgumentError);
  EXPECT_THROW(sluice::Context(sluice::Conf().setMaster("local")), sluice::InvalidArgumentError);
}

TEST(Conf, StreamingSettingsReachTheStreamingContext) {
  sluice::Context sc(sluice::Conf()
                         .setMaster("local[2]")
                         .setAppName("streamingConf")
                         .set("spark.streaming.blockInterval", "150ms")
                         .set("spark.streaming.receiver.maxRate", "500")
                         .set("sluice.checkpoint.retained", "5"));
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  EXPECT_EQ(ssc.conf().block_interval, 150ms);
  EXPECT_EQ(ssc.conf().receiver_max_rate, 500.0);
  EXPECT_EQ(ssc.conf().checkpoints_retained, 5);
  ssc.conf().set("spark.streaming.blockInterval", "50ms");  // before start, still changeable
  EXPECT_EQ(ssc.conf().block_interval, 50ms);
}

TEST(Conf, StreamingSettingsAreRefusedAfterStart) {
  sluice::Context sc("local[2]", "setAfterStart");
  auto clock = std::make_shared<sluice::ManualClock>();
  sluice::StreamingContext ssc(sc, 1s, clock);
  ssc.queueStream(std::vector<std::vector<int>>{{1}}).foreachRDD([](const sluice::RDD<int>&) {});
  ssc.start();
  try {
    ssc.conf().set("spark.streaming.blockInterval", "100ms");
    ADD_FAILURE() << "a running context took a new setting";
  } catch (const sluice::IllegalStateError& e) {
    EXPECT_NE(std::string(e.what()).find("spark.streaming.blockInterval"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(ssc.conf().block_interval, 200ms);
  ssc.stop(false);
  EXPECT_THROW(ssc.conf().set("spark.streaming.unpersist", "false"), sluice::IllegalStateError);
}

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

TEST(Conf, DefaultsComeFromSparkEnvironmentVariables) {
  ScopedEnv port("spark.ui.port", "4050");
  ScopedEnv interval("spark.streaming.blockInterval", "150ms");
  ScopedEnv other("SPARK_UI_PORT", "1");  // not a key: ignored
  EXPECT_EQ(sluice::Conf().get("spark.ui.port"), "4050");
  EXPECT_FALSE(sluice::Conf(false).contains("spark.ui.port"));
  // Explicit settings win over the defaults.
  EXPECT_EQ(sluice::Conf().set("spark.ui.port", "4060").get("spark.ui.port"), "4060");
  sluice::Context sc("local[1]", "envDefaults");
  EXPECT_EQ(sc.getConf().get("spark.ui.port"), "4050");
  sluice::StreamingContext ssc(sc, 1s, std::make_shared<sluice::ManualClock>());
  EXPECT_EQ(ssc.conf().block_interval, 150ms);
}

TEST(Conf, ABadEnvironmentDefaultNamesTheVariable) {
  ScopedEnv port("spark.ui.port", "40x");
  try {
    sluice::Conf conf;
    ADD_FAILURE() << "took spark.ui.port=40x";
  } catch (const sluice::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("environment variable spark.ui.port"), std::string::npos)
        << e.what();
  }
}

}  // namespace
