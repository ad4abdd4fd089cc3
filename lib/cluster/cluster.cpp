#include "cluster/cluster.hpp"

#include <nats/nats.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "m2m/frame.hpp"
#include "platform/events.hpp"
#include "platform/registry.hpp"
#include "platform/router.hpp"

namespace m2m::cluster {

namespace {
constexpr std::uint16_t kAllNodes = 0xFFFF;
constexpr std::size_t kMaxQueued = 1 << 20;         // messages waiting for the loop; beyond: dropped, counted
constexpr std::size_t kSnapshotChunk = 20000;        // presences per snapshot message (~460 KB < NATS's 1 MB)
constexpr std::uint64_t kTagEvent = 1, kTagSocket = 2;  // epoll_event.data of the node's two descriptors
constexpr int kLibraryCloseWaitMs = 30000;         // ~Cluster: nats.c's threads gone (ms in practice)

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<Cluster*>(closure)->post(Cluster::Note::message, natsMsg_GetData(msg),
                                       static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
}
void on_disconnected(natsConnection*, void* closure) {
  static_cast<Cluster*>(closure)->post(Cluster::Note::disconnected, nullptr, 0);
}
void on_reconnected(natsConnection*, void* closure) {
  static_cast<Cluster*>(closure)->post(Cluster::Note::reconnected, nullptr, 0);
}
void on_closed(natsConnection*, void* closure) { static_cast<Cluster*>(closure)->post(Cluster::Note::closed, nullptr, 0); }

// nats.c's event-loop adapter: `loop` is the Cluster (natsOptions_SetEventLoop).
natsStatus ev_attach(void** user, void* loop, natsConnection*, natsSock fd) {
  *user = loop;
  return static_cast<natsStatus>(static_cast<Cluster*>(loop)->io_attach(fd));
}
natsStatus ev_read(void* user, bool add) { return static_cast<natsStatus>(static_cast<Cluster*>(user)->io_interest(false, add)); }
natsStatus ev_write(void* user, bool add) { return static_cast<natsStatus>(static_cast<Cluster*>(user)->io_interest(true, add)); }
natsStatus ev_detach(void* user) {
  static_cast<Cluster*>(user)->io_detach();
  return NATS_OK;
}

Error nats_error(const std::string& what, natsStatus s) {
  return Error{ErrorKind::unavailable, 0, what + ": " + natsStatus_GetText(s)};
}
}  // namespace

Cluster::Cluster(const ClusterOptions& options) : opt_(options), start_(std::chrono::steady_clock::now()) {
  if (opt_.timeout.count() <= 0) opt_.timeout = 3 * opt_.heartbeat;
  own_subject_ = node_subject(opt_.node);
  if (getrandom(&instance_, sizeof instance_, 0) != static_cast<ssize_t>(sizeof instance_) || instance_ == 0)
    instance_ = static_cast<std::uint64_t>(::getpid()) << 32 | static_cast<std::uint64_t>(start_.time_since_epoch().count());
}

Result<std::unique_ptr<Cluster>> Cluster::connect(const ClusterOptions& options) {
  if (!valid_node_name(options.node))
    return unexpected(Error{ErrorKind::bad_value, 0, "--node: '" + options.node +
                                                  "' is not a node name (1 to 64 letters, digits, '-' or '_')"});
  std::unique_ptr<Cluster> c(new Cluster(options));
  c->event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (c->event_fd_ < 0) return unexpected(Error{ErrorKind::io, 0, std::string("eventfd: ") + std::strerror(errno)});
  c->ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagEvent;
  if (c->ep_ < 0 || ::epoll_ctl(c->ep_, EPOLL_CTL_ADD, c->event_fd_, &ev) != 0)
    return unexpected(Error{ErrorKind::io, 0, std::string("epoll: ") + std::strerror(errno)});
  c->loop_thread_ = std::this_thread::get_id();
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetURL(o, options.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(o, ("m2m-server " + options.node).c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, c->opt_.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetNoEcho(o, true);  // a node never hears its own broadcasts
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);  // forever: the engine may come back any time
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 250);
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, 64 * 1024);  // nothing is published while it is away
  if (s == NATS_OK) s = natsOptions_SetPingInterval(o, 1000);  // a dead engine is noticed within ~2 s
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(o, 2);
  // No flusher thread: what the loop publishes is written when its batch of events ends (flush),
  // not after the flusher's millisecond nap, which every cross-node hop would pay.
  if (s == NATS_OK) s = natsOptions_SetSendAsap(o, true);
  // The socket on the server's loop: a message is handled where it is read (the reader and
  // delivery threads would be two more wake-ups on every cross-node hop).
  if (s == NATS_OK) s = natsOptions_SetEventLoop(o, c.get(), ev_attach, ev_read, ev_write, ev_detach);
  if (s == NATS_OK) s = natsOptions_SetIOBufSize(o, 64 * 1024);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, on_disconnected, c.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, on_reconnected, c.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(o, on_closed, c.get());
  if (s != NATS_OK) {
    natsOptions_Destroy(o);
    return unexpected(nats_error("--cluster " + options.url, s));
  }
  s = natsConnection_Connect(&c->nc_, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK)
    return unexpected(Error{ErrorKind::unavailable, 0, "--cluster: cannot reach NATS at " + options.url + " (" +
                                                        natsStatus_GetText(s) +
                                                        "): start nats-server there, or check the address"});
  for (const std::string& subject : {std::string(kAllSubject), c->own_subject_}) {
    natsSubscription* sub = nullptr;
    s = natsConnection_SubscribeSync(&sub, c->nc_, subject.c_str());
    if (s != NATS_OK) return unexpected(nats_error("--cluster: subscribe to " + subject, s));
    natsSubscription_SetPendingLimits(sub, -1, -1);  // drained whenever the socket was read
    c->subs_.push_back(sub);
  }
  c->connected_ = true;
  return c;  // the subscriptions go out with bind()'s first publications
}

