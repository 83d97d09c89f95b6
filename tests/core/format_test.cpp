// sluice::repr and sluice::str must print values exactly as Python's repr() and str() do.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <sluice/format.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace format_test {

struct Point {
  int x;
  int y;
};

}  // namespace format_test

template <>
struct sluice::Formatter<format_test::Point> {
  static void repr(std::string& out, const format_test::Point& p) {
    out += "Point(x=" + std::to_string(p.x) + ", y=" + std::to_string(p.y) + ")";
  }
};

namespace {

using format_test::Point;
using sluice::repr;
using sluice::str;

TEST(Format, StringReprQuotesAndStrIsBare) {
  EXPECT_EQ(repr("the"), "'the'");
  EXPECT_EQ(str("the"), "the");
  EXPECT_EQ(repr(std::string("the")), "'the'");
  EXPECT_EQ(str(std::string("the")), "the");
  EXPECT_EQ(repr(std::string_view("the")), "'the'");
  EXPECT_EQ(str(std::string_view("the")), "the");
  const char* c_string = "the";
  EXPECT_EQ(repr(c_string), "'the'");
  EXPECT_EQ(str(c_string), "the");
  EXPECT_EQ(repr(std::string()), "''");
  EXPECT_EQ(str(std::string()), "");
  // str() leaves a top-level string alone, escapes and all.
  EXPECT_EQ(str(std::string("it's\n\"x\"")), "it's\n\"x\"");
}

TEST(Format, PairsAndTuples) {
  EXPECT_EQ(repr(std::pair<std::string, int>("the", 13600)), "('the', 13600)");
  EXPECT_EQ(str(std::pair<std::string, int>("the", 13600)), "('the', 13600)");
  EXPECT_EQ(repr(std::pair<std::string, std::pair<int, std::string>>("a", {1, "b"})),
            "('a', (1, 'b'))");
  EXPECT_EQ(repr(std::make_tuple(1, std::string("b"), 2.5)), "(1, 'b', 2.5)");
  EXPECT_EQ(repr(std::make_tuple(std::make_pair(1, 2), std::make_tuple(std::string("x"), true))),
            "((1, 2), ('x', True))");
  EXPECT_EQ(repr(std::make_tuple(1)), "(1,)");
  EXPECT_EQ(repr(std::make_tuple(std::string("only"))), "('only',)");
  EXPECT_EQ(repr(std::tuple<>()), "()");
  EXPECT_EQ(repr(std::pair<int, std::optional<int>>(3, std::nullopt)), "(3, None)");
}

TEST(Format, Sequences) {
  EXPECT_EQ(repr(std::vector<int>{1, 2}), "[1, 2]");
  EXPECT_EQ(str(std::vector<int>{1, 2}), "[1, 2]");
  EXPECT_EQ(repr(std::vector<int>{}), "[]");
  EXPECT_EQ(repr(std::vector<std::string>{"a", "it's"}), "['a', \"it's\"]");
  EXPECT_EQ(str(std::vector<std::string>{"a", "b"}), "['a', 'b']");
  EXPECT_EQ(repr(std::vector<std::vector<int>>{{1}, {}, {2, 3}}), "[[1], [], [2, 3]]");
  EXPECT_EQ(repr(std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 2}}),
            "[('a', 1), ('b', 2)]");
  EXPECT_EQ(repr(std::pair<std::string, std::vector<double>>("k", {1.0, 0.5})),
            "('k', [1.0, 0.5])");
}

TEST(Format, OptionalAndBool) {
  EXPECT_EQ(repr(std::optional<int>()), "None");
  EXPECT_EQ(str(std::optional<int>()), "None");
  EXPECT_EQ(repr(std::nullopt), "None");
  EXPECT_EQ(repr(std::optional<int>(5)), "5");
  EXPECT_EQ(repr(std::optional<std::string>("x")), "'x'");
  EXPECT_EQ(repr(true), "True");
  EXPECT_EQ(repr(false), "False");
  EXPECT_EQ(str(true), "True");
}

