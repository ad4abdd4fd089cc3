#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/record_writer.hpp"
#include "m2m/frame.hpp"

using namespace m2m;
using cli::RecordFormat;
using cli::RecordWriter;

namespace {

// A RecordOutput on a temporary file, read back after a flush.
struct Captured {
  std::FILE* f = std::tmpfile();
  cli::RecordOutput out{fileno(f)};
  ~Captured() { std::fclose(f); }
  std::string text() {
    out.flush();
    std::string s;
    std::rewind(f);
    for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(c));
    return s;
  }
};

ai::Frame heartbeat_ok() {
  ai::Frame f;
  f.cls = ai::cls::link;
  f.cmd = 0x01;
  f.seq = 7;
  f.status = ai::status::ok;
  f.device = 0xFED24A;
  f.token = {1, 2, 3, 4, 5, 6, 7, 8};
  return f;
}

}  // namespace

TEST_CASE("record writer: a frame as JSON, stream members first (ts, peer, dir, file)") {
  Captured c;
  RecordWriter w(c.out, RecordFormat::json);
  const ai::Frame f = heartbeat_ok();
  auto wire = ai::encode(f);
  REQUIRE(wire);
  REQUIRE(w.frame(f.view(), *wire, {false, "127.0.0.1:8266", "rx", ""}));
  REQUIRE(w.frame(f.view(), *wire, {}));  // no members: the plain decoded-frame object
  const std::string s = c.text();
  const auto nl = s.find('\n');
  const std::string first = s.substr(0, nl), second = s.substr(nl + 1);
  CHECK(first.starts_with(R"({"peer":"127.0.0.1:8266","dir":"rx","v":1,"type":"link.heartbeat",)"));
  CHECK(second.starts_with(R"({"v":1,"type":"link.heartbeat",)"));
  CHECK(second == "{" + first.substr(first.find("\"v\":1")) + "\n");
  auto j = nlohmann::json::parse(first);
  CHECK(j["token"] == "0102030405060708");
  CHECK(j["raw"] == "551E00A00107000000000000000000FED24A08010203040506070896D255");
  CHECK_FALSE(j.contains("ts"));
  CHECK_FALSE(j.contains("file"));
}

