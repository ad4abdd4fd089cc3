// Writes the seed corpus of the fuzz targets (the files are committed; rerun after a format
// change):
//   g++ -std=c++23 -Ilib tests/fuzz/make_corpus.cpp lib/core/*.cpp lib/m2m/frame.cpp -o /tmp/make_corpus
//   /tmp/make_corpus tests/fuzz/corpus
// deframer/: byte 0 = CRC variant, bytes 1-3 = chunk sizes (see deframer_fuzz.cpp), then the
//            wire bytes.
// json/:     frame objects as m2m-decode prints them and as people write them by hand.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "m2m/frame.hpp"

using namespace m2m;
using namespace m2m::ai;
namespace fs = std::filesystem;

namespace {

const Bytes kToken = {0x55, 0x54, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

Bytes wire(Frame f, CrcVariant crc = CrcVariant::modbus) {
  auto w = encode(f, crc);
  if (!w) {
    std::fprintf(stderr, "make_corpus: %s\n", w.error().message.c_str());
    std::exit(1);
  }
  return *w;
}

Frame frame(std::uint8_t cls, std::uint8_t cmd, std::uint8_t st, Bytes data, Bytes token = kToken) {
  return Frame{cls, cmd, 0x0155, 0, st, 0x0000000000FED24Aull, std::move(token), std::move(data)};
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Chunk bytes c give (c % 97) + 1 bytes per feed(): {0, 0, 0} feeds one byte at a time.
struct Header {
  CrcVariant crc;
  std::uint8_t chunks[3];
};
constexpr Header kWhole{CrcVariant::modbus, {96, 96, 96}}, kBytewise{CrcVariant::modbus, {0, 0, 0}},
    kOdd{CrcVariant::modbus, {6, 22, 1}};

void write_stream(const fs::path& dir, const std::string& name, Header h, const std::vector<Bytes>& parts) {
  std::string s = {static_cast<char>(h.crc), static_cast<char>(h.chunks[0]), static_cast<char>(h.chunks[1]),
                   static_cast<char>(h.chunks[2])};
  for (const Bytes& b : parts) s.append(b.begin(), b.end());
  write(dir / name, s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  const fs::path deframer = fs::path(argv[1]) / "deframer", json = fs::path(argv[1]) / "json";
  fs::create_directories(deframer);
  fs::create_directories(json);

  const Bytes login = wire(frame(0xA0, 0x00, status::request, {1, 2, 3, 4, 5, 6, 7, 8}, {}));
  const Bytes login_ok = wire(frame(0xA0, 0x00, status::ok, {0x08, 0x55, 0x54, 3, 4, 5, 6, 7, 8}, {}));
  const Bytes heartbeat = wire(frame(0xA0, 0x01, status::request, {}));
  const Bytes uplink = wire(frame(0xAA, 0xEE, status::request, {0x55, 0x54, 0x55, 0x00, 'h', 'i'}));
  const Bytes relay = wire(frame(0xAA, 0x55, status::request, {0, 0, 0, 0, 0, 0xAB, 0xCD, 0xEF, 'x'}));
  const Bytes config = wire(frame(0xF0, 0xAA, status::ok, {0x05, 0x00, 0x22, 0x21, 0x01, 'h', 'o', 's', 't', 0}));
  const Bytes event = wire(frame(0xF0, 0xF0, status::request, {0x20, 0xD5, 0xFD, 0xB3, 0xA3, 0}));  // "正常" in GBK
  const Bytes group = wire(frame(0xAA, 0x00, status::ok,
                                 {0, 0, 0, 0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 127, 0, 0, 1, 0x1F, 0x90}));
  Bytes bad_crc = uplink;
  bad_crc[bad_crc.size() - 2] ^= 0x01;
  const Bytes truncated(heartbeat.begin(), heartbeat.begin() + 12);
  const Bytes garbage = {0x00, 0x13, 0x54, 0xFF};

  write_stream(deframer, "login", kWhole, {login});
  write_stream(deframer, "login_ok_chunked", kOdd, {login_ok});
  write_stream(deframer, "uplink_escapes", kWhole, {uplink});
  write_stream(deframer, "relay_bytewise", kBytewise, {relay});
  write_stream(deframer, "config_read_ok", kWhole, {config});
  write_stream(deframer, "event_gbk", kOdd, {event});
  write_stream(deframer, "group_list", kWhole, {group});
  write_stream(deframer, "heartbeat_xmodem", Header{CrcVariant::xmodem, {96, 96, 96}}, {wire(frame(0xA0, 0x01, status::request, {}), CrcVariant::xmodem)});
  write_stream(deframer, "heartbeat_ccitt", Header{CrcVariant::ccitt_false, {3, 0, 40}}, {wire(frame(0xA0, 0x01, status::request, {}), CrcVariant::ccitt_false)});
  write_stream(deframer, "mixed", kWhole, {garbage, login, heartbeat, bad_crc, garbage, uplink, config, truncated});
  write_stream(deframer, "mixed_chunked", kOdd, {heartbeat, garbage, relay, bad_crc, event, truncated});
  write_stream(deframer, "mid_frame_join", kBytewise, {Bytes(uplink.begin() + 7, uplink.end()), heartbeat, group});

  const char* objects[] = {
      R"({"type":"link.login","seq":1,"device":"0000000000FED24A","body":{"password":"0102030405060708"}})",
      R"({"type":"link.login","status":"ok","seq":1,"device":"FED24A","body":{"token":"5554030405060708"}})",
      R"({"type":"link.heartbeat","seq":2,"device":"AA:BB:CC:DD:EE:FF","token":"0102030405060708"})",
      R"({"type":"data.uplink","seq":3,"device":"0x1","token":"","body":{"payload":"555455"}})",
      R"({"type":"data.relay","device":"1","token":"00","body":{"peer":"00000000ABCDEF00","text":"hello"}})",
      R"({"type":"term.config_write","device":"2","token":"01","body":{"param":"server","value":{"host":"example.com","port":8266,"transport":"tcp"}}})",
      R"({"type":"term.config_read","status":"ok","device":"2","token":"01","body":{"param":"rtc","value":{"datetime":"2015-06-01T12:30:00","weekday":1}}})",
      R"({"type":"term.event","device":"3","token":"01","body":{"code":32,"description":"正常"}})",
      R"({"type":"term.ota_frame","status":"ok","device":"3","token":"01","body":{"file":"fw.bin","frame":1,"count":2,"bytes":"5554"}})",
      R"({"class":170,"cmd":17,"status":7,"seq":65535,"ext":21845,"device":"FFFFFFFFFFFFFFFF","token":"","data":"54"})",
      R"({"type":"data.group_list","status":"ok","device":"4","token":"01","body":{"devices":[{"id":"1","token":"0102","ip":"10.0.0.1","port":8266}]}})",
  };
  int n = 0;
  for (const char* o : objects) write(json / ("frame" + std::to_string(n++)), o);
  std::printf("make_corpus: wrote %s and %s\n", deframer.c_str(), json.c_str());
  return 0;
}
