// m2m-send --server: one session with a platform (or any peer). The session logic (login as a
// device or an account, token, sequence numbers, heartbeats, reply matching) is
// lib/device's Session and the socket is lib/net's Connection; this part prints every frame
// received as JSON Lines (m2m-decode's schema plus ts/peer/dir) and turns what happened into
// the toolkit's exit codes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/input.hpp"
#include "cli/output.hpp"
#include "cli/record_writer.hpp"
#include "cli/session_options.hpp"
#include "device/session.hpp"
#include "m2m/deframer.hpp"
#include "net/endpoint.hpp"
#include "net/socket.hpp"

namespace m2m::send {

struct SessionOptions {
  net::HostPort server;
  bool udp = false;
  std::optional<std::uint64_t> device;   // log in as this device (and default header id)
  std::optional<std::uint64_t> account;  // log in as this platform client account instead
  std::optional<ai::Password> password;  // login password; none: no automatic login
  std::chrono::milliseconds timeout{0};  // 0: no limit
  std::chrono::milliseconds heartbeat{30'000};  // keep-alive interval; 0: none
  std::optional<net::Address> bind;      // connect from this local address
  std::uint64_t count = 0;  // -n: frames to wait for; 0: until the reply
  bool listen = false;
  bool verbose = false;   // also print sent frames and heartbeat replies
  bool quiet = false;     // no per-line messages (script)
  bool pretty = false;
  bool text = false;      // --format text: one summary line per record
  CrcVariant crc = CrcVariant::modbus;
};

// Fills the network half of `opt` from the shared session options: the address parsed by
// net::parse_host_port (a bad one is a usage error), the identity checked.
Result<void> apply_session_args(const cli::SessionArgs& args, SessionOptions& opt);

// --server without a password: nothing logs in, so say that the frame goes without a token and
// the platform will drop it (or, with --listen, that nothing will arrive). `frame_may_log_in`:
// the frame is a login, or brings its own token (--token, --json, --stdin lines): no warning.
void warn_without_password(std::string_view prog, const SessionOptions& opt, bool frame_may_log_in);

class Session : private device::Sink {
 public:
  Session(std::string_view prog, const SessionOptions& opt, cli::RecordOutput& out);

  // Each returns the exit code of the whole run.
  int send_one(const nlohmann::json& frame);  // the frame built from flags
  int run_script(cli::InputFile& in);         // --stdin: JSON Lines, one frame per line
  int listen();                               // --listen: print what arrives

 private:
  using Clock = device::Clock;
  using Deadline = net::Deadline;
  // How a wait ended: ok = the reply (or the -n frames) arrived; otherwise the error.
  using Wait = Result<void>;

  int start(bool frame_is_login);  // connect and log in; -1 when ready
  int login();
  // Fills what the session knows (token, seq, device) where the JSON object leaves it out.
  Result<ai::Frame> complete(const nlohmann::json& j);
  Result<void> transmit(const ai::FrameView& f);
  // Receives and prints frames until the session's reply slot is answered, `want` frames have
  // arrived (count mode), or the deadline passes; sends heartbeats when due.
  Wait wait(std::uint64_t want, Deadline deadline);
  void handle(const ai::DeframeEvent& ev, bool& matched, std::uint64_t& received);
  void print_frame(const ai::FrameView& f, ByteView raw, const char* dir);
  void print_error(const Error& e, ByteView raw, std::uint64_t skipped);
  int failure(const Error& e, const std::string& doing);  // prints, returns the exit code
  // The run ends: garbage the deframer still holds (text without a frame head) is printed.
  void finish_input();
  // A peer that answered only with bytes that are not frames: says so; exit 3.
  int not_m2m();
  int reply_failed();  // one line naming the reply that said fail; returns reply_code()
  int reply_code() const;  // exit code for the last reply's status
  Deadline deadline() const;

  // device::Sink: what the session sends by itself (login, heartbeats)
  void send(const ai::FrameView& f) override;
  void event(const device::Event&) override {}

  std::string prog_;
  const SessionOptions& opt_;
  cli::RecordOutput& out_;
  cli::RecordWriter writer_;
  device::SessionConfig cfg_;
  device::Session session_;
  net::Connection conn_;
  ai::Deframer deframer_;
  Bytes rx_;                 // the one receive buffer of the process
  bool rx_pending_ = false;  // the deframer may hold more events of the chunk in rx_
  Bytes wire_;
  std::optional<Error> tx_error_;       // a send from inside the session failed
  std::optional<std::uint8_t> reply_status_;
  bool saw_garbage_ = false;
  bool saw_frame_ = false;
  bool input_finished_ = false;
  std::string reply_what_;  // "term.reboot seq 3": the reply's type and sequence
};

}  // namespace m2m::send
