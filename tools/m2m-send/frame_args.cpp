#include "cli/app.hpp"
#include "frame_args.hpp"

#include <utility>

#include "cli/completion.hpp"
#include "m2m/frame.hpp"
#include "m2m/messages.hpp"

namespace m2m::send {
namespace {

enum class Kind { text, number, param, value };

struct BodyFlag {
  const char* flag;
  const char* key;
  Kind kind;
  const char* help;
};

// Body fields of json.hpp that have a flag of their own. Rarer ones (ota_frame reply "count",
// group_list "devices", version/server values) go through --body or --value.
constexpr BodyFlag kBodyFlags[] = {
    {"--password", "password", Kind::text,
     "Login password: 16 hex digits or text:… (link.login, platform.login; with --server\n"
     "the session's login)"},
    {"--target", "target", Kind::text, "Target device id (link.p2p_request, data.relay)"},
    {"--peer", "peer", Kind::text, "Peer device id (data.relay: target in a request, sender when delivered)"},
    {"--sender", "sender", Kind::text, "Sender device id (link.p2p_confirm, data.p2p_send, data.relay)"},
    {"--id", "id", Kind::text, "Device id in the body (platform.add_terminal, p2p introductions)"},
    {"--payload", "payload", Kind::text, "Payload bytes as hex (data.*)"},
    {"--text", "text", Kind::text, "Payload as text, sent as its UTF-8 bytes (instead of --payload)"},
    {"--ip", "ip", Kind::text, "IPv4 address a.b.c.d (p2p introductions)"},
    {"--port", "port", Kind::number, "UDP port (p2p introductions)"},
    {"--start", "start", Kind::number, "Start index (data.group_list)"},
    {"--file", "file", Kind::text, "OTA file name (term.ota_start, term.ota_frame)"},
    {"--checksum", "checksum", Kind::number, "OTA image checksum, sum of bytes mod 256 (term.ota_start)"},
    {"--frame", "frame", Kind::number, "OTA frame number (term.ota_frame)"},
    {"--size", "size", Kind::number, "OTA frame size requested (term.ota_frame)"},
    {"--bytes", "bytes", Kind::text, "OTA frame bytes as hex (term.ota_frame reply)"},
    {"--param", "param", Kind::param, "Configuration parameter: name (heartbeat_interval, …) or number"},
    {"--value", "value", Kind::value, "Parameter value: JSON (30, \"text\", {…}) or plain text"},
    {"--code", "code", Kind::number, "Event code, 16 upgrade / 32 working (term.event)"},
    {"--description", "description", Kind::text, "Event description (term.event)"},
};

bool is_login(std::uint8_t cls, std::uint8_t cmd) { return cmd == 0x00 && (cls == 0xA0 || cls == 0xEF); }

Result<nlohmann::json> parse_object(const std::string& text, const char* what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(ErrorKind::bad_json, std::string(what) + " is not a JSON object: " + text);
  return j;
}

Result<nlohmann::json> field_value(Kind kind, const std::string& key, const std::string& text) {
  switch (kind) {
    case Kind::text:
      return nlohmann::json(text);
    case Kind::number: {
      auto n = parse_number(text, "--" + key);
      if (!n) return unexpected(std::move(n).error());
      return nlohmann::json(*n);
    }
    case Kind::param: {
      if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])))) {
        auto n = parse_number(text, "--param");
        if (!n) return unexpected(std::move(n).error());
        return nlohmann::json(*n);
      }
      return nlohmann::json(text);
    }
    case Kind::value: {
      nlohmann::json v = nlohmann::json::parse(text, nullptr, false);
      if (v.is_discarded()) return nlohmann::json(text);  // plain text, e.g. 1.2.3.4
      return v;
    }
  }
  return nlohmann::json(text);
}

}  // namespace

Result<std::uint64_t> parse_number(std::string_view s, std::string_view what) {
  int base = 10;
  std::string_view digits = s;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::uint64_t v = 0;
  bool ok = !digits.empty() && digits.size() <= 16;
  for (char c : digits) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (base == 16 && c >= 'a' && c <= 'f') ? c - 'a' + 10
          : (base == 16 && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0 || v > (UINT64_MAX - static_cast<unsigned>(d)) / static_cast<unsigned>(base)) {
      ok = false;
      break;
    }
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
  }
  if (!ok) return fail(ErrorKind::bad_value, std::string(what) + ": '" + std::string(s) + "' is not a number");
  return v;
}

