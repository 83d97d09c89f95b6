// examples/word_count on a file: its whole output is the list PySpark prints for
// print(counts.takeOrdered(5, key=lambda x: -x[1])) over the same file (seed 001).
#include <gtest/gtest.h>

#include "example_process.hpp"

namespace example_test {
namespace {

TEST(WordCountExample, PrintsTheFiveMostFrequentWordsAsPythonDoes) {
  TempDir dir("sluice_word_count");
  // line.split() splits on runs of any whitespace, U+00A0 included, and keeps case and
  // punctuation: the 6, The 5, it's 4, café 3, rose 2, then eight words once each.
  writeFile(dir.path() / "in.txt",
            "the The the  it's\tcafé\n"
            "  The the rose\xc2\xa0rose it's\r\n"
            "\n"
            "the The café it's the The\n"
            "a b c d e f g h it's the café The\n");
  ExampleProcess p("word_count", {"--master", "local[3]", (dir.path() / "in.txt").string()});
  ASSERT_EQ(p.wait(), 0) << p.err();
  // Python's repr: a string holding ' prints in double quotes; non-ASCII letters print as is.
  EXPECT_EQ(p.out(), "[('the', 6), ('The', 5), (\"it's\", 4), ('café', 3), ('rose', 2)]\n");
  EXPECT_EQ(p.err(), "");
}

TEST(WordCountExample, AMissingFileIsAnError) {
  TempDir dir("sluice_word_count");
  ExampleProcess p("word_count", {(dir.path() / "missing.txt").string()});
  EXPECT_EQ(p.wait(), 1);
  EXPECT_EQ(p.out(), "");
  EXPECT_NE(p.err().find("word_count: "), std::string::npos) << p.err();
}

}  // namespace
}  // namespace example_test
