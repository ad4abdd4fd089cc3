// The heartbeat driver of `scripts/bench capacity floor`: logs in COUNT TCP devices of a
// provisioned population (loadtest/provision.hpp: the credentials `m2m-loadtest provision`
// prints for the same seed), then sends RATE heartbeats per second spread over them for
// DURATION seconds on an open-loop schedule (a send never waits for a reply), and measures the
// CPU seconds the server process PID spent over exactly that interval (utime + stime of
// /proc/PID/stat, every thread) until every reply is in (or 3 s pass).
//
//   bench_hb_load --port PORT --pid PID --count M --rate N --duration S
//                 [--seed 1] [--groups 1] [--login-rate 5000]
//
// Prints one JSON object on stdout: logins ok/failed, heartbeats sent/acknowledged/late, the
// interval, the server's CPU seconds and microseconds per acknowledged heartbeat, and this
// driver's own CPU. The same program drives bench_hb_floor and m2m-server, so the two figures
// differ only by what the server does with a heartbeat.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "loadtest/provision.hpp"
#include "m2m/deframer.hpp"
#include "m2m/frame.hpp"

using namespace m2m;
using Clock = std::chrono::steady_clock;

namespace {

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// utime + stime of every thread of `pid`, in seconds (fields 14 and 15 of /proc/PID/stat).
double process_cpu_s(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) ut = std::stoull(field);
    if (i == 15) st = std::stoull(field);
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

enum class State : std::uint8_t { idle, connecting, login_sent, online, failed };

struct Conn {
  int fd = -1;
  State state = State::idle;
  std::uint16_t seq = 1;
  std::uint16_t outstanding = 0;  // heartbeats sent and not answered yet (several when the driver is late)
  std::uint8_t token[8]{};
};

struct Driver {
  int ep = -1;
  sockaddr_in server{};
  loadtest::Population pop;
  std::vector<Conn> conns;
  std::vector<ai::Deframer> deframers;
  std::vector<int> by_fd;  // fd -> connection index
  unsigned long long logins_ok = 0, logins_failed = 0, hb_sent = 0, hb_acked = 0, hb_failed = 0, hb_late = 0,
                     send_errors = 0;
  Clock::time_point hb_start;
  double max_rtt_ms = 0;
  std::vector<Clock::time_point> hb_due;  // per connection: the intended time of its outstanding heartbeat
  Bytes tx;
  std::uint8_t rx[64 * 1024];

  explicit Driver(loadtest::Population p) : pop(std::move(p)) {}

  bool start_connect(std::size_t i) {
    Conn& c = conns[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return false;
    int one = 1;
    setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000002u + static_cast<std::uint32_t>(i / 20000));  // 127.0.0.2, .3, …
    ::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
    int r = ::connect(c.fd, reinterpret_cast<sockaddr*>(&server), sizeof server);
    if (r != 0 && errno != EINPROGRESS) {
      ::close(c.fd);
      c.fd = -1;
      c.state = State::failed;
      ++logins_failed;
      return false;
    }
    if (static_cast<std::size_t>(c.fd) >= by_fd.size()) by_fd.resize(static_cast<std::size_t>(c.fd) + 1024, -1);
    by_fd[static_cast<std::size_t>(c.fd)] = static_cast<int>(i);
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = c.fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    c.state = State::connecting;
    return true;
  }

  void fail(std::size_t i) {
    Conn& c = conns[i];
    if (c.state == State::connecting || c.state == State::login_sent) ++logins_failed;
    if (c.fd >= 0) {
      epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      by_fd[static_cast<std::size_t>(c.fd)] = -1;
    }
    c.fd = -1;
    c.state = State::failed;
  }

