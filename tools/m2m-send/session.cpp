#include "session.hpp"

#include "cli/cli.hpp"
#include "core/units.hpp"
#include "m2m/json.hpp"
#include "m2m/messages.hpp"

namespace m2m::send {
namespace {

bool is_login(std::uint8_t cls, std::uint8_t cmd) { return cmd == 0x00 && (cls == ai::cls::link || cls == ai::cls::platform); }

std::uint64_t login_id(const SessionOptions& opt) { return opt.account ? *opt.account : opt.device.value_or(0); }

// m2m-send is a diagnostic client: one attempt, no retries, every frame printed (a foreign
// token is shown, not hidden), and the -t deadline bounds every wait, so the session itself
// times nothing out.
device::SessionConfig config_for(const SessionOptions& opt) {
  device::SessionConfig c;
  c.role = opt.account ? device::Role::account : device::Role::device;
  c.reply_timeout = device::Millis(0);
  c.heartbeat = opt.heartbeat;
  c.heartbeat_after_any_send = true;
  c.max_missed_heartbeats = 0;
  c.max_attempts = 1;
  c.retry_refused = false;
  c.ignore_foreign_token = false;
  return c;
}

}  // namespace

Result<void> apply_session_args(const cli::SessionArgs& a, SessionOptions& opt) {
  auto where = net::parse_host_port(a.server);
  if (!where) return fail(ErrorKind::bad_value, "--server: " + where.error().message);
  if (where->host.empty() || where->port == 0)
    return fail(ErrorKind::bad_value, "--server: '" + a.server + "' names no host and port to connect to");
  opt.server = *where;
  opt.udp = a.udp;
  auto who = cli::check_identity(a.device, a.account, a.password, a.password_source);
  if (!who) return unexpected(std::move(who).error());
  opt.device = who->device;
  opt.account = who->account;
  opt.password = who->password;
  opt.timeout = a.timeout;
  opt.heartbeat = a.heartbeat;
  if (!a.bind.empty()) {
    auto hp = net::parse_host_port(a.bind, 0);
    if (!hp) return fail(ErrorKind::bad_value, "--bind: " + hp.error().message);
    auto addrs = net::resolve(*hp, a.udp);
    if (!addrs) return fail(ErrorKind::bad_value, "--bind: " + addrs.error().message);
    opt.bind = addrs->front();
  }
  return {};
}

void warn_without_password(std::string_view prog, const SessionOptions& opt, bool frame_may_log_in) {
  if (opt.password) return;
  if (opt.listen)
    cli::warning(prog, "no password (--password, --password-file or M2M_PASSWORD): nothing logs in, and the platform "
                       "sends nothing to a session that has not");
  else if (!frame_may_log_in)
    cli::warning(prog, "no password (--password, --password-file or M2M_PASSWORD): the frame goes without a token "
                       "and the platform will drop it");
}

Session::Session(std::string_view prog, const SessionOptions& opt, cli::RecordOutput& out)
    : prog_(prog),
      opt_(opt),
      out_(out),
      writer_(out, opt.text ? cli::RecordFormat::text : opt.pretty ? cli::RecordFormat::pretty : cli::RecordFormat::json),
      cfg_(config_for(opt)),
      session_(cfg_, login_id(opt), nullptr),
      conn_(&cli::interrupted),
      // Garbage kept: the error objects of a peer that is not an M2M platform carry its bytes.
      deframer_(opt.crc, ai::kGarbageRawLimit),
      rx_(cli::kInputChunk) {}

Session::Deadline Session::deadline() const {
  return opt_.timeout.count() > 0 ? Clock::now() + opt_.timeout : net::kNoDeadline;
}

void Session::finish_input() {
  if (input_finished_) return;
  input_finished_ = true;
  deframer_.finish();
  bool matched = false;
  std::uint64_t received = 0;
  ai::DeframeEvent ev;
  while (deframer_.next(ev)) handle(ev, matched, received);
  rx_pending_ = false;
  out_.flush();
}

int Session::not_m2m() {
  cli::error(prog_, conn_.peer() + " sent only bytes that are not M2M frames (the error records hold them): "
                                   "is it an M2M platform?");
  return cli::protocol;
}

int Session::failure(const Error& e, const std::string& doing) {
  if (e.kind == ErrorKind::closed || e.kind == ErrorKind::timeout) finish_input();
  out_.flush();
  if (saw_garbage_ && !saw_frame_ && (e.kind == ErrorKind::closed || e.kind == ErrorKind::timeout)) return not_m2m();
  switch (e.kind) {
    case ErrorKind::interrupted: return cli::exit_after_interrupt();
    case ErrorKind::timeout:
      cli::error(prog_, (doing.empty() ? e.message : doing + ": timed out") + " (-t " + format_duration(opt_.timeout) + ")");
      return cli::timed_out;
    default:
      cli::error(prog_, doing.empty() ? e.message : doing + ": " + e.message);
      return cli::exit_code(e);
  }
}

void Session::print_frame(const ai::FrameView& f, ByteView raw, const char* dir) {
  writer_.frame(f, raw, {true, conn_.peer(), dir, {}});
}

void Session::print_error(const Error& e, ByteView raw, std::uint64_t skipped) {
  saw_garbage_ = true;
  writer_.error(e, raw, skipped, {true, conn_.peer(), "rx", {}});
}

Result<void> Session::transmit(const ai::FrameView& f) {
  wire_.clear();
  // Kind io: a frame that cannot be encoded here is a failure of the run (exit 1), as before.
  if (auto r = ai::encode(f, opt_.crc, wire_); !r) return fail(ErrorKind::io, r.error().message);
  if (opt_.verbose) print_frame(f, wire_, "tx");
  return conn_.send(wire_, deadline());
}

void Session::send(const ai::FrameView& f) {
  if (tx_error_) return;
  if (auto r = transmit(f); !r) tx_error_ = r.error();
}

void Session::handle(const ai::DeframeEvent& ev, bool& matched, std::uint64_t& received) {
  if (!ev.ok) {
    print_error(ev.error, ev.raw, ev.skipped);
    return;
  }
  const ai::FrameView& f = ev.frame;
  const device::Event e = session_.on_frame(f, Clock::now());
  if (e.kind == device::EventKind::heartbeat_ack) {
    if (opt_.verbose) print_frame(f, ev.raw, "rx");  // our keep-alive's answer: not news
    return;
  }
  print_frame(f, ev.raw, "rx");
  saw_frame_ = true;
  ++received;
  switch (e.kind) {
    case device::EventKind::logged_in:
    case device::EventKind::login_failed:
    case device::EventKind::reply: {
      matched = true;
      reply_status_ = f.status;
      const std::string_view name = ai::type_name(f.cls, f.cmd);
      char cc[8];
      std::snprintf(cc, sizeof cc, "%02X:%02X", f.cls, f.cmd);
      reply_what_ = (name == "unknown" ? std::string(cc) : std::string(name)) + " seq " + std::to_string(f.seq);
      break;
    }
    default: break;
  }
}

Session::Wait Session::wait(std::uint64_t want, Deadline deadline) {
  bool matched = false;
  std::uint64_t received = 0;
  for (;;) {
    // Events of the last chunk come first: a reply and what followed it often share a read.
    if (rx_pending_) {
      ai::DeframeEvent ev;
      while (deframer_.next(ev)) {
        handle(ev, matched, received);
        if (want > 0 ? received >= want : matched) {
          out_.flush();
          return {};  // the rest of the chunk waits for the next wait()
        }
      }
      rx_pending_ = false;
      out_.flush();
    }
    // Keep the session alive while we wait longer than the heartbeat interval.
    Deadline until = deadline;
    const device::Time next = session_.poll(Clock::now(), *this);
    if (tx_error_) {
      out_.flush();
      return unexpected(*std::exchange(tx_error_, std::nullopt));
    }
    if (next < until) until = next;
    auto n = conn_.receive(rx_, until);
    if (!n) {
      if (n.error().kind == ErrorKind::timeout && until != deadline) continue;  // time for a heartbeat, not the end
      out_.flush();
      Error e = std::move(n).error();
      // The platform closes a session that another login of the same id replaces, without a
      // frame to say so (m2m-server's "replaced" logout): name the likely cause.
      if (e.kind == ErrorKind::closed && session_.logged_in()) {
        const std::string who = opt_.account ? "account " + std::to_string(*opt_.account) : "device " + ai::format_device(login_id(opt_));
        e.message = "the platform closed the session of " + who + ": another login of the same " +
                    (opt_.account ? "account" : "device") + " replaces it (or the platform stopped)";
      }
      return unexpected(std::move(e));
    }
    deframer_.feed(ByteView(rx_.data(), *n));
    rx_pending_ = true;
  }
}

int Session::start(bool frame_is_login) {
  if (auto r = conn_.open(opt_.server, opt_.udp, deadline(), opt_.bind ? &*opt_.bind : nullptr); !r) return failure(r.error(), "");
  const bool log_in = opt_.password && !frame_is_login;
  session_ = device::Session(cfg_, login_id(opt_), log_in ? &*opt_.password : nullptr);
  session_.connected(Clock::now());
  if (!log_in) return -1;
  return login();
}

int Session::login() {
  const std::string peer = conn_.peer();
  session_.poll(Clock::now(), *this);  // the login goes out
  if (tx_error_) return failure(*std::exchange(tx_error_, std::nullopt), "send login to " + peer);
  reply_status_.reset();
  if (auto w = wait(0, deadline()); !w) return failure(w.error(), "login at " + peer);
  if (session_.logged_in()) {
    reply_status_.reset();
    return -1;
  }
  const std::uint8_t status = reply_status_.value_or(ai::status::fail);
  cli::error(prog_, "login of " + ai::format_device(login_id(opt_)) + " rejected (status " + ai::status_name(status) + ")");
  return status == ai::status::ok ? cli::protocol : cli::refused;
}

Result<ai::Frame> Session::complete(const nlohmann::json& j) {
  auto f = ai::frame_from_json(j);
  if (!f) return f;
  if (!j.contains("token") && session_.logged_in())  // ignored where a frame has no token field
    f->token.assign(session_.token().begin(), session_.token().end());
  if (!j.contains("seq")) f->seq = session_.next_seq();
  if (!j.contains("device")) f->device = opt_.account ? 0 : opt_.device.value_or(0);
  return f;
}

int Session::reply_failed() {
  const int rc = reply_code();
  if (rc != cli::ok && !opt_.quiet)
    cli::error(prog_, reply_what_ + " failed (status " + ai::status_name(*reply_status_) + ")");
  return rc;
}

int Session::reply_code() const {
  if (!reply_status_) return cli::ok;
  switch (*reply_status_) {
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
  reply_status_.reset();
  session_.sending(f->view(), Clock::now(), net::kNoDeadline);  // arms the reply slot for a request
  if (auto r = transmit(f->view()); !r) return failure(r.error(), "send to " + conn_.peer());
  const bool expects_reply = f->status == ai::status::request;
  if (!expects_reply && opt_.count == 0) return saw_garbage_ ? cli::protocol : cli::ok;
  const Wait w = wait(opt_.count, until);
  if (!w) {
    if (w.error().kind == ErrorKind::timeout) {
      finish_input();
      if (saw_garbage_ && !saw_frame_) return not_m2m();
      cli::error(prog_, opt_.count ? "fewer than " + cli::plural(opt_.count, "frame") + " within " + format_duration(opt_.timeout)
                                   : "no reply within " + format_duration(opt_.timeout));
      return cli::timed_out;
    }
    return failure(w.error(), "waiting for the reply");
  }
  out_.flush();
  if (int rc = reply_failed(); rc != cli::ok) return rc;
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
    if (cli::interrupted()) return cli::exit_after_interrupt();
    auto more = lines.next(line);
    if (!more) {
      if (more.error().kind == ErrorKind::io) return failure(more.error(), "");
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
    session_.sending(f->view(), Clock::now(), net::kNoDeadline);
    if (auto r = transmit(f->view()); !r) return failure(r.error(), where + "send to " + conn_.peer());
    if (f->status != ai::status::request) continue;
    reply_status_.reset();
    const Wait w = wait(0, deadline());
    if (w) {
      if (int rc = reply_code(); rc != cli::ok && !opt_.quiet)
        cli::error(prog_, where + reply_what_ + " failed (status " + ai::status_name(*reply_status_) + ")");
      note(reply_code());
    } else if (w.error().kind == ErrorKind::timeout) {
      if (!opt_.quiet) cli::error(prog_, where + "no reply within " + format_duration(opt_.timeout));
      note(cli::timed_out);
    } else {
      return failure(w.error(), where + "waiting for the reply");
    }
  }
  out_.flush();
  if (saw_garbage_) note(cli::protocol);
  return worst;
}

int Session::listen() {
  if (int rc = start(false); rc >= 0) return rc;
  const Wait w = wait(opt_.count, deadline());
  if (!w) {
    if (w.error().kind != ErrorKind::timeout) return failure(w.error(), "listening");
    // -t is the listening time: reaching it is the normal end, also with -n, which only
    // stops listening sooner (issue 15; m2m-send(1) -t). A script that needs N frames counts
    // the lines.
    finish_input();
  }
  return saw_garbage_ ? cli::protocol : cli::ok;
}

}  // namespace m2m::send
