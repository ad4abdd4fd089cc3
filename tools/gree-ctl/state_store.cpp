#include "state_store.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;
namespace fs = std::filesystem;

std::string StateStore::default_dir() {
  // The XDG base-directory rules: a relative $XDG_STATE_HOME is ignored.
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && x[0] == '/') return std::string(x) + "/gree-ctl";
  std::string home;
  if (const char* h = std::getenv("HOME"); h && *h) home = h;
  else if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  return home + "/.local/state/gree-ctl";
}

StateStore::StateStore(std::string dir, const std::string& port) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::path p = fs::absolute(port, ec);
  port_ = ec ? port : p.lexically_normal().string();
}

std::string StateStore::path_for(int address) const { return dir_ + "/" + state_file_name(port_, address); }

Outcome<std::optional<KnownState>> StateStore::load(int address) const {
  const std::string path = path_for(address);
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    std::error_code ec;
    if (!fs::exists(path, ec) && !ec) return std::optional<KnownState>{};
    return failed(Exit::failure, "state file " + path + ": " + std::strerror(err), "state_file");
  }
  std::stringstream text;
  text << in.rdbuf();
  const Json j = Json::parse(text.str(), nullptr, false);
  auto k = j.is_discarded() ? m2m::Result<KnownState>(m2m::fail(m2m::ErrorKind::bad_json, "not JSON")) : known_state_from_json(j);
  if (!k) return failed(Exit::failure, "state file " + path + " is damaged (" + k.error().message + ")", "state_file");
  if (k->port != port_ || k->address != address)
    return failed(Exit::failure, "state file " + path + " is for unit " + std::to_string(k->address) + " on " + k->port, "state_file");
  return std::optional<KnownState>{*k};
}

Outcome<void> StateStore::remember(const Status& s, Checksum ck) const {
  if (s.address <= 0) return {};
  if (auto old = load(s.address); old && *old && (*old)->code == s.settings()) return {};
  const KnownState k = known_state_of(s, ck, port_, m2m::cli::timestamp_now());
  const std::string path = path_for(s.address);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return failed(Exit::failure, "cannot create the state directory " + dir_ + ": " + ec.message(), "state_file");
  std::string tmp = path + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return failed(Exit::failure, "cannot write " + path + ": " + std::strerror(errno), "state_file");
  const std::string text = known_state_to_json(k).dump() + "\n";
  bool ok = true;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n > 0) done += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR) continue;
    else ok = false;
  }
  const int err = errno;
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(tmp.c_str());
    return failed(Exit::failure, "cannot write " + path + ": " + std::strerror(e), "state_file");
  }
  return {};
}

void StateStore::forget(int address) const { ::unlink(path_for(address).c_str()); }

}  // namespace gree_ctl
