// libFuzzer target: the telematics deframer, the frame <-> JSON round trip, reassembly and
// the SMS parser.
//
// Input: 4 header bytes, then the stream.
//   byte 0      mode: even = wire stream, odd = SMS text (the stream as one message)
//   bytes 1..3  chunk sizes, cycled: (b % 97) + 1 bytes per feed()
// Checks (abort on failure):
//   * the deframer's events are identical whatever the chunking;
//   * no event holds more than kMaxEscaped raw bytes and buffered() never exceeds it;
//   * every good frame survives append_frame_json -> frame_from_json -> encode byte for byte;
//   * sub-package parts go through the Reassembler without crashing; a reassembled body is
//     the sum of its parts;
//   * an SMS text that parses formats back to its cleaned text, which parses the same.
// Seeds (tests/fuzz/corpus/telematics): the 4 header bytes, then frames built by an
// independent encoder of telematics-protocol(7) "FRAME" (logins, general replies, escapes,
// complete and incomplete sub-packages, an encrypted body, bluetooth_order with an additional
// field, garbage and bad frames) or SMS texts (mode byte odd).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "telematics/deframer.hpp"
#include "telematics/json.hpp"
#include "telematics/reassembly.hpp"
#include "telematics/sms.hpp"

using namespace m2m;
using namespace m2m::telematics;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "telematics_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

std::string describe(const DeframeEvent& ev) {
  std::string s = ev.ok ? "ok" : std::string(to_string(ev.error.kind));
  s += " " + std::to_string(ev.offset) + " " + std::to_string(ev.error.offset) + " " + std::to_string(ev.skipped) + " ";
  append_hex(s, ev.raw);
  return s;
}

void round_trip(const DeframeEvent& ev) {
  std::string line;
  append_frame_json(line, ev.frame.view(), ev.raw);
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  check(!j.is_discarded(), "frame JSON parses");
  auto back = frame_from_json(j);
  if (!back) {
    std::fprintf(stderr, "frame_from_json refused its own output: %s\n%s\n", back.error().message.c_str(), line.c_str());
    std::abort();
  }
  auto wire = encode(*back);
  check(wire.has_value(), "a decoded frame re-encodes");
  if (*wire != ev.raw) {
    std::fprintf(stderr, "re-encoded bytes differ\n in: %s\nout: %s\njson: %s\n", to_hex(ev.raw).c_str(),
                 to_hex(*wire).c_str(), line.c_str());
    std::abort();
  }
}

std::vector<std::string> run(ByteView stream, const std::uint8_t* sizes, bool deep) {
  Deframer d;
  Reassembler r;
  std::vector<Incomplete> dropped;
  std::vector<std::string> out;
  DeframeEvent ev;
  std::size_t at = 0, k = 0;
  auto drain = [&] {
    while (d.next(ev)) {
      check(ev.raw.size() <= kMaxEscaped, "raw bounded");
      out.push_back(describe(ev));
      if (!ev.ok || !deep) continue;
      round_trip(ev);
      if (!ev.frame.subpackage) continue;
      auto m = r.add(ev.frame.view(), ev.offset, dropped);
      if (m && *m) {
        check((*m)->parts == ev.frame.total, "all parts joined");
        std::string s;
        append_reassembled_json(s, **m);
        check(!nlohmann::json::parse(s, nullptr, false).is_discarded(), "reassembled JSON parses");
      }
    }
    check(d.buffered() <= kMaxEscaped, "buffer bounded");
  };
  while (at < stream.size()) {
    std::size_t n = sizes ? static_cast<std::size_t>(sizes[k++ % 3] % 97) + 1 : stream.size();
    if (n > stream.size() - at) n = stream.size() - at;
    d.feed(stream.subspan(at, n));
    at += n;
    drain();
  }
  d.finish();
  drain();
  for (const Incomplete& i : r.finish()) check(!i.missing.empty(), "an incomplete set misses a part");
  return out;
}

void sms(ByteView text) {
  const std::string_view s(reinterpret_cast<const char*>(text.data()), text.size());
  auto c = parse_sms(s);
  if (!c) return;
  auto f = format_sms(*c);
  check(f.has_value(), "a parsed SMS formats");
  check(*f == sms_clean(s), "format(parse(x)) is x without the ignored characters");
  auto again = parse_sms(*f);
  check(again && *again == *c, "SMS round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  ByteView stream(data + 4, size - 4);
  if (data[0] & 1) {
    sms(stream);
    return 0;
  }
  auto chunked = run(stream, data + 1, true);
  auto whole = run(stream, nullptr, false);
  check(chunked == whole, "events independent of chunking");
  return 0;
}
