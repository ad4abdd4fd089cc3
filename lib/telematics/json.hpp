// Telematics frame <-> JSON, in the toolkit's interchange conventions
// (telematics-protocol(7) "JSON"). A decoded frame is one object:
//   {"v":1,"type":"working_data","id":4,"terminal":"013800138000","seq":7,
//    ["packets":3,"packet":1,]"encryption":"none",["reserved":N,]"additional":0,
//    "data":"…",["body":{…}|"body_error":"…",]"raw":"7E…7E"}
//   - `packets`/`packet`: the sub-package words, present iff the sub-package bit is set;
//   - `encryption`: "none" | "idea" | number (attr bits 10-12);
//   - `reserved`: attr bits 14-15, only when not zero (so odd captures round-trip);
//   - `body`: for bodies of a known layout only (empty bodies {}, general replies
//     {"reply_seq":N,"reply_id":N,"result":"ok"|"fail"|"bad_message"|"unsupported"|N}), never for
//     an encrypted body or a single sub-package; `body_error` when the bytes do not fit.
// A reassembled message has "reassembled":N (parts) right after "v" and no "raw"; encoders
// skip such objects, as they skip error objects, so decode | encode reproduces the wire.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "telematics/frame.hpp"
#include "telematics/reassembly.hpp"
#include "telematics/sms.hpp"

namespace m2m::telematics {

std::string encryption_name(std::uint8_t e);  // "none", "idea" or the number

// One decoded-frame object (no newline) appended to `out`; empty `raw` omits "raw".
// `extra` members (file, ts) go first, as in m2m-decode's AI-Cloud records.
void append_frame_json(std::string& out, const FrameView& f, ByteView raw, const nlohmann::json* extra = nullptr);
void append_reassembled_json(std::string& out, const Reassembled& m, const nlohmann::json* extra = nullptr);
// {"v":1,"error":kind,"offset":N,["skipped":N,]"raw":hex,"message":…} — the AI-Cloud order.
void append_error_json(std::string& out, const Error& e, ByteView raw, std::uint64_t skipped = 0,
                       const nlohmann::json* extra = nullptr);

// Builds a frame from a JSON object: `type` (a catalogue name) or `id`; `body` wins over
// `data`; `raw` is ignored. Defaults: terminal 000000000000, seq 0, encryption none,
// additional 0, no sub-package words. Errors are bad_json with the field named.
Result<Frame> frame_from_json(const nlohmann::json& j);

// SMS commands: {"v":1,"type":"sms","command":"CMD","args":["…"],"raw":"#=CMD,…:#"}, where
// `raw` is the text as received (a string, not hex: SMS commands are text). Building one
// takes `command` and `args` (strings or numbers); `raw` is ignored.
void append_sms_json(std::string& out, const SmsCommand& c, std::string_view raw, const nlohmann::json* extra = nullptr);
Result<SmsCommand> sms_from_json(const nlohmann::json& j);

// "0004 working_data seq=7 term=013800138000 len=12 …" for --format text.
std::string frame_summary(const FrameView& f);

}  // namespace m2m::telematics
