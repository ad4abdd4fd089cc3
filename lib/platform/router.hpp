// The platform's protocol logic, apart from the event loop: logins and refusals, token checks,
// relay and P2P introduction within a group, uplinks to clients, client requests routed to
// devices and their replies routed back, platform.add_terminal (m2m-protocol(7), COMMANDS
// and DECISIONS). It sends through an Outbox and reads time from a Clock (outbox.hpp), so it
// is unit-tested and fuzzed without sockets.
//
// Memory: one 16-byte Session per TCP descriptor (indexed by fd); a device's hot state lives
// in the registry's fixed record. The loop keeps only the partial-frame deframer and the
// send queue of a connection, and only while they are needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/crc16.hpp"
#include "m2m/frame.hpp"
#include "net/endpoint.hpp"
#include "platform/events.hpp"
#include "platform/ota.hpp"
#include "platform/outbox.hpp"
#include "platform/registry.hpp"
#include "platform/remote.hpp"

namespace m2m::platform {

struct RouterOptions {
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds heartbeat_timeout{0};  // 0: 3 x heartbeat_interval
  std::chrono::milliseconds route_timeout{std::chrono::seconds(30)};
  std::uint32_t login_fail_limit = 10;             // failures per (address, id) before backoff; 0: off
  std::chrono::milliseconds login_fail_window{std::chrono::minutes(1)};
  std::uint32_t max_failed_logins_per_second = 1000;  // global ceiling; 0: none
  std::size_t max_throttle_entries = 100000;       // bound of the throttle table
  enum class UdpTrust : std::uint8_t { same_ip, any } udp_trust = UdpTrust::same_ip;
  std::uint32_t max_terminals_per_account = 1000;  // platform.add_terminal quota; 0: none
  CrcVariant crc = CrcVariant::modbus;
  bool quiet = false;
  // Firmware the platform serves to devices (term.ota_frame) after an operator's
  // term.ota_start; empty: the platform serves none (m2m-server(1), FIRMWARE UPDATES).
  std::string firmware_dir;
};

struct Counters {
  std::uint64_t logins = 0, login_rejected = 0, frames_in = 0, frames_out = 0, relays = 0, drops = 0,
                token_mismatch = 0, bad_frames = 0, uplinks = 0, routed = 0, udp_capped = 0;
  std::uint64_t online_tcp = 0, online_udp = 0, clients = 0;
  // login_rejected by reason (/metrics): unknown, bad_password, disabled, throttled, busy
  std::uint64_t rejected_unknown = 0, rejected_bad_password = 0, rejected_disabled = 0, rejected_throttled = 0,
                rejected_busy = 0;
};

// Reply bytes a datagram may cause toward its own source address (issue #8, amplification):
// at most max(kUdpReplyFloor, kUdpReplyFactor x the request bytes the datagram has brought so
// far), counted as wire bytes out and unescaped frame sizes in (garbage and bad frames count
// for nothing). The source of a datagram is unproven — a spoofed address, or a group member
// who knows a UDP-only device's token — so it never gets more than a few times what it sent:
//   * factor 3, as QUIC allows a server toward an address it has not validated (RFC 9000
//     section 8.1); one datagram full of requests yields at most 3x its bytes;
//   * floor 128 bytes, so that a lone 30-byte data.group_list still carries 4 peer records
//     (3 x 30 would carry 2, doubling a UDP client's round trips); the worst ratio is then
//     128 / 29 = 4.4x, against 46x for a full 59-record page before.
// data.group_list over UDP fills its page up to what is left of the budget (m2m-protocol(7),
// COMMANDS: over UDP a page may be short; ask again until an empty page), and any other reply
// that does not fit is dropped (the client retries). Sends to other addresses (a relay, a P2P
// introduction) are not replies to the source and are not charged: they go to the target's
// recorded endpoint at about 1x the request (docs/SECURITY.md says how a member could still
// point a UDP-only device's endpoint at a victim, and why that stays about 1x).
inline constexpr std::size_t kUdpReplyFactor = 3;
inline constexpr std::size_t kUdpReplyFloor = 128;

// Where a frame came from, and where its reply goes.
struct Source {
  bool udp = false;
  int fd = -1;           // TCP connection
  net::Endpoint from;    // peer address (UDP: datagram source)
};

// Persists the devices clients register (platform.add_terminal). Optional: without one the
// device lives until the server stops. Keeps the router free of SQLite, and the loop free of
// waiting on it: the write happens elsewhere (the server's registry writer thread) and
// `done` runs later on the loop's thread, with nullptr once the device is durable, or the
// reason it was refused ("exists", "store_failed"). It may also run before insert_device
// returns.
class TerminalStore {
 public:
  using Done = std::function<void(const char* refused)>;
  virtual ~TerminalStore() = default;
  virtual void insert_device(const DeviceRecord& d, Done done) = 0;  // refused when the id exists
};

// The operations console (lib/web, m2m-server serve --http) as the router sees it: an operator
// of every group that lives in the server's own process. Its requests get their replies here,
// and it hears every uplink, event and presence change (the console's live views). Every call
// happens on the loop's thread.
class ConsoleSink {
 public:
  virtual ~ConsoleSink() = default;
  // The device's reply to console_command(corr, ...).
  virtual void reply(std::uint32_t corr, std::uint8_t status, ByteView data) = 0;
  // An uplink (data class) or event of a device online here.
  virtual void uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) = 0;
  // A device logged in (TCP or UDP) or went offline.
  virtual void presence(std::uint64_t device, bool online) = 0;
};

