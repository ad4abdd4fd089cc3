// m2m-send --protocol telematics|sms: offline encoding of telematics frames
// (telematics-protocol(7)) and SMS command texts from flags, --json or JSON Lines, with the
// output modes and exit codes of the AI-Cloud path. No network: these protocols have no
// session in this toolkit.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.hpp"
#include "cli/cli_fwd.hpp"
#include "frame_args.hpp"

namespace m2m::send {

enum class Protocol { ai, telematics, sms };

// Flags of their own (group "Telematics"); TYPE, --json, --body, --data and --seq are shared
// with the AI-Cloud frame flags.
struct TelematicsArgs {
  std::string protocol_name = "ai";  // --protocol
  std::optional<std::string> terminal, additional, encryption, packets, packet, reply_seq, reply_id, result;
  std::vector<std::string> args;  // SMS arguments
  std::vector<const char*> given() const;  // names of the flags given
};

void add_protocol_option(CLI::App& app, TelematicsArgs& args);  // --protocol ai|telematics|sms
void add_telematics_options(CLI::App& app, TelematicsArgs& args);

struct TelematicsRun {
  Protocol protocol = Protocol::telematics;
  std::string out_name;  // raw | hex | json | "" (raw, or hex on a terminal)
  bool from_stdin = false, pretty = false, quiet = false, verbose = false;
};

// Validates the flag combination and writes the frame(s); returns the exit code.
int run_telematics(std::string_view prog, const TelematicsRun& run, const FrameArgs& frame, const TelematicsArgs& targs);

// main's --protocol switch. telematics/sms: --server, the other network options (`net_opts`)
// and --crc are usage errors, --encode means --stdin --out raw, and the frames are encoded
// offline (run_telematics; `run.protocol` is set here). ai: the telematics-only flags are
// usage errors. Returns the exit code, or -1 to go on with --protocol ai.
int dispatch_protocol(std::string_view prog, TelematicsRun run, bool encode, const CLI::Option* server,
                      const std::vector<CLI::Option*>& net_opts, bool crc_given, const FrameArgs& frame,
                      const TelematicsArgs& targs);

}  // namespace m2m::send