  void send_frame(std::size_t i, const ai::FrameView& f) {
    tx.clear();
    if (!ai::encode(f, CrcVariant::modbus, tx)) return;
    if (::send(conns[i].fd, tx.data(), tx.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(tx.size())) {
      ++send_errors;
      fail(i);
    }
  }

  void writable(std::size_t i) {
    Conn& c = conns[i];
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return fail(i);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c.fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    const loadtest::Credentials cr = pop.device(i);
    ai::FrameView f{ai::cls::link, 0x00, c.seq, 0, ai::status::request, cr.id, {},
                    ByteView(cr.password.data(), cr.password.size())};
    c.state = State::login_sent;
    send_frame(i, f);
  }

  void readable(std::size_t i) {
    Conn& c = conns[i];
    ssize_t n = ::recv(c.fd, rx, sizeof rx, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      return fail(i);
    }
    ai::Deframer& d = deframers[i];
    d.feed(ByteView(rx, static_cast<std::size_t>(n)));
    ai::DeframeEvent ev;
    while (d.next(ev)) {
      if (!ev.ok || ev.frame.cls != ai::cls::link) continue;
      const ai::FrameView& f = ev.frame;
      if (f.cmd == 0x00 && c.state == State::login_sent) {
        if (f.status == ai::status::ok && f.data.size() == 9 && f.data[0] == 8) {
          std::memcpy(c.token, f.data.data() + 1, 8);
          c.state = State::online;
          ++logins_ok;
        } else {
          ++logins_failed;
          c.state = State::failed;
        }
      } else if (f.cmd == 0x01 && c.outstanding > 0 &&
                 static_cast<std::uint16_t>(c.seq - f.seq) < c.outstanding) {  // one of ours, in flight
        --c.outstanding;
        if (f.status == ai::status::ok) {
          ++hb_acked;
          max_rtt_ms = std::max(max_rtt_ms, secs(Clock::now() - hb_due[i]) * 1e3);
        } else {
          ++hb_failed;
        }
      }
    }
  }

  void heartbeat(std::size_t i, Clock::time_point due) {
    Conn& c = conns[i];
    if (c.state != State::online) return;
    c.seq = static_cast<std::uint16_t>(c.seq + 1);
    ++c.outstanding;
    hb_due[i] = due;
    const std::uint64_t id = pop.options().id_start + i;
    ai::FrameView f{ai::cls::link, 0x01, c.seq, 0, ai::status::request, id, ByteView(c.token, 8), {}};
    ++hb_sent;
    send_frame(i, f);
  }

  // Waits for events until `until`, handling them; returns early when `done` says so.
  template <class Done>
  void pump(Clock::time_point until, Done done) {
    epoll_event evs[512];
    while (!done()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left < 0) return;
      int n = epoll_wait(ep, evs, 512, static_cast<int>(std::min<long long>(left, 1)));
      for (int k = 0; k < n; ++k) {
        int fd = evs[k].data.fd;
        int i = static_cast<std::size_t>(fd) < by_fd.size() ? by_fd[static_cast<std::size_t>(fd)] : -1;
        if (i < 0) continue;
        if (conns[static_cast<std::size_t>(i)].state == State::connecting)
          writable(static_cast<std::size_t>(i));
        else
          readable(static_cast<std::size_t>(i));
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0, pid = 0;
  long count = 0;
  double rate = 0, duration = 0, login_rate = 5000;
  loadtest::Population::Options po;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port") port = std::atoi(v);
    else if (k == "--pid") pid = std::atoi(v);
    else if (k == "--count") count = std::atol(v);
    else if (k == "--rate") rate = std::atof(v);
    else if (k == "--duration") duration = std::atof(v);
    else if (k == "--login-rate") login_rate = std::atof(v);
    else if (k == "--seed") po.seed = std::strtoull(v, nullptr, 0);
    else if (k == "--groups") po.groups = std::strtoull(v, nullptr, 0);
  }
  if (!port || !pid || count <= 0 || rate <= 0 || duration <= 0 || login_rate <= 0) {
    std::fprintf(stderr,
                 "usage: bench_hb_load --port PORT --pid PID --count M --rate N --duration S [--seed 1] [--groups 1] "
                 "[--login-rate 5000]\n"
                 "  logs in M devices of the provisioned population on 127.0.0.1:PORT, sends N heartbeats/s for S\n"
                 "  seconds and prints the CPU seconds process PID spent per heartbeat\n");
    return 2;
  }
  po.count = static_cast<std::uint64_t>(count);
  auto pop = loadtest::Population::make(po);
  if (!pop) {
    std::fprintf(stderr, "bench_hb_load: %s\n", pop.error().message.c_str());
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (static_cast<rlim_t>(count) + 32 > rl.rlim_cur) {
    std::fprintf(stderr, "bench_hb_load: %ld connections need more descriptors than the file limit (%llu) allows\n",
                 count, static_cast<unsigned long long>(rl.rlim_cur));
    return 2;
  }

  Driver d(std::move(*pop));
  d.ep = epoll_create1(EPOLL_CLOEXEC);
  d.server.sin_family = AF_INET;
  d.server.sin_port = htons(static_cast<std::uint16_t>(port));
  d.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  d.conns.resize(static_cast<std::size_t>(count));
  d.deframers.resize(static_cast<std::size_t>(count));
  d.hb_due.resize(static_cast<std::size_t>(count));

  // Logins, paced at login_rate, then up to 10 s for the last replies.
  const auto n = static_cast<std::size_t>(count);
  const auto t_login = Clock::now();
  std::size_t next = 0;
  while (next < n) {
    const auto due = t_login + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(next) / login_rate));
    if (Clock::now() >= due) {
      d.start_connect(next++);
      continue;
    }
    d.pump(due, [] { return false; });
  }
  d.pump(Clock::now() + std::chrono::seconds(10), [&] { return d.logins_ok + d.logins_failed >= n; });
  const double login_s = secs(Clock::now() - t_login);

  // Heartbeats: the k-th is due at start + k/rate and goes to connection k mod M.
  const double cpu0 = process_cpu_s(pid), own0 = own_cpu_s();
  const auto t0 = Clock::now();
  d.hb_start = t0;
  const auto total = static_cast<unsigned long long>(rate * duration);
  for (unsigned long long k = 0, burst = 0; k < total;) {
    const auto due = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(k) / rate));
    const auto now = Clock::now();
    if (now >= due && burst < 256) {  // behind schedule: replies are still read every 256 sends
      if (now - due > std::chrono::milliseconds(10)) ++d.hb_late;
      d.heartbeat(static_cast<std::size_t>(k % n), due);
      ++k;
      ++burst;
      continue;
    }
    burst = 0;
    d.pump(std::max(due, now), [] { return false; });
  }
  const auto t_sent = Clock::now();
  d.pump(t_sent + std::chrono::seconds(3), [&] { return d.hb_acked + d.hb_failed >= d.hb_sent; });
  const auto t1 = Clock::now();
  const double cpu1 = process_cpu_s(pid), own1 = own_cpu_s();
  const double server_cpu = cpu1 - cpu0;

