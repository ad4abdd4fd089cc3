#!/usr/bin/env python3
"""gree-ctl against its emulator over a real pty pair: status, set with verification,
addressed vs broadcast, timeout and retry, corrupted reply, wrong address, two units on one
bus, refused values, decode/encode. Every wait is bounded; emulators are always killed.
(The bus safety rules, state files and issue-15 fixes are in gree_bus_state.py.)"""
import json, os, shutil, subprocess, sys, tempfile, time

BIN = os.path.join(os.environ.get("BIN_DIR", "build/bin"), "gree-ctl")
failures = []
procs = []


def check(name, cond, detail=""):
    if not cond:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=sys.stderr)


def emulator(tmp, *args):
    link = os.path.join(tmp, f"pty{len(procs)}")
    p = subprocess.Popen([BIN, "emulate", "--link", link, "-t", "30s", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    deadline = time.time() + 5
    line = p.stdout.readline()  # the emulator prints "listening" first (bounded by -t)
    ev = json.loads(line)
    assert ev["event"] == "listening" and os.path.islink(link), line
    assert time.time() < deadline
    return p, link


def stop(p):
    p.terminate()
    try:
        out, _ = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return [json.loads(l) for l in out.splitlines() if l.strip()]


STATE = tempfile.mkdtemp(prefix="gree-state-")  # never the user's ~/.local/state


def ctl(link, *args, stdin=None):
    r = subprocess.run([BIN, "-d", link, "--timeout", "300ms", "--state-dir", STATE, *args], input=stdin,
                       capture_output=True, text=True, timeout=15)
    return r.returncode, r.stdout, r.stderr


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # one unit, point-to-point
        p, link = emulator(tmp, "--units", "1023", "--room", "27")
        rc, out, err = ctl(link, "status")
        check("status rc", rc == 0, f"rc={rc} err={err}")
        s = json.loads(out) if rc == 0 else {}
        check("status fields", s.get("address") == 1023 and s.get("room_temp") == 27 and s.get("code") == "00092050"
              and s.get("power") is False, out)
        rc, out, err = ctl(link, "set", "--power", "on", "--mode", "cool", "--temp", "22", "--fan", "high", "--swing", "on")
        s = json.loads(out) if rc == 0 else {}
        check("set broadcast+confirm", rc == 0 and s.get("power") and s.get("mode") == "cool" and s.get("set_temp") == 22
              and s.get("fan") == "high" and s.get("swing") and s["running"]["compressor"], f"rc={rc} {out} {err}")
        rc, out, err = ctl(link, "set", "--addr", "1023", "--temp", "24")
        s = json.loads(out) if rc == 0 else {}
        check("set addressed keeps others", rc == 0 and s.get("set_temp") == 24 and s.get("mode") == "cool"
              and s.get("swing"), f"rc={rc} {out} {err}")
        rc, out, err = ctl(link, "set", "--temp", "35")
        check("refuse temp 35", rc == 2 and "16..30" in err and out == "", f"rc={rc} {err}")
        rc, out, err = ctl(link, "set", "--mode", "ice")
        check("refuse mode ice", rc == 2 and "auto, cool" in err, f"rc={rc} {err}")
        rc, out, err = ctl(link, "set", "--addr", "1024", "--retries", "1", "--power", "off", "--mode", "auto",
                           "--temp", "25", "--fan", "auto")
        check("other address is silent", rc == 4 and "no reply" in err, f"rc={rc} {err}")
        rc, out, err = ctl(link, "set-address", "77")
        check("set-address", rc == 0 and json.loads(out)["address"] == 77 and json.loads(out)["set_temp"] == 24, f"rc={rc} {out} {err}")
        rc, out, err = ctl(link, "clear-address")
        check("clear-address", rc == 0 and json.loads(out)["address"] == 0, f"rc={rc} {out} {err}")
        rc, out, err = ctl(link, "watch", "--interval", "100ms", "-n", "2")
        lines = [json.loads(l) for l in out.splitlines()]
        check("watch", rc == 0 and len(lines) == 2 and "changed" in lines[1] and "ts" in lines[0], f"rc={rc} {out} {err}")
        log = stop(p)
        kinds = [e["event"] for e in log]
        check("emulator log", "rx" in kinds and "tx" in kinds and "silent" in kinds and kinds[-1] == "stopped", str(kinds))
        check("link removed", not os.path.lexists(link), link)

        # a dropped reply is retried; too many drops time out with exit 4
        p, link = emulator(tmp, "--units", "1023", "--drop-first", "1")
        rc, out, err = ctl(link, "status", "-v")
        check("retry after drop", rc == 0 and "retry 1/2" in err, f"rc={rc} {err}")
        stop(p)
        p, link = emulator(tmp, "--units", "1023", "--drop-first", "9")
        rc, out, err = ctl(link, "status", "--retries", "1")
        check("timeout after retries", rc == 4 and "2 attempt(s)" in err and "8E1" in err, f"rc={rc} {err}")
        stop(p)

        # corrupted checksum, wrong checksum variant, wrong address: exit 3
        p, link = emulator(tmp, "--units", "1023", "--corrupt-first", "9")
        rc, out, err = ctl(link, "status", "--retries", "1")
        check("corrupted reply", rc == 3 and "checksum" in err, f"rc={rc} {err}")
        stop(p)
        p, link = emulator(tmp, "--units", "1023")
        # a unit ignores a request whose checksum (variant) it does not accept: silence
        rc, out, err = ctl(link, "--checksum", "xor8", "status", "--retries", "0")
        check("checksum variant mismatch", rc == 4, f"rc={rc} {err}")
        log = stop(p)
        check("emulator saw bad checksum", any(e.get("error") == "bad_checksum" for e in log), str(log))
        p, link = emulator(tmp, "--units", "1023", "--reply-address", "1024")
        rc, out, err = ctl(link, "set", "--addr", "1023", "--power", "on", "--mode", "cool", "--temp", "24", "--fan", "high")
        check("wrong address", rc == 3 and "unit 1024" in err, f"rc={rc} {err}")
        stop(p)

        # two units on one bus, with a fault on one
        p, link = emulator(tmp, "--units", "1023,1024", "--fault", "1024:E3")
        rc, out, err = ctl(link, "set", "--addr", "1024", "--power", "on", "--mode", "heat", "--temp", "26", "--fan", "auto")
        s = json.loads(out) if rc == 0 else {}
        check("bus addressed set", rc == 0 and s.get("address") == 1024 and s.get("mode") == "heat"
              and [f["code"] for f in s.get("faults", [])] == ["E3"], f"rc={rc} {out} {err}")
        rc, out, err = ctl(link, "status", "--addr", "1024")
        s = json.loads(out) if rc == 0 else {}
        check("bus addressed status re-sends the known code", rc == 0 and s.get("mode") == "heat" and s.get("set_temp") == 26,
              f"rc={rc} {out} {err}")
        rc, out, err = ctl(link, "status", "--retries", "0")
        check("bus read collides", rc == 3 and "--addr" in err, f"rc={rc} {err}")
        log = stop(p)
        check("collision logged", any(e.get("collision") for e in log), "no collision event")
        sent_to = {e["frame"]["address"] for e in log if e.get("event") == "rx" and e["frame"]["type"] == "addressed"}
        check("bus other unit untouched (nothing addressed to 1023)", sent_to == {1024}, str(sent_to))

        # offline decode/encode round trip
        rc, out, err = ctl(link, "encode", stdin='{"type":"addressed","address":1023,"power":true,"mode":"cool","set_temp":24}\n{"type":"read"}\n')
        lines = out.splitlines()
        check("encode", rc == 0 and len(lines) == 2 and lines[0] == "0731303233303930383230353035450D"
              and lines[1] == "0630303030303030393230353035300D", f"rc={rc} {out} {err}")
        hexes = out
        rc, out, err = ctl(link, "decode", stdin=hexes)
        objs = [json.loads(l) for l in out.splitlines()]
        check("decode", rc == 0 and [o["type"] for o in objs] == ["addressed", "read"] and objs[0]["set_temp"] == 24, f"rc={rc} {out}")
        rc, out2, err = ctl(link, "encode", stdin=out)
        check("decode|encode byte-exact", rc == 0 and out2 == hexes, f"{out2!r} vs {hexes!r}")
        rc, out, err = ctl(link, "decode", stdin="0830303030\n")
        check("decode truncated", rc == 3 and json.loads(out)["error"] == "truncated", f"rc={rc} {out}")


try:
    main()
finally:
    shutil.rmtree(STATE, ignore_errors=True)
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
if failures:
    print(f"{len(failures)} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("gree_emulator: all checks passed")
