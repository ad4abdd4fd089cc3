#include "gree/frame.hpp"

#include <string>

namespace m2m::gree {

namespace {

constexpr const char* kHexDigits = "0123456789ABCDEF";

bool is_hex_char(std::uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}
int hex_value(std::uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return c - 'a' + 10;
}

void put_hex_byte(Bytes& out, std::uint8_t b) {
  out.push_back(static_cast<std::uint8_t>(kHexDigits[b >> 4]));
  out.push_back(static_cast<std::uint8_t>(kHexDigits[b & 0x0F]));
}
void put_decimal(Bytes& out, int value, int digits) {
  std::string s(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, value /= 10) s[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  out.insert(out.end(), s.begin(), s.end());
}

Result<int> get_decimal(ByteView f, std::size_t at, std::size_t digits, const char* what) {
  int v = 0;
  for (std::size_t i = at; i < at + digits; ++i) {
    if (f[i] < '0' || f[i] > '9')
      return fail(ErrorKind::bad_value, std::string(what) + " is not decimal digits", i);
    v = v * 10 + (f[i] - '0');
  }
  return v;
}
Result<std::uint8_t> get_hex_byte(ByteView f, std::size_t at, const char* what) {
  for (std::size_t i = at; i < at + 2; ++i)
    if (!is_hex_char(f[i])) return fail(ErrorKind::bad_value, std::string(what) + " is not hex digits", i);
  return static_cast<std::uint8_t>(hex_value(f[at]) << 4 | hex_value(f[at + 1]));
}

std::string hex2(std::uint8_t b) { return {kHexDigits[b >> 4], kHexDigits[b & 0x0F]}; }

// Checksum over frame[1 .. n-3], written at n-3 / n-2; n-1 is the end code.
void append_checksum(Bytes& out, Checksum ck) {
  put_hex_byte(out, checksum(ck, ByteView(out).subspan(1)));
}
Result<void> verify_checksum(ByteView f, Checksum ck) {
  const std::size_t at = f.size() - 3;
  auto got = get_hex_byte(f, at, "checksum");
  if (!got) return unexpected<Error>(got.error());
  const std::uint8_t want = checksum(ck, f.subspan(1, at - 1));
  if (*got != want)
    return fail(ErrorKind::bad_checksum,
                "bad checksum: frame says " + hex2(*got) + ", " + std::string(to_string(ck)) + " of its bytes is " + hex2(want),
                at);
  return {};
}

Result<RemoteCode> get_code(ByteView f, std::size_t at) {
  RemoteCode c;
  for (std::size_t i = 0; i < 4; ++i) {
    auto b = get_hex_byte(f, at + 2 * i, "remote code");
    if (!b) return unexpected<Error>(b.error());
    c.bytes[i] = *b;
  }
  return c;
}

}  // namespace

std::string_view to_string(RequestKind k) {
  switch (k) {
    case RequestKind::read: return "read";
    case RequestKind::broadcast: return "broadcast";
    case RequestKind::addressed: return "addressed";
    case RequestKind::set_address: return "set_address";
  }
  return "read";
}

RemoteCode Status::settings() const {
  RemoteCode c = code;
  c.set_swing(swing());
  c.set_light(light());
  c.set_ventilation(ventilation());
  return c;
}

bool is_request_start(std::uint8_t b) { return b == 0x05 || b == 0x06 || b == 0x07 || b == 0x0A; }
bool expects_reply(RequestKind k) { return k != RequestKind::broadcast; }

std::string_view fault_message(int n) {
  switch (n) {
    case 1: return "compressor high-pressure protection";
    case 2: return "indoor anti-freeze protection";
    case 3: return "compressor low-pressure protection";
    case 4: return "discharge over-temperature protection";
    case 5: return "low-voltage protection";
    case 6: return "communication fault";
  }
  return "unknown fault";
}

std::optional<int> parse_fault(std::string_view code) {
  if (code.size() != 2 || (code[0] != 'E' && code[0] != 'e') || code[1] < '1' || code[1] > '6') return std::nullopt;
  return code[1] - '0';
}

Result<Bytes> encode_request(const Request& r, Checksum ck) {
  if (r.address < 0 || r.address > kMaxAddress)
    return fail(ErrorKind::bad_value, "address " + std::to_string(r.address) + " out of range 0..9999");
  if (r.kind == RequestKind::addressed && r.address == 0)
    return fail(ErrorKind::bad_value, "an addressed (0x07) request needs an address 1..9999");
  Bytes out;
  out.reserve(kRequestSize);
  out.push_back(static_cast<std::uint8_t>(r.kind));
  const bool carries_address = r.kind == RequestKind::addressed || r.kind == RequestKind::set_address;
  put_decimal(out, carries_address ? r.address : 0, 4);
  for (std::uint8_t b : r.code.bytes) put_hex_byte(out, b);
  append_checksum(out, ck);
  out.push_back(kRequestEnd);
  return out;
}

Result<Bytes> encode_status(const Status& s, Checksum ck) {
  if (s.address < 0 || s.address > kMaxAddress)
    return fail(ErrorKind::bad_value, "address " + std::to_string(s.address) + " out of range 0..9999");
  if (s.room_temp < 0 || s.room_temp > 99)
    return fail(ErrorKind::bad_value, "room temperature " + std::to_string(s.room_temp) + " out of range 0..99");
  Bytes out;
  out.reserve(kStatusSize);
  out.push_back(kStatusStart);
  put_decimal(out, s.address, 4);
  for (std::uint8_t b : s.code.bytes) put_hex_byte(out, b);
  put_decimal(out, s.room_temp, 2);
  put_hex_byte(out, s.s1);
  put_hex_byte(out, s.s2);
  put_hex_byte(out, s.s3);
  append_checksum(out, ck);
  out.push_back(kStatusEnd);
  return out;
}

Result<Request> decode_request(ByteView f, Checksum ck) {
  if (f.size() != kRequestSize)
    return fail(ErrorKind::bad_length, "a request is 16 bytes, got " + std::to_string(f.size()));
  if (!is_request_start(f[0])) return fail(ErrorKind::bad_value, "start code " + hex2(f[0]) + " is not a request (05/06/07/0A)");
  if (f[kRequestSize - 1] != kRequestEnd)
    return fail(ErrorKind::bad_value, "end code " + hex2(f[kRequestSize - 1]) + " is not 0D", kRequestSize - 1);
  Request r;
  r.kind = static_cast<RequestKind>(f[0]);
  auto addr = get_decimal(f, 1, 4, "address");
  if (!addr) return unexpected<Error>(addr.error());
  r.address = *addr;
  auto code = get_code(f, 5);
  if (!code) return unexpected<Error>(code.error());
  r.code = *code;
  if (auto ok = verify_checksum(f, ck); !ok) return unexpected<Error>(ok.error());
  return r;
}

Result<Status> decode_status(ByteView f, Checksum ck) {
  if (f.size() != kStatusSize)
    return fail(ErrorKind::bad_length, "a status frame is 24 bytes, got " + std::to_string(f.size()));
  if (f[0] != kStatusStart) return fail(ErrorKind::bad_value, "start code " + hex2(f[0]) + " is not a status frame (08)");
  if (f[kStatusSize - 1] != kStatusEnd)
    return fail(ErrorKind::bad_value, "end code " + hex2(f[kStatusSize - 1]) + " is not 0F", kStatusSize - 1);
  Status s;
  auto addr = get_decimal(f, 1, 4, "address");
  if (!addr) return unexpected<Error>(addr.error());
  s.address = *addr;
  auto code = get_code(f, 5);
  if (!code) return unexpected<Error>(code.error());
  s.code = *code;
  auto room = get_decimal(f, 13, 2, "room temperature");
  if (!room) return unexpected<Error>(room.error());
  s.room_temp = *room;
  std::uint8_t* st[] = {&s.s1, &s.s2, &s.s3};
  for (std::size_t i = 0; i < 3; ++i) {
    auto b = get_hex_byte(f, 15 + 2 * i, "status byte");
    if (!b) return unexpected<Error>(b.error());
    *st[i] = *b;
  }
  if (auto ok = verify_checksum(f, ck); !ok) return unexpected<Error>(ok.error());
  return s;
}

// ---- stream reader ----

void StreamReader::feed(ByteView data) {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {  // compact: keeps the buffer at one partial frame + input
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

StreamReader::Candidate StreamReader::check(std::size_t at) const {
  const std::uint8_t start = buf_[at];
  std::size_t len;
  std::uint8_t end;
  if (start == kStatusStart) { len = kStatusSize; end = kStatusEnd; }
  else if (is_request_start(start)) { len = kRequestSize; end = kRequestEnd; }
  else return Candidate::no;
  const std::size_t avail = buf_.size() - at;
  for (std::size_t i = 1; i < len && i < avail; ++i) {
    const std::uint8_t b = buf_[at + i];
    if (i == len - 1) return b == end ? Candidate::frame : Candidate::no;
    if (!is_hex_char(b)) return Candidate::no;
  }
  return Candidate::need_more;
}

StreamReader::Item StreamReader::take(std::size_t n, bool is_frame) {
  Item it;
  it.is_frame = is_frame;
  it.offset = offset_;
  it.bytes.assign(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
  pos_ += n;
  offset_ += n;
  if (pos_ == buf_.size()) { buf_.clear(); pos_ = 0; }
  return it;
}

std::optional<StreamReader::Item> StreamReader::next() {
  for (std::size_t at = pos_; at < buf_.size(); ++at) {
    const Candidate c = check(at);
    if (c == Candidate::no) continue;
    if (at > pos_) return take(at - pos_, false);  // the garbage before a plausible frame
    if (c == Candidate::need_more) return std::nullopt;
    return take(buf_[at] == kStatusStart ? kStatusSize : kRequestSize, true);
  }
  // Nothing plausible in the buffer: hold the garbage so a run is reported once, but not
  // beyond kMaxGarbageRun bytes, so a noisy line never grows the buffer.
  if (buffered() >= kMaxGarbageRun) return take(buffered(), false);
  return std::nullopt;
}

std::optional<StreamReader::Item> StreamReader::finish() {
  if (auto it = next()) return it;
  if (buffered() > 0) return take(buffered(), false);
  return std::nullopt;
}

}  // namespace m2m::gree
