// m2m-send --stdin without --server: JSON Lines in, one frame out per line.
#pragma once

#include <string_view>

#include "cli/input.hpp"
#include "frame_writer.hpp"

namespace m2m::send {

// Lines that are m2m-decode error objects (an "error" member) and blank lines are skipped
// silently, so `m2m-decode < capture | m2m-send --stdin` works on dirty captures. Any other
// line that does not build a frame is reported on stderr with its line number and skipped.
// Returns the exit code: 0, 3 when a line was bad, 1 on a read failure, 130 interrupted.
// quiet: no per-line messages; verbose: a summary line per frame on stderr.
int encode_lines(std::string_view prog, cli::InputFile& in, FrameWriter& writer, cli::RecordOutput& out, bool quiet,
                 bool verbose);

}  // namespace m2m::send
