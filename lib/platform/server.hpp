// The AI-Cloud platform: one single-threaded epoll loop serving devices and platform clients
// on one TCP port and one UDP port (PROTOCOL-NOTES §1.2–1.4).
//
// Memory design (the target is < 0.5 KiB per idle TCP device, < 256 B per UDP device):
//  * a flat table of 40-byte connection slots indexed by fd, no per-connection objects;
//  * a device's hot state lives in the registry's fixed record (registry.hpp);
//  * one shared read buffer and one shared deframer; a connection gets a deframer of its own
//    only while a frame is split across reads, and a send queue only while the kernel's send
//    buffer is full (bounded: over --max-send-queue the session is closed, reason slow_reader);
//  * no per-connection timers: one sweep every tick closes sessions whose last frame is older
//    than the heartbeat timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/crc16.hpp"
#include "m2m/deframer.hpp"
#include "net/endpoint.hpp"
#include "net/socket.hpp"
#include "platform/events.hpp"
#include "platform/registry.hpp"

namespace m2m::platform {

class Store;

struct ServerOptions {
  net::Endpoint listen{0x7F000001, 8266};
  bool reuseport = false;
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds heartbeat_timeout{0};  // 0: 3 x heartbeat_interval
  std::chrono::milliseconds stats_interval{0};     // 0: no stats lines
  std::chrono::milliseconds route_timeout{std::chrono::seconds(30)};
  std::size_t max_send_queue = 64 * 1024;
  std::uint32_t login_fail_limit = 10;             // per source IP per window
  std::chrono::milliseconds login_fail_window{std::chrono::minutes(1)};
  std::uint64_t max_tcp_sessions = 0;              // 0: what the file limit allows
  CrcVariant crc = CrcVariant::modbus;
  bool quiet = false;
};

struct Counters {
  std::uint64_t logins = 0, login_rejected = 0, frames_in = 0, frames_out = 0, relays = 0, drops = 0,
                token_mismatch = 0, bad_frames = 0, uplinks = 0, routed = 0;
  std::uint64_t online_tcp = 0, online_udp = 0, clients = 0;
};

class Server {
 public:
  Server(Registry& registry, Store* store, ServerOptions options);
  ~Server();

  // Binds the sockets and raises the file limit; the listening event is written by run().
  Result<void> open();
  // Serves until SIGINT/SIGTERM (cli::interrupted()); returns the exit code.
  int run();

  const Counters& counters() const { return counters_; }

 private:
  enum class Kind : std::uint8_t { free, pending, device, client };
  struct Conn {
    Kind kind = Kind::free;
    std::uint16_t port = 0;
    std::uint32_t ip = 0;
    std::uint32_t ref = kNone;  // device or account index
    std::uint32_t seen = 0;     // tick of the last frame (or of the accept)
    std::unique_ptr<ai::Deframer> partial;  // only while a frame is split across reads
    std::unique_ptr<Bytes> out;             // only while the kernel send buffer is full
  };
  // Where a frame came from, and where its reply goes.
  struct Source {
    bool udp = false;
    int fd = -1;               // TCP connection
    net::Endpoint from;        // peer address (UDP: datagram source)
  };
  struct Route {               // a client's request forwarded to a device, awaiting its reply
    std::uint32_t account;
    std::int32_t fd;
    std::uint16_t client_seq;
    std::uint8_t cls, cmd;
    std::uint32_t expires;
  };
  struct Throttle {
    std::uint32_t window_start;
    std::uint32_t failures;
  };

  // event loop (server.cpp)
  std::uint32_t now_tick() const;
  void accept_ready();
  void udp_ready();
  void conn_readable(int fd);
  void conn_writable(int fd);
  void close_conn(int fd, std::string_view reason);
  void sweep();
  void write_stats();
  bool send_tcp(int fd, ByteView bytes);
  void send_udp(const net::Endpoint& to, ByteView bytes);
  void send_frame(const Source& to, const ai::FrameView& f);

  // protocol (router.cpp)
  void handle(const Source& src, const ai::FrameView& f);
  void handle_pending(const Source& src, const ai::FrameView& f);
  void device_login(const Source& src, const ai::FrameView& f);
  const char* login_refusal(const Source& src, const ai::FrameView& f, const ai::Password* password, bool enabled);
  void bad_frame(const Source& src, const Error& e);
  const char* group_peer(const DeviceState& self, std::uint64_t id, std::uint32_t& t);
  void client_login(const Source& src, const ai::FrameView& f);
  void device_frame(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void client_frame(std::uint32_t a, const Source& src, const ai::FrameView& f);
  void reply(const Source& src, const ai::FrameView& req, std::uint8_t status, ByteView data, ByteView token);
  bool deliver(std::uint32_t d, std::uint8_t cls, std::uint8_t cmd, ByteView data, std::uint16_t seq, bool udp_only = false);
  void to_clients(std::uint32_t d, std::uint8_t cmd_cls, std::uint8_t cmd, ByteView data);
  void group_list(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void relay(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void p2p_request(std::uint32_t d, const Source& src, const ai::FrameView& f);
  void forward_to_device(std::uint32_t a, const Source& src, const ai::FrameView& f);
  void route_reply(std::uint32_t d, const ai::FrameView& f);
  void add_terminal(std::uint32_t a, const Source& src, const ai::FrameView& f);
  void udp_expire(std::uint32_t d, std::string_view reason);
  bool throttled(std::uint32_t ip);
  void login_failed(std::uint32_t ip);
  void token_mismatch(const Source& src, const ai::FrameView& f);
  Token new_token();
  std::string peer(const Source& src) const;

  Registry& reg_;
  Store* store_;
  ServerOptions opt_;
  EventLog log_;
  Counters counters_;
  net::Fd epoll_, tcp_, udp_, reserve_;
  net::Endpoint bound_;
  std::vector<Conn> conns_;                 // indexed by fd
  std::uint64_t capacity_ = 0;              // TCP sessions the file limit allows
  unsigned long file_limit_ = 0;
  std::uint64_t open_conns_ = 0;
  std::unordered_map<std::uint64_t, Route> routes_;  // key: device index << 16 | platform seq
  std::unordered_map<std::uint32_t, Throttle> throttle_;
  std::uint16_t next_seq_ = 1;
  std::uint32_t timeout_ticks_ = 0;
  std::chrono::steady_clock::time_point start_;
  ai::Deframer scratch_;                    // shared while no frame is split
  Bytes rx_;                                // shared read buffer
  Bytes tx_;                                // encode buffer
};

}  // namespace m2m::platform
