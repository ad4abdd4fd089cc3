#include "cli/app.hpp"
#include "telematics_send.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/input.hpp"
#include "cli/json_pretty.hpp"
#include "cli/output.hpp"
#include "telematics/json.hpp"
#include "telematics/messages.hpp"
#include "telematics/sms.hpp"

namespace m2m::send {
namespace {

namespace tm = m2m::telematics;

enum class Mode { raw, hex, json };

int usage_error(std::string_view prog, const std::string& message) {
  cli::error(prog, message);
  std::fprintf(stderr, "Try '%.*s --help' for more information.\n", static_cast<int>(prog.size()), prog.data());
  return cli::usage;
}

// Encodes one frame or SMS object and appends it to the output in `mode`.
class Writer {
 public:
  Writer(Protocol p, Mode mode, bool pretty, cli::RecordOutput& out) : protocol_(p), mode_(mode), pretty_(pretty), out_(out) {}

  // Returns the one-line summary for -v, or the reason the object builds nothing.
  Result<std::string> write(const nlohmann::json& j) {
    return protocol_ == Protocol::sms ? write_sms(j) : write_frame(j);
  }

 private:
  Result<std::string> write_frame(const nlohmann::json& j) {
    auto f = tm::frame_from_json(j);
    if (!f) return unexpected(std::move(f).error());
    wire_.clear();
    if (auto r = tm::encode(f->view(), wire_); !r) return unexpected(std::move(r).error());
    if (mode_ == Mode::json) {
      // Show what a receiver decodes from these bytes.
      if (auto u = tm::unescape(wire_, content_); !u) return unexpected(std::move(u).error());
      auto v = tm::decode(content_);
      if (!v) return unexpected(std::move(v).error());
      emit_json([&](std::string& o) { tm::append_frame_json(o, *v, wire_); });
    } else {
      emit_bytes(std::string_view(reinterpret_cast<const char*>(wire_.data()), wire_.size()), false);
    }
    return tm::frame_summary(f->view());
  }

  Result<std::string> write_sms(const nlohmann::json& j) {
    auto c = tm::sms_from_json(j);
    if (!c) return unexpected(std::move(c).error());
    auto text = tm::format_sms(*c);
    if (!text) return unexpected(std::move(text).error());
    if (mode_ == Mode::json) emit_json([&](std::string& o) { tm::append_sms_json(o, *c, *text); });
    else emit_bytes(*text, true);
    return *text;
  }

  template <class F>
  void emit_json(F&& write) {
    std::string& out = out_.buffer();
    if (pretty_) {
      scratch_.clear();
      write(scratch_);
      cli::append_pretty_json(out, scratch_);
    } else {
      write(out);
    }
    out.push_back('\n');
    out_.end_record();
  }

  // Raw frames are bytes back to back; an SMS command is a text line.
  void emit_bytes(std::string_view b, bool line) {
    std::string& out = out_.buffer();
    if (mode_ == Mode::hex) {
      append_hex(out, as_bytes(b));
      out.push_back('\n');
    } else {
      out += b;
      if (line) out.push_back('\n');
    }
    out_.end_record();
  }

