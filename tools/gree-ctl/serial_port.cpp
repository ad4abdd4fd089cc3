#include "serial_port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gree_ctl {

using m2m::cli::Exit;

namespace {

speed_t speed_of(int baud) {
  switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
  }
  return B0;
}

int baud_of(speed_t sp) {
  for (int b : {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200})
    if (speed_of(b) == sp) return b;
  return 0;
}

// What a termios structure says the line runs.
LineSettings settings_of(const termios& t) {
  LineSettings s;
  s.baud = baud_of(::cfgetospeed(&t));
  const tcflag_t size = t.c_cflag & CSIZE;
  s.data_bits = size == CS5 ? 5 : size == CS6 ? 6 : size == CS7 ? 7 : 8;
  s.parity = !(t.c_cflag & PARENB) ? 'N' : (t.c_cflag & PARODD) ? 'O' : 'E';
  s.stop_bits = (t.c_cflag & CSTOPB) ? 2 : 1;
  return s;
}

std::string group_of(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return "dialout";
  if (const group* g = ::getgrgid(st.st_gid)) return g->gr_name;
  return std::to_string(st.st_gid);
}

Failure open_failure(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return {Exit::unavailable,
              path + ": no such device (is the adapter plugged in? see ls /dev/ttyUSB* /dev/ttyACM* /dev/ttyS*)",
              "no_device"};
    case EACCES:
    case EPERM: {
      const std::string g = group_of(path);
      return {Exit::unavailable,
              path + ": permission denied: join group '" + g + "' (sudo usermod -aG " + g + " $USER, then log in again)",
              "permission"};
    }
    case EBUSY:
    case EWOULDBLOCK:
      return {Exit::unavailable, path + ": port busy: another program has it open (see fuser -v " + path + ")", "busy"};
    case ENOTTY:
      return {Exit::unavailable, path + ": not a serial port", "not_a_tty"};
  }
  return {Exit::unavailable, path + ": " + std::strerror(err), "unavailable"};
}

}  // namespace

bool baud_supported(int baud) { return speed_of(baud) != B0; }

Outcome<void> configure_line(int fd, const std::string& path, const LineSettings& line) {
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return m2m::unexpected<Failure>(open_failure(path, errno));
  ::cfmakeraw(&t);
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
  t.c_cflag |= line.data_bits == 5 ? CS5 : line.data_bits == 6 ? CS6 : line.data_bits == 7 ? CS7 : CS8;
  if (line.parity != 'N') t.c_cflag |= PARENB;  // even parity: PARENB without PARODD
  if (line.parity == 'O') t.c_cflag |= PARODD;
  if (line.stop_bits == 2) t.c_cflag |= CSTOPB;
  t.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  const speed_t sp = speed_of(line.baud);
  if (sp == B0 || ::cfsetspeed(&t, sp) != 0)
    return failed(Exit::usage, "baud rate " + std::to_string(line.baud) + " not supported (1200..115200)", "usage");
  const bool pty = is_pseudo_terminal(fd);
  if (::tcsetattr(fd, TCSANOW, &t) != 0) {
    const int err = errno;
    // A pseudo-terminal has no parity hardware and may refuse PARENB: there (only there) the
    // line may run without parity; judge_line below still checks everything else.
    t.c_cflag &= ~static_cast<tcflag_t>(PARENB | PARODD);
    if (!pty || err != EINVAL || line.parity == 'N' || ::tcsetattr(fd, TCSANOW, &t) != 0) {
      if (err != EINVAL) return m2m::unexpected<Failure>(open_failure(path, err));
      return failed(Exit::unavailable, path + ": the port refuses " + line.describe() + " (" + std::strerror(err) + ")" +
                                           ": a Gree unit needs this line; use an adapter whose driver supports it",
                    "line_settings");
    }
  }
  // tcsetattr succeeds when any part of the change worked: read back what the port runs.
  termios now{};
  if (::tcgetattr(fd, &now) != 0) return m2m::unexpected<Failure>(open_failure(path, errno));
  const LineSettings got = settings_of(now);
  if (m2m::gree::judge_line(pty, line, got) == m2m::gree::LineVerdict::refused)
    return failed(Exit::unavailable, path + ": asked for " + line.describe() + ", the port runs " + got.describe() +
                                         ": a Gree unit rejects bytes with the wrong parity or framing, so gree-ctl will not go on;"
                                         " use an adapter whose driver supports " + line.describe(),
                  "line_settings");
  return {};
}

