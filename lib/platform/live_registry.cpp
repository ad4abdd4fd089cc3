#include "platform/live_registry.hpp"

namespace m2m::platform {

Result<std::unique_ptr<LiveRegistry>> LiveRegistry::start(const std::string& path, Registry& reg, Hooks hooks,
                                                           std::chrono::milliseconds check) {
  // The watch and the snapshot it reads live on the writer thread; the completion it returns
  // carries the snapshot to the loop. `self` is set before the thread can run the idle job's
  // completion (completions run only in ready(), on the loop, after start returns).
  auto self = std::make_shared<LiveRegistry*>(nullptr);
  auto watch = std::make_shared<RegistryWatch>();
  auto writer = StoreWriter::start(path, check, [self, watch](Store& store) -> StoreWriter::Completion {
    auto snap = watch->poll(store);
    if (!snap) return [self, e = snap.error()] {
      if (*self && (*self)->hooks_.failed) (*self)->hooks_.failed(e);
    };
    if (!snap->has_value()) return {};
    return [self, s = std::make_shared<RegistrySnapshot>(std::move(**snap))] {
      if (*self) (*self)->apply(*s);
    };
  });
  if (!writer) return unexpected(writer.error());
  auto live = std::make_unique<LiveRegistry>(std::move(*writer), reg, std::move(hooks));
  *self = live.get();
  return live;
}

LiveRegistry::LiveRegistry(std::unique_ptr<StoreWriter> writer, Registry& reg, Hooks hooks)
    : reg_(reg), hooks_(std::move(hooks)), writer_(std::move(writer)) {}

void LiveRegistry::apply(const RegistrySnapshot& snap) { report(hooks_, apply_snapshot(reg_, snap)); }

void LiveRegistry::add_device(const DeviceRecord& rec, AddDone done) {
  adding_.insert(rec.id);
  writer_->submit([this, rec, done = std::move(done)](Store& store) -> StoreWriter::Completion {
    auto r = store.put_device(rec, Store::Mode::insert);
    return [this, rec, done, r] {
      adding_.erase(rec.id);
      if (!r) {
        // Another process may have registered the id since the loop checked.
        const bool exists = r.error().kind == ErrorKind::bad_value;
        return done(exists ? "exists" : "store_failed", &r.error());
      }
      reg_.put_device(rec);
      done(nullptr, nullptr);
    };
  });
}

}  // namespace m2m::platform
