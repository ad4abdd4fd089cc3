// One thread for the console's slow work — password hashing (Argon2id: ~0.1 s and 64 MiB
// each), reads and writes of the registry file — so the loop never waits for it. A job runs on
// the worker and returns what to do next on the loop's thread; the loop learns of finished
// jobs through an eventfd it watches (fd(), then drain()). The thread, its queue and that
// hand-back are the registry writer's (platform::BasicStoreWriter, with no store of its own:
// each job opens what it needs); this adds the bound: post() refuses work while 64 jobs are
// in flight and the caller answers "busy". At shutdown the jobs already accepted still run
// (their continuations do not).
#pragma once

#include <functional>
#include <memory>

#include "core/error.hpp"
#include "platform/store_writer.hpp"

namespace m2m::web {

class Worker {
 public:
  using Then = std::function<void()>;  // on the loop's thread
  using Job = std::function<Then()>;   // on the worker

  static Result<std::unique_ptr<Worker>> start(std::size_t max_queue = 64);
  int fd() const { return thread_.fd(); }
  bool post(Job job);                  // false: max_queue jobs are in flight
  void drain() { thread_.drain(); }    // runs the finished jobs' continuations (loop thread)

 private:
  struct NoStore {};
  explicit Worker(std::size_t max_queue) : max_queue_(max_queue), thread_(NoStore{}, {}, {}) {}

  std::size_t max_queue_;
  platform::BasicStoreWriter<NoStore> thread_;
};

}  // namespace m2m::web
