#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdlib>

namespace m2m::cli {
namespace {

// Columns a UTF-8 line takes, near enough for padding: continuation bytes do not count.
std::size_t width_of(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

bool no_color_requested() {
  const char* v = std::getenv("NO_COLOR");
  return v != nullptr && *v != '\0';  // no-color.org: present and not empty
}

ProgressLine::ProgressLine(std::FILE* out) : out_(out) {
  const bool tty = isatty(fileno(out)) == 1;
  redraw_ = tty;
  color_ = tty && !no_color_requested();
}

void ProgressLine::update(std::string_view line) {
  if (!redraw_) {
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
    return;
  }
  std::fputc('\r', out_);
  std::fwrite(line.data(), 1, line.size(), out_);
  const std::size_t w = width_of(line);
  for (std::size_t i = w; i < last_width_; ++i) std::fputc(' ', out_);
  last_width_ = w;
  showing_ = true;
  std::fflush(out_);
}

void ProgressLine::finish() {
  if (!showing_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  showing_ = false;
  last_width_ = 0;
}

std::string ProgressLine::bold(std::string_view text) const {
  if (!color_) return std::string(text);
  return "\x1b[1m" + std::string(text) + "\x1b[0m";
}

}  // namespace m2m::cli