Cluster::~Cluster() {
  if (nc_) {
    flush_due();  // the last logouts (shutdown), published after the loop's last batch
    if (connected_) {
      // They reach the others: a flush waits for the engine's PONG, which only this thread
      // reads now that the loop has stopped.
      std::atomic<bool> flushed{false};
      std::thread flusher([&] {
        natsConnection_FlushTimeout(nc_, 500);
        flushed = true;
      });
      while (!flushed) {
        pump(5);
        flush_due();
      }
      flusher.join();
    }
    for (natsSubscription* sub : subs_) natsSubscription_Destroy(sub);
    for (auto& [subject, sub] : interest_) natsSubscription_Destroy(sub);
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
    // nats.c's threads may still be about to call post() (the closed callback): wait until
    // the library's threads are gone before this object is (one Cluster per process). Every
    // NATS object is destroyed by now, so this ends in milliseconds; the bound only keeps a
    // stopping node from hanging on a library defect, and says so.
    if (natsStatus s = nats_CloseAndWait(kLibraryCloseWaitMs); s != NATS_OK)
      std::fprintf(stderr, "m2m-server: warning: the NATS library did not stop within %d s (%s)\n",
                   kLibraryCloseWaitMs / 1000, natsStatus_GetText(s));
  }
  if (event_fd_ >= 0) ::close(event_fd_);
  if (ep_ >= 0) ::close(ep_);
}

std::uint64_t Cluster::now_ms() const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count());
}

// ---- nats.c's threads -----------------------------------------------------------------------

void Cluster::post(Note note, const void* data, std::size_t size) {
  if (note == Note::disconnected || note == Note::closed) connected_ = false;
  if (note == Note::reconnected) connected_ = true;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (note == Note::message && queue_.size() >= kMaxQueued) return;  // the loop is far behind: drop
    wake = queue_.empty();
    const auto* p = static_cast<const std::uint8_t*>(data);
    queue_.push_back(Item{note, p ? Bytes(p, p + size) : Bytes{}});
  }
  if (wake) {
    const std::uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }
}

