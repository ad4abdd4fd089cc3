#include "loadtest/report.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

namespace m2m::loadtest {

namespace {
using ojson = nlohmann::ordered_json;

constexpr std::array<std::string_view, kOps> kOpNames{"connect", "login", "heartbeat", "relay", "downlink"};
constexpr std::array<std::string_view, kOps> kOpShort{"connect", "login", "hb", "relay", "downlink"};

// The percentiles every summary shows, with their JSON keys.
struct Quantile {
  double q;
  const char* key;
  const char* label;
};
constexpr std::array<Quantile, 4> kQuantiles{{{50, "p50_us", "p50"}, {90, "p90_us", "p90"}, {99, "p99_us", "p99"},
                                              {99.9, "p99_9_us", "p99.9"}}};

std::string fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

Result<std::uint64_t> get_count(const nlohmann::json& obj, std::string_view where, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::uint64_t{0};  // an older or smaller report: absent means none
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
    return fail(ErrorKind::bad_json, std::string(where) + "." + std::string(key) + " is not a count");
  return it->get<std::uint64_t>();
}

Result<double> get_number(const nlohmann::json& obj, std::string_view where, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end()) return 0.0;
  if (!it->is_number() || it->get<double>() < 0)
    return fail(ErrorKind::bad_json, std::string(where) + "." + std::string(key) + " is not a non-negative number");
  return it->get<double>();
}

const nlohmann::json& member_object(const nlohmann::json& j, const char* key, bool& bad) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = j.find(key);
  if (it == j.end()) return empty;
  if (!it->is_object()) bad = true;
  return it->is_object() ? *it : empty;
}

struct SeqField {
  std::string_view name;
  std::uint64_t SequenceCounts::*member;
};
constexpr std::array<SeqField, 5> kSeqFields{{{"received", &SequenceCounts::received},
                                              {"duplicates", &SequenceCounts::duplicates},
                                              {"reordered", &SequenceCounts::reordered},
                                              {"late", &SequenceCounts::late},
                                              {"lost", &SequenceCounts::lost}}};
}  // namespace

std::string_view op_name(Op op) { return kOpNames[static_cast<std::size_t>(op)]; }
std::string_view op_short_name(Op op) { return kOpShort[static_cast<std::size_t>(op)]; }

const std::vector<TotalField>& total_fields() {
  static const std::vector<TotalField> f{
      {"connect_ok", &Totals::connect_ok},       {"connect_fail", &Totals::connect_fail},
      {"login_ok", &Totals::login_ok},           {"login_fail", &Totals::login_fail},
      {"hb_sent", &Totals::hb_sent},             {"hb_acked", &Totals::hb_acked},
      {"hb_loss", &Totals::hb_loss},             {"relay_sent", &Totals::relay_sent},
      {"uplink_sent", &Totals::uplink_sent},     {"uplink_acked", &Totals::uplink_acked},
      {"downlink_sent", &Totals::downlink_sent}, {"downlink_ok", &Totals::downlink_ok},
      {"downlink_fail", &Totals::downlink_fail}, {"downlink_loss", &Totals::downlink_loss},
      {"late_sends", &Totals::late_sends},       {"churn", &Totals::churn},
  };
  return f;
}

std::string format_us(double us) {
  if (us < 1000) return fixed(us, 0) + "us";
  if (us < 1e6) return fixed(us / 1e3, us < 1e4 ? 2 : 1) + "ms";
  return fixed(us / 1e6, 2) + "s";
}

std::uint64_t Report::error_total() const {
  std::uint64_t n = 0;
  for (const auto& [kind, count] : errors) n += count;
  return n;
}

void Report::merge(const Report& o) {
  devices += o.devices;
  shards += o.shards;
  duration_s = std::max(duration_s, o.duration_s);
  for (const auto& f : total_fields()) totals.*f.member += o.totals.*f.member;
  for (const auto& [kind, count] : o.errors) errors[kind] += count;
  for (std::size_t i = 0; i < kOps; ++i) latency[i].merge(o.latency[i]);
  relay.merge(o.relay);
  cpu_seconds += o.cpu_seconds;
  peak_rss_kib = std::max(peak_rss_kib, o.peak_rss_kib);
  peak_rss_kib_sum += o.peak_rss_kib_sum;
}

SelfUsage self_usage() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return {};
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {secs(u.ru_utime) + secs(u.ru_stime), static_cast<std::uint64_t>(u.ru_maxrss)};  // Linux: KiB
}

Report merge_reports(const std::vector<Report>& reports) {
  Report out;
  out.shards = 0;
  for (const auto& r : reports) out.merge(r);
  return out;
}

ojson Report::to_json() const {
  ojson j{{"v", 1}, {"tool", "m2m-loadtest"}, {"devices", devices}, {"shards", shards}, {"duration_s", duration_s}};
  ojson t = ojson::object();
  for (const auto& f : total_fields()) t[std::string(f.name)] = totals.*f.member;
  j["totals"] = std::move(t);
  ojson e = ojson::object();
  for (const auto& [kind, count] : errors) e[kind] = count;
  j["errors"] = std::move(e);
  ojson r = ojson::object();
  for (const auto& f : kSeqFields) r[std::string(f.name)] = relay.*f.member;
  j["relay"] = std::move(r);
  ojson lat = ojson::object();
  for (std::size_t i = 0; i < kOps; ++i) {
    const Histogram& h = latency[i];
    ojson o{{"count", h.count()}, {"mean_us", h.mean()}};
    for (const auto& q : kQuantiles) o[q.key] = h.percentile(q.q);
    o["max_us"] = h.max();
    o["histogram"] = h.to_json();
    lat[std::string(kOpNames[i])] = std::move(o);
  }
  j["latency"] = std::move(lat);
  j["resources"] = ojson{{"cpu_seconds", cpu_seconds}, {"peak_rss_kib", peak_rss_kib}, {"peak_rss_kib_sum", peak_rss_kib_sum}};
  return j;
}

