// Writing text part files for saveAsTextFile: each task writes part-NNNNN into a hidden temporary
// directory, and commit() renames the whole directory into place, so a reader never sees a
// half-written result. Implemented in src/io/text_output.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::detail {

// Owns the temporary directory of one save; removes it unless commit() succeeded.
// partPath() may be called from any thread; commit() once, after every part file is closed.
class TextOutputCommitter {
 public:
  // Throws IOError if `path` already exists (unless `overwrite`) or the temporary directory
  // cannot be created.
  explicit TextOutputCommitter(std::string path, bool overwrite = false);
  ~TextOutputCommitter();
  TextOutputCommitter(const TextOutputCommitter&) = delete;
  TextOutputCommitter& operator=(const TextOutputCommitter&) = delete;

  std::string partPath(int partition) const;
  // Writes _SUCCESS, syncs and renames the temporary directory to the final path; an existing
  // directory (overwrite mode) is swapped out atomically and then removed.
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  bool overwrite_;
  bool committed_ = false;
};

// A buffered file writer that reports every failure (e.g. a full disk) as IOError.
// Used by one thread at a time.
class PartFileWriter {
 public:
  explicit PartFileWriter(std::string path);
  ~PartFileWriter();
  PartFileWriter(const PartFileWriter&) = delete;
  PartFileWriter& operator=(const PartFileWriter&) = delete;
  void write(std::string_view data);
  long long bytesWritten() const noexcept { return bytes_written_; }
  // Flushes and syncs the file; throws IOError on failure.
  void close();

 private:
  void flushBuffer();
  std::string path_;
  int fd_ = -1;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  long long bytes_written_ = 0;
};

}  // namespace sluice::detail
