// The serial line a Gree unit needs (gree-protocol(7) "LINE": 4800 baud, 8E1) and the one decision
// about a port that does not take it. Pure: gree-ctl's serial_port reads termios and asks here.
#pragma once

#include <string>

namespace m2m::gree {

struct LineSettings {
  int baud = 4800;
  char parity = 'E';  // 'E' even, 'O' odd, 'N' none
  int data_bits = 8;
  int stop_bits = 1;
  std::string describe() const;  // "4800 8E1"
  friend bool operator==(const LineSettings&, const LineSettings&) = default;
};

// "8E1" / "7O2" / "8N1" into settings (baud untouched).
bool parse_frame_format(const std::string& s, LineSettings& out);
bool parse_parity(const std::string& s, char& out);  // even|odd|none (or E|O|N)

// What the port runs after configuring it, against what was asked. A unit rejects bytes with
// the wrong parity, so a real port that cannot do the asked parity is an error, never a
// silent 8N1. Only a pseudo-terminal (the emulator, socat) has no parity hardware to set:
// there, and only for parity, the line runs without it.
enum class LineVerdict { as_asked, pty_without_parity, refused };
LineVerdict judge_line(bool is_pty, const LineSettings& asked, const LineSettings& got);

}  // namespace m2m::gree
