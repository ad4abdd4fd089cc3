// Stream deframer: bytes in (any chunking, one byte at a time works), frames and errors out.
//
// Rules (m2m-protocol(7) "FRAME LAYOUT" and "DEFRAMING"):
//  * a candidate frame runs from a 0x55 to the next 0x55; `55 55` (empty pair) means the
//    second 0x55 starts the next frame;
//  * bytes outside a candidate are garbage: reported once per run as kind `garbage` with the
//    count (`skipped`), just before the event that ends the run (or at finish()). `raw` of a
//    garbage event is empty unless the Deframer was asked to keep garbage bytes (see the
//    constructor): then it holds the first of them, up to that bound, and the message says
//    when there were more;
//  * a candidate whose length field matches its size is a delimited frame: it is either good
//    or reported (bad_crc, bad token length) and its closing 0x55 is consumed as its tail;
//  * otherwise (bad_length, bad_escape) the closing 0x55 is taken as the head of the next
//    frame, which is how the deframer resynchronises after joining a stream mid-frame. While
//    resynchronising, further undelimited candidates are counted as garbage, not as frames;
//    the event's raw still ends with that 0x55 (so it shows as `55 … 55`);
//  * a candidate longer than 1400 unescaped bytes is reported as too_long and skipped up to the
//    next 0x55; at most kMaxEscaped (2 x 1400) bytes of a partial frame are ever buffered.
//    Precisely: a candidate of more than kMaxEscaped wire bytes (closing 0x55 included) is
//    too_long without being unescaped (1400 unescaped bytes escape to at most 2798); a shorter
//    one is too_long when it unescapes to more than 1400 bytes. A too_long candidate is always
//    reported, even while resynchronising; its closing 0x55 becomes the next head; `skipped`
//    is its size without that 0x55 and `raw` is at most its first kMaxEscaped bytes;
//  * finish() reports a partial frame as `truncated` (too_long past the limit) and flushes
//    pending garbage. A lone 0x55 left as the head taken over from a bad candidate's closing
//    byte is not reported;
//  * offsets are stream offsets (bytes since the first feed()); an error's own offset points
//    at the offending wire byte (the length field, the CRC, the bad escape…);
//  * the events do not depend on how the input is split into chunks.
//
// Usage:
//   Deframer d;                      d.finish();
//   d.feed(chunk);                   while (d.next(ev)) …
//   while (d.next(ev)) handle(ev);
// The chunk must stay valid until next() returns false, and next() must have returned false
// before the next feed(). Views in an event are valid until the next call to next().
// finish() ends the stream: feed nothing after it (a new stream needs a new Deframer).
#pragma once

#include <cstdint>

#include "m2m/frame.hpp"

namespace m2m::ai {

struct DeframeEvent {
  bool ok = false;          // true: `frame` is a valid decoded frame
  FrameView frame;          // ok: views into `unescaped`
  ByteView unescaped;       // ok: the unescaped frame, head to tail (= raw when it has no escapes);
                            // bad_crc, bad_length: the unescaped candidate (a caller can try
                            // the other CRC variants on it); empty for other errors
  ByteView raw;             // wire bytes of the frame or bad candidate; garbage: the first
                            // skipped bytes kept (none unless the Deframer keeps them)
  std::uint64_t offset = 0; // stream offset of raw[0], or of the first skipped byte
  std::uint64_t skipped = 0;// garbage: bytes skipped; too_long: candidate bytes skipped
  Error error;              // !ok
};

// Default bound on the garbage bytes a Deframer keeps for a garbage event's `raw`.
inline constexpr std::size_t kGarbageRawLimit = kMaxFrame;

class Deframer {
 public:
  // `keep_garbage`: how many bytes of each garbage run to keep for the event's `raw` (a tool
  // that prints error objects passes kGarbageRawLimit). 0, the default, keeps none, so a
  // server holding many connections pays nothing for garbage it only counts. Kept bytes are
  // copied once into a buffer reused from run to run; valid frames never touch it.
  explicit Deframer(CrcVariant crc = CrcVariant::modbus, std::size_t keep_garbage = 0)
      : crc_(crc), keep_garbage_(keep_garbage) {}

  void feed(ByteView chunk);
  void finish();  // end of input: flush garbage and report a partial frame
  bool next(DeframeEvent& ev);

  std::uint64_t offset() const { return base_ + pos_; }  // bytes consumed so far
  bool idle() const { return !in_frame_ && partial_.empty() && garbage_ == 0 && !has_queued_; }
  std::size_t buffered() const { return partial_.size(); }
  void release_memory();  // drop buffer capacity when idle (for many mostly-idle sessions)

 private:
  bool close_candidate(ByteView raw, std::size_t tail_index, DeframeEvent& ev);
  bool report_too_long(ByteView raw, std::uint64_t total, std::size_t tail_index, DeframeEvent& ev);
  bool finish_candidate(DeframeEvent& ev);
  void start_candidate(std::size_t head_index, bool reused);
  void stash(const std::uint8_t* from, std::size_t n);
  void add_garbage(std::uint64_t at, ByteView bytes);
  bool emit(DeframeEvent& ev, DeframeEvent&& e);
  bool emit_garbage(DeframeEvent& ev);

  CrcVariant crc_;
  std::size_t keep_garbage_;   // bytes of a garbage run kept for its event's raw
  ByteView in_;
  std::size_t pos_ = 0;        // next unread index in in_
  std::uint64_t base_ = 0;     // stream offset of in_[0]
  bool in_frame_ = false;      // a head has been seen
  bool discarding_ = false;    // too_long: partial_ is full, counting bytes up to the next 0x55
  bool resync_ = false;        // after an undelimited bad candidate
  bool head_reused_ = false;   // current head was the previous candidate's closing 0x55
  bool eof_ = false;
  std::size_t cand_begin_ = 0; // index in in_ of the head, when partial_ is empty
  std::uint64_t cand_off_ = 0; // stream offset of the head
  std::uint64_t garbage_ = 0;  // pending garbage count
  std::uint64_t garbage_off_ = 0;
  std::uint64_t discarded_ = 0;// bytes of the candidate beyond what partial_ holds
  Bytes partial_;              // first (<= kMaxEscaped) bytes of a candidate that spans chunks
  Bytes event_raw_;            // raw bytes handed out in the current event
  Bytes unescaped_;            // unescaped frame handed out in the current event
  Bytes garbage_raw_;          // first keep_garbage_ bytes of the pending (or last) garbage run
  DeframeEvent queued_;        // an event that waits behind a garbage report
  bool has_queued_ = false;
};

}  // namespace m2m::ai
