// The engine's frame scanner: AI-Cloud frames out of a TCP read or a datagram without a
// Deframer per connection (engine.hpp's cost budget). A candidate frame runs from a 0x55 to
// the next 0x55 (m2m-protocol(7), DEFRAMING); a candidate that does not decode gives its
// closing 0x55 to the next candidate, which is how the scanner resynchronises. What is left
// after the last complete frame (a frame split across reads) is the caller's to keep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/bytes.hpp"
#include "core/crc16.hpp"
#include "m2m/frame.hpp"

namespace m2m::loadtest {

class FrameScanner {
 public:
  explicit FrameScanner(CrcVariant crc) : crc_(crc) {}

  // Calls on_frame(const ai::FrameView&) for every good frame of `in` (the view is valid
  // during the call only) and returns how many leading bytes were consumed: the rest is the
  // start of a frame not yet complete. Candidates that do not decode are counted in bad().
  template <class F>
  std::size_t scan(ByteView in, F&& on_frame) {
    std::size_t pos = 0;
    const std::uint8_t* base = in.data();
    const std::size_t n = in.size();
    for (;;) {
      const void* h = pos < n ? std::memchr(base + pos, ai::kHead, n - pos) : nullptr;
      if (!h) return n;  // garbage up to the end (none in a well-formed stream)
      const std::size_t head = static_cast<std::size_t>(static_cast<const std::uint8_t*>(h) - base);
      const void* t = head + 1 < n ? std::memchr(base + head + 1, ai::kHead, n - head - 1) : nullptr;
      if (!t) return head;
      const std::size_t tail = static_cast<std::size_t>(static_cast<const std::uint8_t*>(t) - base);
      auto f = decode(ByteView(base + head, tail - head + 1));
      if (f) {
        on_frame(*f);
        pos = tail + 1;
      } else {
        if (tail - head > 1) ++bad_;  // `55 55` is two frames touching, not an error
        pos = tail;
      }
    }
  }

  std::uint64_t bad() const { return bad_; }

 private:
  Result<ai::FrameView> decode(ByteView wire);

  CrcVariant crc_;
  Bytes unescaped_;
  std::uint64_t bad_ = 0;
};

}  // namespace m2m::loadtest
