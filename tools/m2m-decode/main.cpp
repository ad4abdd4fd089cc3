// m2m-decode: AI-Cloud wire bytes (files or stdin; raw or hex text) -> JSON Lines or text.
// --protocol telematics|sms goes to telematics_decoder.cpp.
#include <memory>
#include <string>
#include <vector>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "cli/output.hpp"
#include "stream_decoder.hpp"
#include "telematics_decoder.hpp"

namespace {

constexpr const char* kProg = "m2m-decode";

}  // namespace

int main(int argc, char** argv) {
  using namespace m2m;
  decode::Options opt;
  std::vector<std::string> files;
  std::string format = "json";
  bool no_raw = false;
  bool verbose = false;
  std::string protocol_name = "ai";

  CLI::App app{"Decode AI-Cloud M2M frames (or, with --protocol, telematics frames or SMS commands) from files\n"
               "or stdin into JSON Lines (one object per frame, one error object per bad frame or skipped\n"
               "garbage; decoding always continues)."};
  cli::setup_app(app, kProg);
  app.add_option("files", files, "Input files; '-' or none reads stdin. With more than one input each record\n"
                                 "gets a \"file\" member and offsets restart at 0 in each file")
      ->type_name("FILE");
  app.add_option("--protocol", protocol_name,
                 "Protocol of the input: ai (AI-Cloud M2M, the default), telematics (vehicle\n"
                 "protocol V1.02, see telematics-protocol(7)) or sms (its text commands, one a line)")
      ->check(CLI::IsMember({"ai", "telematics", "sms"}))
      ->type_name("PROTOCOL");
  app.add_flag("-x,--hex", opt.hex,
               "Input is hex text: hex digits, whitespace ignored, '#' comments; also 0x55, 55:1D and\n"
               "xxd dumps (offset and ASCII columns ignored)");
  app.add_option("-f,--format", format, "Output format: json (JSON Lines) or text (one summary line per frame)")
      ->check(CLI::IsMember({"json", "text"}))
      ->type_name("FORMAT");
  app.add_flag("-p,--pretty", opt.pretty, "Indent each JSON object over several lines");
  cli::add_count(app, "-n,--count", opt.count, "Stop after N decoded frames (0: no limit)");
  cli::add_crc(app, opt.crc);
  app.add_flag("--no-raw", no_raw, "Leave the \"raw\" member out of decoded frames");
  app.add_flag("--ts", opt.ts, "Add a \"ts\" member (time of decoding, ISO-8601 UTC, ms)");
  app.add_flag("-q,--quiet", opt.quiet, "Print no error objects (the exit status still reports them)");
  app.add_flag("-v,--verbose", verbose, "Print totals (frames, errors, bytes) on stderr at the end");
  if (int rc = cli::parse(app, kProg, argc, argv); rc >= 0) return rc;
  const auto protocol = protocol_name == "telematics" ? decode::Protocol::telematics
                       : protocol_name == "sms"      ? decode::Protocol::sms
                                                     : decode::Protocol::ai;
  opt.text = format == "text";
  opt.raw = !no_raw;
  if (opt.text && opt.pretty) {
    cli::error(kProg, "--pretty applies to JSON output, not --format text");
    return cli::usage;
  }
  if (files.empty()) files.push_back("-");
  if (protocol != decode::Protocol::ai) {
    if (app.count("--crc") > 0) {
      cli::error(kProg, "--crc applies to --protocol ai (the telematics checksum is XOR)");
      return cli::usage;
    }
    if (protocol == decode::Protocol::sms && opt.hex) {
      cli::error(kProg, "--hex applies to frames; SMS commands are text");
      return cli::usage;
    }
    cli::install_interrupt_flag();
    return decode::run_telematics(kProg, protocol, opt, files, verbose);
  }
  cli::install_interrupt_flag();

  return decode::decode_files(kProg, opt, files, verbose, "frame",
                              [&](cli::RecordOutput& out, decode::Totals& totals, std::string file) {
                                return std::make_unique<decode::StreamDecoder>(opt, totals, out, std::move(file));
                              });
}
