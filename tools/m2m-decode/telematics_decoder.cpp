#include "telematics_decoder.hpp"

#include <cstdio>
#include <memory>

#include "cli/cli.hpp"
#include "cli/json_pretty.hpp"
#include "telematics/deframer.hpp"
#include "telematics/json.hpp"
#include "telematics/reassembly.hpp"
#include "telematics/sms.hpp"

namespace m2m::decode {
namespace {

namespace tm = m2m::telematics;

// Record writing shared by the frame and SMS decoders: extra members, --pretty, --format text.
class Records {
 public:
  Records(const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file)
      : opt_(opt), totals_(totals), out_(out), file_(std::move(file)) {
    if (!file_.empty()) extra_["file"] = file_;
  }
  bool done() const { return totals_.limit_reached(opt_) || !out_.ok(); }

  // `json` writes the compact record into its argument; `text` is the --format text line.
  template <class Json>
  void record(Json&& json, const std::string& text) {
    std::string& out = out_.buffer();
    if (opt_.text) {
      if (opt_.ts) out.append(cli::timestamp_now()).push_back(' ');
      if (!file_.empty()) out.append(file_).append(": ");
      out += text;
    } else if (opt_.pretty) {
      scratch_.clear();
      json(scratch_, extra());
      cli::append_pretty_json(out, scratch_);
    } else {
      json(out, extra());
    }
    out.push_back('\n');
    out_.end_record();
  }

  void error(const Error& e, ByteView raw, std::uint64_t skipped) {
    ++totals_.errors;
    if (opt_.quiet) return;
    std::string text = "error " + std::string(to_string(e.kind)) + " offset=" + std::to_string(e.offset) + ": " + e.message;
    if (!raw.empty()) text += " raw=" + to_hex(raw);
    record([&](std::string& o, const nlohmann::json* x) { tm::append_error_json(o, e, raw, skipped, x); }, text);
  }

  const Options& opt() const { return opt_; }
  Totals& totals() { return totals_; }

 private:
  const nlohmann::json* extra() {
    if (opt_.ts) extra_["ts"] = cli::timestamp_now();
    return extra_.empty() ? nullptr : &extra_;
  }

  const Options& opt_;
  Totals& totals_;
  cli::RecordOutput& out_;
  std::string file_;
  nlohmann::json extra_;
  std::string scratch_;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void feed(ByteView chunk) = 0;
  virtual void finish() = 0;
};

// Wire bytes (or hex text) -> frames, reassembled messages and errors.
class FrameDecoder : public Decoder {
 public:
  explicit FrameDecoder(Records& r) : r_(r) {}

  void feed(ByteView chunk) override {
    if (!r_.opt().hex) return deframe(chunk);
    while (!chunk.empty() && !r_.done()) {
      hex_bytes_.clear();
      const std::size_t used = hex_.feed(chunk, hex_bytes_);
      chunk = chunk.subspan(used);
      deframe(hex_bytes_);
      if (auto& e = hex_.error(); e && !r_.done()) r_.error(*e, {}, 0);
    }
  }

  void finish() override {
    if (r_.opt().hex && !r_.done()) {
      hex_bytes_.clear();
      auto e = hex_.finish(hex_bytes_);  // a held first word of the last line
      deframe(hex_bytes_);
      if (e && !r_.done()) r_.error(*e, {}, 0);
    }
    deframer_.finish();
    drain();
    if (r_.done()) return;
    for (const tm::Incomplete& i : reasm_.finish()) r_.error(i.error(), {}, 0);
  }

 private:
  void deframe(ByteView bytes) {
    if (bytes.empty()) return;
    deframer_.feed(bytes);
    drain();
  }

  void drain() {
    tm::DeframeEvent ev;
    while (!r_.done() && deframer_.next(ev)) {
      if (!ev.ok) {
        r_.error(ev.error, ev.raw, ev.skipped);
        continue;
      }
      ++r_.totals().frames;
      const tm::FrameView f = ev.frame.view();
      const ByteView raw = r_.opt().raw ? ByteView(ev.raw) : ByteView{};
      r_.record([&](std::string& o, const nlohmann::json* x) { tm::append_frame_json(o, f, raw, x); },
                tm::frame_summary(f));
      if (f.subpackage) reassemble(f, ev);
    }
  }

