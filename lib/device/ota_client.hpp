// The OTA client of a simulated device (m2m-protocol(7) COMMANDS: term.ota_start,
// term.ota_frame, term.event 0x10), without I/O. After term.ota_start it asks for frames 0, 1,
// 2 … in order with one frame size for the whole update, retries a frame whose reply does not
// come within frame_timeout at most `retries` times, sums the image bytes (mod 256, the
// checksum of term.ota_start) and ends with a readable outcome for the 0x10 event:
//   "upgrade ok: app-v2.bin 1048576 bytes", "checksum mismatch: want 0x3C got 0x91",
//   "timeout at frame 17", "refused at frame 3: the platform has no such file or frame".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "device/session.hpp"
#include "m2m/term.hpp"

namespace m2m::device {

struct OtaConfig {
  std::uint16_t frame_size = 1024;  // asked per frame; lowered to what fits 1400 bytes (see below)
  std::uint8_t retries = 3;         // further requests of one frame after a timeout
  Millis frame_timeout{5'000};
};

// The largest frame size whose term.ota_frame reply, with an 8-byte token and this file name
// (GBK + NUL), fits the 1400-byte frame limit (m2m-protocol(7) Size limit).
std::uint16_t max_ota_frame_size(std::string_view file);

class OtaClient {
 public:
  enum class State : std::uint8_t { running, ok, checksum_mismatch, timeout, refused };

  OtaClient(const OtaConfig& cfg, std::string file, std::uint8_t checksum);

  // A frame request to send now (the first, the next after a reply, or a retry after a
  // timeout), else nullopt. A frame that ran out of retries ends the update (State::timeout).
  std::optional<ai::OtaFrameRequest> due(Time now);
  // Sequence number the request just returned by due() went out with.
  void sent(std::uint16_t seq, Time deadline) { seq_ = seq, deadline_ = deadline; }
  bool waiting_for(std::uint16_t seq) const { return state_ == State::running && awaiting_ && seq == seq_; }
  // The platform's reply to the outstanding request.
  void reply(const ai::FrameView& f, Time now);

  State state() const { return state_; }
  bool done() const { return state_ != State::running; }
  Time next_wake() const { return state_ != State::running ? kNever : awaiting_ ? deadline_ : Time{}; }
  std::string outcome() const;       // the 0x10 event's description
  std::string new_software() const;  // the file name without its extension: "app-v2"
  const std::string& file() const { return file_; }
  std::uint16_t frame() const { return frame_; }
  std::uint16_t frame_size() const { return size_; }
  std::uint32_t bytes() const { return bytes_; }

 private:
  const OtaConfig* cfg_;
  std::string file_;
  Time deadline_ = kNever;
  std::uint32_t bytes_ = 0;
  std::uint16_t frame_ = 0;
  std::uint16_t size_;
  std::uint16_t seq_ = 0;
  std::uint8_t want_;
  std::uint8_t sum_ = 0;
  std::uint8_t attempts_ = 0;  // requests of the current frame so far
  bool awaiting_ = false;
  State state_ = State::running;
};

}  // namespace m2m::device
