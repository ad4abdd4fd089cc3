#include "web/console.hpp"

#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"
#include "m2m/frame.hpp"
#include "m2m/json.hpp"
#include "m2m/messages.hpp"
#include "platform/events.hpp"
#include "web/assets.hpp"

namespace m2m::web {

namespace {
using nlohmann::json;
using platform::EventLog;

constexpr const char* kCookie = "m2m_session";
constexpr std::size_t kMaxSessions = 1000;
constexpr std::size_t kMaxStreams = 64;
constexpr std::size_t kMaxPending = 256;
constexpr std::size_t kMaxThrottle = 10000;

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

// Constant time for equal lengths: a CSRF token is not guessed byte by byte.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string peer_ip(const Exchange& ex) {
  std::string a = net::format_address(ex.peer());
  // "1.2.3.4:5678" or "[::1]:5678": the address without the port
  const auto colon = a.rfind(':');
  if (colon != std::string::npos) a.resize(colon);
  return a;
}

// Path segments: "/api/devices/00AB/command" -> {"api","devices","00AB","command"}
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const std::size_t j = path.find('/', i);
    if (i < path.size()) out.push_back(path.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j;
  }
  return out;
}

// "123" -> 123; anything else (a sign, a space, too many digits) -> nullopt.
std::optional<std::uint64_t> whole_number(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// The commands the console may send to a device (m2m-protocol(7), COMMANDS).
bool console_type(std::uint16_t key) {
  using namespace ai::cmd;
  return key == term_reboot || key == term_config_read || key == term_config_write || key == data_downlink ||
         key == term_ota_start;
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::size_t open_fds() {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec))
    ++n;
  return n;
}
}  // namespace

Console::Console(platform::Server& server, ConsoleOptions options) : server_(server), opt_(std::move(options)) {}

Result<std::unique_ptr<Console>> Console::start(platform::Server& server, ConsoleOptions options) {
  // The users table must be readable now: a console nobody can sign in to says so at start.
  {
    auto users = UserStore::open(options.db, platform::Database::Access::read_only);
    if (!users) return unexpected(users.error());
    auto list = users->list();
    if (!list) return unexpected(list.error());
  }
  std::unique_ptr<Console> c(new Console(server, std::move(options)));
  {
    auto db = platform::Database::open(c->opt_.db, platform::Database::Access::read_only);
    if (!db) return unexpected(db.error());
    auto meta = load_meta(*db);
    if (!meta) return unexpected(meta.error());
    c->meta_ = std::move(*meta);
  }
  auto worker = Worker::start();
  if (!worker) return unexpected(worker.error());
  c->worker_ = std::move(*worker);
  auto http = Http::start(c->opt_.listen, [p = c.get()](const ExchangePtr& ex) { p->handle(ex); });
  if (!http) return unexpected(Error{http.error().kind, 0, "--http " + http.error().message});
  c->http_ = std::move(*http);
  if (auto r = server.attach(*c, {c->http_->fd(), c->worker_->fd()}); !r) return unexpected(r.error());
  server.router().set_console(c.get());
  EventLog::Line l("console_listening");
  l.add("url", "http://" + net::format_address(c->http_->bound()) + "/").add("page_bytes", assets_bytes());
  server.log().write(l);
  return c;
}

Console::~Console() {
  server_.router().set_console(nullptr);
  if (http_) http_->stop();
}

// ---- the loop -------------------------------------------------------------------------------

void Console::ready(int fd, std::uint32_t) {
  if (fd == worker_->fd())
    worker_->drain();
  else
    http_->run();
}

void Console::tick() {
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now >= it->second.deadline) {
      ++command_timeouts_;
      error(it->second.ex, 504, "timeout",
            "device " + ai::format_device(it->second.device) + " did not answer within " +
                std::to_string(opt_.command_timeout.count()) + " ms");
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now - it->second.used > opt_.session_idle || now - it->second.created > opt_.session_max)
      it = sessions_.erase(it);
    else
      ++it;
  }
  if (now >= next_ping_) {  // keeps streams alive through proxies, and finds readers that left
    next_ping_ = now + std::chrono::seconds(15);
    for (auto& s : streams_)
      if (auto ex = s.ex.lock()) ex->push(": ping\n\n");
  }
  // A stream lives only as long as its session: signed out, expired, removed or disabled,
  // and the live data stops within a tick.
  std::erase_if(streams_, [this](const Stream& s) {
    auto ex = s.ex.lock();
    const bool signed_in = sessions_.count(s.session) > 0;
    if (ex && !ex->gone() && !signed_in) ex->end_stream();
    return !ex || ex->gone() || !signed_in;
  });
  sample();
  if (now >= next_refresh_ && !refreshing_) {
    next_refresh_ = now + std::chrono::seconds(5);
    refresh_users();
  }
  http_->run();  // MHD's own timeouts
}

void Console::stats(EventLog::Line& line) const {
  line.add("console_sessions", sessions_.size()).add("console_requests", requests_);
}

