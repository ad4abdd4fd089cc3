// Frame <-> JSON in the interchange schema of DESIGN.md. The body field names below are the
// project's stable contract (documented in man/m2m-protocol.7 "JSON BODIES"); every tool
// reads and writes exactly these.
//
// Decoded frame (one line):
//   {"v":1,"type":"link.login","class":160,"cmd":0,"seq":1,"ext":0,"status":"request",
//    "device":"0000000000FED24A",["token":"…",]"data":"0102…","body":{…},"raw":"55…55"}
//   - `token` present iff the frame has a token field (hex; "" when L = 0).
//   - `status`: "request" | "ok" | "fail" | "unsupported" | number.
//   - `body` present when `type` is known and the data area parses as that command's body;
//     otherwise `body_error` (string) says why, and `data` alone carries the bytes. Unknown
//     types (outside the catalogue) have neither; body forms by status: see m2m-protocol.7.
//
// Bodies (ID = 16-hex device id; hex = uppercase hex string):
//   link.login / platform.login   request {"password":hex16}   ok {"token":hex}   fail {}
//   link.heartbeat, platform.heartbeat, term.reboot, generic replies (empty data)  {}
//   link.p2p_request  request {"target":ID}; ok reply and the platform's introduction
//                     (status request, 23+ bytes) {"id":ID,"token":hex,"ip":"a.b.c.d","port":N}
//   link.p2p_confirm  {"sender":ID}
//   data.group_list   request {} (empty) | {"start":N};  ok {"devices":[{"id","token","ip","port"},…]}
//   data.relay        {"peer":ID,"payload":hex}   (peer = target in the sender's request,
//                     sender in the delivered frame; input also accepts "target"/"sender")
//   data.p2p_send     {"sender":ID,"payload":hex}
//   data.uplink, data.downlink  {"payload":hex}
//   term.ota_start    {"file":str,"checksum":N}
//   term.ota_frame    request {"file":str,"frame":N,"size":N};  ok {"file","frame","count":N,"bytes":hex}
//   term.config_read  request {"param":name|N};  ok {"param":name|N,"value":V}
//   term.config_write request {"param":name|N,"value":V}
//       V: version {"hardware","software","bootloader"}; server/fallback_server
//       {"host":str,"port":N,"transport":"tcp"|"udp"}; dns "a.b.c.d"; rtc
//       {"datetime":"YYYY-MM-DDTHH:MM:SS","weekday":1-7}; 1-byte settings N; unknown id: hex
//   term.event        {"code":N,"event":"upgrade"|"working"|null,"description":str}
//   platform.add_terminal {"id":ID,"password":hex16}
// Input conveniences (encoding only): "text":"…" instead of "payload"; passwords as
// "text:123"; device ids in any form parse_device() takes; params by name or number.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "m2m/frame.hpp"

namespace m2m::ai {

std::string status_name(std::uint8_t status);  // "request", "ok", … or the decimal number

// Body of a frame as JSON, or an error saying why the data does not parse as the body.
Result<nlohmann::json> body_to_json(const FrameView& f);
// Data area for (cls, cmd, status) from a JSON body.
Result<Bytes> body_from_json(std::uint8_t cls, std::uint8_t cmd, std::uint8_t status, const nlohmann::json& body);

// Appends one decoded-frame JSON object (no newline) to `out`. `raw` is the wire form
// (escaped); pass an empty view to omit "raw". `extra` members (ts, peer, dir) go first.
void append_frame_json(std::string& out, const FrameView& f, ByteView raw,
                       const nlohmann::json* extra = nullptr);
nlohmann::json frame_to_json(const FrameView& f, ByteView raw = {});

// Decode error object: {"v":1,"error":kind,"offset":N,["skipped":N,]"raw":hex,"message":…}
nlohmann::json error_to_json(const Error& e, ByteView raw, std::uint64_t skipped = 0);
// The same object written straight into `out` (no newline), keys in the order shown above.
void append_error_json(std::string& out, const Error& e, ByteView raw, std::uint64_t skipped = 0);

// Builds a frame from a JSON object (type or class+cmd; body wins over data; raw ignored).
// Missing fields default: seq 0, ext 0, status "request", device 0, token "" (empty field).
Result<Frame> frame_from_json(const nlohmann::json& j);

// One-line human summary for --format text, e.g.
// "A0 00 link.login request seq=7 dev=0000000000FED24A password=0102030405060708"
std::string frame_summary(const FrameView& f);

}  // namespace m2m::ai
