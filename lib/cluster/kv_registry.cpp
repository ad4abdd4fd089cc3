#include "cluster/kv_registry.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <thread>

#include "m2m/frame.hpp"
#include "platform/csv.hpp"

namespace m2m::cluster {

namespace {
using platform::AccountRecord;
using platform::DeviceRecord;
using platform::RegistrySnapshot;

constexpr std::string_view kDevicePrefix = "device.", kAccountPrefix = "account.";
constexpr int kInitialWaitMs = 5000;  // for each initial value: the bucket answers at once, or is not there
constexpr int kWatchWaitMs = 50;      // a write job waits at most this long behind the watcher
constexpr std::size_t kBatch = 4096;  // changes handed to the loop at a time
constexpr std::chrono::seconds kFollowerConnectTimeout{2};  // the follower's connection, at start and after a reconnect

Error nats_failed(const std::string& what, natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = natsStatus_GetText(s);
  if (last && *last && text.find(last) == std::string::npos) text += std::string(": ") + last;
  return Error{ErrorKind::unavailable, 0, what + " (" + text + ")"};
}

void on_reconnected(natsConnection*, void* closure) { static_cast<std::atomic<bool>*>(closure)->store(true); }

// A reconnect flag that outlives its follower (kv_registry.hpp): from a pool that is never
// freed, reachable from a static, so nats.c may set it at any time until the process ends.
std::atomic<bool>* new_reconnect_flag() {
  static std::mutex mu;
  static auto* pool = new std::deque<std::atomic<bool>>();
  std::lock_guard lock(mu);
  return &pool->emplace_back(false);
}

// One record from a bucket entry: the key says which, the value is its CSV row.
struct Parsed {
  bool device = false;
  DeviceRecord d;
  AccountRecord a;
};
Result<Parsed> parse_entry(std::string_view key, std::string_view value) {
  auto fields = platform::parse_csv_line(value);
  if (!fields) return unexpected(fields.error());
  Parsed p;
  if (key.starts_with(kDevicePrefix)) {
    auto d = platform::device_from_csv(*fields);
    if (!d) return unexpected(d.error());
    if (device_key(d->id) != key) return unexpected(Error{ErrorKind::bad_value, 0, "the row is device " + ai::format_device(d->id)});
    p.device = true;
    p.d = std::move(*d);
    return p;
  }
  if (key.starts_with(kAccountPrefix)) {
    auto a = platform::account_from_csv(*fields);
    if (!a) return unexpected(a.error());
    if (account_key(a->id) != key) return unexpected(Error{ErrorKind::bad_value, 0, "the row is account " + std::to_string(a->id)});
    p.a = std::move(*a);
    return p;
  }
  return unexpected(Error{ErrorKind::bad_value, 0, "not a registry key"});
}

Error bad_entry(std::string_view key, const Error& e) {
  return Error{ErrorKind::bad_value, 0, "registry bucket: key '" + std::string(key) + "': " + e.message};
}

// Reads the values a new watcher delivers first (every key's latest, deletes left out), up to
// the end marker.
Result<void> initial_values(kvWatcher* w, const std::function<Result<void>(kvEntry*)>& fn) {
  for (;;) {
    kvEntry* e = nullptr;
    natsStatus s = kvWatcher_Next(&e, w, kInitialWaitMs);
    if (s != NATS_OK) return unexpected(nats_failed("reading the registry bucket", s));
    if (!e) return {};
    auto r = kvEntry_Operation(e) == kvOp_Put ? fn(e) : Result<void>{};
    kvEntry_Destroy(e);
    if (!r) return r;
  }
}

std::string_view value_of(kvEntry* e) {
  return {static_cast<const char*>(kvEntry_Value(e)), static_cast<std::size_t>(kvEntry_ValueLen(e))};
}

Result<RegistrySnapshot> read_all(kvStore* kv, const char* keys, bool lenient, std::vector<Error>* skipped) {
  kvWatchOptions o;
  kvWatchOptions_Init(&o);
  o.IgnoreDeletes = true;
  kvWatcher* w = nullptr;
  natsStatus s = keys ? kvStore_Watch(&w, kv, keys, &o) : kvStore_WatchAll(&w, kv, &o);
  if (s != NATS_OK) return unexpected(nats_failed("reading the registry bucket", s));
  RegistrySnapshot snap;
  auto r = initial_values(w, [&](kvEntry* e) -> Result<void> {
    const char* key = kvEntry_Key(e);
    auto p = parse_entry(key, value_of(e));
    if (!p) {
      if (!lenient) return unexpected(bad_entry(key, p.error()));
      if (skipped) skipped->push_back(bad_entry(key, p.error()));
      return {};
    }
    if (p->device)
      snap.devices.push_back(std::move(p->d));
    else
      snap.accounts.push_back(std::move(p->a));
    return {};
  });
  kvWatcher_Destroy(w);
  if (!r) return unexpected(r.error());
  std::sort(snap.devices.begin(), snap.devices.end(), [](auto& x, auto& y) { return x.id < y.id; });
  std::sort(snap.accounts.begin(), snap.accounts.end(), [](auto& x, auto& y) { return x.id < y.id; });
  return snap;
}
}  // namespace

std::string device_key(std::uint64_t id) { return std::string(kDevicePrefix) + ai::format_device(id); }
std::string account_key(std::uint64_t id) { return std::string(kAccountPrefix) + std::to_string(id); }

// ---- KvRecords ------------------------------------------------------------------------------

Result<KvRecords> KvRecords::open(const std::string& url, Open how, std::chrono::milliseconds timeout,
                                  std::atomic<bool>* reconnected) {
  KvRecords r;
  r.url_ = url;
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetURL(o, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(o, "m2m-server registry");
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, timeout.count());
  if (s == NATS_OK && reconnected) {
    s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, on_reconnected, reconnected);
  } else if (s == NATS_OK) {
    s = natsOptions_SetAllowReconnect(o, false);  // a command fails at once rather than wait
  }
  if (s != NATS_OK) {
    natsOptions_Destroy(o);
    return unexpected(nats_failed("--cluster " + url, s));
  }
  s = natsConnection_Connect(&r.nc_, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK)
    return unexpected(Error{ErrorKind::unavailable, 0, "--cluster: cannot reach NATS at " + url + " (" +
                                                        natsStatus_GetText(s) +
                                                        "): start nats-server there, or check the address"});
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout.count();
  s = natsConnection_JetStream(&r.js_, r.nc_, &jo);
  if (s != NATS_OK) return unexpected(nats_failed("--cluster: JetStream at " + url, s));
  if (how == Open::create) {
    kvConfig c;
    kvConfig_Init(&c);
    c.Bucket = kRegistryBucket;
    c.Description = "m2m-server registry: devices and client accounts (CSV rows)";
    c.History = 1;
    c.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&r.kv_, r.js_, &c);
  } else {
    s = js_KeyValue(&r.kv_, r.js_, kRegistryBucket);
    if (s == NATS_NOT_FOUND)
      return unexpected(Error{ErrorKind::io, 0,
                              std::string("--cluster: NATS at ") + url + " holds no registry yet (bucket " +
                                  kRegistryBucket + "): create it with 'm2m-server device import --cluster " + url +
                                  "' or 'device add --cluster " + url + " …'"});
  }
  if (s != NATS_OK)
    return unexpected(nats_failed(std::string("--cluster: the registry bucket ") + kRegistryBucket + " at " + url +
                                      " cannot be opened; NATS must run with JetStream (nats-server -js -sd DIR)",
                                  s));
  return r;
}