std::optional<std::pair<std::uint8_t, std::uint8_t>> class_cmd_of(const nlohmann::json& j) {
  if (auto t = j.find("type"); t != j.end() && t->is_string() && *t != "unknown") {
    if (auto info = ai::find_type(t->get<std::string>())) return std::pair{info->cls, info->cmd};
    return std::nullopt;
  }
  auto c = j.find("class"), d = j.find("cmd");
  if (c == j.end() || d == j.end() || !c->is_number_unsigned() || !d->is_number_unsigned()) return std::nullopt;
  if (*c > 255 || *d > 255) return std::nullopt;
  return std::pair{c->get<std::uint8_t>(), d->get<std::uint8_t>()};
}

Result<void> share_identity(FrameArgs& a, cli::SessionArgs& session) {
  session.device = a.device.value_or("");
  for (auto& [key, value] : a.body_fields)
    if (key == "password") session.password = value;
  if (auto r = cli::apply_environment(session); !r) return r;
  if (!a.device && !session.device.empty()) a.device = session.device;
  if (session.password && !a.has_body_field("password"))  // a login frame's own password
    a.body_fields.emplace_back("password", *session.password);
  return {};
}

bool FrameArgs::any() const {
  return !type.empty() || json || body || data || token || device || status || seq || ext || device_password ||
         !body_fields.empty();
}

bool FrameArgs::has_body_field(std::string_view key) const {
  for (auto& [k, v] : body_fields)
    if (k == key) return true;
  return false;
}

namespace {
// What a text body flag takes, in --help's words (not CLI11's "TEXT").
const char* text_type_name(std::string_view flag) {
  static constexpr std::pair<std::string_view, const char*> kNames[] = {
      {"--password", "P"},     {"--target", "ID"}, {"--peer", "ID"},        {"--sender", "ID"},
      {"--id", "ID"},          {"--payload", "HEX"}, {"--bytes", "HEX"},     {"--ip", "A.B.C.D"},
      {"--param", "PARAM"},    {"--file", "NAME"}, {"--description", "STRING"}, {"--text", "STRING"}};
  for (const auto& [f, name] : kNames)
    if (f == flag) return name;
  return "STRING";
}
}  // namespace

void add_frame_options(CLI::App& app, FrameArgs& a) {
  app.add_option("type", a.type,
                 "Frame type: link.login, link.heartbeat, data.relay, term.config_write, … (see\n"
                 "m2m-protocol(7)), or CLASS:CMD in hex for any other command (F0:99)")
      ->type_name("TYPE");
  std::vector<std::string> types;  // bash completes TYPE from the catalogue
  for (const ai::CommandInfo& c : ai::catalogue()) types.emplace_back(c.type);
  cli::set_positional_words(app, std::move(types));
  auto opt = [&app](const char* name, std::optional<std::string>& dst, const char* help, const char* type_name) {
    cli::add_optional(app, name, dst, help, type_name);
  };
  opt("--json", a.json, "The whole frame as a JSON object (m2m-decode's schema); other flags override its members", "JSON");
  opt("--device", a.device, "Header device id: 16 hex digits, 0x…, or MAC AA:BB:CC:DD:EE:FF", "ID");
  opt("--seq", a.seq, "Sequence number (default 0)", "N");
  opt("--ext", a.ext, "Extension field, 2 bytes (default 0)", "N");
  opt("--status", a.status, "Status: request (default), ok, fail, unsupported, or a number", "STATUS");
  opt("--token", a.token, "Token as hex (the header's token field; the issued token in a login reply)", "HEX");
  opt("--data", a.data, "Raw data area as hex (used when no body is given)", "HEX");
  opt("--body", a.body, "Body as a JSON object with the field names of m2m-protocol(7); body flags add to it", "JSON");
  for (const BodyFlag& f : kBodyFlags) {
    const std::string key = f.key;
    app.add_option_function<std::string>(
           f.flag, [&a, key](const std::string& s) { a.body_fields.emplace_back(key, s); }, f.help)
        ->type_name(f.kind == Kind::number ? "N" : f.kind == Kind::value ? "VALUE" : text_type_name(f.flag))
        ->group("Body fields");
  }
  app.add_option_function<std::string>(
         "--device-password", [&a](const std::string& s) { a.device_password = s; },
         "The new device's password in platform.add_terminal: 16 hex digits or text:…\n"
         "(the body's \"password\"; --password stays the session's)")
      ->type_name("P")
      ->group("Body fields");
}

