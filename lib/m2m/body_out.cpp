// Data area -> JSON body text (the decode direction). The form is chosen as documented in
// m2m-protocol.7 "JSON BODIES": status request selects the request form; any other status
// with empty data is the generic reply {} (group_list ok: an empty device list); status ok
// with data selects the command's specific reply form, if it has one. The forms themselves
// live with their structs, one file per class (link, data, term, platform).
#include "m2m/body_common.hpp"
#include "m2m/data.hpp"
#include "m2m/json.hpp"
#include "m2m/link.hpp"
#include "m2m/platform.hpp"
#include "m2m/term.hpp"

namespace m2m::ai::detail {
namespace {

Result<void> request_body(JsonOut& w, const FrameView& f) {
  switch (f.cls) {
    case cls::link: return link_request_json(w, f.cmd, f.data);
    case cls::data: return data_request_json(w, f.cmd, f.data);
    case cls::term: return term_request_json(w, f.cmd, f.data);
    case cls::platform: return platform_request_json(w, f.cmd, f.data);
  }
  return bad("not a catalogue command");
}

Result<void> ok_reply_body(JsonOut& w, const FrameView& f) {
  switch (f.cls) {
    case cls::link: return link_ok_reply_json(w, f.cmd, f.data);
    case cls::data: return data_ok_reply_json(w, f.cmd, f.data);
    case cls::term: return term_ok_reply_json(w, f.cmd, f.data);
    case cls::platform: return platform_ok_reply_json(w, f.cmd, f.data);
  }
  return no_reply_form(f.data);
}

}  // namespace

Result<void> append_body(std::string& out, const FrameView& f) {
  if (type_name(f.cls, f.cmd) == "unknown") return bad("no body form for a command outside the catalogue");
  const std::size_t mark = out.size();
  JsonOut w(out);
  Result<void> r;
  if (f.status == status::request) {
    r = request_body(w, f);
  } else if (f.data.empty()) {
    w.open();
    if (f.status == status::ok && command_key(f.cls, f.cmd) == cmd::data_group_list)
      w.key("devices").open_array().close_array();
    w.close();
  } else if (f.status == status::ok) {
    r = ok_reply_body(w, f);
  } else {
    r = bad("a " + status_name(f.status) + " reply carries no data, got " + n_bytes(f.data.size()));
  }
  if (!r) out.resize(mark);
  return r;
}

}  // namespace m2m::ai::detail