KvRecords::KvRecords(KvRecords&& o) noexcept { *this = std::move(o); }

KvRecords& KvRecords::operator=(KvRecords&& o) noexcept {
  if (this != &o) {
    reset();
    url_ = std::move(o.url_);
    std::swap(nc_, o.nc_);
    std::swap(js_, o.js_);
    std::swap(kv_, o.kv_);
  }
  return *this;
}

KvRecords::~KvRecords() { reset(); }

void KvRecords::close() noexcept {
  if (nc_) natsConnection_Close(nc_);
}

void KvRecords::reset() noexcept {
  if (kv_) kvStore_Destroy(kv_);
  if (js_) jsCtx_Destroy(js_);
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
  kv_ = nullptr;
  js_ = nullptr;
  nc_ = nullptr;
}

Result<void> KvRecords::put(const std::string& key, const std::string& value, Mode mode, const std::string& what) {
  const int len = static_cast<int>(value.size());
  natsStatus s = mode == Mode::insert ? kvStore_Create(nullptr, kv_, key.c_str(), value.data(), len)
                                      : kvStore_Put(nullptr, kv_, key.c_str(), value.data(), len);
  if (s == NATS_OK) return {};
  if (mode == Mode::insert) {
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, kv_, key.c_str()) == NATS_OK) {
      kvEntry_Destroy(e);
      return unexpected(Error{ErrorKind::bad_value, 0, what + " already exists"});
    }
  }
  return unexpected(nats_failed("writing " + what + " to the registry bucket", s));
}

