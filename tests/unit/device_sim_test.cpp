// The simulated device's behaviour (lib/device/simdevice.hpp), driven with frames and times.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "device/simdevice.hpp"
#include "m2m/data.hpp"
#include "m2m/link.hpp"
#include "m2m/term.hpp"

using namespace m2m;
using namespace m2m::device;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kDev = 0x0000000000FED24Aull;
constexpr std::uint64_t kPeer = 0x00000000000B0B01ull;
const ai::Password kPw{'1', '2', '3', 0, 0, 0, 0, 0};
const Bytes kToken{0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8};
const Bytes kToken2{0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8};
const Bytes kPeerToken{0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8};

std::int64_t fixed_wall() { return 1'700'000'000; }  // 2023-11-14T22:13:20Z, a Tuesday

struct Out : SimOutput {
  std::vector<ai::ServerAddr> connects;
  int disconnects = 0;
  std::vector<ai::Frame> sent;
  std::vector<std::pair<ai::Frame, PeerAddr>> peer_sent;
  std::vector<ai::Frame> received_frames;
  std::vector<std::pair<SimEventKind, std::string>> events;
  void connect(SimDevice&, const ai::ServerAddr& to) override { connects.push_back(to); }
  void disconnect(SimDevice&) override { ++disconnects; }
  void send(SimDevice&, const ai::FrameView& f) override { sent.push_back(ai::Frame::from(f)); }
  void send_peer(SimDevice&, const ai::FrameView& f, const PeerAddr& to) override {
    peer_sent.emplace_back(ai::Frame::from(f), to);
  }
  void received(SimDevice&, const ai::FrameView& f, const PeerAddr*) override { received_frames.push_back(ai::Frame::from(f)); }
  void event(SimDevice&, const SimEvent& e) override { events.emplace_back(e.kind, std::string(e.text)); }
  bool saw(SimEventKind k, std::string_view text_part = {}) const {
    for (auto& [kind, text] : events)
      if (kind == k && text.find(text_part) != std::string::npos) return true;
    return false;
  }
  std::optional<ai::Frame> last(std::uint8_t cls, std::uint8_t cmd) const {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it)
      if (it->cls == cls && it->cmd == cmd) return *it;
    return std::nullopt;
  }
};

Time t0() { return Time{} + 1000h; }

SimConfig config() {
  SimConfig c;
  c.session.reply_timeout = 2s;
  c.session.max_attempts = 0;
  c.session.backoff_base = 1s;
  c.session.backoff_max = 4s;
  c.defaults.server = {"192.0.2.1", 8266, true};
  c.reboot_time = 3s;
  c.recheck_interval = 60s;
  c.ota.frame_size = 4;
  c.ota.retries = 2;
  c.ota.frame_timeout = 1s;
  c.wall = &fixed_wall;
  return c;
}

Bytes token_field(const Bytes& t) {
  Bytes d(1 + t.size());  // sized up front: GCC 12 warns falsely (-Warray-bounds) on insert after a 1-byte init
  d[0] = static_cast<std::uint8_t>(t.size());
  std::copy(t.begin(), t.end(), d.begin() + 1);
  return d;
}

// A platform request to the device.
ai::Frame request(std::uint8_t cls, std::uint8_t cmd, Bytes data, std::uint16_t seq = 500, const Bytes& tok = kToken) {
  return ai::Frame{cls, cmd, seq, 0, ai::status::request, kDev, tok, std::move(data)};
}

// Starts the device and logs it in with `tok` at `now`.
void log_in(SimDevice& d, Out& o, Time now, const Bytes& tok = kToken) {
  d.poll(now);
  REQUIRE(!o.connects.empty());
  d.connected(now);
  d.poll(now);
  auto login = o.last(ai::cls::link, 0x00);
  REQUIRE(login);
  d.on_frame(ai::Frame{ai::cls::link, 0x00, login->seq, 0, ai::status::ok, kDev, {}, token_field(tok)}.view(), nullptr, now);
  REQUIRE(d.session().logged_in());
}

// The device's reply to `req` (last frame sent with its class, command and seq).
ai::Frame reply_of(const Out& o, const ai::Frame& req) {
  for (auto it = o.sent.rbegin(); it != o.sent.rend(); ++it)
    if (it->cls == req.cls && it->cmd == req.cmd && it->seq == req.seq && it->status != ai::status::request) return *it;
  FAIL("no reply");
  return {};
}

Bytes param_write_data(std::uint16_t id, const ai::ConfigValue& v) {
  Bytes d;
  put_le16(d, id);
  REQUIRE(ai::put_config_value(d, id, v));
  return d;
}

}  // namespace