// ---- the loop's thread ----------------------------------------------------------------------

void Cluster::bind(platform::Router& router, platform::Registry& registry, platform::EventLog& log) {
  router_ = &router;
  reg_ = &registry;
  log_ = &log;
  log_->write(platform::EventLog::Line("cluster")
                  .add("state", "connected")
                  .add("node", opt_.node)
                  .add("url", opt_.url)
                  .add("heartbeat_timeout_ms", static_cast<std::uint64_t>(opt_.timeout.count())));
  heartbeat();
  send_snapshot(kAllSubject, kSnapshotReplace | kSnapshotAnswer);  // and the others answer with theirs
  flush_due();  // the loop is not running yet
}

// ---- the engine's socket (nats.c's event-loop mode) -----------------------------------------

int Cluster::io_attach(int fd) {
  std::lock_guard<std::mutex> lock(io_mu_);
  sock_ = fd;  // a new socket at each reconnection: read interest only, as nats.c expects
  registered_ = false;
  want_read_ = true;
  want_write_ = false;
  update_epoll();
  return NATS_OK;
}

int Cluster::io_interest(bool write, bool add) {
  const bool on_loop = std::this_thread::get_id() == loop_thread_;
  if (write && on_loop) {
    // A publish of ours: flush_due() writes it when the batch of events ends. Removed: the kernel
    // took everything (natsConnection_ProcessWriteEvent).
    write_due_ = add;
    if (add) return NATS_OK;
  }
  std::lock_guard<std::mutex> lock(io_mu_);
  bool& want = write ? want_write_ : want_read_;
  if (want == add) return NATS_OK;
  want = add;
  update_epoll();
  return NATS_OK;
}

void Cluster::io_detach() {
  std::lock_guard<std::mutex> lock(io_mu_);
  want_read_ = want_write_ = false;
  update_epoll();
  sock_ = -1;
}

void Cluster::update_epoll() {
  if (sock_ < 0) return;
  epoll_event ev{};
  ev.events = (want_read_ ? EPOLLIN : 0u) | (want_write_ ? EPOLLOUT : 0u);
  ev.data.u64 = kTagSocket;
  if (ev.events == 0) {
    // nats.c may have closed the socket already (epoll forgot it then): errors do not matter.
    // Both removed: the socket is being dropped (a reconnection attaches the next one), so
    // its number, soon reused, is forgotten too.
    if (registered_) (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, sock_, &ev);
    registered_ = false;
    sock_ = -1;
    return;
  }
  if (registered_ && ::epoll_ctl(ep_, EPOLL_CTL_MOD, sock_, &ev) == 0) return;
  registered_ = ::epoll_ctl(ep_, EPOLL_CTL_ADD, sock_, &ev) == 0 ||
                (errno == EEXIST && ::epoll_ctl(ep_, EPOLL_CTL_MOD, sock_, &ev) == 0);
}

void Cluster::flush_due() {
  if (!write_due_) return;
  natsConnection_ProcessWriteEvent(nc_);  // clears write_due_ when the kernel took it all
  if (!write_due_) return;
  write_due_ = false;
  std::lock_guard<std::mutex> lock(io_mu_);  // the rest when the socket can take it
  want_write_ = true;
  update_epoll();
}

bool Cluster::pump(int wait_ms) {
  epoll_event evs[2];
  const int n = ::epoll_wait(ep_, evs, 2, wait_ms);
  bool queued = false;
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.u64 != kTagSocket) {
      queued = true;
      continue;
    }
    if (evs[i].events & EPOLLOUT) natsConnection_ProcessWriteEvent(nc_);
    if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) natsConnection_ProcessReadEvent(nc_);
  }
  return queued;
}

