"""The operations console's HTTP API (m2m-server serve --http; m2m-server(1), CONSOLE):
sign-in with Argon2id-hashed console users, throttling, the session cookie and CSRF token,
roles enforced by the server, live operations on a device answered with its reply, server-sent
events, registry changes (devices, accounts, groups, regions, associations), CSV and .xlsx
import all or nothing, online statistics, Prometheus /metrics, and the page itself."""
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import OK, Peer, Server, password, run_tests  # noqa: E402

DEV = "00000000000000A1"
DEVICES = [(DEV, "text:pw", "g1", 1, "lobby unit"),
           ("00000000000000A2", "text:pw", "g1", 1, ""),
           ("00000000000000B1", "text:pw", "g2", 1, "")]
USERS = {"alice": ("admin", "alice-secret"), "otto": ("operator", "otto-secret"), "vera": ("viewer", "vera-secret")}


class Console:
    """A running server with the console, and its users."""

    def __init__(self, args=(), devices=DEVICES, users=USERS):
        self.srv = Server(devices, args=["--http", "127.0.0.1:0"] + list(args))
        for name, (role, pw) in users.items():
            self.srv.admin(["user", "add", name, "--role", role, "--password-stdin"], pw + "\n")

    def __enter__(self):
        self.srv.__enter__()
        ev = self.srv.wait_event("console_listening", timeout=10)
        self.port = int(ev["url"].rstrip("/").rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc):
        status = self.srv.stop()
        err = self.srv.proc.stderr.read()
        self.srv.__exit__(*exc)
        # Stopped with SIGTERM while sessions, streams and requests may be open: a clean exit,
        # and no sanitizer report (the CI tree is built with ASan and UBSan).
        if exc[0] is None:
            assert status == 0 and "Sanitizer" not in err and "runtime error" not in err, (status, err[-3000:])

    def client(self, user=None):
        c = Client(self.port)
        if user:
            st, body, _ = c.login(user, USERS[user][1])
            assert st == 200, (st, body)
        return c


class Client:
    """One browser: the cookie it was given, the CSRF token the page keeps."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def call(self, method, path, body=None, headers=None, csrf=True, raw=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
            else:
                data = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        if raw:
            return r.status, payload, hdrs
        try:
            return r.status, json.loads(payload) if payload else None, hdrs
        except ValueError:
            return r.status, payload.decode(errors="replace"), hdrs

    def login(self, user, pw):
        st, body, h = self.call("POST", "/api/login", {"user": user, "password": pw})
        if st == 200:
            self.cookie = h["set-cookie"].split(";", 1)[0]
            self.csrf = body["csrf"]
        return st, body, h


def wait_for(what, check, timeout=5.0):
    """Polls check() until it returns a true value (returned), for at most timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("%s: not within %.1fs (last: %r)" % (what, timeout, last))