  std::printf(
      "{\"devices\":%ld,\"logins_ok\":%llu,\"logins_failed\":%llu,\"login_s\":%.2f,\"rate\":%.0f,"
      "\"hb_sent\":%llu,\"hb_acked\":%llu,\"hb_failed\":%llu,\"hb_late\":%llu,\"hb_lost\":%llu,\"send_errors\":%llu,"
      "\"interval_s\":%.3f,\"achieved_rate\":%.0f,\"max_rtt_ms\":%.2f,"
      "\"server_cpu_s\":%.2f,\"server_cpu_us_per_hb\":%.3f,\"driver_cpu_s\":%.2f}\n",
      count, d.logins_ok, d.logins_failed, login_s, rate, d.hb_sent, d.hb_acked, d.hb_failed, d.hb_late,
      d.hb_sent - d.hb_acked - d.hb_failed, d.send_errors, secs(t1 - t0), static_cast<double>(d.hb_sent) / secs(t_sent - t0),
      d.max_rtt_ms, server_cpu, d.hb_acked ? server_cpu / static_cast<double>(d.hb_acked) * 1e6 : 0.0, own1 - own0);
  for (auto& c : d.conns)
    if (c.fd >= 0) ::close(c.fd);
  return d.logins_failed || d.hb_acked != d.hb_sent ? 1 : 0;
}
