#include "cli/input.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli/cli.hpp"

namespace m2m::cli {

Result<InputFile> InputFile::open(const std::string& path) {
  if (path.empty() || path == "-") return InputFile(STDIN_FILENO, false, "-");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorKind::io, path + ": " + std::strerror(errno));
  return InputFile(fd, true, path);
}

InputFile::~InputFile() {
  if (owned_) ::close(fd_);
}

Result<std::size_t> InputFile::read(std::span<std::uint8_t> buf) {
  for (;;) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) {
      if (interrupted()) return std::size_t{0};
      continue;
    }
    return fail(ErrorKind::io, name_ + ": " + std::strerror(errno));
  }
}

Result<bool> LineReader::next(std::string_view& line) {
  for (;;) {
    std::size_t nl = buf_.find('\n', start_);
    if (nl != std::string::npos) {
      const bool was_skipping = skipping_;
      skipping_ = false;
      std::size_t from = start_;
      start_ = nl + 1;
      ++line_no_;
      if (was_skipping) {
        return fail(ErrorKind::bad_value,
                    "line " + std::to_string(line_no_) + " is longer than " + plural(max_line_, "byte"));
      }
      std::size_t len = nl - from;
      if (len > 0 && buf_[from + len - 1] == '\r') --len;
      line = std::string_view(buf_).substr(from, len);
      return true;
    }
    if (eof_) {
      if (start_ >= buf_.size() && !skipping_) return false;
      // The last line has no newline: hand it out as if it had one.
      buf_.push_back('\n');
      continue;
    }
    // Need more bytes: drop what was consumed, then read a chunk after the partial line.
    buf_.erase(0, start_);
    start_ = 0;
    if (buf_.size() > max_line_) {  // keep memory bounded inside an over-long line
      buf_.clear();
      skipping_ = true;
    }
    std::size_t have = buf_.size();
    buf_.resize(have + kInputChunk);
    auto n = in_.read(std::span(reinterpret_cast<std::uint8_t*>(buf_.data()) + have, kInputChunk));
    if (!n) {
      buf_.resize(have);
      return unexpected(std::move(n).error());
    }
    buf_.resize(have + *n);
    if (*n == 0) eof_ = true;
  }
}

}  // namespace m2m::cli