Result<bool> KvRecords::remove(const std::string& key) {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv_, key.c_str());
  if (s == NATS_NOT_FOUND) return false;
  if (s != NATS_OK) return unexpected(nats_failed("reading the registry bucket", s));
  kvEntry_Destroy(e);
  s = kvStore_Delete(kv_, key.c_str());
  if (s != NATS_OK) return unexpected(nats_failed("removing " + key + " from the registry bucket", s));
  return true;
}

Result<void> KvRecords::put_device(const DeviceRecord& d, Mode mode) {
  return put(device_key(d.id), platform::join_csv(platform::device_to_csv(d)), mode, "device " + ai::format_device(d.id));
}
Result<bool> KvRecords::remove_device(std::uint64_t id) { return remove(device_key(id)); }
Result<void> KvRecords::each_device(const std::function<void(const DeviceRecord&)>& fn) {
  auto snap = read_all(kv_, "device.>", false, nullptr);
  if (!snap) return unexpected(snap.error());
  for (const auto& d : snap->devices) fn(d);
  return {};
}

Result<void> KvRecords::put_account(const AccountRecord& a, Mode mode) {
  return put(account_key(a.id), platform::join_csv(platform::account_to_csv(a)), mode, "account " + std::to_string(a.id));
}
Result<bool> KvRecords::remove_account(std::uint64_t id) { return remove(account_key(id)); }
Result<void> KvRecords::each_account(const std::function<void(const AccountRecord&)>& fn) {
  auto snap = read_all(kv_, "account.>", false, nullptr);
  if (!snap) return unexpected(snap.error());
  for (const auto& a : snap->accounts) fn(a);
  return {};
}

Result<RegistrySnapshot> KvRecords::snapshot() { return read_all(kv_, nullptr, false, nullptr); }

void close_nats() { nats_CloseAndWait(2000); }

// ---- KvFollower -----------------------------------------------------------------------------

struct KvFollower::Change {
  bool device = false;
  bool removed = false;
  std::uint64_t id = 0;  // removed
  DeviceRecord d;
  AccountRecord a;
};

// The store thread's side: the watcher (made again after a reconnect), and what it read.
//
// A watcher is never stopped while its connection is open. nats.c 3.4 (and its main branch as
// of 2026-12) makes the watcher's ordered consumer again on a thread of its own after every
// reconnect, and frees the consumer's name there; kvWatcher_Destroy on an open connection
// deletes the consumer by that name, read under the subscription's lock but used after it
// (jsSub_deleteConsumer): a use-after-free when the two meet, which AddressSanitizer caught in
// the cluster_registry test. On a closed connection the unsubscribe stops at "closed" and
// deletes nothing (the server drops an ephemeral consumer without interest by itself). So the
// watch starts again on a new connection, the old one closed first; and at the end the
// connection is closed before the watcher goes (the last job ~KvFollower gives the store
// thread; a failed start() does the same with the store it opened).
struct KvFollower::Watch {
  kvWatcher* w = nullptr;
  bool finished = false;       // the follower is going: the idle job does nothing more
  bool broken = false;         // w ended or failed: start again (on a new connection)
  bool reported = false;       // a failure to start again was reported (once until it works)
  std::chrono::steady_clock::time_point retry_at{};  // after a failed attempt to watch again
  // `store`: the one whose connection w uses.
  void drop(KvRecords& store) {
    if (!w) return;
    store.close();
    kvWatcher_Destroy(w);
    w = nullptr;
  }
};

