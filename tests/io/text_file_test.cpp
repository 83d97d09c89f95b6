// Tests of Context::textFile and of its splitting and line reading (io/text_file.hpp).
#include "io/text_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sluice/sluice.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/test_util.hpp"

namespace {

namespace fs = std::filesystem;

// A fresh directory, unique to the running test and process, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
    }
    path_ = fs::path(::testing::TempDir()) /
            ("sluice_text_file_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void writeFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Joins lines with "\n", and optionally a final "\n".
std::string joinLines(const std::vector<std::string>& lines, bool trailing_newline) {
  std::string text;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    text += lines[i];
    if (i + 1 < lines.size() || trailing_newline) text += '\n';
  }
  return text;
}

// Lines of pseudo-random lengths in [0, max_len] (so some are blank) of printable characters.
std::vector<std::string> randomLines(std::size_t count, std::size_t max_len, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<int> ch('!', '~');
  std::vector<std::string> lines;
  lines.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string line(len(rng), ' ');
    for (char& c : line) c = static_cast<char>(ch(rng));
    lines.push_back(std::move(line));
  }
  return lines;
}

// Reads every split with readLines and concatenates the lines, in split order.
std::vector<std::string> readAllSplits(const std::vector<sluice::detail::FileSplit>& splits) {
  std::vector<std::string> lines;
  for (const auto& split : splits) {
    sluice::detail::readLines(
        split, [] { return false; },
        [&](std::span<const std::string_view> batch) {
          for (std::string_view line : batch) lines.emplace_back(line);
        });
  }
  return lines;
}

// Splits must tile each file: from 0 to its size, each split starting where the last ended.
void expectSplitsTile(const std::vector<sluice::detail::FileSplit>& splits,
                      const std::string& path) {
  ASSERT_FALSE(splits.empty());
  EXPECT_EQ(splits.front().start, 0U);
  for (std::size_t i = 0; i < splits.size(); ++i) {
    EXPECT_EQ(splits[i].path, path);
    EXPECT_LE(splits[i].start, splits[i].end);
    if (i > 0) EXPECT_EQ(splits[i].start, splits[i - 1].end) << "split " << i;
  }
  EXPECT_EQ(splits.back().end, fs::file_size(path));
}

class TextFileTest : public sluice::testing_util::MasterTest {};

TEST_P(TextFileTest, EmptyFileHasNoLines) {
  ScratchDir dir;
  writeFile(dir.file("empty.txt"), "");
  auto rdd = sc.textFile(dir.file("empty.txt"));
  EXPECT_EQ(rdd.count(), 0);
  EXPECT_TRUE(rdd.collect().empty());
  EXPECT_EQ(sc.textFile(dir.file("empty.txt"), 8).count(), 0);
}

TEST_P(TextFileTest, KeepsLastLineWithoutTrailingNewline) {
  ScratchDir dir;
  writeFile(dir.file("a.txt"), "first\nsecond\nlast");
  EXPECT_EQ(sc.textFile(dir.file("a.txt")).collect(),
            (std::vector<std::string>{"first", "second", "last"}));
  writeFile(dir.file("b.txt"), "only");
  EXPECT_EQ(sc.textFile(dir.file("b.txt")).collect(), (std::vector<std::string>{"only"}));
}

TEST_P(TextFileTest, TrailingNewlineAddsNoEmptyLine) {
  ScratchDir dir;
  writeFile(dir.file("a.txt"), "x\ny\n");
  EXPECT_EQ(sc.textFile(dir.file("a.txt")).collect(), (std::vector<std::string>{"x", "y"}));
}

TEST_P(TextFileTest, StripsCrlf) {
  ScratchDir dir;
  writeFile(dir.file("crlf.txt"), "alpha\r\nbeta\r\n\r\ngamma\r\ndelta");
  auto lines = sc.textFile(dir.file("crlf.txt")).collect();
  EXPECT_EQ(lines, (std::vector<std::string>{"alpha", "beta", "", "gamma", "delta"}));
  for (const auto& line : lines) EXPECT_EQ(line.find('\r'), std::string::npos) << line;
}

TEST_P(TextFileTest, StripsCrlfAtEverySplitSize) {
  ScratchDir dir;
  std::vector<std::string> expected = randomLines(300, 30, 7);
  std::string text;
  for (const auto& line : expected) text += line + "\r\n";
  writeFile(dir.file("crlf.txt"), text);
  for (int parts = 1; parts <= 16; ++parts) {
    EXPECT_EQ(sc.textFile(dir.file("crlf.txt"), parts).collect(), expected) << parts;
  }
}