void Cluster::drain_subscriptions() {
  // What the last read brought, per subscription, in arrival order.
  std::vector<Message> q[2];
  for (std::size_t s = 0; s < subs_.size() && s < 2; ++s) {
    int count = 0;
    if (natsSubscription_GetPending(subs_[s], &count, nullptr) != NATS_OK) continue;
    for (; count > 0; --count) {
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, subs_[s], 0) != NATS_OK) break;
      ++counters_.received;
      auto m = decode(ByteView(reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg)),
                               static_cast<std::size_t>(natsMsg_GetDataLength(msg))));
      natsMsg_Destroy(msg);
      if (!m || m->node == opt_.node) {
        ++counters_.bad;
        continue;
      }
      q[s].push_back(std::move(*m));
    }
  }
  for (const Message* m : in_sender_order(q[0], q[1])) handle(*m);
}

// ---- what arrived ---------------------------------------------------------------------------

void Cluster::ready() {
  // One read of the socket (nats.c reads once per event; the loop comes back while more is
  // there), what it brought, then what nats.c's threads queued.
  const bool queued = pump(0);
  drain_subscriptions();
  if (!queued) return;
  std::uint64_t n;
  (void)!::read(event_fd_, &n, sizeof n);
  std::vector<Item> items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    items.swap(queue_);
  }
  for (const Item& it : items) {
    if (it.note != Note::message) {
      connection(it.note);
      continue;
    }
    ++counters_.received;
    auto m = decode(it.data);
    if (!m || m->node == opt_.node) {
      ++counters_.bad;
      continue;
    }
    handle(*m);
  }
}

void Cluster::connection(Note note) {
  const bool up = connected_.load();
  if (up == engine_up_ && note != Note::reconnected) return;
  if (note == Note::reconnected || (up && !engine_up_)) {
    engine_up_ = true;
    log_->write(platform::EventLog::Line("cluster").add("state", "reconnected").add("node", opt_.node).add("url", opt_.url));
    // What we knew of the others may be stale (their logouts while we were away): learn it
    // again, and tell them all we hold now.
    dir_.clear();
    heartbeat();
    send_snapshot(kAllSubject, kSnapshotReplace | kSnapshotAnswer);
    return;
  }
  engine_up_ = false;
  log_->write(platform::EventLog::Line("cluster")
                  .add("state", note == Note::closed ? "closed" : "disconnected")
                  .add("node", opt_.node)
                  .add("url", opt_.url)
                  .add("message", "cross-node operations fail until NATS is back; local traffic goes on"));
  fail_pending(kAllNodes, "cluster_unavailable");
}

void Cluster::tick() {
  const std::uint64_t now = now_ms();
  if (now >= next_heartbeat_) heartbeat();
  if (now >= next_interest_) reconcile_interest();
  if (now >= next_expiry_) {
    next_expiry_ = now + 100;
    for (std::uint16_t lost : dir_.expire(now, static_cast<std::uint64_t>(opt_.timeout.count())))
      node_lost(lost, "timeout");
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now > it->second.deadline) {
        Pending p = std::move(it->second);
        it = pending_.erase(it);
        ++counters_.timeouts;
        if (p.relay) p.relay("cluster_timeout");
        if (p.command) p.command(ai::status::fail, {}, "cluster_timeout");
      } else {
        ++it;
      }
    }
  }
}

void Cluster::heartbeat() {
  next_heartbeat_ = now_ms() + static_cast<std::uint64_t>(opt_.heartbeat.count());
  Message m = message(Op::heartbeat);
  m.instance = instance_;
  if (router_) {
    const auto& c = router_->counters();
    m.count = static_cast<std::uint32_t>(c.online_tcp + c.online_udp);
  }
  publish(kAllSubject, m);
}

