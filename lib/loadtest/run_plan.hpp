// How `m2m-loadtest run` divides one run among its worker processes, and the per-second
// figures they send back: pure functions of the options and limits, so tests feed any values.
// (The engine itself, one process's share, is engine.hpp.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "loadtest/engine.hpp"
#include "loadtest/provision.hpp"

namespace m2m::loadtest {

// "5000/s", "5000" (per second), "10k/s", "0.5/s", "120/m", "3600/h": a rate per second.
// Errors (kind bad_value) name the text and show the form expected.
Result<double> parse_rate(std::string_view text);
// 5000 -> "5000/s", 0.5 -> "0.5/s", 12345.6 -> "12346/s".
std::string format_rate(double per_second);

// Devices of `slice` that speak TCP (is_tcp), counted without a loop.
std::uint64_t tcp_devices(Slice slice, unsigned tcp_percent);

// Part `i` of `parts` contiguous pieces of `slice` (sizes differ by at most one).
Slice split_slice(Slice slice, std::uint64_t parts, std::uint64_t i);

// Descriptors one process needs for `slice` besides kReservedDescriptors: one per TCP
// device and per account it logs in, plus one per kUdpDevicesPerSocket UDP devices.
std::uint64_t descriptors_for(Slice slice, unsigned tcp_percent, std::uint64_t accounts);

// The most descriptors any of `workers` processes needs when `slice` is split among them
// (split_slice; the accounts go to worker 0). Parts of equal size may differ in TCP devices
// (--tcp-share), so this is a maximum, not the total divided by the workers.
std::uint64_t worker_descriptors(Slice slice, unsigned tcp_percent, std::uint64_t accounts, std::uint64_t workers);

// Workers chosen for you: the fewest such that every worker's descriptors fit `nofile` less
// kReservedDescriptors, at least 1, at most `max_workers` (check_plan then says why the run
// does not fit).
std::uint64_t auto_workers(Slice slice, unsigned tcp_percent, std::uint64_t accounts, std::uint64_t nofile,
                           std::uint64_t max_workers = 64);

// Source addresses chosen for you on loopback when `tcp_connections` to one server address
// would put more than kConnectionsPerSource (or 90% of the `ports` range) on one address:
// 127.0.0.2, 127.0.0.3, … 0: the kernel's choice is enough. Why not fill the port range: the
// kernel's search for a free port slows as one address fills up (measured: 18,000 connections
// from one address stalled the tester for 21 s at about 14,000, 9.3 CPU s; from four, 2.0 CPU s,
// connect p99 0.66 s).
inline constexpr std::uint64_t kConnectionsPerSource = 4'000;
std::uint64_t auto_source_count(std::uint64_t tcp_connections, std::uint64_t ports);

// One worker's share of the run: its slice and its part of every rate. Rates split in
// proportion to the devices simulated; downlink comes only from the process with accounts
// (it gets the whole run's downlink rate, since it is the only sender).
struct WorkerShare {
  Slice devices;
  bool accounts = false;
  Traffic traffic;
};
// The run's population slice (a shard) over `workers` processes; `run_traffic` holds the
// whole run's rates (all shards), `run_devices` the whole population. Accounts go to worker 0
// when `accounts_here` (shard 1 of a run that needs them).
std::vector<WorkerShare> plan_workers(Slice shard, std::uint64_t run_devices, std::uint64_t workers,
                                      const Traffic& run_traffic, bool accounts_here);

// Snapshots as the workers send them to the parent (one JSON object per line) and merged
// there: counts add, `elapsed_s` is the largest.
nlohmann::ordered_json snapshot_to_json(const Snapshot& s);
Result<Snapshot> snapshot_from_json(const nlohmann::json& j);
void merge_snapshot(Snapshot& into, const Snapshot& other);

}  // namespace m2m::loadtest
