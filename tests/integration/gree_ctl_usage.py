#!/usr/bin/env python3
"""gree-ctl as a new user meets it (issue 15): a second emulator never takes over a running
one's --link, --temp mistakes say what is wrong, decode reads files and reports line and
column, -v traces one line per frame, watch keeps a fixed period. Every wait is bounded;
emulators are always stopped."""
import datetime, json, os, shutil, signal, subprocess, sys, tempfile

BIN = os.path.join(os.environ.get("BIN_DIR", "build/bin"), "gree-ctl")
failures = []
procs = []


def check(name, cond, detail=""):
    if not cond:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=sys.stderr)


def emulator(link, *args):
    p = subprocess.Popen([BIN, "emulate", "--link", link, "-t", "60s", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    line = p.stdout.readline()  # "listening" comes first (bounded by -t)
    if not line:
        p.wait(timeout=5)
        raise AssertionError(f"emulate --link {link} did not start: rc={p.returncode} {p.stderr.read()}")
    ev = json.loads(line)
    assert ev["event"] == "listening", ev
    return p, ev["device"]


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()


def run(*args, stdin=None):
    r = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def main(tmp):
    state = os.path.join(tmp, "state")
    link = os.path.join(tmp, "ac")

    # --- a second emulator refuses a link a running one owns ------------------------------
    first, dev = emulator(link, "--units", "1023")
    second = subprocess.run([BIN, "emulate", "--link", link, "-t", "5s"], capture_output=True, text=True, timeout=20)
    check("second emulator refuses the live link", second.returncode == 1 and "in use" in second.stderr
          and link in second.stderr, f"rc={second.returncode} {second.stderr}")
    check("the first emulator keeps its link", os.path.islink(link) and os.readlink(link) == dev,
          os.readlink(link) if os.path.islink(link) else "gone")
    rc, out, err = run("-d", link, "--state-dir", state, "status")
    check("the first emulator still answers", rc == 0 and json.loads(out)["address"] == 1023, f"rc={rc} {err}")
    # a link left by a killed emulator points nowhere (its pty vanished with it): the next
    # emulator replaces it. (Another program may already hold the same /dev/pts/N: the case
    # below, which must be replaced just the same.)
    first.kill()
    first.wait(timeout=5)
    check("a killed emulator leaves its link", os.path.islink(link) and os.readlink(link) == dev, link)
    killed, killed_dev = emulator(link, "--units", "1023")
    check("a killed emulator's link is replaced", os.readlink(link) == killed_dev, os.readlink(link))
    # the kernel gives a dead emulator's /dev/pts/N to the next program that opens a pty: the
    # link then points to a live terminal that is not an emulator's, and must still be replaced
    killed.kill()
    killed.wait(timeout=5)
    held = []
    try:
        while not os.path.exists(link) and len(held) < 128:
            held.append(os.openpty())
        check("the dead emulator's pty is in use again", os.path.exists(link), f"{link} -> {os.readlink(link)}")
        third, dev3 = emulator(link, "--units", "1023")
        check("a link to a dead emulator's reused pty is replaced", os.readlink(link) == dev3, os.readlink(link))
        # but a link to a live terminal that no emulator made is never taken over
        held.append(os.openpty())
        own, own_tty = os.path.join(tmp, "own"), os.ttyname(held[-1][1])
        os.symlink(own_tty, own)
        r = subprocess.run([BIN, "emulate", "--link", own, "-t", "5s"], capture_output=True, text=True, timeout=20)
        check("a link to another program's terminal is refused", r.returncode == 1 and "in use" in r.stderr,
              f"rc={r.returncode} {r.stderr}")
        check("that link is left alone", os.readlink(own) == own_tty, os.readlink(own))
    finally:
        for m, s in held:
            os.close(m)
            os.close(s)

    # --- -v: one line per frame -------------------------------------------------------------
    rc, out, err = run("-d", link, "--state-dir", state, "-v", "status")
    tx = [l for l in err.splitlines() if " tx " in l]
    rx = [l for l in err.splitlines() if " rx " in l]
    check("-v: one tx line and one rx line", rc == 0 and len(tx) == 1 and len(rx) == 1, err)
    check("-v: the whole frame on its line", tx and "0630303030303030393230353035300D (16 bytes) read" in tx[0]
          and rx and "(24 bytes) status 1023" in rx[0], err)

    # --- --temp mistakes --------------------------------------------------------------------
    for value, words in (("24.5", "not a whole number"), ("abc", "not a number"), ("35", "out of range 16..30")):
        rc, out, err = run("-d", link, "--state-dir", state, "set", "--temp", value)
        check(f"--temp {value}", rc == 2 and f"--temp {value}: {words}" in err and out == "", f"rc={rc} {err}")
    stop(third)
    check("the emulator removes its own link", not os.path.lexists(link), link)

    # --- watch keeps a fixed period even when each round trip is long -----------------------
    p, _ = emulator(link, "--units", "1023", "--delay", "200ms")
    rc, out, err = run("-d", link, "--state-dir", state, "watch", "--interval", "600ms", "-n", "4")
    polls = [json.loads(l) for l in out.splitlines()]
    gaps = [(ts(b["ts"]) - ts(a["ts"])).total_seconds() for a, b in zip(polls, polls[1:])]
    # fixed period: 0.6 s apart; interval + round trip (0.2 s delay + 55 ms of frame at least)
    # would be 0.86 s or more
    check("watch --interval is a fixed period", rc == 0 and len(gaps) == 3 and all(0.5 <= g <= 0.8 for g in gaps),
          f"rc={rc} gaps={gaps} {err}")
    stop(p)

    # --- decode: files, "file" members, line and column of bad hex -------------------------
    good = os.path.join(tmp, "good.hex")
    bad = os.path.join(tmp, "bad.hex")
    open(good, "w").write("# a read\n0630303030303030393230353035300D\n")
    open(bad, "w").write("06303030303030303932\n30zz353035300D\n")
    rc, out, err = run("decode", good)
    recs = [json.loads(l) for l in out.splitlines()]
    check("decode FILE", rc == 0 and len(recs) == 1 and recs[0]["type"] == "read" and "file" not in recs[0], f"rc={rc} {out}")
    rc, out, err = run("decode", good, bad)
    recs = [json.loads(l) for l in out.splitlines()]
    check("decode several files: file member first", rc == 3 and recs and all(list(r)[0] == "file" for r in recs)
          and recs[0]["file"] == good, f"rc={rc} {out}")
    errs = [r for r in recs if r.get("error") == "bad_hex"]
    check("decode: bad hex names line and column", len(errs) == 1 and errs[0]["file"] == bad
          and "line 2, column 3" in errs[0]["message"] and errs[0]["offset"] == 23, str(errs))
    rc, out, err = run("decode", stdin=open(good).read())
    check("decode stdin", rc == 0 and json.loads(out)["type"] == "read", f"rc={rc} {out}")
    rc, out, err = run("decode", os.path.join(tmp, "missing.hex"))
    check("decode missing file", rc == 1 and "missing.hex" in err, f"rc={rc} {err}")


tmp = tempfile.mkdtemp(prefix="gree-usage-")
try:
    main(tmp)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
    shutil.rmtree(tmp, ignore_errors=True)
if failures:
    print(f"{len(failures)} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("gree_ctl_usage: all checks passed")
