#include "loadtest/slo.hpp"

#include <charconv>
#include <cmath>

namespace m2m::loadtest {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_metric_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'; }

// What a metric name refers to.
struct Metric {
  enum class Kind : std::uint8_t { total, relay, errors, error_kind, percentile, max, mean, count } kind;
  const TotalField* total = nullptr;
  std::uint64_t SequenceCounts::*relay = nullptr;
  std::string error_kind;
  Op op = Op::connect;
  double q = 0;
  bool latency() const { return kind == Kind::percentile || kind == Kind::max || kind == Kind::mean; }
};
Metric metric_of(Metric::Kind k) {
  Metric m{};
  m.kind = k;
  return m;
}

const char* const kKnownMetrics =
    "known metrics: the report's counters (connect_ok, connect_fail, login_ok, login_fail, hb_sent, hb_acked, "
    "hb_loss, relay_sent, uplink_sent, uplink_acked, downlink_sent, downlink_ok, downlink_fail, downlink_loss, "
    "late_sends, churn), relay_received, relay_loss, relay_dup, relay_reorder, relay_late, errors, err_<kind>, "
    "and <op>_pN, <op>_max, <op>_mean, <op>_count for connect, login, hb, relay, downlink";

Result<Metric> resolve(std::string_view name) {
  for (const auto& f : total_fields())
    if (name == f.name) {
      Metric x = metric_of(Metric::Kind::total);
      x.total = &f;
      return x;
    }
  static const std::pair<std::string_view, std::uint64_t SequenceCounts::*> relay[] = {
      {"relay_received", &SequenceCounts::received}, {"relay_loss", &SequenceCounts::lost},
      {"relay_dup", &SequenceCounts::duplicates},    {"relay_reorder", &SequenceCounts::reordered},
      {"relay_late", &SequenceCounts::late}};
  for (const auto& [n, m] : relay)
    if (name == n) {
      Metric x = metric_of(Metric::Kind::relay);
      x.relay = m;
      return x;
    }
  if (name == "errors") return metric_of(Metric::Kind::errors);
  if (name.starts_with("err_") && name.size() > 4) {
    Metric x = metric_of(Metric::Kind::error_kind);
    x.error_kind = std::string(name.substr(4));
    return x;
  }
  const auto us = name.rfind('_');
  if (us != std::string_view::npos) {
    // "<op>_pN" where N may itself hold '_' (p99_9): find the op prefix first.
    for (std::size_t i = 0; i < kOps; ++i) {
      for (std::string_view prefix : {op_short_name(static_cast<Op>(i)), op_name(static_cast<Op>(i))}) {
        if (!name.starts_with(prefix) || name.size() <= prefix.size() + 1 || name[prefix.size()] != '_') continue;
        const std::string_view stat = name.substr(prefix.size() + 1);
        Metric x = metric_of(Metric::Kind::max);
        x.op = static_cast<Op>(i);
        if (stat == "max") return x;
        if (stat == "mean") { x.kind = Metric::Kind::mean; return x; }
        if (stat == "count") { x.kind = Metric::Kind::count; return x; }
        if (stat.size() >= 2 && stat[0] == 'p') {
          std::string digits(stat.substr(1));
          for (char& c : digits)
            if (c == '_') c = '.';
          double q = 0;
          auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), q);
          if (ec != std::errc() || p != digits.data() + digits.size())
            return fail(ErrorKind::bad_value, "'" + std::string(stat) + "' is not a percentile (p50, p99, p99.9)");
          if (q < 0 || q > 100)
            return fail(ErrorKind::bad_value, "percentile " + digits + " is outside 0..100");
          x.kind = Metric::Kind::percentile;
          x.q = q;
          return x;
        }
        return fail(ErrorKind::bad_value, "'" + std::string(stat) + "' is not a statistic of " + std::string(prefix) +
                                              " (pN, max, mean or count)");
      }
    }
  }
  return fail(ErrorKind::bad_value, "unknown metric '" + std::string(name) + "'; " + kKnownMetrics);
}

bool compare(double a, Cmp c, double b) {
  switch (c) {
    case Cmp::lt: return a < b;
    case Cmp::le: return a <= b;
    case Cmp::eq: return a == b;
    case Cmp::ge: return a >= b;
    case Cmp::gt: return a > b;
  }
  return false;
}