  void reassemble(const tm::FrameView& f, const tm::DeframeEvent& ev) {
    dropped_.clear();
    auto m = reasm_.add(f, ev.offset, dropped_);
    for (const tm::Incomplete& i : dropped_) r_.error(i.error(), {}, 0);
    if (!m) {
      Error e = m.error();
      e.offset = ev.offset;
      r_.error(e, ev.raw, 0);
      return;
    }
    if (!*m) return;
    const tm::Reassembled& whole = **m;
    r_.record([&](std::string& o, const nlohmann::json* x) { tm::append_reassembled_json(o, whole, x); },
              "reassembled " + std::to_string(whole.parts) + " parts: " + tm::frame_summary(whole.frame.view()));
  }

  Records& r_;
  tm::Deframer deframer_;
  tm::Reassembler reasm_;
  std::vector<tm::Incomplete> dropped_;
  cli::HexTextStream hex_;
  Bytes hex_bytes_;
};

// Text lines -> SMS commands. Offsets are byte offsets in the input.
class SmsDecoder : public Decoder {
 public:
  explicit SmsDecoder(Records& r) : r_(r) {}

  void feed(ByteView chunk) override {
    for (std::uint8_t b : chunk) {
      if (b == '\n') {
        line(pending_);
        pending_.clear();
        line_off_ = ++off_;
        continue;
      }
      ++off_;
      if (pending_.size() < kMaxLine) pending_ += static_cast<char>(b);
      if (r_.done()) return;
    }
  }

  void finish() override {
    if (!pending_.empty()) line(pending_);
    pending_.clear();
  }

 private:
  static constexpr std::size_t kMaxLine = 4096;

  void line(std::string_view text) {
    if (r_.done()) return;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return;
    auto c = tm::parse_sms(text);
    if (!c) {
      Error e = c.error();
      e.offset += line_off_;
      r_.error(e, as_bytes(text), 0);
      return;
    }
    ++r_.totals().frames;
    std::string summary = "sms " + c->command;
    for (std::size_t i = 0; i < c->args.size(); ++i) summary += (i ? "," : " ") + c->args[i];
    const std::string_view raw = r_.opt().raw ? text : std::string_view{};
    r_.record([&](std::string& o, const nlohmann::json* x) { tm::append_sms_json(o, *c, raw, x); }, summary);
  }

  Records& r_;
  std::string pending_;
  std::uint64_t off_ = 0;
  std::uint64_t line_off_ = 0;
};

// One input: its records and the frame or SMS decoder that fills them.
class TelematicsInput : public InputDecoder {
 public:
  TelematicsInput(Protocol protocol, const Options& opt, Totals& totals, cli::RecordOutput& out, std::string file)
      : totals_(totals), records_(opt, totals, out, std::move(file)) {
    if (protocol == Protocol::sms)
      dec_ = std::make_unique<SmsDecoder>(records_);
    else
      dec_ = std::make_unique<FrameDecoder>(records_);
  }
  void feed(ByteView chunk) override {
    totals_.bytes += chunk.size();
    dec_->feed(chunk);
  }
  void finish() override { dec_->finish(); }
  bool done() const override { return records_.done(); }

 private:
  Totals& totals_;
  Records records_;
  std::unique_ptr<Decoder> dec_;
};

}  // namespace

int run_telematics(std::string_view prog, Protocol protocol, const Options& opt, const std::vector<std::string>& files,
                   bool verbose) {
  return decode_files(prog, opt, files, verbose, protocol == Protocol::sms ? "command" : "frame",
                      [&](cli::RecordOutput& out, Totals& totals, std::string file) -> std::unique_ptr<InputDecoder> {
                        return std::make_unique<TelematicsInput>(protocol, opt, totals, out, std::move(file));
                      });
}

}  // namespace m2m::decode
