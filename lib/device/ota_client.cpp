#include "device/ota_client.hpp"

#include <algorithm>
#include <cstdio>

#include "m2m/frame.hpp"

namespace m2m::device {

std::uint16_t max_ota_frame_size(std::string_view file) {
  Bytes name;
  if (!ai::put_gbk_string(name, file)) name.assign(file.size() + 1, 0);
  // header 18 + token field 9 + file name + frame number 2 + count 2 + CRC 2 + tail 1
  const std::size_t fixed = ai::kHeaderSize + 9 + name.size() + 4 + 3;
  return fixed >= ai::kMaxFrame ? 0 : static_cast<std::uint16_t>(ai::kMaxFrame - fixed);
}

OtaClient::OtaClient(const OtaConfig& cfg, std::string file, std::uint8_t checksum)
    : cfg_(&cfg), file_(std::move(file)), want_(checksum) {
  size_ = std::min(cfg.frame_size, max_ota_frame_size(file_));
  if (size_ == 0) state_ = State::refused;  // a name so long that no byte fits
}

std::optional<ai::OtaFrameRequest> OtaClient::due(Time now) {
  if (state_ != State::running) return std::nullopt;
  if (awaiting_) {
    if (now < deadline_) return std::nullopt;
    if (attempts_ > cfg_->retries) {
      state_ = State::timeout;
      awaiting_ = false;
      return std::nullopt;
    }
  }
  ++attempts_;
  awaiting_ = true;
  deadline_ = now + cfg_->frame_timeout;
  return ai::OtaFrameRequest{file_, frame_, size_};
}

void OtaClient::reply(const ai::FrameView& f, Time now) {
  (void)now;
  if (!waiting_for(f.seq)) return;
  awaiting_ = false;
  if (f.status != ai::status::ok) {
    state_ = State::refused;
    return;
  }
  auto r = ai::get_ota_frame_reply(f.data);
  if (!r || r->frame != frame_ || r->file != file_ || r->count > size_) {
    state_ = State::refused;  // not the frame asked for: the update cannot go on safely
    return;
  }
  for (std::uint8_t b : r->bytes) sum_ = static_cast<std::uint8_t>(sum_ + b);
  bytes_ += r->count;
  attempts_ = 0;
  if (r->count < size_) {  // the last frame (m2m-protocol(7) term.ota_frame)
    state_ = sum_ == want_ ? State::ok : State::checksum_mismatch;
    return;
  }
  if (frame_ == 0xFFFF) {
    state_ = State::refused;  // the image does not fit 65536 frames of this size
    return;
  }
  ++frame_;
}

std::string OtaClient::outcome() const {
  char buf[160];
  switch (state_) {
    case State::running:
      std::snprintf(buf, sizeof buf, "frame %u (%u bytes so far)", unsigned{frame_}, bytes_);
      return buf;
    case State::ok: return "upgrade ok: " + file_ + " " + std::to_string(bytes_) + " bytes";
    case State::checksum_mismatch:
      std::snprintf(buf, sizeof buf, "checksum mismatch: want 0x%02X got 0x%02X", unsigned{want_}, unsigned{sum_});
      return buf;
    case State::timeout: return "timeout at frame " + std::to_string(frame_);
    case State::refused:
      if (size_ == 0) return "refused: file name too long for a 1400-byte frame";
      return "refused at frame " + std::to_string(frame_) + ": the platform has no such file or frame";
  }
  return {};
}

std::string OtaClient::new_software() const {
  const auto dot = file_.rfind('.');
  const auto slash = file_.find_last_of('/');
  std::string base = file_.substr(slash == std::string::npos ? 0 : slash + 1);
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash) && dot > 0) base.resize(base.size() - (file_.size() - dot));
  return base.empty() ? file_ : base;
}

}  // namespace m2m::device