class Simdevice:
    """m2m-simdevice: a device that answers as the vendor document says."""

    def __init__(self, port, dev=DEV, pw="text:pw", extra=()):
        bin_dir = os.environ.get("BIN_DIR", "build/bin")
        self.proc = subprocess.Popen([os.path.join(bin_dir, "m2m-simdevice"), "-s", "127.0.0.1:%d" % port, "--id", dev,
                                      "--password", pw, "--reboot-time", "1s"] + list(extra),
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class EventStream:
    """GET /api/events as a browser's EventSource reads it: (event, data) pairs in a list."""

    def __init__(self, port, cookie, query=""):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", "/api/events" + query, headers={"Cookie": cookie})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.events = []
        self.ended = False  # the server closed the stream
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        try:
            while True:
                chunk = self.resp.fp.read1(4096)
                if not chunk:
                    self.ended = True
                    return
                buf += chunk
                while b"\n\n" in buf:
                    block, buf = buf.split(b"\n\n", 1)
                    ev = {}
                    for line in block.decode().split("\n"):
                        if line.startswith("event: "):
                            ev["event"] = line[7:]
                        elif line.startswith("data: "):
                            ev["data"] = json.loads(line[6:])
                    if "event" in ev:
                        self.events.append(ev)
        except (OSError, ValueError, AttributeError):  # closed by the test
            return

    def close(self):
        self.conn.close()


def device_row(c, dev):
    st, body, _ = c.call("GET", "/api/devices?q=%s" % dev)
    assert st == 200, body
    rows = [d for d in body["devices"] if d["id"] == dev]
    return rows[0] if rows else None


# ---- sign-in, sessions, CSRF --------------------------------------------------------------

def test_sign_in_cookie_and_session():
    with Console() as con:
        c = con.client()
        st, body, _ = c.call("GET", "/api/devices")
        assert st == 401 and body["error"] == "unauthenticated", (st, body)
        st, body, h = c.login("alice", "alice-secret")
        assert st == 200, body
        assert body["user"] == "alice" and body["role"] == "admin", body
        assert body["actions"] == ["view", "control", "manage", "users"], body
        assert len(body["csrf"]) == 64, body
        cookie = h["set-cookie"]
        assert cookie.startswith("m2m_session=") and len(cookie.split(";")[0]) == len("m2m_session=") + 64, cookie
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            assert attr in cookie, cookie
        assert "Secure" not in cookie, cookie
        ev = con.srv.wait_event("console_login", user="alice")
        assert ev["role"] == "admin" and ev["peer"] == "127.0.0.1", ev
        st, body, _ = c.call("GET", "/api/session")
        assert st == 200 and body["user"] == "alice" and body["csrf"] == c.csrf, body
        st, body, _ = c.call("POST", "/api/logout")
        assert st == 200, body
        st, body, _ = c.call("GET", "/api/session")
        assert st == 401, body
        assert con.srv.wait_event("console_logout", user="alice")["reason"] == "requested"


def test_wrong_passwords_are_refused_and_throttled():
    with Console() as con:
        c = con.client()
        st, body, _ = c.login("alice", "wrong-password")
        assert st == 401 and body["error"] == "bad_credentials", body
        assert con.srv.wait_event("console_login_failed", user="alice")["reason"] == "bad_password"
        st, body, _ = c.login("nobody", "whatever-pw")
        assert st == 401 and body["error"] == "bad_credentials", body  # the same answer for an unknown name
        assert con.srv.wait_event("console_login_failed", user="nobody")["reason"] == "unknown"
        for _ in range(3):
            assert c.login("alice", "wrong-password")[0] == 401
        # The fifth failure from this address starts the backoff: now even the right password waits.
        st, body, h = c.login("alice", "alice-secret")
        assert st == 429 and body["error"] == "throttled", body
        assert int(h["retry-after"]) >= 1 and body["retry_after"] >= 1, (h, body)
        assert con.srv.wait_event("console_login_failed", reason="throttled")["user"] == "alice"
        # After the wait, the right password signs in and clears the count.
        time.sleep(body["retry_after"] + 0.2)
        st, body, _ = c.login("alice", "alice-secret")
        assert st == 200, body


def test_changes_need_the_csrf_token_and_json_sign_in():
    with Console() as con:
        c = con.client("alice")
        for hdr in ({}, {"X-CSRF-Token": "0" * 64}):
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV, {"type": "term.reboot"}, headers=hdr,
                                 csrf=False)
            assert st == 403 and body["error"] == "csrf", (hdr, st, body)
        st, body, _ = c.call("DELETE", "/api/devices/%s" % DEV, csrf=False)
        assert st == 403 and body["error"] == "csrf", body
        assert device_row(c, DEV) is not None  # nothing was removed
        # A form post (what another site could make a browser send) cannot sign in.
        st, body, _ = con.client().call("POST", "/api/login", "user=alice&password=alice-secret",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 415 and body["error"] == "content_type", body


def test_roles_are_enforced_by_the_server():
    with Console() as con:
        v, o, a = con.client("vera"), con.client("otto"), con.client("alice")
        st, body, _ = v.call("GET", "/api/devices")
        assert st == 200 and body["total"] == 3, body
        st, body, _ = v.call("POST", "/api/devices/%s/command" % DEV, {"type": "term.reboot"})
        assert st == 403 and body["error"] == "forbidden" and "viewer" in body["message"], body
        st, body, _ = v.call("POST", "/api/devices", {"id": "C1", "password": "text:x"})
        assert st == 403 and body["error"] == "forbidden", body
        st, body, _ = o.call("GET", "/api/users")
        assert st == 403 and body["error"] == "forbidden", body
        st, body, _ = a.call("GET", "/api/users")
        assert st == 200 and [u["name"] for u in body["users"]] == ["alice", "otto", "vera"], body
        assert all("hash" not in u for u in body["users"]), body
        st, body, _ = v.call("GET", "/api/roles")
        roles = {r["role"]: r["actions"] for r in body["roles"]}
        assert roles == {"admin": ["view", "control", "manage", "users"], "operator": ["view", "control", "manage"],
                         "viewer": ["view"]}, roles


# ---- live operations ------------------------------------------------------------------------

def test_device_commands():
    with Console(args=["--route-timeout", "1s"]) as con:
        with Simdevice(con.srv.port):
            c = con.client("otto")
            row = wait_for("device online", lambda: (device_row(c, DEV) or {}).get("online") and device_row(c, DEV))
            assert row["transport"] == "tcp" and row["peer"].startswith("127.0.0.1:"), row
            assert row["since"] >= int(time.time()) - 10, row
            assert row["group"] == "g1" and row["description"] == "lobby unit", row
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                 {"type": "term.config_read", "body": {"param": "version"}})
            assert st == 200 and body["status"] == "ok", body
            assert body["body"]["param"] == "version" and body["body"]["value"]["software"] == "1.0.0", body
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                 {"type": "term.config_write", "body": {"param": "heartbeat_interval", "value": 20}})
            assert st == 200 and body["status"] == "ok", body
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                 {"type": "term.config_read", "body": {"param": "heartbeat_interval"}})
            assert body["body"]["value"] == 20, body
            ev = con.srv.wait_event("route", console_user="otto", type="term.config_write")
            assert ev["device"] == DEV, ev
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV, {"type": "term.reboot"})
            assert st == 200 and body["status"] == "ok" and body["type"] == "term.reboot", body
            # Refusals: a type the console does not send, a bad body, an offline and an unknown device.
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV, {"type": "link.login"})
            assert st == 400 and body["error"] == "bad_type", body
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                 {"type": "term.config_read", "body": {"param": "no_such_param"}})
            assert st == 400 and body["error"] == "bad_body", body
            st, body, _ = c.call("POST", "/api/devices/00000000000000B1/command", {"type": "term.reboot"})
            assert st == 409 and body["error"] == "offline", body
            st, body, _ = c.call("POST", "/api/devices/0000000000000FFF/command", {"type": "term.reboot"})
            assert st == 404 and body["error"] == "unknown", body
        # A device that never answers: the page gets 504 after the bound, not a hung request.
        p = Peer(con.srv.port, 0xA2)
        assert p.login(password("pw")).status == OK
        c = con.client("alice")
        t0 = time.monotonic()
        st, body, _ = c.call("POST", "/api/devices/00000000000000A2/command", {"type": "term.reboot"})
        assert st == 504 and body["error"] == "timeout" and "1000 ms" in body["message"], body
        assert time.monotonic() - t0 < 5, "the timeout took too long"
        got = p.recv(2, match=lambda f: f.cls == 0xF0 and f.cmd == 0x55)
        assert got is not None, "the reboot request did not reach the device"


