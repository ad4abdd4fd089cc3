// The Gree line (4800 8E1) and the one decision about a port that does not take it: a real
// port is an error, never a silent 8N1; only a pseudo-terminal may run without parity.
#include <doctest/doctest.h>

#include "gree/line.hpp"

using namespace m2m::gree;

TEST_CASE("gree line: 8E1 or an error on a real port; only a pty may run without parity") {
  const LineSettings asked;  // 4800 8E1
  LineSettings no_parity = asked;
  no_parity.parity = 'N';
  CHECK(judge_line(false, asked, asked) == LineVerdict::as_asked);
  CHECK(judge_line(true, asked, asked) == LineVerdict::as_asked);
  CHECK(judge_line(false, asked, no_parity) == LineVerdict::refused);  // never a silent 8N1
  CHECK(judge_line(true, asked, no_parity) == LineVerdict::pty_without_parity);
  LineSettings slow = no_parity;
  slow.baud = 9600;
  CHECK(judge_line(true, asked, slow) == LineVerdict::refused);  // only parity may differ, even on a pty
  LineSettings seven = asked;
  seven.data_bits = 7;
  CHECK(judge_line(false, asked, seven) == LineVerdict::refused);
  CHECK(asked.describe() == "4800 8E1");
  LineSettings parsed;
  CHECK(parse_frame_format("8n1", parsed));
  CHECK(parsed.describe() == "4800 8N1");
  CHECK_FALSE(parse_frame_format("9E1", parsed));
}
