"""m2m-ota-serve end to end on loopback with m2m-simdevice devices, and an update through
m2m-server --firmware-dir started by an operator with m2m-send (issue #10). Every wait is
bounded; the servers and simulators are always stopped."""
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "simdevice_support"))
from m2m_client import Server, run_tests  # noqa: E402
from sim import Sim  # noqa: E402

BIN = os.environ.get("BIN_DIR", "build/bin")


def image(size, seed):
    data = bytes((i * 131 + seed + (i >> 10)) & 0xFF for i in range(size))
    d = tempfile.mkdtemp(prefix="ota-test-")
    path = os.path.join(d, "app-v2.bin")
    with open(path, "wb") as f:
        f.write(data)
    return path, sum(data) & 0xFF


def ids(start, n):
    return ["%016X" % (start + i) for i in range(n)]


class OtaServe:
    """m2m-ota-serve on 127.0.0.1:0: stdout JSON lines and stderr progress lines in queues."""

    def __init__(self, args):
        self.proc = subprocess.Popen([os.path.join(BIN, "m2m-ota-serve"), "--listen", "127.0.0.1:0"] + args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.out, self.err = queue.Queue(), queue.Queue()
        self.records, self.lines = [], []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, self.records, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, self.lines, False), daemon=True).start()
        first = self.err_line(lambda l: " on 127.0.0.1:" in l, 10)
        self.port = int(re.search(r" on 127\.0\.0\.1:(\d+) ", first).group(1))

    @staticmethod
    def _pump(stream, q, keep, is_json):
        for line in stream:
            line = line.rstrip("\n")
            item = json.loads(line) if is_json else line
            keep.append(item)
            q.put(item)
        q.put(None)

    def err_line(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("m2m-ota-serve: no such stderr line within %.0fs: %s" % (timeout, self.lines[-5:]))
            try:
                line = self.err.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("m2m-ota-serve exited (%s): %s" % (self.proc.poll(), self.lines[-5:]))
            if pred(line):
                return line

    def wait(self, timeout):
        rc = self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + 5
        while (not self.records or "summary" not in self.records[-1]) and time.monotonic() < deadline:
            time.sleep(0.01)  # the pump thread drains what the exited process wrote
        return rc

    def devices(self):
        return {r["id"]: r for r in self.records if "id" in r}

    def summary(self):
        return [r for r in self.records if r.get("summary")][-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def sim(port, start, n, extra=(), password="text:pw"):
    return Sim(["--server", "127.0.0.1:%d" % port, "--count", str(n), "--id-start", "0x%X" % start,
                "--password", password, "--reboot-time", "200ms", "-t", "170s"] + list(extra), verbose=False)


def test_twenty_devices_from_one_mib_image():
    path, sum_ = image(1 << 20, 7)
    targets = ids(0x1000, 20)
    with OtaServe(["--firmware", path, "--accept-any", "--devices", ",".join(targets), "--until-done",
                   "--stall-timeout", "30s", "-t", "150s"]) as srv, sim(srv.port, 0x1000, 20):
        rc = srv.wait(160)
        got = srv.devices()
        assert rc == 0, (rc, srv.lines[-5:])
        assert sorted(got) == targets, sorted(got)
        for d, r in got.items():
            # The device's own outcome: it summed the bytes and compared them with the checksum.
            assert r["outcome"] == "upgrade ok: app-v2.bin 1048576 bytes", r
            assert r["ok"] is True and r["old_version"] == "1.0.0" and r["new_version"] == "app-v2", r
            assert r["bytes"] == 1 << 20 and r["frames"] >= 1024 and r["retries"] == 0, r
        s = srv.summary()
        assert s["ok"] == 20 and s["failed"] == 0 and s["bytes_served"] == 20 << 20, s
        assert any(("checksum 0x%02X" % sum_) in l for l in srv.lines[:1]), srv.lines[:1]


def test_corrupted_image_is_reported_failed_and_until_done_exits_7():
    path, sum_ = image(20000, 3)
    wrong = (sum_ + 1) & 0xFF
    targets = ids(0x2000, 3)
    with OtaServe(["--firmware", path, "--accept-any", "--devices", ",".join(targets), "--until-done",
                   "--checksum", str(wrong), "-t", "60s"]) as srv, sim(srv.port, 0x2000, 3):
        rc = srv.wait(70)
        got = srv.devices()
        assert rc == 7, (rc, srv.lines[-5:])
        assert sorted(got) == targets
        for r in got.values():
            assert r["ok"] is False, r
            assert r["outcome"] == "checksum mismatch: want 0x%02X got 0x%02X" % (wrong, sum_), r
            assert r["bytes"] == 20000 and r["new_version"] == "", r
        assert srv.summary()["failed"] == 3


def test_device_killed_mid_update_fails_after_the_stall_timeout():
    path, _ = image(1 << 20, 5)
    dev = ids(0x3000, 1)
    with OtaServe(["--firmware", path, "--accept-any", "--devices", dev[0], "--until-done",
                   "--stall-timeout", "1s", "-t", "60s"]) as srv:
        s = sim(srv.port, 0x3000, 1)
        try:
            srv.err_line(lambda l: dev[0] in l and "transferring" in l, 20)
            s.proc.kill()
        finally:
            s.stop()
        t0 = time.monotonic()
        rc = srv.wait(30)
        r = srv.devices()[dev[0]]
        assert rc == 7, rc
        assert r["ok"] is False and re.fullmatch(r"stalled after frame \d+ for 1 s", r["outcome"]), r
        assert 0 < r["bytes"] < 1 << 20, r
        assert time.monotonic() - t0 < 10


def test_max_parallel_five():
    path, _ = image(64 << 10, 9)
    targets = ids(0x4000, 20)
    with OtaServe(["--firmware", path, "--accept-any", "--devices", ",".join(targets), "--until-done",
                   "--max-parallel", "5", "-t", "150s"]) as srv, sim(srv.port, 0x4000, 20):
        rc = srv.wait(160)
        assert rc == 0, (rc, srv.lines[-5:])
        assert len([r for r in srv.devices().values() if r["ok"]]) == 20
        # Replay the per-device start and finish lines in the order the server wrote them.
        flying, peak = set(), 0
        for line in srv.lines:
            m = re.match(r"m2m-ota-serve: ([0-9A-F]{16}) (starting|ok|failed)\b.*, (\d+) in flight$", line)
            if not m:
                continue
            if m.group(2) == "starting":
                flying.add(m.group(1))
            else:
                flying.discard(m.group(1))
            peak = max(peak, len(flying))
            # The count the server printed (several may start in one tick) and the replayed one.
            assert len(flying) <= 5 and int(m.group(3)) <= 5, (line, flying)
        assert peak == 5, peak


def test_until_done_exit_0_and_7_for_a_target_that_never_logs_in():
    path, _ = image(4096, 1)
    with OtaServe(["--firmware", path, "--accept-any", "--devices", "0x5000,0x5001", "--until-done",
                   "-t", "3s"]) as srv, sim(srv.port, 0x5000, 1):
        rc = srv.wait(30)
        got = srv.devices()
        assert rc == 7, rc
        assert got["0000000000005000"]["ok"] is True, got
        assert got["0000000000005001"] == dict(got["0000000000005001"], ok=False,
                                               outcome="not started: the device did not log in"), got


def test_operator_update_through_m2m_server_firmware_dir():
    path, sum_ = image(1 << 20, 11)
    dev = "0000000000006000"
    with Server(devices=[(dev, "text:pw", "lab", 1, "")],
                accounts=[(1, "operator", "text:op", "lab", 1, ""), (2, "watcher", "text:wa", "lab", 1, "")],
                args=["--firmware-dir", os.path.dirname(path)]) as srv, \
            Sim(["--server", "127.0.0.1:%d" % srv.port, "--id", dev, "--password", "text:pw",
                 "--reboot-time", "200ms", "--ota-frame-size", "512", "-t", "60s"], verbose=False):
        srv.wait_event("login", device=dev)
        op = ["--server", "127.0.0.1:%d" % srv.port, "--account", "1", "--password", "text:op"]
        # A second account of the group listens from before the start (one session per
        # account: the operator's own session ends with the start's reply), so the device's
        # 0x10 event reaches it whenever the transfer ends.
        listener = subprocess.Popen([os.path.join(BIN, "m2m-send"), "--server", "127.0.0.1:%d" % srv.port,
                                     "--account", "2", "--password", "text:wa", "--listen", "-t", "60s"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        records = queue.Queue()
        threading.Thread(target=lambda: [records.put(json.loads(l)) for l in listener.stdout], daemon=True).start()
        try:
            srv.wait_event("login", account=2)
            # The operator starts the update, the checksum left to the platform.
            r = subprocess.run([os.path.join(BIN, "m2m-send")] + op +
                               ["term.ota_start", "--device", dev, "--file", "app-v2.bin", "-t", "10s"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout.splitlines()[-1])["status"] == "ok", r.stdout
            fwd = srv.wait_event("route", device=dev, type="term.ota_start")
            assert fwd["account"] == 1, fwd
            deadline = time.monotonic() + 30
            while True:
                try:
                    ev = records.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError("no term.event for the operator; server events: %s" % srv.seen[-8:])
                if ev.get("type") == "term.event":
                    break
        finally:
            listener.kill()
            listener.wait()
        # The device verified the checksum the platform filled in (sum of the bytes mod 256).
        assert ev["device"] == dev, ev
        assert ev["body"]["code"] == 16 and ev["body"]["description"] == "upgrade ok: app-v2.bin 1048576 bytes", ev
        assert sum_ == sum(open(path, "rb").read()) & 0xFF
        # The device logged in again and reports the new version.
        srv.wait_event("login", device=dev, timeout=10)
        r = subprocess.run([os.path.join(BIN, "m2m-send")] + op +
                           ["term.config_read", "--device", dev, "--param", "version", "-t", "10s"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert '"software":"app-v2"' in r.stdout.replace(" ", ""), r.stdout


def test_registry_passwords_and_the_frame_size_cap():
    """--db: the registry's passwords (a wrong one never logs in, so it is reported not
    started); --frame-size 512 refuses the simulated devices' 1024-byte frames, and the device
    reports the refusal."""
    path, _ = image(8192, 4)
    with Server(devices=[("0000000000007000", "text:right", "lab", 1, ""),
                         ("0000000000007001", "text:right", "lab", 1, "")]) as reg:
        reg.stop()
        with OtaServe(["--firmware", path, "--db", reg.db, "--until-done", "-t", "5s"]) as srv, \
                sim(srv.port, 0x7000, 1, password="text:right"), \
                Sim(["--server", "127.0.0.1:%d" % srv.port, "--id", "0x7001", "--password", "text:wrong",
                     "-t", "30s"], verbose=False):
            rc = srv.wait(30)
            got = srv.devices()
            assert rc == 7, rc
            assert got["0000000000007000"]["ok"] is True, got
            assert got["0000000000007001"]["outcome"] == "not started: the device did not log in", got
        with OtaServe(["--firmware", path, "--db", reg.db, "--devices", "0x7000", "--frame-size", "512",
                       "--until-done", "-t", "30s"]) as srv, sim(srv.port, 0x7000, 1, password="text:right"):
            rc = srv.wait(40)
            r = srv.devices()["0000000000007000"]
            assert rc == 7, rc
            assert r["ok"] is False and r["outcome"].startswith("refused at frame 0"), r
            assert r["bytes"] == 0, r


def test_garbage_and_strangers_then_sigint():
    """Untrusted bytes: garbage, a truncated frame, a login with a short body and a frame
    request before any login change nothing; a device still updates; SIGINT without
    --until-done ends the server normally (exit 0) with its summary."""
    import socket
    from m2m_client import encode, split_frames
    path, _ = image(4096, 2)
    with OtaServe(["--firmware", path, "--accept-any", "--devices", "0x8000"]) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"\x00garbage\x55\x55\xFF" * 50)
        s.sendall(encode(0xA0, 0x00, device=0x8001, data=b"\x01\x02"))           # login, body too short
        s.sendall(encode(0xF0, 0x57, device=0x8001, data=b"app-v2.bin\x00\x00\x00\x04\x00"))  # no login
        s.sendall(b"\x55" + b"\x01" * 3000)                                     # a frame that never ends
        with sim(srv.port, 0x8000, 1):
            srv.err_line(lambda l: "0000000000008000 ok: upgrade ok" in l, 30)
        s.settimeout(2)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        s.close()
        # The short login got status fail; nothing else was answered.
        frames, rest = split_frames(got)
        assert [(f.cls, f.cmd, f.status, f.device) for f in frames] == [(0xA0, 0x00, 1, 0x8001)], frames
        assert rest == b"", rest
        srv.proc.send_signal(signal.SIGINT)
        rc = srv.wait(10)
        assert rc == 0, rc
        assert srv.devices()["0000000000008000"]["ok"] is True
        assert srv.summary()["ok"] == 1


if __name__ == "__main__":
    run_tests([test_twenty_devices_from_one_mib_image, test_corrupted_image_is_reported_failed_and_until_done_exits_7,
               test_device_killed_mid_update_fails_after_the_stall_timeout, test_max_parallel_five,
               test_until_done_exit_0_and_7_for_a_target_that_never_logs_in,
               test_operator_update_through_m2m_server_firmware_dir,
               test_registry_passwords_and_the_frame_size_cap, test_garbage_and_strangers_then_sigint])