class Router {
 public:
  enum class Kind : std::uint8_t { free, pending, device, client, closing };
  struct Session {
    Kind kind = Kind::free;
    std::uint16_t port = 0;
    std::uint32_t ip = 0;
    std::uint32_t ref = kNone;  // device or account index
    std::uint32_t seen = 0;     // tick of the last frame (or of the accept)
  };

  Router(Registry& registry, TerminalStore* store, const RouterOptions& options, Outbox& out, const Clock& clock,
         EventLog& log);

  // The loop's calls. A TCP connection was accepted on `fd`.
  void opened(int fd, const net::Endpoint& from);
  // One frame from a peer. The loop stops feeding frames from a connection once
  // !handles(fd) (it is closing).
  void frame(const Source& src, const ai::FrameView& f);
  void bad_frame(const Source& src, const Error& e);
  bool handles(int fd) const { return live(fd); }
  bool is_open(int fd) const {
    return fd >= 0 && static_cast<std::size_t>(fd) < sessions_.size() &&
           sessions_[static_cast<std::size_t>(fd)].kind != Kind::free;
  }
  // Closes a connection (see outbox.hpp): unbinds its session, writes the logout event, then
  // Outbox::close. No-op when it is already closing or free.
  void close(int fd, std::string_view reason);
  // The loop freed a closing connection: its slot may be reused by the next accept.
  void released(int fd);
  // A datagram begins (the loop then feeds its frames): at most one frame per datagram is
  // answered for a source that has not logged in, and every reply to the datagram's source
  // comes out of one byte budget (kUdpReplyFactor above): no amplification by spoofed sources.
  void begin_datagram() {
    unauth_answered_ = false;
    udp_in_ = udp_out_ = 0;
  }
  // Timeouts of TCP sessions, UDP presences and routes; expiry of the throttle table.
  void sweep();
  void shutdown();
  // The registry file changed under a logged-in device or account (removed, disabled, new
  // password): end its sessions, TCP and UDP, with that reason.
  void revoke_device(std::uint32_t d, std::string_view reason);
  void revoke_account(std::uint32_t a, std::string_view reason);

