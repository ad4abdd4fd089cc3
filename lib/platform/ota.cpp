#include "platform/ota.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "m2m/frame.hpp"

namespace m2m::platform::ota {

std::uint8_t checksum(ByteView image) {
  unsigned sum = 0;
  for (std::uint8_t b : image) sum += b;
  return static_cast<std::uint8_t>(sum);
}

Result<void> check_file_name(std::string_view name) {
  if (name.empty()) return fail(ErrorKind::bad_value, "empty firmware file name");
  if (name.size() > 255) return fail(ErrorKind::bad_value, "firmware file name longer than 255 bytes");
  if (name == "." || name == "..") return fail(ErrorKind::bad_value, "firmware file name \"" + std::string(name) + "\" is not a file");
  for (char c : name) {
    if (c == '/' || c == '\\')
      return fail(ErrorKind::bad_value, "firmware file name \"" + std::string(name) +
                                            "\" names a path: give a plain file name inside the firmware folder");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return fail(ErrorKind::bad_value, "firmware file name holds a control character");
  }
  return {};
}

std::size_t max_frame_size(std::size_t file_name_bytes, std::size_t token_bytes) {
  // head..id, CRC and tail (kMinFrame) + token field (length byte + token) + name + NUL +
  // frame number (2) + byte count (2) + the bytes (m2m-protocol(7), term.ota_frame).
  const std::size_t fixed = ai::kMinFrame + 1 + token_bytes + file_name_bytes + 1 + 4;
  return fixed >= ai::kMaxFrame ? 0 : ai::kMaxFrame - fixed;
}

ImagePtr make_image(std::string name, Bytes bytes) {
  auto img = std::make_shared<Image>();
  img->name = std::move(name);
  img->sum = checksum(bytes);
  img->bytes = std::move(bytes);
  return img;
}

Result<ImagePtr> load_image(const std::string& path, std::string name) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return fail(ErrorKind::io, path + ": " + std::strerror(errno));
  Bytes bytes;
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (bytes.size() + n > kMaxImage) {
      std::fclose(f);
      return fail(ErrorKind::bad_value, path + ": larger than " + std::to_string(kMaxImage >> 20) +
                                            " MiB, more than 16-bit frame numbers can address");
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  const bool bad = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (bad) return fail(ErrorKind::io, path + ": " + std::strerror(err));
  return make_image(std::move(name), std::move(bytes));
}

Result<ImagePtr> load_from_dir(const std::string& dir, std::string_view name) {
  if (auto ok = check_file_name(name); !ok) return unexpected<Error>(ok.error());
  char real_dir[PATH_MAX], real_file[PATH_MAX];
  if (!realpath(dir.c_str(), real_dir)) return fail(ErrorKind::io, dir + ": " + std::strerror(errno));
  const std::string path = dir + "/" + std::string(name);
  if (!realpath(path.c_str(), real_file))
    return fail(ErrorKind::io, "firmware \"" + std::string(name) + "\" in " + dir + ": " + std::strerror(errno));
  const std::string base = std::string(real_dir) + "/";
  if (std::string_view(real_file).substr(0, base.size()) != base)
    return fail(ErrorKind::bad_value, "firmware \"" + std::string(name) + "\" leads out of " + dir);
  return load_image(real_file, std::string(name));
}

Result<Slice> serve(const Image& img, std::string_view file, std::uint32_t frame, std::uint32_t size) {
  if (file != img.name) return fail(ErrorKind::bad_value, "unknown file \"" + std::string(file) + "\"");
  if (size == 0) return fail(ErrorKind::bad_value, "frame size 0");
  const std::uint64_t from = std::uint64_t{frame} * size;
  if (from > img.bytes.size())
    return fail(ErrorKind::bad_value, "frame " + std::to_string(frame) + " starts past the end (" +
                                          std::to_string(img.bytes.size()) + " bytes)");
  const std::size_t count = std::min<std::uint64_t>(size, img.bytes.size() - from);
  return Slice{static_cast<std::uint16_t>(count), ByteView(img.bytes.data() + from, count)};
}

bool upgrade_succeeded(std::string_view description) {
  return description.substr(0, 10) == "upgrade ok";
}

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::waiting: return "waiting";
    case Phase::starting: return "starting";
    case Phase::transferring: return "transferring";
    case Phase::rebooting: return "rebooting";
    case Phase::ok: return "ok";
    case Phase::failed: return "failed";
  }
  return "?";
}

Campaign::Campaign(ImagePtr image, CampaignOptions options) : image_(std::move(image)), opt_(options) {}

void Campaign::add_target(std::uint64_t device) {
  accept_any_ = false;
  entry(device);
}

bool Campaign::targeted(std::uint64_t device) const { return accept_any_ || by_device_.count(device); }

Transfer& Campaign::entry(std::uint64_t device) {
  auto [it, added] = by_device_.try_emplace(device);
  if (added) {
    it->second.device = device;
    ++targets_;
  }
  return it->second;
}

