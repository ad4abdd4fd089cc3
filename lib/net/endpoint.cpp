#include "net/endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>

namespace m2m::net {

Result<Endpoint> parse_endpoint(std::string_view s) {
  std::string_view host, port = s;
  if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535)
    return fail(ErrorKind::bad_value, "bad port in '" + std::string(s) + "' (expected HOST:PORT)");
  Endpoint e;
  e.port = static_cast<std::uint16_t>(p);
  if (host.empty() || host == "*") return e;
  std::string h(host);
  in_addr a{};
  if (inet_pton(AF_INET, h.c_str(), &a) == 1) {
    e.ip = ntohl(a.s_addr);
    return e;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res); rc != 0 || !res)
    return fail(ErrorKind::bad_value, "cannot resolve '" + h + "': " + gai_strerror(rc));
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

}  // namespace m2m::net
