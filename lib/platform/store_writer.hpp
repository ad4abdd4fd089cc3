// Registry writes away from the event loop. The loop must never wait on SQLite: another
// process holding the write lock (an import, a `sqlite3` shell in a transaction) would
// freeze every session for the busy timeout. A StoreWriter owns its own connection to the
// registry file and one thread; the loop submits jobs, the thread runs them in order, and
// each job's completion (a closure it returns) is handed back to the loop, which learns of
// it from an eventfd in its epoll set and runs it there. So the reply to an operator's write
// is sent when the write is durable, and the loop goes on meanwhile.
//
// The thread also runs one idle job at a fixed interval while no other job waits (the
// server's registry watcher: a data_version check and, when it moved, a reload).
//
// BasicStoreWriter<S> is the same for any store S that blocks (the cluster's bucket:
// cluster/kv_registry.hpp); StoreWriter is the SQLite file's.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "platform/store.hpp"

namespace m2m::platform {

template <class S>
class BasicStoreWriter {
 public:
  using Completion = std::function<void()>;        // runs on the loop's thread (drain)
  using Job = std::function<Completion(S&)>;       // runs on the writer's thread; may return {}

  BasicStoreWriter(S store, std::chrono::milliseconds idle_interval, Job idle)
      : store_(std::move(store)), idle_interval_(idle_interval), idle_(std::move(idle)) {
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    thread_ = std::thread([this] { run(); });
  }
  // Runs the jobs already submitted (their writes are made durable), then stops. Their
  // completions are not run.
  ~BasicStoreWriter() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    if (event_fd_ >= 0) ::close(event_fd_);
  }
  BasicStoreWriter(const BasicStoreWriter&) = delete;
  BasicStoreWriter& operator=(const BasicStoreWriter&) = delete;

  void submit(Job job) {
    ++in_flight_;
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  // Readable (EPOLLIN) while completions wait to be drained.
  int fd() const { return event_fd_; }
  // Runs the completions that are ready, in the order their jobs ran; returns how many.
  std::size_t drain() {
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
  // Jobs submitted whose completion has not run yet.
  std::size_t in_flight() const { return in_flight_; }

 private:
  void run() {
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

  S store_;
  std::chrono::milliseconds idle_interval_;
  Job idle_;
  int event_fd_ = -1;
  std::size_t in_flight_ = 0;  // loop thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  struct Done {
    bool submitted;  // false: from the idle job
    Completion completion;
  };
  std::deque<Done> done_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything above exists
};

class StoreWriter final : public BasicStoreWriter<Store> {
 public:
  using BasicStoreWriter::BasicStoreWriter;  // wraps an open store (tests use a file they made)
  // Opens the file for writing (never creating it) on the caller's thread, so a bad path
  // is reported at once, then starts the thread. `idle` may be empty.
  static Result<std::unique_ptr<StoreWriter>> start(const std::string& path, std::chrono::milliseconds idle_interval = {},
                                                    Job idle = {});
};

}  // namespace m2m::platform