const Transfer* Campaign::find(std::uint64_t device) const {
  auto it = by_device_.find(device);
  return it == by_device_.end() ? nullptr : &it->second;
}

bool Campaign::aborted() const { return opt_.abort_after_failures && failed_ >= opt_.abort_after_failures; }
bool Campaign::slot_free() const { return !opt_.max_parallel || in_flight_ < opt_.max_parallel; }

bool Campaign::done() const {
  if (aborted()) return in_flight_ == 0;
  return !accept_any_ && ok_ + failed_ == targets_;
}

bool Campaign::online(std::uint64_t device, std::string_view version, Time now) {
  if (!targeted(device)) return false;
  Transfer& t = entry(device);
  switch (t.phase) {
    case Phase::waiting:
      t.old_version = version;
      if (aborted()) return false;
      if (!slot_free()) {
        if (std::find(online_waiting_.begin(), online_waiting_.end(), device) == online_waiting_.end())
          online_waiting_.push_back(device);
        return false;
      }
      t.phase = Phase::starting;
      t.started = t.last = now;
      ++in_flight_;
      return true;
    case Phase::rebooting:
      t.new_version = version;
      if (!version.empty() && version == t.old_version)
        finish(t, Phase::failed, "logged in again still at version " + std::string(version) + ": " + t.outcome, now);
      else
        finish(t, Phase::ok, t.outcome, now);
      return false;
    default:
      return false;  // a re-login mid-transfer: the device resumes or the stall timeout decides
  }
}

void Campaign::start_reply(std::uint64_t device, bool ok, Time now) {
  auto it = by_device_.find(device);
  if (it == by_device_.end() || it->second.phase != Phase::starting) return;
  if (ok) {
    it->second.phase = Phase::transferring;
    it->second.last = now;
  } else {
    finish(it->second, Phase::failed, "busy: the device refused term.ota_start (an update is already running)", now);
  }
}

void Campaign::frame_served(std::uint64_t device, std::uint32_t frame, std::uint16_t count, Time now) {
  auto it = by_device_.find(device);
  if (it == by_device_.end()) return;
  Transfer& t = it->second;
  if (t.phase != Phase::starting && t.phase != Phase::transferring) return;
  t.phase = Phase::transferring;  // frames may overtake the ota_start reply
  t.last = now;
  if (static_cast<std::int64_t>(frame) <= t.last_frame)
    ++t.retries;
  else {
    ++t.frames;
    t.last_frame = frame;
  }
  t.bytes += count;
}

void Campaign::upgrade_event(std::uint64_t device, std::string_view description, Time now) {
  auto it = by_device_.find(device);
  if (it == by_device_.end()) return;
  Transfer& t = it->second;
  if (t.phase != Phase::starting && t.phase != Phase::transferring) return;
  if (upgrade_succeeded(description)) {
    t.phase = Phase::rebooting;
    t.outcome = description;
    t.last = now;
  } else {
    finish(t, Phase::failed, std::string(description), now);
  }
}

void Campaign::offline(std::uint64_t device, Time) {
  online_waiting_.erase(std::remove(online_waiting_.begin(), online_waiting_.end(), device), online_waiting_.end());
}

std::vector<std::uint64_t> Campaign::startable(Time now) {
  std::vector<std::uint64_t> out;
  while (!online_waiting_.empty() && slot_free() && !aborted()) {
    const std::uint64_t d = online_waiting_.front();
    online_waiting_.erase(online_waiting_.begin());
    Transfer& t = entry(d);
    if (t.phase != Phase::waiting) continue;
    t.phase = Phase::starting;
    t.started = t.last = now;
    ++in_flight_;
    out.push_back(d);
  }
  return out;
}

unsigned Campaign::expire(Time now) {
  unsigned n = 0;
  for (auto& [id, t] : by_device_) {
    if (t.phase == Phase::starting || t.phase == Phase::transferring) {
      if (now - t.last >= opt_.stall_timeout) {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - t.last).count();
        std::string why = t.last_frame < 0 ? "stalled before the first frame for " + std::to_string(secs) + " s"
                                           : "stalled after frame " + std::to_string(t.last_frame) + " for " +
                                                 std::to_string(secs) + " s";
        finish(t, Phase::failed, std::move(why), now);
        ++n;
      }
    } else if (t.phase == Phase::rebooting && now - t.last >= opt_.relogin_timeout) {
      finish(t, Phase::failed, "reported \"" + t.outcome + "\" but did not log in again", now);
      ++n;
    }
  }
  return n;
}

void Campaign::finish(Transfer& t, Phase result, std::string outcome, Time now) {
  if (t.phase == Phase::starting || t.phase == Phase::transferring || t.phase == Phase::rebooting) --in_flight_;
  t.phase = result;
  t.outcome = std::move(outcome);
  t.elapsed = std::chrono::duration_cast<Millis>(now - t.started);
  (result == Phase::ok ? ok_ : failed_)++;
  finished_.push_back(t);
}

std::vector<Transfer> Campaign::take_finished() { return std::exchange(finished_, {}); }

}  // namespace m2m::platform::ota