void Console::shutdown() {
  for (auto& [corr, p] : pending_) error(p.ex, 503, "shutdown", "the server is stopping");
  pending_.clear();
  for (auto& s : streams_)
    if (auto ex = s.ex.lock()) ex->end_stream();
  streams_.clear();
  http_->stop();
}

// A console user changed in the file (removed, disabled, another role): sessions follow
// within 5 s, as devices and accounts do.
void Console::refresh_users() {
  refreshing_ = true;
  const std::string db = opt_.db;
  const bool posted = worker_->post([this, db]() -> Worker::Then {
    auto store = UserStore::open(db, platform::Database::Access::read_only);
    std::optional<std::vector<ConsoleUser>> users;
    if (store)
      if (auto l = store->list()) users = std::move(*l);
    // Descriptions, regions and categories changed by others (m2m-server device add
    // --description, another console) show within the same 5 s.
    std::optional<ConsoleMeta> meta;
    if (auto database = platform::Database::open(db, platform::Database::Access::read_only))
      if (auto m = load_meta(*database)) meta = std::move(*m);
    return [this, users = std::move(users), meta = std::move(meta)]() mutable {
      refreshing_ = false;
      if (meta) meta_ = std::move(*meta);
      if (!users) return;  // the file is busy or gone: keep what we have
      std::unordered_map<std::string, const ConsoleUser*> by_name;
      for (const auto& u : *users) by_name[u.name] = &u;
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        auto f = by_name.find(it->second.user);
        if (f == by_name.end() || !f->second->enabled) {
          server_.log().write(EventLog::Line("console_logout")
                                  .add("user", it->second.user)
                                  .add("reason", f == by_name.end() ? "removed" : "disabled"));
          it = sessions_.erase(it);
        } else {
          it->second.role = f->second->role;
          ++it;
        }
      }
    };
  });
  if (!posted) refreshing_ = false;
}

// ---- answers --------------------------------------------------------------------------------

void Console::send_json(const ExchangePtr& ex, unsigned status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  ex->respond(std::move(r));
}

void Console::error(const ExchangePtr& ex, unsigned status, const char* code, const std::string& message) {
  send_json(ex, status, {{"error", code}, {"message", message}});
}

bool Console::serve_asset(const ExchangePtr& ex) {
  const Asset* a = find_asset(ex->path());
  if (!a) return false;
  HttpResponse r;
  r.content_type = std::string(a->type);
  r.persistent = a->body;
  r.headers.emplace_back("Cache-Control", "no-cache");
  ex->respond(std::move(r));
  return true;
}

// ---- requests -------------------------------------------------------------------------------

void Console::handle(const ExchangePtr& ex) {
  ++requests_;
  const std::string& m = ex->method();
  if (m == "GET" || m == "HEAD") {
    if (ex->path() == "/metrics") return metrics(ex);
    if (ex->path().rfind("/api/", 0) != 0) {
      if (serve_asset(ex)) return;
      return error(ex, 404, "not_found", "no page " + ex->path());
    }
  }
  if (ex->path().rfind("/api/", 0) != 0) return error(ex, 405, "method", m + " is not allowed here");
  if (ex->path() == "/api/login") {
    if (m != "POST") return error(ex, 405, "method", "sign in with POST");
    return login(ex);
  }
  Session* s = session_of(*ex);
  if (!s) return error(ex, 401, "unauthenticated", "sign in first");
  // Every request that changes something carries the session's CSRF token: another site can
  // make the browser send the cookie, not read the token.
  if (m != "GET" && m != "HEAD" && !same_secret(ex->header("X-CSRF-Token"), s->csrf)) {
    ++denied_;
    return error(ex, 403, "csrf", "missing or wrong X-CSRF-Token header (reload the page)");
  }
  route(ex, s);
}

