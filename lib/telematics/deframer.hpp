// Stream deframer of the telematics protocol: bytes in (any chunking), frames and errors out.
// The rules mirror the AI-Cloud deframer (telematics-protocol(7) "DEFRAMING"):
//  * a candidate frame runs from a 0x7e to the next 0x7e; `7e 7e` means the second flag
//    starts the next frame (every frame carries both of its flags);
//  * bytes outside a candidate are garbage, reported once per run (kind `garbage`, `skipped`)
//    just before the event that ends the run, or at finish();
//  * a candidate whose length field accounts for its bytes is delimited: it is a frame or an
//    error (bad_checksum) and its closing flag is consumed. Otherwise (bad_length,
//    bad_escape) the closing flag is taken as the next frame's opening flag — this is how the
//    deframer resynchronises on the next 0x7e. While resynchronising, further undelimited
//    candidates count as garbage;
//  * a candidate of more than kMaxEscaped wire bytes, or whose content exceeds kMaxContent,
//    is too_long; at most kMaxEscaped bytes of a candidate are ever buffered;
//  * finish() reports a partial frame as `truncated` (a lone flag taken over from a bad
//    candidate is not reported);
//  * offsets are stream offsets; an error's own offset points at the offending wire byte.
// Events own their bytes, so they stay valid after further calls.
#pragma once

#include <cstdint>
#include <deque>

#include "telematics/frame.hpp"

namespace m2m::telematics {

struct DeframeEvent {
  bool ok = false;            // true: `frame` is a valid decoded frame
  Frame frame;
  Bytes raw;                  // wire bytes of the frame or bad candidate (empty for garbage)
  std::uint64_t offset = 0;   // stream offset of raw[0], or of the first skipped byte
  std::uint64_t skipped = 0;  // garbage: bytes skipped; too_long: candidate bytes skipped
  Error error;                // !ok
};

class Deframer {
 public:
  void feed(ByteView chunk);
  void finish();  // end of input: flush garbage and report a partial frame
  bool next(DeframeEvent& ev);

  std::uint64_t offset() const { return pos_; }  // bytes consumed so far
  std::size_t buffered() const { return in_frame_ ? buf_.size() : 0; }

 private:
  void start(std::uint64_t at, bool reused);
  void close(std::uint64_t tail_at);
  void too_long(std::uint64_t total, std::uint64_t tail_at, bool at_eof);
  void push(DeframeEvent&& e);
  void add_garbage(std::uint64_t at, std::uint64_t n);
  void flush_garbage();

  std::uint64_t pos_ = 0;       // stream offset of the next byte
  bool in_frame_ = false;
  bool resync_ = false;         // after an undelimited bad candidate
  bool head_reused_ = false;    // the opening flag was a bad candidate's closing flag
  std::uint64_t cand_off_ = 0;
  Bytes buf_;                   // the candidate so far (opening flag included), <= kMaxEscaped
  std::uint64_t discarded_ = 0; // candidate bytes beyond buf_
  std::uint64_t garbage_ = 0;
  std::uint64_t garbage_off_ = 0;
  Bytes content_;
  std::deque<DeframeEvent> queue_;
};

}  // namespace m2m::telematics
