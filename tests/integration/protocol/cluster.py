"""
tests/integration/protocol/cluster.py — starts a real ZooKeeper (deploy/zk-run.sh, Debian's
package) and real gregor-broker processes on free loopback ports for the
protocol tests, and always stops them (atexit and process-group kill).
"""
import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "harness"))
import ports  # noqa: E402

SRC = os.environ.get("GREGOR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("GREGOR_BUILD_DIR", os.path.join(SRC, "build"))
# GREGOR_BROKER_BIN runs another build's broker (the TSan stage: build-tsan's)
BROKER_BIN = os.environ.get("GREGOR_BROKER_BIN") or os.path.join(BUILD, "bin", "gregor-broker")


_handed_out = set()


def free_port():
    """A free loopback port outside the kernel's ephemeral range: a port the kernel could hand
    to an outgoing connection may be taken between this check and the broker's bind."""
    first, last = ports.listener_range()
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        p = rng.randrange(first, last)
        if p in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        _handed_out.add(p)
        return p
    raise RuntimeError("no free port in %d-%d" % (first, last))


def wait_port(port, proc=None, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class ZooKeeper:
    def __init__(self, tmp):
        self.port = free_port()
        self.dir = os.path.join(tmp, "zk")
        self.log = open(os.path.join(tmp, "zk.log"), "w")
        self.connect = "127.0.0.1:%d" % self.port
        self.start()

    def start(self):
        """Starts the server (again, after stop(): same port and data)."""
        self.proc = subprocess.Popen(["bash", os.path.join(SRC, "deploy", "zk-run.sh"), self.dir,
                                      str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if not wait_port(self.port, self.proc, 60):
            raise RuntimeError("ZooKeeper did not start (see %s)" % self.log.name)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Broker:
    def __init__(self, tmp, zk, broker_id=0, overrides=()):
        self.tmp = tmp
        self.zk = zk
        self.id = broker_id
        self.port = free_port()
        self.logdir = os.path.join(tmp, "broker-%d" % broker_id)
        self.logfile = os.path.join(tmp, "broker-%d.log" % broker_id)
        self.overrides = list(overrides)
        self.proc = None
        self.start()

    def args(self):
        a = [BROKER_BIN, os.path.join(SRC, "deploy", "config", "server.properties"),
             "--override", "broker.id=%d" % self.id,
             "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
             "--override", "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
             "--override", "inter.broker.listener.name=PLAINTEXT",  # one listener on loopback
             "--override", "log.dirs=" + self.logdir,
             "--override", "zookeeper.connect=" + self.zk.connect]
        for o in self.overrides:  # "{port}" stands for this broker's PLAINTEXT port
            a += ["--override", o.replace("{port}", str(self.port))]
        return a

    def start(self):
        log = open(self.logfile, "a")
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if not wait_port(self.port, self.proc, 30):
            raise RuntimeError("broker %d did not start:\n%s" % (self.id, open(self.logfile).read()[-3000:]))

    def stop(self, sig=signal.SIGTERM):
        """Stops the broker; returns its exit status (None if it was not running)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return "hung"
        return None


class Cluster:
    def __init__(self, n_brokers=1, overrides=(), per_broker=None):
        """per_broker(i) may return extra overrides for broker i."""
        self.tmp = tempfile.mkdtemp(prefix="gregor-proto-")
        self.zk = ZooKeeper(self.tmp)
        self.brokers = [Broker(self.tmp, self.zk, i, list(overrides) + list(per_broker(i) if per_broker else []))
                        for i in range(n_brokers)]
        atexit.register(self.stop)
        if n_brokers > 1:
            self.wait_registered()

    def wait_registered(self, timeout=30.0):
        """Waits until the first broker's Metadata lists every broker: CreateTopics with an
        explicit assignment naming a broker that has not registered yet is refused
        (INVALID_REPLICA_ASSIGNMENT), so tests start from a cluster whose brokers are all in.
        Best effort: a cluster that cannot get there is left for the test to find out."""
        import struct
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.brokers[0].port), timeout=12) as s:
                    # Metadata v1 for no topics: header (key 3, v1, correlation 1, client id) + []
                    body = struct.pack(">hhih", 3, 1, 1, 4) + b"wait" + struct.pack(">i", 0)
                    s.sendall(struct.pack(">i", len(body)) + body)
                    head = b""
                    while len(head) < 12:  # size, correlation id, brokers array length
                        chunk = s.recv(12 - len(head))
                        if not chunk:
                            break
                        head += chunk
                    if len(head) == 12 and struct.unpack(">i", head[8:12])[0] >= len(self.brokers):
                        return
            except OSError:
                pass
            time.sleep(0.2)

    def stop(self):
        """Stops every broker cleanly (SIGTERM) and ZooKeeper. Returns the
        brokers that did not exit with status 0 (a crash at shutdown, or a
        sanitizer report), as (id, status, log tail) tuples."""
        unclean = []
        for b in self.brokers:
            st = b.stop(signal.SIGTERM)
            if st not in (0, None):
                unclean.append((b.id, st, open(b.logfile).read()[-4000:]))
        self.zk.stop()
        if os.environ.get("GREGOR_KEEP_TMP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        atexit.unregister(self.stop)
        return unclean


def run_tests(tests):
    """Runs test functions in order; prints one line each and a closing
    'N passed, M failed' line. Returns the process exit status."""
    import traceback
    passed = failed = 0
    for t in tests:
        start = time.time()
        try:
            t()
            passed += 1
            print("PASS %s (%.2fs)" % (t.__name__, time.time() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


def run_suite(cl, tests):
    """A test file's main: runs tests (a list, or a module's globals() whose test_* functions
    run in definition order) filtered by the command line's substrings, stops the cluster cl and
    fails the run if a broker did not exit cleanly. Returns the process exit status."""
    import sys
    if isinstance(tests, dict):
        tests = [f for n, f in tests.items() if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]
    if only:
        tests = [t for t in tests if any(o in t.__name__ for o in only)]
    rc = run_tests(tests)
    for bid, st, tail in cl.stop():
        print("broker %d exited with status %s at shutdown:\n%s" % (bid, st, tail))
        rc = 1
    return rc
