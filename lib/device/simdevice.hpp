// A simulated ESP8266 device, as the seed's module behaves per m2m-protocol(7), without I/O.
//
// It stands on a Session (login, token, heartbeats, backoff) and adds what a device does:
//   * term.config_read / config_write of the nine parameters (sim_params.hpp; version is read
//     only: a write gets status fail), a heartbeat interval written applies at once;
//   * term.reboot: generic reply, drop the connection, come back after reboot_time and log in
//     again (a new token);
//   * the fallback server (parameter 0x0006) used only while the main one refuses or is
//     unreachable, the main one re-checked every recheck_interval (20 min, CONFIGURATION
//     PARAMETERS);
//   * the OTA client (ota_client.hpp) and P2P (p2p.hpp);
//   * a term.event 0x20 (working status) when its user asks;
//   * anything else addressed to it: status 0x03 unsupported (REQUESTS AND REPLIES); a frame
//     whose token is not its own is ignored and counted (Tokens).
//
// The caller (the I/O driver, sim_driver.hpp; tests) owns the sockets and the clock:
//   on_frame(f, from, now)  every frame received, from the platform (from = nullptr) or a
//                           peer's UDP address;
//   connected / connection_lost   as the platform connection comes and goes;
//   poll(now) -> next wake-up     sends what is due and reports through SimOutput.
// Per-device memory is a Session, a parameter pointer (null until written), and an OTA and
// a P2P pointer (null unless in use); every setting shared by the devices of a process lives
// in one SimConfig.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "device/ota_client.hpp"
#include "device/p2p.hpp"
#include "device/session.hpp"
#include "device/sim_params.hpp"

namespace m2m::device {

struct SimConfig {
  SessionConfig session;                 // role device; heartbeat follows ParamValues
  ParamValues defaults;                  // every device starts with these
  Millis reboot_time{3'000};             // off the air after term.reboot
  Millis recheck_interval{20 * 60'000};  // back to the main server while on the fallback
  OtaConfig ota;
  P2pConfig p2p;
  WallClock wall = &system_wall_clock;
};

// What the device reports (the -v JSON Lines events of m2m-simdevice, tests).
enum class SimEventKind : std::uint8_t {
  connecting,      // text: host:port
  login,           // text: host:port; on_fallback
  login_failed,    // reason
  logout,          // reason: reboot, recheck, link_lost, closed
  gave_up,         // no attempts left (reason of the last failure)
  reboot,          // text: why ("platform" or "ota")
  token_mismatch,  // a frame with another token, ignored (count in Device::foreign_tokens)
  unsupported,     // a request it does not implement, answered 0x03 (text: the type)
  config_write,    // text: parameter name; status
  ota,             // text: progress or outcome ("upgrade ok: app-v2.bin 1048576 bytes")
  p2p,             // text: state ("direct 203.0.113.7:4000", "relay: punch timed out")
  reply,           // the reply to a request it sent for its user (uplink, relay, group list)
};
std::string_view to_string(SimEventKind k);

struct SimEvent {
  SimEventKind kind;
  std::string_view text = {};
  ErrorKind reason = ErrorKind::bad_value;
  std::uint8_t status = 0;
  const ai::FrameView* frame = nullptr;  // reply: the frame
};

class SimDevice;

// The driver's side. Frames are views valid only during the call.
class SimOutput {
 public:
  virtual void connect(SimDevice& d, const ai::ServerAddr& to) = 0;  // open; then connected()
  virtual void disconnect(SimDevice& d) = 0;                          // drop the platform link
  virtual void send(SimDevice& d, const ai::FrameView& f) = 0;        // to the platform
  virtual void send_peer(SimDevice& d, const ai::FrameView& f, const PeerAddr& to) = 0;  // UDP
  virtual void received(SimDevice& d, const ai::FrameView& f, const PeerAddr* from) = 0;  // data for the user
  virtual void event(SimDevice& d, const SimEvent& e) = 0;

 protected:
  ~SimOutput() = default;
};

class SimDevice final : private Sink {
 public:
  SimDevice(const SimConfig& cfg, std::uint64_t id, const ai::Password& password, SimOutput& out);
  ~SimDevice();
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;

  void start(Time now);
  void connected(Time now);
  void connection_lost(Time now, ErrorKind why);
  // `from`: the UDP source of a frame that came from a peer (or on the device's UDP socket
  // from anywhere but the platform); nullptr: from the platform connection.
  void on_frame(const ai::FrameView& f, const PeerAddr* from, Time now);
  Time poll(Time now);

  // The user's requests; false when not logged in (nothing sent).
  bool uplink(ByteView payload, Time now);
  bool relay(std::uint64_t target, ByteView payload, Time now);
  bool group_list(std::uint16_t start, Time now);
  bool working_event(std::string_view description, Time now);
  // Peer data: direct when P2P is up with `target`, else by relay. false: not logged in.
  bool send_to_peer(std::uint64_t target, ByteView payload, Time now);
  // Asks for an introduction to `target` at every login (until P2P is up).
  void p2p_with(std::uint64_t target, Time now);

  std::uint64_t id() const { return session_.id(); }
  const Session& session() const { return session_; }
  const Params& params() const { return params_; }
  Params& params() { return params_; }
  bool on_fallback() const { return flags_ & kOnFallback; }
  bool rebooting() const { return reboot_at_ != kNever; }
  const OtaClient* ota() const { return ota_.get(); }
  const P2pLink* p2p() const { return p2p_.get(); }
  std::uint32_t logins() const { return logins_; }
  std::uint32_t foreign_tokens() const { return session_.foreign_tokens(); }
  const ai::ServerAddr& target() const;  // where the next connection goes
  const SimConfig& config() const { return *cfg_; }

  std::uint32_t slot = 0;  // the driver's index, untouched here

 private:
  static constexpr std::uint8_t kOnFallback = 1, kConnected = 2;
  void send(const ai::FrameView& f) override;  // Sink: the session's frames
  void event(const Event& e) override;          // Sink: the session's events
  void session_event(const Event& e, Time now);
  void request_frame(const ai::FrameView& f, const PeerAddr* from, Time now);
  void reply(const ai::FrameView& req, std::uint8_t status, ByteView data = {});
  bool send_request(std::uint8_t cls, std::uint8_t cmd, ByteView data, Time now);
  void reboot(Time now, std::string_view why);
  void drop(Time now, std::string_view why);
  void login_failed(const Event& e, Time now);
  void note(SimEventKind k, std::string_view text = {}, ErrorKind reason = ErrorKind::bad_value, std::uint8_t status = 0);
  void apply_heartbeat(Time now);
  void ota_step(Time now);
  void p2p_step(Time now);

  const SimConfig* cfg_;
  SimOutput* out_;
  Session session_;
  Params params_;
  std::unique_ptr<OtaClient> ota_;
  std::unique_ptr<P2pLink> p2p_;
  Time now_{};              // the time of the call in progress (for Sink callbacks)
  Time reboot_at_ = kNever;
  Time recheck_at_ = kNever;
  std::uint32_t logins_ = 0;
  std::uint8_t flags_ = 0;
};

// A thousand devices in one process, and the load tester's 100,000: the per-device part is
// kept under this (the shared parts are in SimConfig; parameters, OTA and P2P only when used).
inline constexpr std::size_t kMaxSimDeviceSize = 192;
static_assert(sizeof(SimDevice) <= kMaxSimDeviceSize, "lib/device SimDevice grew past its budget");

}  // namespace m2m::device
