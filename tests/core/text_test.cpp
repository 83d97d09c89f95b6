// sluice::split must split exactly as Python 3's str.split() and str.split(sep) do. Every expected
// value below is what python3 returns for the same input (bytes that are not UTF-8 compared
// through s.decode('utf-8', 'surrogateescape')); the comments give the input as Python's ascii().
#include <gtest/gtest.h>

#include <sluice/error.hpp>
#include <sluice/text.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Words = std::vector<std::string>;

struct WhitespaceCase {
  std::string_view line;
  Words words;
};

void expectSplits(const std::vector<WhitespaceCase>& cases) {
  for (const auto& c : cases) EXPECT_EQ(sluice::split(c.line), c.words) << c.line;
}

TEST(Split, AsciiWhitespaceRunsAndNoEmptyWords) {
  expectSplits({
      {"", {}},
      {"   ", {}},
      {"hello world", {"hello", "world"}},
      {"  leading and  trailing  ", {"leading", "and", "trailing"}},
      {"The the  THE\tthe\n", {"The", "the", "THE", "the"}},
      {"a\tb\nc\rd\ve\ff", {"a", "b", "c", "d", "e", "f"}},
      // 'a\x1cb\x1dc\x1ed\x1ff g': the four separator controls are whitespace too
      {"a\x1c"
       "b\x1d"
       "c\x1e"
       "d\x1f"
       "f g",
       {"a", "b", "c", "d", "f", "g"}},
  });
}

TEST(Split, UnicodeWhitespace) {
  expectSplits({
      // 'a\x85b\xa0c'
      {"a\xc2\x85"
       "b\xc2\xa0"
       "c",
       {"a", "b", "c"}},
      // 'a\u1680b\u2000c\u2005d\u200ae\u2028f\u2029g\u202fh\u205fi\u3000j'
      {"a\xe1\x9a\x80"
       "b\xe2\x80\x80"
       "c\xe2\x80\x85"
       "d\xe2\x80\x8a"
       "e\xe2\x80\xa8"
       "f\xe2\x80\xa9g\xe2\x80\xafh\xe2\x81\x9fi\xe3\x80\x80j",
       {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}},
      // '\u3000\xa0 \t'
      {"\xe3\x80\x80\xc2\xa0 \t", {}},
  });
}

TEST(Split, OtherUnicodeIsNotWhitespace) {
  expectSplits({
      // 'a\u200bb\u180ec\ufeffd \u2060e': zero-width space, Mongolian vowel separator, BOM and
      // word joiner are not whitespace to Python
      {"a\xe2\x80\x8b"
       "b\xe1\xa0\x8e"
       "c\xef\xbb\xbf"
       "d \xe2\x81\xa0"
       "e",
       {"a\xe2\x80\x8b"
        "b\xe1\xa0\x8e"
        "c\xef\xbb\xbf"
        "d",
        "\xe2\x81\xa0"
        "e"}},
      // '\xe9t\xe9 caf\xe9\t\u65e5\u672c\u8a9e\u3000\u30c6\u30ad\u30b9\u30c8'
      {"\xc3\xa9t\xc3\xa9 caf\xc3\xa9\t\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x80\x80\xe3\x83\x86"
       "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
       {"\xc3\xa9t\xc3\xa9", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
        "\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88"}},
  });
}

TEST(Split, InvalidUtf8BytesAreNotWhitespace) {
  expectSplits({
      {"a\xc2 b", {"a\xc2", "b"}},                        // 'a\udcc2 b'
      {"\xe2\x80\xe2\x80\x80x", {"\xe2\x80", "x"}},       // '\udce2\udc80\u2000x'
      {"\x85 \xa0", {"\x85", "\xa0"}},                    // '\udc85 \udca0'
      {"\xc2\xc2\xa0x", {"\xc2", "x"}},                   // '\udcc2\xa0x'
      {"\xed\xa0\x80 y\xff", {"\xed\xa0\x80", "y\xff"}},  // '\udced\udca0\udc80 y\udcff'
      {"x\xe2\x80", {"x\xe2\x80"}},                       // 'x\udce2\udc80'
      {"x\xc2", {"x\xc2"}},                               // 'x\udcc2'
  });
}

struct SeparatorCase {
  std::string_view line;
  std::string_view sep;
  Words pieces;
};

TEST(SplitSeparator, KeepsEmptyPieces) {
  const std::vector<SeparatorCase> cases{
      {"", " ", {""}},
      {" ", " ", {"", ""}},
      {"a  b", " ", {"a", "", "b"}},
      {"the cat sat", " ", {"the", "cat", "sat"}},
      {" lead trail ", " ", {"", "lead", "trail", ""}},
      {"a\tb c", " ", {"a\tb", "c"}},
      {"a\xc2\xa0"  // 'a\xa0b': only the separator splits
       "b",
       " ",
       {"a\xc2\xa0"
        "b"}},
      {"203.0.113.9 - - [10/Oct/2000:13:55:36] \"GET / HTTP/1.0\" 200",
       " ",
       {"203.0.113.9", "-", "-", "[10/Oct/2000:13:55:36]", "\"GET", "/", "HTTP/1.0\"", "200"}},
      {"198.51.100.23,Kenya", ",", {"198.51.100.23", "Kenya"}},
  };
  for (const auto& c : cases) EXPECT_EQ(sluice::split(c.line, c.sep), c.pieces) << c.line;
}

TEST(SplitSeparator, LongerSeparatorsMatchLeftToRight) {
  const std::vector<SeparatorCase> cases{
      {"a, b,, c", ", ", {"a", "b,", "c"}},
      {"aaa", "aa", {"", "a"}},
      {"aaaa", "aa", {"", "", ""}},
      {"abc", "abcd", {"abc"}},
      {"abc", "abc", {"", ""}},
      // 'a\u3000b\u3000' split on '\u3000'
      {"a\xe3\x80\x80"
       "b\xe3\x80\x80",
       "\xe3\x80\x80",
       {"a", "b", ""}},
  };
  for (const auto& c : cases) EXPECT_EQ(sluice::split(c.line, c.sep), c.pieces) << c.line;
}

TEST(SplitSeparator, EmptySeparatorThrowsAsPython) {
  try {
    sluice::split("a b", "");
    FAIL() << "an empty separator must throw";
  } catch (const sluice::InvalidArgumentError& e) {
    EXPECT_STREQ(e.what(), "empty separator");  // Python: ValueError: empty separator
  }
}

}  // namespace