TEST(Format, Integers) {
  EXPECT_EQ(repr(0), "0");
  EXPECT_EQ(repr(-42), "-42");
  EXPECT_EQ(repr(std::numeric_limits<long long>::min()), "-9223372036854775808");
  EXPECT_EQ(repr(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(repr(static_cast<std::int8_t>(-3)), "-3");
  EXPECT_EQ(repr(static_cast<unsigned char>(200)), "200");
}

TEST(Format, DoublesMatchPythonRepr) {
  EXPECT_EQ(repr(1.0), "1.0");
  EXPECT_EQ(repr(0.1), "0.1");
  EXPECT_EQ(repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(repr(2.5), "2.5");
  EXPECT_EQ(repr(100.0), "100.0");
  EXPECT_EQ(repr(-0.0), "-0.0");
  EXPECT_EQ(repr(1e15), "1000000000000000.0");
  EXPECT_EQ(repr(1e16), "1e+16");
  EXPECT_EQ(repr(1.2345678901234568e+17), "1.2345678901234568e+17");
  EXPECT_EQ(repr(1e22), "1e+22");
  EXPECT_EQ(repr(0.0001), "0.0001");
  EXPECT_EQ(repr(1e-05), "1e-05");
  EXPECT_EQ(repr(1.5e-05), "1.5e-05");
  EXPECT_EQ(repr(5e-324), "5e-324");
  EXPECT_EQ(repr(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(repr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(str(1.0), "1.0");
}

TEST(Format, StringQuotingFollowsPython) {
  EXPECT_EQ(repr(std::string("it's")), "\"it's\"");
  EXPECT_EQ(repr(std::string("say \"hi\"")), "'say \"hi\"'");
  EXPECT_EQ(repr(std::string("it's \"both\"")), "'it\\'s \"both\"'");
}

TEST(Format, StringEscapesFollowPython) {
  EXPECT_EQ(repr(std::string("a\\b")), "'a\\\\b'");
  EXPECT_EQ(repr(std::string("line\nnext")), "'line\\nnext'");
  EXPECT_EQ(repr(std::string("tab\there")), "'tab\\there'");
  EXPECT_EQ(repr(std::string("cr\r")), "'cr\\r'");
  EXPECT_EQ(repr(std::string("\x01")), "'\\x01'");
  EXPECT_EQ(repr(std::string("\x1f")), "'\\x1f'");
  EXPECT_EQ(repr(std::string("\x7f")), "'\\x7f'");
  EXPECT_EQ(repr(std::string("nul\0end", 7)), "'nul\\x00end'");
}

TEST(Format, Utf8IsKeptAndInvalidBytesAreEscaped) {
  EXPECT_EQ(repr(std::string("h\xc3\xa9llo")), "'h\xc3\xa9llo'");  // 'héllo'
  EXPECT_EQ(repr(std::string("\xe6\x97\xa5\xe6\x9c\xac")), "'\xe6\x97\xa5\xe6\x9c\xac'");
  EXPECT_EQ(repr(std::string("\xf0\x9f\x98\x80")), "'\xf0\x9f\x98\x80'");  // an emoji
  EXPECT_EQ(repr(std::string("\xff")), "'\\xff'");
  EXPECT_EQ(repr(std::string("a\xff") + "b"), "'a\\xffb'");
  EXPECT_EQ(repr(std::string("\xc3")), "'\\xc3'");      // truncated sequence
  EXPECT_EQ(repr(std::string("\xc2\x85")), "'\\x85'");  // U+0085, a C1 control
  EXPECT_EQ(repr(std::string("\xc2\xa0")), "'\\xa0'");  // U+00A0, no-break space
}

TEST(Format, Mappings) {
  EXPECT_EQ(repr(std::map<int, std::string>{{1, "a"}}), "{1: 'a'}");
  EXPECT_EQ(repr(std::map<std::string, int>{{"b", 2}, {"a", 1}}), "{'a': 1, 'b': 2}");
  EXPECT_EQ(repr(std::map<int, int>{}), "{}");
  EXPECT_EQ(repr(std::unordered_map<std::string, std::vector<int>>{{"k", {1, 2}}}),
            "{'k': [1, 2]}");
  EXPECT_EQ(str(std::map<int, std::string>{{1, "a"}}), "{1: 'a'}");
}

TEST(Format, UserTypeThroughFormatterSpecialization) {
  EXPECT_EQ(repr(Point{1, -2}), "Point(x=1, y=-2)");
  EXPECT_EQ(str(Point{1, -2}), "Point(x=1, y=-2)");
  EXPECT_EQ(repr(std::vector<Point>{{0, 0}, {3, 4}}), "[Point(x=0, y=0), Point(x=3, y=4)]");
  EXPECT_EQ(repr(std::pair<std::string, Point>("p", {5, 6})), "('p', Point(x=5, y=6))");
}

}  // namespace