TEST_CASE("simdevice: config write then read back for every writable parameter") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  const Time t = t0();
  d.start(t);
  log_in(d, o, t);
  CHECK(!d.params().is_own());  // untouched devices share the defaults

  const std::vector<std::pair<std::uint16_t, ai::ConfigValue>> values = {
      {ai::param::server, ai::ServerAddr{"platform.example", 9000, false}},
      {ai::param::fallback_server, ai::ServerAddr{"198.51.100.9", 8266, true}},
      {ai::param::dns, std::uint32_t{0x08080404}},
      {ai::param::send_wait, std::uint8_t{7}},
      {ai::param::heartbeat_interval, std::uint8_t{45}},
      {ai::param::rtc, ai::RtcTime{2025, 3, 14, 15, 9, 26, 5}},
      {ai::param::write_timeout, std::uint8_t{3}},
      {ai::param::read_timeout, std::uint8_t{4}},
  };
  std::uint16_t seq = 10;
  for (const auto& [id, v] : values) {
    const auto param_id = id;  // doctest captures in a lambda; clang 14 cannot capture a binding
    CAPTURE(param_id);
    const Bytes data = param_write_data(id, v);
    auto w = request(ai::cls::term, 0xAB, data, seq++);
    d.on_frame(w.view(), nullptr, t);
    CHECK(reply_of(o, w).status == ai::status::ok);
    CHECK(reply_of(o, w).token == kToken);
    Bytes rd;
    put_le16(rd, id);
    auto r = request(ai::cls::term, 0xAA, rd, seq++);
    d.on_frame(r.view(), nullptr, t);
    auto rep = reply_of(o, r);
    CHECK(rep.status == ai::status::ok);
    CHECK(rep.data == data);  // the same bytes come back (the wall clock is fixed)
  }
  CHECK(d.params().is_own());
  CHECK(d.session().heartbeat_interval() == 45s);
}

TEST_CASE("simdevice: version is read only, unknown parameters and commands are unsupported") {
  SimConfig cfg = config();
  cfg.defaults.software = "2.4.1";
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  d.start(t0());
  log_in(d, o, t0());

  auto rv = request(ai::cls::term, 0xAA, Bytes{0x01, 0x00}, 1);
  d.on_frame(rv.view(), nullptr, t0());
  auto v = ai::get_param_value(reply_of(o, rv).data);
  REQUIRE(v);
  CHECK(std::get<ai::VersionInfo>(v->value).software == "2.4.1");

  auto wv = request(ai::cls::term, 0xAB, param_write_data(ai::param::version, ai::VersionInfo{"h", "9.9", "b"}), 2);
  d.on_frame(wv.view(), nullptr, t0());
  CHECK(reply_of(o, wv).status == ai::status::fail);

  auto hb0 = request(ai::cls::term, 0xAB, Bytes{0x0C, 0x00, 0x00}, 3);
  d.on_frame(hb0.view(), nullptr, t0());
  CHECK(reply_of(o, hb0).status == ai::status::fail);  // a device keeps its heartbeat

  auto ru = request(ai::cls::term, 0xAA, Bytes{0x99, 0x00}, 4);
  d.on_frame(ru.view(), nullptr, t0());
  CHECK(reply_of(o, ru).status == ai::status::unsupported);

  auto group = request(ai::cls::data, 0x00, {}, 5);  // a platform-only command sent to a device
  d.on_frame(group.view(), nullptr, t0());
  CHECK(reply_of(o, group).status == ai::status::unsupported);
  CHECK(o.saw(SimEventKind::unsupported, "data.group_list"));
  CHECK(!d.params().is_own());
}

TEST_CASE("simdevice: a frame with another token is ignored and counted") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  d.start(t0());
  log_in(d, o, t0());
  const std::size_t before = o.sent.size();
  auto reboot = request(ai::cls::term, 0x55, {}, 7, kToken2);
  d.on_frame(reboot.view(), nullptr, t0());
  CHECK(o.sent.size() == before);  // no reply
  CHECK(!d.rebooting());
  CHECK(d.foreign_tokens() == 1);
  CHECK(o.saw(SimEventKind::token_mismatch, "term.reboot"));
}

TEST_CASE("simdevice: a heartbeat interval written applies at once") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  const Time t = t0();
  d.start(t);
  log_in(d, o, t);
  CHECK(d.session().next_heartbeat() == t + 30s);
  auto w = request(ai::cls::term, 0xAB, Bytes{0x0C, 0x00, 5}, 9);
  d.on_frame(w.view(), nullptr, t + 1s);
  CHECK(d.session().next_heartbeat() == t + 5s);
  o.sent.clear();
  d.poll(t + 5s);
  REQUIRE(o.last(ai::cls::link, 0x01));
}

