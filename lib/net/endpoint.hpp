// Network addresses as the command line and the JSON events write them.
//
// Two models live here for now:
//  * HostPort + Address: the one `host:port` / `[v6]:port` parser of the toolkit and a
//    dual-stack (IPv4 and IPv6) socket address. Clients use them (m2m-send); every program
//    moves to them.
//  * Endpoint: the IPv4-only {ip, port} the server still uses in many places (lib/platform).
//    It stays, with its API, until the server moves to Address (the next step of the
//    restructuring issue); parse_endpoint() already goes through parse_host_port(), so both
//    read addresses alike.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace m2m::net {

// The platform's port when an address names none (m2m-protocol(7)).
inline constexpr std::uint16_t kDefaultPort = 8266;

// What the user wrote, checked but not resolved.
struct HostPort {
  std::string host;  // name, IPv4 or IPv6 literal (without brackets); empty: any address
  std::uint16_t port = kDefaultPort;
  bool ipv6_literal() const { return host.find(':') != std::string::npos; }
  bool operator==(const HostPort&) const = default;
};

// "host:port", "a.b.c.d:port", "[v6]:port", "host", "[v6]" and a bare "v6" literal (no port:
// `default_port`), ":port" (any address). Ports are 0-65535 in decimal; anything else (99999,
// "12a", an empty port after ':') is an error of kind bad_value whose message says what was
// expected, so a program reports it as a usage error. A host with a ':' must be an IPv6
// literal (in brackets when a port follows).
Result<HostPort> parse_host_port(std::string_view s, std::uint16_t default_port = kDefaultPort);
// "host:port", or "[v6]:port" for an IPv6 literal.
std::string format_host_port(const HostPort& hp);

// A socket address, IPv4 or IPv6.
class Address {
 public:
  Address() { storage_.v4 = sockaddr_in{}; }
  static Address ipv4(std::uint32_t ip_host_order, std::uint16_t port);
  // From what the kernel returned (accept, recvfrom, getaddrinfo); other families: empty.
  static Address from(const sockaddr* sa, socklen_t len);

  int family() const { return storage_.sa.sa_family; }  // AF_INET, AF_INET6, or AF_UNSPEC when empty
  bool empty() const { return family() != AF_INET && family() != AF_INET6; }
  std::uint16_t port() const;
  const sockaddr* sockaddr_ptr() const { return &storage_.sa; }
  socklen_t length() const { return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }
  bool operator==(const Address& o) const;

 private:
  union Storage {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage_;
};

// "1.2.3.4:8266" or "[::1]:8266" (the `peer` member of frame records).
std::string format_address(const Address& a);

// Numeric hosts without a lookup; names through getaddrinfo (every address, in its order).
// An empty host is the wildcard address (IPv4). Failure: kind unavailable ("cannot resolve").
Result<std::vector<Address>> resolve(const HostPort& hp, bool udp);

// ---- IPv4 endpoint of the server (see the note at the top) ------------------------------
struct Endpoint {
  std::uint32_t ip = 0;    // host order
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// "a.b.c.d:port", "host:port" (resolved to IPv4), ":port" or "port" (= 0.0.0.0:port).
Result<Endpoint> parse_endpoint(std::string_view s);
std::string format_endpoint(const Endpoint& e);
std::string format_ip(std::uint32_t ip);

sockaddr_in to_sockaddr(const Endpoint& e);
Endpoint from_sockaddr(const sockaddr_in& a);

// The IPv4 endpoint of an IPv4 address or of an IPv4-mapped IPv6 one (::ffff:a.b.c.d, what a
// dual-stack socket reports for an IPv4 peer); false for any other address.
bool to_endpoint(const Address& a, Endpoint& out);
// `e` as an address of `family`: AF_INET, or AF_INET6 as ::ffff:a.b.c.d (to reach an IPv4
// peer from a dual-stack socket).
Address to_address(const Endpoint& e, int family = AF_INET);

}  // namespace m2m::net
