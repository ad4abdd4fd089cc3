// One thread for the console's slow work — password hashing (Argon2id: ~0.1 s and 64 MiB
// each), reads and writes of the registry file — so the loop never waits for it. A job runs on
// the worker and returns what to do next on the loop's thread; the loop learns of finished
// jobs through an eventfd it watches (fd(), then drain()). The queue is bounded: post()
// refuses work beyond it and the caller answers "busy".
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "net/socket.hpp"

namespace m2m::web {

class Worker {
 public:
  using Then = std::function<void()>;  // on the loop's thread
  using Job = std::function<Then()>;   // on the worker

  static Result<std::unique_ptr<Worker>> start(std::size_t max_queue = 64);
  ~Worker();
  int fd() const { return event_.get(); }
  bool post(Job job);  // false: the queue is full
  void drain();        // runs the finished jobs' continuations (loop thread)
  std::size_t queued() const;

 private:
  Worker() = default;
  void main();

  net::Fd event_;
  std::size_t max_queue_ = 64;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::deque<Then> done_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace m2m::web
