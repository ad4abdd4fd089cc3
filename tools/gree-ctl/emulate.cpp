// `gree-ctl emulate`: one or more Gree units on a pseudo-terminal (or an existing port), for
// trying gree-ctl and scripts without an air conditioner. The behaviour of the units lives
// in lib/gree/unit_model; this file is the line: pacing, fault injection, the JSON log.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "cli/cli.hpp"
#include "commands.hpp"
#include "gree/unit_model.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_link(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The --link symlink. Another program's link is never replaced: only one left by an emulator
// that was killed before it could clean up. That is a dangling link (a pty's /dev/pts/N
// vanishes with its owner), or one whose /dev/pts/N the kernel has since given to another
// program: so each emulator keeps a record of its link, named after the link's absolute path
// in $XDG_RUNTIME_DIR (or /tmp), holding the pty it points to, locked (flock) while it runs.
// An unlocked record naming the link's current target says its emulator is gone. On exit
// the link is removed only while it still points to this emulator's pty.
class LinkGuard {
 public:
  LinkGuard() = default;
  LinkGuard(const LinkGuard&) = delete;
  LinkGuard& operator=(const LinkGuard&) = delete;
  ~LinkGuard() {
    if (!path_.empty() && read_link(path_) == target_) {
      ::unlink(path_.c_str());
      if (record_fd_ >= 0) ::unlink(record_.c_str());
    } else if (path_.empty() && record_fd_ >= 0 && fresh_record_) {
      ::unlink(record_.c_str());  // refused before linking: leave no empty record behind
    }
    if (record_fd_ >= 0) ::close(record_fd_);  // and the lock with it
  }
  Outcome<void> create(const std::string& link, const std::string& target) {
    record_ = record_path(link);
    record_fd_ = ::open(record_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    std::string recorded;  // the pty of a dead emulator that made this link, if one did
    if (record_fd_ >= 0 && ::flock(record_fd_, LOCK_EX | LOCK_NB) == 0) {
      char buf[256];
      const ssize_t n = ::pread(record_fd_, buf, sizeof buf, 0);
      if (n > 0) recorded.assign(buf, static_cast<std::size_t>(n));
      fresh_record_ = recorded.empty();
    } else if (record_fd_ >= 0) {
      ::close(record_fd_);  // a live emulator holds it: its link (below) is in use
      record_fd_ = -1;
    }
    struct stat st{};
    if (::lstat(link.c_str(), &st) == 0) {
      if (!S_ISLNK(st.st_mode)) return failed(Exit::failure, link + " exists and is not a symlink: not replacing it", "io");
      // A live target that is not our own new pty (the kernel reuses a dead emulator's
      // number) nor a dead emulator's recorded one (given to another program since).
      struct stat to{};
      const std::string current = read_link(link);
      if (::stat(link.c_str(), &to) == 0 && current != target && (recorded.empty() || current != recorded))
        return failed(Exit::failure,
                      link + " already links to " + current +
                          ", which is in use (another gree-ctl emulate?): not replacing it. Stop that emulator, or choose "
                          "another --link path",
                      "link_in_use");
      ::unlink(link.c_str());  // left by an emulator that died without cleaning up
    }
    if (::symlink(target.c_str(), link.c_str()) != 0)
      return failed(Exit::failure, "symlink " + link + ": " + std::strerror(errno), "io");
    path_ = link;
    target_ = target;
    if (record_fd_ >= 0 && (::ftruncate(record_fd_, 0) != 0 ||
                            ::pwrite(record_fd_, target.data(), target.size(), 0) != static_cast<ssize_t>(target.size()))) {
      ::close(record_fd_);  // no record: a later emulator treats a reused pty as in use (safe)
      ::unlink(record_.c_str());
      record_fd_ = -1;
    }
    return {};
  }

 private:
  // $XDG_RUNTIME_DIR (or /tmp)/gree-ctl-emulate-<FNV-1a 64 of the link's absolute path>.lock
  static std::string record_path(const std::string& link) {
    std::string abs = link;
    const std::size_t slash = link.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : link.substr(0, slash));
    if (char* real = ::realpath(dir.c_str(), nullptr)) {
      abs = std::string(real) + "/" + (slash == std::string::npos ? link : link.substr(slash + 1));
      std::free(real);
    }
    std::uint64_t h = 14695981039346656037ull;
    for (const unsigned char c : abs) h = (h ^ c) * 1099511628211ull;
    char name[64];
    std::snprintf(name, sizeof name, "/gree-ctl-emulate-%016llx.lock", static_cast<unsigned long long>(h));
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    return std::string(runtime && *runtime ? runtime : "/tmp") + name;
  }