TEST_P(TextFileTest, KeepsBlankLinesAsEmptyStrings) {
  ScratchDir dir;
  writeFile(dir.file("blank.txt"), "\n\na\n\n\nb\n\n");
  EXPECT_EQ(sc.textFile(dir.file("blank.txt")).collect(),
            (std::vector<std::string>{"", "", "a", "", "", "b", ""}));
  writeFile(dir.file("newline_only.txt"), "\n");
  EXPECT_EQ(sc.textFile(dir.file("newline_only.txt")).collect(), (std::vector<std::string>{""}));
}

TEST_P(TextFileTest, LinesSpanningSplitPointsAreReadExactlyOnce) {
  ScratchDir dir;
  for (bool trailing : {true, false}) {
    std::vector<std::string> expected = randomLines(3000, 150, trailing ? 11 : 12);
    std::string path = dir.file(trailing ? "with_newline.txt" : "without_newline.txt");
    writeFile(path, joinLines(expected, trailing));
    for (int parts = 1; parts <= 16; ++parts) {
      auto rdd = sc.textFile(path, parts);
      EXPECT_GE(rdd.getNumPartitions(), parts);
      EXPECT_EQ(rdd.collect(), expected) << "minPartitions " << parts << " trailing " << trailing;
      EXPECT_EQ(rdd.count(), static_cast<long long>(expected.size()));
    }
  }
}

TEST_P(TextFileTest, ReadsEveryVisibleFileOfADirectoryInNameOrder) {
  ScratchDir dir;
  writeFile(dir.file("b.txt"), "b1\nb2\n");
  writeFile(dir.file("a.txt"), "a1\na2");
  writeFile(dir.file("c.log"), "c1\n");
  writeFile(dir.file("empty"), "");
  writeFile(dir.file(".hidden"), "hidden\n");
  writeFile(dir.file("_SUCCESS"), "");
  writeFile(dir.file("_temporary.txt"), "underscore\n");
  std::vector<std::string> expected{"a1", "a2", "b1", "b2", "c1"};
  EXPECT_EQ(sc.textFile(dir.path().string()).collect(), expected);
  EXPECT_EQ(sc.textFile(dir.path().string(), 7).collect(), expected);
}

TEST_P(TextFileTest, ReadsTheFilesMatchingAGlob) {
  ScratchDir dir;
  writeFile(dir.file("z.txt"), "z1\nz2\n");
  writeFile(dir.file("m.txt"), "m1\n");
  writeFile(dir.file("a.txt"), "a1\n");
  writeFile(dir.file("skip.log"), "log\n");
  writeFile(dir.file(".hidden.txt"), "hidden\n");
  std::vector<std::string> expected{"a1", "m1", "z1", "z2"};
  EXPECT_EQ(sc.textFile(dir.file("*.txt")).collect(), expected);
  EXPECT_EQ(sc.textFile(dir.file("[am].txt")).collect(), (std::vector<std::string>{"a1", "m1"}));
}

TEST_P(TextFileTest, MissingPathThrowsFileNotFound) {
  ScratchDir dir;
  EXPECT_THROW(sc.textFile(dir.file("no_such_file.txt")), sluice::FileNotFoundError);
  EXPECT_THROW(sc.textFile(dir.file("no_such_dir/x.txt")), sluice::FileNotFoundError);
  EXPECT_THROW(sc.textFile(dir.file("*.nothing")), sluice::FileNotFoundError);
  writeFile(dir.file("skip.log"), "log\n");
  EXPECT_THROW(sc.textFile(dir.file("?.log")), sluice::FileNotFoundError);  // no 1-char name
}

TEST_P(TextFileTest, RejectsNonPositiveMinPartitions) {
  ScratchDir dir;
  writeFile(dir.file("a.txt"), "a\n");
  EXPECT_THROW(sc.textFile(dir.file("a.txt"), 0), sluice::InvalidArgumentError);
  EXPECT_THROW(sc.textFile(dir.file("a.txt"), -2), sluice::InvalidArgumentError);
}