TEST_CASE("record writer: ts and file; no raw when asked") {
  Captured c;
  RecordWriter w(c.out, RecordFormat::json, /*raw=*/false);
  const ai::Frame f = heartbeat_ok();
  REQUIRE(w.frame(f.view(), *ai::encode(f), {true, "", "", "capture.bin"}));
  REQUIRE(w.error(Error{ErrorKind::truncated, 5, "cut"}, {}, 0, {true, "", "", "capture.bin"}));
  const std::string s = c.text();
  const std::string second = s.substr(s.find('\n') + 1);
  CHECK(s.starts_with(R"({"ts":")"));
  CHECK(s.find(R"(Z","file":"capture.bin","v":1,"type")") != std::string::npos);
  CHECK(second.starts_with(R"({"ts":")"));
  CHECK(second.find(R"(Z","file":"capture.bin","v":1,"error":"truncated")") != std::string::npos);
  auto j = nlohmann::json::parse(s.substr(0, s.find('\n')));
  CHECK(j["file"] == "capture.bin");
  CHECK(j["ts"].get<std::string>().size() == 24);  // 2026-11-21T00:12:00.123Z
  CHECK(j["ts"].get<std::string>().back() == 'Z');
  CHECK_FALSE(j.contains("raw"));
  CHECK_FALSE(j.contains("peer"));
}

TEST_CASE("record writer: error records share the members and the key order") {
  Captured c;
  RecordWriter w(c.out, RecordFormat::json);
  const Error e{ErrorKind::garbage, 12, "skipped 3 bytes outside any frame"};
  const Bytes junk{0x01, 0x02, 0x03};
  REQUIRE(w.error(e, junk, 3, {false, "[::1]:8266", "rx", ""}));
  REQUIRE(w.error(e, junk, 3, {}));
  const std::string s = c.text();
  const auto nl = s.find('\n');
  CHECK(s.substr(0, nl) ==
        R"({"peer":"[::1]:8266","dir":"rx","v":1,"error":"garbage","offset":12,"skipped":3,"raw":"010203","message":"skipped 3 bytes outside any frame"})");
  CHECK(s.substr(nl + 1) ==
        R"({"v":1,"error":"garbage","offset":12,"skipped":3,"raw":"010203","message":"skipped 3 bytes outside any frame"})"
        "\n");
}

TEST_CASE("record writer: pretty and text") {
  const ai::Frame f = heartbeat_ok();
  {
    Captured c;
    RecordWriter w(c.out, RecordFormat::pretty);
    REQUIRE(w.frame(f.view(), *ai::encode(f), {false, "", "tx", ""}));
    const std::string s = c.text();
    CHECK(s.starts_with("{\n  \"dir\": \"tx\",\n  \"v\": 1,\n"));
    CHECK(nlohmann::json::parse(s)["seq"] == 7);
  }
  {
    Captured c;
    RecordWriter w(c.out, RecordFormat::text);
    REQUIRE(w.frame(f.view(), *ai::encode(f), {false, "127.0.0.1:9", "rx", "a.bin"}));
    REQUIRE(w.error(Error{ErrorKind::bad_crc, 40, "CRC mismatch"}, Bytes{0x55, 0x55}, 0, {false, "", "", "a.bin"}));
    const std::string s = c.text();
    CHECK(s.starts_with("127.0.0.1:9 rx a.bin: A0 01 link.heartbeat ok seq=7"));
    CHECK(s.find("\na.bin: error bad_crc offset=40: CRC mismatch raw=5555\n") != std::string::npos);
  }
}

namespace {

ai::Frame uplink(std::string_view payload) {
  ai::Frame f = heartbeat_ok();
  f.cls = ai::cls::data;
  f.cmd = 0xEE;  // data.uplink: the data area is the payload
  f.status = ai::status::request;
  f.data.assign(payload.begin(), payload.end());
  return f;
}

std::string one_record(RecordFormat format, const ai::Frame& f) {
  Captured c;
  RecordWriter w(c.out, format);
  auto wire = ai::encode(f);
  REQUIRE(wire);
  REQUIRE(w.frame(f.view(), *wire, {}));
  return c.text();
}

}  // namespace

TEST_CASE("record writer: a printable UTF-8 payload is also shown as text, last; the rest unchanged") {
  const std::string s = one_record(RecordFormat::json, uplink("{\"t\":21.5} °C\n"));
  auto j = nlohmann::json::parse(s);
  CHECK(j["text"] == "{\"t\":21.5} °C\n");
  CHECK(j["body"]["payload"] == "7B2274223A32312E357D20C2B0430A");
  CHECK(j["data"] == "7B2274223A32312E357D20C2B0430A");
  CHECK(s.find(R"("raw":")") < s.find(R"("text":")"));  // an added last member
  // Without the member, the record is byte for byte what it was.
  const std::string before = s.substr(0, s.find(R"(,"text":)")) + "}\n";
  CHECK(nlohmann::json::parse(before).size() == j.size() - 1);
  CHECK(nlohmann::json::parse(one_record(RecordFormat::pretty, uplink("hello")))["text"] == "hello");
}

TEST_CASE("record writer: no text for binary, control characters, bad UTF-8, an empty payload or other classes") {
  for (std::string_view p : {std::string_view("\x01\x02", 2), std::string_view("a\x1b[31m"), std::string_view("\xC3\x28"),
                             std::string_view("\xED\xA0\x80"), std::string_view("\xC2\x85"), std::string_view("")}) {
    CAPTURE(p);
    CHECK_FALSE(nlohmann::json::parse(one_record(RecordFormat::json, uplink(p))).contains("text"));
  }
  CHECK_FALSE(nlohmann::json::parse(one_record(RecordFormat::json, heartbeat_ok())).contains("text"));
}