Result<nlohmann::json> frame_json(const FrameArgs& a, bool password_in_body) {
  nlohmann::json j = nlohmann::json::object();
  if (a.json) {
    auto r = parse_object(*a.json, "--json");
    if (!r) return r;
    j = std::move(*r);
  }
  if (!a.type.empty()) {
    if (auto colon = a.type.find(':'); colon != std::string::npos) {
      auto c = parse_number("0x" + a.type.substr(0, colon), "TYPE class");
      auto d = parse_number("0x" + a.type.substr(colon + 1), "TYPE command");
      if (!c || !d || *c > 255 || *d > 255)
        return fail(ErrorKind::bad_value, "TYPE '" + a.type + "' is neither a frame type nor CLASS:CMD in hex (F0:99)");
      j.erase("type");
      j["class"] = *c;
      j["cmd"] = *d;
      // A catalogue command given by number is still that command (body flags apply).
      auto name = ai::type_name(static_cast<std::uint8_t>(*c), static_cast<std::uint8_t>(*d));
      if (name != "unknown") j["type"] = std::string(name);
    } else {
      auto info = ai::find_type(a.type);
      if (!info) return fail(ErrorKind::bad_value, "unknown frame type '" + a.type + "' (see m2m-protocol(7), or use CLASS:CMD)");
      j["type"] = a.type;
      j["class"] = info->cls;
      j["cmd"] = info->cmd;
    }
  }
  if (!j.contains("type") && !j.contains("class"))
    return fail(ErrorKind::bad_value, "no frame type: give TYPE (link.heartbeat, …) or --json with a \"type\"");
  auto cc = class_cmd_of(j);
  const bool login = cc && is_login(cc->first, cc->second);

  if (a.device) j["device"] = *a.device;
  if (a.status) {
    auto n = parse_number(*a.status, "--status");
    if (n) j["status"] = *n;
    else j["status"] = *a.status;  // a name; frame_from_json judges it
  }
  for (auto [flag, value, key] : {std::tuple{"--seq", &a.seq, "seq"}, std::tuple{"--ext", &a.ext, "ext"}}) {
    if (!*value) continue;
    auto n = parse_number(**value, flag);
    if (!n) return unexpected(std::move(n).error());
    j[key] = *n;
  }
  if (a.data) j["data"] = *a.data;

  nlohmann::json body = j.contains("body") ? j["body"] : nlohmann::json::object();
  bool have_body = j.contains("body");
  if (a.body) {
    auto b = parse_object(*a.body, "--body");
    if (!b) return b;
    body.update(*b);  // flags (and --body) override members of --json's body
    have_body = true;
  }
  if (a.token) {
    // A login frame has no token field; its reply's body carries the issued token.
    if (login) {
      body["token"] = *a.token;
      have_body = true;
    } else {
      j["token"] = *a.token;
    }
  }
  for (auto& [key, text] : a.body_fields) {
    if (key == "password" && !password_in_body && !login) continue;
    const BodyFlag* f = nullptr;
    for (const BodyFlag& x : kBodyFlags)
      if (key == x.key) f = &x;
    auto v = field_value(f ? f->kind : Kind::text, key, text);
    if (!v) return unexpected(std::move(v).error());
    body[key] = std::move(*v);
    have_body = true;
  }
  if (a.device_password) {
    const bool password_given = password_in_body && a.has_body_field("password");
    if (password_given || (login && a.has_body_field("password")))
      return fail(ErrorKind::bad_value, "--password and --device-password both set the body's password; give one");
    body["password"] = *a.device_password;
    have_body = true;
  }
  if (have_body) j["body"] = std::move(body);
  return j;
}

}  // namespace m2m::send
