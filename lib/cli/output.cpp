#include "cli/output.hpp"

#include <cerrno>

namespace m2m::cli {

RecordOutput::RecordOutput(int fd) : fd_(fd), per_record_(isatty(fd) == 1) { buf_.reserve(kHighWater + 64 * 1024); }

bool RecordOutput::flush() {
  std::size_t done = 0;
  while (ok_ && done < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n > 0) done += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR) continue;
    else ok_ = false;
  }
  buf_.clear();
  return ok_;
}

}  // namespace m2m::cli
