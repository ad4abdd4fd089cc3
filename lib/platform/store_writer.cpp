#include "platform/store_writer.hpp"

namespace m2m::platform {

Result<std::unique_ptr<StoreWriter>> StoreWriter::start(const std::string& path, std::chrono::milliseconds idle_interval,
                                                        Job idle) {
  auto store = Store::open(path, Store::Access::read_write);
  if (!store) return unexpected(store.error());
  return std::make_unique<StoreWriter>(std::move(*store), idle_interval, std::move(idle));
}

}  // namespace m2m::platform