bool is_pseudo_terminal(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  const unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
  // Unix98 pty slaves (136..143), the /dev/ptmx master (5,2), legacy BSD ptys (2, 3).
  return (maj >= 136 && maj <= 143) || (maj == 5 && min == 2) || maj == 2 || maj == 3;
}

Outcome<SerialPort> SerialPort::open(const std::string& path, const LineSettings& line, bool exclusive) {
  Fd fd(::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return m2m::unexpected<Failure>(open_failure(path, errno));
  // flock is advisory but every well-behaved serial tool takes it; TIOCEXCL would also lock
  // out root-run tools that do not, at the price of surprising users, so flock it is.
  if (exclusive && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return m2m::unexpected<Failure>(open_failure(path, errno));
  if (auto ok = configure_line(fd.get(), path, line); !ok) return m2m::unexpected<Failure>(ok.error());
  SerialPort p;
  p.fd_ = std::move(fd);
  p.path_ = path;
  return p;
}

SerialPort SerialPort::adopt(Fd fd, const std::string& path) {
  SerialPort p;
  p.fd_ = std::move(fd);
  p.path_ = path;
  return p;
}

Outcome<void> SerialPort::write_all(m2m::ByteView data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd(), data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd(), POLLOUT, 0};
      if (::poll(&p, 1, 1000) <= 0) return failed(Exit::timed_out, path_ + ": write stalled (flow control?)", "write_timeout");
      continue;
    }
    return failed(Exit::unavailable, path_ + ": write: " + std::strerror(errno), "io");
  }
  ::tcdrain(fd());
  return {};
}

Outcome<m2m::Bytes> SerialPort::read_some(std::chrono::milliseconds wait) {
  pollfd p{fd(), POLLIN, 0};
  const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, wait.count())));
  if (r < 0) {
    if (errno == EINTR) return m2m::Bytes{};
    return failed(Exit::unavailable, path_ + ": poll: " + std::strerror(errno), "io");
  }
  if (r == 0) return m2m::Bytes{};
  std::uint8_t buf[512];
  const ssize_t n = ::read(fd(), buf, sizeof buf);
  if (n > 0) return m2m::Bytes(buf, buf + n);
  if (n == 0 || errno == EAGAIN || errno == EINTR) return m2m::Bytes{};
  if (errno == EIO) {  // pty without a peer: wait like a silent line instead of spinning
    ::usleep(static_cast<useconds_t>(std::min<std::int64_t>(wait.count(), 20) * 1000));
    return m2m::Bytes{};
  }
  return failed(Exit::unavailable, path_ + ": read: " + std::strerror(errno), "io");
}

void SerialPort::discard_input() { ::tcflush(fd(), TCIFLUSH); }

Outcome<Pty> open_pty() {
  Pty pty;
  pty.master = Fd(::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!pty.master) return failed(Exit::unavailable, std::string("posix_openpt: ") + std::strerror(errno), "io");
  if (::grantpt(pty.master.get()) != 0 || ::unlockpt(pty.master.get()) != 0)
    return failed(Exit::unavailable, std::string("pty setup: ") + std::strerror(errno), "io");
  char name[128];
  if (::ptsname_r(pty.master.get(), name, sizeof name) != 0)
    return failed(Exit::unavailable, std::string("ptsname: ") + std::strerror(errno), "io");
  pty.slave_path = name;
  pty.slave_keepalive = Fd(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave_keepalive) return failed(Exit::unavailable, pty.slave_path + ": " + std::strerror(errno), "io");
  // Raw from the start: a client that does not configure the line must still see 0x0D as is.
  if (auto ok = configure_line(pty.slave_keepalive.get(), pty.slave_path, LineSettings{}); !ok)
    return m2m::unexpected<Failure>(ok.error());
  return pty;
}

}  // namespace gree_ctl
