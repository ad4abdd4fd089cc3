#include "web/worker.hpp"

#include <cerrno>
#include <cstring>

#include "core/expected.hpp"

namespace m2m::web {

Result<std::unique_ptr<Worker>> Worker::start(std::size_t max_queue) {
  std::unique_ptr<Worker> w(new Worker(max_queue));
  if (w->fd() < 0) return unexpected(Error{ErrorKind::io, 0, std::string("eventfd: ") + std::strerror(errno)});
  return w;
}

bool Worker::post(Job job) {
  if (thread_.in_flight() >= max_queue_) return false;
  thread_.submit([job = std::move(job)](NoStore&) -> platform::BasicStoreWriter<NoStore>::Completion { return job(); });
  return true;
}

}  // namespace m2m::web
