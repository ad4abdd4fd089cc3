#include "session.hpp"

#include "cli/cli.hpp"
#include "cli/json_pretty.hpp"
#include "m2m/json.hpp"
#include "core/units.hpp"
#include "m2m/messages.hpp"

namespace m2m::send {
namespace {

bool is_login(std::uint8_t cls, std::uint8_t cmd) { return cmd == 0x00 && (cls == ai::cls::link || cls == ai::cls::platform); }

bool is_reply_to(const ai::FrameView& f, std::uint8_t cls, std::uint8_t cmd, std::uint16_t seq) {
  return f.cls == cls && f.cmd == cmd && f.seq == seq && f.status != ai::status::request;
}

}  // namespace

Session::Session(std::string_view prog, const SessionOptions& opt, cli::RecordOutput& out)
    : prog_(prog), opt_(opt), out_(out), deframer_(opt.crc), rx_(cli::kInputChunk) {}

Deadline Session::deadline() const {
  return opt_.timeout.count() > 0 ? Clock::now() + opt_.timeout : kNoDeadline;
}

int Session::net_failure(NetStatus s, const std::string& doing) {
  out_.flush();
  switch (s) {
    case NetStatus::ok: return -1;
    case NetStatus::timeout:
      cli::error(prog_, (doing.empty() ? conn_.error() : doing + ": timed out") + " (-t " + format_duration(opt_.timeout) + ")");
      return cli::timed_out;
    case NetStatus::closed:
    case NetStatus::unavailable:
      cli::error(prog_, doing.empty() ? conn_.error() : doing + ": " + conn_.error());
      return cli::unavailable;
    case NetStatus::interrupted: return cli::interrupted_exit;
    case NetStatus::failed:
      cli::error(prog_, doing.empty() ? conn_.error() : doing + ": " + conn_.error());
      return cli::failure;
  }
  return cli::failure;
}

void Session::print_frame(const ai::FrameView& f, ByteView raw, const char* dir) {
  nlohmann::json extra = {{"ts", cli::timestamp_now()}, {"peer", conn_.peer()}, {"dir", dir}};
  std::string& out = out_.buffer();
  if (opt_.pretty) {
    scratch_.clear();
    ai::append_frame_json(scratch_, f, raw, &extra);
    cli::append_pretty_json(out, scratch_);
  } else {
    ai::append_frame_json(out, f, raw, &extra);
  }
  out.push_back('\n');
  out_.end_record();
}

void Session::print_error(const Error& e, ByteView raw, std::uint64_t skipped) {
  saw_garbage_ = true;
  nlohmann::ordered_json extra = {{"ts", cli::timestamp_now()}, {"peer", conn_.peer()}, {"dir", "rx"}};
  const std::string head = extra.dump();
  std::string body;  // keys in the documented order: v, error, offset, …
    ai::append_error_json(body, e, raw, skipped);
  scratch_.assign(head, 0, head.size() - 1);
  scratch_.push_back(',');
  scratch_.append(body, 1);
  std::string& out = out_.buffer();
  if (opt_.pretty) cli::append_pretty_json(out, scratch_);
  else out += scratch_;
  out.push_back('\n');
  out_.end_record();
}

NetStatus Session::transmit(const ai::Frame& f) {
  wire_.clear();
  if (auto r = ai::encode(f.view(), opt_.crc, wire_); !r) {
    cli::error(prog_, r.error().message);
    return NetStatus::failed;
  }
  if (opt_.verbose) print_frame(f.view(), wire_, "tx");
  auto s = conn_.send(wire_, deadline());
  last_tx_ = Clock::now();
  return s;
}

void Session::handle(const ai::DeframeEvent& ev, const Expect& expect, bool& matched, std::uint64_t& received) {
  if (!ev.ok) {
    print_error(ev.error, ev.raw, ev.skipped);
    return;
  }
  const ai::FrameView& f = ev.frame;
  if (is_reply_to(f, opt_.account ? ai::cls::platform : ai::cls::link, 0x01, f.seq) &&
      heartbeat_seqs_.erase(f.seq) > 0) {
    if (opt_.verbose) print_frame(f, ev.raw, "rx");  // our keep-alive's answer: not news
    return;
  }
  print_frame(f, ev.raw, "rx");
  ++received;
  if (expect.active && is_reply_to(f, expect.cls, expect.cmd, expect.seq)) {
    matched = true;
    last_reply_ = ai::Frame::from(f);
  }
}

Session::Wait Session::wait(const Expect& expect, std::uint64_t want, Deadline deadline) {
  bool matched = false;
  std::uint64_t received = 0;
  for (;;) {
    // Events of the last chunk come first: a reply and what followed it often share a read.
    if (rx_pending_) {
      ai::DeframeEvent ev;
      while (deframer_.next(ev)) {
        handle(ev, expect, matched, received);
        if (want > 0 ? received >= want : matched) {
          out_.flush();
          return Wait::matched;  // the rest of the chunk waits for the next wait()
        }
      }
      rx_pending_ = false;
      out_.flush();
    }
    // Keep the session alive while we wait longer than the heartbeat interval.
    Deadline until = deadline;
    if (opt_.heartbeat.count() > 0 && logged_in()) {
      const Deadline due = last_tx_ + opt_.heartbeat;
      if (due <= Clock::now()) {
        ai::Frame hb;
        hb.cls = opt_.account ? ai::cls::platform : ai::cls::link;
        hb.cmd = 0x01;
        hb.seq = next_seq();
        hb.device = opt_.account ? *opt_.account : opt_.device.value_or(0);
        hb.token = *token_;
        heartbeat_seqs_.insert(hb.seq);
        if (auto s = transmit(hb); s != NetStatus::ok) return to_wait(s);
        continue;
      }
      if (due < until) until = due;
    }
    std::size_t n = 0;
    const NetStatus s = conn_.receive(rx_, n, until);
    if (s == NetStatus::timeout && until != deadline) continue;  // time for a heartbeat, not the end
    if (s != NetStatus::ok) {
      out_.flush();
      return to_wait(s);
    }
    deframer_.feed(ByteView(rx_.data(), n));
    rx_pending_ = true;
  }
}

Session::Wait Session::to_wait(NetStatus s) {
  switch (s) {
    case NetStatus::ok: return Wait::matched;
    case NetStatus::timeout: return Wait::timeout;
    case NetStatus::closed: return Wait::closed;
    case NetStatus::unavailable: return Wait::unavailable;
    case NetStatus::interrupted: return Wait::interrupted;
    case NetStatus::failed: return Wait::failed;
  }
  return Wait::failed;
}

int Session::start(bool frame_is_login) {
  if (auto s = conn_.open(opt_.server, opt_.udp, deadline()); s != NetStatus::ok)
    return net_failure(s, "");
  last_tx_ = Clock::now();
  if (frame_is_login || !opt_.password) return -1;
  return login();
}

int Session::login() {
  ai::Frame f;
  f.cls = opt_.account ? ai::cls::platform : ai::cls::link;
  f.cmd = 0x00;
  f.seq = next_seq();
  f.device = opt_.account ? *opt_.account : opt_.device.value_or(0);
  auto pw = ai::parse_password(*opt_.password);
  if (!pw) {
    cli::error(prog_, "--password: " + pw.error().message);
    return cli::usage;
  }
  f.data.assign(pw->begin(), pw->end());
  if (auto s = transmit(f); s != NetStatus::ok) return net_failure(s, "send login to " + conn_.peer());
  Expect e{f.cls, f.cmd, f.seq, true};
  switch (wait(e, 0, deadline())) {
    case Wait::matched: break;
    case Wait::timeout: return net_failure(NetStatus::timeout, "login at " + conn_.peer());
    case Wait::closed: return net_failure(NetStatus::closed, "login at " + conn_.peer());
    case Wait::unavailable: return net_failure(NetStatus::unavailable, "login at " + conn_.peer());
    case Wait::interrupted: return cli::interrupted_exit;
    case Wait::failed: return net_failure(NetStatus::failed, "login at " + conn_.peer());
  }
  const ai::Frame& r = *last_reply_;
  const ByteView d = r.data;
  if (r.status != ai::status::ok || d.empty() || d.size() != 1u + d[0]) {
    cli::error(prog_, "login of " + ai::format_device(f.device) + " rejected (status " + ai::status_name(r.status) + ")");
    return r.status == ai::status::ok ? cli::protocol : cli::refused;
  }
  token_ = Bytes(d.begin() + 1, d.end());
  last_reply_.reset();
  return -1;
}

Result<ai::Frame> Session::complete(const nlohmann::json& j) {
  auto f = ai::frame_from_json(j);
  if (!f) return f;
  if (!j.contains("token") && token_) f->token = *token_;  // ignored where a frame has no token field
  if (!j.contains("seq")) f->seq = next_seq();
  if (!j.contains("device")) f->device = opt_.account ? 0 : opt_.device.value_or(0);
  return f;
}

int Session::reply_code() {
  if (!last_reply_) return cli::ok;
  switch (last_reply_->status) {
    case ai::status::ok: return cli::ok;
    case ai::status::fail:
    case ai::status::unsupported: return cli::refused;
    default: return cli::protocol;
  }
}

int Session::send_one(const nlohmann::json& j) {
  auto probe = ai::frame_from_json(j);
  if (!probe) {
    cli::error(prog_, probe.error().message);
    return cli::usage;
  }
  const Deadline until = deadline();
  const bool own_login = is_login(probe->cls, probe->cmd);
  if (int rc = start(own_login); rc >= 0) return rc;
  auto f = complete(j);
  if (!f) {
    cli::error(prog_, f.error().message);
    return cli::usage;
  }
  if (auto s = transmit(*f); s != NetStatus::ok) return net_failure(s, "send to " + conn_.peer());
  const bool expects_reply = f->status == ai::status::request;
  if (!expects_reply && opt_.count == 0) return saw_garbage_ ? cli::protocol : cli::ok;
  Expect e{f->cls, f->cmd, f->seq, expects_reply};
  const Wait w = wait(e, opt_.count, until);
  int rc = reply_code();
  if (w == Wait::timeout) {
    cli::error(prog_, opt_.count ? "fewer than " + std::to_string(opt_.count) + " frames within " + format_duration(opt_.timeout)
                                 : "no reply within " + format_duration(opt_.timeout));
    return cli::timed_out;
  }
  if (w == Wait::closed || w == Wait::unavailable || w == Wait::failed)
    return net_failure(w == Wait::closed ? NetStatus::closed : w == Wait::unavailable ? NetStatus::unavailable : NetStatus::failed,
                       "waiting for the reply");
  if (w == Wait::interrupted) return cli::interrupted_exit;
  if (rc != cli::ok) return rc;
  return saw_garbage_ ? cli::protocol : cli::ok;
}

int Session::run_script(cli::InputFile& in) {
  if (int rc = start(false); rc >= 0) return rc;
  cli::LineReader lines(in);
  int worst = cli::ok;
  // Exit codes by severity: a lost connection ends the script; the rest are remembered.
  const auto note = [&worst](int rc) {
    constexpr int order[] = {cli::ok, cli::protocol, cli::refused, cli::timed_out};
    auto rank = [&](int c) {
      for (int i = 0; i < 4; ++i)
        if (order[i] == c) return i;
      return 4;
    };
    if (rank(rc) > rank(worst)) worst = rc;
  };
  std::string_view line;
  for (;;) {
    if (cli::interrupted()) return cli::interrupted_exit;
    auto more = lines.next(line);
    if (!more) {
      if (more.error().kind == ErrorKind::io) return net_failure(NetStatus::failed, more.error().message);
      if (!opt_.quiet) cli::error(prog_, more.error().message);
      note(cli::protocol);
      continue;
    }
    if (!*more) break;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = "line " + std::to_string(lines.line_number()) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (!opt_.quiet) cli::error(prog_, where + "not a JSON object");
      note(cli::protocol);
      continue;
    }
    if (j.contains("error")) continue;  // an m2m-decode error record
    auto f = complete(j);
    if (!f) {
      if (!opt_.quiet) cli::error(prog_, where + f.error().message);
      note(cli::protocol);
      continue;
    }
    if (auto s = transmit(*f); s != NetStatus::ok) return net_failure(s, where + "send to " + conn_.peer());
    if (f->status != ai::status::request) continue;
    last_reply_.reset();
    const Wait w = wait(Expect{f->cls, f->cmd, f->seq, true}, 0, deadline());
    switch (w) {
      case Wait::matched: note(reply_code()); break;
      case Wait::timeout:
        if (!opt_.quiet) cli::error(prog_, where + "no reply within " + format_duration(opt_.timeout));
        note(cli::timed_out);
        break;
      case Wait::interrupted: return cli::interrupted_exit;
      case Wait::closed: return net_failure(NetStatus::closed, where + "waiting for the reply");
      case Wait::unavailable: return net_failure(NetStatus::unavailable, where + "waiting for the reply");
      case Wait::failed: return net_failure(NetStatus::failed, where + "waiting for the reply");
    }
  }
  out_.flush();
  if (saw_garbage_) note(cli::protocol);
  return worst;
}

int Session::listen() {
  if (int rc = start(false); rc >= 0) return rc;
  const Wait w = wait(Expect{}, opt_.count, deadline());
  switch (w) {
    case Wait::matched: break;  // -n frames arrived
    case Wait::timeout:
      // -t alone is the listening time; with -n it bounds the wait for N frames.
      if (opt_.count > 0) {
        cli::error(prog_, "fewer than " + std::to_string(opt_.count) + " frames within " + format_duration(opt_.timeout));
        return cli::timed_out;
      }
      break;
    case Wait::interrupted: return cli::interrupted_exit;
    case Wait::closed: return net_failure(NetStatus::closed, "listening");
    case Wait::unavailable: return net_failure(NetStatus::unavailable, "listening");
    case Wait::failed: return net_failure(NetStatus::failed, "listening");
  }
  return saw_garbage_ ? cli::protocol : cli::ok;
}

}  // namespace m2m::send
