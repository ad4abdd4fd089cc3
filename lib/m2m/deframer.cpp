#include "m2m/deframer.hpp"

#include <cstring>

namespace m2m::ai {

void Deframer::feed(ByteView chunk) {
  base_ += in_.size();
  in_ = chunk;
  pos_ = 0;
}

void Deframer::finish() { eof_ = true; }

void Deframer::release_memory() {
  if (partial_.empty()) Bytes().swap(partial_);
  Bytes().swap(event_raw_);
  Bytes().swap(unescaped_);
}

void Deframer::start_candidate(std::size_t head_index, bool reused) {
  in_frame_ = true;
  discarding_ = false;
  discarded_ = 0;
  head_reused_ = reused;
  partial_.clear();
  cand_begin_ = head_index;
  cand_off_ = base_ + head_index;
}

bool Deframer::emit(DeframeEvent& ev, DeframeEvent&& e) {
  if (garbage_ > 0) {
    // Garbage precedes this event in the stream: hand it out first, this one next.
    queued_ = std::move(e);
    has_queued_ = true;
    return emit_garbage(ev);
  }
  ev = std::move(e);
  return true;
}

bool Deframer::emit_garbage(DeframeEvent& ev) {
  ev = DeframeEvent{};
  ev.offset = garbage_off_;
  ev.skipped = garbage_;
  ev.error = Error{ErrorKind::garbage, garbage_off_,
                   "skipped " + std::to_string(garbage_) + (garbage_ == 1 ? " byte" : " bytes") + " outside any frame"};
  garbage_ = 0;
  return true;
}

void Deframer::add_garbage(std::uint64_t at, std::uint64_t n) {
  if (n == 0) return;
  if (garbage_ == 0) garbage_off_ = at;
  garbage_ += n;
}

bool Deframer::close_candidate(ByteView raw, std::size_t tail_index, DeframeEvent& ev) {
  const std::uint64_t off = cand_off_;
  auto un = unescape(raw, unescaped_);
  Result<FrameView> fr = fail(ErrorKind::bad_value, "");
  bool delimited = false;
  if (un) {
    fr = decode(unescaped_, crc_);
    delimited = unescaped_.size() >= 3 && get_le16(&unescaped_[1]) == unescaped_.size();
  }
  DeframeEvent e;
  e.raw = raw;
  e.offset = off;
  if (un && fr) {
    in_frame_ = false;
    resync_ = false;
    e.ok = true;
    e.frame = *fr;
    e.unescaped = unescaped_;
    return emit(ev, std::move(e));
  }
  e.error = un ? std::move(fr).error() : std::move(un).error();
  e.error.offset += off;
  if (delimited) {
    in_frame_ = false;
    resync_ = false;
    return emit(ev, std::move(e));
  }
  // Not delimited by its length: the closing 0x55 is probably the next frame's head.
  const bool was_resync = resync_;
  resync_ = true;
  start_candidate(tail_index, true);
  if (was_resync) {
    add_garbage(off, raw.size() - 1);
    return false;
  }
  return emit(ev, std::move(e));
}

void Deframer::stash(const std::uint8_t* from, std::size_t n) {
  if (partial_.empty()) {
    from = in_.data() + cand_begin_;
    n = in_.size() - cand_begin_;
  }
  std::size_t room = partial_.size() < kMaxEscaped ? kMaxEscaped - partial_.size() : 0;
  std::size_t take = n < room ? n : room;
  partial_.insert(partial_.end(), from, from + take);
  if (take < n || partial_.size() >= kMaxEscaped) {
    discarding_ = true;
    discarded_ += n - take;
  }
}

bool Deframer::next(DeframeEvent& ev) {
  if (has_queued_) {
    has_queued_ = false;
    ev = std::move(queued_);
    return true;
  }
  const std::uint8_t* base = in_.data();
  for (;;) {
    const std::size_t rem = in_.size() - pos_;
    if (!in_frame_) {
      if (rem == 0) return eof_ && garbage_ > 0 ? emit_garbage(ev) : false;
      const void* hit = std::memchr(base + pos_, kHead, rem);
      const std::size_t skip = hit ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - (base + pos_)) : rem;
      add_garbage(base_ + pos_, skip);
      pos_ += skip;
      if (!hit) continue;
      start_candidate(pos_, false);
      ++pos_;
      if (garbage_ > 0) return emit_garbage(ev);
      continue;
    }
    if (rem == 0) {
      if (partial_.empty() && !discarding_) stash(nullptr, 0);  // keep the head across chunks
      if (!eof_) return false;
      in_frame_ = false;
      DeframeEvent e;
      e.offset = cand_off_;
      if (discarding_) {
        e.raw = partial_;
        e.skipped = partial_.size() + discarded_;
        e.error = Error{ErrorKind::too_long, cand_off_,
                        "no frame tail within " + std::to_string(kMaxFrame) + " bytes; input ended after " +
                            std::to_string(e.skipped) + " bytes"};
        return emit(ev, std::move(e));
      }
      if (head_reused_ && partial_.size() <= 1) continue;  // the last bad frame's tail, nothing after it
      e.raw = partial_;
      e.error = Error{ErrorKind::truncated, cand_off_,
                      "input ended inside a frame (" + std::to_string(partial_.size()) + " bytes since its head)"};
      return emit(ev, std::move(e));
    }
    const void* hit = std::memchr(base + pos_, kHead, rem);
    if (!hit) {
      if (discarding_) discarded_ += rem;
      else stash(base + pos_, rem);
      pos_ = in_.size();
      continue;
    }
    const std::size_t tail = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - base);
    if (discarding_) {
      discarded_ += tail - pos_;
      pos_ = tail + 1;
      event_raw_.swap(partial_);
      DeframeEvent e;
      e.raw = event_raw_;
      e.offset = cand_off_;
      e.skipped = event_raw_.size() + discarded_ + 1;
      e.error = Error{ErrorKind::too_long, cand_off_,
                      "no frame tail within " + std::to_string(kMaxFrame) + " bytes; skipped " +
                          std::to_string(e.skipped) + " bytes"};
      resync_ = true;
      start_candidate(tail, true);
      return emit(ev, std::move(e));
    }
    ByteView raw;
    if (partial_.empty()) {
      raw = in_.subspan(cand_begin_, tail - cand_begin_ + 1);
    } else {
      partial_.insert(partial_.end(), base + pos_, base + tail + 1);
      event_raw_.swap(partial_);
      partial_.clear();
      raw = event_raw_;
    }
    pos_ = tail + 1;
    if (raw.size() == 2) {  // `55 55`: the second 0x55 starts the next frame
      start_candidate(tail, false);
      continue;
    }
    if (close_candidate(raw, tail, ev)) return true;
  }
}

}  // namespace m2m::ai
