#include "loadtest/run_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "loadtest/limits.hpp"

namespace m2m::loadtest {

namespace {
std::uint64_t div_up(std::uint64_t a, std::uint64_t b) { return b ? a / b + (a % b != 0) : 0; }

// Devices i in [0, n) with i mod 100 < p.
std::uint64_t tcp_below(std::uint64_t n, unsigned p) {
  return n / 100 * p + std::min<std::uint64_t>(n % 100, p);
}

struct SeqField {
  std::string_view name;
  std::uint64_t SequenceCounts::*member;
};
constexpr SeqField kSeq[] = {{"received", &SequenceCounts::received},
                             {"duplicates", &SequenceCounts::duplicates},
                             {"reordered", &SequenceCounts::reordered},
                             {"late", &SequenceCounts::late},
                             {"lost", &SequenceCounts::lost}};

bool is_count(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
}
}  // namespace

Result<double> parse_rate(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorKind::bad_value, "not a rate: '" + std::string(text) + "' (use e.g. 5000/s, 10k/s, 0.5/s, 120/m)");
  };
  std::string_view s = text;
  double per = 1;  // seconds per unit of the rate
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    const auto unit = s.substr(slash + 1);
    if (unit == "s") per = 1;
    else if (unit == "m" || unit == "min") per = 60;
    else if (unit == "h") per = 3600;
    else return bad();
    s = s.substr(0, slash);
  }
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p == s.data() || !std::isfinite(v) || v < 0) return bad();
  const std::string_view suffix(p, static_cast<std::size_t>(s.data() + s.size() - p));
  if (suffix == "k" || suffix == "K") v *= 1e3;
  else if (suffix == "M") v *= 1e6;
  else if (!suffix.empty()) return bad();
  if (v / per > 1e9) return fail(ErrorKind::bad_value, "rate too large: '" + std::string(text) + "'");
  return v / per;
}

std::string format_rate(double r) {
  char buf[48];
  if (r >= 100 || r == std::floor(r)) std::snprintf(buf, sizeof buf, "%.0f/s", r);
  else std::snprintf(buf, sizeof buf, "%.3g/s", r);
  return buf;
}

std::uint64_t tcp_devices(Slice s, unsigned p) {
  p = std::min(p, 100u);
  return s.end <= s.begin ? 0 : tcp_below(s.end, p) - tcp_below(s.begin, p);
}

