// Tests of RDD::saveAsTextFile: part files, _SUCCESS, Python-style lines, and atomic commit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sluice/sluice.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
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
            ("sluice_save_text_" + name + "_" + std::to_string(::getpid()));
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

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Every entry under `dir` (recursively), relative path -> contents ("<dir>" for directories).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string rel = fs::relative(entry.path(), dir).string();
    entries[rel] = entry.is_directory() ? "<dir>" : readFile(entry.path());
  }
  return entries;
}

std::string partName(int i) {
  std::string digits = std::to_string(i);
  return "part-" + std::string(5 - digits.size(), '0') + digits;
}

// The names a save of `n` partitions must produce: part-00000 .. part-(n-1) and _SUCCESS.
std::map<std::string, std::string> expectedFiles(const std::vector<std::string>& part_texts) {
  std::map<std::string, std::string> files;
  for (std::size_t i = 0; i < part_texts.size(); ++i) {
    files[partName(static_cast<int>(i))] = part_texts[i];
  }
  files["_SUCCESS"] = "";
  return files;
}

class SaveTextTest : public sluice::testing_util::MasterTest {};

TEST_P(SaveTextTest, WritesOnePartFilePerPartitionAndSuccess) {
  ScratchDir dir;
  std::vector<std::vector<std::string>> parts{
      {"the", "quick brown"}, {}, {"fox", "it's \"quoted\"", ""}, {"jumps"}};
  std::string out = dir.file("out");
  sc.fromPartitions(parts).saveAsTextFile(out);

  std::vector<std::string> texts;
  std::vector<std::string> all_lines;
  for (const auto& part : parts) {
    std::string text;
    for (const auto& s : part) {
      text += s + "\n";
      all_lines.push_back(s);
    }
    texts.push_back(text);
  }
  EXPECT_EQ(snapshot(out), expectedFiles(texts));
  EXPECT_EQ(sc.textFile(out).collect(), all_lines);
}

TEST_P(SaveTextTest, WritesStrOfNumbersInPartitionOrder) {
  ScratchDir dir;
  std::vector<int> data;
  for (int i = -50; i < 250; ++i) data.push_back(i * 7);
  auto rdd = sc.parallelize(data, 5).map([](int x) { return x + 1; });
  std::string out = dir.file("numbers");
  rdd.saveAsTextFile(out);

  std::vector<std::string> texts;
  for (const auto& partition : rdd.glom().collect()) {
    std::string text;
    for (int x : partition) text += std::to_string(x) + "\n";
    texts.push_back(text);
  }
  ASSERT_EQ(texts.size(), 5U);
  EXPECT_EQ(snapshot(out), expectedFiles(texts));

  std::vector<std::string> expected_lines;
  for (int x : data) expected_lines.push_back(std::to_string(x + 1));
  EXPECT_EQ(sc.textFile(out).collect(), expected_lines);
  EXPECT_EQ(sc.textFile(out, 9).collect(), expected_lines);
}

TEST_P(SaveTextTest, WritesDoublesAndOptionalsAsPython) {
  ScratchDir dir;
  std::string out = dir.file("doubles");
  sc.fromPartitions<double>({{1.0, 0.1}, {1e16, 2.5}}).saveAsTextFile(out);
  EXPECT_EQ(snapshot(out), expectedFiles({"1.0\n0.1\n", "1e+16\n2.5\n"}));
  std::string optionals = dir.file("optionals");
  sc.fromPartitions<std::optional<int>>({{std::nullopt}, {3}}).saveAsTextFile(optionals);
  EXPECT_EQ(snapshot(optionals), expectedFiles({"None\n", "3\n"}));
}

TEST_P(SaveTextTest, WritesPairsAsPythonTuples) {
  ScratchDir dir;
  std::string out = dir.file("pairs");
  using Pair = std::pair<std::string, int>;
  sc.fromPartitions<Pair>({{{"a", 1}, {"the", 13600}}, {{"it's", -2}}}).saveAsTextFile(out);
  EXPECT_EQ(snapshot(out), expectedFiles({"('a', 1)\n('the', 13600)\n", "(\"it's\", -2)\n"}));
  EXPECT_EQ(sc.textFile(out).collect(),
            (std::vector<std::string>{"('a', 1)", "('the', 13600)", "(\"it's\", -2)"}));
}

