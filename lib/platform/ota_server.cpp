#include "platform/ota_server.hpp"

#include <algorithm>
#include <random>

#include "m2m/frame.hpp"
#include "m2m/link.hpp"
#include "m2m/term.hpp"

namespace m2m::platform::ota {

Server::Server(ImagePtr image, CampaignOptions campaign, ServerOptions options,
               std::unordered_map<std::uint64_t, ai::Password> passwords, Observer observer)
    : image_(image),
      campaign_(image, campaign),
      opt_(options),
      passwords_(std::move(passwords)),
      obs_(std::move(observer)),
      loop_(*this, net::Loop::Options{}),
      token_state_(std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}()) {}

Server::~Server() = default;

Result<void> Server::open() {
  net::raise_file_limit();
  if (auto r = loop_.open(); !r) return r;
  auto tcp = loop_.listen_tcp(opt_.listen);
  if (!tcp) return unexpected(tcp.error());
  auto local = net::local_address(*tcp);
  if (!local) return unexpected(local.error());
  bound_ = *local;
  return {};
}

int Server::run(net::Stop& stop) {
  stop_ = &stop;
  start_ = Clock::now();
  const int rc = loop_.run(stop);
  loop_.release_closed();
  return rc;
}

const char* Server::accepted(int fd, int, const net::Address&) {
  Conn& c = conns_[fd];
  c = Conn{};
  c.seen = Clock::now();
  return nullptr;
}

void Server::received(int fd, ByteView bytes) {
  auto it = conns_.find(fd);
  if (it == conns_.end() || loop_.closing(fd)) return;
  Conn& c = it->second;
  if (!c.deframer) c.deframer = std::make_unique<ai::Deframer>(opt_.crc);
  c.deframer->feed(bytes);
  c.seen = Clock::now();
  ai::DeframeEvent ev;
  while (!loop_.closing(fd) && c.deframer->next(ev))
    if (ev.ok) frame(fd, c, ev.frame);  // a bad frame is skipped; the device retries
  if (!loop_.closing(fd) && c.deframer->idle()) c.deframer.reset();  // memory only while a frame is split
}

void Server::ended(int fd, const char*) { loop_.close(fd); }

void Server::released(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  if (it->second.logged_in) {
    auto d = by_device_.find(it->second.device);
    if (d != by_device_.end() && d->second == fd) {
      by_device_.erase(d);
      campaign_.offline(it->second.device, Clock::now());
    }
  }
  conns_.erase(it);
}

void Server::send(int fd, const ai::FrameView& f) {
  tx_.clear();
  if (!ai::encode(f, opt_.crc, tx_)) return;  // only above the size limit; callers stay below
  if (const char* why = loop_.send(fd, tx_)) {
    (void)why;
    loop_.close(fd);
  }
}

void Server::reply(int fd, const Conn& c, const ai::FrameView& req, std::uint8_t status, ByteView data) {
  send(fd, ai::FrameView{req.cls, req.cmd, req.seq, 0, status, req.device, ByteView(c.token), data});
}

void Server::frame(int fd, Conn& c, const ai::FrameView& f) {
  const std::uint16_t command = ai::command_key(f.cls, f.cmd);
  if (f.status == ai::status::request && command == ai::cmd::link_login) return login(fd, c, f);
  if (!c.logged_in || f.device != c.device) return;  // nothing acts before a login
  // A frame must carry the token this connection's login got (m2m-protocol(7), Tokens): one
  // with another token is ignored, as the platform and a device ignore it.
  if (f.token.size() != c.token.size() || !std::equal(f.token.begin(), f.token.end(), c.token.begin())) return;
  const Time now = Clock::now();
  if (f.status != ai::status::request) {  // replies to our requests
    if (command == ai::cmd::term_config_read && c.version_asked != Time{} && f.seq == c.version_seq) {
      std::string version;
      if (f.status == ai::status::ok)
        if (auto pv = ai::get_param_value(f.data))
          if (auto* v = std::get_if<ai::VersionInfo>(&pv->value)) version = v->software;
      version_known(fd, c, std::move(version));
    } else if (command == ai::cmd::term_ota_start) {
      campaign_.start_reply(c.device, f.status == ai::status::ok, now);
      report(c.device);
    }
    return;
  }
  switch (command) {
    case ai::cmd::link_heartbeat:
      return reply(fd, c, f, ai::status::ok, {});
    case ai::cmd::term_ota_frame:
      return serve_frame(fd, c, f);
    case ai::cmd::term_event: {
      reply(fd, c, f, ai::status::ok, {});
      auto ev = ai::get_event(f.data);
      if (ev && ev->code == ai::event_code::upgrade) {
        campaign_.upgrade_event(c.device, ev->description, now);
        report(c.device);
      }
      return;
    }
    case ai::cmd::data_uplink:
      return reply(fd, c, f, ai::status::ok, {});
    default:
      return reply(fd, c, f, ai::status::unsupported, {});
  }
}

