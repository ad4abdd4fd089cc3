#include "platform/store_writer.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace m2m::platform {

Result<std::unique_ptr<StoreWriter>> StoreWriter::start(const std::string& path, std::chrono::milliseconds idle_interval,
                                                        Job idle) {
  auto store = Store::open(path, Store::Access::read_write);
  if (!store) return unexpected(store.error());
  return std::make_unique<StoreWriter>(std::move(*store), idle_interval, std::move(idle));
}

StoreWriter::StoreWriter(Store store, std::chrono::milliseconds idle_interval, Job idle)
    : store_(std::move(store)), idle_interval_(idle_interval), idle_(std::move(idle)) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (event_fd_ >= 0) ::close(event_fd_);
}

void StoreWriter::submit(Job job) {
  ++in_flight_;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::size_t StoreWriter::drain() {
  std::deque<Done> ready;
  {
    // The thread signals under the same lock, so the eventfd is readable exactly while
    // completions wait: no spurious wake-ups of the loop.
    std::lock_guard lock(mu_);
    std::uint64_t n = 0;
    while (::read(event_fd_, &n, sizeof n) < 0 && errno == EINTR) {
    }
    ready.swap(done_);
  }
  for (auto& d : ready) {
    if (d.submitted) --in_flight_;
    if (d.completion) d.completion();
  }
  return ready.size();
}

void StoreWriter::run() {
  using clock = std::chrono::steady_clock;
  auto next_idle = clock::now();
  std::unique_lock lock(mu_);
  for (;;) {
    if (jobs_.empty() && !stop_) {
      if (idle_)
        cv_.wait_until(lock, next_idle, [this] { return stop_ || !jobs_.empty(); });
      else
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    }
    Job job;
    bool is_idle = false;
    if (!jobs_.empty()) {
      job = std::move(jobs_.front());
      jobs_.pop_front();
    } else if (stop_) {
      return;
    } else if (idle_ && clock::now() >= next_idle) {
      is_idle = true;
      next_idle = clock::now() + idle_interval_;
    } else {
      continue;
    }
    lock.unlock();
    Completion c = is_idle ? idle_(store_) : job(store_);
    lock.lock();
    if (is_idle && !c) continue;  // nothing for the loop
    done_.push_back(Done{!is_idle, std::move(c)});
    const std::uint64_t one = 1;
    while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace m2m::platform