def test_live_events_stream():
    with Console() as con:
        c = con.client("vera")
        stream = EventStream(con.port, c.cookie, "?device=%s" % DEV)
        assert stream.resp.getheader("Content-Type") == "text/event-stream", stream.resp.getheaders()
        events = stream.events
        other = Peer(con.srv.port, 0xB1)  # another device: filtered out of this stream
        assert other.login(password("pw")).status == OK
        p = Peer(con.srv.port, 0xA1)
        assert p.login(password("pw")).status == OK
        p.send(0xAA, 0xEE, b"\x01\x02hello")
        other.send(0xAA, 0xEE, b"nope")
        wait_for("uplink event", lambda: any(e["event"] == "uplink" for e in events))
        p.close()
        wait_for("offline presence", lambda: any(e["event"] == "presence" and not e["data"]["online"] for e in events))
        stream.close()
        kinds = [e["event"] for e in events]
        assert kinds[0] == "presence" and events[0]["data"]["online"] is True, events
        up = [e for e in events if e["event"] == "uplink"][0]["data"]
        assert up["device"] == DEV and up["type"] == "data.uplink" and up["body"]["payload"] == "010268656C6C6F", up
        assert all(e["data"].get("device", e["data"].get("id")) == DEV for e in events), events


def test_live_streams_end_with_their_session():
    with Console() as con:
        o, v = con.client("otto"), con.client("vera")
        mine, theirs = EventStream(con.port, o.cookie), EventStream(con.port, v.cookie)
        st, _, _ = o.call("POST", "/api/logout")
        assert st == 200
        wait_for("the signed-out user's stream ended", lambda: mine.ended)
        p = Peer(con.srv.port, 0xA1)
        assert p.login(password("pw")).status == OK
        wait_for("the other user's stream goes on", lambda: any(e["event"] == "presence" for e in theirs.events))
        assert not theirs.ended and mine.events == [], mine.events
        # Disabled from the command line: that user's stream ends too (within the 5 s refresh).
        con.srv.admin(["user", "disable", "vera"])
        wait_for("the disabled user's stream ended", lambda: theirs.ended, timeout=8)
        mine.close()
        theirs.close()