namespace {
std::optional<std::uint64_t> id_of(std::string_view key, bool& device) {
  device = key.starts_with(kDevicePrefix);
  if (device) {
    auto id = ai::parse_device(key.substr(kDevicePrefix.size()));
    if (!id) return std::nullopt;
    return *id;
  }
  if (!key.starts_with(kAccountPrefix)) return std::nullopt;
  std::uint64_t v = 0;
  std::string_view digits = key.substr(kAccountPrefix.size());
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}
}  // namespace

Result<std::unique_ptr<KvFollower>> KvFollower::start(const std::string& url, platform::Registry& reg, Hooks hooks) {
  std::unique_ptr<KvFollower> f(new KvFollower(reg, std::move(hooks)));
  auto store = KvRecords::open(url, KvRecords::Open::existing, kFollowerConnectTimeout, f->reconnected_);
  if (!store) return unexpected(store.error());
  // The watcher first, then its initial values: a change made after they were read arrives as
  // an update, so none is lost between the load and the follow.
  auto watch = std::make_shared<Watch>();
  natsStatus s = kvStore_WatchAll(&watch->w, store->kv(), nullptr);
  if (s != NATS_OK) return unexpected(nats_failed("--cluster: watching the registry bucket", s));
  std::vector<Error> bad;
  platform::RegistrySnapshot snap;
  auto r = initial_values(watch->w, [&](kvEntry* e) -> Result<void> {
    auto p = parse_entry(kvEntry_Key(e), value_of(e));
    if (!p) {
      bad.push_back(bad_entry(kvEntry_Key(e), p.error()));
    } else if (p->device) {
      snap.devices.push_back(std::move(p->d));
    } else {
      snap.accounts.push_back(std::move(p->a));
    }
    return {};
  });
  if (!r) {
    watch->drop(*store);
    return unexpected(r.error());
  }
  (void)platform::apply_snapshot(reg, snap);
  for (const Error& e : bad)
    if (f->hooks_.failed) f->hooks_.failed(e);

  KvFollower* self = f.get();
  std::atomic<bool>* reconnected = f->reconnected_;
  // The idle job: wait briefly for the next change, take what else is there, hand the batch to
  // the loop. After a reconnect: a new watcher, and its initial values as a whole snapshot.
  auto idle = [self, watch, reconnected](KvRecords& kv) -> platform::BasicStoreWriter<KvRecords>::Completion {
    std::vector<Change> changes;
    std::vector<Error> errors;
    std::shared_ptr<platform::RegistrySnapshot> full;
    if (watch->finished) return {};
    if (reconnected->exchange(false) || watch->broken || !watch->w) {
      if (std::chrono::steady_clock::now() < watch->retry_at) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kWatchWaitMs));
        reconnected->store(true);  // still to do
        return {};
      }
      watch->retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      auto failed = [self, watch](Error e) -> platform::BasicStoreWriter<KvRecords>::Completion {
        if (std::exchange(watch->reported, true)) return {};
        return [self, e = std::move(e)] {
          if (self->hooks_.failed) self->hooks_.failed(e);
        };
      };
      // A new connection first (while NATS is still away, the old one and its watcher stay).
      auto fresh = KvRecords::open(kv.url(), KvRecords::Open::existing, kFollowerConnectTimeout, reconnected);
      if (!fresh) {
        watch->broken = true;
        return failed(fresh.error());
      }
      watch->drop(kv);  // closes the old connection, then stops its watcher
      kv = std::move(*fresh);
      watch->broken = false;
      natsStatus st = kvStore_WatchAll(&watch->w, kv.kv(), nullptr);  // deletes too: removals are changes
      if (st != NATS_OK) {
        watch->w = nullptr;
        return failed(nats_failed("watching the registry bucket again", st));
      }
      full = std::make_shared<platform::RegistrySnapshot>();
      auto rr = initial_values(watch->w, [&](kvEntry* e) -> Result<void> {
        auto p = parse_entry(kvEntry_Key(e), value_of(e));
        if (!p)
          errors.push_back(bad_entry(kvEntry_Key(e), p.error()));
        else if (p->device)
          full->devices.push_back(std::move(p->d));
        else
          full->accounts.push_back(std::move(p->a));
        return {};
      });
      if (!rr) {
        watch->broken = true;  // tried again on the next round
        return failed(rr.error());
      }
      watch->reported = false;
    }
    for (int wait = kWatchWaitMs; changes.size() < kBatch; wait = 1) {
      kvEntry* e = nullptr;
      natsStatus st = kvWatcher_Next(&e, watch->w, wait);
      if (st == NATS_TIMEOUT) break;
      if (st != NATS_OK) {
        watch->broken = true;  // the watcher ended: a new one on the next round
        break;
      }
      if (!e) continue;  // the end of the initial values (none are expected here)
      const char* key = kvEntry_Key(e);
      Change c;
      if (kvEntry_Operation(e) == kvOp_Put) {
        auto p = parse_entry(key, value_of(e));
        if (!p) {
          errors.push_back(bad_entry(key, p.error()));
        } else {
          c.device = p->device;
          c.d = std::move(p->d);
          c.a = std::move(p->a);
          changes.push_back(std::move(c));
        }
      } else if (auto id = id_of(key, c.device)) {
        c.removed = true;
        c.id = *id;
        changes.push_back(std::move(c));
      }
      kvEntry_Destroy(e);
    }
    if (!full && changes.empty() && errors.empty()) return {};
    return [self, full, changes = std::move(changes), errors = std::move(errors)] {
      for (const Error& e : errors)
        if (self->hooks_.failed) self->hooks_.failed(e);
      if (full) report(self->hooks_, platform::apply_snapshot(self->reg_, *full));
      self->apply(changes);
    };
  };
  f->watch_ = watch;
  f->writer_ = std::make_unique<platform::BasicStoreWriter<KvRecords>>(std::move(*store), std::chrono::milliseconds(0),
                                                                       std::move(idle));
  return f;
}

