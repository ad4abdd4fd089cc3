"""A loopback m2m-server cluster for tests: its own nats-server (JetStream on, a temporary
store, a port the kernel chose) and N m2m-server nodes following one registry, the bucket in
NATS (seeded the way m2m-server(1) tells users to move a file there: device export | device
import --cluster), all stopped whatever happens (each process in its own process group,
SIGKILLed at the end)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from m2m_client import Server, stop_process

NATS = shutil.which("nats-server") or "/usr/sbin/nats-server"


class Nats:
    """nats-server on 127.0.0.1; restart() brings it back on the same port and store."""

    def __init__(self, store):
        self.store = store
        self.port = -1  # the first start lets the server choose; restarts reuse it
        self.proc = None

    def start(self, timeout=10):
        self.proc = subprocess.Popen([NATS, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        lines = []
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                lines.append(line)
                m = re.search(r"Listening for client connections on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                if "Server is ready" in line:
                    ready.set()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(max(0.1, deadline - time.monotonic())) or self.port <= 0:
            self.kill()
            raise AssertionError("nats-server did not start: %s" % "".join(lines[-10:]))
        return self

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


class Node(Server):
    """m2m-server as a cluster node: Server, with the address to listen on chosen by the caller."""
    listen = "127.0.0.1:0"

    def __enter__(self):
        self.proc = subprocess.Popen([self.bin, "serve", "--listen", self.listen] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        ev = self.wait_event("listening", timeout=10)
        self.port = int(ev["tcp"].rsplit(":", 1)[1])
        return self


class Cluster:
    """Use as a context manager: .nodes[i] are m2m_client.Server objects (port, wait_event)."""

    def __init__(self, devices=(), accounts=(), nodes=3, args=(), heartbeat="300ms", listen=None):
        self.dir = tempfile.mkdtemp(prefix="m2m-cluster-test-")
        self.nats = Nats(os.path.join(self.dir, "nats"))
        self.registry = Server(devices, accounts)  # a registry file, moved into the bucket at start
        self.count = nodes
        self.listen = listen  # one address for every node (with --reuseport in args)
        self.args = list(args) + ["--cluster-heartbeat", heartbeat]
        self.nodes = []
        self.ended = set()  # nodes the test itself killed or stopped

    def node_args(self, i):
        return ["--cluster", self.nats.url, "--node", "n%d" % i] + self.args

    def start_node(self, i):
        srv = Node()
        if self.listen:
            srv.listen = self.listen
        shutil.rmtree(srv.dir, ignore_errors=True)
        srv.dir = tempfile.mkdtemp(prefix="m2m-cluster-node-", dir=self.dir)
        srv.args = self.node_args(i)
        srv.__enter__()
        srv.wait_event("cluster", state="connected")
        return srv

    def admin(self, args, stdin=""):
        """An offline subcommand on the cluster's registry (the bucket): its stdout."""
        r = subprocess.run([self.registry.bin] + args + ["--cluster", self.nats.url], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("%s --cluster failed (%d): %s" % (args, r.returncode, r.stderr))
        return r.stdout

    def seed(self):
        for kind in ("device", "account"):
            self.admin([kind, "import"], self.registry.admin([kind, "export"]))

    def __enter__(self):
        try:
            self.nats.start()
            self.seed()
            for i in range(self.count):
                self.nodes.append(self.start_node(i))
            # Every node has heard every other's heartbeat (and their snapshots crossed).
            for i, srv in enumerate(self.nodes):
                for j in range(self.count):
                    if j != i:
                        srv.wait_event("cluster_node", node="n%d" % j, state="joined")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        # A node that ended on its own (a crash, a sanitizer report) says so, with its stderr:
        # otherwise a test sees only a refused connection.
        for i, srv in enumerate(self.nodes):
            proc = getattr(srv, "proc", None)
            if i not in self.ended and proc is not None and proc.poll() is not None:
                sys.stderr.write("cluster node n%d ended by itself (exit %d); its stderr:\n%s\n"
                                 % (i, proc.returncode, proc.stderr.read()))
        for srv in self.nodes:
            try:
                if srv.proc.poll() is None:
                    os.kill(srv.proc.pid, signal.SIGKILL)
                srv.proc.wait()
            except (ProcessLookupError, AttributeError):
                pass
        self.nats.kill()
        shutil.rmtree(self.registry.dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill_node(self, i):
        self.ended.add(i)
        os.kill(self.nodes[i].proc.pid, signal.SIGKILL)
        self.nodes[i].proc.wait()

    def stop_node(self, i):
        self.ended.add(i)
        return stop_process(self.nodes[i].proc)
