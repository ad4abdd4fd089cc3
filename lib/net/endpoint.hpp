// IPv4 endpoints as the command line and the JSON events write them ("127.0.0.1:8266").
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace m2m::net {

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

}  // namespace m2m::net
