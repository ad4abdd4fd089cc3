// status, set, set-address/clear-address and watch: the subcommands that talk to a unit.
//
// The rule they share (gree-protocol(7) "DECISIONS WHERE THE DOCUMENT IS SILENT"): gree-ctl never puts on the
// line a remote code the user did not ask for. 0x06 is the only read that executes nothing,
// and it checks no address, so it is for point-to-point lines. On a bus a unit is read by
// re-sending its last known code (StateStore), which changes nothing unless someone used the
// infrared remote since; with no known code gree-ctl refuses and says how to get one.
#include "commands.hpp"

#include <cstdio>
#include <thread>

#include "cli/cli.hpp"
#include "state_store.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;
using Clock = std::chrono::steady_clock;

int report(const Failure& f) {
  m2m::cli::error(kProg, f.message);
  return f.exit;
}

namespace {

bool print(const Json& j) { return m2m::cli::write_line(j.dump()); }

}  // namespace

Outcome<Link> connect(const PortOptions& po) {
  auto port = SerialPort::open(po.device, po.line);
  if (!port) return m2m::unexpected<Failure>(port.error());
  return Link(std::move(*port), po.link);
}

StateStore store_for(const PortOptions& po) {
  return StateStore(po.state_dir.empty() ? StateStore::default_dir() : po.state_dir, po.device);
}

// Every status frame gree-ctl accepts updates the unit's record; failing to write it is worth
// a warning (the next addressed read may refuse), not a failed command.
void remember(const StateStore& store, const PortOptions& po, const Status& s) {
  if (auto ok = store.remember(s, po.link.checksum); !ok && !po.quiet) m2m::cli::warning(kProg, ok.error().message);
}

namespace {

Outcome<Status> exchange_status(Link& link, const Request& r) {
  auto got = link.exchange(r);
  if (!got) return m2m::unexpected<Failure>(got.error());
  return **got;
}

// 0x06: the unit executes nothing; the code field is filler it ignores (the factory code).
Outcome<Status> read_point_to_point(Link& link) { return exchange_status(link, Request{RequestKind::read, 0, RemoteCode::factory()}); }

}  // namespace

// The refusal when nothing safe can be sent to an addressed unit; nothing has been sent.
Failure no_known_code(const PortOptions& po, const StateStore& store, int addr, const std::string& why) {
  const std::string d = po.device;
  return Failure{Exit::usage,
                 "no known settings for unit " + std::to_string(addr) + " on " + store.port() + why +
                     ". On a bus the only addressed read (0x07) makes the unit execute the remote code it carries, and "
                     "gree-ctl sends only a code it has seen from that unit or one you give in full; nothing was sent. "
                     "Either read the unit once point-to-point (connect it alone: gree-ctl -d " + d + " status), "
                     "or give every setting once: gree-ctl -d " + d + " set --addr " + std::to_string(addr) +
                     " --power on|off --mode auto|cool|dry|fan|heat --temp 16..30 --fan auto|low|medium|high",
                 "no_known_code"};
}

// The unit's last known code, or the refusal (a damaged record counts as none, and says so).
Outcome<KnownState> known_code(const PortOptions& po, const StateStore& store, int addr) {
  auto k = store.load(addr);
  if (!k) return m2m::unexpected<Failure>(no_known_code(po, store, addr, " (" + k.error().message + ")"));
  if (!*k) return m2m::unexpected<Failure>(no_known_code(po, store, addr, " (no " + store.path_for(addr) + ")"));
  return **k;
}

namespace {

// 0x07 re-sending the unit's last known code: the only addressed read there is.
Outcome<Status> read_addressed(Link& link, const KnownState& k) {
  link.note("unit " + std::to_string(k.address) + ": re-sending its last known code " + k.code.hex() + " (seen " + k.seen +
            "); this changes nothing unless someone used the infrared remote since, which it overwrites");
  return exchange_status(link, Request{RequestKind::addressed, k.address, k.code});
}

// What the unit reports against what was sent: bytes 1-3 of its settings (byte 4 is reserved).
}  // namespace

bool applied(const Status& after, const RemoteCode& sent) {
  const RemoteCode now = after.settings();
  return now.bytes[0] == sent.bytes[0] && now.bytes[1] == sent.bytes[1] && now.bytes[2] == sent.bytes[2];
}

namespace {

std::string changed_options(const Json& patch) {
  std::string out;
  for (auto& [key, value] : patch.items()) {
    (void)value;
    out += (out.empty() ? "--" : ", --") + (key == "set_temp" ? std::string("temp") : key == "x_fan" ? std::string("x-fan") : key);
  }
  return out;
}

}  // namespace

int cmd_status(const PortOptions& po, int addr) {
  const StateStore store = store_for(po);
  std::optional<KnownState> known;
  if (addr > 0) {  // refuse before touching the port
    auto k = known_code(po, store, addr);
    if (!k) return report(k.error());
    known = *k;
  }
  auto link = connect(po);
  if (!link) return report(link.error());
  auto s = known ? read_addressed(*link, *known) : read_point_to_point(*link);
  if (!s) return report(s.error());
  remember(store, po, *s);
  print(status_to_json(*s, po.link.checksum));
  return Exit::ok;
}

