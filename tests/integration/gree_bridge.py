#!/usr/bin/env python3
"""gree-ctl bridge (issue 12 part 2): emulated units on a pty, the real m2m-server on loopback,
operators logged in with m2m-send. A set through the cloud reaches the unit and comes back as
an uplink; faults and serial trouble reach the operator as term.event; two units on one bus
are two devices; a unit with no known code is refused before anything is sent.

Every wait polls a condition with a deadline; every process is stopped."""
import json, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import Server, run_tests  # noqa: E402

BIN_DIR = os.environ.get("BIN_DIR", "build/bin")
GREE = os.path.join(BIN_DIR, "gree-ctl")
SEND = os.path.join(BIN_DIR, "m2m-send")
A, B = "0000000000FED24A", "00000000075BCD15"
DEVICES = [(A, "text:123", "lab", 1, "unit 1023"), (B, "text:456", "lab", 1, "unit 1024")]
# Account 1 sends commands; account 2 only watches (a second login of one account replaces the first).
ACCOUNTS = [(1, "operator", "text:op", "lab", 1, ""), (2, "watcher", "text:w", "lab", 1, "")]
WAIT = 20.0  # the bound of every wait below; a loaded machine needs headroom, a pass takes far less


class Procs:
    """Processes writing to files; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="gree-bridge-")
        self.env = dict(os.environ, XDG_STATE_HOME=os.path.join(self.tmp, "state"))
        self.procs = []

    def start(self, name, cmd):
        out = os.path.join(self.tmp, name + ".out")
        err = os.path.join(self.tmp, name + ".err")
        p = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=open(err, "w"), env=self.env)
        p.out, p.err = out, err
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            self.stop(p)
        subprocess.run(["rm", "-rf", self.tmp])


def lines(path):
    out = []
    try:
        with open(path) as f:
            for l in f:
                if l.endswith("\n") and l.strip():
                    try:
                        out.append(json.loads(l))
                    except ValueError:
                        pass
    except FileNotFoundError:
        pass
    return out


def wait_for(what, cond, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def emulator(ps, name, link, *args):
    p = ps.start(name, [GREE, "emulate", "--link", link, "-t", "120s", *args])
    wait_for(name + " listening", lambda: any(e.get("event") == "listening" for e in lines(p.out)) and os.path.islink(link))
    return p


def ctl(ps, link, *args):
    r = subprocess.run([GREE, "-d", link, "--timeout", "400ms", *args], capture_output=True, text=True, timeout=30, env=ps.env)
    return r.returncode, r.stdout, r.stderr


def learn(ps, link, addr, *settings):
    """Gives the unit every main setting once, so gree-ctl knows its code (the documented way)."""
    rc, out, err = ctl(ps, link, "set", "--addr", str(addr), *settings)
    assert rc == 0, (rc, out, err)


def bridge(ps, link, srv, *units, extra=()):
    cmd = [GREE, "-d", link, "--timeout", "400ms", "bridge", "--server", "127.0.0.1:%d" % srv.port, "--poll", "200ms"]
    for u in units:
        cmd += ["--unit", u]
    return ps.start("bridge", cmd + list(extra))


def watcher(ps, srv):
    """Account 2 listening: every uplink and event of the lab group lands in its file."""
    p = ps.start("watcher", [SEND, "--server", "127.0.0.1:%d" % srv.port, "--account", "2", "--password", "text:w",
                             "--listen", "-t", "120s"])
    srv.wait_event("login", account=2, timeout=WAIT)
    return p


def operator(srv, type_, device, *args):
    """Account 1 sends one frame to a device and waits for its reply: (exit code, reply record)."""
    r = subprocess.run([SEND, "--server", "127.0.0.1:%d" % srv.port, "--account", "1", "--password", "text:op", type_,
                        "--device", device, "-t", "10s", *args], capture_output=True, text=True, timeout=30)
    recs = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    replies = [x for x in recs if x.get("device") == device]
    return r.returncode, (replies[-1] if replies else None), r.stderr


def uplinks(w, device):
    out = []
    for e in lines(w.out):
        if e.get("type") == "data.uplink" and e.get("device") == device:
            out.append(json.loads(bytes.fromhex(e["body"]["payload"]).decode()))
    return out


def events(w, device):
    return [e["body"] for e in lines(w.out) if e.get("type") == "term.event" and e.get("device") == device]


def emulated(p, addr):
    """The last state the emulated unit reported on the line."""
    tx = [e["frame"] for e in lines(p.out) if e.get("event") == "tx" and "frame" in e and e["frame"]["address"] == addr]
    return tx[-1] if tx else None


def codes_received(p):
    return [e["frame"].get("code") for e in lines(p.out) if e.get("event") == "rx"]


def test_refused_without_known_code():
    with Procs() as ps, Server(DEVICES, ACCOUNTS) as srv:
        link = os.path.join(ps.tmp, "bus")
        emu = emulator(ps, "emu", link, "--units", "1023,1024")
        learn(ps, link, 1023, "--power", "on", "--mode", "cool", "--temp", "24", "--fan", "high")
        before = len(codes_received(emu))
        for units in (["1024=%s:text:456" % B], ["1023=%s:text:123" % A, "1024=%s:text:456" % B]):
            b = bridge(ps, link, srv, *units)
            rc = b.wait(timeout=WAIT)
            err = open(b.err).read()
            assert rc == 2, (rc, err)
            for words in ("no known settings for unit 1024", "nothing was sent", "point-to-point",
                          "set --addr 1024 --power on|off --mode"):
                assert words in err, (words, err)
        assert len(codes_received(emu)) == before, "a refused bridge put something on the line"
        assert all(e.get("event") != "login" for e in srv.seen), srv.seen
        # A wrong password: the platform refuses, the bridge says which unit and exits 5.
        b = bridge(ps, link, srv, "1023=%s:text:999" % A)
        rc = b.wait(timeout=WAIT)
        err = open(b.err).read()
        assert rc == 5 and "login of %s (unit 1023)" % A in err and "refused" in err, (rc, err)
        # A bad --unit is a usage error too, before anything happens.
        b = bridge(ps, link, srv, "1023=%s" % A)
        assert b.wait(timeout=WAIT) == 2 and "ADDR=DEVICE_ID:PASSWORD" in open(b.err).read()


def test_set_temperature_through_the_cloud():
    with Procs() as ps, Server(DEVICES, ACCOUNTS) as srv:
        link = os.path.join(ps.tmp, "ac")
        emu = emulator(ps, "emu", link, "--units", "1023")
        learn(ps, link, 1023, "--power", "on", "--mode", "cool", "--temp", "24", "--fan", "high")
        w = watcher(ps, srv)
        b = bridge(ps, link, srv, "1023=%s:text:123" % A)
        wait_for("the first state uplink", lambda: any(u.get("set_temp") == 24 for u in uplinks(w, A)))
        first = uplinks(w, A)[0]
        assert first["type"] == "status" and first["address"] == 1023 and first["mode"] == "cool", first

        rc, rep, err = operator(srv, "data.downlink", A, "--text", '{"set":{"temp":22}}')
        assert rc == 0 and rep["type"] == "data.downlink" and rep["status"] == "ok", (rc, rep, err)
        up = wait_for("an uplink at 22 degrees", lambda: [u for u in uplinks(w, A) if u.get("set_temp") == 22])[0]
        # Only the temperature changed: power, mode and fan are the last known ones.
        assert (up["power"], up["mode"], up["fan"]) == (True, "cool", "high"), up
        unit = wait_for("the emulated unit at 22", lambda: (emulated(emu, 1023) or {}).get("set_temp") == 22 and emulated(emu, 1023))
        assert unit["mode"] == "cool" and unit["fan"] == "high" and unit["power"] is True, unit
        # Nothing but the known code and the asked change ever reached the line.
        assert set(codes_received(emu)) <= {"39082050", "39062050"}, set(codes_received(emu))

        # {"status":true}: ok, then the state.
        n = len(uplinks(w, A))
        rc, rep, _ = operator(srv, "data.downlink", A, "--text", '{"status":true}')
        assert rc == 0 and rep["status"] == "ok", rep
        wait_for("a status uplink", lambda: len(uplinks(w, A)) > n)

        # A bad command: fail, and an error object says why; the unit is untouched.
        rc, rep, _ = operator(srv, "data.downlink", A, "--text", '{"set":{"temp":40}}')
        assert rc == 5 and rep["status"] == "fail", (rc, rep)
        err = wait_for("an error uplink", lambda: [u for u in uplinks(w, A) if "error" in u])[0]
        assert "out of range 16..30" in err["error"] and err["address"] == 1023, err

        # Config parameters, kept in memory.
        rc, rep, _ = operator(srv, "term.config_read", A, "--param", "heartbeat_interval")
        assert rc == 0 and rep["body"] == {"param": "heartbeat_interval", "value": 30}, rep
        rc, rep, _ = operator(srv, "term.config_write", A, "--param", "heartbeat_interval", "--value", "20")
        assert rc == 0 and rep["status"] == "ok", rep
        rc, rep, _ = operator(srv, "term.config_read", A, "--param", "heartbeat_interval")
        assert rep["body"]["value"] == 20, rep
        rc, rep, _ = operator(srv, "term.config_read", A, "--param", "0x0099")
        assert rc == 5 and rep["status"] == "unsupported", rep
        rc, rep, _ = operator(srv, "term.config_read", A, "--param", "version")
        assert rep["body"]["value"]["hardware"] == "gree-serial", rep
        # A command a device does not implement: status 0x03.
        rc, rep, _ = operator(srv, "term.ota_start", A, "--file", "fw.bin", "--checksum", "1")
        assert rc == 5 and rep["status"] == "unsupported", rep

        # Reboot: ok, then the line is re-opened and the unit logs in again.
        srv.wait_event("login", device=A, timeout=WAIT)
        rc, rep, _ = operator(srv, "term.reboot", A)
        assert rc == 0 and rep["status"] == "ok", rep
        srv.wait_event("login", device=A, timeout=WAIT)
        wait_for("the bridge logged in twice", lambda: len([e for e in lines(b.out) if e.get("event") == "logged_in"]) == 2)
        assert b.poll() is None, open(b.err).read()
        assert ps.stop(b) == 130


def test_faults_and_serial_trouble_reach_the_operator():
    with Procs() as ps, Server(DEVICES, ACCOUNTS) as srv:
        link = os.path.join(ps.tmp, "ac")
        emu = emulator(ps, "emu", link, "--units", "1023", "--fault", "E3")
        learn(ps, link, 1023, "--power", "on", "--mode", "heat", "--temp", "26", "--fan", "auto")
        w = watcher(ps, srv)
        b = bridge(ps, link, srv, "1023=%s:text:123" % A)

        def described(*words):
            return lambda: [e for e in events(w, A) if all(x in e["description"] for x in words)]

        ev = wait_for("the E3 event", described("fault E3", "appeared"))[0]
        assert ev["code"] == 0x20 and ev["event"] == "working", ev
        assert ev["description"] == "unit 1023: fault E3 (compressor low-pressure protection) appeared", ev
        # The state uplink carries the fault too; it may reach the watcher just after the event.
        wait_for("an uplink with the E3 fault",
                 lambda: any(u["faults"] == [{"code": "E3", "message": "compressor low-pressure protection"}]
                             for u in uplinks(w, A)))

        # The unit goes away (the port with it): an event, retries, the cloud session stays.
        ps.stop(emu)
        wait_for("the serial trouble event", described("unit 1023: serial trouble", "retrying with backoff"))
        # A unit without the fault comes back on the same port: the bridge re-opens it,
        # re-asserts the last known code (not the new unit's factory state) and says so.
        emu2 = emulator(ps, "emu2", link, "--units", "1023")
        wait_for("the line working again", described("unit 1023: serial line working again"))
        wait_for("the E3 cleared event", described("fault E3", "cleared"))
        unit = wait_for("the known code re-asserted", lambda: emulated(emu2, 1023))
        assert (unit["power"], unit["mode"], unit["set_temp"]) == (True, "heat", 26), unit
        assert len(set(codes_received(emu2))) == 1, codes_received(emu2)  # only the known code
        assert len([e for e in lines(b.out) if e.get("event") == "logged_in"]) == 1, "the cloud session was dropped"
        assert b.poll() is None, open(b.err).read()


def test_damaged_replies_are_reported_and_retried():
    with Procs() as ps, Server(DEVICES, ACCOUNTS) as srv:
        link = os.path.join(ps.tmp, "ac")
        emu = emulator(ps, "emu", link, "--units", "1023")
        learn(ps, link, 1023, "--power", "on", "--mode", "cool", "--temp", "24", "--fan", "high")
        ps.stop(emu)
        # The same unit (the known code is kept per port), now answering its first 3 replies
        # with a bad checksum: the first poll tries 3 times (--retries 2) and fails.
        emulator(ps, "emu2", link, "--units", "1023", "--corrupt-first", "3")
        w = watcher(ps, srv)
        b = bridge(ps, link, srv, "1023=%s:text:123" % A)

        def described(*words):
            return lambda: [e for e in events(w, A) if all(x in e["description"] for x in words)]

        ev = wait_for("the bad checksum event", described("unit 1023: serial trouble (bad_checksum)", "retrying with backoff"))[0]
        assert "checksum" in ev["description"], ev
        wait_for("the line working again", described("unit 1023: serial line working again (after bad_checksum)"))
        wait_for("a state uplink", lambda: uplinks(w, A))
        assert len([e for e in lines(b.out) if e.get("event") == "logged_in"]) == 1


def test_platform_restart():
    """The platform goes away and comes back on the same port: the bridge logs in again by
    itself (lib/device's backoff) and is commanded as before."""
    with Procs() as ps, Server(DEVICES, ACCOUNTS) as srv:
        link = os.path.join(ps.tmp, "ac")
        emulator(ps, "emu", link, "--units", "1023")
        learn(ps, link, 1023, "--power", "on", "--mode", "cool", "--temp", "24", "--fan", "high")
        b = bridge(ps, link, srv, "1023=%s:text:123" % A)
        srv.wait_event("login", device=A, timeout=WAIT)
        srv.stop()
        wait_for("the bridge noticing", lambda: [e for e in lines(b.out) if e.get("event") in ("disconnected", "link_lost")])
        again = ps.start("server2", [srv.bin, "serve", "--db", srv.db, "--listen", "127.0.0.1:%d" % srv.port])
        wait_for("the bridge logged in again", lambda: len([e for e in lines(b.out) if e.get("event") == "logged_in"]) == 2)
        rc, rep, err = operator(srv, "data.downlink", A, "--text", '{"set":{"temp":23}}')
        assert rc == 0 and rep["status"] == "ok", (rc, rep, err)
        assert b.poll() is None and again.poll() is None


def test_two_units_on_one_bus():
    with Procs() as ps, Server(DEVICES, ACCOUNTS) as srv:
        link = os.path.join(ps.tmp, "bus")
        emu = emulator(ps, "emu", link, "--units", "1023,1024")
        learn(ps, link, 1023, "--power", "on", "--mode", "cool", "--temp", "24", "--fan", "high")
        learn(ps, link, 1024, "--power", "on", "--mode", "heat", "--temp", "26", "--fan", "auto")
        w = watcher(ps, srv)
        bridge(ps, link, srv, "1023=%s:text:123" % A, "1024=%s:text:456" % B, extra=("--interval", "1s"))
        wait_for("uplinks of both devices", lambda: uplinks(w, A) and uplinks(w, B))
        assert uplinks(w, A)[0]["address"] == 1023 and uplinks(w, B)[0]["address"] == 1024
        rc, rep, err = operator(srv, "data.downlink", B, "--text", '{"set":{"mode":"cool","temp":21}}')
        assert rc == 0 and rep["status"] == "ok", (rc, rep, err)
        up = wait_for("unit 1024's new state", lambda: [u for u in uplinks(w, B) if u.get("set_temp") == 21])[0]
        assert (up["address"], up["mode"], up["fan"]) == (1024, "cool", "auto"), up
        wait_for("unit 1024 at 21 on the line", lambda: (emulated(emu, 1024) or {}).get("set_temp") == 21)
        # Unit 1023 and device A are untouched.
        assert all(u["set_temp"] == 24 and u["mode"] == "cool" for u in uplinks(w, A) if "error" not in u), uplinks(w, A)
        assert (emulated(emu, 1023) or {}).get("set_temp") == 24
        # Unchanged, the state still goes up every --interval.
        n = len(uplinks(w, A))
        wait_for("two more interval uplinks", lambda: len(uplinks(w, A)) >= n + 2)


if __name__ == "__main__":
    run_tests([test_refused_without_known_code, test_set_temperature_through_the_cloud,
               test_faults_and_serial_trouble_reach_the_operator, test_damaged_replies_are_reported_and_retried,
               test_platform_restart, test_two_units_on_one_bus])
