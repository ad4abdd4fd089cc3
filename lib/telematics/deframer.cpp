#include "telematics/deframer.hpp"

#include <cstring>

namespace m2m::telematics {
namespace {

// Wire index (within raw, flags included) of the content byte `u`.
std::uint64_t wire_index(ByteView raw, std::uint64_t u) {
  std::size_t i = 1;
  for (std::uint64_t k = 0; k < u && i < raw.size(); ++k) i += raw[i] == kEscape ? 2 : 1;
  return i;
}

}  // namespace

void Deframer::push(DeframeEvent&& e) {
  flush_garbage();
  queue_.push_back(std::move(e));
}

void Deframer::add_garbage(std::uint64_t at, std::uint64_t n) {
  if (n == 0) return;
  if (garbage_ == 0) garbage_off_ = at;
  garbage_ += n;
}

void Deframer::flush_garbage() {
  if (garbage_ == 0) return;
  DeframeEvent e;
  e.offset = garbage_off_;
  e.skipped = garbage_;
  e.error = Error{ErrorKind::garbage, garbage_off_,
                  "skipped " + std::to_string(garbage_) + (garbage_ == 1 ? " byte" : " bytes") + " outside any frame"};
  garbage_ = 0;
  queue_.push_back(std::move(e));
}

void Deframer::start(std::uint64_t at, bool reused) {
  in_frame_ = true;
  head_reused_ = reused;
  cand_off_ = at;
  buf_.assign(1, kFlag);
  discarded_ = 0;
}

void Deframer::too_long(std::uint64_t total, std::uint64_t tail_at, bool at_eof) {
  DeframeEvent e;
  e.raw = buf_;
  e.offset = cand_off_;
  e.skipped = at_eof ? total : total - 1;
  e.error = Error{ErrorKind::too_long, cand_off_,
                  "no frame within " + std::to_string(kMaxEscaped) + " bytes; " + (at_eof ? "input ended after " : "skipped ") +
                      std::to_string(e.skipped) + " bytes"};
  push(std::move(e));
  resync_ = true;
  if (at_eof) in_frame_ = false;
  else start(tail_at, true);
}

void Deframer::close(std::uint64_t tail_at) {
  if (buf_.size() == 1 && discarded_ == 0) {  // `7e 7e`: the second flag opens the next frame
    start(tail_at, false);
    return;
  }
  const std::uint64_t total = buf_.size() + discarded_ + 1;
  if (total > kMaxEscaped) return too_long(total, tail_at, false);
  buf_.push_back(kFlag);
  const ByteView raw = buf_;
  Error err;
  bool delimited = false;
  if (auto u = unescape(raw, content_); !u) {
    err = std::move(u).error();
    err.offset += cand_off_;
  } else {
    auto f = decode(content_);
    if (f) {
      DeframeEvent e;
      e.ok = true;
      e.frame = Frame::from(*f);
      e.raw = buf_;
      e.offset = cand_off_;
      push(std::move(e));
      in_frame_ = false;
      resync_ = false;
      return;
    }
    err = std::move(f).error();
    if (err.kind == ErrorKind::too_long) {
      buf_.pop_back();
      return too_long(total, tail_at, false);
    }
    err.offset = cand_off_ + wire_index(raw, err.offset);
    delimited = length_matches(content_);
  }
  DeframeEvent e;
  e.raw = buf_;
  e.offset = cand_off_;
  e.error = std::move(err);
  if (delimited) {
    in_frame_ = false;
    resync_ = false;
    push(std::move(e));
    return;
  }
  // Not delimited by its length: the closing flag is probably the next frame's opening one.
  const bool was_resync = resync_;
  const std::uint64_t off = cand_off_, size = raw.size() - 1;
  resync_ = true;
  start(tail_at, true);
  if (was_resync) add_garbage(off, size);
  else push(std::move(e));
}

void Deframer::feed(ByteView chunk) {
  const std::uint8_t* p = chunk.data();
  std::size_t rem = chunk.size();
  while (rem > 0) {
    const void* hit = std::memchr(p, kFlag, rem);
    const std::size_t n = hit ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - p) : rem;
    if (!in_frame_) {
      add_garbage(pos_, n);
    } else {
      const std::size_t room = kMaxEscaped - std::min(buf_.size(), kMaxEscaped);
      const std::size_t take = std::min(n, room);
      buf_.insert(buf_.end(), p, p + take);
      discarded_ += n - take;
    }
    pos_ += n;
    p += n;
    rem -= n;
    if (!hit) break;
    if (in_frame_) close(pos_);
    else start(pos_, false);
    ++pos_;
    ++p;
    --rem;
  }
}

void Deframer::finish() {
  if (in_frame_) {
    in_frame_ = false;
    const std::uint64_t total = buf_.size() + discarded_;
    if (total > kMaxEscaped) {
      in_frame_ = true;
      too_long(total, 0, true);
    } else if (!(head_reused_ && buf_.size() <= 1)) {
      DeframeEvent e;
      e.raw = buf_;
      e.offset = cand_off_;
      e.error = Error{ErrorKind::truncated, cand_off_,
                      "input ended inside a frame (" + std::to_string(buf_.size()) + " bytes since its flag)"};
      push(std::move(e));
    }
  }
  flush_garbage();
}

bool Deframer::next(DeframeEvent& ev) {
  if (queue_.empty()) return false;
  ev = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

}  // namespace m2m::telematics
