// m2m-send: build AI-Cloud frames from flags or JSON Lines and write them out (raw, hex or
// JSON); with --server, send them over TCP/UDP and print what comes back.
#include <string>
#include <vector>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "cli/input.hpp"
#include "cli/output.hpp"
#include "cli/session_options.hpp"
#include "encode_lines.hpp"
#include "frame_args.hpp"
#include "frame_writer.hpp"
#include "m2m/json.hpp"
#include "session.hpp"
#include "telematics_send.hpp"

namespace {

constexpr const char* kProg = "m2m-send";

int usage_error(const std::string& message) {
  m2m::cli::error(kProg, message);
  std::fprintf(stderr, "Try '%s --help' for more information.\n", kProg);
  return m2m::cli::usage;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace m2m;
  send::FrameArgs frame_args;
  std::string out_name;
  bool from_stdin = false, encode = false, pretty = false, quiet = false, verbose = false;
  CrcVariant crc = CrcVariant::modbus;
  send::SessionOptions net;
  send::TelematicsArgs telematics_args;

  CLI::App app{"Build one AI-Cloud M2M frame from flags (or many from JSON Lines on stdin) and write it\n"
               "out as wire bytes, hex or JSON."};
  cli::setup_app(app, kProg);
  send::add_protocol_option(app, telematics_args);
  send::add_frame_options(app, frame_args);
  send::add_telematics_options(app, telematics_args);
  app.add_flag("--stdin", from_stdin, "Read frames as JSON Lines (m2m-decode's schema) from stdin; error\n"
                                      "objects and blank lines are skipped, bad lines reported and skipped");
  app.add_flag("--encode", encode, "Same as --stdin --out raw (m2m-decode | m2m-send --encode)");
  app.add_option("-o,--out", out_name, "Output: raw (default when stdout is not a terminal), hex (one line per\n"
                                       "frame; default on a terminal) or json (the decoded frame)")
      ->check(CLI::IsMember({"raw", "hex", "json"}))
      ->type_name("FORMAT");
  std::string format_name;
  app.add_option("-f,--format", format_name, "With --server: the records as json (JSON Lines, the default) or text\n"
                                             "(one summary line per frame)")
      ->check(CLI::IsMember({"json", "text"}))
      ->type_name("FORMAT");
  app.add_flag("-p,--pretty", pretty, "Indent JSON output (--out json, or --server)");
  cli::add_crc(app, crc);
  app.add_flag("-q,--quiet", quiet, "No per-line error messages with --stdin (the exit status still says 3)");
  app.add_flag("-v,--verbose", verbose, "Describe each frame built on stderr (one summary line)");

  // Network half: every flag below needs --server. --device and --password are frame flags
  // that also name the session's login.
  cli::SessionArgs session_args;
  const cli::SessionOptionSet session_opts = cli::add_session_options(app, session_args, /*with_identity=*/false);
  std::vector<CLI::Option*> net_opts = session_opts.others;
  net_opts.push_back(session_opts.password_file);
  net_opts.push_back(cli::add_count(app, "-n,--count", net.count, "Wait for N received frames instead of just the reply;\n"
                                                                  "with --listen, stop after N")->group("Network"));
  net_opts.push_back(app.add_flag("-l,--listen", net.listen, "Log in and print what arrives (uplinks, events, …) until -n\n"
                                                             "frames or the -t time; reaching -t ends normally (exit 0)")->group("Network"));
  net_opts.push_back(app.get_option("--format"));
  if (int rc = cli::parse(app, kProg, argc, argv); rc >= 0) return rc;

  const send::TelematicsRun run{send::Protocol::ai, out_name, from_stdin, pretty, quiet, verbose};
  if (int rc = send::dispatch_protocol(kProg, run, encode, session_opts.server, net_opts, app.count("--crc") > 0, frame_args,
                                       telematics_args);
      rc >= 0)
    return rc;

  // The environment never turns frame output into a send: M2M_SERVER is the address when a
  // network option asks for a session without --server.
  bool networked = session_opts.server->count() > 0;
  if (!networked && cli::env_value(cli::kEnvServer))
    for (CLI::Option* o : net_opts) networked = networked || o->count() > 0;
  if (networked) {
    if (!out_name.empty() && out_name != "json") return usage_error("with --server the output is JSON Lines; drop --out " + out_name);
    if (encode) return usage_error("--encode writes frames out; use --stdin with --server");
    if (net.listen && (from_stdin || !frame_args.type.empty() || frame_args.json))
      return usage_error("--listen sends no frame of its own; drop TYPE/--stdin");
    if (!net.listen && !from_stdin && frame_args.type.empty() && !frame_args.json)
      return usage_error("nothing to send: give a TYPE, --json, --stdin or --listen");
    if (auto r = send::share_identity(frame_args, session_args); !r) return usage_error(r.error().message);
    if (auto r = send::apply_session_args(session_args, net); !r) return usage_error(r.error().message);
    if (app.count("--timeout") == 0) net.timeout = net.listen ? std::chrono::milliseconds(0) : std::chrono::milliseconds(10'000);
    net.crc = crc;
    net.pretty = pretty;
    net.text = format_name == "text";
    if (net.text && pretty) return usage_error("--pretty applies to JSON records, not --format text");
    if (!quiet) send::warn_without_password(kProg, net, from_stdin || frame_args.token || frame_args.json ||
                                                            frame_args.type == "link.login" || frame_args.type == "platform.login");
    cli::install_interrupt_flag();
    cli::RecordOutput out;
    send::Session session(kProg, net, out);
    if (net.listen) return session.listen();
    if (from_stdin) {
      if (!frame_args.type.empty() || frame_args.json) return usage_error("--stdin reads whole frames; drop TYPE/--json");
      auto in = cli::InputFile::open("-");
      return session.run_script(*in);
    }
    auto j = send::frame_json(frame_args, /*password_in_body=*/false);
    if (!j) return usage_error(j.error().message);
    return session.send_one(*j);
  }
  for (CLI::Option* o : net_opts)
    if (o->count() > 0) return usage_error(o->get_name() + " needs --server (or M2M_SERVER)");

  if (encode) {
    if (!out_name.empty() && out_name != "raw") return usage_error("--encode writes raw bytes; drop --out " + out_name);
    from_stdin = true;
    out_name = "raw";
  }
  if (from_stdin && frame_args.any())
    return usage_error("--stdin reads whole frames; TYPE and frame flags (--device, --seq, …) cannot be added");
  if (!from_stdin && !frame_args.any()) return usage_error("nothing to send: give a TYPE (link.heartbeat, …), --json or --stdin");
  if (pretty && out_name != "json") return usage_error("--pretty applies to --out json");
  const send::OutMode mode = out_name == "json" ? send::OutMode::json
                             : out_name == "hex" ? send::OutMode::hex
                             : out_name == "raw" ? send::OutMode::raw
                             : cli::stdout_is_terminal() ? send::OutMode::hex
                                                         : send::OutMode::raw;
  cli::install_interrupt_flag();
  cli::RecordOutput out;
  send::FrameWriter writer(mode, pretty, crc, out);

  if (from_stdin) {
    auto in = cli::InputFile::open("-");
    return send::encode_lines(kProg, *in, writer, out, quiet, verbose);
  }

  auto j = send::frame_json(frame_args);
  if (!j) return usage_error(j.error().message);
  auto frame = ai::frame_from_json(*j);
  if (!frame) return usage_error(frame.error().message);
  if (auto r = writer.write(frame->view()); !r) return usage_error(r.error().message);
  if (verbose) std::fprintf(stderr, "%s: %s\n", kProg, ai::frame_summary(frame->view()).c_str());
  if (!out.flush()) return cli::ok;
  return cli::ok;
}
