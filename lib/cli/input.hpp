// Reading a program's inputs — named files or stdin ("-") — in large chunks, so no input has
// to fit in memory, and splitting them into lines for JSON Lines readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::cli {

inline constexpr std::size_t kInputChunk = 64 * 1024;

// One open input. "-" (or an empty name) is stdin, which is never closed.
class InputFile {
 public:
  static Result<InputFile> open(const std::string& path);
  InputFile(InputFile&& o) noexcept : fd_(o.fd_), owned_(o.owned_), name_(std::move(o.name_)) { o.owned_ = false; }
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  // Reads up to buf.size() bytes: returns the count, 0 at end of input. A read interrupted
  // by SIGINT/SIGTERM (cli::interrupted()) returns 0 as well; callers check interrupted().
  Result<std::size_t> read(std::span<std::uint8_t> buf);
  const std::string& name() const { return name_; }  // "-" for stdin
  int fd() const { return fd_; }

 private:
  InputFile(int fd, bool owned, std::string name) : fd_(fd), owned_(owned), name_(std::move(name)) {}
  int fd_;
  bool owned_;
  std::string name_;
};

// Splits an input into lines ('\n', a trailing '\r' removed; a last line without '\n' counts)
// while reading it in chunks. Lines longer than max_line are reported as errors and skipped.
class LineReader {
 public:
  explicit LineReader(InputFile& in, std::size_t max_line = 1 << 20) : in_(in), max_line_(max_line) {}

  // Next line into `line` (valid until the next call): true; false at end of input.
  // A read failure or an over-long line is an Error (the reader stays usable after the latter).
  Result<bool> next(std::string_view& line);
  std::uint64_t line_number() const { return line_no_; }  // of the line last returned (1-based)
  // Whether next() can return a line without reading: when false, a caller that batches its
  // output should flush it now, before next() may block on a slow producer.
  bool line_ready() const { return eof_ || buf_.find('\n', start_) != std::string::npos; }

 private:
  InputFile& in_;
  std::size_t max_line_;
  std::string buf_;
  std::size_t start_ = 0;  // unread part of buf_ starts here
  bool eof_ = false;
  bool skipping_ = false;  // inside an over-long line
  std::uint64_t line_no_ = 0;
};

}  // namespace m2m::cli
