#include "run.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "cli/output.hpp"
#include "cli/record_writer.hpp"
#include "core/bytes.hpp"
#include "device/sim_fleet.hpp"
#include "device/sim_state.hpp"
#include "m2m/frame.hpp"
#include "m2m/messages.hpp"

namespace simdevice {
namespace {

using namespace m2m;
namespace dev = m2m::device;
using nlohmann::json;
using ordered = nlohmann::ordered_json;

bool is_data(const ai::FrameView& f) {
  const auto k = ai::command_key(f.cls, f.cmd);
  return f.status == ai::status::request && (k == ai::cmd::data_downlink || k == ai::cmd::data_relay || k == ai::cmd::data_p2p_send);
}

class Runner final : public dev::FleetUser {
 public:
  explicit Runner(const Options& o) : o_(o), fleet_(o.sim, *this, o.crc), writer_(out_, cli::RecordFormat::json) {
    out_.set_per_record(true);
  }

  int run() {
    for (const auto& d : o_.devices) fleet_.add(d.id, d.password);
    if (!o_.state_file.empty()) {
      auto r = dev::load_state(o_.state_file, o_.sim.defaults, [&](std::uint64_t id, const dev::ParamValues& v) {
        if (auto* d = fleet_.find(id)) d->params().own() = v;
      });
      if (!r) {
        cli::error(kProg, r.error().message);
        return cli::failure;
      }
    }
    if (auto r = fleet_.open(); !r) {
      cli::error(kProg, r.error().message);
      return cli::failure;
    }
    if (o_.p2p_with)
      for (std::size_t i = 0; i < fleet_.size(); ++i)
        if (fleet_.at(i).id() != *o_.p2p_with) fleet_.at(i).p2p_with(*o_.p2p_with, dev::Clock::now());
    const int flags = ::fcntl(STDIN_FILENO, F_GETFL);
    if (flags >= 0 && ::fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK) == 0) {
      if (fleet_.watch_input(STDIN_FILENO)) stdin_open_ = true;
      else stdin_file_ = true;  // a regular file or /dev/null: epoll refuses those
    }
    start_ = dev::Clock::now();
    cli::install_interrupt_flag();
    if (fleet_.run(&cli::interrupted) != 0) {
      cli::error(kProg, "the event loop failed");
      return cli::failure;
    }
    if (stdin_open_) ::fcntl(STDIN_FILENO, F_SETFL, flags);
    save_state();
    out_.flush();
    if (!o_.quiet) summary();
    if (cli::interrupted()) return cli::exit_after_interrupt();
    return exit_;
  }