TEST_P(TextFileTest, VeryLongLineSurvives) {
  ScratchDir dir;
  std::string long_line(5U << 20, 'x');
  for (std::size_t i = 0; i < long_line.size(); i += 4099) long_line[i] = 'y';
  std::vector<std::string> expected{"before", long_line, "after", long_line + "z"};
  writeFile(dir.file("long.txt"), joinLines(expected, false));
  for (int parts : {1, 2, 5}) {
    auto lines = sc.textFile(dir.file("long.txt"), parts).collect();
    ASSERT_EQ(lines.size(), expected.size()) << parts;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      EXPECT_TRUE(lines[i] == expected[i]) << "line " << i << " minPartitions " << parts;
    }
  }
}

TEST_P(TextFileTest, InvalidUtf8IsReadBackByteExact) {
  ScratchDir dir;
  std::vector<std::string> expected{
      std::string("\xff\xfe\xfd"),          std::string("ok \xc3\x28 bad"),
      std::string("\x80lead continuation"), std::string("nul\0inside", 10),
      std::string("h\xc3\xa9llo"),          std::string("truncated \xe2\x82"),
  };
  writeFile(dir.file("bytes.txt"), joinLines(expected, true));
  EXPECT_EQ(sc.textFile(dir.file("bytes.txt")).collect(), expected);
  EXPECT_EQ(sc.textFile(dir.file("bytes.txt"), 16).collect(), expected);
}

SLUICE_ALL_MASTERS(TextFileTest);

// ---- computeSplits / readLines directly ----

TEST(TextFileSplits, TinySplitsReadEveryLineExactlyOnceInOrder) {
  ScratchDir dir;
  for (bool trailing : {true, false}) {
    std::vector<std::string> expected = randomLines(150, 12, trailing ? 21 : 22);
    std::string path = dir.file(trailing ? "with_newline.txt" : "without_newline.txt");
    std::string text = joinLines(expected, trailing);
    writeFile(path, text);
    const auto size = static_cast<int>(text.size());
    // min_partitions == size gives one-byte splits; the others give small odd sizes.
    for (int min_partitions : {size, size / 2, size / 3, size / 5, size / 7, size / 13, 1}) {
      auto splits = sluice::detail::computeSplits({path}, min_partitions);
      expectSplitsTile(splits, path);
      EXPECT_EQ(readAllSplits(splits), expected)
          << "minPartitions " << min_partitions << " trailing " << trailing;
    }
  }
}

TEST(TextFileSplits, OneByteSplitsOverCrlfAndBlankLines) {
  ScratchDir dir;
  std::string path = dir.file("mixed.txt");
  writeFile(path, "a\r\n\r\n\nbc\r\nd\n\n\r\nlast");
  auto splits = sluice::detail::computeSplits({path}, 1000);
  expectSplitsTile(splits, path);
  EXPECT_EQ(readAllSplits(splits),
            (std::vector<std::string>{"a", "", "", "bc", "d", "", "", "last"}));
}

TEST(TextFileSplits, EmptyFileIsOneEmptySplit) {
  ScratchDir dir;
  writeFile(dir.file("empty.txt"), "");
  auto splits = sluice::detail::computeSplits({dir.file("empty.txt")}, 4);
  ASSERT_EQ(splits.size(), 1U);
  EXPECT_EQ(splits[0].start, 0U);
  EXPECT_EQ(splits[0].end, 0U);
  EXPECT_TRUE(readAllSplits(splits).empty());
}

TEST(TextFileSplits, SeveralFilesAreSplitSeparately) {
  ScratchDir dir;
  std::vector<std::string> a = randomLines(40, 10, 31);
  std::vector<std::string> b = randomLines(60, 10, 32);
  writeFile(dir.file("a.txt"), joinLines(a, true));
  writeFile(dir.file("b.txt"), joinLines(b, false));
  auto files = sluice::detail::listInputFiles(dir.path().string());
  ASSERT_EQ(files, (std::vector<std::string>{dir.file("a.txt"), dir.file("b.txt")}));
  std::vector<std::string> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  for (int min_partitions : {1, 3, 17, 200}) {
    auto splits = sluice::detail::computeSplits(files, min_partitions);
    EXPECT_GE(static_cast<int>(splits.size()), std::min(min_partitions, 2));
    for (const auto& split : splits) EXPECT_LE(split.end, fs::file_size(split.path));
    EXPECT_EQ(readAllSplits(splits), expected) << min_partitions;
  }
}

}  // namespace
