// m2m-send --server: one session with a platform (or any peer). It logs in as a device
// (A0 00) or a platform client account (EF 00), sends frames, prints every frame it receives
// as JSON Lines (m2m-decode's schema plus ts/peer/dir), keeps itself alive with heartbeats,
// and turns what happened into the toolkit's exit codes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/input.hpp"
#include "cli/output.hpp"
#include "connection.hpp"
#include "m2m/deframer.hpp"

namespace m2m::send {

struct SessionOptions {
  std::string server;  // host:port
  bool udp = false;
  std::optional<std::uint64_t> device;   // log in as this device (and default header id)
  std::optional<std::uint64_t> account;  // log in as this platform client account instead
  std::optional<std::string> password;   // login password; no password: no automatic login
  std::chrono::milliseconds timeout{0};  // 0: no limit
  std::chrono::milliseconds heartbeat{30'000};  // keep-alive interval; 0: none
  std::uint64_t count = 0;  // -n: frames to wait for; 0: until the reply
  bool listen = false;
  bool verbose = false;   // also print sent frames and heartbeat replies
  bool quiet = false;     // no per-line messages (script)
  bool pretty = false;
  CrcVariant crc = CrcVariant::modbus;
};

class Session {
 public:
  Session(std::string_view prog, const SessionOptions& opt, cli::RecordOutput& out);

  // Each returns the exit code of the whole run.
  int send_one(const nlohmann::json& frame);  // the frame built from flags
  int run_script(cli::InputFile& in);         // --stdin: JSON Lines, one frame per line
  int listen();                               // --listen: print what arrives

 private:
  enum class Wait { matched, timeout, closed, unavailable, failed, interrupted };
  struct Expect {  // the reply we wait for
    std::uint8_t cls = 0, cmd = 0;
    std::uint16_t seq = 0;
    bool active = false;
  };

  int start(bool frame_is_login);  // connect and log in; -1 when ready
  int login();
  // Fills what the session knows (token, seq, device) where the JSON object leaves it out.
  Result<ai::Frame> complete(const nlohmann::json& j);
  NetStatus transmit(const ai::Frame& f);
  // Receives and prints frames until `expect` is answered (matched, reply in last_reply_),
  // `want` frames have arrived (count mode), or the deadline passes.
  Wait wait(const Expect& expect, std::uint64_t want, Deadline deadline);
  void handle(const ai::DeframeEvent& ev, const Expect& expect, bool& matched, std::uint64_t& received);
  void print_frame(const ai::FrameView& f, ByteView raw, const char* dir);
  void print_error(const Error& e, ByteView raw, std::uint64_t skipped);
  static Wait to_wait(NetStatus s);
  int net_failure(NetStatus s, const std::string& doing);
  int reply_code();     // exit code for last_reply_'s status
  Deadline deadline() const;
  std::uint16_t next_seq() { return seq_++; }
  bool logged_in() const { return token_.has_value(); }

  std::string prog_;
  const SessionOptions& opt_;
  cli::RecordOutput& out_;
  Connection conn_;
  ai::Deframer deframer_;
  Bytes rx_;
  bool rx_pending_ = false;  // the deframer may hold more events of the chunk in rx_
  Bytes wire_;
  std::optional<Bytes> token_;
  std::uint16_t seq_ = 1;
  Clock::time_point last_tx_{};
  std::set<std::uint16_t> heartbeat_seqs_;  // our keep-alives whose replies are not news
  std::optional<ai::Frame> last_reply_;
  bool saw_garbage_ = false;
  std::string scratch_;
};

}  // namespace m2m::send
