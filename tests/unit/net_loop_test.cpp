// net::Loop on loopback: TCP and UDP echo, the bounded send queue closing a slow reader,
// deferred closes, connect failures, stop from another thread, tick cadence, and the spare
// descriptor at the file limit.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "net/loop.hpp"

using namespace m2m;
using namespace m2m::net;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const Address kLoopback = Address::ipv4(0x7F000001, 0);

// A Handler whose calls are lambdas; each call is also counted.
struct Probe : Loop::Handler {
  std::function<const char*(int, const Address&)> on_accept = [](int, const Address&) { return nullptr; };
  std::function<void(int, ByteView)> on_data = [](int, ByteView) {};
  std::function<void(int, const Error*)> on_connect = [](int, const Error*) {};
  std::function<void(int, const Address&, ByteView)> on_datagram = [](int, const Address&, ByteView) {};
  std::function<void()> on_tick = [] {};
  std::vector<std::string> ended_reasons;
  std::vector<int> released_fds;
  std::atomic<int> releases{0};  // for the test thread to wait on
  int file_limit_refusals = 0;

  const char* accepted(int fd, int, const Address& from) override { return on_accept(fd, from); }
  void refused_file_limit(int) override { ++file_limit_refusals; }
  void connected(int fd, const Error* e) override { on_connect(fd, e); }
  void received(int fd, ByteView b) override { on_data(fd, b); }
  void ended(int, const char* reason) override { ended_reasons.emplace_back(reason); }
  void released(int fd) override {
    released_fds.push_back(fd);
    ++releases;
  }
  void datagram(int fd, const Address& from, ByteView b) override { on_datagram(fd, from, b); }
  void tick() override { on_tick(); }
};

// Runs the loop on a thread; the destructor stops it and joins.
struct Running {
  Loop& loop;
  Stop stop;
  int rc = -1;
  std::thread t;
  explicit Running(Loop& l) : loop(l), t([this] { rc = loop.run(stop); }) {}
  ~Running() { finish(); }
  void finish() {
    stop.request();
    if (t.joinable()) t.join();
  }
};

Fd client(std::uint16_t port, int family = AF_INET) {
  Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};  // a bound on every blocking call of the test
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  Address to = Address::ipv4(0x7F000001, port);
  if (::connect(fd.get(), to.sockaddr_ptr(), to.length()) != 0) return Fd();
  return fd;
}

std::string recv_exact(int fd, std::size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

// Reads until EOF or a reset; false on the receive timeout (the peer never closed).
bool reads_to_end(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r == 0) return true;
    if (r < 0) return errno == ECONNRESET;
  }
}

std::uint16_t port_of(int fd) { return local_address(fd)->port(); }

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds bound = 5s) {
  const auto until = Clock::now() + bound;
  while (Clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(1ms);  // polling a condition, with a bound
  }
  return cond();
}

}  // namespace

TEST_CASE("loop: TCP echo over loopback; the peer's close ends the connection") {
  Probe h;
  Loop loop(h, {});
  REQUIRE(loop.open());
  auto lis = loop.listen_tcp(kLoopback);
  REQUIRE(lis);
  Address peer;
  h.on_accept = [&](int, const Address& from) {
    peer = from;
    return nullptr;
  };
  h.on_data = [&](int fd, ByteView b) { CHECK(loop.send(fd, b) == nullptr); };
  std::uint16_t port = port_of(*lis);
  Running run(loop);
  Fd c = client(port);
  REQUIRE(c);
  REQUIRE(::send(c.get(), "hello loop", 10, 0) == 10);
  CHECK(recv_exact(c.get(), 10) == "hello loop");
  c.reset();
  REQUIRE(eventually([&] { return h.releases.load() == 1; }));
  run.finish();
  CHECK(run.rc == 0);
  CHECK(format_address(peer).rfind("127.0.0.1:", 0) == 0);
  CHECK(h.ended_reasons == std::vector<std::string>{"closed"});
  CHECK(h.released_fds.size() == 1);
}

TEST_CASE("loop: UDP echo over loopback") {
  Probe h;
  Loop loop(h, {});
  REQUIRE(loop.open());
  auto udp = loop.open_udp(kLoopback);
  REQUIRE(udp);
  h.on_datagram = [&](int fd, const Address& from, ByteView b) {
    Bytes reply(b.begin(), b.end());
    reply.push_back('!');
    CHECK(loop.send_to(fd, from, reply));
  };
  Address server = Address::ipv4(0x7F000001, port_of(*udp));
  Running run(loop);
  Fd c(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::sendto(c.get(), "ping", 4, 0, server.sockaddr_ptr(), server.length()) == 4);
  char buf[16] = {};
  REQUIRE(::recv(c.get(), buf, sizeof buf, 0) == 5);
  CHECK(std::string(buf, 5) == "ping!");
}

