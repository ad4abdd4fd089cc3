// Streaming hex text (DESIGN "Hex text input", the semantics of m2m::parse_hex_text): hex
// digits, whitespace ignored, `#` starts a comment to the end of the line. Unlike
// parse_hex_text it takes the text in chunks of any size (a byte pair, a comment or a line may
// span chunks) and keeps going after a bad character, so a long capture never has to be held
// in memory and one typo does not lose the rest.
//
// It also reads the spellings people paste from elsewhere:
//  * `0x55`: a `0x` (or `0X`) prefix on a word;
//  * `55:1E`: `:` separates like whitespace;
//  * `xxd` dumps: a line whose first word is 8 to 16 hex digits followed by `:` and a space
//    (or the end of the line) starts with an offset column, which is skipped; on such a line
//    two spaces in a row end the hex area, and the ASCII column after them is skipped.
// A line's first word is held back (at most 16 digits) until it is known not to be an
// offset, which is why finish() may still produce bytes.
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
  // End of text: appends the bytes of a held first word to `out`; an odd digit left over is
  // an error (bad_hex at that digit).
  std::optional<Error> finish(Bytes& out);

  std::optional<Error>& error() { return error_; }
  std::uint64_t position() const { return pos_; }  // text bytes consumed so far

 private:
  void digit(int value, std::uint64_t at, bool word_start, Bytes& out);
  void flush_held(Bytes& out);
  Error bad_character(std::uint8_t c, std::uint64_t at);

  int pending_ = -1;           // high nibble waiting for its partner
  std::uint64_t pending_at_ = 0;
  std::uint64_t pending_line_ = 1, pending_col_ = 1;
  bool pending_word_start_ = false;  // the pending digit began a word: an `x` may follow it
  bool comment_ = false;       // skipping to the end of the line
  bool line_head_ = true;      // only whitespace so far on this line
  bool after_separator_ = true;// the previous character was whitespace, `:` or a line start
  std::uint8_t held_[16] = {}; // digit values of the line's first word (a possible xxd offset)
  std::uint8_t held_n_ = 0;
  std::uint64_t held_at_ = 0;  // text offset of held_[0]
  bool held_colon_ = false;    // the held word ended with `:`; the next character decides
  bool xxd_line_ = false;      // this line began with an offset column
  bool after_space_ = false;   // xxd line: the previous character was a space
  std::uint64_t pos_ = 0;      // offset of the next text byte
  std::uint64_t line_ = 1;     // line of the next text byte
  std::uint64_t line_start_ = 0;
  std::optional<Error> error_;
};

}  // namespace m2m::cli