  Protocol protocol_;
  Mode mode_;
  bool pretty_;
  cli::RecordOutput& out_;
  Bytes wire_, content_;
  std::string scratch_;
};

Result<nlohmann::json> object_of(const std::string& text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorKind::bad_json, std::string(what) + " is not a JSON object: " + text);
  return j;
}

// The JSON object the flags describe.
Result<nlohmann::json> flags_json(Protocol p, const FrameArgs& a, const TelematicsArgs& t) {
  nlohmann::json j = nlohmann::json::object();
  if (a.json) {
    auto r = object_of(*a.json, "--json");
    if (!r) return r;
    j = std::move(*r);
  }
  if (p == Protocol::sms) {
    if (!a.type.empty()) j["command"] = a.type;
    if (!t.args.empty()) j["args"] = t.args;
    if (!j.contains("command")) return fail(ErrorKind::bad_value, "no SMS command: give it as TYPE (m2m-send --protocol sms CMD --arg …)");
    return j;
  }
  if (!a.type.empty()) {
    if (tm::find_type(a.type)) {
      j.erase("id");
      j["type"] = a.type;
    } else {
      auto n = parse_number(a.type, "TYPE");
      if (!n || *n > 0xffff)
        return fail(ErrorKind::bad_value, "unknown message type '" + a.type + "' (login, working_data, … or an id such as 0x0004)");
      j.erase("type");
      j["id"] = *n;
    }
  }
  if (!j.contains("type") && !j.contains("id"))
    return fail(ErrorKind::bad_value, "no message type: give TYPE (login, heartbeat, …) or --json with a \"type\"");
  for (auto [value, key] : {std::pair{&a.seq, "seq"}, std::pair{&t.additional, "additional"},
                            std::pair{&t.packets, "packets"}, std::pair{&t.packet, "packet"}}) {
    if (!*value) continue;
    auto n = parse_number(**value, std::string("--") + key);
    if (!n) return unexpected(std::move(n).error());
    j[key] = *n;
  }
  if (t.terminal) j["terminal"] = *t.terminal;
  if (t.encryption) {
    auto n = parse_number(*t.encryption, "--encryption");
    if (n) j["encryption"] = *n;
    else j["encryption"] = *t.encryption;
  }
  if (a.data) j["data"] = *a.data;
  nlohmann::json body = j.contains("body") ? j["body"] : nlohmann::json::object();
  bool have_body = j.contains("body");
  if (a.body) {
    auto b = object_of(*a.body, "--body");
    if (!b) return b;
    body.update(*b);
    have_body = true;
  }
  for (auto [value, key] : {std::pair{&t.reply_seq, "reply_seq"}, std::pair{&t.reply_id, "reply_id"}}) {
    if (!*value) continue;
    if (tm::find_type(**value)) body[key] = **value;
    else {
      auto n = parse_number(**value, std::string("--") + key);
      if (!n) return unexpected(std::move(n).error());
      body[key] = *n;
    }
    have_body = true;
  }
  if (t.result) {
    auto n = parse_number(*t.result, "--result");
    if (n) body["result"] = *n;
    else body["result"] = *t.result;
    have_body = true;
  }
  if (have_body) j["body"] = std::move(body);
  return j;
}

int encode_lines(std::string_view prog, Protocol p, Writer& w, cli::RecordOutput& out, bool quiet, bool verbose) {
  auto in = cli::InputFile::open("-");
  if (!in) {
    cli::error(prog, in.error().message);
    return cli::failure;
  }
  cli::LineReader lines(*in);
  bool bad = false;
  const auto report = [&](const std::string& message) {
    bad = true;
    if (!quiet) cli::error(prog, message);
  };
  std::string_view line;
  for (;;) {
    if (cli::interrupted()) return cli::exit_after_interrupt();
    if (!lines.line_ready()) out.flush();
    if (!out.ok()) return cli::ok;
    auto more = lines.next(line);
    if (!more) {
      if (more.error().kind == ErrorKind::io) {
        cli::error(prog, more.error().message);
        out.flush();
        return cli::failure;
      }
      report(more.error().message);
      continue;
    }
    if (!*more) break;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = "line " + std::to_string(lines.line_number()) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      report(where + "not a JSON object");
      continue;
    }
    // Error objects and reassembled messages (their parts are in the stream) rebuild nothing.
    if (j.contains("error") || (p != Protocol::sms && j.contains("reassembled"))) continue;
    auto r = w.write(j);
    if (!r) {
      report(where + r.error().message);
      continue;
    }
    if (verbose) std::fprintf(stderr, "%.*s: %s%s\n", static_cast<int>(prog.size()), prog.data(), where.c_str(), r->c_str());
  }
  out.flush();
  if (cli::interrupted()) return cli::exit_after_interrupt();
  return bad ? cli::protocol : cli::ok;
}

}  // namespace

std::vector<const char*> TelematicsArgs::given() const {
  std::vector<const char*> g;
  for (auto [v, name] : {std::pair{&terminal, "--terminal"}, std::pair{&additional, "--additional"},
                         std::pair{&encryption, "--encryption"}, std::pair{&packets, "--packets"},
                         std::pair{&packet, "--packet"}, std::pair{&reply_seq, "--reply-seq"},
                         std::pair{&reply_id, "--reply-id"}, std::pair{&result, "--result"}})
    if (*v) g.push_back(name);
  if (!args.empty()) g.push_back("--arg");
  return g;
}

void add_protocol_option(CLI::App& app, TelematicsArgs& t) {
  app.add_option("--protocol", t.protocol_name,
                 "Protocol of the frames: ai (AI-Cloud M2M, the default), telematics (vehicle\n"
                 "protocol V1.02, see telematics-protocol(7)) or sms (its text commands)")
      ->check(CLI::IsMember({"ai", "telematics", "sms"}))
      ->type_name("PROTOCOL");
}

