#include "web/worker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/expected.hpp"

namespace m2m::web {

Result<std::unique_ptr<Worker>> Worker::start(std::size_t max_queue) {
  std::unique_ptr<Worker> w(new Worker());
  w->event_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!w->event_) return unexpected(Error{ErrorKind::io, 0, std::string("eventfd: ") + std::strerror(errno)});
  w->max_queue_ = max_queue;
  w->thread_ = std::thread([p = w.get()] { p->main(); });
  return w;
}

Worker::~Worker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Worker::post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (jobs_.size() >= max_queue_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

std::size_t Worker::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void Worker::main() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;  // unfinished jobs are dropped: the server is stopping
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Then then = job();
    {
      std::lock_guard lock(mu_);
      done_.push_back(std::move(then));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_.get(), &one, sizeof one);
  }
}

void Worker::drain() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(event_.get(), &count, sizeof count);
  std::deque<Then> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
  }
  for (auto& then : done)
    if (then) then();
}

}  // namespace m2m::web