void Cluster::node_lost(std::uint16_t node, const char* why) {
  log_->write(platform::EventLog::Line("cluster_node")
                  .add("node", dir_.node_at(node).name)
                  .add("state", "lost")
                  .add("reason", why));
  fail_pending(node, "node_lost");
}

void Cluster::fail_pending(std::uint16_t node, const char* why) {
  std::vector<Pending> failed;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (node == kAllNodes || it->second.node == node) {
      failed.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (Pending& p : failed) {
    if (p.relay) p.relay(why);
    if (p.command) p.command(ai::status::fail, {}, why);
  }
}

Message Cluster::message(Op op) const {
  Message m;
  m.op = op;
  m.node = opt_.node;
  return m;
}

bool Cluster::publish(const std::string& subject, Message& m) {
  if (!connected_) return false;
  m.seq = ++published_;
  const Bytes b = encode(m);
  if (natsConnection_Publish(nc_, subject.c_str(), b.data(), static_cast<int>(b.size())) != NATS_OK) {
    ++counters_.dropped;
    return false;
  }
  ++counters_.sent;  // written by flush() when the loop's batch of events is done
  return true;
}

void Cluster::send_snapshot(const std::string& subject, std::uint8_t flags) {
  Message m = message(Op::snapshot);
  m.flags = flags;
  bool first = true;
  auto flush = [&] {
    publish(subject, m);
    m.presences.clear();
    m.flags &= static_cast<std::uint8_t>(~kSnapshotReplace);  // only the first chunk replaces
    first = false;
  };
  if (reg_) {
    for (const platform::DeviceState& d : reg_->devices()) {
      if (!d.logged_in || d.removed) continue;
      m.presences.push_back(local(d));
      if (m.presences.size() == kSnapshotChunk) flush();
    }
  }
  if (first || !m.presences.empty()) flush();
}

std::uint32_t Cluster::add_pending(std::uint16_t node, std::uint64_t timeout_ms, RelayDone relay, CommandDone command) {
  std::uint32_t corr = next_corr_++;
  if (corr == 0) corr = next_corr_++;
  pending_[corr] = Pending{node, now_ms() + timeout_ms, std::move(relay), std::move(command)};
  return corr;
}

void Cluster::handle(const Message& m) {
  const std::uint64_t now = now_ms();
  const std::uint16_t from = m.op == Op::heartbeat ? 0 : dir_.node(m.node, now);
  switch (m.op) {
    case Op::heartbeat: {
      const Directory::Seen seen = dir_.heartbeat(m.node, m.instance, now);
      if (seen == Directory::Seen::known) return;
      log_->write(platform::EventLog::Line("cluster_node")
                      .add("node", m.node)
                      .add("state", seen == Directory::Seen::joined ? "joined" : "restarted")
                      .add("online", m.count));
      // Exchange what each holds (its answer replaces what we knew of it).
      send_snapshot(node_subject(m.node), kSnapshotReplace | kSnapshotAnswer);
      return;
    }
    case Op::up:
      held_elsewhere(from, m.presences.front());
      return;
    case Op::down:
      dir_.down(from, m.id);
      return;
    case Op::snapshot:
      if (m.flags & kSnapshotReplace) dir_.drop_node(from);
      for (const Presence& p : m.presences) held_elsewhere(from, p);
      if (m.flags & kSnapshotAnswer) send_snapshot(node_subject(m.node), kSnapshotReplace);
      return;
    case Op::relay: {
      ++counters_.relays_in;
      Message ack = message(Op::relay_ack);
      ack.corr = m.corr;
      if (const char* refused = router_->remote_relay(m.id, m.data)) ack.refused = refused;
      publish(node_subject(m.node), ack);
      return;
    }
    case Op::command: {
      const char* refused = router_->remote_command(from, m.corr, m.id, m.command, m.data);
      if (!refused) return;  // the device's reply comes back through command_reply
      Message r = message(Op::command_reply);
      r.corr = m.corr;
      r.status = ai::status::fail;
      r.refused = refused;
      publish(node_subject(m.node), r);
      return;
    }
    case Op::relay_ack:
    case Op::command_reply: {
      auto it = pending_.find(m.corr);
      if (it == pending_.end() || it->second.node != from) return;  // late (timed out) or forged
      Pending p = std::move(it->second);
      pending_.erase(it);
      const char* refused = m.refused.empty() ? nullptr : m.refused.c_str();
      if (p.relay) p.relay(refused);
      if (p.command) p.command(m.status, m.data, refused);
      return;
    }
    case Op::uplink:
      ++counters_.uplinks_in;
      router_->remote_uplink(m.id, m.cls, m.cmd, m.data);
      return;
    case Op::introduce:
      router_->remote_introduce(m.id, m.data);
      return;
  }
}

// ---- platform::Remote -----------------------------------------------------------------------

const platform::RemotePeer* Cluster::find(std::uint64_t id) const {
  const Directory::Entry* e = dir_.find(id);
  return e ? &e->peer : nullptr;
}

const char* Cluster::unavailable() const { return engine_up_ && connected_ ? nullptr : "cluster_unavailable"; }

// One session per device in the cluster: of two logins on different nodes, the later one
// (wall clock; equal times: the greater node name) stays; the other node's session ends with
// reason "moved". Both nodes apply the same rule to each other's presence, so they agree.
void Cluster::held_elsewhere(std::uint16_t node, const Presence& p) {
  auto it = logins_.find(p.id);
  if (it != logins_.end()) {
    const std::string& other = dir_.node_at(node).name;
    const bool ours_later = it->second.since > p.since || (it->second.since == p.since && opt_.node > other);
    if (ours_later) return;  // theirs is stale: our presence makes them end it
    router_->moved(p.id);    // ends the local session; presence(false) erases the login
  }
  dir_.up(node, p);
}

Presence Cluster::local(const platform::DeviceState& d) {
  auto [it, fresh] = logins_.try_emplace(d.id, Login{d.token, 0});
  if (fresh || it->second.token != d.token) {  // a new login (a new token), not a new endpoint
    it->second.token = d.token;
    // Microseconds: two logins on two nodes within one millisecond (a device that reconnects
    // at once elsewhere) must not tie, or a stale presence of the first could end the second.
    it->second.since = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count());
  }
  return Presence{d.id, platform::RemotePeer{d.token, d.udp_ip, d.udp_port, d.udp_live}, it->second.since};
}

