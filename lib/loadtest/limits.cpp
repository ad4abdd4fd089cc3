#include "loadtest/limits.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace m2m::loadtest {

namespace {
constexpr std::uint64_t kMaxAddresses = 1u << 24;  // a /8: more is a typo

Result<std::uint32_t> parse_ipv4(std::string_view s, std::string_view whole) {
  in_addr a{};
  const std::string z(s);
  if (inet_pton(AF_INET, z.c_str(), &a) != 1)
    return fail(ErrorKind::bad_value, "--source-ips '" + std::string(whole) + "': '" + z + "' is not an IPv4 address");
  return ntohl(a.s_addr);
}

std::uint64_t div_up(std::uint64_t a, std::uint64_t b) { return b ? (a + b - 1) / b : 0; }
}  // namespace

std::string format_ipv4_host(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) + "." +
         std::to_string(ip & 255);
}

std::string group_digits(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::uint64_t SourceAddresses::count() const {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.size();
  return n;
}

std::uint32_t SourceAddresses::at(std::uint64_t i) const {
  for (const auto& r : ranges) {
    if (i < r.size()) return r.first + static_cast<std::uint32_t>(i);
    i -= r.size();
  }
  return 0;
}

Result<SourceAddresses> parse_source_addresses(std::string_view text) {
  SourceAddresses out;
  if (text.empty()) return fail(ErrorKind::bad_value, "--source-ips is empty (expected e.g. 127.0.0.2-127.0.0.40)");
  std::uint64_t total = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = std::min(text.find(',', pos), text.size());
    const std::string_view item = text.substr(pos, comma - pos);
    const auto dash = item.find('-');
    auto first = parse_ipv4(item.substr(0, dash), text);
    if (!first) return unexpected(first.error());
    auto last = dash == std::string_view::npos ? first : parse_ipv4(item.substr(dash + 1), text);
    if (!last) return unexpected(last.error());
    if (*last < *first)
      return fail(ErrorKind::bad_value, "--source-ips '" + std::string(text) + "': range '" + std::string(item) +
                                            "' ends before it starts");
    out.ranges.push_back({*first, *last});
    total += out.ranges.back().size();
    if (total > kMaxAddresses)
      return fail(ErrorKind::bad_value, "--source-ips '" + std::string(text) + "': more than " +
                                            group_digits(kMaxAddresses) + " addresses");
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string> check_plan(const RunPlan& p, const SystemLimits& l) {
  std::vector<std::string> out;
  const std::uint64_t workers = std::max<std::uint64_t>(p.workers, 1);
  const std::uint64_t per_worker = div_up(p.tcp_connections, workers);
  const std::uint64_t need = per_worker + kReservedDescriptors;
  if (p.tcp_connections && need > l.nofile_soft) {
    const std::string head = "need " + group_digits(need) + " descriptors per worker (" + group_digits(per_worker) +
                             " connections + " + std::to_string(kReservedDescriptors) + ")";
    auto workers_for = [&](std::uint64_t limit) {
      return limit > kReservedDescriptors ? div_up(p.tcp_connections, limit - kReservedDescriptors) : 0;
    };
    if (need <= l.nofile_hard) {
      std::string m = head + ", soft limit " + group_digits(l.nofile_soft) + ", hard " + group_digits(l.nofile_hard) +
                      ": run `ulimit -n " + std::to_string(l.nofile_hard) + "`";
      if (const auto w = workers_for(l.nofile_soft); w) m += " or use --workers " + std::to_string(w);
      out.push_back(m);
    } else {
      std::string m = head + ", hard limit " + group_digits(l.nofile_hard) + ": ";
      if (const auto w = workers_for(l.nofile_hard); w)
        m += "use --workers " + std::to_string(w) + " (and `ulimit -n " + std::to_string(l.nofile_hard) + "`)";
      m += std::string(workers_for(l.nofile_hard) ? ", or r" : "R") +
           "aise the hard limit as root (`prlimit --nofile=" + std::to_string(need) + " --pid $$`, or nofile in "
           "/etc/security/limits.conf)";
      out.push_back(m);
    }
  }
  const std::uint64_t ports = l.port_high >= l.port_low ? std::uint64_t{l.port_high} - l.port_low + 1 : 0;
  const std::uint64_t addrs = std::max<std::uint64_t>(p.source_addresses, 1);
  if (p.tcp_connections > ports * addrs) {
    const std::uint64_t want = ports ? div_up(p.tcp_connections, ports) : 0;
    std::string m = group_digits(p.tcp_connections) + " connections to one server address need as many local ports: " +
                    "the ephemeral range " + std::to_string(l.port_low) + "-" + std::to_string(l.port_high) + " gives " +
                    group_digits(ports) + " per source address, " + group_digits(ports * addrs) + " with " +
                    group_digits(addrs) + ": ";
    if (want)
      m += "use " + group_digits(want) + " source addresses (--source-ips 127.0.0.2-" +
           format_ipv4_host(0x7F000001u + static_cast<std::uint32_t>(std::min<std::uint64_t>(want, 1u << 23))) +
           " on loopback) or ";
    m += "widen the range (`sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"`)";
    out.push_back(m);
  }
  for (const auto& f : p.unbindable)
    out.push_back("cannot bind source address " + format_ipv4_host(f.address) + ": " + f.reason +
                  ((f.address >> 24) == 127 ? "" : ": add it to an interface (`ip addr add " + format_ipv4_host(f.address) +
                                                       "/32 dev lo`) or leave it out of --source-ips"));
  return out;
}

SystemLimits read_system_limits() {
  SystemLimits l;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    l.nofile_soft = r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : r.rlim_cur;
    l.nofile_hard = r.rlim_max == RLIM_INFINITY ? UINT64_MAX : r.rlim_max;
  }
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  std::uint32_t lo = 0, hi = 0;
  if (in >> lo >> hi && lo <= hi) {
    l.port_low = lo;
    l.port_high = hi;
  }
  return l;
}

std::vector<BindFailure> probe_bind(const SourceAddresses& addrs) {
  std::vector<BindFailure> out;
  const std::uint64_t n = addrs.count();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint32_t ip = addrs.at(i);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      out.push_back({ip, std::strerror(errno)});
      break;
    }
    int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(ip);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) out.push_back({ip, std::strerror(errno)});
    ::close(fd);
  }
  return out;
}

}  // namespace m2m::loadtest
