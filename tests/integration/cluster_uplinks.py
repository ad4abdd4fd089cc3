"""m2m-server --cluster: uplinks and events cross to a node only while it holds an operator
who may see the device's group (NATS interest on m2m.up.GROUP; m2m.up.> for an operator who
sees every group). Counted by each node's stats line (cluster_uplinks_in)."""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import OK, Peer, password, run_tests  # noqa: E402
from cluster_fixture import Cluster  # noqa: E402

A, C = 0xA1, 0xC3
DEVICES = [("%016X" % A, "text:a", "g1", 1, ""), ("%016X" % C, "text:c", "g2", 1, "")]
ACCOUNTS = [(7, "app", "text:app", "g1", 1, ""), (8, "ops", "text:ops", "*", 1, "")]


def login(node, who, pw, cls=0xA0):
    p = Peer(node.port, who)
    r = p.login(password(pw), cls=cls)
    assert r.status == OK, r
    return p


def uplinks_in(node, at_least=0, bound=5.0):
    """cluster_uplinks_in of the first stats line the node writes from now on that shows at
    least `at_least` (older lines still queued are skipped: they predate what was sent)."""
    since = datetime.datetime.now(datetime.timezone.utc)
    deadline = time.monotonic() + bound
    while True:
        ev = node.wait_event("stats", timeout=max(0.1, deadline - time.monotonic()))
        ts = datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        if ts > since and ev["cluster_uplinks_in"] >= at_least:
            return ev["cluster_uplinks_in"]
        assert time.monotonic() < deadline, "stats never showed %d uplinks in: %s" % (at_least, ev)


def marker(dev, client, text):
    """An uplink that `client` sees: what n0 published before it has crossed NATS by then (one
    node's messages keep their order through the one NATS server)."""
    assert dev.request(0xAA, 0xEE, text).status == OK
    up = client.recv(3, lambda f: f.cmd == 0xEE and f.data == text)
    assert up is not None, "the marker uplink %r did not arrive" % text


def send_until_received(dev, client, text, bound=5.0):
    """Uplinks from `dev` until `client` gets one (a subscription reaches NATS a moment after
    the login that made it); returns how many were sent."""
    deadline = time.monotonic() + bound
    sent = 0
    while True:
        assert dev.request(0xAA, 0xEE, text).status == OK
        sent += 1
        up = client.recv(0.2, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
        if up is not None:
            assert up.data == text, up
            return sent
        assert time.monotonic() < deadline, "no uplink reached the operator"


def test_uplinks_go_only_where_an_operator_sees_the_group():
    with Cluster(DEVICES, ACCOUNTS, args=["--stats-interval", "200ms"]) as cl:
        n0, n1, n2 = cl.nodes
        dev = login(n0, A, "a")
        app = login(n1, 7, "app", cls=0xEF)  # sees g1, on n1
        sent = send_until_received(dev, app, b"t=1")
        for _ in range(20):
            assert dev.request(0xAA, 0xEE, b"t=2").status == OK
        got = [app.recv(3, lambda f: f.cmd == 0xEE) for _ in range(20)]
        assert all(g is not None and g.data == b"t=2" for g in got), "an uplink was lost"
        on_n1 = uplinks_in(n1, at_least=21)
        # n2 holds no operator: nothing crossed to it, although 20-odd uplinks went to n1.
        assert uplinks_in(n2) == 0, "a node without operators received uplinks"
        print("uplinks: %d sent from n0, n1 (an operator of g1) received %d, n2 (none) 0" % (sent + 20, on_n1))

        # A g2 device's uplink does not go to n1 (its operator sees g1 only).
        c = login(n0, C, "c")
        before = uplinks_in(n1, at_least=on_n1)
        assert c.request(0xAA, 0xEE, b"south").status == OK
        marker(dev, app, b"mark-1")
        assert uplinks_in(n1, at_least=before + 1) == before + 1, \
            "an uplink of g2 crossed to a node whose operator sees g1 only"

        # An operator who sees every group, on n2: n2 now receives both groups, once each.
        ops = login(n2, 8, "ops", cls=0xEF)
        send_until_received(c, ops, b"south")
        assert dev.request(0xAA, 0xEE, b"north").status == OK
        up = ops.recv(3, lambda f: f.cmd == 0xEE and f.data == b"north")
        assert up is not None and up.device == A, up
        assert ops.recv(0.3, lambda f: f.cmd == 0xEE) is None, "an uplink was delivered twice"

        # It leaves: n2 unsubscribes (its UNSUB and n0's next uplinks race at the server, so
        # wait, bounded, until a marker round adds nothing), then receives nothing more.
        ops.close()
        n2.wait_event("logout", account=8)
        deadline = time.monotonic() + 5
        settled = uplinks_in(n2)
        while True:
            marker(dev, app, b"probe")
            now = uplinks_in(n2)
            if now == settled:
                break
            settled = now
            assert time.monotonic() < deadline, "n2 kept receiving after its last operator left"
        for _ in range(10):
            assert dev.request(0xAA, 0xEE, b"after").status == OK
        marker(dev, app, b"mark-2")
        assert uplinks_in(n2) == settled, "a node kept receiving uplinks after its last operator left"

if __name__ == "__main__":
    run_tests([test_uplinks_go_only_where_an_operator_sees_the_group])