void Console::route(const ExchangePtr& ex, Session* s) {
  const auto seg = segments(ex->path());  // seg[0] == "api"
  const std::string& m = ex->method();
  const std::string what = seg.size() > 1 ? seg[1] : "";
  auto need = [&](Action a) {
    if (allowed(s->role, a)) return true;
    ++denied_;
    error(ex, 403, "forbidden",
          "the " + std::string(role_name(s->role)) + " role may not " + std::string(action_name(a)) +
              " (ask an administrator)");
    return false;
  };
  if (what == "session" && seg.size() == 2 && m == "GET") {
    json actions = json::array();
    for (Action a : {Action::view, Action::control, Action::manage, Action::users})
      if (allowed(s->role, a)) actions.push_back(action_name(a));
    return send_json(ex, 200, {{"user", s->user}, {"role", role_name(s->role)}, {"csrf", s->csrf}, {"actions", actions}});
  }
  if (what == "logout" && seg.size() == 2 && m == "POST") return logout(ex, s);
  if (what == "roles" && seg.size() == 2 && m == "GET") {
    json out = json::array();
    for (const auto& [role, acts] : role_table()) {
      json a = json::array();
      for (Action x : acts) a.push_back(action_name(x));
      out.push_back({{"role", role_name(role)}, {"actions", a}});
    }
    return send_json(ex, 200, {{"roles", out}});
  }
  const bool get = m == "GET" || m == "HEAD";
  if (what == "devices") {
    if (seg.size() == 2 && get) return list_devices(ex);
    if (seg.size() == 2 && m == "POST") return need(Action::manage) ? add_device(ex, *s) : void();
    if (seg.size() >= 3) {
      auto id = ai::parse_device(seg[2]);
      if (!id) return error(ex, 400, "bad_device", "'" + seg[2] + "': " + id.error().message);
      if (seg.size() == 3 && get) return get_device(ex, *id);
      if (seg.size() == 3 && m == "PATCH") return need(Action::manage) ? edit_device(ex, *s, *id) : void();
      if (seg.size() == 3 && m == "DELETE") return need(Action::manage) ? remove_device(ex, *s, *id) : void();
      if (seg.size() == 4 && seg[3] == "command" && m == "POST")
        return need(Action::control) ? command(ex, *s, *id) : void();
      if (seg.size() == 4 && seg[3] == "associations" && m == "POST")
        return need(Action::manage) ? link(ex, *s, *id, std::nullopt) : void();
      if (seg.size() == 5 && seg[3] == "associations" && m == "DELETE") {
        auto other = ai::parse_device(seg[4]);
        if (!other) return error(ex, 400, "bad_device", "'" + seg[4] + "': " + other.error().message);
        return need(Action::manage) ? link(ex, *s, *id, *other) : void();
      }
    }
  }
  if (what == "import" && seg.size() == 2 && m == "POST") return need(Action::manage) ? import(ex, *s) : void();
  if (what == "groups") {
    if (seg.size() == 2 && get) return list_groups(ex);
    if (seg.size() == 2 && m == "POST") return need(Action::manage) ? add_group(ex, *s) : void();
    if (seg.size() == 3 && m == "PATCH") return need(Action::manage) ? edit_group(ex, *s, seg[2]) : void();
  }
  if (what == "regions") {
    if (seg.size() == 2 && get) return list_regions(ex);
    if (seg.size() == 2 && m == "POST") return need(Action::manage) ? add_region(ex, *s) : void();
    if (seg.size() == 3 && (m == "PATCH" || m == "DELETE")) {
      const auto rid = whole_number(seg[2]);
      if (!rid || *rid > INT64_MAX) return error(ex, 400, "bad_region", "'" + seg[2] + "' is not a region id");
      if (!need(Action::manage)) return;
      const auto id = static_cast<std::int64_t>(*rid);
      return m == "PATCH" ? edit_region(ex, *s, id) : remove_region(ex, *s, id);
    }
  }
  if (what == "accounts") {
    if (seg.size() == 2 && get) return list_accounts(ex);
    if (seg.size() == 2 && m == "POST") return need(Action::manage) ? add_account(ex, *s) : void();
    if (seg.size() == 3 && (m == "PATCH" || m == "DELETE")) {
      const auto aid = whole_number(seg[2]);
      if (!aid) return error(ex, 400, "bad_account", "'" + seg[2] + "' is not an account id");
      if (!need(Action::manage)) return;
      return m == "PATCH" ? edit_account(ex, *s, *aid) : remove_account(ex, *s, *aid);
    }
  }
  if (what == "stats" && seg.size() == 2 && get) return stats_history(ex);
  if (what == "firmware" && seg.size() == 2 && get) return firmware(ex);
  if (what == "events" && seg.size() == 2 && get) return events(ex);
  if (what == "users") {
    if (!need(Action::users)) return;
    if (seg.size() == 2 && get) return list_users(ex);
    if (seg.size() == 2 && m == "POST") return add_user(ex, *s);
    if (seg.size() == 3 && m == "PATCH") return edit_user(ex, *s, seg[2]);
    if (seg.size() == 3 && m == "DELETE") return remove_user(ex, *s, seg[2]);
  }
  error(ex, 404, "not_found", "no API " + m + " " + ex->path());
}

// ---- sessions -------------------------------------------------------------------------------

Console::Session* Console::session_of(const Exchange& ex) {
  const std::string token = ex.cookie(kCookie);
  if (token.empty()) return nullptr;
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return nullptr;
  const auto now = Clock::now();
  if (now - it->second.used > opt_.session_idle || now - it->second.created > opt_.session_max) {
    sessions_.erase(it);
    return nullptr;
  }
  it->second.used = now;
  return &it->second;
}

std::chrono::seconds Console::throttled(const std::string& key) const {
  auto it = throttle_.find(key);
  if (it == throttle_.end()) return std::chrono::seconds(0);
  const auto now = Clock::now();
  if (it->second.blocked_until <= now) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now);
}

