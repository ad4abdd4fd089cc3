#include "m2m/deframer.hpp"

#include <algorithm>
#include <cstring>

namespace m2m::ai {
namespace {

// Decode errors carry offsets into the unescaped frame; a stream reader needs the position of
// that byte on the wire. Walks the escaped candidate (error path only).
std::uint64_t wire_index(ByteView raw, std::uint64_t unescaped_index) {
  std::size_t i = 0;
  for (std::uint64_t u = 0; u < unescaped_index && i < raw.size(); ++u)
    i += (i > 0 && raw[i] == kEscape) ? 2 : 1;
  return i;
}

std::string too_long_message(std::uint64_t skipped, bool at_eof) {
  return "no frame within " + std::to_string(kMaxFrame) + " bytes; " +
         (at_eof ? "input ended after " : "skipped ") + std::to_string(skipped) + " bytes";
}

}  // namespace

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
  if (garbage_ == 0) Bytes().swap(garbage_raw_);
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
  std::string msg = "skipped " + std::to_string(garbage_) + (garbage_ == 1 ? " byte" : " bytes") + " outside any frame";
  if (garbage_raw_.size() < garbage_ && !garbage_raw_.empty())
    msg += " (raw holds the first " + std::to_string(garbage_raw_.size()) + ")";
  ev.error = Error{ErrorKind::garbage, garbage_off_, std::move(msg)};
  // garbage_raw_ stays as it is until the next run starts (add_garbage), which can only
  // happen in a later next(): the view is valid as long as the event's other views.
  ev.raw = garbage_raw_;
  garbage_ = 0;
  return true;
}

// Garbage runs are contiguous on the wire (bytes outside candidates, then undelimited
// candidates while resynchronising), so the kept bytes are the run's first bytes.
void Deframer::add_garbage(std::uint64_t at, ByteView bytes) {
  if (bytes.empty()) return;
  if (garbage_ == 0) {
    garbage_off_ = at;
    garbage_raw_.clear();
  }
  garbage_ += bytes.size();
  if (garbage_raw_.size() < keep_garbage_) {
    const std::size_t take = std::min(bytes.size(), keep_garbage_ - garbage_raw_.size());
    garbage_raw_.insert(garbage_raw_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
  }
}

// A candidate of `total` escaped bytes (closing 0x55 included) that cannot be a frame of at
// most kMaxFrame bytes. It is always reported (resynchronising or not), its closing 0x55
// becomes the next head, and `raw` holds at most kMaxEscaped bytes of it (never the tail), so
// the event is the same whatever the chunking.
bool Deframer::report_too_long(ByteView raw, std::uint64_t total, std::size_t tail_index, DeframeEvent& ev) {
  DeframeEvent e;
  e.raw = raw;
  e.offset = cand_off_;
  e.skipped = total - 1;
  e.error = Error{ErrorKind::too_long, cand_off_, too_long_message(e.skipped, false)};
  resync_ = true;
  start_candidate(tail_index, true);
  return emit(ev, std::move(e));
}

bool Deframer::close_candidate(ByteView raw, std::size_t tail_index, DeframeEvent& ev) {
  const std::uint64_t off = cand_off_;
  // Most frames contain no escape at all: then the wire bytes are the unescaped frame and
  // nothing needs copying.
  ByteView u = raw;
  Error err;
  bool failed = false;
  if (std::memchr(raw.data() + 1, kEscape, raw.size() - 2)) {
    if (auto un = unescape(raw, unescaped_); !un) {
      err = std::move(un).error();  // offsets are already wire offsets within raw
      err.offset += off;
      failed = true;
    } else {
      u = unescaped_;
    }
  }
  bool delimited = false;
  if (!failed) {
    auto fr = decode(u, crc_);
    if (fr) {
      // The hot path: fill the caller's event in place (or the queue slot behind a garbage
      // report) instead of building and moving a whole event.
      in_frame_ = false;
      resync_ = false;
      const bool behind = garbage_ > 0;
      DeframeEvent& out = behind ? queued_ : ev;
      out.ok = true;
      out.frame = *fr;
      out.unescaped = u;
      out.raw = raw;
      out.offset = off;
      out.skipped = 0;
      out.error = Error{};
      if (!behind) return true;
      has_queued_ = true;
      return emit_garbage(ev);
    }
    err = std::move(fr).error();
    if (err.kind == ErrorKind::too_long)
      return report_too_long(raw.first(raw.size() - 1), raw.size(), tail_index, ev);
    err.offset = off + wire_index(raw, err.offset);
    delimited = u.size() >= 3 && get_le16(&u[1]) == u.size();
  }
  DeframeEvent e;
  e.raw = raw;
  if (!failed) e.unescaped = u;
  e.offset = off;
  e.error = std::move(err);
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
    add_garbage(off, raw.first(raw.size() - 1));
    return false;
  }
  return emit(ev, std::move(e));
}