int dispatch_protocol(std::string_view prog, TelematicsRun run, bool encode, const CLI::Option* server,
                      const std::vector<CLI::Option*>& net_opts, bool crc_given, const FrameArgs& frame,
                      const TelematicsArgs& t) {
  if (t.protocol_name != "telematics" && t.protocol_name != "sms") {
    if (auto given = t.given(); !given.empty())
      return usage_error(prog, std::string(given.front()) + " applies to --protocol telematics or sms");
    return -1;
  }
  run.protocol = t.protocol_name == "sms" ? Protocol::sms : Protocol::telematics;
  if (server->count() > 0) return usage_error(prog, "--server applies to --protocol ai; telematics and SMS are encoded offline");
  for (const CLI::Option* o : net_opts)
    if (o->count() > 0) return usage_error(prog, o->get_name() + " applies to --protocol ai");
  if (crc_given) return usage_error(prog, "--crc applies to --protocol ai (the telematics checksum is XOR)");
  if (encode) {
    if (!run.out_name.empty() && run.out_name != "raw") return usage_error(prog, "--encode writes raw bytes; drop --out " + run.out_name);
    run.from_stdin = true;
    run.out_name = "raw";
  }
  return run_telematics(prog, run, frame, t);
}

void add_telematics_options(CLI::App& app, TelematicsArgs& t) {
  auto opt = [&app](const char* name, std::optional<std::string>& dst, const char* help, const char* type_name) {
    cli::add_optional(app, name, dst, help, type_name)->group("Telematics (--protocol telematics|sms)");
  };
  opt("--terminal", t.terminal, "Terminal id: up to 12 BCD digits (default 000000000000)", "DIGITS");
  opt("--additional", t.additional, "Additional field, 4 bytes (the order id in bluetooth_order; default 0)", "N");
  opt("--encryption", t.encryption, "Encryption bits: none (default), idea or 0-7; the body is given as --data", "KIND");
  opt("--packets", t.packets, "Sub-package total (sets the sub-package bit; needs --packet)", "N");
  opt("--packet", t.packet, "Sub-package number, from 1", "N");
  opt("--reply-seq", t.reply_seq, "General reply: sequence of the message answered", "N");
  opt("--reply-id", t.reply_id, "General reply: id (or type name) of the message answered", "ID");
  opt("--result", t.result, "General reply: ok (default), fail, bad_message, unsupported or a number", "RESULT");
  app.add_option("--arg", t.args, "SMS argument (repeat for each, in order)")
      ->type_name("ARG")
      ->group("Telematics (--protocol telematics|sms)");
}

int run_telematics(std::string_view prog, const TelematicsRun& run, const FrameArgs& a, const TelematicsArgs& t) {
  for (auto [given, name] : {std::pair{bool(a.device), "--device"}, std::pair{bool(a.token), "--token"},
                             std::pair{bool(a.status), "--status"}, std::pair{bool(a.ext), "--ext"},
                             std::pair{!a.body_fields.empty(), "AI-Cloud body flags (--password, --payload, …)"}})
    if (given) return usage_error(prog, std::string(name) + " applies to --protocol ai");
  const bool sms = run.protocol == Protocol::sms;
  if (sms) {
    for (const char* g : t.given())
      if (std::string_view(g) != "--arg") return usage_error(prog, std::string(g) + " applies to --protocol telematics");
    if (a.body || a.data || a.seq) return usage_error(prog, "--body, --data and --seq apply to frames, not SMS commands");
  } else if (!t.args.empty()) {
    return usage_error(prog, "--arg applies to --protocol sms");
  }
  const bool frame_flags = !a.type.empty() || a.json || a.body || a.data || a.seq || !t.given().empty();
  if (run.from_stdin && frame_flags)
    return usage_error(prog, "--stdin reads whole frames; TYPE and frame flags cannot be added");
  if (!run.from_stdin && !frame_flags)
    return usage_error(prog, sms ? "nothing to send: give a COMMAND, --json or --stdin"
                                 : "nothing to send: give a TYPE (login, heartbeat, …), --json or --stdin");
  if (run.pretty && run.out_name != "json") return usage_error(prog, "--pretty applies to --out json");
  const Mode mode = run.out_name == "json" ? Mode::json
                    : run.out_name == "hex" ? Mode::hex
                    : run.out_name == "raw" ? Mode::raw
                    : cli::stdout_is_terminal() ? Mode::hex
                                                : Mode::raw;
  cli::install_interrupt_flag();
  cli::RecordOutput out;
  Writer writer(run.protocol, mode, run.pretty, out);
  if (run.from_stdin) return encode_lines(prog, run.protocol, writer, out, run.quiet, run.verbose);

  auto j = flags_json(run.protocol, a, t);
  if (!j) return usage_error(prog, j.error().message);
  auto r = writer.write(*j);
  if (!r) return usage_error(prog, r.error().message);
  if (run.verbose) std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(prog.size()), prog.data(), r->c_str());
  out.flush();
  return cli::ok;
}

}  // namespace m2m::send
