// Firmware updates from the platform's side (m2m-protocol(7): term.ota_start, term.ota_frame,
// term.event 0x10, OTA UPDATES): the image held once in memory and shared by every transfer,
// the file-name rule, serving one frame request, and a campaign that follows many devices to
// their outcome (bounded parallelism, a failure budget, stall timeouts). No I/O: the caller
// sends the frames and reports what arrives; m2m-ota-serve and m2m-server both drive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::platform::ota {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;
using Millis = std::chrono::milliseconds;

// The term.ota_start checksum: the sum of the image bytes mod 256.
std::uint8_t checksum(ByteView image);

// A firmware file name as an operator or a device gives it: a plain name inside the firmware
// folder — not empty, at most 255 bytes, no '/', '\\' or NUL or control characters, not "."
// or "..". The error says which rule the name broke.
Result<void> check_file_name(std::string_view name);

// The largest frame size a device may ask for: the ok reply (header, token field, file name
// with its NUL, frame number, byte count, bytes) must fit the 1,400-byte frame limit.
std::size_t max_frame_size(std::size_t file_name_bytes, std::size_t token_bytes);

struct Image {
  std::string name;  // as the devices ask for it
  Bytes bytes;
  std::uint8_t sum = 0;  // checksum(bytes)
};
using ImagePtr = std::shared_ptr<const Image>;

// An image from memory (tests, generated images).
ImagePtr make_image(std::string name, Bytes bytes);
// Reads `path` whole; `name` is what devices will ask for. Errors name the file and the cause.
// Images above kMaxImage are refused (frame numbers are 16-bit: 65,536 frames of 1 KiB).
inline constexpr std::size_t kMaxImage = 64u << 20;
Result<ImagePtr> load_image(const std::string& path, std::string name);
// `name` checked by check_file_name, then read from `dir` (a symbolic link that leads out
// of `dir` is refused too).
Result<ImagePtr> load_from_dir(const std::string& dir, std::string_view name);

// One term.ota_frame request answered from `img`: the bytes of frame `frame` (from
// frame × size; fewer than `size`, possibly none, for the last one). Errors (the reply is
// status fail): another file, size 0, or a frame that starts past the end.
struct Slice {
  std::uint16_t count = 0;
  ByteView bytes;  // into img.bytes
};
Result<Slice> serve(const Image& img, std::string_view file, std::uint32_t frame, std::uint32_t size);

// A term.event 0x10 description reports success when it starts with "upgrade ok"
// (m2m-protocol(7), OTA UPDATES); anything else is a failure, and the text says why.
bool upgrade_succeeded(std::string_view description);

// ---- a campaign: one image, many devices -------------------------------------------------
struct CampaignOptions {
  unsigned max_parallel = 0;         // devices updating at once; 0: no limit
  unsigned abort_after_failures = 0; // stop starting new updates after this many failures; 0: never
  Millis stall_timeout{30'000};      // no frame request (or outcome) for this long: failed
  Millis relogin_timeout{60'000};    // after "upgrade ok", the device must log in again within this
};

enum class Phase : std::uint8_t {
  waiting,      // a target not yet started (offline, or over max_parallel)
  starting,     // term.ota_start sent, reply not yet in
  transferring, // the device is asking for frames
  rebooting,    // it reported success; waiting for its login with the new version
  ok,
  failed,
};
const char* phase_name(Phase p);

struct Transfer {
  std::uint64_t device = 0;
  Phase phase = Phase::waiting;
  Time started{};
  Time last{};                 // last sign of progress
  std::uint32_t frames = 0;    // distinct frames served
  std::uint32_t retries = 0;   // frames asked for again
  std::uint64_t bytes = 0;     // image bytes served (retries included)
  std::int64_t last_frame = -1;
  std::string outcome;         // the device's text, or ours ("stalled at frame 17 for 30 s")
  std::string old_version, new_version;
  Millis elapsed{0};           // start to the outcome
};

class Campaign {
 public:
  Campaign(ImagePtr image, CampaignOptions options);

  const Image& image() const { return *image_; }

  // Which devices to update. Without targets, every device that logs in is one (accept_any).
  void add_target(std::uint64_t device);
  bool targeted(std::uint64_t device) const;

  // A device is online (logged in, `version` as it reports it, may be empty): true when the
  // caller should now send it term.ota_start (it is a target, waiting, a slot is free and
  // the failure budget is not spent). Called again for a device in `rebooting`, it completes
  // that device (ok when the version changed or was unknown, failed otherwise).
  bool online(std::uint64_t device, std::string_view version, Time now);
  // The reply to term.ota_start: ok, or fail (the device is busy with another update).
  void start_reply(std::uint64_t device, bool ok, Time now);
  // A frame request arrived and was answered with `count` bytes (false: refused, e.g. past
  // the end — the transfer goes on; the device decides).
  void frame_served(std::uint64_t device, std::uint32_t frame, std::uint16_t count, Time now);
  // term.event 0x10 from the device.
  void upgrade_event(std::uint64_t device, std::string_view description, Time now);
  // The device's connection ended (expected while rebooting; otherwise the stall timeout decides).
  void offline(std::uint64_t device, Time now);

  // Devices the caller may start now that slots have freed up (online waiting targets).
  std::vector<std::uint64_t> startable(Time now);
  // Times out stalled transfers and overdue re-logins; returns how many it failed.
  unsigned expire(Time now);

  // Transfers that finished (ok or failed) since the last call, in the order they finished.
  std::vector<Transfer> take_finished();

  const Transfer* find(std::uint64_t device) const;
  unsigned in_flight() const { return in_flight_; }
  unsigned succeeded() const { return ok_; }
  unsigned failed() const { return failed_; }
  bool aborted() const;                    // the failure budget is spent
  // Every target finished (or, once aborted, nothing is in flight any more).
  bool done() const;
  std::size_t targets() const { return targets_; }

 private:
  Transfer& entry(std::uint64_t device);
  void finish(Transfer& t, Phase result, std::string outcome, Time now);
  bool slot_free() const;

  ImagePtr image_;
  CampaignOptions opt_;
  std::unordered_map<std::uint64_t, Transfer> by_device_;
  std::vector<std::uint64_t> online_waiting_;  // online targets waiting for a slot, in order
  std::vector<Transfer> finished_;
  std::size_t targets_ = 0;
  bool accept_any_ = true;
  unsigned in_flight_ = 0, ok_ = 0, failed_ = 0;
};

}  // namespace m2m::platform::ota
