// The I/O under the simulated devices: a small epoll loop with non-blocking TCP connects
// (net::connect_socket), unconnected UDP sockets (one per UDP device, so the platform and P2P
// peers are reached from one address and port, as hole punching needs), a watched input
// descriptor (stdin) and a coarse tick. Its Handler mirrors lib/net's coming event loop
// (connected / received / ended / datagram / ready / tick), so the fleet moves onto that loop
// by swapping this class. Closes are deferred to the end of the event, as there.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "net/endpoint.hpp"
#include "net/socket.hpp"

namespace m2m::device {

class SimIo {
 public:
  class Handler {
   public:
    virtual void connected(int fd, const Error* failure) = 0;  // a connect finished (failure: then closed)
    virtual void received(int fd, ByteView bytes) = 0;          // TCP bytes
    virtual void ended(int fd, ErrorKind why) = 0;              // the peer closed or the socket failed
    virtual void datagram(int fd, const net::Address& from, ByteView bytes) = 0;
    virtual void ready(int fd) = 0;                             // a watched descriptor is readable
    virtual void tick() = 0;

   protected:
    ~Handler() = default;
  };

  explicit SimIo(Handler& h) : h_(h) {}
  ~SimIo();
  SimIo(const SimIo&) = delete;
  SimIo& operator=(const SimIo&) = delete;

  Result<void> open();
  Result<int> connect_tcp(const net::Address& to);
  Result<int> open_udp(int family);  // bound to the wildcard address, a port the kernel picks
  Result<void> watch(int fd);        // not owned
  void unwatch(int fd);
  // TCP: sends now or queues (bounded); false when the connection must close.
  bool send(int fd, ByteView bytes);
  bool send_to(int fd, const net::Address& to, ByteView bytes);
  void close(int fd);  // deferred to the end of the current event
  // Runs until `*stop` or stop_fn() says so (checked every tick and event); 0, or 1 when
  // epoll fails.
  int run(const bool* stop, bool (*stop_fn)(), std::chrono::milliseconds tick);
  std::size_t open_sockets() const { return kinds_.size() - free_count(); }

 private:
  enum class Kind : std::uint8_t { none, connecting, tcp, udp, watched, closing };
  std::size_t free_count() const;
  bool add(net::Fd fd, std::uint32_t events, Kind kind);
  bool add_watch(int fd);
  void release_closed();
  void readable(int fd);
  void writable(int fd);

  Handler& h_;
  net::Fd epoll_;
  std::vector<Kind> kinds_;  // by fd
  std::vector<net::Fd> owned_;  // by fd (watched descriptors are not owned)
  std::vector<int> closing_;
  std::unordered_map<int, Bytes> queued_;  // only while the kernel send buffer is full
  Bytes rx_ = Bytes(64 * 1024);
};

}  // namespace m2m::device
