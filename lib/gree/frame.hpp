// Gree serial frames (gree-protocol(7)): the 16-byte request and the 24-byte status frame,
// and a stream reader that cuts frames out of whatever bytes arrive on the line.
// Pure: no I/O, no clocks. Untrusted bytes give an Error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "gree/checksum.hpp"
#include "gree/remote_code.hpp"

namespace m2m::gree {

inline constexpr std::size_t kRequestSize = 16;
inline constexpr std::size_t kStatusSize = 24;
inline constexpr std::uint8_t kRequestEnd = 0x0D;
inline constexpr std::uint8_t kStatusStart = 0x08;
inline constexpr std::uint8_t kStatusEnd = 0x0F;
inline constexpr int kMaxAddress = 9999;  // 4 decimal digits; 0 = no address

enum class RequestKind : std::uint8_t {
  read = 0x06,         // read working parameters, no address check; answered
  broadcast = 0x05,    // execute on every unit; never answered
  addressed = 0x07,    // execute on the unit with this address; answered by it
  set_address = 0x0A,  // set (or clear with 0) the address, then execute; answered
};

std::string_view to_string(RequestKind k);  // "read", "broadcast", "addressed", "set_address"
bool is_request_start(std::uint8_t b);
bool expects_reply(RequestKind k);

struct Request {
  RequestKind kind = RequestKind::read;
  int address = 0;  // 0..9999; read and broadcast always carry "0000" on the wire
  // For a read (0x06) the unit ignores the code (the vendor document: it "does not receive"
  // it); encoders fill it with the factory code. Every other kind executes it.
  RemoteCode code = RemoteCode::factory();
  friend bool operator==(const Request&, const Request&) = default;
};

struct Status {
  int address = 0;
  RemoteCode code;     // the unit's remote state after executing the request
  int room_temp = 0;   // °C, 0..99
  std::uint8_t s1 = 0, s2 = 0, s3 = 0;
  friend bool operator==(const Status&, const Status&) = default;

  // status 1
  bool ventilation() const { return s1 & 0x01; }
  bool indoor_fan_low() const { return s1 & 0x02; }
  bool indoor_fan_medium() const { return s1 & 0x04; }
  bool indoor_fan_high() const { return s1 & 0x08; }
  bool heater() const { return s1 & 0x10; }
  bool light() const { return s1 & 0x20; }
  bool swing() const { return s1 & 0x40; }
  // status 2
  bool compressor() const { return s2 & 0x02; }
  bool four_way_valve() const { return s2 & 0x10; }
  bool outdoor_fan_high() const { return s2 & 0x20; }
  bool outdoor_fan_low() const { return s2 & 0x80; }
  // status 3
  std::uint8_t faults() const { return s3 & 0x3F; }  // bit n = fault E(n+1)
  bool memory() const { return s3 & 0x40; }
  bool cooling_only() const { return s3 & 0x80; }

  // The unit's settings as a remote code: the echoed code with swing, light and ventilation
  // taken from status 1, since the vendor document says the echoed bits are meaningless.
  // Sending this code back to the unit changes nothing (the "last known code").
  RemoteCode settings() const;
};

// Fault E1..E6: bit (n-1) of status 3.
std::string_view fault_message(int n);
std::optional<int> parse_fault(std::string_view code);  // "E3" / "e3" -> 3

// Encoding refuses what cannot be put on the wire (address > 9999, room temp > 99).
Result<Bytes> encode_request(const Request& r, Checksum ck = Checksum::sum8);
Result<Bytes> encode_status(const Status& s, Checksum ck = Checksum::sum8);
Result<Request> decode_request(ByteView frame, Checksum ck = Checksum::sum8);
Result<Status> decode_status(ByteView frame, Checksum ck = Checksum::sum8);

// Cuts frames out of a byte stream: a frame starts with a start code (0x05/06/07/0A request,
// 0x08 status), has only ASCII hex digits up to its end code and ends with 0x0D / 0x0F.
// Anything else is skipped and reported once per run as `garbage`, so the reader resyncs on
// the next plausible frame (a run is held until a plausible frame start follows it, it
// reaches kMaxGarbageRun bytes, or finish()). Content (checksum, digits) is checked by the decoders.
class StreamReader {
 public:
  struct Item {
    bool is_frame = false;
    Bytes bytes;              // the frame, or the skipped bytes
    std::uint64_t offset = 0; // stream offset of bytes[0]
  };

  void feed(ByteView data);
  // Next complete frame or run of garbage; nullopt when more input is needed.
  std::optional<Item> next();
  // End of input: whatever is left, as garbage (or nullopt when nothing is).
  std::optional<Item> finish();
  std::size_t buffered() const { return buf_.size() - pos_; }
  static constexpr std::size_t kMaxGarbageRun = 64;

 private:
  enum class Candidate { frame, need_more, no };
  Candidate check(std::size_t at) const;
  Item take(std::size_t n, bool is_frame);

  Bytes buf_;
  std::size_t pos_ = 0;        // first unconsumed byte in buf_
  std::uint64_t offset_ = 0;   // stream offset of buf_[pos_]
};

}  // namespace m2m::gree
