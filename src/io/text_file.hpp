// textFile's input: file listing, byte-range splits at line boundaries, and the line reader.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

struct FileSplit {
  std::string path;
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
};

// The files named by `path`: the file itself, the visible files of a directory (names starting
// with '.' or '_' are skipped), or the matches of a glob, sorted. Throws FileNotFoundError.
std::vector<std::string> listInputFiles(const std::string& path);

// Hadoop's splitting: about total / min_partitions bytes a split, no split over 32 MiB, and one
// empty split for an empty file.
std::vector<FileSplit> computeSplits(const std::vector<std::string>& files, int min_partitions);

// Calls on_lines with the lines (in batches, in order) that starts inside (start, end] of the split
// (or at 0 for the first split), without its terminator ("\n" or "\r\n"); a last line without "\n"
// counts. Stops early when should_stop() returns true. Throws IOError when reading fails.
void readLines(const FileSplit& split, const std::function<bool()>& should_stop,
               const std::function<void(std::span<const std::string_view>)>& on_lines);

}  // namespace sluice::detail
