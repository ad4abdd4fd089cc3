// The serial line: a tty configured with termios (speed, parity, data/stop bits, raw mode),
// held with an exclusive flock, read with deadlines. Also the emulator's pseudo-terminal.
// Errors are mapped to distinct, actionable messages (missing device, permissions, busy).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "failure.hpp"
#include "gree/line.hpp"
#include "net/socket.hpp"

namespace gree_ctl {

using m2m::gree::LineSettings;
using m2m::gree::parse_frame_format;
using m2m::gree::parse_parity;
bool baud_supported(int baud);

// The toolkit's one owned-descriptor type (closing it releases the flock).
using Fd = m2m::net::Fd;

class SerialPort {
 public:
  // Opens and configures `path`; with `exclusive`, fails when another process holds the lock.
  static Outcome<SerialPort> open(const std::string& path, const LineSettings& line, bool exclusive = true);
  // Wraps an already-open descriptor (the emulator's pty master) and configures raw mode.
  static SerialPort adopt(Fd fd, const std::string& path);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  Outcome<void> write_all(m2m::ByteView data);
  // Reads what is available, waiting at most `wait`; empty result = nothing arrived.
  // EIO on a pty whose other side is closed counts as "nothing arrived".
  Outcome<m2m::Bytes> read_some(std::chrono::milliseconds wait);
  void discard_input();  // drops stale bytes before a request

 private:
  Fd fd_;
  std::string path_;
};

// A pseudo-terminal pair for the emulator: the master (served by the emulator) and the
// slave path clients open. The emulator keeps its own slave descriptor open so the master
// never sees a hang-up between client runs.
struct Pty {
  Fd master;
  Fd slave_keepalive;
  std::string slave_path;
};
Outcome<Pty> open_pty();

// Configures termios on any tty fd (raw, speed, parity, bits) and checks what the port then
// runs: a real port that cannot do the asked settings is an error (m2m::gree::judge_line);
// a pseudo-terminal may run without parity, which it cannot carry anyway.
Outcome<void> configure_line(int fd, const std::string& path, const LineSettings& line);
bool is_pseudo_terminal(int fd);

}  // namespace gree_ctl
