#include "frame_writer.hpp"

#include "cli/json_pretty.hpp"
#include "m2m/json.hpp"

namespace m2m::send {

Result<void> FrameWriter::write(const ai::FrameView& f) {
  wire_.clear();
  if (auto r = ai::encode(f, crc_, wire_); !r) return r;
  std::string& out = out_.buffer();
  switch (mode_) {
    case OutMode::raw:
      out.append(reinterpret_cast<const char*>(wire_.data()), wire_.size());
      break;
    case OutMode::hex:
      append_hex(out, wire_);
      out.push_back('\n');
      break;
    case OutMode::json: {
      // Show what a receiver will decode from these bytes, not what we meant to build.
      if (auto u = ai::unescape(wire_, unescaped_); !u) return u;
      auto view = ai::decode(unescaped_, crc_);
      if (!view) return unexpected(std::move(view).error());
      if (pretty_) {
        scratch_.clear();
        ai::append_frame_json(scratch_, *view, wire_);
        cli::append_pretty_json(out, scratch_);
      } else {
        ai::append_frame_json(out, *view, wire_);
      }
      out.push_back('\n');
      break;
    }
  }
  out_.end_record();
  return {};
}

}  // namespace m2m::send
