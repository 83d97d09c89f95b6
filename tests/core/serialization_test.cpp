#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <sluice/serialization.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

struct Reading {
  std::string sensor;
  double value = 0;
  bool operator==(const Reading&) const = default;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sensor, value);
  }
};

template <class T>
T roundTrip(const T& value) {
  return sluice::deserialize<T>(sluice::serialize(value));
}

TEST(Serialization, RoundTripsStandardTypes) {
  EXPECT_EQ(roundTrip(42LL), 42LL);
  EXPECT_EQ(roundTrip(std::string("h\0llo", 5)), std::string("h\0llo", 5));
  std::pair<std::string, long long> kv{"the", 13600};
  EXPECT_EQ(roundTrip(kv), kv);
  std::vector<std::optional<int>> opts{1, std::nullopt, 3};
  EXPECT_EQ(roundTrip(opts), opts);
  std::map<std::string, std::vector<double>> m{{"a", {1.5, 2}}, {"b", {}}};
  EXPECT_EQ(roundTrip(m), m);
  std::tuple<int, std::string, bool> t{7, "x", true};
  EXPECT_EQ(roundTrip(t), t);
}

TEST(Serialization, RoundTripsUserTypes) {
  Reading r{"t1", 21.5};
  EXPECT_EQ(roundTrip(r), r);
  static_assert(sluice::Serializable<Reading>);
}

TEST(Serialization, TruncatedInputIsAClearError) {
  std::string bytes = sluice::serialize(std::vector<std::string>{"alpha", "beta", "gamma"});
  for (std::size_t cut : {std::size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_THROW(sluice::deserialize<std::vector<std::string>>(bytes.substr(0, cut)),
                 sluice::IOError)
        << "cut at " << cut;
  }
}

}  // namespace
