// Writes built frames to stdout as wire bytes, hex lines, or the JSON m2m-decode would print.
#pragma once

#include <string>

#include "cli/output.hpp"
#include "m2m/frame.hpp"

namespace m2m::send {

enum class OutMode { raw, hex, json };

class FrameWriter {
 public:
  FrameWriter(OutMode mode, bool pretty, CrcVariant crc, cli::RecordOutput& out)
      : mode_(mode), pretty_(pretty), crc_(crc), out_(out) {}

  // Encodes `f` and appends it to the output (flushing as RecordOutput decides). Fails when
  // the frame cannot be encoded (too long, token too long); nothing is written then.
  Result<void> write(const ai::FrameView& f);
  const Bytes& last_wire() const { return wire_; }  // wire bytes of the last frame written

 private:
  OutMode mode_;
  bool pretty_;
  CrcVariant crc_;
  cli::RecordOutput& out_;
  Bytes wire_;
  Bytes unescaped_;
  std::string scratch_;
};

}  // namespace m2m::send
