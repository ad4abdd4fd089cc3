#include "workers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "loadtest/run_plan.hpp"
#include "net/loop.hpp"

namespace m2m::loadtest_tool {

namespace {
using namespace std::chrono;
using loadtest::EngineOptions;
using loadtest::Report;
using loadtest::Snapshot;

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// The worker: one Engine, its figures as JSON lines on `fd`. Never returns.
[[noreturn]] void worker_main(const EngineOptions& o, int fd, pid_t parent) {
  // Killed with the parent (the loop notices the flag as for SIGINT).
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::raise(SIGTERM);
  auto send = [fd](const nlohmann::ordered_json& j) { return write_all(fd, j.dump() + "\n"); };
  int rc = 0;
  try {
    net::Stop stop;
    cli::install_interrupt_flag(&stop);
    if (cli::interrupted()) stop.request();
    auto engine = loadtest::Engine::make(o);
    if (!engine) {
      send({{"error", engine.error().message}, {"usage", engine.error().kind == ErrorKind::bad_value}});
      ::_exit(2);
    }
    auto report = (*engine)->run(stop, [&](const Snapshot& s) { send({{"snapshot", loadtest::snapshot_to_json(s)}}); });
    if (!report) {
      send({{"error", report.error().message}, {"usage", false}});
      rc = 1;
    } else if (!send({{"report", report->to_json()}})) {
      rc = 1;  // the parent is gone
    }
  } catch (const std::exception& e) {
    send({{"error", std::string("unexpected failure: ") + e.what()}, {"usage", false}});
    rc = 1;
  }
  ::_exit(rc);
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  loadtest::Slice devices;
  std::string buf;
  std::optional<Snapshot> snapshot;
  std::optional<Report> report;
  std::string error;      // what the worker said, or what was wrong with what it sent
  bool usage = false;
  bool eof = false;
  bool killed_late = false;
};

void take_line(Worker& w, std::string_view line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    if (w.error.empty()) w.error = "sent a line that is not JSON";
    return;
  }
  if (!j.is_object()) return;
  if (auto it = j.find("snapshot"); it != j.end()) {
    if (auto s = loadtest::snapshot_from_json(*it)) w.snapshot = std::move(*s);
  } else if (auto rt = j.find("report"); rt != j.end()) {
    if (auto r = Report::from_json(*rt)) w.report = std::move(*r);
    else w.error = "sent a report that does not read: " + r.error().message;
  } else if (auto et = j.find("error"); et != j.end() && et->is_string()) {
    w.error = et->get<std::string>();
    w.usage = j.value("usage", false);
  }
}

void read_from(Worker& w) {
  char chunk[65536];
  const ssize_t n = ::read(w.fd, chunk, sizeof chunk);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    w.eof = true;
    return;
  }
  if (n == 0) {
    w.eof = true;
    return;
  }
  w.buf.append(chunk, static_cast<std::size_t>(n));
  std::size_t start = 0;
  for (std::size_t nl; (nl = w.buf.find('\n', start)) != std::string::npos; start = nl + 1)
    take_line(w, std::string_view(w.buf).substr(start, nl - start));
  w.buf.erase(0, start);
}

std::string how_it_ended(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}
}  // namespace

WorkersOutcome run_workers(const std::vector<EngineOptions>& jobs, loadtest::Millis deadline,
                           const std::function<void(const Snapshot&)>& progress) {
  WorkersOutcome out;
  std::vector<Worker> workers(jobs.size());
  const pid_t parent = ::getpid();
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
      out.failures.push_back(std::string("cannot create a pipe for worker ") + std::to_string(i + 1) + ": " +
                             std::strerror(errno));
      break;
    }
    std::fflush(nullptr);  // nothing buffered is written twice
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(p[0]);
      for (std::size_t k = 0; k < i; ++k) ::close(workers[k].fd);
      worker_main(jobs[i], p[1], parent);
    }
    ::close(p[1]);
    if (pid < 0) {
      ::close(p[0]);
      out.failures.push_back("cannot start worker " + std::to_string(i + 1) + ": " + std::strerror(errno));
      break;
    }
    workers[i].pid = pid;
    workers[i].fd = p[0];
    workers[i].devices = jobs[i].devices;
  }
  if (!out.failures.empty())  // stop those already started
    for (auto& w : workers)
      if (w.pid > 0) ::kill(w.pid, SIGKILL);

  const auto start = steady_clock::now();
  auto next_tick = start + seconds(1);
  bool passed_on = false;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Worker*> who;
    for (auto& w : workers)
      if (w.pid > 0 && !w.eof) {
        fds.push_back({w.fd, POLLIN, 0});
        who.push_back(&w);
      }
    if (fds.empty()) break;
    if (cli::interrupted() && !passed_on) {
      out.interrupted = passed_on = true;
      for (auto* w : who) ::kill(w->pid, SIGINT);
    }
    auto now = steady_clock::now();
    if (now - start >= deadline) {
      for (auto* w : who)
        if (!w->killed_late) {
          w->killed_late = true;
          ::kill(w->pid, SIGKILL);
        }
    }
    const auto wait = std::clamp<long long>(duration_cast<milliseconds>(next_tick - now).count(), 0, 200);
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait));
    if (n > 0)
      for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents) {
          read_from(*who[i]);
          // A worker gone without its report: the run's figures cannot be whole, so the
          // others stop now instead of running out their duration.
          if (who[i]->eof && !who[i]->report && !passed_on) {
            passed_on = true;
            for (auto& w : workers)
              if (w.pid > 0 && !w.eof) ::kill(w.pid, SIGINT);
          }
        }
    now = steady_clock::now();
    if (now >= next_tick) {
      next_tick = std::max(next_tick + seconds(1), now + milliseconds(500));
      std::optional<Snapshot> merged;
      for (const auto& w : workers)
        if (w.snapshot) {
          if (!merged) merged = *w.snapshot;
          else loadtest::merge_snapshot(*merged, *w.snapshot);
        }
      if (merged && progress) progress(*merged);
    }
  }

  std::vector<Report> reports;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    auto& w = workers[i];
    if (w.pid <= 0) continue;
    ::close(w.fd);
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string name = "worker " + std::to_string(i + 1) + " of " + std::to_string(workers.size()) + " (pid " +
                             std::to_string(w.pid) + ", devices " + std::to_string(w.devices.begin) + "-" +
                             std::to_string(w.devices.end == 0 ? 0 : w.devices.end - 1) + ")";
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (w.report && clean) {
      reports.push_back(std::move(*w.report));
      continue;
    }
    out.usage_error = out.usage_error || w.usage;
    std::string why;
    if (w.killed_late)
      why = "did not finish within " + format_duration(deadline) + " and was stopped";
    else if (!w.error.empty())
      why = w.error;
    else
      why = how_it_ended(status) + (w.report ? "" : " before it sent its report");
    out.failures.push_back(name + ": " + why);
  }
  out.report = loadtest::merge_reports(reports);
  out.report.shards = 1;
  return out;
}

}  // namespace m2m::loadtest_tool
