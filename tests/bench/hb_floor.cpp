// The floor of CPU per TCP heartbeat: a bare epoll loop that accepts TCP connections, reads
// the frames a device sends the platform (link.login, link.heartbeat), and answers each with
// a correct frame built by the toolkit's codec (m2m-protocol(7), COMMANDS), and does nothing
// else: no registry (every password is accepted), no sessions (the token of a login is made
// from the device id, and a heartbeat is answered with the token it carries), no events, no
// timers. m2m-server does the same work plus everything a platform must do; scripts/bench
// capacity floor drives both with the same heartbeats and reports the ratio of their CPU
// seconds per heartbeat (the target: m2m-server within 1.15x of this program).
//
// It reads the way lib/net's loop does (level-triggered epoll, one recv per readiness, one
// shared read buffer, a deframer of its own only for a connection whose frame is split), so
// the difference between the two is the platform's work, not a different I/O pattern.
//
//   bench_hb_floor --port PORT      (127.0.0.1; 0 lets the kernel choose)
// Prints {"event":"listening","port":N} on stdout once it accepts, serves until SIGINT or
// SIGTERM, then prints {"event":"shutdown","logins":…,"heartbeats":…,"other":…,"bad":…}.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loadtest/provision.hpp"
#include "m2m/deframer.hpp"
#include "m2m/frame.hpp"

using namespace m2m;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Counts {
  unsigned long long logins = 0, heartbeats = 0, other = 0, bad = 0, dropped = 0;
};

class Floor {
 public:
  explicit Floor(int epfd) : ep_(epfd) {}

  void accept_all(int listener) {
    for (;;) {
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of descriptors: the backlog waits
      const int one = 1;  // as lib/net's loop does for every TCP connection
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      if (static_cast<std::size_t>(fd) >= partial_.size()) partial_.resize(static_cast<std::size_t>(fd) + 1024);
    }
  }

  void readable(int fd) {
    ssize_t n = ::recv(fd, rx_, sizeof rx_, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(fd);
    if (n < 0) return;
    auto& own = partial_[static_cast<std::size_t>(fd)];
    ai::Deframer& d = own ? *own : scratch_;
    d.feed(ByteView(rx_, static_cast<std::size_t>(n)));
    ai::DeframeEvent ev;
    out_.clear();
    while (d.next(ev)) {
      if (!ev.ok) {
        ++counts_.bad;
        continue;
      }
      answer(ev.frame);
    }
    if (&d == &scratch_ && !scratch_.idle()) {
      own = std::make_unique<ai::Deframer>(std::move(scratch_));
      scratch_ = ai::Deframer();
    } else if (own && own->idle()) {
      own.reset();
    }
    if (!out_.empty() && ::send(fd, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(out_.size())) {
      // A heartbeat reply that does not fit an empty kernel send buffer means a peer that
      // does not read: the floor keeps no send queue, it drops the connection (counted).
      ++counts_.dropped;
      drop(fd);
    }
  }

  const Counts& counts() const { return counts_; }

 private:
  void answer(const ai::FrameView& f) {
    if (f.status != ai::status::request) return;  // a reply from the device: nothing to say
    ai::FrameView r{f.cls, f.cmd, f.seq, 0, ai::status::ok, f.device, f.token, {}};
    std::uint8_t login_data[9];
    if (f.cls == ai::cls::link && f.cmd == 0x00) {  // link.login: ok, token field "8 token"
      const std::uint64_t t = loadtest::splitmix64(f.device);
      login_data[0] = 8;
      for (int i = 0; i < 8; ++i) login_data[1 + i] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
      r.token = {};
      r.data = ByteView(login_data, sizeof login_data);
      ++counts_.logins;
    } else if (f.cls == ai::cls::link && f.cmd == 0x01) {  // link.heartbeat: generic ok, its own token
      ++counts_.heartbeats;
    } else {
      r.status = ai::status::unsupported;
      ++counts_.other;
    }
    if (!ai::encode(r, CrcVariant::modbus, out_)) ++counts_.bad;
  }

  void drop(int fd) {
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    partial_[static_cast<std::size_t>(fd)].reset();
  }

  int ep_;
  std::uint8_t rx_[64 * 1024];
  Bytes out_;
  ai::Deframer scratch_;
  std::vector<std::unique_ptr<ai::Deframer>> partial_;
  Counts counts_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = -1;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--port") port = std::atoi(argv[i + 1]);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr,
                 "usage: bench_hb_floor --port PORT\n"
                 "  serves link.login and link.heartbeat on 127.0.0.1:PORT (0: any free port) with no\n"
                 "  platform logic, as the floor of CPU per heartbeat; stop it with SIGTERM\n");
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 4096) != 0) {
    std::fprintf(stderr, "bench_hb_floor: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = ls;
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  auto floor = std::make_unique<Floor>(ep);
  std::printf("{\"event\":\"listening\",\"port\":%d}\n", ntohs(a.sin_port));
  std::fflush(stdout);

  std::vector<epoll_event> events(1024);
  while (!g_stop) {
    // The same wait as lib/net's loop between its 100 ms ticks.
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("bench_hb_floor: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == ls)
        floor->accept_all(ls);
      else
        floor->readable(fd);
    }
  }
  const Counts& c = floor->counts();
  std::printf("{\"event\":\"shutdown\",\"logins\":%llu,\"heartbeats\":%llu,\"other\":%llu,\"bad\":%llu,\"dropped\":%llu}\n",
              c.logins, c.heartbeats, c.other, c.bad, c.dropped);
  return 0;
}
