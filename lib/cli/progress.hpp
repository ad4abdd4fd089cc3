// A progress line on stderr (DESIGN.md, command-line conventions): on a terminal one line
// redrawn in place with '\r'; otherwise (a file, a pipe, a CI log) one plain line per update,
// so logs stay readable. Colour only on a terminal and only when NO_COLOR is unset.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace m2m::cli {

class ProgressLine {
 public:
  // Decides from the stream: a terminal redraws; colour follows NO_COLOR.
  explicit ProgressLine(std::FILE* out = stderr);
  // For tests and for programs that decide themselves (--progress plain).
  ProgressLine(std::FILE* out, bool redraw, bool color) : out_(out), redraw_(redraw), color_(color) {}
  ProgressLine(const ProgressLine&) = delete;
  ~ProgressLine() { finish(); }

  // Shows `line` (no newline in it): redrawn over the previous one on a terminal (padded with
  // spaces where the previous one was longer), a new line otherwise. Flushes.
  void update(std::string_view line);
  // Ends a redrawn line with a newline, so what follows starts on a fresh line.
  void finish();

  bool redraws() const { return redraw_; }
  bool color() const { return color_; }
  // `text` in bold where colour is allowed, as it is otherwise.
  std::string bold(std::string_view text) const;

 private:
  std::FILE* out_;
  bool redraw_;
  bool color_;
  bool showing_ = false;     // a redrawn line is on the screen without its newline
  std::size_t last_width_ = 0;
};

// True when NO_COLOR is set to a non-empty value (no-color.org).
bool no_color_requested();

}  // namespace m2m::cli
