// Memory per session of a running m2m-server: opens N TCP device sessions (from several
// 127.0.0.x source addresses) and M UDP device sessions, logs each in, heartbeats each, and
// prints the growth of the server's VmRSS per session. Run by scripts/bench-server, which
// prepares the registry: device ids first-id .. first-id+count-1, password = the id's 8 bytes.
//
//   bench_server_memory --pid PID --port PORT [--tcp 10000] [--udp 50000] [--first-id 0x10000000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "m2m/deframer.hpp"
#include "m2m/frame.hpp"

using namespace m2m;
using Clock = std::chrono::steady_clock;

namespace {

long vm_rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

Bytes login_frame(std::uint64_t id) {
  Bytes pw;
  put_be64(pw, id);
  ai::Frame f;
  f.cls = ai::cls::link;
  f.cmd = 0x00;
  f.seq = 1;
  f.device = id;
  f.data = pw;
  return *ai::encode(f);
}

Bytes heartbeat_frame(std::uint64_t id, const Bytes& token, std::uint16_t seq) {
  ai::Frame f;
  f.cls = ai::cls::link;
  f.cmd = 0x01;
  f.seq = seq;
  f.device = id;
  f.token = token;
  return *ai::encode(f);
}

// Reads from a blocking socket until one frame arrives (or 5 s pass); returns it.
bool read_frame(int fd, ai::Frame& out) {
  ai::Deframer d;
  std::uint8_t buf[2048];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    d.feed(ByteView(buf, static_cast<std::size_t>(n)));
    ai::DeframeEvent ev;
    while (d.next(ev))
      if (ev.ok) {
        out = ai::Frame::from(ev.frame);
        return true;
      }
  }
}

void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int pid = 0, port = 0;
  long tcp_n = 10000, udp_n = 50000;
  std::uint64_t first = 0x10000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--pid") pid = std::atoi(v);
    else if (k == "--port") port = std::atoi(v);
    else if (k == "--tcp") tcp_n = std::atol(v);
    else if (k == "--udp") udp_n = std::atol(v);
    else if (k == "--first-id") first = std::strtoull(v, nullptr, 0);
  }
  if (!pid || !port) {
    std::fprintf(stderr, "usage: bench_server_memory --pid PID --port PORT [--tcp N] [--udp M] [--first-id ID]\n");
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<std::uint16_t>(port));
  server.sin_addr.s_addr = htonl(0x7F000001);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long base = vm_rss_kib(pid);
  std::printf("server pid %d, baseline VmRSS %ld KiB (registry loaded)\n", pid, base);

  // ---- TCP ----
  auto t0 = Clock::now();
  std::vector<int> fds;
  std::vector<Bytes> tokens;
  fds.reserve(static_cast<std::size_t>(tcp_n));
  for (long i = 0; i < tcp_n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000002u + static_cast<std::uint32_t>(i / 20000));  // 127.0.0.2, .3, …
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) die("bind");
    if (connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) die("connect");
    const std::uint64_t id = first + static_cast<std::uint64_t>(i);
    Bytes login = login_frame(id);
    if (send(fd, login.data(), login.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(login.size())) die("send");
    ai::Frame reply;
    if (!read_frame(fd, reply) || reply.status != ai::status::ok || reply.data.size() != 9) {
      std::fprintf(stderr, "TCP login %ld refused or unanswered\n", i);
      return 1;
    }
    tokens.emplace_back(reply.data.begin() + 1, reply.data.end());
    fds.push_back(fd);
  }
  double login_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (int round = 0; round < 2; ++round)
    for (std::size_t i = 0; i < fds.size(); ++i) {
      const std::uint64_t id = first + i;
      Bytes hb = heartbeat_frame(id, tokens[i], static_cast<std::uint16_t>(2 + round));
      send(fds[i], hb.data(), hb.size(), MSG_NOSIGNAL);
      ai::Frame reply;
      if (!read_frame(fds[i], reply) || reply.status != ai::status::ok) {
        std::fprintf(stderr, "TCP heartbeat %zu unanswered\n", i);
        return 1;
      }
    }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long after_tcp = vm_rss_kib(pid);
  if (tcp_n > 0)
    std::printf("TCP: %ld sessions logged in (%.2fs) and heartbeating; VmRSS %ld -> %ld KiB = %.0f bytes per session\n",
                tcp_n, login_s, base, after_tcp, (after_tcp - base) * 1024.0 / static_cast<double>(tcp_n));

  // ---- UDP: several sockets, each carrying many device ids ----
  const int kSockets = 16;
  std::vector<int> us;
  for (int s = 0; s < kSockets; ++s) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000001);
    bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
    connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server);
    us.push_back(fd);
  }
  const std::uint64_t ufirst = first + static_cast<std::uint64_t>(tcp_n);
  std::vector<Bytes> utokens(static_cast<std::size_t>(udp_n));
  t0 = Clock::now();
  long lost = 0;
  // Batches of 8 datagrams per socket, then read the replies: no flood, bounded waits.
  auto exchange = [&](bool login, int round) {
    const long batch = 8;  // 128 datagrams in flight: fits the default socket buffers
    for (long b = 0; b < udp_n; b += batch * kSockets) {
      long sent = 0;
      for (long k = b; k < std::min(udp_n, b + batch * kSockets); ++k) {
        const std::uint64_t id = ufirst + static_cast<std::uint64_t>(k);
        Bytes f = login ? login_frame(id) : heartbeat_frame(id, utokens[static_cast<std::size_t>(k)],
                                                            static_cast<std::uint16_t>(2 + round));
        send(us[static_cast<std::size_t>(k % kSockets)], f.data(), f.size(), 0);
        ++sent;
      }
      std::uint8_t buf[2048];
      for (long got = 0; got < sent;) {
        bool any = false;
        for (int fd : us) {
          ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
          if (n <= 0) continue;
          any = true;
          ++got;
          auto un = Bytes();
          if (!ai::unescape(ByteView(buf, static_cast<std::size_t>(n)), un)) continue;
          auto fr = ai::decode(un);
          if (!fr) continue;
          if (login && fr->status == ai::status::ok && fr->data.size() == 9 && fr->device >= ufirst)
            utokens[fr->device - ufirst].assign(fr->data.begin() + 1, fr->data.end());
        }
        if (!any) {  // poll, not select: these descriptors are above FD_SETSIZE
          std::vector<pollfd> pfds;
          for (int fd : us) pfds.push_back(pollfd{fd, POLLIN, 0});
          if (poll(pfds.data(), pfds.size(), 200) == 0) {
            lost += sent - got;
            break;
          }
        }
      }
    }
  };
  exchange(true, 0);
  double ulogin_s = std::chrono::duration<double>(Clock::now() - t0).count();
  exchange(false, 0);
  exchange(false, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long after_udp = vm_rss_kib(pid);
  long logged = 0;
  for (const auto& t : utokens) logged += t.size() == 8;
  if (udp_n > 0)
    std::printf("UDP: %ld of %ld sessions logged in (%.2fs, %ld replies lost) and heartbeating; VmRSS %ld -> %ld KiB = "
                "%.0f bytes per session\n",
                logged, udp_n, ulogin_s, lost, after_tcp, after_udp,
                (after_udp - after_tcp) * 1024.0 / static_cast<double>(logged ? logged : 1));
  for (int fd : fds) close(fd);
  for (int fd : us) close(fd);
  return 0;
}
