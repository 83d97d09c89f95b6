// Typed exceptions thrown at Sluice's API. Every error derives from sluice::Error so callers can
// catch them together; the message says what was wrong and what to do about it.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace sluice {

// Base of every exception Sluice throws. Thread-safe to copy and inspect.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An argument that can never be valid: negative partition counts, fractions out of range, ...
class InvalidArgumentError : public Error {
 public:
  using Error::Error;
};

// A path that should exist does not (Spark's InvalidInputException).
class FileNotFoundError : public Error {
 public:
  using Error::Error;
};

// Reading or writing a file failed, or an output path already exists.
class IOError : public Error {
 public:
  using Error::Error;
};

// A checkpoint is unusable: corrupt with no valid fallback, or its streams do not match the graph.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

// The object is in a state where the call is not allowed (e.g. a stopped Context).
class IllegalStateError : public Error {
 public:
  using Error::Error;
};

// A lookup of something absent: a configuration key that is not set (Spark's
// NoSuchElementException).
class NoSuchElementError : public Error {
 public:
  using Error::Error;
};

// The operation has no answer for this input (e.g. reduce on an empty RDD).
class UnsupportedOperationError : public Error {
 public:
  using Error::Error;
};

// A job failed because a task threw. The message names the stage and partition and carries the
// original message; cause() holds the original exception so callers may rethrow it.
class JobFailedError : public Error {
 public:
  JobFailedError(const std::string& message, int stage_id, int partition, std::exception_ptr cause)
      : Error(message), stage_id_(stage_id), partition_(partition), cause_(std::move(cause)) {}
  int stageId() const noexcept { return stage_id_; }
  int partition() const noexcept { return partition_; }
  const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  int stage_id_;
  int partition_;
  std::exception_ptr cause_;
};

}  // namespace sluice