// Past the limit within 15 minutes, each failure doubles the wait: 1 s, 2 s, 4 s … 15 min.
void Console::failed(const std::string& key) {
  const auto now = Clock::now();
  if (throttle_.size() >= kMaxThrottle) {
    std::erase_if(throttle_, [&](const auto& kv) { return kv.second.blocked_until <= now &&
                                                          now - kv.second.window_start > std::chrono::minutes(15); });
    if (throttle_.size() >= kMaxThrottle) throttle_.clear();  // a flood of names: start over rather than grow
  }
  Throttle& t = throttle_[key];
  if (now - t.window_start > std::chrono::minutes(15)) t = Throttle{0, now, {}};
  ++t.failures;
  if (t.failures >= opt_.login_fail_limit) {
    const unsigned shift = std::min<std::uint32_t>(t.failures - opt_.login_fail_limit, 10);
    t.blocked_until = now + std::min<std::chrono::seconds>(std::chrono::seconds(1u << shift), std::chrono::minutes(15));
  }
}

void Console::login(const ExchangePtr& ex) {
  // A JSON body only: a cross-site HTML form cannot send one without the browser asking first.
  if (ex->header("Content-Type").rfind("application/json", 0) != 0)
    return error(ex, 415, "content_type", "send the user and password as application/json");
  json body = json::parse(ex->body(), nullptr, false);
  if (!body.is_object() || !body.contains("user") || !body["user"].is_string() || !body.contains("password") ||
      !body["password"].is_string())
    return error(ex, 400, "bad_request", R"(expected {"user": "...", "password": "..."})");
  const std::string user = body["user"].get<std::string>();
  const std::string password = body["password"].get<std::string>();
  const std::string ip = peer_ip(*ex);
  const auto wait = std::max(throttled("ip:" + ip), throttled("user:" + user));
  if (wait.count() > 0) {
    ++login_failures_;
    server_.log().write(
        EventLog::Line("console_login_failed").add("user", user).add("peer", ip).add("reason", "throttled"));
    HttpResponse r;
    r.status = 429;
    r.headers.emplace_back("Retry-After", std::to_string(wait.count()));
    r.body = json{{"error", "throttled"},
                  {"message", "too many failed sign-ins: try again in " + std::to_string(wait.count()) + " s"},
                  {"retry_after", wait.count()}}
                 .dump();
    return ex->respond(std::move(r));
  }
  const std::string db = opt_.db;
  const bool posted = worker_->post([this, ex, db, user, password, ip]() -> Worker::Then {
    std::optional<ConsoleUser> found;
    std::string failure;
    auto store = UserStore::open(db, platform::Database::Access::read_only);
    if (!store) {
      failure = store.error().message;
    } else if (auto u = store->find(user); !u) {
      failure = u.error().message;
    } else {
      found = std::move(*u);
    }
    // The same work whether or not the name exists: the time does not tell names apart.
    static const std::string dummy = hash_password("not the password of anybody").value_or("");
    const bool ok = found ? verify_password(found->hash, password) : (verify_password(dummy, password), false);
    return [this, ex, user, ip, ok, found = std::move(found), failure] {
      if (!failure.empty()) return error(ex, 503, "registry", failure);
      const char* why = !found ? "unknown" : !ok ? "bad_password" : !found->enabled ? "disabled" : nullptr;
      if (why) {
        ++login_failures_;
        failed("ip:" + ip);
        failed("user:" + user);
        server_.log().write(EventLog::Line("console_login_failed").add("user", user).add("peer", ip).add("reason", why));
        return error(ex, 401, "bad_credentials", "wrong user name or password, or the user is disabled");
      }
      throttle_.erase("ip:" + ip);
      throttle_.erase("user:" + user);
      if (sessions_.size() >= kMaxSessions) {  // the least recently used one goes
        auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                       [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
        sessions_.erase(oldest);
      }
      const std::string token = random_hex(32);
      Session s{found->name, found->role, random_hex(32), Clock::now(), Clock::now()};
      ++logins_;
      server_.log().write(EventLog::Line("console_login")
                              .add("user", s.user)
                              .add("role", std::string(role_name(s.role)))
                              .add("peer", ip));
      json actions = json::array();
      for (Action a : {Action::view, Action::control, Action::manage, Action::users})
        if (allowed(s.role, a)) actions.push_back(action_name(a));
      HttpResponse r;
      r.body = json{{"user", s.user}, {"role", role_name(s.role)}, {"csrf", s.csrf}, {"actions", actions}}.dump();
      std::string cookie = std::string(kCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                           std::to_string(opt_.session_max.count());
      if (opt_.secure_cookie) cookie += "; Secure";
      r.headers.emplace_back("Set-Cookie", cookie);
      sessions_.emplace(token, std::move(s));
      ex->respond(std::move(r));
    };
  });
  if (!posted) error(ex, 503, "busy", "too many sign-ins at once: try again in a second");
}

void Console::logout(const ExchangePtr& ex, Session* s) {
  server_.log().write(EventLog::Line("console_logout").add("user", s->user).add("reason", "requested"));
  sessions_.erase(ex->cookie(kCookie));
  HttpResponse r;
  r.body = R"({"ok":true})";
  r.headers.emplace_back("Set-Cookie", std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  ex->respond(std::move(r));
}

// ---- devices --------------------------------------------------------------------------------

json Console::device_json(std::uint32_t index) const {
  const platform::Registry& reg = server_.registry();
  const platform::DeviceState& d = const_cast<platform::Registry&>(reg).device(index);
  json j{{"id", ai::format_device(d.id)},
         {"group", const_cast<platform::Registry&>(reg).groups()[d.group].name},
         {"enabled", d.enabled},
         {"online", d.online()}};
  if (d.fd >= 0) {
    j["transport"] = "tcp";
    if (const auto* s = server_.router().session(d.fd))
      j["peer"] = net::format_endpoint(net::Endpoint{s->ip, s->port});
  } else if (d.udp_live) {
    j["transport"] = "udp";
    j["peer"] = net::format_endpoint(net::Endpoint{d.udp_ip, d.udp_port});
  }
  if (d.online())
    if (auto it = online_since_.find(d.id); it != online_since_.end()) j["since"] = it->second;
  const auto region = meta_.region_of(d.id, j["group"].get_ref<const std::string&>());
  j["region"] = region ? json(*region) : json();
  if (region)
    if (const Region* r = meta_.region(*region)) j["region_name"] = r->name;
  auto dm = meta_.devices.find(d.id);
  j["category"] = dm != meta_.devices.end() ? dm->second.category : "";
  auto desc = meta_.descriptions.find(d.id);
  j["description"] = desc != meta_.descriptions.end() ? desc->second : "";
  return j;
}

// GET /api/devices?q=&group=&online=1|0&offset=&limit=
void Console::list_devices(const ExchangePtr& ex) {
  platform::Registry& reg = server_.registry();
  const std::string q = ex->query("q"), group = ex->query("group"), online = ex->query("online");
  const std::string region = ex->query("region"), category = ex->query("category");
  std::optional<std::int64_t> region_id;
  if (!region.empty()) {
    try {
      region_id = std::stoll(region);
    } catch (...) {
      return error(ex, 400, "bad_request", "region: a region id");
    }
  }
  std::size_t offset = 0, limit = 100;
  try {
    if (!ex->query("offset").empty()) offset = std::stoul(ex->query("offset"));
    if (!ex->query("limit").empty()) limit = std::min<std::size_t>(std::stoul(ex->query("limit")), 1000);
  } catch (...) {
    return error(ex, 400, "bad_request", "offset and limit are numbers");
  }
  std::string needle = q;
  std::transform(needle.begin(), needle.end(), needle.begin(), [](unsigned char c) { return std::toupper(c); });
  std::vector<std::uint32_t> match;
  for (std::uint32_t i = 0; i < reg.devices().size(); ++i) {
    const auto& d = reg.device(i);
    if (d.removed) continue;
    if (!group.empty() && reg.groups()[d.group].name != group) continue;
    if (online == "1" && !d.online()) continue;
    if (online == "0" && d.online()) continue;
    if (!needle.empty() && ai::format_device(d.id).find(needle) == std::string::npos) {
      auto desc = meta_.descriptions.find(d.id);
      if (desc == meta_.descriptions.end() || desc->second.find(q) == std::string::npos) continue;
    }
    if (region_id) {
      // the region or any region below it
      auto r = meta_.region_of(d.id, reg.groups()[d.group].name);
      bool inside = false;
      for (int depth = 0; r && depth < 64 && !inside; ++depth) {
        inside = *r == *region_id;
        const Region* x = meta_.region(*r);
        r = x ? x->parent : std::nullopt;
      }
      if (!inside) continue;
    }
    if (!category.empty()) {
      auto dm = meta_.devices.find(d.id);
      if (dm == meta_.devices.end() || dm->second.category != category) continue;
    }
    match.push_back(i);
  }
  std::sort(match.begin(), match.end(), [&](auto a, auto b) { return reg.device(a).id < reg.device(b).id; });
  json list = json::array();
  for (std::size_t k = offset; k < match.size() && list.size() < limit; ++k) list.push_back(device_json(match[k]));
  send_json(ex, 200, {{"total", match.size()}, {"offset", offset}, {"devices", list}});
}

void Console::get_device(const ExchangePtr& ex, std::uint64_t id) {
  const std::uint32_t d = server_.registry().find_device(id);
  if (d == platform::kNone) return error(ex, 404, "unknown", "no device " + ai::format_device(id));
  json j = device_json(d);
  json linked = json::array();
  if (auto it = meta_.links.find(id); it != meta_.links.end()) {
    std::vector<std::uint64_t> ids = it->second;
    std::sort(ids.begin(), ids.end());
    for (std::uint64_t o : ids) linked.push_back(ai::format_device(o));
  }
  j["associated"] = linked;
  send_json(ex, 200, j);
}

// POST /api/devices/ID/command {"type": "term.reboot", "body": {...}}: answered with the
// device's reply, or why there is none.
void Console::command(const ExchangePtr& ex, const Session& s, std::uint64_t id) {
  json req = json::parse(ex->body(), nullptr, false);
  if (!req.is_object() || !req.contains("type") || !req["type"].is_string())
    return error(ex, 400, "bad_request", R"(expected {"type": "term.reboot", "body": {...}})");
  const auto info = ai::find_type(req["type"].get<std::string>());
  if (!info || !console_type(ai::command_key(info->cls, info->cmd)))
    return error(ex, 400, "bad_type",
                 "type: one of term.reboot, term.config_read, term.config_write, data.downlink, term.ota_start");
  const json body = req.contains("body") ? req["body"] : json::object();
  auto data = ai::body_from_json(info->cls, info->cmd, ai::status::request, body);
  if (!data) return error(ex, 400, "bad_body", std::string(info->type) + ": " + data.error().message);
  if (pending_.size() >= kMaxPending) return error(ex, 503, "busy", "too many console requests waiting for devices");
  const std::uint32_t corr = next_corr_++;
  std::string message;
  const char* refused = server_.router().console_command(corr, s.user, id, ai::command_key(info->cls, info->cmd),
                                                         *data, message);
  ++commands_;
  if (refused) {
    const std::string why = std::string(refused);
    const unsigned status = why == "unknown" ? 404 : why == "offline" ? 409 : why == "send_failed" ? 502 : 400;
    return error(ex, status, refused,
                 message.empty() ? "device " + ai::format_device(id) + ": " + why : message);
  }
  pending_[corr] = Pending{ex, id, ai::command_key(info->cls, info->cmd), Clock::now() + opt_.command_timeout};
}

void Console::reply(std::uint32_t corr, std::uint8_t status, ByteView data) {
  auto it = pending_.find(corr);
  if (it == pending_.end()) return;  // answered already (timeout)
  Pending p = std::move(it->second);
  pending_.erase(it);
  const auto cls = static_cast<std::uint8_t>(p.command >> 8), cmd = static_cast<std::uint8_t>(p.command & 0xFF);
  ai::FrameView f{cls, cmd, 0, 0, status, p.device, {}, data};
  json out{{"device", ai::format_device(p.device)},
           {"type", ai::type_name(cls, cmd)},
           {"status", ai::status_name(status)}};
  if (auto b = ai::body_to_json(f))
    out["body"] = *b;
  else
    out["body_error"] = b.error().message;
  send_json(p.ex, 200, out);
}

void Console::uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) {
  if (streams_.empty()) return;
  ai::FrameView f{cls, cmd, 0, 0, ai::status::request, device, {}, data};
  json j{{"device", ai::format_device(device)}, {"type", ai::type_name(cls, cmd)}, {"ts", unix_now()}};
  if (auto b = ai::body_to_json(f))
    j["body"] = *b;
  else
    j["data"] = to_hex(data);
  broadcast(device, cls == ai::cls::data ? "uplink" : "event", j.dump(-1, ' ', false, json::error_handler_t::replace));
}

void Console::presence(std::uint64_t device, bool online) {
  if (online)
    online_since_[device] = unix_now();
  else
    online_since_.erase(device);
  if (streams_.empty()) return;
  const std::uint32_t d = server_.registry().find_device_any(device);
  json j = d != platform::kNone ? device_json(d) : json{{"id", ai::format_device(device)}};
  j["online"] = online;
  j["ts"] = unix_now();
  broadcast(device, "presence", j.dump());
}

void Console::broadcast(std::uint64_t device, const std::string& event, const std::string& data) {
  const std::string text = "event: " + event + "\ndata: " + data + "\n\n";
  for (auto& s : streams_)
    if ((s.device == 0 || s.device == device) && sessions_.count(s.session))
      if (auto ex = s.ex.lock()) ex->push(text);
}

// GET /api/events[?device=ID]: server-sent events (uplink, event, presence).
void Console::events(const ExchangePtr& ex) {
  std::uint64_t device = 0;
  if (const std::string d = ex->query("device"); !d.empty()) {
    auto id = ai::parse_device(d);
    if (!id) return error(ex, 400, "bad_device", "device: " + id.error().message);
    device = *id;
  }
  std::erase_if(streams_, [](const Stream& s) {
    auto e = s.ex.lock();
    return !e || e->gone();
  });
  if (streams_.size() >= kMaxStreams) return error(ex, 503, "busy", "too many live views open");
  ex->stream();
  ex->push(": m2m-server live events\nretry: 2000\n\n");
  streams_.push_back(Stream{ex, device, ex->cookie(kCookie)});
}

void Console::list_groups(const ExchangePtr& ex) {
  platform::Registry& reg = server_.registry();
  json out = json::array();
  for (const auto& g : reg.groups()) {
    std::size_t total = 0, online = 0;
    for (std::uint32_t m : g.members) {
      if (reg.device(m).removed) continue;
      ++total;
      online += reg.device(m).online();
    }
    json j{{"name", g.name}, {"devices", total}, {"online", online}};
    auto r = meta_.group_region.find(g.name);
    j["region"] = r != meta_.group_region.end() ? json(r->second) : json();
    out.push_back(std::move(j));
  }
  for (const auto& name : meta_.empty_groups) {
    bool listed = false;
    for (const auto& g : reg.groups()) listed |= g.name == name;
    if (listed) continue;
    json j{{"name", name}, {"devices", 0}, {"online", 0}};
    auto r = meta_.group_region.find(name);
    j["region"] = r != meta_.group_region.end() ? json(r->second) : json();
    out.push_back(std::move(j));
  }
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) { return a["name"] < b["name"]; });
  send_json(ex, 200, {{"groups", out}});
}

