// The load generator of `m2m-loadtest run`: one process's share of a simulated population on
// one net::Loop, driven by an open-loop schedule (nothing waits for a reply before the next
// operation is due), every latency measured from the operation's *intended* time.
//
// This header is the contract between the engine (lib/loadtest/engine*.cpp) and the program
// (tools/m2m-loadtest/run.cpp: options, worker processes, shards, progress, report output).
//
// Who simulates what:
//  * devices: Population indices [devices.begin, devices.end); device i speaks TCP or UDP by
//    is_tcp(i, tcp_percent), the same answer in every process and on every machine;
//  * platform accounts (one per group, Population::account) only where `accounts` is set: the
//    program sets it in exactly one process of a run (worker 0 of shard 1), since the platform
//    holds one session per account. Downlink traffic comes from there and targets devices of
//    the whole population (answered by whichever process simulates them);
//  * relay: a sender and its receiver are both in this process's slice and in the same group,
//    so loss, duplication and reordering are counted where the frames are numbered.
//
// Times (the report's meaning of each latency, documented in m2m-loadtest(1)):
//  * connect:   intended connect time -> the TCP connection is up (TCP devices only);
//  * login:     intended connect time -> the login reply (so a slow accept shows here too);
//  * heartbeat: the heartbeat's scheduled time -> its reply;
//  * relay:     the sender's scheduled time (carried in the payload) -> the receiver has it;
//  * downlink:  the account's scheduled time -> the device's reply reached the account.
// A send that leaves later than kLateThreshold after its scheduled time is counted in
// Totals::late_sends (the tester itself fell behind); its latency still starts at the
// scheduled time.
//
// Counting (lib/loadtest/engine.cpp):
//  * every login attempt ends once, in login_ok or login_fail: a connect that fails counts in
//    connect_fail and login_fail, with its cause in errors (devices do not retry a failed
//    login; a logged-in device whose connection drops, or that churns, logs in again at once);
//  * errors by kind: refused, reset, closed (the platform closed a session), timeout (a login,
//    heartbeat or downlink reply later than reply_timeout), address_unavailable, login_refused,
//    bad_reply; rarer ones: relay_refused, uplink_refused, hb_refused, no_session (a mix found
//    no logged-in device to use), late_reply (after its timeout was counted), foreign_token,
//    wrong_device, bad_frame, send_queue_full, udp_send_dropped, file_limit, unreachable,
//    account_* (the downlink accounts' own failures);
//  * a heartbeat whose connection drops before the reply counts in hb_loss (not in errors);
//  * mixes (relay, uplink, downlink, churn) start when the login ramp has been scheduled
//    (devices.size() / login_rate after the start); relay pairs are fixed: each device sends to
//    the next member of its group in this slice (a ring), so every receiver has one sender;
//  * UDP devices share a bound socket per 256 devices (the platform keys a UDP session on the
//    device id and token, not on the source address: lib/platform/router.cpp), spread over
//    `sources`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "loadtest/provision.hpp"
#include "loadtest/report.hpp"
#include "net/endpoint.hpp"
#include "net/loop.hpp"

namespace m2m::loadtest {

using Millis = std::chrono::milliseconds;
inline constexpr Millis kLateThreshold{10};

// Rates are per second for THIS engine (the program divides the run's rates among its
// processes and shards). 0 turns a kind of traffic off.
struct Traffic {
  double login_rate = 1000;   // new sessions per second while ramping up
  Millis heartbeat{30'000};   // every device, from its login; 0: none
  double relay = 0;           // relay frames per second, spread over the logged-in devices
  double uplink = 0;          // term uplinks per second (acknowledged by the platform)
  double downlink = 0;        // operator requests (term.config_read) per second; needs accounts
  double churn = 0;           // devices per second that drop their connection and log in again
};

struct EngineOptions {
  // ip:port of the platform (TCP and UDP). Several (a cluster's nodes, each on its own address):
  // device i uses servers[(i / groups) % size], so the members of a group take them in turn and
  // each relay (to the group's next member, see relay_target) goes from one server to the next
  // when there are two or more and groups have two or more members; group g's account uses
  // servers[g % size]. All of one address family.
  std::vector<net::Address> servers;
  Population::Options population;            // the whole provisioned population (seed, groups, …)
  Slice devices;                             // the indices this engine simulates
  unsigned tcp_percent = 100;                // share of the population on TCP (see is_tcp)
  bool accounts = false;                     // log in every group's account (downlink source)
  Traffic traffic;
  Millis duration{60'000};                   // from the first connect to the end of the run
  Millis reply_timeout{5'000};               // a reply later than this is lost (counted, timed out)
  std::vector<net::Address> sources;         // local addresses, round robin (empty: the kernel's choice)
  std::string crc = "modbus";                // the platform's CRC variant (DESIGN.md)
};

// Device i speaks TCP when it falls in the first `tcp_percent` of each block of 100 indices
// (i mod 100 < tcp_percent): deterministic, and every shard and group gets its share.
inline bool is_tcp(std::uint64_t index, unsigned tcp_percent) { return index % 100 < tcp_percent; }

// UDP devices that share one bound socket in the engine (the platform tells them apart by
// device id and token; the socket only gives them a source port). The program counts the
// engine's descriptors with it.
inline constexpr std::uint64_t kUdpDevicesPerSocket = 256;

// Cumulative figures, handed to the progress callback about once a second.
struct Snapshot {
  double elapsed_s = 0;              // since the run started
  std::uint64_t scheduled_connects = 0;  // connects the schedule has asked for so far
  std::uint64_t online = 0;          // sessions logged in now (devices; accounts not counted)
  Totals totals;
  SequenceCounts relay;              // relay frames received so far (lost is final only at the end)
  std::map<std::string, std::uint64_t> errors;  // by kind: refused, reset, timeout, address_unavailable, …
};

class Engine {
 public:
  // Checks the options (a slice inside the population, rates >= 0, downlink only with
  // accounts, …) and builds the per-device state; nothing is connected yet.
  static Result<std::unique_ptr<Engine>> make(const EngineOptions& options);
  virtual ~Engine() = default;

  // Runs the schedule until `duration` has passed or `stop` is requested, then closes every
  // session, waits up to reply_timeout for replies still in flight, and returns the report
  // (devices, duration, totals, errors, histograms, relay counts, this process's CPU and RSS).
  // `progress` is called on the loop about once a second. Fails only when the tester itself
  // cannot run (epoll); the platform's failures are counted in the report.
  virtual Result<Report> run(const net::Stop& stop, const std::function<void(const Snapshot&)>& progress) = 0;

  // Bytes of per-device state this engine holds (for the <= 1 KiB per device budget).
  virtual std::size_t memory_per_device() const = 0;
};

}  // namespace m2m::loadtest
