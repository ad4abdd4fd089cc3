// The server's side of the registry file while it serves (live_registry.hpp): the writer
// thread's descriptor in the epoll set, revoked records' sessions ended through the router,
// platform.add_terminal written off the loop. Kept apart from the loop (server.cpp) and the
// protocol (router.cpp).
#include <sys/epoll.h>

#include <cstring>

#include "m2m/frame.hpp"
#include "platform/live_registry.hpp"
#include "platform/server.hpp"

namespace m2m::platform {

// The router's TerminalStore: without a followed registry the device is accepted in memory
// only (as before any registry file existed); with one, the writer thread writes it and the
// router hears back on the loop.
class Server::Terminals final : public TerminalStore {
 public:
  explicit Terminals(Server& s) : s_(s) {}
  void insert_device(const DeviceRecord& d, Done done) override {
    if (!s_.live_) return done(nullptr);
    s_.live_->add_device(d, [this, id = d.id, done = std::move(done)](const char* refused, const Error* e) {
      if (e && refused && std::strcmp(refused, "store_failed") == 0)
        s_.log_.write(EventLog::Line("registry_error").add("device", ai::format_device(id)).add("message", e->message));
      done(refused);
    });
  }

 private:
  Server& s_;
};

std::unique_ptr<TerminalStore> Server::make_terminals(Server& server) { return std::make_unique<Terminals>(server); }

Result<void> Server::follow(const std::string& registry_path) {
  return follow([&registry_path](Registry& reg, RegistryFollower::Hooks hooks) -> Result<std::unique_ptr<RegistryFollower>> {
    auto live = LiveRegistry::start(registry_path, reg, std::move(hooks));
    if (!live) return unexpected(live.error());
    return std::unique_ptr<RegistryFollower>(std::move(*live));
  });
}

Result<void> Server::follow(const FollowerStart& start) {
  RegistryFollower::Hooks hooks;
  hooks.revoke_device = [this](std::uint32_t d, std::string_view reason) { router_.revoke_device(d, reason); };
  hooks.revoke_account = [this](std::uint32_t a, std::string_view reason) { router_.revoke_account(a, reason); };
  hooks.synced = [this](const SyncResult& r) {
    EventLog::Line l("registry");
    l.add("devices_added", r.devices_added).add("devices_changed", r.devices_changed);
    l.add("devices_removed", r.devices_removed).add("accounts_added", r.accounts_added);
    l.add("accounts_changed", r.accounts_changed).add("accounts_removed", r.accounts_removed);
    log_.write(l);
  };
  hooks.failed = [this](const Error& e) { log_.write(EventLog::Line("registry_error").add("message", e.message)); };
  auto live = start(reg_, std::move(hooks));
  if (!live) return unexpected(live.error());
  if (auto w = loop_.watch((*live)->fd(), EPOLLIN); !w) return w;
  live_ = std::move(*live);
  return {};
}

}  // namespace m2m::platform
