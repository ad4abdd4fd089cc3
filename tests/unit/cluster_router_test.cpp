// The router's cluster seam (platform/remote.hpp) with a fake Remote: what the router asks of
// other nodes and when, and what it does with their answers — the sender's relay reply only
// once the target's node answered, the operator's reply with its own sequence number, a
// session ended with reason "moved", fast refusals while the engine is away.
#include <doctest/doctest.h>

#include <map>

#include "../support/router_harness.hpp"
#include "m2m/data.hpp"
#include "m2m/messages.hpp"

using namespace m2m;
using namespace m2m::platform;
using namespace m2m::platform::testing;

namespace {
constexpr std::uint64_t A = 0xA1, B = 0xB2, C = 0xC3;

struct FakeRemote final : Remote {
  std::map<std::uint64_t, RemotePeer> held;  // devices "another node" holds
  const char* down = nullptr;
  std::vector<std::pair<std::uint64_t, bool>> presences;
  struct RelayCall {
    std::uint64_t target;
    Bytes body;
    RelayDone done;
  };
  std::vector<RelayCall> relays;
  struct CommandCall {
    std::uint64_t target;
    std::uint16_t command;
    Bytes data;
    CommandDone done;
  };
  std::vector<CommandCall> commands;
  struct Reply {
    std::uint32_t origin, corr;
    std::uint8_t status;
    Bytes data;
  };
  std::vector<Reply> replies;
  std::vector<std::uint64_t> uplinks;

  const RemotePeer* find(std::uint64_t id) const override {
    auto it = held.find(id);
    return it == held.end() ? nullptr : &it->second;
  }
  const char* unavailable() const override { return down; }
  void presence(const DeviceState& d, bool online) override { presences.emplace_back(d.id, online); }
  void relay(std::uint64_t target, ByteView body, RelayDone done) override {
    relays.push_back({target, Bytes(body.begin(), body.end()), std::move(done)});
  }
  void command(std::uint64_t target, std::uint16_t command, ByteView data, CommandDone done) override {
    commands.push_back({target, command, Bytes(data.begin(), data.end()), std::move(done)});
  }
  void command_reply(std::uint32_t origin, std::uint32_t corr, std::uint8_t status, ByteView data) override {
    replies.push_back({origin, corr, status, Bytes(data.begin(), data.end())});
  }
  void uplink(std::uint64_t device, std::uint8_t, std::uint8_t, ByteView) override { uplinks.push_back(device); }
  void introduce(std::uint64_t, ByteView) override {}
};

Bytes relay_body(std::uint64_t peer, Bytes payload) {
  Bytes b;
  ai::put_relay(b, ai::Relay{peer, payload});
  return b;
}

struct Fixture {
  Harness h;
  FakeRemote remote;
  Fixture() {
    h.add_device(A, "a");
    h.add_device(B, "b");
    h.add_device(C, "c", "g2");
    h.add_account(7, "app", {"g1"});
    h.router.set_remote(&remote);
  }
  std::optional<Token> login(int fd, std::uint64_t id, std::string_view pw, std::uint8_t cls = ai::cls::link) {
    h.connect(fd);
    return h.tcp_login(fd, id, pw, cls);
  }
};
}  // namespace

TEST_CASE("cluster: a relay to a device on another node is answered only when that node answers") {
  Fixture f;
  auto ta = f.login(10, A, "a");
  REQUIRE(ta);
  CHECK(f.remote.presences == std::vector<std::pair<std::uint64_t, bool>>{{A, true}});
  f.remote.held[B] = RemotePeer{};
  const std::size_t before = f.h.to_fd(10).size();
  f.h.tcp(10, request(ai::cls::data, 0x55, A, *ta, relay_body(B, {0x55, 0x54}), 0x4242));
  REQUIRE(f.remote.relays.size() == 1);
  CHECK(f.remote.relays[0].target == B);
  CHECK(f.remote.relays[0].body == relay_body(A, {0x55, 0x54}));  // delivered with the sender as peer
  CHECK(f.h.to_fd(10).size() == before);                           // no reply yet
  f.remote.relays[0].done(nullptr);
  f.h.end_event();
  auto r = f.h.last_to(10);
  REQUIRE(r);
  CHECK(r->cmd == 0x55);
  CHECK(r->seq == 0x4242);
  CHECK(r->status == ai::status::ok);
  CHECK(f.h.find("relay", "remote", true).size() == 1);

  // The target's node refuses: fail, with its reason in the event.
  f.h.tcp(10, request(ai::cls::data, 0x55, A, *ta, relay_body(B, {1}), 0x4243));
  REQUIRE(f.remote.relays.size() == 2);
  f.remote.relays[1].done("offline");
  f.h.end_event();
  CHECK(f.h.last_to(10)->seq == 0x4243);
  CHECK(f.h.last_to(10)->status == ai::status::fail);
  CHECK(f.h.find("relay_refused", "reason", "offline").size() == 1);

  // Another group is refused here, without asking anyone.
  f.remote.held[C] = RemotePeer{};
  f.h.tcp(10, request(ai::cls::data, 0x55, A, *ta, relay_body(C, {1}), 0x4244));
  CHECK(f.remote.relays.size() == 2);
  CHECK(f.h.last_to(10)->status == ai::status::fail);
  CHECK(f.h.find("relay_refused", "reason", "other_group").size() == 1);
  CHECK(f.h.violations.empty());
}