int cmd_set(const PortOptions& po, int addr, const Json& patch) {
  const StateStore store = store_for(po);
  if (addr > 0) {
    // On top of the last known code; with none, only when every main setting is given.
    std::optional<KnownState> known;
    std::string why;
    if (auto k = store.load(addr); !k) {
      why = " (" + k.error().message + ")";
      if (!po.quiet) m2m::cli::warning(kProg, k.error().message);
    } else if (*k) {
      known = **k;
    } else {
      why = " (no " + store.path_for(addr) + ")";
    }
    auto code = addressed_code(known ? std::optional<RemoteCode>(known->code) : std::nullopt, patch);
    if (!code) return report(Failure{Exit::usage, code.error().message, "usage"});
    if (!*code)
      return report(no_known_code(po, store, addr, why + ", and " + changed_options(patch) + " alone would leave the rest to chance"));
    auto link = connect(po);
    if (!link) return report(link.error());
    link->note(known ? "unit " + std::to_string(addr) + ": last known code " + known->code.hex() + " (seen " + known->seen +
                           "); sending " + (*code)->hex() + " (" + changed_options(patch) + " changed)"
                     : "unit " + std::to_string(addr) + ": no known code; every main setting given, the rest from the factory state: sending " +
                           (*code)->hex());
    auto after = exchange_status(*link, Request{RequestKind::addressed, addr, **code});
    if (!after) return report(after.error());
    remember(store, po, *after);
    print(status_to_json(*after, po.link.checksum));
    if (!applied(*after, **code))
      return report(Failure{Exit::protocol, "the unit did not apply the command: sent remote code " + (*code)->hex() +
                                                ", unit reports " + after->settings().hex(), "not_applied"});
    return Exit::ok;
  }

  // Point-to-point: read (0x06), change only what was asked, execute (0x05, never answered),
  // confirm with another read.
  auto link = connect(po);
  if (!link) return report(link.error());
  auto before = read_point_to_point(*link);
  if (!before) return report(before.error());
  remember(store, po, *before);
  RemoteCode code = before->settings();
  if (auto ok = apply_remote_fields(patch, code); !ok) return report(Failure{Exit::usage, ok.error().message, "usage"});
  link->note("the unit runs " + before->settings().hex() + "; sending " + code.hex() + " (" + changed_options(patch) + " changed)");
  if (auto sent = link->exchange(Request{RequestKind::broadcast, 0, code}); !sent) return report(sent.error());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the unit executes before it can answer
  auto after = read_point_to_point(*link);
  if (!after)
    return report(Failure{after.error().exit, "command sent, but the confirming read failed: " + after.error().message, after.error().kind});
  remember(store, po, *after);
  print(status_to_json(*after, po.link.checksum));
  if (!applied(*after, code))
    return report(Failure{Exit::protocol, "the unit did not apply the command: sent remote code " + code.hex() +
                                              ", unit reports " + after->settings().hex(), "not_applied"});
  return Exit::ok;
}

int cmd_set_address(const PortOptions& po, int new_address) {
  // 0x0A executes its code too: read the unit (0x06, point-to-point) and send back exactly
  // what it runs, so only the address changes.
  const StateStore store = store_for(po);
  auto link = connect(po);
  if (!link) return report(link.error());
  auto before = read_point_to_point(*link);
  if (!before) return report(before.error());
  link->note("the unit runs " + before->settings().hex() + "; sending it back with the new address " + std::to_string(new_address));
  auto after = exchange_status(*link, Request{RequestKind::set_address, new_address, before->settings()});
  if (!after) return report(after.error());
  if (before->address > 0 && before->address != after->address) store.forget(before->address);
  remember(store, po, *after);
  print(status_to_json(*after, po.link.checksum));
  return Exit::ok;
}

int cmd_watch(const PortOptions& po, int addr, const WatchOptions& w) {
  m2m::cli::install_interrupt_flag();
  const StateStore store = store_for(po);
  std::optional<KnownState> known;
  if (addr > 0) {
    auto k = known_code(po, store, addr);
    if (!k) return report(k.error());
    known = *k;
  }
  auto link = connect(po);
  if (!link) return report(link.error());
  const auto start = Clock::now();
  const auto past_end = [&] { return w.run_for.count() > 0 && Clock::now() - start >= w.run_for; };
  std::optional<Json> previous;
  int last_exit = Exit::ok;
  auto next_poll = start;
  for (std::uint64_t n = 0; w.count == 0 || n < w.count; ++n) {
    // A fixed period: polls are due at start + k * interval whatever each round trip took;
    // a poll that overran its slot skips the slots it missed instead of drifting.
    if (n > 0) {
      next_poll += w.interval;
      if (w.interval.count() > 0 && Clock::now() > next_poll) {
        const auto late = Clock::now() - next_poll;
        next_poll += w.interval * (late / w.interval + 1);
      }
      while (Clock::now() < next_poll && !m2m::cli::interrupted()) {  // slices: Ctrl-C and --for stop promptly
        if (past_end()) return last_exit;
        std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(20), next_poll - Clock::now()));
      }
    }
    if (m2m::cli::interrupted()) return Exit::interrupted_exit;
    if (past_end()) return last_exit;
    Json line;
    line["ts"] = m2m::cli::timestamp_now();
    auto s = known ? read_addressed(*link, *known) : read_point_to_point(*link);
    if (!s) {
      line["error"] = s.error().kind;
      line["message"] = s.error().message;
      last_exit = s.error().exit;
      if (!po.quiet) m2m::cli::warning(kProg, s.error().message);
    } else {
      remember(store, po, *s);
      if (known) known->code = s->settings();  // the unit's latest state is what the next poll re-sends
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
