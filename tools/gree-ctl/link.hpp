// One request/reply exchange with a unit, with the reply timeout, bounded retries with
// backoff, and the checks a field engineer needs spelled out: no reply, garbled or
// bad-checksum reply, reply from the wrong address. `-v` traces one line per frame (and per
// run of garbage) with a timestamp, the bytes and what they are.
#pragma once

#include <chrono>
#include <optional>

#include "failure.hpp"
#include "gree/frame.hpp"
#include "serial_port.hpp"

namespace gree_ctl {

struct LinkOptions {
  std::chrono::milliseconds timeout{1000};
  int retries = 2;
  std::chrono::milliseconds backoff{100};  // grows linearly: 100 ms, 200 ms, …
  m2m::gree::Checksum checksum = m2m::gree::Checksum::sum8;
  bool verbose = false;
};

class Link {
 public:
  Link(SerialPort port, LinkOptions opt) : port_(std::move(port)), opt_(opt) {}

  // Sends the request; for kinds that are answered, waits for the status frame (retrying on
  // silence and on damaged replies) and checks it comes from the unit asked. Broadcasts
  // return nullopt after sending.
  Outcome<std::optional<m2m::gree::Status>> exchange(const m2m::gree::Request& r);

  const LinkOptions& options() const { return opt_; }
  const std::string& path() const { return port_.path(); }

 private:
  Outcome<m2m::gree::Status> await_status(const m2m::gree::Request& r);
  void trace(const char* dir, m2m::ByteView bytes, const std::string& what) const;

 public:
  // A `-v` line that is not a frame ("-- retry 1/2 after: …").
  void note(const std::string& text) const;

 private:

  SerialPort port_;
  LinkOptions opt_;
};

}  // namespace gree_ctl