KvFollower::KvFollower(platform::Registry& reg, Hooks hooks)
    : reg_(reg), hooks_(std::move(hooks)), reconnected_(new_reconnect_flag()) {}

// The last job stops the watcher on the store thread, its connection closed first (Watch),
// whether or not an idle job ever ran; the writer runs it before it stops.
KvFollower::~KvFollower() {
  if (writer_ && watch_) {
    writer_->submit([watch = watch_](KvRecords& kv) -> platform::BasicStoreWriter<KvRecords>::Completion {
      watch->finished = true;
      watch->drop(kv);
      return {};
    });
  }
  writer_.reset();
}

void KvFollower::apply(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  platform::SyncResult r;
  for (const Change& c : changes) {
    if (c.device && c.removed)
      platform::apply_device_removed(reg_, c.id, r);
    else if (c.device)
      platform::apply_device(reg_, c.d, r);
    else if (c.removed)
      platform::apply_account_removed(reg_, c.id, r);
    else
      platform::apply_account(reg_, c.a, r);
  }
  report(hooks_, r);
}

void KvFollower::add_device(const platform::DeviceRecord& rec, AddDone done) {
  writer_->submit([this, rec, done = std::move(done)](KvRecords& kv) -> platform::BasicStoreWriter<KvRecords>::Completion {
    auto r = kv.put_device(rec, platform::RecordStore::Mode::insert);
    return [this, rec, done, r] {
      if (!r) return done(r.error().kind == ErrorKind::bad_value ? "exists" : "store_failed", &r.error());
      // The watcher brings the same record to every node, this one included; applied here
      // too, the device may log in as soon as the operator hears ok.
      platform::SyncResult ignored;
      platform::apply_device(reg_, rec, ignored);
      done(nullptr, nullptr);
    };
  });
}

}  // namespace m2m::cluster
