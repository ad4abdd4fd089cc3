// Record output for streaming programs. Records accumulate in one reused buffer and go out
// with write(2): after every record when the output is a terminal (someone is watching), and
// otherwise at the caller's flush points — after each input chunk — so a pipe sees every
// record of a chunk as soon as that chunk is processed without a syscall per record. This is
// how the toolkit reads DESIGN's "flush after every record" for high-rate tools.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <string>

namespace m2m::cli {

class RecordOutput {
 public:
  explicit RecordOutput(int fd = STDOUT_FILENO);
  RecordOutput(const RecordOutput&) = delete;
  ~RecordOutput() { flush(); }

  std::string& buffer() { return buf_; }  // append one record (with its '\n'), then end_record()
  // Flushes on a terminal, or when the buffer has grown large; false once the output is gone.
  bool end_record() {
    if (per_record_ || buf_.size() >= kHighWater) return flush();
    return ok_;
  }
  bool flush();  // false when the reader went away (EPIPE) or writing failed
  bool ok() const { return ok_; }
  bool per_record() const { return per_record_; }
  void set_per_record(bool on) { per_record_ = on; }

 private:
  static constexpr std::size_t kHighWater = 1 << 20;
  int fd_;
  bool per_record_;
  bool ok_ = true;
  std::string buf_;
};

}  // namespace m2m::cli