TEST_CASE("loop: a full send queue makes send say slow_reader; the owner closes with that reason") {
  Probe h;
  Loop::Options o;
  o.max_send_queue = 64 * 1024;
  Loop loop(h, o);
  REQUIRE(loop.open());
  auto lis = loop.listen_tcp(kLoopback);
  REQUIRE(lis);
  const char* why = nullptr;
  std::size_t sent = 0, queued_at_close = 0;
  h.on_accept = [](int fd, const Address&) {
    int small = 4096;  // keep the kernel's share small: the loop's queue fills soon
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    return nullptr;
  };
  h.on_data = [&](int fd, ByteView) {  // any request: answer with far more than the peer reads
    const Bytes chunk(16 * 1024, 0x55);
    for (int i = 0; i < 1024 && !why; ++i) {
      why = loop.send(fd, chunk);
      if (!why) sent += chunk.size();
    }
    queued_at_close = loop.queued(fd);
    loop.close(fd);
  };
  std::uint16_t port = port_of(*lis);
  Running run(loop);
  Fd c = client(port);
  REQUIRE(c);
  REQUIRE(::send(c.get(), "x", 1, 0) == 1);
  REQUIRE(eventually([&] { return h.releases.load() == 1; }));
  run.finish();
  REQUIRE(why != nullptr);
  CHECK(std::string(why) == "slow_reader");
  CHECK(queued_at_close > 0);
  CHECK(queued_at_close <= o.max_send_queue);
  CHECK(sent < 1024u * 16 * 1024);  // it stopped long before the 16 MiB the handler offered
  CHECK(h.ended_reasons.empty());    // the owner closed it, not the peer
  CHECK(h.released_fds.size() == 1);
  CHECK(reads_to_end(c.get()));      // the reader sees the end (after what the kernel held)
}

TEST_CASE("loop: a close during an event is deferred to its end, once") {
  Probe h;
  Loop loop(h, {});
  REQUIRE(loop.open());
  auto lis = loop.listen_tcp(kLoopback);
  REQUIRE(lis);
  std::string seen_after_close;
  bool closing_inside = false, released_inside = true;
  h.on_data = [&](int fd, ByteView b) {
    loop.close(fd);
    loop.close(fd);  // idempotent
    closing_inside = loop.closing(fd);
    released_inside = !h.released_fds.empty();
    CHECK(loop.send(fd, b) != nullptr);  // nothing more goes to a closing connection
    seen_after_close.assign(b.begin(), b.end());  // the view is still valid
  };
  std::uint16_t port = port_of(*lis);
  Running run(loop);
  Fd c = client(port);
  REQUIRE(c);
  REQUIRE(::send(c.get(), "bye", 3, 0) == 3);
  CHECK(reads_to_end(c.get()));
  REQUIRE(eventually([&] { return h.releases.load() == 1; }));
  run.finish();
  CHECK(closing_inside);
  CHECK_FALSE(released_inside);
  CHECK(seen_after_close == "bye");
  CHECK(h.released_fds.size() == 1);
  CHECK(h.ended_reasons.empty());
}

TEST_CASE("loop: connect to a closed port reports unavailable; to an open one, connected") {
  std::uint16_t closed_port = 0;
  Fd open_lis;
  {
    auto l = net::listen_tcp(kLoopback, false);
    REQUIRE(l);
    closed_port = port_of(l->get());
  }  // closed: that port refuses now
  auto l2 = net::listen_tcp(kLoopback, false);
  REQUIRE(l2);
  open_lis = std::move(*l2);

  Probe h;
  Loop loop(h, {});
  REQUIRE(loop.open());
  Stop stop;
  std::vector<std::pair<int, Error>> outcomes;
  h.on_connect = [&](int fd, const Error* e) {
    outcomes.emplace_back(fd, e ? *e : Error{ErrorKind::io, 0, "ok"});
    if (e) CHECK(loop.closing(fd));
    if (outcomes.size() == 2) stop.request();
  };
  auto refused = loop.connect(Address::ipv4(0x7F000001, closed_port));
  REQUIRE(refused);
  const Address src = Address::ipv4(0x7F000002, 0);  // a source address, the port chosen at connect
  auto ok = loop.connect(Address::ipv4(0x7F000001, port_of(open_lis.get())), &src);
  REQUIRE(ok);
  std::thread guard([&] {  // a bound: the test fails instead of hanging
    for (int i = 0; i < 500 && !stop.requested(); ++i) std::this_thread::sleep_for(10ms);
    stop.request();
  });
  CHECK(loop.run(stop) == 0);
  guard.join();
  REQUIRE(outcomes.size() == 2);
  for (auto& [fd, e] : outcomes) {
    if (fd == *refused) {
      CHECK(e.kind == ErrorKind::unavailable);
      CHECK(e.message == "Connection refused");
    } else {
      CHECK(fd == *ok);
      CHECK(e.message == "ok");
    }
  }
  CHECK(h.released_fds == std::vector<int>{*refused});
  CHECK(loop.connections() == 1);  // the connected one stays
  sockaddr_in local{};
  socklen_t len = sizeof local;
  REQUIRE(::getsockname(*ok, reinterpret_cast<sockaddr*>(&local), &len) == 0);
  CHECK(ntohl(local.sin_addr.s_addr) == 0x7F000002u);
  CHECK(error_kind(ECONNRESET) == ErrorKind::unavailable);
  CHECK(error_kind(ETIMEDOUT) == ErrorKind::timeout);
  CHECK(error_kind(EPIPE) == ErrorKind::closed);
  CHECK(error_kind(EACCES) == ErrorKind::io);
}

