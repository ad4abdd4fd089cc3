#include "net/endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace m2m::net {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_ipv6_literal(const std::string& h) {
  in6_addr a{};
  return inet_pton(AF_INET6, h.c_str(), &a) == 1;
}

unexpected<Error> bad(std::string_view s, std::string_view why) {
  return fail(ErrorKind::bad_value,
              "'" + std::string(s) + "': " + std::string(why) + " (expected HOST:PORT, [IPv6]:PORT or HOST)");
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view s, std::uint16_t default_port) {
  HostPort hp;
  hp.port = default_port;
  std::string_view host = s, port;
  bool has_port = false;
  if (s.starts_with('[')) {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return bad(s, "no closing ']'");
    host = s.substr(1, close - 1);
    const std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad(s, "text after ']' is not ':PORT'");
      port = rest.substr(1);
      has_port = true;
    }
    if (!is_ipv6_literal(std::string(host))) return bad(s, "not an IPv6 address in brackets");
  } else if (const auto colon = s.find(':'); colon != std::string_view::npos) {
    if (s.find(':', colon + 1) != std::string_view::npos) {  // two or more: a bare IPv6 literal
      if (!is_ipv6_literal(std::string(s))) return bad(s, "an IPv6 address with a port takes brackets");
      hp.host = std::string(s);
      return hp;
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    has_port = true;
  }
  if (has_port) {
    unsigned long p = 0;
    if (!all_digits(port)) return bad(s, port.empty() ? "no port after ':'" : "port is not a number");
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p > 65535)
      return bad(s, "port " + std::string(port) + " is out of range 0-65535");
    hp.port = static_cast<std::uint16_t>(p);
  }
  hp.host = std::string(host);
  return hp;
}

std::string format_host_port(const HostPort& hp) {
  return (hp.ipv6_literal() ? "[" + hp.host + "]" : hp.host) + ':' + std::to_string(hp.port);
}

Address Address::ipv4(std::uint32_t ip, std::uint16_t port) {
  Address a;
  a.storage_.v4.sin_family = AF_INET;
  a.storage_.v4.sin_addr.s_addr = htonl(ip);
  a.storage_.v4.sin_port = htons(port);
  return a;
}

Address Address::from(const sockaddr* sa, socklen_t len) {
  Address a;
  if (sa && sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in)))
    std::memcpy(&a.storage_.v4, sa, sizeof(sockaddr_in));
  else if (sa && sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6)))
    std::memcpy(&a.storage_.v6, sa, sizeof(sockaddr_in6));
  return a;
}

std::uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(storage_.v4.sin_port);
  if (family() == AF_INET6) return ntohs(storage_.v6.sin6_port);
  return 0;
}

bool Address::operator==(const Address& o) const {
  if (family() != o.family()) return false;
  if (family() == AF_INET)
    return storage_.v4.sin_addr.s_addr == o.storage_.v4.sin_addr.s_addr && storage_.v4.sin_port == o.storage_.v4.sin_port;
  if (family() == AF_INET6)
    return std::memcmp(&storage_.v6.sin6_addr, &o.storage_.v6.sin6_addr, sizeof(in6_addr)) == 0 &&
           storage_.v6.sin6_port == o.storage_.v6.sin6_port && storage_.v6.sin6_scope_id == o.storage_.v6.sin6_scope_id;
  return true;
}

std::string format_address(const Address& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  const sockaddr* sa = a.sockaddr_ptr();
  if (a.family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, host, sizeof host);
    return std::string(host) + ':' + std::to_string(a.port());
  }
  if (a.family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(a.port());
  }
  return "?";
}

Result<std::vector<Address>> resolve(const HostPort& hp, bool udp) {
  if (hp.host.empty() || hp.host == "*") return std::vector<Address>{Address::ipv4(0, hp.port)};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  const std::string port = std::to_string(hp.port);
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &found);
  if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY) {  // AI_ADDRCONFIG hides ::1 on a host with only loopback v6
    hints.ai_flags = AI_NUMERICSERV;
    rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &found);
  }
  if (rc != 0 || !found)
    return fail(ErrorKind::unavailable, "cannot resolve '" + hp.host + "': " + ::gai_strerror(rc));
  std::vector<Address> out;
  for (addrinfo* a = found; a; a = a->ai_next) {
    Address addr = Address::from(a->ai_addr, a->ai_addrlen);
    if (!addr.empty() && std::find(out.begin(), out.end(), addr) == out.end()) out.push_back(addr);
  }
  ::freeaddrinfo(found);
  if (out.empty()) return fail(ErrorKind::unavailable, "cannot resolve '" + hp.host + "': no IPv4 or IPv6 address");
  return out;
}

// ---- IPv4 endpoint ---------------------------------------------------------------------

Result<Endpoint> parse_endpoint(std::string_view s) {
  HostPort hp;
  if (all_digits(s)) {  // "9000": a port alone
    auto p = parse_host_port(":" + std::string(s));
    if (!p) return unexpected(std::move(p).error());
    hp = *p;
  } else {
    auto p = parse_host_port(s);
    if (!p) return unexpected(std::move(p).error());
    hp = *p;
  }
  Endpoint e;
  e.port = hp.port;
  if (hp.host.empty() || hp.host == "*") return e;
  if (hp.ipv6_literal())
    return fail(ErrorKind::bad_value, "'" + std::string(s) + "': IPv6 addresses are not supported here yet (IPv4 only)");
  in_addr a{};
  if (inet_pton(AF_INET, hp.host.c_str(), &a) == 1) {
    e.ip = ntohl(a.s_addr);
    return e;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(hp.host.c_str(), nullptr, &hints, &res); rc != 0 || !res)
    return fail(ErrorKind::bad_value, "cannot resolve '" + hp.host + "': " + gai_strerror(rc));
  e.ip = ntohl(reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr.s_addr);
  freeaddrinfo(res);
  return e;
}

std::string format_ip(std::uint32_t ip) {
  return std::to_string(ip >> 24) + '.' + std::to_string((ip >> 16) & 255) + '.' + std::to_string((ip >> 8) & 255) +
         '.' + std::to_string(ip & 255);
}

std::string format_endpoint(const Endpoint& e) { return format_ip(e.ip) + ':' + std::to_string(e.port); }

sockaddr_in to_sockaddr(const Endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(e.ip);
  a.sin_port = htons(e.port);
  return a;
}

Endpoint from_sockaddr(const sockaddr_in& a) { return {ntohl(a.sin_addr.s_addr), ntohs(a.sin_port)}; }

bool to_endpoint(const Address& a, Endpoint& out) {
  if (a.family() == AF_INET) {
    out = from_sockaddr(*reinterpret_cast<const sockaddr_in*>(a.sockaddr_ptr()));
    return true;
  }
  if (a.family() != AF_INET6) return false;
  const auto& v6 = *reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
  if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return false;
  std::uint32_t ip;
  std::memcpy(&ip, v6.sin6_addr.s6_addr + 12, 4);
  out = {ntohl(ip), ntohs(v6.sin6_port)};
  return true;
}

Address to_address(const Endpoint& e, int family) {
  if (family != AF_INET6) return Address::ipv4(e.ip, e.port);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(e.port);
  v6.sin6_addr.s6_addr[10] = 0xFF;
  v6.sin6_addr.s6_addr[11] = 0xFF;
  const std::uint32_t ip = htonl(e.ip);
  std::memcpy(v6.sin6_addr.s6_addr + 12, &ip, 4);
  return Address::from(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
}

}  // namespace m2m::net
