// The operations console (m2m-server serve --http ADDR; m2m-server(1), CONSOLE): the seed's
// "M2M Cloud Manage System" served by the platform itself — a page in the browser, the JSON
// API it calls, and Prometheus /metrics — in the server's own loop (http.hpp says how).
//
// It is an operator of every group living in the server's process (platform::ConsoleSink):
// its requests to devices go through the router like an operator's, and it hears uplinks,
// events and presence changes for the live views. Console users sign in (users.hpp); the role
// of the session decides every API call on the server, and every change and every command is
// written to the event log with the user's name.
//
// Security (docs/SECURITY.md, "The console"): the session is a 256-bit random token in a
// cookie that is HttpOnly and SameSite=Strict; every request that changes something must also
// carry the session's CSRF token in X-CSRF-Token; failed sign-ins are throttled per address
// and per user name; password checks run on the worker thread, never on the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "net/endpoint.hpp"
#include "platform/server.hpp"
#include "platform/store.hpp"
#include "web/http.hpp"
#include "web/meta.hpp"
#include "web/users.hpp"
#include "web/worker.hpp"

namespace m2m::web {

struct ConsoleOptions {
  std::string db;                                   // the registry file (console users live there)
  std::string firmware_dir;                         // serve --firmware-dir: what OTA may offer
  net::Address listen;                              // --http
  std::chrono::seconds session_idle{30 * 60};       // a session unused this long ends
  std::chrono::seconds session_max{12 * 60 * 60};   // and any session after this long
  std::chrono::milliseconds command_timeout{10'000};  // a device's reply to a console request
  std::uint32_t login_fail_limit = 5;               // failures per address or name before backoff
  bool secure_cookie = false;                       // --http-secure-cookie: behind a TLS proxy
};

class Console final : public platform::ConsoleSink, public platform::Server::Extension {
 public:
  static Result<std::unique_ptr<Console>> start(platform::Server& server, ConsoleOptions options);
  ~Console() override;
  const net::Address& bound() const { return http_->bound(); }

  // platform::ConsoleSink
  void reply(std::uint32_t corr, std::uint8_t status, ByteView data) override;
  void uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) override;
  void presence(std::uint64_t device, bool online) override;
  // platform::Server::Extension
  void ready(int fd, std::uint32_t events) override;
  void tick() override;
  void stats(platform::EventLog::Line& line) const override;
  void shutdown() override;

 private:
  using Clock = std::chrono::steady_clock;
  using ExchangePtr = std::shared_ptr<Exchange>;
  struct Session {
    std::string user;
    Role role = Role::viewer;
    std::string csrf;
    Clock::time_point created, used;
  };
  struct Pending {  // a console request awaiting the device's reply
    ExchangePtr ex;
    std::uint64_t device;
    std::uint16_t command;
    Clock::time_point deadline;
  };
  struct Throttle {
    std::uint32_t failures = 0;
    Clock::time_point window_start, blocked_until;
  };
  struct Stream {
    std::weak_ptr<Exchange> ex;
    std::uint64_t device = 0;  // 0: every device
    std::string session;       // the stream ends with its session (sign-out, user removed)
  };

  Console(platform::Server& server, ConsoleOptions options);
  void handle(const ExchangePtr& ex);
  void route(const ExchangePtr& ex, Session* s);
  // Answers
  static void send_json(const ExchangePtr& ex, unsigned status, const nlohmann::json& body);
  static void error(const ExchangePtr& ex, unsigned status, const char* code, const std::string& message);
  bool serve_asset(const ExchangePtr& ex);
  // Sessions and sign-in
  Session* session_of(const Exchange& ex);
  void login(const ExchangePtr& ex);
  void logout(const ExchangePtr& ex, Session* s);
  std::chrono::seconds throttled(const std::string& key) const;
  void failed(const std::string& key);
  // The API
  nlohmann::json device_json(std::uint32_t index) const;
  void list_devices(const ExchangePtr& ex);
  void get_device(const ExchangePtr& ex, std::uint64_t id);
  void command(const ExchangePtr& ex, const Session& s, std::uint64_t id);
  void list_groups(const ExchangePtr& ex);
  void list_accounts(const ExchangePtr& ex);
  void list_users(const ExchangePtr& ex);
  void add_user(const ExchangePtr& ex, const Session& s);
  void remove_user(const ExchangePtr& ex, const Session& s, const std::string& name);
  void events(const ExchangePtr& ex);
  // console_registry.cpp: changes to the registry file (on the worker, one transaction each;
  // the server's follower applies them to the live registry within a second)
  using Change = std::function<Result<nlohmann::json>(platform::Store& store)>;
  void change(const ExchangePtr& ex, const Session& s, std::string action, Change fn, unsigned ok_status = 200);
  void add_device(const ExchangePtr& ex, const Session& s);
  void edit_device(const ExchangePtr& ex, const Session& s, std::uint64_t id);
  void remove_device(const ExchangePtr& ex, const Session& s, std::uint64_t id);
  void link(const ExchangePtr& ex, const Session& s, std::uint64_t id, std::optional<std::uint64_t> other);
  void import(const ExchangePtr& ex, const Session& s);
  void add_account(const ExchangePtr& ex, const Session& s);
  void edit_account(const ExchangePtr& ex, const Session& s, std::uint64_t id);
  void remove_account(const ExchangePtr& ex, const Session& s, std::uint64_t id);
  void add_group(const ExchangePtr& ex, const Session& s);
  void edit_group(const ExchangePtr& ex, const Session& s, const std::string& name);
  void list_regions(const ExchangePtr& ex);
  void add_region(const ExchangePtr& ex, const Session& s);
  void edit_region(const ExchangePtr& ex, const Session& s, std::int64_t id);
  void remove_region(const ExchangePtr& ex, const Session& s, std::int64_t id);
  void edit_user(const ExchangePtr& ex, const Session& s, const std::string& name);
  void stats_history(const ExchangePtr& ex);
  void firmware(const ExchangePtr& ex);
  void sample();  // the minute's online counts, per group, region and in all
  void metrics(const ExchangePtr& ex);
  void broadcast(std::uint64_t device, const std::string& event, const std::string& data);
  void refresh_users();

  platform::Server& server_;
  ConsoleOptions opt_;
  std::unique_ptr<Http> http_;
  std::unique_ptr<Worker> worker_;
  std::unordered_map<std::string, Session> sessions_;  // key: the cookie's token
  std::unordered_map<std::string, Throttle> throttle_;  // key: "ip:ADDR" or "user:NAME"
  std::unordered_map<std::uint32_t, Pending> pending_;  // key: corr
  std::unordered_map<std::uint64_t, std::int64_t> online_since_;  // device -> Unix seconds
  std::vector<Stream> streams_;
  ConsoleMeta meta_;  // regions, categories, descriptions, associations (meta.hpp)
  std::int64_t last_sample_ = 0;  // minute
  std::uint32_t next_corr_ = 1;
  Clock::time_point next_refresh_{}, next_ping_{};
  bool refreshing_ = false;
  // Counters for /metrics and the stats line
  std::uint64_t requests_ = 0, logins_ = 0, login_failures_ = 0, denied_ = 0, commands_ = 0, command_timeouts_ = 0;
};

}  // namespace m2m::web
