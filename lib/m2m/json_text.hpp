// Internal to the JSON layer: a minimal JSON text writer and the body writer/reader entry
// points shared by json.cpp, body_out.cpp and body_in.cpp.
//
// Decoding writes JSON text straight into the output string (no nlohmann object per frame):
// m2m-decode turns hundreds of thousands of frames a second into JSON, and building a DOM
// for each would dominate the cost. nlohmann is used for input, where convenience matters.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "m2m/frame.hpp"

namespace m2m::ai::detail {

// Appends JSON values to a string. Commas are tracked with one flag, which is enough
// because a closed object or array is itself a value of its parent.
class JsonOut {
 public:
  explicit JsonOut(std::string& s) : s_(s) {}

  JsonOut& open() { s_ += '{'; comma_ = false; return *this; }
  JsonOut& close() { s_ += '}'; comma_ = true; return *this; }
  JsonOut& open_array() { s_ += '['; comma_ = false; return *this; }
  JsonOut& close_array() { s_ += ']'; comma_ = true; return *this; }
  // Before an array element.
  JsonOut& element() { if (comma_) s_ += ','; comma_ = false; return *this; }
  JsonOut& key(std::string_view k) {
    if (comma_) s_ += ',';
    s_ += '"';
    s_ += k;  // keys are our own identifiers: no escaping needed
    s_ += "\":";
    comma_ = false;
    return *this;
  }
  JsonOut& num(std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    s_.append(buf, r.ptr);
    comma_ = true;
    return *this;
  }
  JsonOut& hex(ByteView b) {
    s_ += '"';
    append_hex(s_, b);
    s_ += '"';
    comma_ = true;
    return *this;
  }
  JsonOut& raw(std::string_view json) { s_ += json; comma_ = true; return *this; }
  JsonOut& null() { return raw("null"); }
  JsonOut& str(std::string_view utf8) {
    s_ += '"';
    for (char c : utf8) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        s_ += '\\';
        s_ += c;
      } else if (u < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        switch (c) {
          case '\n': s_ += "\\n"; break;
          case '\r': s_ += "\\r"; break;
          case '\t': s_ += "\\t"; break;
          case '\b': s_ += "\\b"; break;
          case '\f': s_ += "\\f"; break;
          default: s_ += "\\u00"; s_ += kHex[u >> 4]; s_ += kHex[u & 15];
        }
      } else {
        s_ += c;
      }
    }
    s_ += '"';
    comma_ = true;
    return *this;
  }
  std::string& text() { return s_; }

 private:
  std::string& s_;
  bool comma_ = false;
};

// Appends the body object of a catalogue command. On failure `out` is left as it was and
// the error says why the data area does not parse as the body.
Result<void> append_body(std::string& out, const FrameView& f);

}  // namespace m2m::ai::detail