void Cluster::presence(const platform::DeviceState& d, bool online) {
  if (online) {
    Message m = message(Op::up);
    m.presences.push_back(local(d));
    dir_.down(dir_.find(d.id) ? dir_.find(d.id)->node : 0, d.id);  // here now, not there
    publish(kAllSubject, m);
  } else {
    logins_.erase(d.id);
    Message m = message(Op::down);
    m.id = d.id;
    publish(kAllSubject, m);
  }
}

void Cluster::relay(std::uint64_t target, ByteView body, RelayDone done) {
  const Directory::Entry* e = dir_.find(target);
  if (!e) return done("offline");
  const std::uint16_t node = e->node;
  Message m = message(Op::relay);
  m.id = target;
  m.data.assign(body.begin(), body.end());
  m.corr = add_pending(node, static_cast<std::uint64_t>(opt_.request_timeout.count()), std::move(done), nullptr);
  ++counters_.relays_out;
  if (!publish(node_subject(dir_.node_at(node).name), m)) {
    auto it = pending_.find(m.corr);
    RelayDone d = std::move(it->second.relay);
    pending_.erase(it);
    d("cluster_unavailable");
  }
}

void Cluster::command(std::uint64_t target, std::uint16_t command, ByteView data, CommandDone done) {
  const Directory::Entry* e = dir_.find(target);
  if (!e) return done(ai::status::fail, {}, "offline");
  const std::uint16_t node = e->node;
  Message m = message(Op::command);
  m.id = target;
  m.command = command;
  m.data.assign(data.begin(), data.end());
  m.corr = add_pending(node, static_cast<std::uint64_t>(opt_.route_timeout.count()), nullptr, std::move(done));
  if (!publish(node_subject(dir_.node_at(node).name), m)) {
    auto it = pending_.find(m.corr);
    CommandDone d = std::move(it->second.command);
    pending_.erase(it);
    d(ai::status::fail, {}, "cluster_unavailable");
  }
}

