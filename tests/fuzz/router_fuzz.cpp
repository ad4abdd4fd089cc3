// libFuzzer target: the platform router driven by random sequences of frames from several
// peers (TCP connections and UDP sources) against a fake outbox with tiny send-queue budgets,
// so that sends overflow and close connections in the middle of handling frames.
//
// Input: a program of operations, each an opcode byte followed by its operands (missing
// bytes read as 0). Devices 0..3 (groups g1, g1, g2, g1 and disabled), accounts 0..2;
// descriptors 3..10; addresses 127.0.0.1..4.
// Checks (abort on failure), after every operation:
//   * no device or account is bound to a closed or free connection, and the session it is
//     bound to carries it back; the online counters match the registry;
//   * nothing is sent to, or closed twice on, a closing or free connection;
//   * every frame the router sends decodes;
//   * a datagram gets back at most max(kUdpReplyFloor, kUdpReplyFactor x its bytes).
// ASan catches a view into a connection's deframer that outlives it (the harness frees a
// connection's deframer at the end of the event that closed it, as the real loop does).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../support/router_harness.hpp"
#include "m2m/messages.hpp"

using namespace m2m;
using namespace m2m::platform;
using namespace m2m::platform::testing;

namespace {

constexpr std::uint64_t kDevices[] = {0xA1, 0xB1, 0xC1, 0xD1, 0xE1 /* unregistered */};
constexpr const char* kPasswords[] = {"pa", "pb", "pc", "pd", "pe"};
constexpr std::uint64_t kAccounts[] = {7, 8, 10, 11 /* unregistered */};
constexpr const char* kAccountPw[] = {"app", "ops", "ten", "x"};

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool more() const { return n > 0; }
  std::uint8_t byte() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  Bytes bytes(std::size_t max) {
    std::size_t k = std::min<std::size_t>(byte() % (max + 1), n);
    Bytes b(p, p + k);
    p += k;
    n -= k;
    return b;
  }
};

Token token_of(Harness& h, std::uint8_t which, bool account, bool garbage) {
  Token t{};
  if (garbage) {
    t.fill(which);
    return t;
  }
  if (account) {
    std::uint32_t a = h.reg.find_account(kAccounts[which % 4]);
    return a == kNone ? t : h.reg.account(a).token;
  }
  std::uint32_t d = h.reg.find_device(kDevices[which % 5]);
  return d == kNone ? t : h.reg.device(d).token;
}

// One frame of a kind the router acts on, with fuzzed operands.
ai::Frame make_frame(Harness& h, Reader& r) {
  const std::uint8_t kind = r.byte();
  const std::uint8_t who = r.byte();
  const bool garbage_token = (r.byte() & 7) == 0;
  const std::uint16_t seq = static_cast<std::uint16_t>(r.byte() | (h.tick & 0xFF00));
  const std::uint64_t dev = kDevices[who % 5];
  const std::uint64_t acc = kAccounts[who % 4];
  Bytes target;
  put_be64(target, kDevices[(who >> 3) % 5]);
  switch (kind % 14) {
    case 0: return login_frame(dev, (who & 0x80) ? "wrong" : kPasswords[who % 5], ai::cls::link, seq);
    case 1: return login_frame(acc, (who & 0x80) ? "wrong" : kAccountPw[who % 4], ai::cls::platform, seq);
    case 2: return request(ai::cls::link, 0x01, dev, token_of(h, who, false, garbage_token), {}, seq);
    case 3: return request(ai::cls::data, 0x00, dev, token_of(h, who, false, garbage_token), r.bytes(2), seq);
    case 4: {
      Bytes d = target;
      Bytes extra = r.bytes(200);
      d.insert(d.end(), extra.begin(), extra.end());
      return request(ai::cls::data, 0x55, dev, token_of(h, who, false, garbage_token), d, seq);
    }
    case 5: return request(ai::cls::link, 0x55, dev, token_of(h, who, false, garbage_token), target, seq);
    case 6: return request(ai::cls::data, 0xEE, dev, token_of(h, who, false, garbage_token), r.bytes(200), seq);
    case 7: return request(ai::cls::term, 0xF0, dev, token_of(h, who, false, garbage_token), r.bytes(20), seq);
    case 8:  // a client's request for a device
      return request(ai::cls::term, static_cast<std::uint8_t>(0x55 + (who & 1) * 0x55), kDevices[(who >> 3) % 5],
                     token_of(h, who, true, garbage_token), r.bytes(8), seq);
    case 9: return request(ai::cls::data, 0xFF, kDevices[(who >> 3) % 5], token_of(h, who, true, garbage_token),
                           r.bytes(100), seq);
    case 10: {  // platform.add_terminal
      Bytes d;
      put_be64(d, 0xF000 + r.byte());
      d.resize(16, 'p');
      return request(ai::cls::platform, 0x06, acc, token_of(h, who, true, garbage_token), d, seq);
    }
    case 11: return request(ai::cls::platform, 0x01, acc, token_of(h, who, true, garbage_token), {}, seq);
    case 12:  // a device's reply (to a routed request, maybe): any recent platform sequence
      return request(ai::cls::term, static_cast<std::uint8_t>(0x55 + (who & 1) * 0x55), dev,
                     token_of(h, who, false, garbage_token), r.bytes(4), static_cast<std::uint16_t>(r.byte() % 8 + 1),
                     ai::status::ok);
    default: return request(r.byte(), r.byte(), dev, token_of(h, who, false, garbage_token), r.bytes(16), seq);
  }
}

