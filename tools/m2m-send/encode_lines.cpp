#include "encode_lines.hpp"

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "m2m/json.hpp"

namespace m2m::send {

int encode_lines(std::string_view prog, cli::InputFile& in, FrameWriter& writer, cli::RecordOutput& out, bool quiet,
                 bool verbose) {
  cli::LineReader lines(in);
  bool bad = false;
  const auto report = [&](const std::string& message) {
    bad = true;
    if (!quiet) cli::error(prog, message);
  };
  std::string_view line;
  for (;;) {
    if (cli::interrupted()) return cli::exit_after_interrupt();
    if (!lines.line_ready()) out.flush();  // batch per input chunk; never hold records while waiting
    if (!out.ok()) return cli::ok;         // the reader went away
    auto more = lines.next(line);
    if (!more) {
      if (more.error().kind == ErrorKind::io) {
        cli::error(prog, more.error().message);
        out.flush();
        return cli::failure;
      }
      report(more.error().message);  // an over-long line
      continue;
    }
    if (!*more) break;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const auto where = [&] { return "line " + std::to_string(lines.line_number()) + ": "; };
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      report(where() + "not a JSON object");
      continue;
    }
    if (j.contains("error")) continue;  // an m2m-decode error record: nothing to rebuild
    auto frame = ai::frame_from_json(j);
    if (!frame) {
      report(where() + frame.error().message);
      continue;
    }
    if (auto r = writer.write(frame->view()); !r) {
      report(where() + r.error().message);
      continue;
    }
    if (verbose) std::fprintf(stderr, "%.*s: line %llu: %s\n", static_cast<int>(prog.size()), prog.data(),
                              static_cast<unsigned long long>(lines.line_number()), ai::frame_summary(frame->view()).c_str());
  }
  out.flush();
  if (cli::interrupted()) return cli::exit_after_interrupt();
  return bad ? cli::protocol : cli::ok;
}

}  // namespace m2m::send