// Keeps the bytes of a candidate that runs past the end of the chunk, up to kMaxEscaped; past
// that the candidate cannot be a frame and the rest is only counted (discarding_).
void Deframer::stash(const std::uint8_t* from, std::size_t n) {
  if (partial_.empty()) {
    from = in_.data() + cand_begin_;
    n = in_.size() - cand_begin_;
  }
  std::size_t room = kMaxEscaped - partial_.size();
  std::size_t take = n < room ? n : room;
  partial_.insert(partial_.end(), from, from + take);
  if (partial_.size() >= kMaxEscaped) {
    discarding_ = true;
    discarded_ += n - take;
  }
}

bool Deframer::finish_candidate(DeframeEvent& ev) {
  in_frame_ = false;
  DeframeEvent e;
  e.offset = cand_off_;
  if (discarding_) {
    event_raw_.swap(partial_);
    partial_.clear();
    e.raw = event_raw_;
    e.skipped = event_raw_.size() + discarded_;
    e.error = Error{ErrorKind::too_long, cand_off_, too_long_message(e.skipped, true)};
    discarding_ = false;
    return emit(ev, std::move(e));
  }
  if (head_reused_ && partial_.size() <= 1) {  // only the last bad candidate's closing 0x55
    partial_.clear();
    return false;
  }
  event_raw_.swap(partial_);
  partial_.clear();
  e.raw = event_raw_;
  e.error = Error{ErrorKind::truncated, cand_off_,
                  "input ended inside a frame (" + std::to_string(event_raw_.size()) + " bytes since its head)"};
  return emit(ev, std::move(e));
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
      if (base[pos_] == kHead && garbage_ == 0) {  // the usual case: the next frame follows at once
        start_candidate(pos_, false);
        ++pos_;
        continue;
      }
      const void* hit = std::memchr(base + pos_, kHead, rem);
      const std::size_t skip = hit ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - (base + pos_)) : rem;
      add_garbage(base_ + pos_, in_.subspan(pos_, skip));
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
      if (finish_candidate(ev)) return true;
      continue;
    }
    const void* hit = std::memchr(base + pos_, kHead, rem);
    if (!hit) {
      if (discarding_) discarded_ += rem;
      else stash(base + pos_, rem);
      pos_ = in_.size();
      continue;
    }
    const std::size_t tail = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - base);
    const std::size_t here = tail + 1 - pos_;  // bytes of this chunk up to and including the 0x55
    pos_ = tail + 1;
    if (discarding_) {
      event_raw_.swap(partial_);
      return report_too_long(event_raw_, event_raw_.size() + discarded_ + here, tail, ev);
    }
    ByteView raw;
    if (partial_.empty()) {
      raw = in_.subspan(cand_begin_, tail - cand_begin_ + 1);
      if (raw.size() > kMaxEscaped) return report_too_long(raw.first(kMaxEscaped), raw.size(), tail, ev);
    } else {
      const std::size_t total = partial_.size() + here;
      const std::size_t take = total > kMaxEscaped ? kMaxEscaped - partial_.size() : here;
      partial_.insert(partial_.end(), base + tail + 1 - here, base + tail + 1 - here + take);
      event_raw_.swap(partial_);
      partial_.clear();
      if (total > kMaxEscaped) return report_too_long(event_raw_, total, tail, ev);
      raw = event_raw_;
    }
    if (raw.size() == 2) {  // `55 55`: the second 0x55 starts the next frame
      start_candidate(tail, false);
      continue;
    }
    if (close_candidate(raw, tail, ev)) return true;
  }
}

}  // namespace m2m::ai
