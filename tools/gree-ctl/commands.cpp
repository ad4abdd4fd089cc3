// status, set, set-address/clear-address and watch: the subcommands that talk to a unit.
#include "commands.hpp"

#include <cstdio>
#include <thread>

#include "cli/cli.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;

int report(const Failure& f) {
  m2m::cli::error(kProg, f.message);
  return f.exit;
}

namespace {

Outcome<Link> connect(const PortOptions& po) {
  auto port = SerialPort::open(po.device, po.line);
  if (!port) return m2m::unexpected<Failure>(port.error());
  return Link(std::move(*port), po.link);
}

// Without an address the line must be point-to-point: 0x06 read. With one, 0x07 carrying the
// report-only code, which the unit answers without executing (gree-protocol(7)).
Request query_for(int addr) {
  if (addr > 0) return Request{RequestKind::addressed, addr, RemoteCode::query()};
  return Request{RequestKind::read, 0, RemoteCode::query()};
}

Outcome<Status> query(Link& link, int addr) {
  auto r = link.exchange(query_for(addr));
  if (!r) return m2m::unexpected<Failure>(r.error());
  return **r;
}

bool print(const Json& j) { return m2m::cli::write_line(j.dump()); }

}  // namespace

int cmd_status(const PortOptions& po, int addr) {
  auto link = connect(po);
  if (!link) return report(link.error());
  auto s = query(*link, addr);
  if (!s) return report(s.error());
  print(status_to_json(*s, po.link.checksum));
  return Exit::ok;
}

int cmd_set(const PortOptions& po, int addr, const Json& patch) {
  auto link = connect(po);
  if (!link) return report(link.error());
  auto before = query(*link, addr);  // read-modify-write: only the asked fields change
  if (!before) return report(before.error());
  RemoteCode code = before->code;
  if (!code.executable()) code = RemoteCode::factory();  // nothing sane to keep: start from factory
  if (auto ok = apply_remote_fields(patch, code); !ok) return report(Failure{Exit::usage, ok.error().message, "usage"});
  Status after;
  if (addr > 0) {
    auto r = link->exchange(Request{RequestKind::addressed, addr, code});
    if (!r) return report(r.error());
    after = **r;
  } else {
    // 0x05 is never answered; on a point-to-point line a 0x06 read confirms what happened.
    auto sent = link->exchange(Request{RequestKind::broadcast, 0, code});
    if (!sent) return report(sent.error());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = query(*link, 0);
    if (!r) return report(Failure{r.error().exit, "command sent, but the confirming read failed: " + r.error().message, r.error().kind});
    after = *r;
  }
  print(status_to_json(after, po.link.checksum));
  const bool applied = after.code.bytes[0] == code.bytes[0] && after.code.bytes[1] == code.bytes[1] &&
                       after.code.bytes[2] == code.bytes[2];
  if (!applied)
    return report(Failure{Exit::protocol, "the unit did not apply the command: sent remote code " + code.hex() +
                                              ", unit reports " + after.code.hex(), "not_applied"});
  return Exit::ok;
}

int cmd_set_address(const PortOptions& po, int new_address) {
  auto link = connect(po);
  if (!link) return report(link.error());
  auto r = link->exchange(Request{RequestKind::set_address, new_address, RemoteCode::query()});
  if (!r) return report(r.error());
  print(status_to_json(**r, po.link.checksum));
  return Exit::ok;
}

int cmd_watch(const PortOptions& po, int addr, const WatchOptions& w) {
  using Clock = std::chrono::steady_clock;
  m2m::cli::install_interrupt_flag();
  auto link = connect(po);
  if (!link) return report(link.error());
  const auto start = Clock::now();
  std::optional<Json> previous;
  int last_exit = Exit::ok;
  for (std::uint64_t n = 0; w.count == 0 || n < w.count; ++n) {
    if (n > 0) {  // sleep in slices so Ctrl-C and --for stop promptly
      const auto wake = Clock::now() + w.interval;
      while (Clock::now() < wake && !m2m::cli::interrupted()) {
        if (w.run_for.count() > 0 && Clock::now() - start >= w.run_for) return last_exit;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    if (m2m::cli::interrupted()) return Exit::interrupted_exit;
    if (w.run_for.count() > 0 && Clock::now() - start >= w.run_for) return last_exit;
    Json line;
    line["ts"] = m2m::cli::timestamp_now();
    auto s = query(*link, addr);
    if (!s) {
      line["error"] = s.error().kind;
      line["message"] = s.error().message;
      last_exit = s.error().exit;
      if (!po.quiet) m2m::cli::warning(kProg, s.error().message);
    } else {
      Json state = status_to_json(*s, po.link.checksum);
      Json changed = Json::array();
      if (previous)
        for (auto& [key, value] : state.items())
          if (key != "raw" && key != "code" && key != "status" && (!previous->contains(key) || (*previous)[key] != value))
            changed.push_back(key);
      previous = state;
      for (auto& [key, value] : state.items()) line[key] = value;
      line["changed"] = std::move(changed);
      last_exit = Exit::ok;
    }
    if (!print(line)) return Exit::ok;  // stdout closed: stop quietly
  }
  return last_exit;
}

}  // namespace gree_ctl
