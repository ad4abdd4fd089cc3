// One single-threaded epoll event loop for the programs that hold many sockets: the platform
// (m2m-server), and the clients that hold many sessions (simulated devices, load tests). It
// owns sockets, send queues and time; what the bytes mean is the Handler's business (no
// framing here: lib/net includes only lib/core).
//
// Memory design (a server holds 10,000s of connections, a load test 18,000 per process):
//  * one small slot per descriptor, in tables indexed by fd: the send queue pointer (set only
//    while the kernel's send buffer is full) and one byte of state (9 bytes a connection);
//  * one shared read buffer: received bytes are handed to the Handler, which keeps what it
//    needs (a split frame) and nothing else;
//  * no per-connection timers: the Handler gets one tick() per tick (Options::tick) and
//    sweeps its own sessions.
//
// Closes are deferred (docs/ARCHITECTURE.md, "closes are deferred"): close(fd) only marks the
// connection; the loop frees its send queue, descriptor and slot at the end of the current
// event (after the Handler call that caused it returns), then calls Handler::released(fd).
// So a Handler may close any connection, even the one whose bytes it is reading, and a view
// into that connection's data stays valid until its call returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "net/endpoint.hpp"
#include "net/socket.hpp"

struct epoll_event;  // <sys/epoll.h>

namespace m2m::net {

// Ends Loop::run from a signal handler or another thread: request() is async-signal-safe
// (an atomic store and a write(2) to an eventfd the loop polls).
class Stop {
 public:
  Stop();
  Stop(const Stop&) = delete;
  Stop& operator=(const Stop&) = delete;
  void request() noexcept;
  bool requested() const noexcept { return requested_.load(std::memory_order_relaxed); }
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
  std::atomic<bool> requested_{false};
};

// An errno of connect/recv/send as the shared vocabulary: refused connects, resets and
// unreachable networks are `unavailable`, ETIMEDOUT is `timeout`, EPIPE/ESHUTDOWN `closed`,
// anything else `io`.
ErrorKind error_kind(int err);

class Loop {
 public:
  struct Options {
    std::chrono::microseconds tick{100'000};  // Handler::tick cadence (kept to the microsecond: epoll_pwait2)
    std::size_t max_send_queue = 64 * 1024;    // bytes queued per blocked connection
    std::size_t read_buffer = 64 * 1024;       // the one shared read buffer
  };

  class Handler {
   public:
    virtual ~Handler() = default;
    // A TCP connection was accepted on a listener (already non-blocking, in the loop).
    // Return nullptr to keep it, or why it is refused: it is then closed at once, without
    // released() (the per-address caps and session limits of the caller go here).
    virtual const char* accepted(int fd, int listener, const Address& from) = 0;
    // accept() failed for want of descriptors (EMFILE/ENFILE): the loop took the connection
    // with its spare descriptor and closed it, so the listen queue drains.
    virtual void refused_file_limit(int listener) { (void)listener; }
    // A connect() started by connect() completed (failure == nullptr) or failed (the
    // connection is then closed, deferred, and released() follows). The failure's message is
    // the system's ("Connection refused"): the owner names the peer.
    virtual void connected(int fd, const Error* failure) { (void)fd, (void)failure; }
    // Bytes from a TCP connection; the view is valid during the call only.
    virtual void received(int fd, ByteView bytes) = 0;
    // The peer closed ("closed") or the connection failed ("error"). The loop
    // closes it after this call (the Handler may also close it itself, with its reason).
    virtual void ended(int fd, const char* reason) = 0;
    // A closed connection's descriptor and slot are free (the end of an event).
    virtual void released(int fd) { (void)fd; }
    // One datagram on a UDP socket of open_udp(); the view is valid during the call only.
    virtual void datagram(int fd, const Address& from, ByteView bytes) { (void)fd, (void)from, (void)bytes; }
    // A watched descriptor (watch()) is ready; `events` are EPOLLIN/EPOLLOUT/EPOLLERR bits.
    virtual void ready(int fd, std::uint32_t events) { (void)fd, (void)events; }
    virtual void tick() {}
    // Every ready event of one wait (and the tick, when due) has been handled: the place to
    // write what was gathered during them in one system call (the cluster's NATS buffer).
    virtual void batch_done() {}
  };

  Loop(Handler& handler, Options options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // The epoll instance and the spare descriptor; call once before anything else.
  Result<void> open();

  // A listening TCP socket at `at` (IPv4, or IPv6 — a wildcard [::] also takes IPv4 peers,
  // as IPv4-mapped addresses); returns its descriptor. The loop owns it.
  Result<int> listen_tcp(const Address& at, bool reuseport = false, int backlog = 4096);
  // A bound UDP socket; datagrams go to Handler::datagram.
  Result<int> open_udp(const Address& at, bool reuseport = false);
  // A non-blocking TCP connect (net::connect_socket: with `source`, bound there first, and
  // without a source port through IP_BIND_ADDRESS_NO_PORT); Handler::connected reports the
  // outcome. Errors here are the immediate ones (no descriptor, bad source address).
  Result<int> connect(const Address& to, const Address* source = nullptr);
  // Another descriptor (a serial port, a thread's eventfd) in the same loop: Handler::ready.
  // `events`: EPOLLIN and/or EPOLLOUT. The caller keeps ownership; unwatch before closing it.
  Result<void> watch(int fd, std::uint32_t events);
  void unwatch(int fd);

  // Queues `bytes` for the TCP connection `fd` (sends at once when the kernel takes them).
  // Returns nullptr when accepted, or why the connection must close: "slow_reader" (the
  // bounded queue would overflow) or "error". The loop does not close it: the caller does,
  // with that reason, so its users see it.
  const char* send(int fd, ByteView bytes);
  // One datagram from the UDP socket `fd`; false when the kernel dropped it.
  bool send_to(int fd, const Address& to, ByteView bytes);
  // Marks a connection closing (idempotent); it is freed at the end of the current event.
  void close(int fd);
  bool closing(int fd) const;
  // Frees what was closed since (the loop does this after every event and tick; a caller
  // acting outside run() may call it).
  void release_closed();

  // Runs until `stop` is requested; 0, or 1 when epoll fails (written to stderr).
  int run(const Stop& stop);

  std::uint64_t connections() const { return connections_; }  // accepted + connecting/connected
  std::size_t queued(int fd) const;                            // bytes waiting in fd's send queue
  std::size_t slots() const { return slots_.size(); }

 private:
  enum class Kind : std::uint8_t { none, conn, connecting, closing, listener, udp, watched };
  struct Slot {
    std::unique_ptr<Bytes> out;  // only while the kernel send buffer is full
  };

  int wait_events(std::vector<epoll_event>& events, std::chrono::nanoseconds wait);
  bool add(int fd, std::uint32_t events, Kind kind);
  void set_events(int fd, std::uint32_t events);
  void accept_ready(int listener);
  void udp_ready(int fd);
  void conn_readable(int fd);
  void conn_writable(int fd);
  void connect_done(int fd);

  Handler& h_;
  Options opt_;
  Fd epoll_, reserve_;
  std::vector<Fd> owned_;                   // listeners and UDP sockets
  std::vector<Slot> slots_;                 // indexed by fd
  std::vector<Kind> kinds_;                 // indexed by fd (one byte)
  std::vector<int> closing_;                // closed during the current event
  std::uint64_t connections_ = 0;
  bool no_pwait2_ = false;                  // the kernel lacks epoll_pwait2 (before 5.11)
  Bytes rx_;                                // the shared read buffer
};

}  // namespace m2m::net
