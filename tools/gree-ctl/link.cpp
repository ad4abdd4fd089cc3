#include "link.hpp"

#include <cstdio>
#include <thread>

#include "cli/cli.hpp"
#include "core/units.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;
using Clock = std::chrono::steady_clock;

namespace {

std::string who(const Request& r) {
  if (r.kind == RequestKind::addressed) return "unit " + std::to_string(r.address);
  return "the unit";
}

// On a bus, a 0x06 read is answered by every unit at once: say so whenever such a read fails.
std::string bus_hint(const Request& r) {
  return r.kind == RequestKind::read || r.kind == RequestKind::set_address
             ? "; if several units share the line, their replies collide: address them with --addr N"
             : "";
}

}  // namespace

// What a frame on the line is, for the trace: "addressed 1023 code 39082050".
static std::string describe_frame(m2m::ByteView f, Checksum ck) {
  if (f.empty()) return "";
  if (f[0] == kStatusStart) {
    auto s = decode_status(f, ck);
    if (!s) return "damaged status: " + s.error().message;
    return "status " + std::to_string(s->address) + " code " + s->code.hex() + " room " + std::to_string(s->room_temp);
  }
  auto r = decode_request(f, ck);
  if (!r) return "damaged request: " + r.error().message;
  std::string out = std::string(to_string(r->kind)) + " " + std::to_string(r->address);
  out += r->kind == RequestKind::read ? " (code not executed)" : " code " + r->code.hex();
  return out;
}

void Link::trace(const char* dir, m2m::ByteView bytes, const std::string& what) const {
  if (!opt_.verbose) return;
  std::fprintf(stderr, "%s %s %s (%zu bytes) %s\n", m2m::cli::timestamp_now().c_str(), dir, m2m::to_hex(bytes).c_str(),
               bytes.size(), what.c_str());
}

void Link::note(const std::string& text) const {
  if (opt_.verbose) std::fprintf(stderr, "%s -- %s\n", m2m::cli::timestamp_now().c_str(), text.c_str());
}

Outcome<std::optional<Status>> Link::exchange(const Request& r) {
  auto frame = encode_request(r, opt_.checksum);
  if (!frame) return failed(Exit::usage, frame.error().message, "usage");
  Failure last;
  const int attempts = 1 + std::max(0, opt_.retries);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      note("retry " + std::to_string(attempt - 1) + "/" + std::to_string(opt_.retries) + " after: " + last.message);
      std::this_thread::sleep_for(opt_.backoff * (attempt - 1));
    }
    port_.discard_input();
    trace("tx", *frame, describe_frame(*frame, opt_.checksum));
    if (auto ok = port_.write_all(*frame); !ok) return m2m::unexpected<Failure>(ok.error());
    if (!expects_reply(r.kind)) return std::optional<Status>{};
    auto st = await_status(r);
    if (st) return std::optional<Status>{*st};
    last = st.error();
    if (last.kind == "wrong_address") break;  // another unit answered: retrying will not help
  }
  if (last.kind == "no_reply")
    last.message = "no reply from " + who(r) + " on " + port_.path() + " after " + std::to_string(attempts) +
                   " attempt(s) of " + m2m::format_duration(opt_.timeout) +
                   ": check the wiring (TX/RX crossed, RS485 A/B), the line settings (4800 8E1), " +
                   (r.kind == RequestKind::addressed ? "the unit's address" : "that the unit is powered");
  return m2m::unexpected<Failure>(last);
}

Outcome<Status> Link::await_status(const Request& r) {
  StreamReader reader;
  auto deadline = Clock::now() + opt_.timeout;
  std::optional<Failure> damaged;
  auto judge = [&](const StreamReader::Item& it) -> std::optional<Outcome<Status>> {
    trace("rx", it.bytes, it.is_frame ? describe_frame(it.bytes, opt_.checksum) : "garbage");
    if (!it.is_frame) {
      damaged = Failure{Exit::protocol, "garbled reply (" + std::to_string(it.bytes.size()) + " bytes outside any frame: " +
                                            m2m::to_hex(it.bytes) + ")" + bus_hint(r),
                        "garbled"};
      return std::nullopt;
    }
    if (it.bytes[0] != kStatusStart) {  // our own request echoed by a half-duplex adapter
      note("ignoring echoed request");
      return std::nullopt;
    }
    auto s = decode_status(it.bytes, opt_.checksum);
    if (!s) {
      const bool ck = s.error().kind == m2m::ErrorKind::bad_checksum;
      damaged = Failure{Exit::protocol,
                        (ck ? "reply failed its checksum (" : "malformed reply (") + s.error().message + ")" +
                            (ck ? "; check --checksum (sum8/xor8) and line noise" : "") + bus_hint(r),
                        ck ? "bad_checksum" : "malformed"};
      return std::nullopt;
    }
    const bool addressed = r.kind == RequestKind::addressed || r.kind == RequestKind::set_address;
    if (addressed && s->address != r.address)
      return Outcome<Status>(failed(Exit::protocol,
                                    "reply from unit " + std::to_string(s->address) + ", expected unit " +
                                        std::to_string(r.address) + ": two units share an address, or another unit answered",
                                    "wrong_address"));
    return Outcome<Status>(*s);
  };
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto got = port_.read_some(left);
    if (!got) return m2m::unexpected<Failure>(got.error());
    if (got->empty()) continue;
    reader.feed(*got);
    while (auto it = reader.next())
      if (auto verdict = judge(*it)) return *verdict;
    // After a damaged frame, a good one may still follow (noise before the reply), but
    // only briefly: once the line has been quiet for a moment this attempt is over.
    if (damaged) deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(60));
  }
  while (auto it = reader.finish())
    if (auto verdict = judge(*it)) return *verdict;
  if (damaged) return m2m::unexpected<Failure>(*damaged);
  return failed(Exit::timed_out, "no reply", "no_reply");
}

}  // namespace gree_ctl
