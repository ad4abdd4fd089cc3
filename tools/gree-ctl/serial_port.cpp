#include "serial_port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gree_ctl {

using m2m::cli::Exit;

std::string LineSettings::describe() const {
  return std::to_string(baud) + " " + std::to_string(data_bits) + parity + std::to_string(stop_bits);
}

bool parse_frame_format(const std::string& s, LineSettings& out) {
  if (s.size() != 3) return false;
  const char d = s[0], p = static_cast<char>(std::toupper(static_cast<unsigned char>(s[1]))), st = s[2];
  if (d < '5' || d > '8' || (p != 'E' && p != 'O' && p != 'N') || (st != '1' && st != '2')) return false;
  out.data_bits = d - '0';
  out.parity = p;
  out.stop_bits = st - '0';
  return true;
}

bool parse_parity(const std::string& s, char& out) {
  if (s == "even" || s == "E" || s == "e") out = 'E';
  else if (s == "odd" || s == "O" || s == "o") out = 'O';
  else if (s == "none" || s == "N" || s == "n") out = 'N';
  else return false;
  return true;
}

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

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

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
  if (::tcsetattr(fd, TCSANOW, &t) != 0) {
    // A pseudo-terminal has no parity hardware and may refuse PARENB: parity is meaningless
    // there, so retry without it rather than fail (real ports keep the requested setting).
    const int err = errno;
    t.c_cflag &= ~static_cast<tcflag_t>(PARENB | PARODD);
    if (err != EINVAL || ::tcsetattr(fd, TCSANOW, &t) != 0) return m2m::unexpected<Failure>(open_failure(path, err));
  }
  return {};
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