void check(const Harness& h) {
  if (h.violations.empty()) return;
  for (const auto& v : h.violations) std::fprintf(stderr, "router_fuzz: %s\n", v.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r{data, size};
  RouterOptions opt;
  opt.login_fail_limit = 3;
  opt.login_fail_window = std::chrono::seconds(2);
  opt.max_failed_logins_per_second = 20;
  opt.max_throttle_entries = 8;
  opt.max_terminals_per_account = 4;
  opt.heartbeat_timeout = std::chrono::seconds(5);
  opt.route_timeout = std::chrono::seconds(1);
  opt.udp_trust = (r.byte() & 1) ? RouterOptions::UdpTrust::any : RouterOptions::UdpTrust::same_ip;
  Harness h(opt);
  h.keep_events = false;
  h.add_device(0xA1, "pa", "g1");
  h.add_device(0xB1, "pb", "g1");
  h.add_device(0xC1, "pc", "g2");
  h.add_device(0xD1, "pd", "g1", false);
  h.add_account(7, "app", {"g1"});
  h.add_account(8, "ops", {"*"});
  h.add_account(10, "ten", {"g2"});

  while (r.more()) {
    const std::uint8_t op = r.byte();
    const int fd = 3 + r.byte() % 8;
    switch (op % 9) {
      case 0:
        if (!h.open(fd)) h.connect(fd, Harness::addr(1 + r.byte() % 4, static_cast<std::uint16_t>(4000 + fd)));
        break;
      case 1:
        if (h.open(fd)) h.hang_up(fd);
        break;
      case 2:
      case 3:
      case 4:
        if (h.open(fd)) h.tcp(fd, make_frame(h, r));
        break;
      case 5: {  // one datagram of 1..3 frames
        const auto from = Harness::addr(1 + r.byte() % 4, static_cast<std::uint16_t>(5000 + r.byte() % 4));
        Bytes dgram;
        for (int i = 0, k = 1 + r.byte() % 3; i < k; ++i) {
          Bytes one = Harness::wire(make_frame(h, r));
          dgram.insert(dgram.end(), one.begin(), one.end());
        }
        const std::size_t before = h.udp_bytes_to(from);
        h.udp_bytes(from, dgram);
        // The reply budget (router.hpp, kUdpReplyFactor): never more than a few times the
        // datagram's bytes back to its source.
        if (const std::size_t out = h.udp_bytes_to(from) - before;
            out > std::max(kUdpReplyFloor, kUdpReplyFactor * dgram.size()))
          h.violations.push_back("a datagram of " + std::to_string(dgram.size()) + " bytes got " + std::to_string(out) +
                                 " back");
        break;
      }
      case 6:
        if (h.open(fd)) h.budget[fd] = r.byte();
        break;
      case 7:
        h.tick += 1 + r.byte() * 4u;
        h.sweep();
        break;
      case 8:  // a frame split across two reads, or raw bytes
        if (h.open(fd)) {
          Bytes w = Harness::wire(make_frame(h, r));
          const std::size_t cut = w.empty() ? 0 : r.byte() % w.size();
          h.tcp_bytes(fd, ByteView(w.data(), cut));
          h.tcp_bytes(fd, ByteView(w.data() + cut, w.size() - cut));
        }
        break;
    }
    check(h);
  }
  h.router.shutdown();
  h.end_event();
  check(h);
  return 0;
}