Slice split_slice(Slice s, std::uint64_t parts, std::uint64_t i) {
  parts = std::max<std::uint64_t>(parts, 1);
  const std::uint64_t n = s.size(), base = n / parts, extra = n % parts;
  const std::uint64_t begin = s.begin + i * base + std::min(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

std::uint64_t descriptors_for(Slice s, unsigned tcp_percent, std::uint64_t accounts) {
  const std::uint64_t tcp = tcp_devices(s, tcp_percent);
  // The engine opens one UDP socket per kUdpDevicesPerSocket devices of its slice (TCP ones
  // included, so that device l's socket is l / 256) as soon as one device speaks UDP.
  const std::uint64_t udp_sockets = s.size() > tcp ? div_up(s.size(), kUdpDevicesPerSocket) : 0;
  return tcp + udp_sockets + accounts;
}

std::uint64_t worker_descriptors(Slice s, unsigned tcp_percent, std::uint64_t accounts, std::uint64_t workers) {
  workers = std::max<std::uint64_t>(workers, 1);
  std::uint64_t most = 0;
  for (std::uint64_t w = 0; w < workers; ++w)
    most = std::max(most, descriptors_for(split_slice(s, workers, w), tcp_percent, w == 0 ? accounts : 0));
  return most;
}

std::uint64_t auto_workers(Slice s, unsigned tcp_percent, std::uint64_t accounts, std::uint64_t nofile,
                           std::uint64_t max_workers) {
  max_workers = std::max<std::uint64_t>(max_workers, 1);
  if (nofile <= kReservedDescriptors) return 1;
  const std::uint64_t room = nofile - kReservedDescriptors;
  // The even share is a lower bound; unequal parts may need a few more workers than that.
  std::uint64_t w = std::max<std::uint64_t>(div_up(descriptors_for(s, tcp_percent, accounts), room), 1);
  for (; w < max_workers; ++w)
    if (worker_descriptors(s, tcp_percent, accounts, w) <= room) return w;
  return max_workers;
}

std::uint64_t auto_source_count(std::uint64_t tcp_connections, std::uint64_t ports) {
  const std::uint64_t per_source = std::min(ports - ports / 10, kConnectionsPerSource);
  if (!per_source || tcp_connections <= per_source) return 0;
  return div_up(tcp_connections, per_source);
}

std::vector<WorkerShare> plan_workers(Slice shard, std::uint64_t run_devices, std::uint64_t workers,
                                      const Traffic& t, bool accounts_here) {
  std::vector<WorkerShare> out;
  workers = std::max<std::uint64_t>(workers, 1);
  const double total = static_cast<double>(std::max<std::uint64_t>(run_devices, 1));
  for (std::uint64_t w = 0; w < workers; ++w) {
    WorkerShare s;
    s.devices = split_slice(shard, workers, w);
    s.accounts = accounts_here && w == 0;
    const double share = static_cast<double>(s.devices.size()) / total;
    s.traffic = t;
    s.traffic.login_rate = t.login_rate * share;
    s.traffic.relay = t.relay * share;
    s.traffic.uplink = t.uplink * share;
    s.traffic.churn = t.churn * share;
    s.traffic.downlink = s.accounts ? t.downlink : 0;
    out.push_back(s);
  }
  return out;
}

nlohmann::ordered_json snapshot_to_json(const Snapshot& s) {
  nlohmann::ordered_json j{{"elapsed_s", s.elapsed_s}, {"scheduled_connects", s.scheduled_connects}, {"online", s.online}};
  nlohmann::ordered_json t = nlohmann::ordered_json::object();
  for (const auto& f : total_fields()) t[std::string(f.name)] = s.totals.*f.member;
  j["totals"] = std::move(t);
  nlohmann::ordered_json r = nlohmann::ordered_json::object();
  for (const auto& f : kSeq) r[std::string(f.name)] = s.relay.*f.member;
  j["relay"] = std::move(r);
  nlohmann::ordered_json e = nlohmann::ordered_json::object();
  for (const auto& [kind, n] : s.errors) e[kind] = n;
  j["errors"] = std::move(e);
  return j;
}

Result<Snapshot> snapshot_from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& m) { return fail(ErrorKind::bad_json, "snapshot: " + m); };
  if (!j.is_object()) return bad("not an object");
  Snapshot s;
  auto count = [&](const nlohmann::json& o, std::string_view key, std::uint64_t& out) {
    auto it = o.find(key);
    if (it == o.end()) return true;  // absent: 0
    if (!is_count(*it)) return false;
    out = it->get<std::uint64_t>();
    return true;
  };
  if (auto it = j.find("elapsed_s"); it != j.end()) {
    if (!it->is_number()) return bad("elapsed_s is not a number");
    s.elapsed_s = it->get<double>();
  }
  if (!count(j, "scheduled_connects", s.scheduled_connects) || !count(j, "online", s.online))
    return bad("scheduled_connects/online is not a count");
  auto object = [&](std::string_view key) -> const nlohmann::json* {
    auto it = j.find(key);
    return it != j.end() && it->is_object() ? &*it : nullptr;
  };
  if (const auto* t = object("totals"))
    for (const auto& f : total_fields())
      if (!count(*t, f.name, s.totals.*f.member)) return bad("totals." + std::string(f.name) + " is not a count");
  if (const auto* r = object("relay"))
    for (const auto& f : kSeq)
      if (!count(*r, f.name, s.relay.*f.member)) return bad("relay." + std::string(f.name) + " is not a count");
  if (const auto* e = object("errors"))
    for (const auto& [kind, v] : e->items()) {
      if (!is_count(v)) return bad("errors." + kind + " is not a count");
      s.errors[kind] = v.get<std::uint64_t>();
    }
  return s;
}

void merge_snapshot(Snapshot& into, const Snapshot& o) {
  into.elapsed_s = std::max(into.elapsed_s, o.elapsed_s);
  into.scheduled_connects += o.scheduled_connects;
  into.online += o.online;
  for (const auto& f : total_fields()) into.totals.*f.member += o.totals.*f.member;
  into.relay.merge(o.relay);
  for (const auto& [kind, n] : o.errors) into.errors[kind] += n;
}

}  // namespace m2m::loadtest
