"""m2m-server --cluster: the registry in NATS (a JetStream key-value bucket). Changes made with
`device …`/`account … --cluster` and platform.add_terminal reach every node within a second
without a restart (measured and printed), end the sessions they revoke on whichever node holds
them, and survive the loss of a node; an import of bad input writes nothing; an export gives
back what was imported."""
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, Peer, password, run_tests  # noqa: E402
from cluster_fixture import Cluster  # noqa: E402

A = 0xA1
DEVICES = [("%016X" % A, "text:a", "g1", 1, "first")]
ACCOUNTS = [(7, "app", "text:app", "g1", 1, "")]
WITHIN = 1.0  # the bound for a change to reach every node


def dev_id(n):
    return "%016X" % n


def try_login(node, device, pw, cls=0xA0):
    p = Peer(node.port, device)
    try:
        return p, p.login(password(pw), cls=cls).status
    except Exception:
        p.close()
        raise


def until_login(node, device, pw, cls=0xA0, bound=5.0):
    """Logs in as soon as the node accepts it; returns (peer, seconds it took)."""
    t0 = time.monotonic()
    while True:
        p, status = try_login(node, device, pw, cls)
        if status == OK:
            return p, time.monotonic() - t0
        p.close()
        assert time.monotonic() - t0 < bound, "node never accepted %X within %.1fs" % (device, bound)
        time.sleep(0.02)


def test_changes_reach_every_node():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        # The seeded device logs in on any node.
        for n in cl.nodes:
            p, _ = until_login(n, A, "a", bound=1)
            p.close()
        # A device added with --cluster logs in on every node within the bound.
        new = 0xB2
        t0 = time.monotonic()
        cl.admin(["device", "add", dev_id(new), "--password", "text:b", "--group", "g1"])
        delays = []
        for n in cl.nodes:
            p, _ = until_login(n, new, "b")
            delays.append(time.monotonic() - t0)
            p.close()
        print("device add --cluster: logged in on 3 nodes %.0f/%.0f/%.0f ms after the command returned"
              % tuple(d * 1000 for d in delays))
        assert max(delays) < WITHIN, delays
        for n in cl.nodes:
            n.wait_event("registry", devices_added=1)

        # A password change ends the session on the node that holds it, and the new one works.
        held, _ = until_login(cl.nodes[1], new, "b")
        cl.admin(["device", "add", dev_id(new), "--password", "text:c", "--group", "g1", "--replace"])
        ev = cl.nodes[1].wait_event("logout", device=dev_id(new), reason="password_changed")
        assert ev["transport"] == "tcp", ev
        assert held.closed_by_server(), "the session outlived its credentials"
        p, _ = until_login(cl.nodes[2], new, "c")
        p.close()

        # Removed: its session ends wherever it is, and no node accepts it any more.
        held, _ = until_login(cl.nodes[2], new, "c")
        cl.admin(["device", "remove", dev_id(new)])
        ev = cl.nodes[2].wait_event("logout", device=dev_id(new), reason="removed")
        assert ev["transport"] == "tcp", ev
        for n in cl.nodes:
            p, status = try_login(n, new, "c")
            p.close()
            assert status == FAIL, "node %d still accepts a removed device" % cl.nodes.index(n)

        # An account added on the bucket logs in on another node.
        cl.admin(["account", "add", "9", "--name", "ops", "--password", "text:ops", "--groups", "*"])
        op, took = until_login(cl.nodes[1], 9, "ops", cls=0xEF)
        assert took < WITHIN, took
        op.close()


def test_add_terminal_on_one_node_logs_in_on_another():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        app, _ = until_login(cl.nodes[0], 7, "app", cls=0xEF)
        new = 0xC3
        r = app.request(0xEF, 0x06, struct.pack(">Q", new) + password("new"))
        assert r.status == OK, r
        t0 = time.monotonic()
        p, _ = until_login(cl.nodes[1], new, "new")
        print("platform.add_terminal on n0: the device logged in on n1 %.0f ms after the reply"
              % ((time.monotonic() - t0) * 1000))
        p.close()
        # The same id again is refused, on any node: the bucket holds it.
        app2, _ = until_login(cl.nodes[2], 7, "app", cls=0xEF)
        assert app2.request(0xEF, 0x06, struct.pack(">Q", new) + password("x")).status == FAIL
        listed = cl.admin(["device", "list"])
        assert '"id":"%s","group":"g1"' % dev_id(new) in listed.replace(" ", ""), listed