  std::string path_, target_, record_;
  int record_fd_ = -1;
  bool fresh_record_ = false;
};

void log(Json j) {
  Json line;
  line["ts"] = m2m::cli::timestamp_now();
  for (auto& [k, v] : j.items()) line[k] = v;
  m2m::cli::write_line(line.dump());
}

// Faults: "E3" for every unit, "1024:E3" for one. Returns the bits per unit, or a message.
Outcome<std::vector<std::uint8_t>> fault_bits(const EmulateOptions& e) {
  std::vector<std::uint8_t> bits(e.units.size(), 0);
  for (const auto& spec : e.faults) {
    std::string code = spec;
    std::optional<int> only;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
      code = spec.substr(colon + 1);
      try {
        only = std::stoi(spec.substr(0, colon));
      } catch (...) {
        return failed(Exit::usage, "--fault " + spec + ": expected E1..E6 or ADDR:E1..E6", "usage");
      }
    }
    auto n = parse_fault(code);
    if (!n) return failed(Exit::usage, "--fault " + spec + ": expected E1..E6 or ADDR:E1..E6", "usage");
    bool matched = false;
    for (std::size_t i = 0; i < e.units.size(); ++i)
      if (!only || e.units[i] == *only) {
        bits[i] = static_cast<std::uint8_t>(bits[i] | (1u << (*n - 1)));
        matched = true;
      }
    if (!matched) return failed(Exit::usage, "--fault " + spec + ": no emulated unit has address " + std::to_string(*only), "usage");
  }
  return bits;
}

// Sends bytes at the pace of the line: 11 bit times per byte (start + 8 data + parity +
// stop), on an absolute schedule so sleeps do not accumulate drift.
Outcome<void> paced_write(SerialPort& port, m2m::ByteView bytes, const LineSettings& line) {
  const int bits = 1 + line.data_bits + (line.parity != 'N' ? 1 : 0) + line.stop_bits;
  const auto per_byte = std::chrono::microseconds(1'000'000LL * bits / line.baud);
  auto next = Clock::now();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::this_thread::sleep_until(next);
    if (auto ok = port.write_all(bytes.subspan(i, 1)); !ok) return ok;
    next += per_byte;
  }
  std::this_thread::sleep_until(next);
  return {};
}

// A reply whose checksum no longer matches (but still looks like a frame on the line).
void corrupt_checksum(m2m::Bytes& frame) {
  std::uint8_t& digit = frame[frame.size() - 2];
  digit = digit == '0' ? '1' : '0';
}

}  // namespace

