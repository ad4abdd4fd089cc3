// Simulated devices on the network: one SimDevice each (simdevice.hpp), driven over SimIo
// (TCP connections, or one unconnected UDP socket per device for the platform and P2P peers)
// with one coarse tick that polls the devices that are due. What the program does with the
// events and the data the devices receive is the FleetUser's (m2m-simdevice prints them).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "device/sim_io.hpp"
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

class SimFleet final : private SimIo::Handler, private SimOutput {
 public:
  SimFleet(const SimConfig& cfg, FleetUser& user, CrcVariant crc = CrcVariant::modbus);
  ~SimFleet();

  SimDevice& add(std::uint64_t id, const ai::Password& password);
  Result<void> open();
  Result<void> watch_input(int fd) { return io_.watch(fd); }
  void unwatch_input(int fd) { io_.unwatch(fd); }
  // Starts every device and runs until stop() (or `stop_fn`); returns 1 when epoll failed.
  int run(bool (*stop_fn)(), Millis tick = Millis(100));
  void stop() { stopping_ = true; }
  // After a call into a device from outside the loop (the user's requests): sends what is due.
  void poke(SimDevice& d);

  std::size_t size() const { return devices_.size(); }
  SimDevice& at(std::size_t i) { return devices_[i]; }
  SimDevice* find(std::uint64_t id);
  std::size_t logged_in() const;
  bool all_failed() const;
  ErrorKind last_failure() const { return last_failure_; }
  std::string_view server_peer(const SimDevice& d) const;

 private:
  struct Link {
    int fd = -1;
    bool udp = false;
    net::Address platform;                  // where the platform frames go (and come from, over UDP)
    std::unique_ptr<ai::Deframer> deframer; // TCP: a frame split across reads
  };
  // SimIo::Handler
  void connected(int fd, const Error* failure) override;
  void received(int fd, ByteView bytes) override;
  void ended(int fd, ErrorKind why) override;
  void datagram(int fd, const net::Address& from, ByteView bytes) override;
  void ready(int fd) override { user_.input(fd); }
  void tick() override;
  // SimOutput
  void connect(SimDevice& d, const ai::ServerAddr& to) override;
  void disconnect(SimDevice& d) override;
  void send(SimDevice& d, const ai::FrameView& f) override;
  void send_peer(SimDevice& d, const ai::FrameView& f, const PeerAddr& to) override;
  void received(SimDevice& d, const ai::FrameView& f, const PeerAddr* from) override;
  void event(SimDevice& d, const SimEvent& e) override;

  int slot_of(int fd) const;
  void settle(Time now);  // connection outcomes noted during a device call, then polls
  void poll_device(std::size_t slot, Time now);
  Result<net::Address> resolve(const ai::ServerAddr& to);

  const SimConfig* cfg_;
  FleetUser& user_;
  CrcVariant crc_;
  SimIo io_;
  std::deque<SimDevice> devices_;
  std::vector<Link> links_;
  std::vector<Time> wake_;
  std::vector<int> fd_slot_;  // by fd; -1: none
  std::vector<std::pair<std::size_t, ErrorKind>> lost_;  // noted during a device call
  std::vector<std::size_t> up_;                           // UDP "connections" ready
  std::map<std::string, net::Address> resolved_;
  Bytes wire_;
  ByteView current_raw_;
  std::string current_peer_;
  ErrorKind last_failure_ = ErrorKind::unavailable;
  bool stopping_ = false;
};

}  // namespace m2m::device