def test_firmware_update_from_the_console():
    import tempfile
    d = tempfile.mkdtemp(prefix="console-fw-")
    data = bytes((i * 7 + 3) & 0xFF for i in range(65536))
    with open(os.path.join(d, "app-v2.bin"), "wb") as f:
        f.write(data)
    try:
        with Console(args=["--firmware-dir", d]) as con, \
                Simdevice(con.srv.port, extra=["--ota-frame-size", "1024"]):
            c = con.client("otto")
            wait_for("device online", lambda: (device_row(c, DEV) or {}).get("online"))
            st, body, _ = c.call("GET", "/api/firmware")
            assert st == 200 and body["files"] == [{"name": "app-v2.bin", "size": 65536}], body
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                 {"type": "term.ota_start", "body": {"file": "no-such.bin"}})
            assert st == 400 and "no-such.bin" in body["message"], body
            stream = EventStream(con.port, c.cookie, "?device=%s" % DEV)
            try:
                st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                     {"type": "term.ota_start", "body": {"file": "app-v2.bin"}})
                assert st == 200 and body["status"] == "ok", body
                done = wait_for("the device's upgrade event", lambda: [
                    e for e in stream.events if e["event"] == "event" and e["data"]["body"].get("code") == 16], 30)
            finally:
                stream.close()
            assert done[0]["data"]["body"]["description"] == "upgrade ok: app-v2.bin 65536 bytes", done
            wait_for("device back online", lambda: (device_row(c, DEV) or {}).get("online"), 15)
            st, body, _ = c.call("POST", "/api/devices/%s/command" % DEV,
                                 {"type": "term.config_read", "body": {"param": "version"}})
            assert st == 200 and body["body"]["value"]["software"] == "app-v2", body
    finally:
        subprocess.run(["rm", "-rf", d])


