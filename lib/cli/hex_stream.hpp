// Streaming hex text (DESIGN "Hex text input", the semantics of m2m::parse_hex_text): hex
// digits, whitespace ignored, `#` starts a comment to the end of the line. Unlike
// parse_hex_text it takes the text in chunks of any size (a byte pair, a comment or a line may
// span chunks) and keeps going after a bad character, so a long capture never has to be held
// in memory and one typo does not lose the rest.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::cli {

class HexTextStream {
 public:
  // Decodes text[0..] into `out` until the end of `text` or the first bad character. Returns
  // the number of text bytes consumed; when an error stopped it, error() holds a bad_hex Error
  // whose offset is the bad character's position in the whole text (with line and column in
  // the message), the bad character has been consumed, a pending half byte is dropped and
  // the rest of that line is skipped. Call again with the remainder.
  std::size_t feed(ByteView text, Bytes& out);
  // End of text: an odd digit left over is an error (bad_hex at that digit).
  std::optional<Error> finish();

  std::optional<Error>& error() { return error_; }
  std::uint64_t position() const { return pos_; }  // text bytes consumed so far

 private:
  int pending_ = -1;           // high nibble waiting for its partner
  std::uint64_t pending_at_ = 0;
  std::uint64_t pending_line_ = 1, pending_col_ = 1;
  bool comment_ = false;       // skipping to the end of the line
  std::uint64_t pos_ = 0;      // offset of the next text byte
  std::uint64_t line_ = 1;     // line of the next text byte
  std::uint64_t line_start_ = 0;
  std::optional<Error> error_;
};

}  // namespace m2m::cli
