// net::Connection on loopback: connect, send, receive, and the error kinds of each failure.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "net/socket.hpp"

using namespace m2m;
using namespace m2m::net;
using namespace std::chrono_literals;

namespace {
Deadline in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }
}  // namespace

TEST_CASE("connection: TCP on loopback, then the peer closes") {
  auto lis = listen_tcp(Endpoint{0x7F000001, 0}, false);
  REQUIRE(lis);
  auto local = local_endpoint(lis->get());
  REQUIRE(local);
  Connection c;
  REQUIRE(c.open(HostPort{"127.0.0.1", local->port}, false, in(2s)));
  CHECK(c.peer() == "127.0.0.1:" + std::to_string(local->port));
  Fd peer(::accept(lis->get(), nullptr, nullptr));
  REQUIRE(peer);
  const Bytes hello{0x55, 0x01, 0x55};
  REQUIRE(c.send(hello, in(1s)));
  std::uint8_t buf[16];
  REQUIRE(::recv(peer.get(), buf, sizeof buf, 0) == 3);
  REQUIRE(::send(peer.get(), "ab", 2, 0) == 2);
  auto n = c.receive(buf, in(1s));
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(buf[0] == 'a');

  auto quiet = c.receive(buf, in(50ms));
  REQUIRE_FALSE(quiet);
  CHECK(quiet.error().kind == ErrorKind::timeout);

  peer.reset();
  auto gone = c.receive(buf, in(1s));
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == ErrorKind::closed);
  CHECK(gone.error().message == "connection closed by " + c.peer());
}

TEST_CASE("connection: nothing listening is unavailable; a stop check interrupts") {
  std::uint16_t port = 0;
  {
    auto lis = listen_tcp(Endpoint{0x7F000001, 0}, false);
    REQUIRE(lis);
    port = local_endpoint(lis->get())->port;
  }  // closed: the port refuses now
  Connection c;
  auto r = c.open(HostPort{"127.0.0.1", port}, false, in(2s));
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::unavailable);
  CHECK(r.error().message.starts_with("connect 127.0.0.1:" + std::to_string(port) + ": "));

  auto udp = bind_udp(Endpoint{0x7F000001, 0}, false);
  REQUIRE(udp);
  Connection stopped([] { return true; });
  REQUIRE(stopped.open(HostPort{"127.0.0.1", local_endpoint(udp->get())->port}, true, in(1s)));
  std::uint8_t buf[4];
  auto w = stopped.receive(buf, kNoDeadline);
  REQUIRE_FALSE(w);
  CHECK(w.error().kind == ErrorKind::interrupted);
}

TEST_CASE("connection: UDP over IPv6 loopback") {
  Fd s(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    MESSAGE("no IPv6 loopback here; skipped");
    return;
  }
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::uint16_t port = ntohs(a.sin6_port);
  auto hp = parse_host_port("[::1]:" + std::to_string(port));
  REQUIRE(hp);
  Connection c;
  REQUIRE(c.open(*hp, true, in(1s)));
  CHECK(c.peer() == "[::1]:" + std::to_string(port));
  const Bytes ping{1, 2, 3};
  REQUIRE(c.send(ping, in(1s)));
  std::uint8_t buf[8];
  sockaddr_in6 from{};
  socklen_t flen = sizeof from;
  REQUIRE(::recvfrom(s.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen) == 3);
  REQUIRE(::sendto(s.get(), "xy", 2, 0, reinterpret_cast<sockaddr*>(&from), flen) == 2);
  auto n = c.receive(buf, in(1s));
  REQUIRE(n);
  CHECK(*n == 2);
}