# ---- registry changes -----------------------------------------------------------------------

def test_devices_added_edited_disabled_removed():
    with Console() as con:
        c = con.client("otto")
        st, body, _ = c.call("POST", "/api/devices",
                             {"id": "C1", "password": "text:new", "group": "g2", "description": "roof", "category": "AC"})
        assert st == 201 and body["device"] == "00000000000000C1", body
        ev = con.srv.wait_event("console_change", action="device_add")
        assert ev["user"] == "otto" and ev["device"] == "00000000000000C1", ev
        row = wait_for("new device listed", lambda: device_row(c, "00000000000000C1"))
        assert row["group"] == "g2" and row["category"] == "AC" and row["description"] == "roof", row
        st, body, _ = c.call("POST", "/api/devices", {"id": "C1", "password": "text:new"})
        assert st == 409 and body["error"] == "conflict", body
        # The platform serves it: the device logs in with its password.
        p = Peer(con.srv.port, 0xC1)
        assert p.login(password("new")).status == OK
        # Disabled from the console: its session ends, and its next login is refused.
        st, body, _ = c.call("PATCH", "/api/devices/00000000000000C1", {"enabled": False})
        assert st == 200 and body["enabled"] is False, body
        assert p.closed_by_server(5), "the disabled device's session was not ended"
        p2 = Peer(con.srv.port, 0xC1)
        assert p2.login(password("new")).status != OK
        st, body, _ = c.call("PATCH", "/api/devices/00000000000000C1", {"group": "bad;name"})
        assert st == 400 and body["error"] == "bad_group", body
        st, body, _ = c.call("DELETE", "/api/devices/00000000000000C1")
        assert st == 200, body
        wait_for("removed device gone", lambda: device_row(c, "00000000000000C1") is None)
        st, body, _ = c.call("DELETE", "/api/devices/00000000000000C1")
        assert st == 404 and body["error"] == "unknown", body
        # The registry file says the same: what the CLI lists.
        listed = [json.loads(l)["id"] for l in con.srv.admin(["device", "list"]).splitlines()]
        assert listed == ["00000000000000A1", "00000000000000A2", "00000000000000B1"], listed


def test_associations_regions_and_groups():
    with Console() as con:
        c = con.client("alice")
        st, body, _ = c.call("POST", "/api/regions", {"name": "Guangdong"})
        assert st == 201, body
        gd = body["region"]
        st, body, _ = c.call("POST", "/api/regions", {"name": "Shenzhen", "parent": gd})
        sz = body["region"]
        st, body, _ = c.call("PATCH", "/api/regions/%d" % gd, {"parent": sz})
        assert st == 409 and "inside itself" in body["message"], body
        st, body, _ = c.call("PATCH", "/api/groups/g1", {"region": sz})
        assert st == 200 and body["region"] == sz, body
        st, body, _ = c.call("PATCH", "/api/devices/00000000000000B1", {"region": "Guangdong", "category": "meter"})
        assert st == 200, body
        # The g1 devices inherit Shenzhen from their group; B1 is in Guangdong itself.
        st, body, _ = c.call("GET", "/api/devices?region=%d" % sz)
        assert [d["id"] for d in body["devices"]] == ["00000000000000A1", "00000000000000A2"], body
        assert body["devices"][0]["region_name"] == "Shenzhen", body
        st, body, _ = c.call("GET", "/api/devices?region=%d" % gd)  # a region includes the ones below it
        assert body["total"] == 3, body
        st, body, _ = c.call("GET", "/api/devices?category=meter")
        assert [d["id"] for d in body["devices"]] == ["00000000000000B1"], body
        st, body, _ = c.call("GET", "/api/regions")
        regions = {r["name"]: r for r in body["regions"]}
        assert regions["Shenzhen"]["parent"] == gd and regions["Shenzhen"]["devices"] == 2, regions
        assert regions["Guangdong"]["parent"] is None and regions["Guangdong"]["devices"] == 1, regions
        st, body, _ = c.call("DELETE", "/api/regions/%d" % sz)
        assert st == 409 and "move them out" in body["message"], body
        st, body, _ = c.call("POST", "/api/groups", {"name": "empty-one", "region": gd})
        assert st == 201, body
        st, body, _ = c.call("GET", "/api/groups")
        groups = {g["name"]: g for g in body["groups"]}
        assert groups["empty-one"]["devices"] == 0 and groups["empty-one"]["region"] == gd, groups
        assert groups["g1"]["devices"] == 2 and groups["g1"]["region"] == sz, groups
        # Associated devices (关联设备), both ways, and removing the association.
        st, body, _ = c.call("POST", "/api/devices/%s/associations" % DEV, {"device": "00000000000000B1"})
        assert st == 201, body
        st, body, _ = c.call("GET", "/api/devices/00000000000000B1")
        assert body["associated"] == [DEV], body
        st, body, _ = c.call("DELETE", "/api/devices/00000000000000B1/associations/%s" % DEV)
        assert st == 200, body
        st, body, _ = c.call("GET", "/api/devices/%s" % DEV)
        assert body["associated"] == [], body
        st, body, _ = c.call("POST", "/api/devices/%s/associations" % DEV, {"device": "0000000000000FFF"})
        assert st == 404, body


