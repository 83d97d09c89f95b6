// Shared helpers for engine tests: every engine test runs under local[1], local[2] and local[4]
// and compares with one expected answer computed independently with the standard library.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <sluice/sluice.hpp>
#include <string>
#include <vector>

namespace sluice::testing_util {

// A fixture parameterized by master; `sc` is a fresh Context for each test.
class MasterTest : public ::testing::TestWithParam<std::string> {
 protected:
  sluice::Context sc{GetParam(), "test"};
};

inline auto allMasters() { return ::testing::Values("local[1]", "local[2]", "local[4]"); }

inline std::string masterName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) name.push_back(c);
  }
  return name;
}

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace sluice::testing_util

// Instantiates a MasterTest-derived suite for the three masters.
#define SLUICE_ALL_MASTERS(Suite)                                                \
  INSTANTIATE_TEST_SUITE_P(Masters, Suite, ::sluice::testing_util::allMasters(), \
                           ::sluice::testing_util::masterName)