void Console::list_accounts(const ExchangePtr& ex) {
  platform::Registry& reg = server_.registry();
  json out = json::array();
  for (const auto& a : reg.accounts()) {
    if (a.removed) continue;
    json groups = json::array();
    if (a.all_groups)
      groups.push_back("*");
    else
      for (std::uint32_t g : a.groups) groups.push_back(reg.groups()[g].name);
    out.push_back({{"id", a.id}, {"name", a.name}, {"enabled", a.enabled}, {"groups", groups}, {"online", a.fd >= 0}});
  }
  send_json(ex, 200, {{"accounts", out}});
}

// ---- console users (admin) -------------------------------------------------------------------

void Console::list_users(const ExchangePtr& ex) {
  const std::string db = opt_.db;
  const bool posted = worker_->post([ex, db]() -> Worker::Then {
    auto store = UserStore::open(db, platform::Database::Access::read_only);
    Result<std::vector<ConsoleUser>> users = store ? store->list() : Result<std::vector<ConsoleUser>>(unexpected(store.error()));
    return [ex, users = std::move(users)] {
      if (!users) return error(ex, 503, "registry", users.error().message);
      json out = json::array();
      for (const auto& u : *users)
        out.push_back({{"name", u.name}, {"role", role_name(u.role)}, {"enabled", u.enabled}});
      send_json(ex, 200, {{"users", out}});
    };
  });
  if (!posted) error(ex, 503, "busy", "the console is busy: try again in a second");
}