TEST_CASE("simdevice: reboot replies, drops the link and logs in again after the reboot time") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  const Time t = t0();
  d.start(t);
  log_in(d, o, t);
  auto r = request(ai::cls::term, 0x55, {}, 21);
  d.on_frame(r.view(), nullptr, t);
  CHECK(reply_of(o, r).status == ai::status::ok);
  CHECK(o.disconnects == 1);
  CHECK(d.rebooting());
  CHECK(o.saw(SimEventKind::reboot, "platform"));
  CHECK(d.poll(t + 1s) == t + 3s);  // silent while off
  CHECK(o.connects.size() == 1);
  d.poll(t + 3s);
  CHECK(o.connects.size() == 2);
  d.connected(t + 3s);
  d.poll(t + 3s);
  auto login = o.last(ai::cls::link, 0x00);
  d.on_frame(ai::Frame{ai::cls::link, 0x00, login->seq, 0, ai::status::ok, kDev, {}, token_field(kToken2)}.view(), nullptr, t + 3s);
  CHECK(d.session().logged_in());
  CHECK(d.logins() == 2);
  CHECK(Bytes(d.session().token().begin(), d.session().token().end()) == kToken2);
}

TEST_CASE("simdevice: the fallback server is used while the main one refuses, and the main one is re-checked") {
  SimConfig cfg = config();
  cfg.defaults.fallback = {"198.51.100.9", 8000, true};
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  Time t = t0();
  d.start(t);
  d.poll(t);
  REQUIRE(o.connects.size() == 1);
  CHECK(o.connects[0].host == "192.0.2.1");
  d.connected(t);
  d.poll(t);
  auto login = o.last(ai::cls::link, 0x00);
  d.on_frame(ai::Frame{ai::cls::link, 0x00, login->seq, 0, ai::status::fail, kDev, {}, {}}.view(), nullptr, t);
  CHECK(o.saw(SimEventKind::login_failed));
  CHECK(d.on_fallback());
  t += 5s;  // past the backoff
  d.poll(t);
  REQUIRE(o.connects.size() == 2);
  CHECK(o.connects[1].host == "198.51.100.9");
  CHECK(o.connects[1].port == 8000);
  d.connected(t);
  d.poll(t);
  login = o.last(ai::cls::link, 0x00);
  d.on_frame(ai::Frame{ai::cls::link, 0x00, login->seq, 0, ai::status::ok, kDev, {}, token_field(kToken)}.view(), nullptr, t);
  CHECK(d.session().logged_in());
  CHECK(d.poll(t) <= t + 30s);
  // The re-check after recheck_interval: drop the fallback, go to the main one.
  d.poll(t + 60s);
  CHECK(!d.on_fallback());
  CHECK(o.saw(SimEventKind::logout, "recheck"));
  REQUIRE(o.connects.size() == 3);
  CHECK(o.connects[2].host == "192.0.2.1");
  // The main one is unreachable now: back to the fallback.
  d.connection_lost(t + 60s, ErrorKind::unavailable);
  CHECK(d.on_fallback());
  CHECK(d.target().host == "198.51.100.9");
}

TEST_CASE("simdevice: OTA downloads in order, checks the sum, reports, switches version and reboots") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  const Time t = t0();
  d.start(t);
  log_in(d, o, t);
  const Bytes image{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // frames of 4: 4 + 4 + 2
  std::uint8_t sum = 0;
  for (auto b : image) sum = static_cast<std::uint8_t>(sum + b);
  Bytes start;
  REQUIRE(ai::put_ota_start(start, {"app-v2.bin", sum}));
  auto s = request(ai::cls::term, 0x56, start, 30);
  d.on_frame(s.view(), nullptr, t);
  CHECK(reply_of(o, s).status == ai::status::ok);
  // A second start while running is refused.
  auto s2 = request(ai::cls::term, 0x56, start, 31);
  d.on_frame(s2.view(), nullptr, t);
  CHECK(reply_of(o, s2).status == ai::status::fail);

  for (std::uint16_t n = 0; n < 3; ++n) {
    CAPTURE(n);
    auto req = o.last(ai::cls::term, 0x57);
    REQUIRE(req);
    auto r = ai::get_ota_frame_request(req->data);
    REQUIRE(r);
    CHECK(r->file == "app-v2.bin");
    CHECK(r->frame == n);
    CHECK(r->size == 4);
    const std::size_t from = std::size_t{n} * 4, count = std::min<std::size_t>(4, image.size() - from);
    Bytes rd;
    REQUIRE(ai::put_ota_frame_reply(rd, {"app-v2.bin", n, static_cast<std::uint16_t>(count),
                                         Bytes(image.begin() + static_cast<long>(from), image.begin() + static_cast<long>(from + count))}));
    d.on_frame(ai::Frame{ai::cls::term, 0x57, req->seq, 0, ai::status::ok, kDev, kToken, rd}.view(), nullptr, t);
  }
  auto ev = o.last(ai::cls::term, 0xF0);
  REQUIRE(ev);
  auto e = ai::get_event(ev->data);
  REQUIRE(e);
  CHECK(e->code == 0x10);
  CHECK(e->description == "upgrade ok: app-v2.bin 10 bytes");
  CHECK(d.params().get().software == "app-v2");
  CHECK(d.rebooting());
  CHECK(o.saw(SimEventKind::reboot, "ota"));
}

