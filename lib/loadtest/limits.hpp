// Before a run: will N connections fit this machine? The check is a pure function of the
// limits (so tests feed any values); read_system_limits() and probe_bind() gather them.
// Every finding is one actionable sentence naming the figure, the limit and what to run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace m2m::loadtest {

// `--source-ips 127.0.0.2-127.0.0.40` or `127.0.0.2,127.0.0.9-127.0.0.12`: IPv4 addresses
// (host order), each item one address or an inclusive range.
struct AddressRange {
  std::uint32_t first = 0, last = 0;
  std::uint64_t size() const { return std::uint64_t{last} - first + 1; }
};
struct SourceAddresses {
  std::vector<AddressRange> ranges;
  std::uint64_t count() const;
  std::uint32_t at(std::uint64_t i) const;  // the i-th address over all ranges
};
Result<SourceAddresses> parse_source_addresses(std::string_view text);
std::string format_ipv4_host(std::uint32_t ip);  // "127.0.0.2"

// Descriptors a worker needs besides its connections: stdin/out/err, epoll, the EMFILE
// reserve, the --json-out file and a little slack.
inline constexpr std::uint64_t kReservedDescriptors = 8;

struct SystemLimits {
  std::uint64_t nofile_soft = 0, nofile_hard = 0;  // RLIMIT_NOFILE
  std::uint32_t port_low = 32768, port_high = 60999;  // net.ipv4.ip_local_port_range
};
struct BindFailure {
  std::uint32_t address = 0;
  std::string reason;  // strerror text
};
struct RunPlan {
  std::uint64_t tcp_connections = 0;  // to one server address (ip:port)
  std::uint64_t workers = 1;          // processes sharing them
  std::uint64_t source_addresses = 1; // local addresses they are spread over
  std::vector<BindFailure> unbindable;  // addresses probe_bind() could not bind
};

// Empty when the plan fits; otherwise one message per problem, e.g.
// "need 18,008 descriptors per worker, soft limit 1,024, hard 20,000: run `ulimit -n 20000`
//  or use --workers 19".
std::vector<std::string> check_plan(const RunPlan& plan, const SystemLimits& limits);

// RLIMIT_NOFILE and /proc/sys/net/ipv4/ip_local_port_range (defaults kept when unreadable).
SystemLimits read_system_limits();
// Tries to bind a TCP socket to each address (port 0, IP_BIND_ADDRESS_NO_PORT); returns those
// that failed. Opens one descriptor at a time.
std::vector<BindFailure> probe_bind(const SourceAddresses& addrs);

// 18004 -> "18,004"
std::string group_digits(std::uint64_t n);

}  // namespace m2m::loadtest