Result<Report> Report::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& m) { return fail(ErrorKind::bad_json, m); };
  if (!j.is_object()) return bad("not a JSON object");
  if (j.value("tool", std::string()) != "m2m-loadtest") return bad("not an m2m-loadtest report (no \"tool\":\"m2m-loadtest\")");
  if (!j.contains("v") || !j["v"].is_number_integer() || j["v"].get<int>() != 1)
    return bad("report version is not 1 (this version reads v 1)");
  Report r;
  auto count = [&](const nlohmann::json& obj, std::string_view where, std::string_view key, std::uint64_t& out) -> Result<void> {
    auto v = get_count(obj, where, key);
    if (!v) return unexpected(v.error());
    out = *v;
    return {};
  };
  if (auto v = count(j, "report", "devices", r.devices); !v) return unexpected(v.error());
  if (auto v = count(j, "report", "shards", r.shards); !v) return unexpected(v.error());
  if (auto v = get_number(j, "report", "duration_s"); v) r.duration_s = *v; else return unexpected(v.error());
  bool wrong_type = false;
  const auto& t = member_object(j, "totals", wrong_type);
  for (const auto& f : total_fields())
    if (auto v = count(t, "totals", f.name, r.totals.*f.member); !v) return unexpected(v.error());
  const auto& e = member_object(j, "errors", wrong_type);
  for (const auto& [kind, value] : e.items()) {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
      return bad("errors." + kind + " is not a count");
    r.errors[kind] = value.get<std::uint64_t>();
  }
  const auto& rel = member_object(j, "relay", wrong_type);
  for (const auto& f : kSeqFields)
    if (auto v = count(rel, "relay", f.name, r.relay.*f.member); !v) return unexpected(v.error());
  const auto& lat = member_object(j, "latency", wrong_type);
  for (std::size_t i = 0; i < kOps; ++i) {
    auto it = lat.find(kOpNames[i]);
    if (it == lat.end()) continue;
    if (!it->is_object() || !it->contains("histogram"))
      return bad("latency." + std::string(kOpNames[i]) + " has no histogram");
    auto h = Histogram::from_json((*it)["histogram"]);
    if (!h) return bad("latency." + std::string(kOpNames[i]) + "." + h.error().message);
    r.latency[i] = std::move(*h);
  }
  const auto& res = member_object(j, "resources", wrong_type);
  if (auto v = get_number(res, "resources", "cpu_seconds"); v) r.cpu_seconds = *v; else return unexpected(v.error());
  if (auto v = count(res, "resources", "peak_rss_kib", r.peak_rss_kib); !v) return unexpected(v.error());
  if (auto v = count(res, "resources", "peak_rss_kib_sum", r.peak_rss_kib_sum); !v) return unexpected(v.error());
  if (wrong_type) return bad("totals, errors, relay, latency and resources must be objects");
  return r;
}

std::string Report::summary_text() const {
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line("devices " + std::to_string(devices) + " over " + std::to_string(shards) + " report" + (shards == 1 ? "" : "s") +
       ", " + fixed(duration_s, 1) + "s");
  std::string counts;
  for (const auto& f : total_fields()) {
    const std::uint64_t v = totals.*f.member;
    if (v) counts += (counts.empty() ? "" : "  ") + std::string(f.name) + " " + std::to_string(v);
  }
  line(counts.empty() ? "no operations counted" : counts);
  if (relay.received || relay.lost)
    line("relay received " + std::to_string(relay.received) + "  lost " + std::to_string(relay.lost) + "  duplicates " +
         std::to_string(relay.duplicates) + "  reordered " + std::to_string(relay.reordered) + "  late " +
         std::to_string(relay.late));
  if (!errors.empty()) {
    std::string e = "errors";
    for (const auto& [kind, count] : errors) e += "  " + kind + " " + std::to_string(count);
    line(e);
  }
  char b[200];
  std::snprintf(b, sizeof b, "%-10s %10s %9s %9s %9s %9s %9s", "latency", "count", "p50", "p90", "p99", "p99.9", "max");
  line(b);
  for (std::size_t i = 0; i < kOps; ++i) {
    const Histogram& h = latency[i];
    if (!h.count()) continue;
    std::snprintf(b, sizeof b, "%-10s %10llu %9s %9s %9s %9s %9s", std::string(kOpNames[i]).c_str(),
                  static_cast<unsigned long long>(h.count()), format_us(static_cast<double>(h.percentile(50))).c_str(),
                  format_us(static_cast<double>(h.percentile(90))).c_str(),
                  format_us(static_cast<double>(h.percentile(99))).c_str(),
                  format_us(static_cast<double>(h.percentile(99.9))).c_str(),
                  format_us(static_cast<double>(h.max())).c_str());
    line(b);
  }
  line("tester cpu " + fixed(cpu_seconds, 2) + "s  peak rss " + std::to_string(peak_rss_kib) + " KiB");
  return out;
}

}  // namespace m2m::loadtest