TEST_CASE("loop: a stop from another thread ends run() at once, even between long ticks") {
  Probe h;
  Loop::Options o;
  o.tick = 10s;
  Loop loop(h, o);
  REQUIRE(loop.open());
  Stop stop;
  Clock::time_point asked;
  std::thread other([&] {
    std::this_thread::sleep_for(50ms);  // let run() reach epoll_wait (not synchronisation)
    asked = Clock::now();
    stop.request();
  });
  CHECK(loop.run(stop) == 0);
  const auto took = Clock::now() - asked;
  other.join();
  CHECK(took < 500ms);
  CHECK(stop.requested());
}

TEST_CASE("loop: ticks come at the configured cadence") {
  Probe h;
  Loop::Options o;
  o.tick = 20ms;
  Loop loop(h, o);
  REQUIRE(loop.open());
  Stop stop;
  std::vector<Clock::time_point> at;
  const auto start = Clock::now();
  h.on_tick = [&] {
    at.push_back(Clock::now());
    if (at.size() == 10) stop.request();
  };
  CHECK(loop.run(stop) == 0);
  REQUIRE(at.size() == 10);
  for (std::size_t i = 0; i < at.size(); ++i)  // a fixed schedule: never early (1 ms slack for rounding)
    CHECK(at[i] - start >= (static_cast<int>(i) + 1) * 20ms - 1ms);
  CHECK(at.back() - start < 2s);  // and not starved: 10 ticks of 20 ms, loosely bounded
}

TEST_CASE("loop: at the file limit, the spare descriptor drains the listen queue") {
  // In a child process: the limit is lowered there only.
  int ports[2];
  REQUIRE(::pipe(ports) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ports[0]);
    Probe h;
    Loop loop(h, {});
    if (!loop.open()) ::_exit(10);
    auto lis = loop.listen_tcp(kLoopback);
    if (!lis) ::_exit(11);
    static Stop* stop_ptr = nullptr;
    Stop stop;
    stop_ptr = &stop;
    ::signal(SIGTERM, [](int) { stop_ptr->request(); });
    // Room for exactly two connections: fill the holes below the highest descriptor in use,
    // then allow two more.
    int top = 0;
    for (int fd = 0; fd < 4096; ++fd)
      if (::fcntl(fd, F_GETFD) != -1) top = fd;
    for (;;) {
      const int f = ::open("/dev/null", O_RDONLY);
      if (f < 0) ::_exit(15);
      if (f > top) {
        ::close(f);
        break;
      }
    }
    // UBSan checks the dynamic type of the handler at the loop's first call into it, and on a
    // cache miss probes the memory through a pipe, which needs descriptors this limit leaves
    // none of: make that first check here, while there is room.
    static_cast<Loop::Handler&>(h).tick();
    rlimit rl{static_cast<rlim_t>(top + 3), static_cast<rlim_t>(top + 3)};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(12);
    const std::uint16_t port = port_of(*lis);
    if (::write(ports[1], &port, sizeof port) != sizeof port) ::_exit(13);
    loop.run(stop);
    // Report: connections held and refusals at the limit.
    const int report[2] = {static_cast<int>(loop.connections()), h.file_limit_refusals};
    if (::write(ports[1], report, sizeof report) != sizeof report) ::_exit(14);
    ::_exit(0);
  }
  ::close(ports[1]);
  std::uint16_t port = 0;
  REQUIRE(::read(ports[0], &port, sizeof port) == sizeof port);
  std::vector<Fd> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(client(port));
    REQUIRE(clients.back());
  }
  // The connections over the limit are taken and closed at once: those clients read the end.
  int ended = 0;
  for (Fd& c : clients) {
    timeval tv{0, 300000};  // the held ones never end: a short bound for each
    ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (reads_to_end(c.get())) ++ended;
  }
  ::kill(child, SIGTERM);
  int report[2] = {-1, -1};
  REQUIRE(::read(ports[0], report, sizeof report) == sizeof report);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::close(ports[0]);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(report[0] == 2);                // as many as the limit allowed
  CHECK(report[1] == ended);            // every other one refused, each counted
  CHECK(ended == 4);
}