def test_registry_survives_a_node_and_reaches_a_new_one():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        cl.admin(["device", "add", dev_id(0xD4), "--password", "text:d", "--group", "g1"])
        cl.kill_node(0)  # SIGKILL
        for n in cl.nodes[1:]:
            p, _ = until_login(n, 0xD4, "d")
            p.close()
        # A node started after the change (and after the loss) loads the whole registry.
        late = cl.start_node(5)
        cl.nodes.append(late)
        for dev, pw in ((A, "a"), (0xD4, "d")):
            p, _ = until_login(late, dev, pw, bound=1)
            p.close()
        op, _ = until_login(late, 7, "app", cls=0xEF, bound=1)
        op.close()


def test_import_checks_everything_first_and_export_gives_it_back():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        header = "id,password,group,enabled,description\n"
        rows = "".join("%016X,text:p%d,g%d,1,row %d\n" % (0x100 + i, i, i % 3, i) for i in range(50))
        bad = header + rows + "00000000000001FF,zz,g1,1,\n"  # the last row's password is bad
        r = subprocess.run([cl.registry.bin, "device", "import", "--cluster", cl.nats.url], input=bad,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 3 and "stdin:52:" in r.stderr and "nothing imported" in r.stderr, r
        exported = cl.admin(["device", "export"]).splitlines()
        assert len(exported) == 2 and exported[1].startswith("%016X," % A) and exported[1].endswith(",g1,1,first"), \
            "a rejected import wrote to the bucket: %r" % exported
        cl.admin(["device", "import"], header + rows)
        exported = cl.admin(["device", "export"]).splitlines()
        assert len(exported) == 1 + 1 + 50, exported[:3]
        # What went in comes back, row for row (ids in order; passwords as 16 hex digits).
        for i in range(50):
            line = exported[2 + i].split(",")
            assert line[0] == "%016X" % (0x100 + i) and line[2] == "g%d" % (i % 3) and line[4] == "row %d" % i, line
            assert line[1] == (b"p%d" % i).ljust(8, b"\0").hex().upper(), line
        # Every node took the 50 (a login on the last node of the last row proves the stream reached it).
        p, _ = until_login(cl.nodes[2], 0x100 + 49, "p49")
        p.close()
        # One registry at a time.
        r = subprocess.run([cl.registry.bin, "device", "list", "--cluster", cl.nats.url, "--db", "x.db"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "--db and --cluster" in r.stderr, r


def test_changes_made_while_nats_was_away_and_after():
    with Cluster(DEVICES, ACCOUNTS, nodes=2) as cl:
        held, _ = until_login(cl.nodes[1], A, "a")
        cl.nats.kill()
        for n in cl.nodes:
            n.wait_event("cluster", state="disconnected", timeout=5)
        # Devices already registered keep logging in while NATS is away.
        p, _ = until_login(cl.nodes[0], A, "a", bound=1)
        p.close()
        cl.nats.start()  # same port, same store: the bucket is still there
        for n in cl.nodes:
            n.wait_event("cluster", state="reconnected", timeout=10)
        # A change after the return reaches both nodes, and a removal still ends a session.
        cl.admin(["device", "add", dev_id(0xE5), "--password", "text:e", "--group", "g1"])
        for n in cl.nodes:
            p, took = until_login(n, 0xE5, "e")
            p.close()
        cl.admin(["device", "remove", dev_id(A)])
        cl.nodes[1].wait_event("logout", device=dev_id(A), reason="removed")
        assert held.closed_by_server(), "a device removed after NATS came back kept its session"


if __name__ == "__main__":
    run_tests([test_changes_reach_every_node, test_add_terminal_on_one_node_logs_in_on_another,
               test_registry_survives_a_node_and_reaches_a_new_one,
               test_import_checks_everything_first_and_export_gives_it_back,
               test_changes_made_while_nats_was_away_and_after])