TEST_CASE("cluster: an answer for a sender that left is dropped; an unreachable engine fails at once") {
  Fixture f;
  auto ta = f.login(10, A, "a");
  f.remote.held[B] = RemotePeer{};
  f.h.tcp(10, request(ai::cls::data, 0x55, A, *ta, relay_body(B, {1}), 9));
  f.h.hang_up(10);
  CHECK(f.remote.presences.back() == std::pair<std::uint64_t, bool>{A, false});
  f.h.connect(10);  // the descriptor is reused by someone else
  const std::size_t before = f.h.sent.size();
  f.remote.relays[0].done(nullptr);
  f.h.end_event();
  CHECK(f.h.sent.size() == before);  // nothing sent to the stranger
  CHECK(f.h.violations.empty());

  auto tb = f.login(11, B, "b");
  f.remote.down = "cluster_unavailable";
  f.remote.held.clear();  // the directory may be empty too: the reason is still the engine
  f.h.tcp(11, request(ai::cls::data, 0x55, B, *tb, relay_body(A, {1}), 5));
  CHECK(f.remote.relays.size() == 1);
  CHECK(f.h.last_to(11)->status == ai::status::fail);
  CHECK(f.h.find("relay_refused", "reason", "cluster_unavailable").size() == 1);
}

TEST_CASE("cluster: an operator here commands a device there; the reply keeps the operator's sequence") {
  Fixture f;
  auto tok = f.login(20, 7, "app", ai::cls::platform);
  REQUIRE(tok);
  f.remote.held[A] = RemotePeer{};
  f.h.tcp(20, request(ai::cls::term, 0xAA, A, *tok, {0x0C, 0x00}, 0x1234));
  REQUIRE(f.remote.commands.size() == 1);
  CHECK(f.remote.commands[0].target == A);
  CHECK(f.remote.commands[0].command == 0xF0AA);
  CHECK(f.remote.commands[0].data == Bytes{0x0C, 0x00});
  const Bytes answer{0x0C, 0x00, 0x1E};
  f.remote.commands[0].done(ai::status::ok, answer, nullptr);
  f.h.end_event();
  auto r = f.h.last_to(20);
  REQUIRE(r);
  CHECK(r->seq == 0x1234);
  CHECK(r->status == ai::status::ok);
  CHECK(r->device == A);
  CHECK(r->data == answer);
  CHECK(Bytes(r->token.begin(), r->token.end()) == Bytes(tok->begin(), tok->end()));

  // Refused there: fail with the operator's sequence, the reason in route_refused.
  f.h.tcp(20, request(ai::cls::term, 0x55, A, *tok, {}, 0x2000));
  f.remote.commands[1].done(ai::status::ok, {}, "offline");
  f.h.end_event();
  CHECK(f.h.last_to(20)->seq == 0x2000);
  CHECK(f.h.last_to(20)->status == ai::status::fail);
  CHECK(f.h.find("route_refused", "reason", "offline").size() == 1);
}

TEST_CASE("cluster: requests from other nodes reach local devices, and replies go back by number") {
  Fixture f;
  auto ta = f.login(10, A, "a");
  REQUIRE(ta);
  CHECK(f.h.router.remote_relay(A, relay_body(B, {7})) == nullptr);
  auto got = f.h.last_to(10);
  REQUIRE(got);
  CHECK(got->cmd == 0x55);
  CHECK(got->data == relay_body(B, {7}));
  CHECK(std::string(f.h.router.remote_relay(B, relay_body(A, {7}))) == "offline");
  CHECK(std::string(f.h.router.remote_relay(0xDEAD, relay_body(A, {7}))) == "unknown");

  CHECK(f.h.router.remote_command(3, 77, A, 0xF0AA, Bytes{0x0C, 0x00}) == nullptr);
  auto req = f.h.last_to(10);
  REQUIRE(req);
  CHECK(req->cls == 0xF0);
  CHECK(req->cmd == 0xAA);
  f.h.tcp(10, request(0xF0, 0xAA, A, *ta, {0x0C, 0x00, 0x1E}, req->seq, ai::status::ok));
  REQUIRE(f.remote.replies.size() == 1);
  CHECK(f.remote.replies[0].origin == 3);
  CHECK(f.remote.replies[0].corr == 77);
  CHECK(f.remote.replies[0].status == ai::status::ok);
  CHECK(f.remote.replies[0].data == Bytes{0x0C, 0x00, 0x1E});

  // An uplink goes to the other nodes too; one from there reaches the operators here.
  f.h.tcp(10, request(ai::cls::data, 0xEE, A, *ta, {'t'}, 3));
  CHECK(f.remote.uplinks == std::vector<std::uint64_t>{A});
  REQUIRE(f.login(20, 7, "app", ai::cls::platform));
  f.h.router.remote_uplink(B, ai::cls::data, 0xEE, Bytes{'u'});
  auto up = f.h.last_to(20);
  REQUIRE(up);
  CHECK(up->device == B);
  CHECK(up->data == Bytes{'u'});

  // A login of A on another node ends the session here, reason moved.
  f.h.router.moved(A);
  f.h.end_event();
  CHECK(f.h.find("logout", "reason", "moved").size() == 1);
  CHECK_FALSE(f.h.open(10));
  CHECK(f.h.violations.empty());
}