// POST /api/users {"name", "password", "role"}
void Console::add_user(const ExchangePtr& ex, const Session& s) {
  json body = json::parse(ex->body(), nullptr, false);
  if (!body.is_object() || !body.value("name", json()).is_string() || !body.value("password", json()).is_string() ||
      !body.value("role", json()).is_string())
    return error(ex, 400, "bad_request", R"(expected {"name": "...", "password": "...", "role": "admin|operator|viewer"})");
  ConsoleUser u;
  u.name = body["name"].get<std::string>();
  const std::string password = body["password"].get<std::string>();
  auto role = parse_role(body["role"].get<std::string>());
  if (!role) return error(ex, 400, "bad_role", role.error().message);
  u.role = *role;
  if (auto r = check_user_name(u.name); !r) return error(ex, 400, "bad_name", r.error().message);
  if (auto r = check_password(password); !r) return error(ex, 400, "bad_password", r.error().message);
  const std::string db = opt_.db, by = s.user;
  const bool posted = worker_->post([this, ex, db, u, password, by]() mutable -> Worker::Then {
    std::string failure;
    unsigned status = 200;
    if (auto h = hash_password(password); !h) {
      failure = h.error().message, status = 503;
    } else {
      u.hash = *h;
      auto store = UserStore::open(db, platform::Database::Access::read_write);
      if (!store)
        failure = store.error().message, status = 503;
      else if (auto r = store->put(u, false); !r)
        failure = r.error().message, status = r.error().kind == ErrorKind::refused ? 409 : 503;
    }
    return [this, ex, u, by, failure, status] {
      if (!failure.empty()) return error(ex, status, status == 409 ? "exists" : "registry", failure);
      server_.log().write(EventLog::Line("console_change")
                              .add("user", by)
                              .add("action", "user_add")
                              .add("name", u.name)
                              .add("role", std::string(role_name(u.role))));
      send_json(ex, 201, {{"name", u.name}, {"role", role_name(u.role)}, {"enabled", u.enabled}});
    };
  });
  if (!posted) error(ex, 503, "busy", "the console is busy: try again in a second");
}