TEST_CASE("simdevice: OTA checksum mismatch and frame timeout are reported, no reboot") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  Time t = t0();
  d.start(t);
  log_in(d, o, t);
  Bytes start;
  REQUIRE(ai::put_ota_start(start, {"fw.bin", 0x3C}));
  auto s = request(ai::cls::term, 0x56, start, 40);
  d.on_frame(s.view(), nullptr, t);
  auto req = o.last(ai::cls::term, 0x57);
  REQUIRE(req);
  Bytes rd;
  REQUIRE(ai::put_ota_frame_reply(rd, {"fw.bin", 0, 2, Bytes{0x50, 0x41}}));  // 0x91
  d.on_frame(ai::Frame{ai::cls::term, 0x57, req->seq, 0, ai::status::ok, kDev, kToken, rd}.view(), nullptr, t);
  auto e = ai::get_event(o.last(ai::cls::term, 0xF0)->data);
  REQUIRE(e);
  CHECK(e->description == "checksum mismatch: want 0x3C got 0x91");
  CHECK(!d.rebooting());
  CHECK(d.params().get().software == "1.0.0");

  // Timeout: frame 0 answered, frame 1 never; 1 + 2 retries then the outcome.
  o.sent.clear();
  s.seq = 41;
  d.on_frame(s.view(), nullptr, t);
  req = o.last(ai::cls::term, 0x57);
  rd.clear();
  REQUIRE(ai::put_ota_frame_reply(rd, {"fw.bin", 0, 4, Bytes{1, 2, 3, 4}}));
  d.on_frame(ai::Frame{ai::cls::term, 0x57, req->seq, 0, ai::status::ok, kDev, kToken, rd}.view(), nullptr, t);
  int frame1 = 0;
  for (int i = 0; i < 6; ++i) {
    t += 1s;
    d.poll(t);
  }
  for (auto& f : o.sent)
    if (f.cmd == 0x57 && ai::get_ota_frame_request(f.data)->frame == 1) ++frame1;
  CHECK(frame1 == 3);
  e = ai::get_event(o.last(ai::cls::term, 0xF0)->data);
  CHECK(e->description == "timeout at frame 1");
}

TEST_CASE("simdevice: OTA frame size fits the 1400-byte frame with header, token and name") {
  CHECK(max_ota_frame_size("a.bin") == 1400 - 18 - 9 - 6 - 4 - 3);
  const std::string name(1400, 'x');
  CHECK(max_ota_frame_size(name) == 0);
}

