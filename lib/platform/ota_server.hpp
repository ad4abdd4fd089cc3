// A stand-alone firmware update server (m2m-ota-serve(1)) on lib/net's event loop: devices log
// in over TCP (link.login, checked against the passwords it was given, or any with accept_any),
// their heartbeats are answered, each device's software version is read (term.config_read of
// parameter version, m2m-protocol(7) CONFIGURATION PARAMETERS), and the Campaign (ota.hpp)
// decides who gets term.ota_start now; term.ota_frame requests are served from the one image,
// and term.event 0x10 and the re-login with the new version end each device's update.
//
// Memory: per connection a small Conn (device id, token, a deframer); the image is held once
// and every reply is built in one shared buffer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "m2m/deframer.hpp"
#include "m2m/messages.hpp"
#include "net/endpoint.hpp"
#include "net/loop.hpp"
#include "platform/ota.hpp"

namespace m2m::platform::ota {

struct ServerOptions {
  net::Address listen = net::Address::ipv4(0x7F000001, 8266);
  CrcVariant crc = CrcVariant::modbus;
  std::uint16_t frame_size_cap = 0;     // a request for larger frames gets status fail; 0: no cap
  Millis version_timeout{5'000};        // no config_read reply within this: version unknown
  Millis heartbeat_timeout{180'000};    // a connection silent this long is closed
  Millis run_timeout{0};                // stop after this long; 0: never
  bool until_done = false;              // stop once the campaign is done
  bool accept_any = false;              // any id and password may log in
  int announce_checksum = -1;           // 0..255: announced instead of the image's (a corrupted-image test)
};

// What the server tells its owner (m2m-ota-serve prints it).
struct Observer {
  // A device's phase changed (starting, transferring, rebooting); `t` is its transfer.
  std::function<void(const Transfer& t)> changed;
  // A device finished (ok or failed).
  std::function<void(const Transfer& t)> finished;
  // Once per tick, for a redrawn summary.
  std::function<void()> tick;
};

class Server final : net::Loop::Handler {
 public:
  // `passwords`: who may log in (ignored with accept_any). The campaign's targets are set by
  // the caller (campaign().add_target) before run().
  Server(ImagePtr image, CampaignOptions campaign, ServerOptions options,
         std::unordered_map<std::uint64_t, ai::Password> passwords, Observer observer);
  ~Server() override;

  Campaign& campaign() { return campaign_; }
  Result<void> open();
  const net::Address& bound() const { return bound_; }
  // Serves until `stop` is requested, the campaign is done (until_done) or run_timeout
  // passes; 0, or 1 when the loop failed.
  int run(net::Stop& stop);
  bool finished_by_timeout() const { return timed_out_; }
  bool finished_by_campaign() const { return campaign_done_; }
  std::uint64_t bytes_served() const { return bytes_served_; }
  std::uint64_t logins() const { return logins_; }

 private:
  struct Conn {
    std::uint64_t device = 0;  // 0 until logged in
    ai::Password token{};
    std::unique_ptr<ai::Deframer> deframer;
    Time seen{};
    Time version_asked{};      // a config_read is outstanding since (epoch: none)
    std::uint16_t version_seq = 0;
    bool logged_in = false;
  };

  const char* accepted(int fd, int listener, const net::Address& from) override;
  void received(int fd, ByteView bytes) override;
  void ended(int fd, const char* reason) override;
  void released(int fd) override;
  void tick() override;

  void frame(int fd, Conn& c, const ai::FrameView& f);
  void login(int fd, Conn& c, const ai::FrameView& f);
  void version_known(int fd, Conn& c, std::string version);
  void start(std::uint64_t device);
  void send(int fd, const ai::FrameView& f);
  void reply(int fd, const Conn& c, const ai::FrameView& req, std::uint8_t status, ByteView data);
  void serve_frame(int fd, Conn& c, const ai::FrameView& f);
  void report(std::uint64_t device = 0);

  ImagePtr image_;
  Campaign campaign_;
  ServerOptions opt_;
  std::unordered_map<std::uint64_t, ai::Password> passwords_;
  Observer obs_;
  net::Loop loop_;
  net::Address bound_;
  net::Stop* stop_ = nullptr;
  std::unordered_map<int, Conn> conns_;
  std::unordered_map<std::uint64_t, int> by_device_;  // logged-in device -> fd
  std::unordered_map<std::uint64_t, Phase> shown_;    // last phase reported to changed()
  Bytes tx_;
  std::uint16_t seq_ = 1;
  Time start_{};
  std::uint64_t bytes_served_ = 0, logins_ = 0;
  std::uint64_t token_state_;
  bool timed_out_ = false, campaign_done_ = false;
};

}  // namespace m2m::platform::ota
