#include "telematics/reassembly.hpp"

#include <algorithm>
#include <cstdio>

#include "telematics/messages.hpp"

namespace m2m::telematics {

Error Incomplete::error() const {
  std::string list;
  for (std::size_t i = 0; i < missing.size() && i < 20; ++i) list += (i ? "," : "") + std::to_string(missing[i]);
  if (missing.size() > 20) list += ",…";
  char idhex[8];
  std::snprintf(idhex, sizeof idhex, "%04X", id);
  return Error{ErrorKind::truncated, offset,
               "sub-packaged " + std::string(type_name(id)) + " (0x" + idhex + ") from terminal " + format_terminal(terminal) +
                   ": " + std::to_string(total - missing.size()) + " of " + std::to_string(total) +
                   " parts arrived; missing " + list};
}

Incomplete Reassembler::give_up(const Key& k, const Set& s) const {
  Incomplete r;
  r.id = std::get<0>(k);
  r.terminal = std::get<1>(k);
  r.total = std::get<2>(k);
  r.offset = s.offset;
  for (std::uint32_t n = 1; n <= r.total; ++n)
    if (!s.parts.contains(static_cast<std::uint16_t>(n))) r.missing.push_back(static_cast<std::uint16_t>(n));
  return r;
}

Result<std::optional<Reassembled>> Reassembler::add(const FrameView& f, std::uint64_t offset,
                                                    std::vector<Incomplete>& dropped) {
  if (f.number == 0 || f.number > f.total)
    return fail(ErrorKind::bad_value,
                "sub-package number " + std::to_string(f.number) + " of " + std::to_string(f.total) + " (parts count from 1)");
  const Key key{f.id, f.terminal, f.total};
  auto it = sets_.find(key);
  if (it != sets_.end() && it->second.parts.contains(f.number)) {  // the terminal started over
    dropped.push_back(give_up(it->first, it->second));
    bytes_ -= it->second.bytes;
    sets_.erase(it);
    it = sets_.end();
  }
  if (it == sets_.end()) {
    it = sets_.emplace(key, Set{}).first;
    it->second.offset = offset;
    it->second.order = order_++;
  }
  Set& s = it->second;
  s.parts.emplace(f.number, Frame::from(f));
  s.bytes += f.body.size() + kPartCost;
  bytes_ += f.body.size() + kPartCost;
  if (s.parts.size() == f.total) {
    Reassembled r;
    const Frame& first = s.parts.begin()->second;
    r.frame = first;
    r.frame.subpackage = false;
    r.frame.total = r.frame.number = 0;
    r.frame.body.clear();
    for (auto& [n, part] : s.parts) r.frame.body.insert(r.frame.body.end(), part.body.begin(), part.body.end());
    r.parts = f.total;
    r.offset = s.offset;
    bytes_ -= s.bytes;
    sets_.erase(it);
    return std::optional<Reassembled>(std::move(r));
  }
  // Bound memory: give up the oldest sets first.
  while ((bytes_ > kMaxPendingBytes || sets_.size() > kMaxPendingSets) && !sets_.empty()) {
    auto oldest = std::min_element(sets_.begin(), sets_.end(),
                                   [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
    dropped.push_back(give_up(oldest->first, oldest->second));
    bytes_ -= oldest->second.bytes;
    sets_.erase(oldest);
  }
  return std::optional<Reassembled>();
}

std::vector<Incomplete> Reassembler::finish() {
  std::vector<std::pair<std::uint64_t, Incomplete>> all;
  for (auto& [k, s] : sets_) all.emplace_back(s.order, give_up(k, s));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  sets_.clear();
  bytes_ = 0;
  std::vector<Incomplete> out;
  for (auto& [o, i] : all) out.push_back(std::move(i));
  return out;
}

}  // namespace m2m::telematics