void Cluster::command_reply(std::uint32_t origin, std::uint32_t corr, std::uint8_t status, ByteView data) {
  if (origin >= dir_.node_count()) return;
  Message m = message(Op::command_reply);
  m.corr = corr;
  m.status = status;
  m.data.assign(data.begin(), data.end());
  publish(node_subject(dir_.node_at(static_cast<std::uint16_t>(origin)).name), m);
}

void Cluster::uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) {
  const std::uint32_t d = reg_ ? reg_->find_device(device) : platform::kNone;
  if (d == platform::kNone) return;
  Message m = message(Op::uplink);
  m.id = device;
  m.cls = cls;
  m.cmd = cmd;
  m.data.assign(data.begin(), data.end());
  // To the group's subject: NATS passes it on only to nodes that subscribed (reconcile_interest).
  if (publish(uplink_subject(reg_->groups()[reg_->device(d).group].name), m)) ++counters_.uplinks_out;
}

void Cluster::operators_changed() { reconcile_interest(); }

void Cluster::reconcile_interest() {
  next_interest_ = now_ms() + 1000;  // also every second: an account's groups may change while it is logged in
  if (!reg_) return;
  std::unordered_map<std::string, bool> want;
  for (const platform::AccountState& a : reg_->accounts()) {
    if (a.fd < 0 || a.removed) continue;
    if (a.all_groups) {
      want = {{kUplinkAllSubject, true}};  // alone: with a group's subject too, NATS would deliver twice
      break;
    }
    for (std::uint32_t g : a.groups) want.emplace(uplink_subject(reg_->groups()[g].name), true);
  }
  for (auto it = interest_.begin(); it != interest_.end();) {
    if (want.count(it->first)) {
      want.erase(it->first);
      ++it;
      continue;
    }
    natsSubscription_Unsubscribe(it->second);
    natsSubscription_Destroy(it->second);
    it = interest_.erase(it);
  }
  for (const auto& [subject, _] : want) {
    natsSubscription* sub = nullptr;
    if (natsConnection_Subscribe(&sub, nc_, subject.c_str(), on_message, this) != NATS_OK) {
      next_interest_ = now_ms() + 100;  // try again soon (the engine may be away)
      continue;
    }
    natsSubscription_SetPendingLimits(sub, -1, -1);
    interest_.emplace(subject, sub);
  }
}

void Cluster::stats(platform::EventLog::Line& line) const {
  line.add("cluster_sent", counters_.sent).add("cluster_received", counters_.received);
  line.add("cluster_uplinks_out", counters_.uplinks_out).add("cluster_uplinks_in", counters_.uplinks_in);
  line.add("cluster_relays_out", counters_.relays_out).add("cluster_relays_in", counters_.relays_in);
  line.add("cluster_dropped", counters_.dropped).add("cluster_timeouts", counters_.timeouts);
  line.add("cluster_subscriptions", static_cast<std::uint64_t>(subs_.size() + interest_.size()));
}

void Cluster::introduce(std::uint64_t target, ByteView about) {
  const Directory::Entry* e = dir_.find(target);
  if (!e) return;
  Message m = message(Op::introduce);
  m.id = target;
  m.data.assign(about.begin(), about.end());
  publish(node_subject(dir_.node_at(e->node).name), m);
}

}  // namespace m2m::cluster