  // Cluster mode (remote.hpp): the other nodes, consulted only when a target is not online
  // here. Null (the default): a single node, and none of the calls below happen.
  void set_remote(Remote* remote) { remote_ = remote; }
  // What other nodes ask of this one (the cluster calls these on the loop's thread):
  // a relay for a local device (nullptr once handed to its connection, else why not) ...
  const char* remote_relay(std::uint64_t target, ByteView body);
  // ... an operator's request from node `origin` (the device's reply goes back through
  // Remote::command_reply with `corr`) ...
  const char* remote_command(std::uint32_t origin, std::uint32_t corr, std::uint64_t target, std::uint16_t command,
                             ByteView data);
  // ... an uplink or event of a device held there, for the operators here ...
  void remote_uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data);
  // ... a P2P introduction for a local device (sent over UDP) ...
  void remote_introduce(std::uint64_t target, ByteView about);
  // ... and a login of device `id` there: the session here ends (one session per device).
  void moved(std::uint64_t id);

  // The console (ConsoleSink above); null: none. It outlives the router's use of it.
  void set_console(ConsoleSink* console) { console_ = console; }
  // A console request (class << 8 | command) for device `id`: nullptr once sent (the reply
  // comes through ConsoleSink::reply with `corr`), else why not ("unknown", "offline",
  // "send_failed", or an OTA refusal with `message` filled in). Written to the event log as
  // `route` with the console user, as an operator's request is.
  const char* console_command(std::uint32_t corr, std::string_view user, std::uint64_t id, std::uint16_t command,
                              ByteView data, std::string& message);

  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }
  const Session* session(int fd) const {
    return fd >= 0 && static_cast<std::size_t>(fd) < sessions_.size() ? &sessions_[static_cast<std::size_t>(fd)]
                                                                       : nullptr;
  }
  std::size_t session_slots() const { return sessions_.size(); }
  std::size_t routes() const { return routes_.size(); }
  std::size_t throttle_entries() const { return throttle_.size(); }
  std::uint32_t timeout_ticks() const { return timeout_ticks_; }
  // For tests and the fuzz target: every logged-in device is in its group's online index,
  // once, and nothing else is.
  bool online_index_consistent() const;

 private:
  struct Route {  // a client's request forwarded to a device, awaiting its reply
    std::uint32_t account;       // kNone: an operator on another node (cluster mode); kConsole: the console
    std::int32_t fd;             // the client's connection (account kNone: the origin node)
    std::int32_t device_fd;      // the device's TCP session it went out on, or -1 (UDP)
    net::Endpoint device_udp;    // the UDP endpoint it went out to (when device_fd < 0)
    std::uint16_t client_seq;
    std::uint8_t cls, cmd;
    std::uint32_t expires;
    std::uint32_t corr = 0;      // account kNone: the origin node's request number
  };
  struct Throttle {
    std::uint32_t window_start;
    std::uint32_t failures;
    std::uint32_t blocked_until;  // tick; backoff doubles with each failure past the limit
  };

  bool live(int fd) const {
    return fd >= 0 && static_cast<std::size_t>(fd) < sessions_.size() &&
           (sessions_[static_cast<std::size_t>(fd)].kind == Kind::pending ||
            sessions_[static_cast<std::size_t>(fd)].kind == Kind::device ||
            sessions_[static_cast<std::size_t>(fd)].kind == Kind::client);
  }
  Session& sess(int fd) { return sessions_[static_cast<std::size_t>(fd)]; }
  std::uint32_t now() const { return clock_.now_tick(); }
  void unbind(int fd, std::string_view reason);
  bool send_tcp(int fd, ByteView bytes);
  void send_frame(const Source& to, const ai::FrameView& f);
  void reply(const Source& src, const ai::FrameView& req, std::uint8_t status, ByteView data, ByteView token);
  bool answer_unauthenticated(const Source& src);
  // Bytes the current datagram may still send back to its source (SIZE_MAX outside one).
  std::size_t udp_room() const;
  std::size_t wire_size(const ai::FrameView& f);
  void udp_capped(const ai::FrameView& f, std::size_t bytes);

  void device_login(const Source& src, const ai::FrameView& f);
  void client_login(const Source& src, const ai::FrameView& f);
  const char* login_refusal(const Source& src, const ai::FrameView& f, const ai::Password* password, bool enabled);
  bool throttled(std::uint32_t ip, std::uint64_t id);
  void login_failed(std::uint32_t ip, std::uint64_t id);
  const char* group_peer(const DeviceState& self, std::uint64_t id, std::uint32_t& t);
  void device_frame(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void client_frame(std::uint32_t a, const Source& src, const ai::FrameView& f);
  // A request to device `d`; `command` is an ai::cmd key (class << 8 | command).
  bool deliver(std::uint32_t d, std::uint16_t command, ByteView data, std::uint16_t seq, bool udp_only = false);
  void to_clients(std::uint32_t d, std::uint8_t cls, std::uint8_t cmd, ByteView data);
  std::size_t to_local_clients(std::uint64_t dev_id, std::uint32_t group, std::uint8_t cls, std::uint8_t cmd,
                               ByteView data);
  static EventLog::Line fan_out_line(std::uint64_t dev_id, std::uint8_t cls, ByteView data, std::size_t clients);
  void group_list(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void relay(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void relay_remote(std::uint32_t d, const Source& src, const ai::FrameView& f, std::uint64_t target, ByteView body);
  static EventLog::Line route_line(std::uint64_t account, const ai::FrameView& f);
  void relay_outcome(std::uint64_t from, std::uint64_t to, bool has_target, std::size_t bytes, const char* refused,
                     bool remote);
  void forward_remote(std::uint32_t a, const Source& src, const ai::FrameView& f, ByteView data);
  // The session that sent `f` is still the one that sent it (the sender of a cross-node
  // request, whose answer comes later).
  bool same_sender(std::uint32_t d, const Source& src, const Token& tok) const;
  void p2p_request(std::uint32_t d, const Source& src, const ai::FrameView& f);
  // Firmware updates (ota.hpp): the operator's start checked and completed, frames served.
  const char* ota_start(std::uint32_t d, ByteView data, Bytes& filled, std::string& message);
  void ota_frame(std::uint32_t d, const Source& src, const ai::FrameView& f);
  ota::ImagePtr image(const std::string& name, std::string& message, bool reload);
  void forward_to_device(std::uint32_t a, const Source& src, const ai::FrameView& f);
  void route_reply(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void add_terminal(std::uint32_t a, const Source& src, const ai::FrameView& f);
  void udp_expire(std::uint32_t d, std::string_view reason);
  void set_online(std::uint32_t d, bool online);
  void token_mismatch(const Source& src, const ai::FrameView& f, const char* reason = nullptr);
  // Flood-prone events (token_mismatch, bad_frame, login_rejected): past a burst of 10 a
  // second per kind and source address, they are left out; the next one written carries
  // "repeated": N, the number left out meanwhile, and the sweep writes that summary for a
  // source that went quiet. So a flood writes at most ~11 lines a second per source.
  bool rate_limited(const char* kind, std::uint32_t ip, EventLog::Line& line);
  void flush_repeated();
  Token new_token();
  std::string peer(const Source& src) const;

  Registry& reg_;
  TerminalStore* store_;
  RouterOptions opt_;
  Outbox& out_;
  const Clock& clock_;
  EventLog& log_;
  Remote* remote_ = nullptr;
  ConsoleSink* console_ = nullptr;
  Counters counters_;
  std::vector<Session> sessions_;  // indexed by fd
  // Per group, the logged-in members (device indexes sorted by id): data.group_list walks
  // these, not every registered member (4 bytes per online device).
  std::vector<std::vector<std::uint32_t>> online_;
  std::unordered_map<std::uint64_t, Route> routes_;  // key: device index << 16 | platform seq
  // Images by file name, loaded from firmware_dir at an operator's start (reloaded then, so
  // a replaced file is served from the next start on) or at a device's first frame request.
  std::unordered_map<std::string, ota::ImagePtr> images_;
  // Devices updating through this platform (index -> tick of their last frame request): their
  // frame replies over UDP are exempt from the reply budget, which a 1 KiB frame would
  // exceed; the operator's start is what opens the exemption, not the device.
  std::unordered_map<std::uint32_t, std::uint32_t> ota_active_;
  bool unbudgeted_ = false;  // set while sending such a reply
  std::unordered_map<std::uint64_t, Throttle> throttle_;  // key: ip ^ hash(id)
  std::unordered_map<std::uint64_t, std::uint32_t> terminals_added_;  // per account id
  struct Repeats {
    const char* kind;
    std::uint32_t ip;
    std::uint32_t second;
    std::uint32_t written;   // in full, this second
    std::uint32_t left_out;  // since the last line written
  };
  std::unordered_map<std::uint64_t, Repeats> repeats_;  // key: kind pointer ^ ip; bounded
  std::uint32_t fail_second_ = 0, fails_this_second_ = 0;  // global ceiling on failed logins
  std::uint16_t next_seq_ = 1;
  std::uint32_t timeout_ticks_ = 0;
  bool unauth_answered_ = false;
  // The datagram being handled: its source, its request bytes so far, the reply bytes sent
  // back to that source so far. `udp_frame_` is true only while one of its frames is handled.
  bool udp_frame_ = false;
  net::Endpoint udp_src_{};
  std::size_t udp_in_ = 0, udp_out_ = 0;
  Bytes tx_;  // encode buffer
};

}  // namespace m2m::platform
