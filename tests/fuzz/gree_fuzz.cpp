// libFuzzer target: the Gree serial codec (lib/gree) on arbitrary bytes.
//
// Input: 4 header bytes, then the line.
//   byte 0      bit 0: checksum variant (0 sum8, 1 xor8)
//   bytes 1..3  chunk sizes, cycled: (b % 31) + 1 bytes per feed()
// Checks (abort on failure):
//   * decode_status / decode_request never crash on the whole input, on every frame the
//     stream reader cuts out, and on every 16/24-byte window of the input;
//   * the stream reader loses and duplicates nothing: its items tile the input exactly, in
//     order, with contiguous offsets; the frames it finds are the same whatever the chunking;
//     after draining, it holds less than kMaxGarbageRun bytes;
//   * every frame that decodes survives Frame -> JSON -> text -> JSON -> encode_json
//     byte for byte against the canonical encoding, and the canonical encoding decodes back
//     to the same value;
//   * if the line parses as JSON, encode_json either refuses it or builds a frame that decodes.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gree/frame.hpp"
#include "gree/json.hpp"

using namespace m2m;
using namespace m2m::gree;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "gree_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

Json through_text(const Json& j) {
  const std::string text = j.dump();
  Json back = Json::parse(text, nullptr, false);
  check(!back.is_discarded(), "decoded JSON serialises to parseable text");
  return back;
}

void round_trip_status(const Status& s, Checksum ck) {
  auto canonical = encode_status(s, ck);
  check(canonical.has_value(), "a decoded status re-encodes");
  auto again = decode_status(*canonical, ck);
  check(again.has_value() && *again == s, "canonical status decodes to the same value");
  auto rebuilt = encode_json(through_text(status_to_json(s, ck)), ck);
  check(rebuilt.has_value(), "status JSON encodes");
  check(*rebuilt == *canonical, "status -> JSON -> frame is byte-exact");
}

void round_trip_request(const Request& r, Checksum ck) {
  auto canonical = encode_request(r, ck);
  if (!canonical) {
    // Only an addressed request to address 0000 is refused: nothing on a bus answers it.
    check(r.kind == RequestKind::addressed && r.address == 0, "a decoded request re-encodes");
    return;
  }
  auto again = decode_request(*canonical, ck);
  check(again.has_value() && again->kind == r.kind && again->code == r.code, "canonical request decodes back");
  auto rebuilt = encode_json(through_text(request_to_json(r, ck)), ck);
  check(rebuilt.has_value(), "request JSON encodes");
  check(*rebuilt == *canonical, "request -> JSON -> frame is byte-exact");
}

void decode_any(ByteView f, Checksum ck) {
  if (auto s = decode_status(f, ck)) round_trip_status(*s, ck);
  if (auto r = decode_request(f, ck)) round_trip_request(*r, ck);
}

struct Reading {
  std::vector<StreamReader::Item> items;
};

Reading read_stream(ByteView line, const std::uint8_t* chunks, bool whole) {
  Reading out;
  StreamReader rd;
  std::size_t at = 0, k = 0;
  while (at < line.size()) {
    const std::size_t n = whole ? line.size() : std::min<std::size_t>(line.size() - at, chunks[k++ % 3] % 31 + 1);
    rd.feed(line.subspan(at, n));
    at += n;
    while (auto it = rd.next()) out.items.push_back(std::move(*it));
    check(rd.buffered() < StreamReader::kMaxGarbageRun, "reader holds less than one garbage run after draining");
  }
  while (auto it = rd.finish()) out.items.push_back(std::move(*it));
  check(rd.buffered() == 0, "finish() empties the reader");
  return out;
}

void check_tiling(const Reading& r, ByteView line) {
  std::uint64_t expect = 0;
  for (const auto& it : r.items) {
    check(!it.bytes.empty(), "no empty items");
    check(it.offset == expect, "offsets are contiguous");
    check(it.offset + it.bytes.size() <= line.size(), "items stay inside the input");
    check(std::equal(it.bytes.begin(), it.bytes.end(), line.begin() + static_cast<std::ptrdiff_t>(it.offset)),
          "items carry the input's bytes");
    if (it.is_frame) {
      const std::uint8_t start = it.bytes[0];
      check((start == kStatusStart && it.bytes.size() == kStatusSize) ||
                (is_request_start(start) && it.bytes.size() == kRequestSize),
            "a frame item has its kind's length");
    }
    expect += it.bytes.size();
  }
  check(expect == line.size(), "items cover the whole input");
}

std::vector<std::pair<std::uint64_t, Bytes>> frames_of(const Reading& r) {
  std::vector<std::pair<std::uint64_t, Bytes>> f;
  for (const auto& it : r.items)
    if (it.is_frame) f.emplace_back(it.offset, it.bytes);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const Checksum ck = (data[0] & 1) ? Checksum::xor8 : Checksum::sum8;
  const std::uint8_t* chunks = data + 1;
  const ByteView line(data + 4, size - 4);

  decode_any(line, ck);
  for (std::size_t len : {kRequestSize, kStatusSize})
    for (std::size_t at = 0; at + len <= line.size() && at < 256; ++at) decode_any(line.subspan(at, len), ck);

  const Reading chunked = read_stream(line, chunks, false);
  const Reading whole = read_stream(line, chunks, true);
  check_tiling(chunked, line);
  check_tiling(whole, line);
  check(frames_of(chunked) == frames_of(whole), "the same frames whatever the chunking");
  for (const auto& it : chunked.items)
    if (it.is_frame) decode_any(it.bytes, ck);

  Json j = Json::parse(line.begin(), line.end(), nullptr, false);
  if (!j.is_discarded()) {
    if (auto built = encode_json(j, ck)) {
      const bool ok = built->size() == kStatusSize ? decode_status(*built, ck).has_value()
                                                   : decode_request(*built, ck).has_value();
      check(ok, "a frame built from JSON decodes");
    }
  }
  return 0;
}
