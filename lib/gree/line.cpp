#include "gree/line.hpp"

#include <cctype>

namespace m2m::gree {

std::string LineSettings::describe() const {
  return std::to_string(baud) + " " + std::to_string(data_bits) + parity + std::to_string(stop_bits);
}

bool parse_frame_format(const std::string& s, LineSettings& out) {
  if (s.size() != 3) return false;
  const char d = s[0], p = static_cast<char>(std::toupper(static_cast<unsigned char>(s[1]))), st = s[2];
  if (d < '5' || d > '8' || (p != 'E' && p != 'O' && p != 'N') || (st != '1' && st != '2')) return false;
  out.data_bits = d - '0';
  out.parity = p;
  out.stop_bits = st - '0';
  return true;
}

bool parse_parity(const std::string& s, char& out) {
  if (s == "even" || s == "E" || s == "e") out = 'E';
  else if (s == "odd" || s == "O" || s == "o") out = 'O';
  else if (s == "none" || s == "N" || s == "n") out = 'N';
  else return false;
  return true;
}

LineVerdict judge_line(bool is_pty, const LineSettings& asked, const LineSettings& got) {
  if (got == asked) return LineVerdict::as_asked;
  LineSettings without = asked;
  without.parity = got.parity;
  if (is_pty && got == without) return LineVerdict::pty_without_parity;
  return LineVerdict::refused;
}

}  // namespace m2m::gree