std::string count_text(double v) {
  if (v == std::floor(v) && v < 1e18) return std::to_string(static_cast<std::uint64_t>(v));
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace

Result<std::vector<SloTerm>> parse_slo(std::string_view text) {
  std::vector<SloTerm> out;
  if (trim(text).empty()) return fail(ErrorKind::bad_value, "--slo is empty (expected e.g. 'login_fail=0,hb_p99<50ms')");
  std::size_t pos = 0;
  std::size_t n = 0;
  while (pos <= text.size()) {
    const auto comma = std::min(text.find(',', pos), text.size());
    const std::string_view raw = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    ++n;
    auto bad = [&](const std::string& why) {
      return fail(ErrorKind::bad_value, "--slo term " + std::to_string(n) + " '" + std::string(raw) + "': " + why);
    };
    if (raw.empty()) return bad("empty term (two commas, or a comma at an end)");
    SloTerm t;
    t.text = std::string(raw);
    std::size_t i = 0;
    while (i < raw.size() && is_metric_char(raw[i])) ++i;
    t.metric = std::string(trim(raw.substr(0, i)));
    if (t.metric.empty()) return bad("expected a metric name first (e.g. hb_p99)");
    std::string_view rest = trim(raw.substr(i));
    if (rest.starts_with("<=")) t.cmp = Cmp::le, rest.remove_prefix(2);
    else if (rest.starts_with(">=")) t.cmp = Cmp::ge, rest.remove_prefix(2);
    else if (rest.starts_with("==")) t.cmp = Cmp::eq, rest.remove_prefix(2);
    else if (rest.starts_with("<")) t.cmp = Cmp::lt, rest.remove_prefix(1);
    else if (rest.starts_with(">")) t.cmp = Cmp::gt, rest.remove_prefix(1);
    else if (rest.starts_with("=")) t.cmp = Cmp::eq, rest.remove_prefix(1);
    else
      return bad(rest.empty() ? "no comparison (expected <, <=, =, >= or > and a value)"
                              : "'" + std::string(rest) + "' does not start with <, <=, =, >= or >");
    rest = trim(rest);
    auto metric = resolve(t.metric);
    if (!metric) return bad(metric.error().message);
    t.latency = metric->latency();
    std::size_t j = 0;
    while (j < rest.size() && ((rest[j] >= '0' && rest[j] <= '9') || rest[j] == '.')) ++j;
    double v = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + j, v);
    if (j == 0 || ec != std::errc() || p != rest.data() + j)
      return bad(rest.empty() ? "no value after the comparison" : "'" + std::string(rest) + "' is not a non-negative number");
    const std::string_view unit = trim(rest.substr(j));
    if (t.latency) {
      if (unit == "us") t.value = v;
      else if (unit == "ms") t.value = v * 1e3;
      else if (unit == "s") t.value = v * 1e6;
      else if (unit.empty()) return bad("a latency needs a unit: us, ms or s (e.g. " + t.metric + "<50ms)");
      else return bad("unit '" + std::string(unit) + "' is not us, ms or s");
    } else {
      if (!unit.empty()) return bad(t.metric + " is a count: no unit ('" + std::string(unit) + "')");
      t.value = v;
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string SloOutcome::message() const {
  return term.text + (held ? " held: " : " missed: ") + (measured ? "measured " : "") + measured_text;
}

std::vector<SloOutcome> evaluate_slo(const std::vector<SloTerm>& terms, const Report& r) {
  std::vector<SloOutcome> out;
  for (const auto& t : terms) {
    SloOutcome o;
    o.term = t;
    auto m = resolve(t.metric);  // parse_slo resolved it already
    if (m) {
      switch (m->kind) {
        case Metric::Kind::total: o.measured = static_cast<double>(r.totals.*(m->total->member)); break;
        case Metric::Kind::relay: o.measured = static_cast<double>(r.relay.*(m->relay)); break;
        case Metric::Kind::errors: o.measured = static_cast<double>(r.error_total()); break;
        case Metric::Kind::error_kind: {
          auto it = r.errors.find(m->error_kind);
          o.measured = it == r.errors.end() ? 0.0 : static_cast<double>(it->second);
          break;
        }
        case Metric::Kind::count: o.measured = static_cast<double>(r.hist(m->op).count()); break;
        case Metric::Kind::percentile:
        case Metric::Kind::max:
        case Metric::Kind::mean: {
          const Histogram& h = r.hist(m->op);
          if (!h.count()) break;
          o.measured = m->kind == Metric::Kind::percentile ? static_cast<double>(h.percentile(m->q))
                       : m->kind == Metric::Kind::max      ? static_cast<double>(h.max())
                                                           : h.mean();
          break;
        }
      }
    }
    if (o.measured) {
      o.held = compare(*o.measured, t.cmp, t.value);
      o.measured_text = t.latency ? format_us(*o.measured) : count_text(*o.measured);
    } else {
      o.measured_text = "no " + std::string(m ? op_name(m->op) : "") + " samples";
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace m2m::loadtest