def test_accounts_from_the_console():
    with Console() as con:
        c = con.client("otto")
        st, body, _ = c.call("POST", "/api/accounts", {"id": 7, "name": "ops", "password": "text:op", "groups": ["g1"]})
        assert st == 201 and body["groups"] == "g1", body
        st, body, _ = c.call("GET", "/api/accounts")
        wait_for("account listed", lambda: any(a["id"] == 7 for a in c.call("GET", "/api/accounts")[1]["accounts"]))
        st, body, _ = c.call("PATCH", "/api/accounts/7", {"groups": "*"})
        assert st == 200 and body["groups"] == "*", body
        exported = con.srv.admin(["account", "export"]).splitlines()
        assert exported[1].startswith("7,ops,") and ",*," in exported[1], exported
        st, body, _ = c.call("DELETE", "/api/accounts/7")
        assert st == 200, body
        st, body, _ = c.call("DELETE", "/api/accounts/7")
        assert st == 404, body


# ---- import ---------------------------------------------------------------------------------

def make_xlsx(rows):
    """A minimal .xlsx as Excel writes one: inline strings, one sheet."""
    def col(i):
        return chr(ord("A") + i)
    sheet = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for r, cells in enumerate(rows, 1):
        sheet.append('<row r="%d">' % r)
        for i, v in enumerate(cells):
            v = str(v).replace("&", "&amp;").replace("<", "&lt;")
            sheet.append('<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (col(i), r, v))
        sheet.append("</row>")
    sheet.append("</sheetData></worksheet>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                   '</Relationships>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
                   'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships"><sheets><sheet name="Devices" sheetId="1" r:id="rId1"/>'
                   '</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="'
                   'http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
                   'http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="'
                   'worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", "".join(sheet))
    return buf.getvalue()


HEADER = ["id", "password", "group", "enabled", "description", "region", "category"]


def test_import_csv_preview_then_all_or_nothing():
    with Console() as con:
        c = con.client("otto")
        csv = "id,password,group,enabled,description\n" + \
              "".join("00000000000010%02X,text:p%d,imported,1,unit %d\n" % (i, i, i) for i in range(50))
        bad = csv + "0000000000001005,text:again,imported,1,dup\nzz,12,imported,1,x\n"
        st, body, _ = c.call("POST", "/api/import?commit=0", bad, headers={"Content-Type": "text/csv"})
        assert st == 200 and body["total"] == 52 and body["errors"] == 2, body
        errs = {r["row"]: r["error"] for r in body["rows"] if "error" in r}
        assert "again (first in row 7)" in errs[52], errs
        assert 53 in errs and "device" in errs[53].lower(), errs
        st, body, _ = c.call("POST", "/api/import?commit=1", bad, headers={"Content-Type": "text/csv"})
        assert st == 400 and body["error"] == "invalid_rows" and "nothing imported" in body["message"], body
        assert device_row(c, "0000000000001000") is None
        st, body, _ = c.call("POST", "/api/import?commit=1", csv, headers={"Content-Type": "text/csv"})
        assert st == 200 and body["imported"] == 50 and body["added"] == 50, body
        wait_for("50 imported devices listed",
                 lambda: c.call("GET", "/api/devices?group=imported&limit=100")[1]["total"] == 50)
        ev = con.srv.wait_event("console_change", action="device_import")
        assert ev["user"] == "otto" and ev["imported"] == 50, ev
        st, body, _ = c.call("POST", "/api/import?commit=0", "name,pw\nx,y\n", headers={"Content-Type": "text/csv"})
        assert st == 400 and body["error"] == "bad_header", body


def test_import_xlsx():
    with Console() as con:
        c = con.client("alice")
        st, body, _ = c.call("POST", "/api/regions", {"name": "华南"})
        region = body["region"]
        rows = [HEADER] + [["00000000000020%02X" % i, "text:x%d" % i, "xl", "1", "空调 %d" % i, "华南", "AC"]
                           for i in range(50)]
        data = make_xlsx(rows)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        st, body, _ = c.call("POST", "/api/import?commit=0", data, headers={"Content-Type": ctype})
        assert st == 200 and body["total"] == 50 and body["errors"] == 0, body
        assert body["rows"][0] == {"row": 2, "id": "0000000000002000", "group": "xl", "enabled": True,
                                   "description": "空调 0", "region": "华南", "category": "AC", "action": "add"}, body
        st, body, _ = c.call("POST", "/api/import?commit=1", data, headers={"Content-Type": ctype})
        assert st == 200 and body["imported"] == 50, body
        st, body, _ = wait_for("xlsx devices listed", lambda: (lambda r: r[1]["total"] == 50 and r)(
            c.call("GET", "/api/devices?region=%d&limit=100" % region)))
        assert body["devices"][3]["description"] == "空调 3" and body["devices"][3]["category"] == "AC", body
        # Not an xlsx at all, and a truncated one: the reason, no crash.
        st, body, _ = c.call("POST", "/api/import?commit=0", data[: len(data) // 2], headers={"Content-Type": ctype})
        assert st == 400 and body["error"] == "bad_file", body
        st, body, _ = c.call("GET", "/api/devices?limit=1")
        assert st == 200, body


# ---- users, statistics, metrics, the page ----------------------------------------------------

def test_console_users_from_the_api_and_the_file():
    with Console() as con:
        a = con.client("alice")
        st, body, _ = a.call("POST", "/api/users", {"name": "nina", "password": "short", "role": "viewer"})
        assert st == 400 and body["error"] == "bad_password", body
        st, body, _ = a.call("POST", "/api/users", {"name": "nina", "password": "nina-secret", "role": "operator"})
        assert st == 201 and body["role"] == "operator", body
        n = Client(con.port)
        assert n.login("nina", "nina-secret")[0] == 200
        assert n.call("GET", "/api/session")[1]["role"] == "operator"
        st, body, _ = a.call("PATCH", "/api/users/nina", {"role": "viewer"})
        assert st == 200 and body["role"] == "viewer", body
        assert n.call("GET", "/api/session")[1]["role"] == "viewer"  # at once, on the open session
        st, body, _ = n.call("POST", "/api/devices/%s/command" % DEV, {"type": "term.reboot"})
        assert st == 403, body
        st, body, _ = a.call("PATCH", "/api/users/alice", {"role": "viewer"})
        assert st == 409 and body["error"] == "self", body
        # Changed in the file by the CLI: the open session ends within the 5 s refresh.
        con.srv.admin(["user", "disable", "nina"])
        wait_for("disabled user's session ended", lambda: n.call("GET", "/api/session")[0] == 401, timeout=8)
        assert n.login("nina", "nina-secret")[0] == 401
        st, body, _ = a.call("DELETE", "/api/users/nina")
        assert st == 200, body
        listed = [json.loads(l)["name"] for l in con.srv.admin(["user", "list"]).splitlines()]
        assert listed == ["alice", "otto", "vera"], listed


def test_statistics_and_metrics():
    with Console() as con:
        p = Peer(con.srv.port, 0xA1)
        assert p.login(password("pw")).status == OK
        bad = Peer(con.srv.port, 0xA2)
        assert bad.login(password("no")).status != OK
        c = con.client("vera")
        st, body, _ = c.call("GET", "/api/stats?by=group&hours=1")
        assert st == 200 and body["step"] == 60, body
        series = {s["name"]: s["points"] for s in body["series"]}
        assert series["g1"][-1][1] == 1 and series["g2"][-1][1] == 0, series
        st, body, _ = c.call("GET", "/api/stats?by=all")
        assert body["series"][0]["name"] == "all" and body["series"][0]["points"][-1][1] == 1, body
        st, text, h = c.call("GET", "/metrics", raw=True)
        text = text.decode()
        assert st == 200 and h["content-type"].startswith("text/plain; version=0.0.4"), h
        lines = dict(l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))
        assert lines['m2m_devices_online{transport="tcp"}'] == "1", text
        assert lines['m2m_devices_registered'] == "3", text
        assert lines['m2m_login_refusals_total{reason="bad_password"}'] == "1", text
        assert lines['m2m_console_logins_total{outcome="ok"}'] == "1", text
        assert float(lines["process_resident_memory_bytes"]) > 1e6, text
        assert "# TYPE m2m_frames_total counter" in text, text


def test_page_and_http_hygiene():
    with Console() as con:
        c = con.client()
        st, page, h = c.call("GET", "/", raw=True)
        assert st == 200 and h["content-type"].startswith("text/html"), h
        assert b"<html" in page.lower(), page[:200]
        assert "script-src 'self'" in h["content-security-policy"] and h["x-frame-options"] == "DENY", h
        st, body, _ = c.call("GET", "/no-such-page")
        assert st == 404, body
        st, body, _ = c.call("GET", "/api/login")
        assert st == 405, body
        c = con.client("alice")
        # A body announced over 16 MiB is refused before a byte of it is read.
        s = socket.create_connection(("127.0.0.1", con.port), timeout=5)
        s.sendall(("POST /api/import?commit=0 HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"
                   "Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % (c.cookie, c.csrf, 17 << 20)).encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        s.close()
        assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer, answer
        # Garbage on the socket does not hurt the server.
        s = socket.create_connection(("127.0.0.1", con.port), timeout=5)
        s.sendall(b"\x00\xff GARBAGE \r\n\r\n" * 10)
        s.close()
        assert c.call("GET", "/api/session")[0] == 200


if __name__ == "__main__":
    run_tests([test_sign_in_cookie_and_session, test_wrong_passwords_are_refused_and_throttled,
               test_changes_need_the_csrf_token_and_json_sign_in, test_roles_are_enforced_by_the_server,
               test_device_commands, test_live_events_stream, test_live_streams_end_with_their_session,
               test_firmware_update_from_the_console, test_devices_added_edited_disabled_removed,
               test_associations_regions_and_groups, test_accounts_from_the_console,
               test_import_csv_preview_then_all_or_nothing, test_import_xlsx,
               test_console_users_from_the_api_and_the_file, test_statistics_and_metrics,
               test_page_and_http_hygiene])
