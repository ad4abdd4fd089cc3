#!/usr/bin/env python3
"""Every shell example of README.md and of the man pages' EXAMPLES sections runs as written
(issue 15, "keep them honest"): an example that stops working fails this test.

Extraction is mechanical, so a new example is picked up without touching this file:
  README.md   every ```sh fenced block;
  man/*.1,*.7 every .nf/.fi or .EX/.EE block between ".SH EXAMPLES" and the next ".SH".
A block whose lines start with "$ " is a transcript: each "$ " command (with its "\\"
continuation lines) runs on its own and must print the lines shown under it ("…" stands for
any text); a command shown without output must exit 0 and print something. Any other block
is one bash script (set -e, so a failing line is not hidden by the next one). A block that starts with "{" is JSON (the protocol
pages): each object must encode with "m2m-send --stdin -o hex".

Each example runs in its own sandbox directory (the current directory; "/tmp/" in the text
becomes the sandbox, so examples never meet each other or other tests), with the built
programs on PATH, in its own process group that is killed when it ends, whatever happens.
What an example needs is found from its text:
  HOST:8266 (127.0.0.1, 0.0.0.0, platform.example): a free loopback port instead; unless the
      block starts its own "m2m-server serve" or "m2m-ota-serve --listen", the runner starts one on that port with the
      registry that the README block marked "example: registry" creates;
  /dev/ttyUSB0 (hardware): an emulated line instead: "gree-ctl emulate --units 1023" when the
      block runs gree-ctl, else a pseudo-terminal the runner holds (what is written to it is
      saved in ttyUSB0.out; hardware-feed bytes are written to it periodically);
  capture.bin, dirty.bin: AI-Cloud captures the runner makes (device 0000000000FED24A: login,
      heartbeat, relay, uplink; dirty.bin adds garbage and a cut-off tail).

Markers: a comment just before the block (any number of them since the previous block),
    README:  <!-- example: KEY=VALUE ... -->
    man:     .\\" example: KEY=VALUE ...
with values quoted as in the shell:
  registry              this README block builds the registry the runner's servers use
  exit=N                the block's expected exit status (default 0)
  output=REGEX          its standard output must match (Python re.search, MULTILINE)
  check=SHELL           run after the block in the sandbox; must exit 0
  setup=SHELL           run before the block in the sandbox (fixtures of its own)
  skip=WHY              not run, listed with the reason (the README's own build-and-test
                        commands: running them is what runs this test)
  stop-when=REGEX       once the output matches, send SIGINT to the block (a program that
                        runs until interrupted); then exit= applies (130, or 0 for a server)
  background=SHELL      a program started before the block and stopped after it (a device
                        that answers); its first word must be installed: if it is not, the
                        example fails with "needs PROGRAM"
  ready=REGEX           wait (at most 20 s) until the runner's server or the background
                        program has written this (a device logged in) before the block runs
  hardware=gree|pty     which emulated line replaces /dev/ttyUSB0 (default: see above)
  hardware-feed=HEX     bytes the pty line sends to the reader, every 0.2 s
  timeout=SECONDS       bound of the block (default 60)
  expected-failure=ERR  the example is known not to run yet and fails with an error starting
                        with ERR: listed as XFAIL; another failure, or a pass, fails the test
"""
import concurrent.futures
import json
import os
import pty
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty

SRC = os.environ.get("SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ["BIN_DIR"]
DEVICE = "0000000000FED24A"
PLATFORM = r"\b(127\.0\.0\.1|0\.0\.0\.0|platform\.example):8266\b"
SHELL_WORDS = {"while", "until", "for", "if", "{", "(", "sleep"}

# Examples that cannot run on this branch yet: (page, words of the example) -> the failure
# expected, word for word at the start of the error. Each is still run and listed as XFAIL;
# any other failure of it is a FAIL (m2m-simdevice built but answering differently), and so is
# a pass, so the entry is removed when the missing piece lands.
EXPECTED_FAILURES = {}  # (source, words in the example) -> why; empty: every example must run


def expected_failure(ex):
    if "expected-failure" in ex.markers:
        return ex.markers["expected-failure"]
    return next((why for (src, words), why in EXPECTED_FAILURES.items() if src == ex.source and words in ex.text), None)


class Example:
    def __init__(self, source, line, text, markers):
        self.source, self.line, self.text, self.markers = source, line, text, markers

    @property
    def name(self):
        return f"{self.source}:{self.line}"


def parse_markers(comment_lines):
    markers = {}
    for c in comment_lines:
        for word in shlex.split(c):
            k, _, v = word.partition("=")
            markers[k] = v
    return markers


def readme_examples(path):
    out, pending, block, start = [], [], None, 0
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if block is None:
            m = re.match(r"\s*<!--\s*example:(.*?)-->", line)
            if m:
                pending.append(m.group(1))
            elif line.strip() == "```sh":
                block, start = [], n + 1
        elif line.strip() == "```":
            out.append(Example(os.path.basename(path), start, "\n".join(block) + "\n", parse_markers(pending)))
            block, pending = None, []
        else:
            block.append(line)
    return out


def unroff(line):
    line = re.sub(r"\\f[BIRP]", "", line)
    for a, b in ((r"\(aq", "'"), (r"\(dq", '"'), (r"\(em", "—"), (r"\-", "-"), (r"\&", "")):
        line = line.replace(a, b)
    # "\e" and "\\" are both a backslash; do it in one pass so "\\e" stays "\e".
    return re.sub(r"\\(e|\\)", r"\\", line)


def man_examples(path):
    out, pending, block, start, in_examples = [], [], None, 0, False
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.startswith(".SH"):
            in_examples = line.strip() == ".SH EXAMPLES"
            continue
        if not in_examples:
            continue
        if block is None:
            m = re.match(r'\.\\"\s*example:(.*)', line)
            if m:
                pending.append(m.group(1))
            elif line.strip() in (".nf", ".EX"):
                block, start = [], n + 1
        elif line.strip() in (".fi", ".EE"):
            out.append(Example(os.path.basename(path), start, "\n".join(block) + "\n", parse_markers(pending)))
            block, pending = None, []
        elif not line.startswith('.\\"'):
            block.append(unroff(line))
    return out


def all_examples():
    ex = readme_examples(os.path.join(SRC, "README.md"))
    man = os.path.join(SRC, "man")
    for f in sorted(os.listdir(man)):
        if re.search(r"\.[17]$", f):
            ex += man_examples(os.path.join(man, f))
    return ex


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, what, bound=20.0):
    end = time.monotonic() + bound
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {bound:.0f}s waiting for {what}")