void Server::login(int fd, Conn& c, const ai::FrameView& f) {
  auto req = ai::get_login_request(f.data);
  bool ok = req.has_value();
  if (ok && !opt_.accept_any) {
    auto it = passwords_.find(f.device);
    ok = it != passwords_.end() && it->second == req->password;
  }
  if (!ok) return send(fd, ai::FrameView{f.cls, f.cmd, f.seq, 0, ai::status::fail, f.device, {}, {}});
  // A second login of the device replaces its first connection.
  if (auto old = by_device_.find(f.device); old != by_device_.end() && old->second != fd) {
    if (auto oc = conns_.find(old->second); oc != conns_.end()) oc->second.logged_in = false;
    loop_.close(old->second);
  }
  for (auto& b : c.token) {
    token_state_ = token_state_ * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<std::uint8_t>(token_state_ >> 56);
  }
  c.device = f.device;
  c.logged_in = true;
  by_device_[f.device] = fd;
  ++logins_;
  Bytes body;
  (void)ai::put_login_reply(body, ai::LoginReply{ByteView(c.token)});
  reply(fd, c, f, ai::status::ok, body);
  if (!campaign_.targeted(f.device)) return;
  // What runs on it now: term.config_read of parameter version (the device's own token).
  Bytes q;
  ai::put_config_read(q, ai::ConfigRead{ai::param::version});
  c.version_seq = seq_++;
  c.version_asked = Clock::now();
  send(fd, ai::FrameView{static_cast<std::uint8_t>(ai::cmd::term_config_read >> 8),
                         static_cast<std::uint8_t>(ai::cmd::term_config_read & 0xFF), c.version_seq, 0,
                         ai::status::request, c.device, ByteView(c.token), q});
}

void Server::version_known(int, Conn& c, std::string version) {
  c.version_asked = Time{};
  if (campaign_.online(c.device, version, Clock::now())) start(c.device);
  report(c.device);
}

void Server::start(std::uint64_t device) {
  auto it = by_device_.find(device);
  if (it == by_device_.end()) return;  // gone meanwhile: the stall timeout decides
  const Conn& c = conns_[it->second];
  Bytes body;
  if (!ai::put_ota_start(body, ai::OtaStart{image_->name, opt_.announce_checksum >= 0 ? static_cast<std::uint8_t>(opt_.announce_checksum) : image_->sum})) return;
  send(it->second, ai::FrameView{static_cast<std::uint8_t>(ai::cmd::term_ota_start >> 8),
                                 static_cast<std::uint8_t>(ai::cmd::term_ota_start & 0xFF), seq_++, 0,
                                 ai::status::request, device, ByteView(c.token), body});
}

// A frame request (m2m-protocol(7), term.ota_frame): served from the image, or status fail for
// another file, a frame past the end, a size above --frame-size or one whose reply would not
// fit the 1,400-byte frame limit.
void Server::serve_frame(int fd, Conn& c, const ai::FrameView& f) {
  auto req = ai::get_ota_frame_request(f.data);
  if (!req || (opt_.frame_size_cap && req->size > opt_.frame_size_cap) ||
      req->size > max_frame_size(req->file.size(), c.token.size()))
    return reply(fd, c, f, ai::status::fail, {});
  auto slice = serve(*image_, req->file, req->frame, req->size);
  if (!slice) return reply(fd, c, f, ai::status::fail, {});
  Bytes body;
  body.reserve(slice->count + req->file.size() + 8);
  if (!ai::put_ota_frame_reply(body, ai::OtaFrameReply{req->file, req->frame, slice->count,
                                                       Bytes(slice->bytes.begin(), slice->bytes.end())}))
    return reply(fd, c, f, ai::status::fail, {});
  reply(fd, c, f, ai::status::ok, body);
  bytes_served_ += slice->count;
  campaign_.frame_served(c.device, req->frame, slice->count, Clock::now());
  report(c.device);
}

// Phase changes and finished transfers to the observer: of `device` alone (after one of its
// frames: no walk over every device per frame), or of every online device (0, once a tick).
void Server::report(std::uint64_t device) {
  auto changed = [&](std::uint64_t id) {
    const Transfer* t = campaign_.find(id);
    if (!t || t->phase == Phase::ok || t->phase == Phase::failed || t->phase == Phase::waiting) return;
    auto [it, fresh] = shown_.try_emplace(id, Phase::waiting);
    if (it->second != t->phase) {
      it->second = t->phase;
      obs_.changed(*t);
    }
  };
  if (obs_.changed) {
    if (device)
      changed(device);
    else
      for (auto& [id, fd] : by_device_) changed(id);
  }
  for (const Transfer& t : campaign_.take_finished()) {
    shown_.erase(t.device);
    if (obs_.finished) obs_.finished(t);
  }
}

void Server::tick() {
  const Time now = Clock::now();
  for (auto& [fd, c] : conns_) {
    if (c.logged_in && c.version_asked != Time{} && now - c.version_asked >= opt_.version_timeout)
      version_known(fd, c, "");  // no answer: the version stays unknown, the update goes ahead
    if (now - c.seen >= opt_.heartbeat_timeout) loop_.close(fd);
  }
  campaign_.expire(now);
  for (std::uint64_t d : campaign_.startable(now)) start(d);
  report();
  if (obs_.tick) obs_.tick();
  if (opt_.until_done && campaign_.done()) {
    campaign_done_ = true;
    stop_->request();
  } else if (opt_.run_timeout.count() > 0 && now - start_ >= opt_.run_timeout) {
    timed_out_ = true;
    stop_->request();
  }
}

}  // namespace m2m::platform::ota
