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
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "platform/store.hpp"

namespace m2m::platform {

class StoreWriter {
 public:
  using Completion = std::function<void()>;        // runs on the loop's thread (drain)
  using Job = std::function<Completion(Store&)>;   // runs on the writer's thread; may return {}

  // Opens the file for writing (never creating it) on the caller's thread, so a bad path
  // is reported at once, then starts the thread. `idle` may be empty.
  static Result<std::unique_ptr<StoreWriter>> start(const std::string& path, std::chrono::milliseconds idle_interval = {},
                                                    Job idle = {});
  // Wraps an open store (tests use ":memory:" or a file they made).
  StoreWriter(Store store, std::chrono::milliseconds idle_interval, Job idle);
  // Runs the jobs already submitted (their writes are made durable), then stops. Their
  // completions are not run.
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  void submit(Job job);
  // Readable (EPOLLIN) while completions wait to be drained.
  int fd() const { return event_fd_; }
  // Runs the completions that are ready, in the order their jobs ran; returns how many.
  std::size_t drain();
  // Jobs submitted whose completion has not run yet.
  std::size_t in_flight() const { return in_flight_; }

 private:
  void run();

  Store store_;
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

}  // namespace m2m::platform