class Sandbox:
    """One example's directory, and the servers, lines and background programs it needs."""

    def __init__(self, ex, registry_script):
        self.ex, self.registry_script = ex, registry_script
        self.dir = tempfile.mkdtemp(prefix="m2m-example-")
        self.env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], HOME=self.dir,
                        XDG_STATE_HOME=os.path.join(self.dir, "state"), NO_COLOR="1")
        for k in ("M2M_SERVER", "M2M_DEVICE", "M2M_ACCOUNT", "M2M_PASSWORD", "GREE_DEVICE"):
            self.env.pop(k, None)
        self.procs, self.pty_master, self.pty_slave, self.pty_out = [], None, None, bytearray()
        self.stop_feed = threading.Event()
        self.port, self.markers = None, {}

    def sh(self, script, what, timeout=60):
        r = subprocess.run(["bash", "-e", "-c", script], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{what} exited {r.returncode}: {r.stderr.strip()[-1500:]}")
        return r.stdout

    def start(self, argv, what, log):
        p = subprocess.Popen(argv, cwd=self.dir, env=self.env, stdout=open(os.path.join(self.dir, log), "wb"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((p, what))
        return p

    def log(self, name):
        try:
            return open(os.path.join(self.dir, name), encoding="utf-8", errors="replace").read()
        except FileNotFoundError:
            return ""

    def subst(self, text):
        """The example's words for things, made the sandbox's: its folder, port and line."""
        text = text.replace("/tmp/", self.dir + "/")
        if self.port:
            text = re.sub(PLATFORM, f"127.0.0.1:{self.port}", text)
        return text.replace("/dev/ttyUSB0", os.path.join(self.dir, "ttyUSB0"))

    def prepare(self):
        """Starts what the example needs; returns the script text to run."""
        text = self.ex.text
        if re.search(PLATFORM, text):
            self.port = free_port()
        m = self.markers = {k: self.subst(v) for k, v in self.ex.markers.items()}
        text = self.subst(text)
        if "capture.bin" in text or "dirty.bin" in text:
            self.sh(CAPTURES, "making capture.bin")
        if "setup" in m:
            self.sh(m["setup"], "the example's setup")
        if self.port and not re.search(r"m2m-server (serve|--db)|m2m-ota-serve .*--listen", text):
            self.start_server(self.port)
        if "/dev/ttyUSB0" in self.ex.text:
            link = os.path.join(self.dir, "ttyUSB0")
            kind = m.get("hardware") or ("gree" if "gree-ctl" in text else "pty")
            if kind == "gree":
                self.start(["gree-ctl", "emulate", "--units", "1023", "--link", link], "gree-ctl emulate", "emulator.log")
                wait_for(lambda: os.path.exists(link), "the emulator's link")
            else:
                self.open_pty(link)
        if "background" in m:
            prog = shlex.split(m["background"])[0]
            if prog not in SHELL_WORDS and not shutil.which(prog, path=self.env["PATH"]):
                raise RuntimeError(f"needs {prog}: it is not built (no {prog} in {BIN} or on PATH)")
            self.start(["bash", "-c", m["background"]], prog, "background.log")
        if "ready" in m:
            wait_for(lambda: re.search(m["ready"], self.log("server.log") + self.log("background.log"), re.M),
                     f"/{m['ready']}/ in the server's or the background program's output")
        return text

    def start_server(self, port):
        if self.registry_script is None:
            raise RuntimeError('README.md has no block marked "example: registry" to build a registry with')
        self.sh(self.registry_script, "the README's registry setup")
        self.start(["m2m-server", "serve", "--db", "m2m.db", "--listen", f"127.0.0.1:{port}"], "m2m-server", "server.log")
        wait_for(lambda: '"listening"' in self.log("server.log"), f"m2m-server listening on port {port}")

    def open_pty(self, link):
        self.pty_master, self.pty_slave = pty.openpty()
        tty.setraw(self.pty_slave)
        os.symlink(os.ttyname(self.pty_slave), link)
        feed = bytes.fromhex(self.markers.get("hardware-feed", ""))

        def pump():
            os.set_blocking(self.pty_master, False)
            while not self.stop_feed.wait(0.2):
                if feed:
                    os.write(self.pty_master, feed)
                self.drain()
        threading.Thread(target=pump, daemon=True).start()

    def drain(self):
        try:
            while True:
                chunk = os.read(self.pty_master, 65536)
                if not chunk:
                    break
                self.pty_out += chunk
        except (BlockingIOError, OSError):
            pass

    def finish_pty(self):
        if self.pty_master is None:
            return
        self.stop_feed.set()
        self.drain()
        with open(os.path.join(self.dir, "ttyUSB0.out"), "wb") as f:
            f.write(self.pty_out)

    def close(self):
        for p, _ in self.procs:
            stop_group(p.pid)
            if p.poll() is None:
                p.kill()
            p.wait()
        for fd in (self.pty_master, self.pty_slave):
            if fd is not None:
                os.close(fd)
        shutil.rmtree(self.dir, ignore_errors=True)


# AI-Cloud captures of device 0000000000FED24A, built with the toolkit itself.
CAPTURES = f"""
{{ m2m-send link.login --device {DEVICE} --password text:123 --seq 1 -o raw
  m2m-send link.heartbeat --device {DEVICE} --token 0102030405060708 --seq 2 -o raw
  m2m-send data.relay --device {DEVICE} --token 0102030405060708 --target AB --text hello --seq 3 -o raw
  m2m-send data.uplink --device {DEVICE} --token 0102030405060708 --text '{{"t":21}}' --seq 4 -o raw
}} > capture.bin
{{ printf 'noise'; cat capture.bin; printf '\\x55\\x1d\\x00'; }} > dirty.bin
"""


def stop_group(pgid):
    """SIGTERM to a process group, SIGKILL to what is left after 5 s."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_script(sb, text, markers, stop_on_error=True):
    """Runs a block as one bash script (as a user's shell would: no pipefail; -e for a script
    of several commands, so a failing line is not hidden by the next); returns (exit status,
    stdout, stderr)."""
    timeout = float(markers.get("timeout", 60))
    p = subprocess.Popen(["bash"] + (["-e"] if stop_on_error else []) + ["-c", text], cwd=sb.dir, env=sb.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    sb.procs.append((p, "the example"))
    out, err = bytearray(), bytearray()

    def reader(stream, buf):
        for chunk in iter(lambda: stream.read1(65536), b""):
            buf += chunk
    threads = [threading.Thread(target=reader, args=(p.stdout, out)), threading.Thread(target=reader, args=(p.stderr, err))]
    for t in threads:
        t.start()
    stop = markers.get("stop-when")
    end, interrupted = time.monotonic() + timeout, False
    while p.poll() is None and time.monotonic() < end:
        if stop and not interrupted and re.search(stop, out.decode("utf-8", "replace"), re.M):
            os.killpg(p.pid, signal.SIGINT)
            interrupted = True
        time.sleep(0.05)
    timed_out = p.poll() is None
    # What the block left running in the background (an emulator, a bridge) goes with it, and
    # only then do its pipes close.
    stop_group(p.pid)
    p.wait()
    for t in threads:
        t.join()
    if timed_out:
        raise RuntimeError(f"did not end within {timeout:.0f}s (stdout: {out.decode(errors='replace')[-800:]!r}, "
                           f"stderr: {err.decode(errors='replace')[-800:]!r})")
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def transcript(text):
    """[(command, [expected lines])] of a "$ " block."""
    steps, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            cmd = [lines[i][2:]]
            while cmd[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd.append(lines[i])
            steps.append(("\n".join(cmd), []))
        elif steps and lines[i].strip():
            steps[-1][1].append(lines[i])
        i += 1
    return steps


def expected_regex(line):
    return "^" + ".*".join(re.escape(p) for p in line.split("…")) + "$"


def run_example(ex, registry_script):
    """Raises with a message when the example does not do what its text says."""
    sb = Sandbox(ex, registry_script)
    try:
        text = sb.prepare()
        want = int(ex.markers.get("exit", 0))
        if text.lstrip().startswith("{"):
            dec, objs, s = json.JSONDecoder(), [], text.strip()
            while s:
                obj, n = dec.raw_decode(s)
                objs.append(json.dumps(obj, separators=(",", ":")))
                s = s[n:].strip()
            r = subprocess.run(["m2m-send", "--stdin", "-o", "hex"], input="\n".join(objs) + "\n", cwd=sb.dir,
                               env=sb.env, capture_output=True, text=True, timeout=30)
            if r.returncode != 0 or len(r.stdout.splitlines()) != len(objs):
                raise RuntimeError(f"m2m-send --stdin -o hex exited {r.returncode} with {r.stdout!r}: {r.stderr.strip()}")
            if not all(re.fullmatch(r"55[0-9A-F]+55", l) for l in r.stdout.splitlines()):
                raise RuntimeError(f"not frames: {r.stdout!r}")
            return
        if any(l.startswith("$ ") for l in text.splitlines()):
            for cmd, expect in transcript(text):
                rc, out, err = run_script(sb, cmd, sb.markers, stop_on_error=False)
                if rc != want:
                    raise RuntimeError(f"'{cmd}' exited {rc}, expected {want}; stderr: {err.strip()[-1500:]}")
                got = out.splitlines()
                if not expect and not out.strip():
                    raise RuntimeError(f"'{cmd}' printed nothing")
                if expect and (len(got) != len(expect) or
                               not all(re.match(expected_regex(e), g) for e, g in zip(expect, got))):
                    raise RuntimeError(f"'{cmd}' printed\n{out}instead of\n" + "\n".join(expect))
        else:
            rc, out, err = run_script(sb, text, sb.markers)
            if rc != want:
                raise RuntimeError(f"exited {rc}, expected {want}; stdout: {out.strip()[-800:]!r}; "
                                   f"stderr: {err.strip()[-1500:]}")
            if "output" in sb.markers:
                if not re.search(sb.markers["output"], out, re.M):
                    raise RuntimeError(f"output does not match /{sb.markers['output']}/: {out[-1500:]!r}; "
                                       f"stderr: {err.strip()[-800:]}")
            elif "check" not in ex.markers and not out.strip():
                raise RuntimeError("printed nothing (give it an output= or check= marker if that is right); "
                                   f"stderr: {err.strip()[-800:]}")
        sb.finish_pty()
        if "check" in sb.markers:
            sb.sh(sb.markers["check"], f"check '{ex.markers['check']}'")
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
        logs = "".join(f"\n  [{n}] {sb.log(n)[-600:]}" for n in ("server.log", "emulator.log", "background.log") if sb.log(n))
        raise RuntimeError(f"{e}{logs}") from None
    finally:
        sb.close()


def main():
    examples = all_examples()
    registry = [e for e in examples if "registry" in e.markers]
    if len(registry) != 1:
        print(f"FAIL: README.md needs exactly one block marked 'example: registry' (found {len(registry)})")
        return 1
    registry_script = registry[0].text
    only = sys.argv[1:]  # names ("README.md:42") or sources ("m2m-send.1") to run alone
    if only:
        examples = [e for e in examples if e.name in only or e.source in only]
    failures, unexpected_passes = [], []
    skipped = [e for e in examples if "skip" in e.markers]
    for ex in skipped:
        print(f"SKIP {ex.name}: {ex.markers['skip']}")
    examples = [e for e in examples if "skip" not in e.markers]

    def one(ex):
        try:
            run_example(ex, registry_script)
            return ex, None
        except Exception as e:  # noqa: BLE001 - reported with the example's name
            return ex, str(e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, examples))
    for ex, problem in results:
        why = expected_failure(ex)
        if why and problem is not None and not problem.startswith(why):
            failures.append(ex)
            print(f"FAIL {ex.name} (expected to fail with '{why}', failed otherwise):\n  "
                  + ex.text.strip().replace("\n", "\n  ") + f"\n  -> {problem}\n")
        elif why:
            if problem is None:
                unexpected_passes.append(ex)
            print(f"XFAIL {ex.name} ({why}): {(problem or 'passed!').splitlines()[0]}")
        elif problem:
            failures.append(ex)
            print(f"FAIL {ex.name}:\n  " + ex.text.strip().replace("\n", "\n  ") + f"\n  -> {problem}\n")
        else:
            print(f"ok   {ex.name}")
    for ex in unexpected_passes:
        print(f"FAIL {ex.name} runs now: remove its expected-failure marker")
    print(f"examples_test: {len(results)} examples, {len(failures)} failed, "
          f"{sum(1 for ex, _ in results if expected_failure(ex))} expected to fail, {len(skipped)} skipped")
    if len(results) < 20 and not only:
        print("FAIL: fewer than 20 examples found: is the extraction broken?")
        return 1
    return 1 if failures or unexpected_passes else 0


if __name__ == "__main__":
    sys.exit(main())