void Console::remove_user(const ExchangePtr& ex, const Session& s, const std::string& name) {
  if (name == s.user) return error(ex, 409, "self", "you cannot remove yourself");
  const std::string db = opt_.db, by = s.user;
  const bool posted = worker_->post([this, ex, db, name, by]() -> Worker::Then {
    auto store = UserStore::open(db, platform::Database::Access::read_write);
    Result<bool> removed = store ? store->remove(name) : Result<bool>(unexpected(store.error()));
    return [this, ex, name, by, removed] {
      if (!removed) return error(ex, 503, "registry", removed.error().message);
      if (!*removed) return error(ex, 404, "unknown", "no console user '" + name + "'");
      server_.log().write(
          EventLog::Line("console_change").add("user", by).add("action", "user_remove").add("name", name));
      for (auto it = sessions_.begin(); it != sessions_.end();)
        it = it->second.user == name ? sessions_.erase(it) : std::next(it);
      send_json(ex, 200, {{"removed", name}});
    };
  });
  if (!posted) error(ex, 503, "busy", "the console is busy: try again in a second");
}

// ---- /metrics (m2m-server(1), METRICS) -----------------------------------------------------

void Console::metrics(const ExchangePtr& ex) {
  const platform::Counters& c = server_.counters();
  std::string out;
  char line[256];
  auto metric = [&](const char* name, const char* type, const char* help) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    out += line;
  };
  auto value = [&](const char* name, const char* labels, double v) {
    std::snprintf(line, sizeof line, "%s%s %.17g\n", name, labels, v);
    out += line;
  };
  auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  metric("m2m_devices_online", "gauge", "Devices online, by transport.");
  value("m2m_devices_online", "{transport=\"tcp\"}", d(c.online_tcp));
  value("m2m_devices_online", "{transport=\"udp\"}", d(c.online_udp));
  std::size_t registered = 0;
  for (const auto& dev : server_.registry().devices()) registered += !dev.removed;
  metric("m2m_devices_registered", "gauge", "Devices in the registry.");
  value("m2m_devices_registered", "", d(registered));
  metric("m2m_clients_online", "gauge", "Platform client accounts logged in.");
  value("m2m_clients_online", "", d(c.clients));
  metric("m2m_connections", "gauge", "Open TCP connections (devices, clients, not yet logged in).");
  value("m2m_connections", "", d(server_.connections()));
  metric("m2m_logins_total", "counter", "Successful logins of devices and clients.");
  value("m2m_logins_total", "", d(c.logins));
  metric("m2m_login_refusals_total", "counter", "Refused logins, by reason.");
  value("m2m_login_refusals_total", "{reason=\"unknown\"}", d(c.rejected_unknown));
  value("m2m_login_refusals_total", "{reason=\"bad_password\"}", d(c.rejected_bad_password));
  value("m2m_login_refusals_total", "{reason=\"disabled\"}", d(c.rejected_disabled));
  value("m2m_login_refusals_total", "{reason=\"throttled\"}", d(c.rejected_throttled));
  value("m2m_login_refusals_total", "{reason=\"busy\"}", d(c.rejected_busy));
  metric("m2m_frames_total", "counter", "Frames received (in) and sent (out).");
  value("m2m_frames_total", "{direction=\"in\"}", d(c.frames_in));
  value("m2m_frames_total", "{direction=\"out\"}", d(c.frames_out));
  metric("m2m_relays_total", "counter", "data.relay frames handed to their target.");
  value("m2m_relays_total", "", d(c.relays));
  metric("m2m_uplinks_total", "counter", "data.uplink frames fanned out to operators.");
  value("m2m_uplinks_total", "", d(c.uplinks));
  metric("m2m_routed_total", "counter", "Device replies routed back to the operator who asked.");
  value("m2m_routed_total", "", d(c.routed));
  metric("m2m_drops_total", "counter", "Frames dropped (no route, stale session, a partial datagram).");
  value("m2m_drops_total", "", d(c.drops));
  metric("m2m_bad_frames_total", "counter", "Frames that failed to decode.");
  value("m2m_bad_frames_total", "", d(c.bad_frames));
  metric("m2m_token_mismatches_total", "counter", "Frames whose token was not the session's.");
  value("m2m_token_mismatches_total", "", d(c.token_mismatch));
  metric("m2m_udp_replies_capped_total", "counter", "UDP replies left out by the anti-amplification budget.");
  value("m2m_udp_replies_capped_total", "", d(c.udp_capped));
  metric("m2m_console_sessions", "gauge", "Console users signed in.");
  value("m2m_console_sessions", "", d(sessions_.size()));
  metric("m2m_console_logins_total", "counter", "Console sign-ins, by outcome.");
  value("m2m_console_logins_total", "{outcome=\"ok\"}", d(logins_));
  value("m2m_console_logins_total", "{outcome=\"failed\"}", d(login_failures_));
  metric("m2m_console_denied_total", "counter", "Console requests refused for the role or a missing CSRF token.");
  value("m2m_console_denied_total", "", d(denied_));
  metric("m2m_console_commands_total", "counter", "Requests sent to devices from the console.");
  value("m2m_console_commands_total", "", d(commands_));
  metric("m2m_console_command_timeouts_total", "counter", "Console requests a device did not answer in time.");
  value("m2m_console_command_timeouts_total", "", d(command_timeouts_));
  metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  value("process_resident_memory_bytes", "", d(platform::resident_kib() * 1024));
  metric("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  value("process_cpu_seconds_total", "", cpu_seconds());
  metric("process_open_fds", "gauge", "Open file descriptors.");
  value("process_open_fds", "", d(open_fds()));
  metric("process_max_fds", "gauge", "The file limit (soft).");
  value("process_max_fds", "", d(server_.file_limit()));
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(out);
  ex->respond(std::move(r));
}

}  // namespace m2m::web
