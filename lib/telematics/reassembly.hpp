// Sub-package reassembly (telematics-protocol(7) "SUB-PACKAGES"). Frames with the
// sub-package bit carry part `number` (1-based) of `total`; the parts of one message share
// message id, terminal id and total. When every part has arrived the bodies are joined in
// part order into one message. A set that cannot complete is reported: at end of input, when
// a part number arrives a second time (the terminal started over), or when the pending sets
// hold more than kMaxPendingBytes or number more than kMaxPendingSets (oldest first).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "telematics/frame.hpp"

namespace m2m::telematics {

struct Reassembled {
  Frame frame;                 // header of part 1 (sub-package bit clear), the joined body
  std::uint16_t parts = 0;
  std::uint64_t offset = 0;    // stream offset of the earliest part
};

struct Incomplete {
  std::uint16_t id = 0;
  TerminalId terminal{};
  std::uint16_t total = 0;
  std::vector<std::uint16_t> missing;  // part numbers never seen
  std::uint64_t offset = 0;            // stream offset of the earliest part received
  Error error() const;                 // kind truncated, message naming the missing parts
};

class Reassembler {
 public:
  static constexpr std::size_t kMaxPendingBytes = 4u << 20;  // bodies + kPartCost per part
  static constexpr std::size_t kMaxPendingSets = 1024;
  static constexpr std::size_t kPartCost = 128;  // so a flood of empty parts is bounded too

  // Adds one sub-package frame seen at stream `offset`. Sets given up on go to `dropped`.
  // A bad part number (0 or above total) is reported as an Error.
  Result<std::optional<Reassembled>> add(const FrameView& f, std::uint64_t offset, std::vector<Incomplete>& dropped);
  // End of input: every set still pending, earliest first.
  std::vector<Incomplete> finish();
  std::size_t pending() const { return sets_.size(); }

 private:
  using Key = std::tuple<std::uint16_t, TerminalId, std::uint16_t>;
  struct Set {
    std::map<std::uint16_t, Frame> parts;
    std::uint64_t offset = 0;
    std::uint64_t order = 0;
    std::size_t bytes = 0;
  };
  Incomplete give_up(const Key& k, const Set& s) const;

  std::map<Key, Set> sets_;
  std::size_t bytes_ = 0;
  std::uint64_t order_ = 0;
};

}  // namespace m2m::telematics