TEST_CASE("simdevice: P2P asks, punches, acks to the real source, sends directly, keeps alive") {
  SimConfig cfg = config();
  cfg.p2p.probe_interval = 500ms;
  cfg.p2p.punch_timeout = 5s;
  cfg.p2p.keepalive = 20s;
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  Time t = t0();
  d.start(t);
  d.p2p_with(kPeer, t);
  log_in(d, o, t);
  d.poll(t);
  auto ask = o.last(ai::cls::link, 0x55);
  REQUIRE(ask);
  CHECK(ai::get_p2p_request(ask->data)->target == kPeer);
  Bytes rec;
  ai::put_peer_record(rec, {kPeer, kPeerToken, 0xCB007107u /*203.0.113.7*/, 4000});
  d.on_frame(ai::Frame{ai::cls::link, 0x55, ask->seq, 0, ai::status::ok, kDev, kToken, rec}.view(), nullptr, t);
  REQUIRE(!o.peer_sent.empty());
  const auto [probe, to] = o.peer_sent.back();  // a copy: later sends grow the vector
  CHECK(probe.cls == ai::cls::link);
  CHECK(probe.cmd == 0xEE);
  CHECK(probe.status == ai::status::request);
  CHECK(probe.device == kPeer);
  CHECK(probe.token == kPeerToken);
  CHECK(ai::get_p2p_confirm(probe.data)->sender == kDev);
  CHECK(to == PeerAddr{0xCB007107u, 4000});

  // The peer's probe arrives from another port (its NAT): acknowledged to that address.
  const PeerAddr real{0xCB007107u, 4123};
  Bytes conf;
  ai::put_p2p_confirm(conf, {kPeer});
  d.on_frame(ai::Frame{ai::cls::link, 0xEE, 77, 0, ai::status::request, kDev, kToken, conf}.view(), &real, t);
  CHECK(o.peer_sent.back().first.status == ai::status::ok);
  CHECK(o.peer_sent.back().first.seq == 77);
  CHECK(o.peer_sent.back().second == real);
  // The peer's acknowledgement: direct.
  d.on_frame(ai::Frame{ai::cls::link, 0xEE, probe.seq, 0, ai::status::ok, kDev, kToken, conf}.view(), &real, t);
  REQUIRE(d.p2p());
  CHECK(d.p2p()->state() == P2pLink::State::direct);
  CHECK(o.saw(SimEventKind::p2p, "direct 203.0.113.7:4123"));

  const std::size_t relays_before = o.sent.size();
  CHECK(d.send_to_peer(kPeer, Bytes{'h', 'i'}, t));
  CHECK(o.sent.size() == relays_before);  // nothing through the platform
  CHECK(o.peer_sent.back().first.cmd == 0x66);
  CHECK(o.peer_sent.back().second == real);

  // Keepalive within a minute; unanswered keepalives fall back to relay.
  const std::size_t probes = o.peer_sent.size();
  d.poll(t + 20s);
  CHECK(o.peer_sent.size() == probes + 1);
  d.poll(t + 40s);
  d.poll(t + 60s);
  CHECK(d.p2p()->state() == P2pLink::State::direct);  // two missed so far
  d.poll(t + 80s);
  CHECK(d.p2p()->state() == P2pLink::State::relay);
  CHECK(o.saw(SimEventKind::p2p, "stopped answering"));
  CHECK(d.send_to_peer(kPeer, Bytes{'x'}, t + 80s));
  CHECK(o.last(ai::cls::data, 0x55));
}

TEST_CASE("simdevice: a punch with no acknowledgement falls back to relay and says so") {
  SimConfig cfg = config();
  cfg.p2p.punch_timeout = 2s;
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  Time t = t0();
  d.start(t);
  log_in(d, o, t);
  // Introduced by the platform (the peer asked for us).
  Bytes rec;
  ai::put_peer_record(rec, {kPeer, kPeerToken, 0xC0000201u, 5000});
  auto intro = request(ai::cls::link, 0x55, rec, 90);
  d.on_frame(intro.view(), nullptr, t);
  CHECK(reply_of(o, intro).status == ai::status::ok);
  for (int i = 0; i < 6; ++i) d.poll(t + i * 500ms);
  CHECK(o.peer_sent.size() >= 4);
  d.poll(t + 2s);
  CHECK(d.p2p()->state() == P2pLink::State::relay);
  CHECK(o.saw(SimEventKind::p2p, "relay: no acknowledgement from 192.0.2.1:5000"));
}

TEST_CASE("simdevice: downlinks and relayed data are answered and handed to the user") {
  SimConfig cfg = config();
  Out o;
  SimDevice d(cfg, kDev, kPw, o);
  d.start(t0());
  log_in(d, o, t0());
  auto dl = request(ai::cls::data, 0xFF, Bytes{'o', 'n'}, 61);
  d.on_frame(dl.view(), nullptr, t0());
  CHECK(reply_of(o, dl).status == ai::status::ok);
  REQUIRE(o.received_frames.size() == 1);
  CHECK(o.received_frames[0].data == Bytes{'o', 'n'});
  CHECK(d.uplink(Bytes{'u'}, t0()));
  CHECK(o.last(ai::cls::data, 0xEE)->data == Bytes{'u'});
  CHECK(o.last(ai::cls::data, 0xEE)->token == kToken);
}

TEST_CASE("simdevice: rtc values and epoch seconds convert both ways") {
  auto r = rtc_from_epoch(1'700'000'000);
  CHECK(r.year == 2023);
  CHECK(r.month == 11);
  CHECK(r.day == 14);
  CHECK(r.hour == 22);
  CHECK(r.minute == 13);
  CHECK(r.second == 20);
  CHECK(r.weekday == 2);  // Tuesday
  CHECK(epoch_from_rtc(r) == 1'700'000'000);
  CHECK(rtc_from_epoch(951'782'400).day == 29);  // 2000-02-29
}
