// Simulated devices on the network: one SimDevice each (simdevice.hpp), driven on lib/net's
// event loop (TCP connections, or one UDP socket per device, bound to a port of its own and
// kept for the life of the process, for the platform and the P2P peers alike: hole punching
// needs the platform and the peer to see the same address) with one coarse tick that polls
// the devices that are due. What the program does with the
// events and the data the devices receive is the FleetUser's (m2m-simdevice prints them).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/loop.hpp"
#include "device/simdevice.hpp"
#include "m2m/deframer.hpp"

namespace m2m::device {

class FleetUser {
 public:
  virtual void event(SimDevice& d, const SimEvent& e) = 0;
  // A frame for the user (downlink, relay, P2P data, a reply to its request); `raw` is its
  // wire bytes, `peer` the address it came from.
  virtual void received(SimDevice& d, const ai::FrameView& f, ByteView raw, std::string_view peer) = 0;
  virtual void input(int fd) { (void)fd; }  // a watched descriptor is readable
  virtual void tick(Time now) { (void)now; }

 protected:
  ~FleetUser() = default;
};

class SimFleet final : private net::Loop::Handler, private SimOutput {
 public:
  SimFleet(const SimConfig& cfg, FleetUser& user, CrcVariant crc = CrcVariant::modbus);
  ~SimFleet();

  SimDevice& add(std::uint64_t id, const ai::Password& password);
  Result<void> open();
  Result<void> watch_input(int fd);
  void unwatch_input(int fd) { loop_.unwatch(fd); }
  // Starts every device and runs until stop() (or `stop_fn`, checked every tick); returns 1
  // when epoll failed.
  int run(bool (*stop_fn)());
  void stop() { stop_.request(); }
  // After a call into a device from outside the loop (the user's requests): sends what is due.
  void poke(SimDevice& d);

  std::size_t size() const { return devices_.size(); }
  SimDevice& at(std::size_t i) { return devices_[i]; }
  SimDevice* find(std::uint64_t id);
  std::size_t logged_in() const;
  bool all_failed() const;
  ErrorKind last_failure() const { return last_failure_; }

 private:
  struct Link {
    int fd = -1;       // the platform channel while connected: a TCP connection, or udp_fd
    int udp_fd = -1;   // the device's UDP socket, opened at its first UDP connect
    bool udp = false;
    net::Address platform;                  // where the platform frames go (and come from, over UDP)
    std::unique_ptr<ai::Deframer> deframer; // TCP: a frame split across reads
  };
  // net::Loop::Handler
  const char* accepted(int, int, const net::Address&) override { return "not listening"; }
  void connected(int fd, const Error* failure) override;
  void received(int fd, ByteView bytes) override;
  void ended(int fd, const char* reason) override;
  void datagram(int fd, const net::Address& from, ByteView bytes) override;
  void ready(int fd, std::uint32_t) override { user_.input(fd); }
  void tick() override;
  // SimOutput
  void connect(SimDevice& d, const ai::ServerAddr& to) override;
  void disconnect(SimDevice& d) override;
  void send(SimDevice& d, const ai::FrameView& f) override;
  void send_peer(SimDevice& d, const ai::FrameView& f, const PeerAddr& to) override;
  void received(SimDevice& d, const ai::FrameView& f, const PeerAddr* from) override;
  void event(SimDevice& d, const SimEvent& e) override;

  int slot_of(int fd) const;
  void map_fd(int fd, std::size_t slot);
  void settle(Time now);  // connection outcomes noted during a device call, then polls
  void poll_device(std::size_t slot, Time now);
  Result<net::Address> resolve(const ai::ServerAddr& to);

  const SimConfig* cfg_;
  FleetUser& user_;
  CrcVariant crc_;
  net::Loop loop_;
  net::Stop stop_;
  bool (*stop_fn_)() = nullptr;
  std::deque<SimDevice> devices_;
  std::vector<Link> links_;
  std::vector<Time> wake_;
  std::vector<int> fd_slot_;  // by fd; -1: none
  std::vector<std::pair<std::size_t, ErrorKind>> lost_;  // noted during a device call
  std::vector<std::size_t> up_;                           // UDP "connections" ready
  std::map<std::string, net::Address> resolved_;
  std::vector<std::unique_ptr<ai::Deframer>> retired_;  // dropped during received(), freed after it
  Bytes wire_;
  ByteView current_raw_;
  std::string current_peer_;
  ErrorKind last_failure_ = ErrorKind::unavailable;
};

}  // namespace m2m::device