  // ---- FleetUser ------------------------------------------------------------------------
  void event(dev::SimDevice& d, const dev::SimEvent& e) override {
    if (e.kind == dev::SimEventKind::config_write && e.status == ai::status::ok) save_state();
    if (e.kind == dev::SimEventKind::reboot && e.text == "ota") save_state();
    if (!o_.verbose) return;
    ordered line;
    line["ts"] = cli::timestamp_now();
    line["event"] = dev::to_string(e.kind);
    line["device"] = ai::format_device(d.id());
    if (!e.text.empty()) line["detail"] = std::string(e.text);
    switch (e.kind) {
      case dev::SimEventKind::login:
        line["fallback"] = e.status != 0;
        line["token"] = to_hex(d.session().token());
        break;
      case dev::SimEventKind::login_failed:
      case dev::SimEventKind::logout:
      case dev::SimEventKind::gave_up:
        if (e.reason != ErrorKind::bad_value) line["reason"] = std::string(to_string(e.reason));
        break;
      case dev::SimEventKind::config_write: line["status"] = e.status == 0 ? "ok" : e.status == 1 ? "fail" : "unsupported"; break;
      case dev::SimEventKind::token_mismatch: line["count"] = d.foreign_tokens(); break;
      case dev::SimEventKind::reply:
        line["status"] = e.status == 0 ? "ok" : e.status == 1 ? "fail" : e.status == 3 ? "unsupported" : std::to_string(e.status);
        break;
      default: break;
    }
    std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, ordered::error_handler_t::replace).c_str());
  }

  void received(dev::SimDevice& d, const ai::FrameView& f, ByteView raw, std::string_view peer) override {
    Bytes encoded;
    if (raw.empty()) {  // not from a wire buffer (should not happen): encode it again
      if (ai::encode(f, o_.crc, encoded)) raw = encoded;
    }
    writer_.frame(f, raw, cli::RecordWriter::Meta{true, peer, "rx", {}});
    if (!out_.ok()) fleet_.stop();
    if (!is_data(f)) return;
    if (o_.echo && ai::command_key(f.cls, f.cmd) == ai::cmd::data_downlink) d.uplink(f.data, dev::Clock::now());
    if (++frames_ == o_.max_frames) fleet_.stop();
  }

  void input(int fd) override {
    char buf[8192];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        pending_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {  // end of input: a last line without '\n' still counts
        if (!pending_.empty()) pending_ += '\n';
        if (stdin_open_) fleet_.unwatch_input(fd);
        stdin_open_ = stdin_file_ = false;
      }
      break;  // EAGAIN, or an error: wait for the next readiness
    }
    drain_lines();
  }

  // Lines go out in order; a line for a device that is not logged in (yet, or rebooting)
  // waits, and the lines after it wait with it.
  void drain_lines() {
    std::size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty() && !input_line(line)) return;
      pending_.erase(0, nl + 1);
    }
  }

  void tick(dev::Time now) override {
    if (stdin_file_) input(STDIN_FILENO);  // a regular file cannot be watched: read it as we go
    drain_lines();
    if (o_.run_for.count() > 0 && now - start_ >= o_.run_for) fleet_.stop();
    if (fleet_.all_failed()) {
      const ErrorKind why = fleet_.last_failure();
      cli::error(kProg, std::string(fleet_.size() == 1 ? "the device" : "every device") + " gave up logging in (" +
                            std::string(to_string(why)) + "): " +
                            (why == ErrorKind::refused ? "check the ids and passwords (m2m-server device list)"
                                                       : "is the platform at --server running?"));
      exit_ = why == ErrorKind::refused ? cli::refused : cli::unavailable;
      fleet_.stop();
    }
  }

 private:
  bool warn_line(const std::string& line, const std::string& why) {
    cli::warning(kProg, "stdin line skipped: " + why + ": " + line.substr(0, 80));
    return true;
  }

  Result<Bytes> payload_of(const std::string& line) const {
    if (!o_.hex_payload) return Bytes(line.begin(), line.end());
    return parse_hex_text(line);
  }

  // A plain line: an uplink of the first device (to the P2P peer with --p2p-with). A JSON
  // object line: {"device":ID, "text"|"payload", "to"|"relay":ID} or {"group_list":N} or
  // {"event":"working","description":…}.
  // false: the device is not logged in; try again later.
  bool input_line(const std::string& line) {
    const dev::Time now = dev::Clock::now();
    if (line.front() != '{') {
      auto p = payload_of(line);
      if (!p) return warn_line(line, "not hex: " + p.error().message);
      dev::SimDevice& d = fleet_.at(0);
      const bool sent = o_.p2p_with && d.id() != *o_.p2p_with ? d.send_to_peer(*o_.p2p_with, *p, now) : d.uplink(*p, now);
      if (!sent) return false;
      fleet_.poke(d);
      return true;
    }
    try {
      const json j = json::parse(line);
      dev::SimDevice* d = &fleet_.at(0);
      if (j.contains("device")) {
        auto id = ai::parse_device(j["device"].is_string() ? j["device"].get<std::string>() : std::to_string(j["device"].get<std::uint64_t>()));
        if (!id) return warn_line(line, "device: " + id.error().message);
        d = fleet_.find(*id);
        if (!d) return warn_line(line, "device " + ai::format_device(*id) + " is not simulated here");
      }
      Bytes payload;
      if (j.contains("text")) {
        const auto t = j["text"].get<std::string>();
        payload.assign(t.begin(), t.end());
      } else if (j.contains("payload")) {
        auto p = parse_hex_text(j["payload"].get<std::string>());
        if (!p) return warn_line(line, "payload: " + p.error().message);
        payload = std::move(*p);
      }
      bool sent = false;
      if (j.contains("group_list")) {
        const json& g = j["group_list"];
        sent = d->group_list(g.is_number_unsigned() ? g.get<std::uint16_t>() : 0, now);
      } else if (j.contains("event")) {
        if (j["event"] != "working") return warn_line(line, "event: only \"working\" (0x20) is sent on request");
        sent = d->working_event(j.value("description", std::string()), now);
      } else if (j.contains("relay") || j.contains("to")) {
        const bool relay = j.contains("relay");
        auto target = ai::parse_device(j[relay ? "relay" : "to"].get<std::string>());
        if (!target) return warn_line(line, std::string(relay ? "relay" : "to") + ": " + target.error().message);
        sent = relay ? d->relay(*target, payload, now) : d->send_to_peer(*target, payload, now);
      } else if (j.contains("text") || j.contains("payload")) {
        sent = d->uplink(payload, now);
      } else {
        return warn_line(line, "expected text or payload, relay, to, group_list or event");
      }
      if (!sent) return false;
      fleet_.poke(*d);
      return true;
    } catch (const std::exception& e) {
      return warn_line(line, std::string("not a JSON request: ") + e.what());
    }
  }

  void save_state() {
    if (o_.state_file.empty()) return;
    auto r = dev::save_state(o_.state_file, [&](const std::function<void(std::uint64_t, const dev::Params&)>& f) {
      for (std::size_t i = 0; i < fleet_.size(); ++i) f(fleet_.at(i).id(), fleet_.at(i).params());
    });
    if (!r) cli::warning(kProg, r.error().message);
  }

  void summary() {
    std::uint64_t logins = 0, foreign = 0;
    for (std::size_t i = 0; i < fleet_.size(); ++i) {
      logins += fleet_.at(i).logins();
      foreign += fleet_.at(i).foreign_tokens();
    }
    std::fprintf(stderr, "%s: %s, %zu logged in at the end, %s, %s received, %s with another token ignored\n", kProg,
                 cli::plural(fleet_.size(), "device").c_str(), fleet_.logged_in(), cli::plural(logins, "login").c_str(),
                 cli::plural(frames_, "data frame").c_str(), cli::plural(foreign, "frame").c_str());
  }

  const Options& o_;
  dev::SimFleet fleet_;
  cli::RecordOutput out_;
  cli::RecordWriter writer_;
  std::string pending_;
  dev::Time start_{};
  std::uint64_t frames_ = 0;
  int exit_ = cli::ok;
  bool stdin_open_ = false;
  bool stdin_file_ = false;
};

}  // namespace

int run(const Options& o) {
  Runner r(o);
  return r.run();
}

}  // namespace simdevice
