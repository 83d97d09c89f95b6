// Tests of sluice::Context: log levels, parallelism, names, and stop().
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <functional>
#include <sluice/log.hpp>
#include <sluice/sluice.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/test_util.hpp"

namespace {

namespace fs = std::filesystem;

// Restores the default log level (WARN) when a test that changes it ends.
class LogLevelTest : public ::testing::Test {
 protected:
  void TearDown() override { sc.setLogLevel("WARN"); }
  sluice::Context sc{"local[2]", "logLevels"};
};

TEST_F(LogLevelTest, AcceptsEverySparkLevelInAnyCase) {
  for (std::string level : {"ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"}) {
    EXPECT_NO_THROW(sc.setLogLevel(level)) << level;
    std::string lower;
    for (char c : level) lower.push_back(static_cast<char>(std::tolower(c)));
    EXPECT_NO_THROW(sc.setLogLevel(lower)) << lower;
    std::string mixed = lower;
    mixed[0] = static_cast<char>(std::toupper(mixed[0]));
    EXPECT_NO_THROW(sc.setLogLevel(mixed)) << mixed;
  }
}

TEST_F(LogLevelTest, RejectsUnknownLevelListingTheValidNames) {
  for (std::string bad : {"LOUD", "", "WARNING", " WARN", "INF"}) {
    try {
      sc.setLogLevel(bad);
      ADD_FAILURE() << "setLogLevel(\"" << bad << "\") should have thrown";
    } catch (const sluice::InvalidArgumentError& e) {
      std::string message = e.what();
      if (!bad.empty()) EXPECT_NE(message.find(bad), std::string::npos) << message;
      for (const char* name : {"ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"}) {
        EXPECT_NE(message.find(name), std::string::npos) << name << " missing from: " << message;
      }
    }
  }
  EXPECT_THROW(sc.setLogLevel("LOUD"), sluice::Error);  // InvalidArgumentError is a sluice::Error
}

TEST_F(LogLevelTest, LevelControlsWhatIsLogged) {
  sc.setLogLevel("ERROR");
  EXPECT_FALSE(sluice::detail::logEnabled(sluice::LogLevel::kWarn));
  EXPECT_TRUE(sluice::detail::logEnabled(sluice::LogLevel::kError));
  sc.setLogLevel("all");
  EXPECT_TRUE(sluice::detail::logEnabled(sluice::LogLevel::kTrace));
  sc.setLogLevel("Off");
  EXPECT_FALSE(sluice::detail::logEnabled(sluice::LogLevel::kFatal));
  sc.setLogLevel("FATAL");
  EXPECT_TRUE(sluice::detail::logEnabled(sluice::LogLevel::kFatal));
  EXPECT_FALSE(sluice::detail::logEnabled(sluice::LogLevel::kError));
  // A rejected level leaves the current one in place.
  EXPECT_THROW(sc.setLogLevel("LOUD"), sluice::InvalidArgumentError);
  EXPECT_TRUE(sluice::detail::logEnabled(sluice::LogLevel::kFatal));
  EXPECT_FALSE(sluice::detail::logEnabled(sluice::LogLevel::kError));
}

TEST(ContextBasics, DefaultParallelism) {
  EXPECT_EQ(sluice::Context("local", "a").defaultParallelism(), 1);
  EXPECT_EQ(sluice::Context("local[1]", "a").defaultParallelism(), 1);
  EXPECT_EQ(sluice::Context("local[3]", "a").defaultParallelism(), 3);
  sluice::Context sc("local[3]", "a");
  EXPECT_EQ(sc.parallelize(std::vector<int>{1, 2, 3, 4, 5, 6, 7}).getNumPartitions(), 3);
}

TEST(ContextBasics, MasterAndAppName) {
  sluice::Context sc("local[3]", "my app");
  EXPECT_EQ(sc.master(), "local[3]");
  EXPECT_EQ(sc.appName(), "my app");
  sluice::Context plain("local", "other");
  EXPECT_EQ(plain.master(), "local");
  EXPECT_EQ(plain.appName(), "other");
}

class ContextStopTest : public sluice::testing_util::MasterTest {};

TEST_P(ContextStopTest, StopIsIdempotent) {
  EXPECT_FALSE(sc.isStopped());
  EXPECT_EQ(sc.parallelize(std::vector<int>{1, 2, 3}).count(), 3);
  sc.stop();
  EXPECT_TRUE(sc.isStopped());
  EXPECT_NO_THROW(sc.stop());
  EXPECT_TRUE(sc.isStopped());
}

TEST_P(ContextStopTest, CreatingAnRddAfterStopThrows) {
  sc.stop();
  EXPECT_THROW(sc.parallelize(std::vector<int>{1, 2, 3}), sluice::IllegalStateError);
  EXPECT_THROW(sc.range(0, 10), sluice::IllegalStateError);
  EXPECT_THROW((sc.fromPartitions<int>({{1}, {2}})), sluice::IllegalStateError);
  EXPECT_THROW(sc.textFile("/definitely/not/a/path"), sluice::IllegalStateError);
}

TEST_P(ContextStopTest, ActionsAfterStopThrow) {
  auto rdd = sc.parallelize(std::vector<int>{3, 1, 2}, 2);
  auto pairs = rdd.map([](int x) { return std::make_pair(x % 2, x); });
  auto reduced = pairs.reduceByKey(std::plus<>());
  sc.stop();
  EXPECT_THROW(rdd.count(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.collect(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.first(), sluice::IllegalStateError);
  EXPECT_THROW(rdd.take(2), sluice::IllegalStateError);
  EXPECT_THROW(rdd.reduce(std::plus<>()), sluice::IllegalStateError);
  EXPECT_THROW(rdd.takeOrdered(2), sluice::IllegalStateError);
  auto ignore = [](int) {};
  EXPECT_THROW(rdd.foreach (ignore), sluice::IllegalStateError);
  EXPECT_THROW(reduced.collect(), sluice::IllegalStateError);
  EXPECT_THROW(pairs.countByKey(), sluice::IllegalStateError);

  // saveAsTextFile fails the same way and leaves nothing behind.
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info->name();
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  fs::path dir = fs::path(::testing::TempDir()) /
                 ("sluice_context_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_THROW(rdd.saveAsTextFile((dir / "out").string()), sluice::IllegalStateError);
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

SLUICE_ALL_MASTERS(ContextStopTest);

}  // namespace