int cmd_emulate(const PortOptions& po, const EmulateOptions& e) {
  m2m::cli::install_interrupt_flag();
  auto faults = fault_bits(e);
  if (!faults) return report(faults.error());
  std::vector<Unit> units;
  for (std::size_t i = 0; i < e.units.size(); ++i)
    units.emplace_back(UnitConfig{e.units[i], e.cooling_only, e.room_temp, e.drift.count(), (*faults)[i]});
  Bus bus(std::move(units));

  std::optional<SerialPort> port;
  std::string device;
  Pty pty;  // keeps the slave open for the emulator's lifetime
  if (po.device_given) {
    auto p = SerialPort::open(po.device, po.line);
    if (!p) return report(p.error());
    port.emplace(std::move(*p));
    device = po.device;
  } else {
    auto p = open_pty();
    if (!p) return report(p.error());
    pty = std::move(*p);
    device = pty.slave_path;
    port.emplace(SerialPort::adopt(std::move(pty.master), "pty master"));
  }
  LinkGuard link;
  if (!e.link_path.empty())
    if (auto ok = link.create(e.link_path, device); !ok) return report(ok.error());

  Json hello{{"event", "listening"}, {"device", device}};
  if (!e.link_path.empty()) hello["link"] = e.link_path;
  hello["units"] = e.units;
  hello["line"] = po.line.describe();
  hello["checksum"] = to_string(po.link.checksum);
  log(hello);

  std::mt19937_64 rng(e.seed);
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  std::uint64_t requests = 0, replies_dropped = 0, replies_corrupted = 0;
  StreamReader reader;
  const auto start = Clock::now();
  auto last_tick = start;

  auto serve = [&](const Request& req) -> Outcome<void> {
    ++requests;
    log(Json{{"event", "rx"}, {"frame", request_to_json(req, po.link.checksum)}});
    std::vector<Status> replies = bus.handle(req);
    if (replies.empty()) {
      log(Json{{"event", "silent"},
               {"reason", req.kind == RequestKind::broadcast ? "a broadcast (0x05) is never answered"
                                                             : "no unit has address " + std::to_string(req.address)}});
      return {};
    }
    if (replies_dropped < e.drop_first || (e.drop_rate > 0 && chance(rng) < e.drop_rate)) {
      ++replies_dropped;
      log(Json{{"event", "drop"}, {"unit", replies.front().address}});
      return {};
    }
    std::vector<m2m::Bytes> frames;
    Json who = Json::array();
    for (auto& s : replies) {
      who.push_back(s.address);
      if (e.reply_address) s.address = *e.reply_address;
      frames.push_back(*encode_status(s, po.link.checksum));
    }
    m2m::Bytes wire = frames.size() == 1 ? frames.front() : collide(frames);
    bool corrupted = false;
    if (replies_corrupted < e.corrupt_first || (e.corrupt_rate > 0 && chance(rng) < e.corrupt_rate)) {
      ++replies_corrupted;
      corrupt_checksum(wire);
      corrupted = true;
    }
    if (e.delay.count() > 0) std::this_thread::sleep_for(e.delay);
    Json tx{{"event", "tx"}, {"units", who}, {"raw", m2m::to_hex(wire)}};
    if (frames.size() > 1) tx["collision"] = true;
    if (corrupted) tx["corrupted"] = true;
    if (frames.size() == 1 && !corrupted) tx["frame"] = status_to_json(replies.front(), po.link.checksum);
    auto ok = paced_write(*port, wire, po.line);
    log(std::move(tx));
    return ok;
  };

  int exit_code = Exit::ok;
  while (!m2m::cli::interrupted()) {
    const auto now = Clock::now();
    if (e.run_for.count() > 0 && now - start >= e.run_for) break;
    if (e.count > 0 && requests >= e.count) break;
    bus.advance(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_tick).count());
    last_tick = now;
    auto got = port->read_some(std::chrono::milliseconds(50));
    if (!got) {
      exit_code = report(got.error());
      break;
    }
    if (got->empty()) continue;
    reader.feed(*got);
    while (auto it = reader.next()) {
      if (!it->is_frame) {
        log(Json{{"event", "rx_error"}, {"error", "garbage"}, {"raw", m2m::to_hex(it->bytes)}});
        continue;
      }
      if (it->bytes[0] == kStatusStart) {  // another unit's reply on a shared line
        log(Json{{"event", "rx_ignored"}, {"raw", m2m::to_hex(it->bytes)}});
        continue;
      }
      auto req = decode_request(it->bytes, po.link.checksum);
      if (!req) {  // a real unit ignores a damaged request, so the master times out
        log(Json{{"event", "rx_error"}, {"error", m2m::to_string(req.error().kind)}, {"message", req.error().message},
                 {"raw", m2m::to_hex(it->bytes)}});
        continue;
      }
      if (auto ok = serve(*req); !ok) {
        exit_code = report(ok.error());
        break;
      }
    }
    if (exit_code != Exit::ok) break;
  }
  log(Json{{"event", "stopped"}, {"requests", requests}, {"dropped", replies_dropped}, {"corrupted", replies_corrupted}});
  // An emulator stopped on purpose has done its job (cli.hpp, SIGINT/SIGTERM).
  if (exit_code == Exit::ok && m2m::cli::interrupted())
    return m2m::cli::exit_after_interrupt(m2m::cli::OnInterrupt::server_stop);
  return exit_code;
}

}  // namespace gree_ctl