TEST_P(SaveTextTest, WritesNestedValuesAsPython) {
  ScratchDir dir;
  std::string out = dir.file("nested");
  using Row = std::pair<int, std::vector<std::string>>;
  sc.fromPartitions<Row>({{{1, {"x", "y"}}, {2, {}}}}).saveAsTextFile(out);
  EXPECT_EQ(snapshot(out), expectedFiles({"(1, ['x', 'y'])\n(2, [])\n"}));
}

TEST_P(SaveTextTest, SavesAnEmptyRddAsOnlySuccess) {
  ScratchDir dir;
  std::string out = dir.file("empty");
  sc.emptyRDD<int>().saveAsTextFile(out);
  EXPECT_EQ(snapshot(out), expectedFiles({}));
  EXPECT_EQ(sc.textFile(out).count(), 0);
}

TEST_P(SaveTextTest, CreatesMissingParentDirectories) {
  ScratchDir dir;
  std::string out = dir.file("a/b/out");
  sc.parallelize(std::vector<int>{1, 2, 3}, 1).saveAsTextFile(out);
  EXPECT_EQ(snapshot(out), expectedFiles({"1\n2\n3\n"}));
}

TEST_P(SaveTextTest, AcceptsATrailingSlash) {
  ScratchDir dir;
  std::string out = dir.file("slash") + "/";
  sc.parallelize(std::vector<int>{1, 2}, 2).saveAsTextFile(out);
  EXPECT_EQ(snapshot(dir.file("slash")), expectedFiles({"1\n", "2\n"}));
  EXPECT_EQ(sc.textFile(out).collect(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(snapshot(dir.path()).size(), 4U) << "only slash/ and its three files";
}

TEST_P(SaveTextTest, ExistingPathThrowsAndIsLeftUntouched) {
  ScratchDir dir;
  std::string out = dir.file("existing");
  fs::create_directories(out + "/sub");
  writeFile(out + "/keep.txt", "precious\n");
  writeFile(out + "/sub/part-00000", "old\n");
  const auto before = snapshot(out);
  const auto parent_before = snapshot(dir.path());

  EXPECT_THROW(sc.parallelize(std::vector<int>{1, 2, 3}, 2).saveAsTextFile(out), sluice::IOError);
  EXPECT_EQ(snapshot(out), before);
  EXPECT_EQ(snapshot(dir.path()), parent_before);

  // Also when the existing path is a plain file.
  std::string file = dir.file("plain");
  writeFile(file, "data");
  EXPECT_THROW(sc.parallelize(std::vector<int>{1}, 1).saveAsTextFile(file), sluice::IOError);
  EXPECT_EQ(readFile(file), "data");
}

TEST_P(SaveTextTest, FailedTaskLeavesNoOutputAndNoTemporaryDirectory) {
  ScratchDir dir;
  std::string out = dir.file("failed");
  std::vector<int> data;
  for (int i = 0; i < 1000; ++i) data.push_back(i);
  auto rdd = sc.parallelize(data, 8).map([](int x) {
    if (x == 777) throw std::runtime_error("boom at 777");
    return x;
  });
  try {
    rdd.saveAsTextFile(out);
    ADD_FAILURE() << "saveAsTextFile should have thrown";
  } catch (const sluice::JobFailedError& e) {
    EXPECT_NE(std::string(e.what()).find("boom at 777"), std::string::npos) << e.what();
    EXPECT_THROW(std::rethrow_exception(e.cause()), std::runtime_error);
  }
  EXPECT_FALSE(fs::exists(out));
  // The parent held nothing before the save, so it must hold nothing after it.
  EXPECT_TRUE(fs::is_empty(dir.path())) << "left behind: " << [&] {
    std::string names;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      names += entry.path().filename().string() + " ";
    }
    return names;
  }();

  // The same path can then be written successfully.
  sc.parallelize(std::vector<int>{4, 5}, 1).saveAsTextFile(out);
  EXPECT_EQ(snapshot(out), expectedFiles({"4\n5\n"}));
}

SLUICE_ALL_MASTERS(SaveTextTest);

}  // namespace
