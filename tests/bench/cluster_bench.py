#!/usr/bin/python3
"""tests/bench/cluster_bench.py — Gregor's cluster benchmarks (docs/PERFORMANCE.md §10).

Starts its own ZooKeeper and three gregor-broker processes on free loopback
ports (20000-29999, outside the ephemeral range) in a temporary directory,
one cluster at a time, and measures:

  failover    SIGKILL of a partition leader (never the controller) -> first
              successful acks=all produce on each of its partitions, with
              zookeeper.session.timeout.ms at 2000 and at 18000 (the default),
              REPS times each. A confluent_kafka producer probes every
              partition continuously (one record in flight per partition,
              acks=all, low backoffs and metadata refresh intervals), so the
              time includes the client's metadata refresh. Besides the
              client's view, it records when ZooKeeper expired the victim's
              session (ZooKeeper's log), when the controller logged the new
              leader, and when every surviving broker's Metadata (raw
              Metadata v1 requests, no client cache) showed a live leader.
              Partitions on which the victim was only a follower are probed
              too (acks=all waits for the dead follower until it leaves the
              ISR).
  shutdown    SIGTERM of a broker leading N partitions (RF 3, N=1000):
              time until no partition names it as leader in another broker's
              Metadata, and until the process exited.
  ctrl        SIGKILL of the active controller with T topics x P partitions
              (10 x 1000, RF 3; falls back to RF 1 if the RF 3 cluster cannot
              be built): time from the victim's session expiry (ZooKeeper log)
              until another broker is controller and every surviving broker's
              Metadata shows a live leader for every partition that has a live
              replica; the new controller's "became controller" line and the
              last LeaderAndIsr applied on a survivor ("partition state" log
              lines). Topic creation of all partitions is timed too.
  throughput  tests/bench/produce_bench (librdkafka, 1 KiB records,
              linger.ms=5, batch.size=1 MiB, 4 partitions): RF 1 on one broker
              with acks=1 (the single-broker figure), RF 3 with acks=all, RF 3
              with acks=1; plus loopback TCP (iperf3) as the machine limit.

  coordfail   group coordinator failover (tests/bench/coord_bench.py): offsets
              committed for 10,000 groups x 10 partitions (pipelined simple-
              consumer OffsetCommits, commits/s), then SIGKILL of the
              coordinator (never the controller) of a group with a live member,
              __consumer_offsets at RF 3: time until the group is Stable with
              its member on the new coordinator, until OffsetFetch there
              returns its offsets, and until every offsets partition the victim
              led answers OffsetFetch, from the kill and from the session expiry.

  (failover also runs a raw Produce v3 probe, acks=all, no client
  library, against the leader the survivors name: broker vs client delay.)

  cluster_bench.py [--quick] [--only failover,shutdown,ctrl,throughput,coordfail]
                   [--out DIR] [--stamp STAMP] [--keep] [--reps N]
                   [--ctrl-topics T] [--ctrl-topics-parts P] [--ctrl-rf R]
                   [--override key=value ...]

--quick: one failover repetition at 2000 ms only, 200 partitions for the
shutdown, 1 x 300 partitions for the controller failover, 2 s throughput
runs, 2,000 groups for coordfail. Output: a table on stdout, key=value lines in DIR/cluster-STAMP.txt,
JSON in DIR/cluster-STAMP.json, copies in DIR/cluster-latest.{txt,json}.
Environment: GREGOR_BUILD_DIR (default <repo>/build), BENCH_BIN_DIR
(default $GREGOR_BUILD_DIR/bench), BENCH_OUT, BENCH_TMP, GREGOR_KEEP_TMP=1.
"""
import argparse
import ctypes
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

import coord_bench
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("GREGOR_BUILD_DIR", os.path.join(SRC, "build"))
BROKER_BIN = os.path.join(BUILD, "bin", "gregor-broker")
BENCH_BIN = os.environ.get("BENCH_BIN_DIR", os.path.join(BUILD, "bench"))
CONFIG = os.path.join(SRC, "deploy", "config", "server.properties")
HZ = os.sysconf("SC_CLK_TCK")

RESULTS = {}
OVERRIDES = []  # --override k=v, given to every broker


def record(key, value):
    RESULTS[key] = value


def log(msg):
    print("[cluster-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---- small helpers ----------------------------------------------------------

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphans if we die


_used_ports = set()


def free_port():
    """A free loopback port in 20000-29999 (outside the ephemeral range)."""
    base = 20000 + (os.getpid() * 37) % 9000
    for i in range(10000):
        port = 20000 + (base - 20000 + i * 7) % 10000
        if port in _used_ports:
            continue
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port in 20000-29999")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ
    except (OSError, IndexError, ValueError):
        return 0.0


def sys_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ


_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z? ")


def log_lines(path, since, pattern):
    """(epoch seconds, line) of every line of PATH at or after SINCE that
    matches PATTERN. Gregor and (as configured here) ZooKeeper both start a
    line with an ISO UTC timestamp with milliseconds."""
    rx = re.compile(pattern)
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = _TS.match(line)
                if not m or not rx.search(line):
                    continue
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
                t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
                if t >= since - 0.0005:
                    out.append((t, line.rstrip("\n")))
    except OSError:
        pass
    return out


def ms(t):
    return None if t is None else round(t * 1000.0, 1)


def fmt_ms(v):
    return "-" if v is None else "%.0f" % v


# ---- raw Metadata v1 client ----------------------------------------------------

class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def i8(self):
        self.o += 1
        return struct.unpack_from(">b", self.d, self.o - 1)[0]

    def i16(self):
        self.o += 2
        return struct.unpack_from(">h", self.d, self.o - 2)[0]

    def i32(self):
        self.o += 4
        return struct.unpack_from(">i", self.d, self.o - 4)[0]

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        self.o += n
        return self.d[self.o - n:self.o].decode()

    def i32s(self):
        n = self.i32()
        v = struct.unpack_from(">%di" % max(n, 0), self.d, self.o)
        self.o += 4 * max(n, 0)
        return v


def _crc32c_table():
    tab = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tab.append(c)
    return tab


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def record_batch(value):
    """A RecordBatch v2 holding one record with VALUE and no key."""
    rec = b"\x00" + _varint(0) + _varint(0) + _varint(-1) + _varint(len(value)) + value + _varint(0)
    rec = _varint(len(rec)) + rec
    now = int(time.time() * 1000)
    tail = struct.pack(">hiqqqhii", 0, 0, now, now, -1, -1, -1, 1) + rec
    crc = crc32c(tail)
    inner = struct.pack(">ibI", -1, 2, crc) + tail
    return struct.pack(">qi", 0, len(inner)) + inner


class MetaConn:
    """One connection to one broker; metadata() sends Metadata v1 and decodes
    the whole answer: what that broker itself believes, no client cache."""

    def __init__(self, port):
        self.port, self.sock, self.corr = port, None, 0

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def _recv(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("connection closed")
            buf += chunk
        return bytes(buf)

    def call(self, api, version, payload, timeout=3.0):
        """One request/response; returns the response after its header."""
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(timeout)
            self.corr += 1
            cid = b"cluster-bench"
            body = struct.pack(">hhih", api, version, self.corr, len(cid)) + cid + payload
            self.sock.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", self._recv(4))[0]
            data = self._recv(size)
        except OSError:
            self.close()
            raise
        if struct.unpack_from(">i", data)[0] != self.corr:
            self.close()
            raise OSError("correlation id mismatch")
        return data

    def metadata(self, topics=None, timeout=3.0):
        if topics is None:
            body = struct.pack(">i", -1)
        else:
            body = struct.pack(">i", len(topics))
            for t in topics:
                body += struct.pack(">h", len(t)) + t.encode()
        return self._decode(self.call(3, 1, body, timeout))

    def produce_one(self, topic, partition, value, timeout_ms=1000):
        """Produce v3, acks=all, one record; returns the partition's error code."""
        batch = record_batch(value)
        t = topic.encode()
        body = struct.pack(">hhi", -1, -1, timeout_ms) + struct.pack(">ih", 1, len(t)) + t + \
            struct.pack(">iii", 1, partition, len(batch)) + batch
        r = Reader(self.call(0, 3, body, timeout_ms / 1000.0 + 2))
        r.i32()
        r.i32()
        r.string()
        r.i32()
        r.i32()
        return r.i16()

    def _decode(self, data):
        r = Reader(data)
        r.i32()  # correlation id
        brokers = {}
        for _ in range(r.i32()):
            node = r.i32()
            host = r.string()
            port = r.i32()
            r.string()  # rack
            brokers[node] = (host, port)
        controller = r.i32()
        topics = {}
        for _ in range(r.i32()):
            err = r.i16()
            name = r.string()
            r.i8()
            parts = {}
            for _ in range(r.i32()):
                perr = r.i16()
                p = r.i32()
                leader = r.i32()
                replicas = r.i32s()
                isr = r.i32s()
                parts[p] = (leader, replicas, isr, perr)
            topics[name] = (err, parts)
        return {"brokers": brokers, "controller": controller, "topics": topics}


# ---- the cluster -----------------------------------------------------------------

class Cluster:
    """ZooKeeper + N brokers in DIR. Broker i has broker.id=i."""

    def __init__(self, root, name, n, session_ms, overrides=()):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.n, self.session_ms = n, session_ms
        self.overrides = OVERRIDES + list(overrides)
        self.zk_port = free_port()
        self.ports = [free_port() for _ in range(n)]
        self.procs = [None] * n
        self.zk = None
        self.conns = [MetaConn(p) for p in self.ports]

    def zk_log(self):
        return os.path.join(self.dir, "zookeeper.log")

    def broker_log(self, i):
        return os.path.join(self.dir, "broker-%d.log" % i)

    def start_zk(self):
        """As deploy/zk-run.sh, but tickTime 500 with min/max session
        timeouts of 1 s / 60 s, so that 2000 ms is granted as asked (with
        zk-run.sh's tickTime=2000, ZooKeeper raises any session timeout
        below 4000 ms to 4000 ms) and sessions expire on a 500 ms grid."""
        zdir = os.path.join(self.dir, "zookeeper")
        os.makedirs(os.path.join(zdir, "data"))
        cfg = os.path.join(zdir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=500\nminSessionTimeout=1000\nmaxSessionTimeout=60000\n"
                    "initLimit=10\nsyncLimit=5\ndataDir=%s/data\nclientPort=%d\n"
                    "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n"
                    "4lw.commands.whitelist=ruok,srvr,stat,mntr\n" % (zdir, self.zk_port))
        jars = os.environ.get("ZK_JARS", "/usr/share/java")
        cp = ":".join(os.path.join(jars, j + ".jar")
                      for j in ("zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-simple"))
        cmd = ["java", "-Xms64m", "-Xmx1g", "-XX:+UseSerialGC", "-Duser.timezone=UTC",
               "-Dorg.slf4j.simpleLogger.showDateTime=true",
               "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
               "-Dzookeeper.admin.enableServer=false", "-cp", cp,
               "org.apache.zookeeper.server.ZooKeeperServerMain", cfg]
        out = open(self.zk_log(), "ab")
        self.zk = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        out.close()
        deadline = time.time() + 60
        while not port_open(self.zk_port):
            if self.zk.poll() is not None or time.time() > deadline:
                raise RuntimeError("ZooKeeper did not start (see %s)" % self.zk_log())
            time.sleep(0.1)

    def start_broker(self, i):
        args = [BROKER_BIN, CONFIG] + [a for o in self.overrides for a in ("--override", o)]
        for o in ("broker.id=%d" % i,
                  "listeners=PLAINTEXT://127.0.0.1:%d" % self.ports[i],
                  "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.ports[i],
                  "inter.broker.listener.name=PLAINTEXT",  # one listener on loopback
                  "log.dirs=%s/broker-%d" % (self.dir, i),
                  "zookeeper.connect=127.0.0.1:%d" % self.zk_port,
                  "zookeeper.session.timeout.ms=%d" % self.session_ms):
            args += ["--override", o]
        out = open(self.broker_log(i), "ab")
        self.procs[i] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        out.close()
        deadline = time.time() + 60
        while not port_open(self.ports[i]):
            if self.procs[i].poll() is not None or time.time() > deadline:
                raise RuntimeError("broker %d did not start (see %s)" % (i, self.broker_log(i)))
            time.sleep(0.05)

    def start(self):
        self.start_zk()
        for i in range(self.n):
            self.start_broker(i)
        self.wait_ready(list(range(self.n)))

    def alive(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def bootstrap(self, ids=None):
        ids = range(self.n) if ids is None else ids
        return ",".join("127.0.0.1:%d" % self.ports[i] for i in ids if self.alive(i))

    def meta(self, i, topics=None, timeout=3.0):
        return self.conns[i].metadata(topics, timeout)

    def wait_ready(self, ids, timeout=90):
        """Every broker in IDS lists exactly IDS as live brokers and knows
        a controller among them."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            ok = True
            for i in ids:
                try:
                    md = self.meta(i, topics=[])
                except OSError:
                    ok = False
                    break
                if sorted(md["brokers"]) != sorted(ids) or md["controller"] not in ids:
                    ok = False
                    break
            if ok:
                return
            time.sleep(0.1)
        raise RuntimeError("cluster not ready within %d s (brokers %s)" % (timeout, ids))

    def controller(self, via=None):
        for i in ([via] if via is not None else range(self.n)):
            if self.alive(i):
                try:
                    return self.meta(i, topics=[])["controller"]
                except OSError:
                    continue
        return -1

    def session_of(self, i):
        """The last ZooKeeper session id and granted timeout broker i logged."""
        sess, tmo = None, None
        for _, line in log_lines(self.broker_log(i), 0, r"session established"):
            m = re.search(r"session=0x([0-9a-f]+)", line)
            if m:
                sess = m.group(1)
            m = re.search(r"timeout_ms=(\d+)", line)
            if m:
                tmo = int(m.group(1))
        return sess, tmo

    def zk_expiry(self, session, since):
        for t, line in log_lines(self.zk_log(), since, r"Expiring session"):
            if session and ("0x" + session) in line:
                return t
        return None

    def kill(self, i, sig=signal.SIGKILL):
        self.conns[i].close()
        if self.alive(i):
            self.procs[i].send_signal(sig)

    def stop(self):
        for c in self.conns:
            c.close()
        for i in range(self.n):
            if self.alive(i):
                self.procs[i].terminate()
        for i in range(self.n):
            if self.procs[i] is not None:
                try:
                    self.procs[i].wait(timeout=40)
                except subprocess.TimeoutExpired:
                    log("broker %d did not stop within 40 s after SIGTERM; SIGKILL" % i)
                    record("bug.broker_stop_hang.%d" % i, 1)
                    self.procs[i].kill()
                    self.procs[i].wait()
        if self.zk is not None and self.zk.poll() is None:
            self.zk.kill()
            self.zk.wait()

    def cpu(self):
        return [proc_cpu(p.pid) if p is not None and p.poll() is None else 0.0 for p in self.procs]


def admin_for(cl):
    return AdminClient({"bootstrap.servers": cl.bootstrap(), "socket.timeout.ms": 60000})


def create_topics(cl, topics, timeout=600):
    """TOPICS: list of NewTopic. Waits for the CreateTopics answers."""
    admin = admin_for(cl)  # must outlive the futures
    fs = admin.create_topics(topics, request_timeout=timeout, operation_timeout=timeout)
    for name, f in fs.items():
        f.result(timeout=timeout)
    del admin


def wait_topic(cl, topic, n_parts, ids, want=None, timeout=120, full_isr=False):
    """Until every broker in IDS reports TOPIC with N_PARTS partitions each
    with a leader (WANT(p, leader, replicas, isr) -> bool if given)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ok = True
        for i in ids:
            try:
                md = cl.meta(i, [topic])
            except OSError:
                ok = False
                break
            err, parts = md["topics"].get(topic, (3, {}))
            if err != 0 or len(parts) != n_parts:
                ok = False
                break
            for p, (leader, reps, isr, perr) in parts.items():
                if leader < 0 or (full_isr and len(isr) != len(reps)) or \
                        (want and not want(p, leader, reps, isr)):
                    ok = False
                    break
            if not ok:
                break
        if ok:
            return True
        time.sleep(0.1)
    return False


# ---- machine limit -----------------------------------------------------------------

def limit_loopback(seconds):
    if not shutil.which("iperf3"):
        return
    port = free_port()
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True,
                              text=True).stdout.strip():
                break
            time.sleep(0.1)
        out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                              "-l", "1M", "-J"], capture_output=True, text=True, timeout=60)
        end = json.loads(out.stdout)["end"]
        record("limit.loopback_gb_per_s", round(end["sum_received"]["bits_per_second"] / 8e9, 2))
    except (subprocess.SubprocessError, ValueError, KeyError) as e:
        log("iperf3 failed: %s" % e)
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait()


# ---- 1. leader failover ---------------------------------------------------------------

def probe_producer(cl):
    return Producer({
        "bootstrap.servers": cl.bootstrap(),
        "acks": "all",
        "linger.ms": 0,
        "retry.backoff.ms": 10,
        "reconnect.backoff.ms": 10,
        "reconnect.backoff.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 200,
        "topic.metadata.refresh.fast.interval.ms": 10,
        "message.timeout.ms": 120000,
        "request.timeout.ms": 5000,
        "message.send.max.retries": 1000000,
        "enable.idempotence": False,
    })


def raw_prober(cl, topic, led, survivors, ok, stop):
    """Server-side view of the failover, no client library: asks a survivor
    for the leaders every 10 ms and sends a raw acks=all Produce (v3, one
    record, 1 s timeout) to the named leader of each partition in LED until
    one succeeds; OK[p] = time of the first success."""
    meta = MetaConn(cl.ports[survivors[0]])
    conns = {s: MetaConn(cl.ports[s]) for s in survivors}
    try:
        while len(ok) < len(led) and not stop.is_set():
            try:
                parts = meta.metadata([topic], timeout=1.0)["topics"][topic][1]
            except (OSError, KeyError):
                time.sleep(0.01)
                continue
            for p in led:
                leader = parts.get(p, (-1,))[0]
                if p in ok or leader not in conns:
                    continue
                try:
                    if conns[leader].produce_one(topic, p, b"raw-probe") == 0:
                        ok[p] = time.time()
                except OSError:
                    pass
            time.sleep(0.01)
    finally:
        meta.close()
        for c in conns.values():
            c.close()


def failover_once(cl, session_ms, rep):
    ctrl = cl.controller()
    cands = [b for b in range(cl.n) if b != ctrl]
    v = cands[rep % len(cands)]
    a, b = [x for x in range(cl.n) if x != v]
    topic = "fo-%d-%d" % (session_ms, rep)
    # partitions 0-2 led by the victim, 3-5 led by others with the victim as follower
    assign = [[v, a, b], [v, b, a], [v, a, b], [a, v, b], [b, v, a], [a, b, v]]
    create_topics(cl, [NewTopic(topic, len(assign), replica_assignment=assign)])
    led = [0, 1, 2]
    foll = [3, 4, 5]
    if not wait_topic(cl, topic, 6, range(cl.n), want=lambda p, l, r, i: l == assign[p][0],
                      full_isr=True, timeout=60):
        raise RuntimeError("topic %s: leaders/ISR not as assigned" % topic)
    prod = probe_producer(cl)
    state = {"inflight": set(), "ok": {}, "err": 0, "t_kill": None}

    def on_delivery(err, msg):
        p = msg.partition()
        state["inflight"].discard(p)
        if err is not None:
            state["err"] += 1
        elif state["t_kill"] is not None and p not in state["ok"]:
            state["ok"][p] = time.time()

    for p in range(6):  # warm-up: connections and metadata in place
        prod.produce(topic, b"warm", partition=p, on_delivery=on_delivery)
    prod.flush(30)
    if state["err"]:
        raise RuntimeError("warm-up produce failed on %s" % topic)
    rc = MetaConn(cl.ports[v])
    code = rc.produce_one(topic, 0, b"raw-warm")  # checks the raw prober's encoding
    rc.close()
    if code != 0:
        raise RuntimeError("raw acks=all produce to %s-0 answered error %d" % (topic, code))
    sess, granted = cl.session_of(v)
    survivors = [a, b]
    raw = {}
    raw_stop = threading.Event()
    th = threading.Thread(target=raw_prober, args=(cl, topic, led, survivors, raw, raw_stop))
    t_kill = time.time()
    cl.kill(v)
    state["t_kill"] = t_kill
    th.start()
    t_meta = None
    t_isr = None
    next_meta = 0.0
    deadline = t_kill + session_ms / 1000.0 + 60
    while len(state["ok"]) < 6 and time.time() < deadline:
        for p in range(6):
            if p not in state["inflight"] and p not in state["ok"]:
                state["inflight"].add(p)
                prod.produce(topic, b"probe", partition=p, on_delivery=on_delivery)
        prod.poll(0.002)
        now = time.time()
        if (t_meta is None or t_isr is None) and now >= next_meta:
            next_meta = now + 0.01
            good_l, good_i = True, True
            for s in survivors:
                try:
                    parts = cl.meta(s, [topic], timeout=1.0)["topics"][topic][1]
                except (OSError, KeyError):
                    good_l = good_i = False
                    break
                good_l &= all(parts[p][0] in survivors for p in led)
                good_i &= all(v not in parts[p][2] for p in foll)
            if good_l and t_meta is None:
                t_meta = now
            if good_i and t_isr is None:
                t_isr = now
    prod.flush(5)
    th.join(timeout=max(1.0, deadline - time.time()))
    raw_stop.set()
    th.join()
    cl.procs[v].wait()
    t_expire = cl.zk_expiry(sess, t_kill)
    elected = log_lines(cl.broker_log(ctrl), t_kill, r"partition leader topic=%s " % topic)
    t_elect = elected[0][0] if elected else None
    ok_led = [state["ok"].get(p) for p in led]
    ok_foll = [state["ok"].get(p) for p in foll]
    res = {
        "victim": v, "controller": ctrl, "granted_session_ms": granted,
        "expire_ms": ms(t_expire - t_kill) if t_expire else None,
        "elect_ms": ms(t_elect - t_kill) if t_elect else None,
        "meta_ms": ms(t_meta - t_kill) if t_meta else None,
        "raw_produce_ms": ms(max(raw.values()) - t_kill) if len(raw) == len(led) else None,
        "first_produce_ms": ms(min(t for t in ok_led if t) - t_kill) if any(ok_led) else None,
        "all_produce_ms": ms(max(ok_led) - t_kill) if all(ok_led) else None,
        "isr_meta_ms": ms(t_isr - t_kill) if t_isr else None,
        "follower_produce_ms": ms(max(ok_foll) - t_kill) if all(ok_foll) else None,
        "errors": state["err"],
    }
    # restart the victim and wait until every broker lists it again
    cl.start_broker(v)
    cl.wait_ready(list(range(cl.n)))
    return res


def run_failover(root, session_ms, reps, summary):
    log("failover: 3 brokers, zookeeper.session.timeout.ms=%d, %d repetition(s)" % (session_ms, reps))
    cl = Cluster(root, "failover-%d" % session_ms, 3, session_ms)
    try:
        cl.start()
        runs = []
        for r in range(reps):
            res = failover_once(cl, session_ms, r)
            log("  rep %d: %s" % (r, res))
            for k, val in res.items():
                record("failover.s%d.rep%d.%s" % (session_ms, r, k), val)
            runs.append(res)
        for key in ("expire_ms", "elect_ms", "meta_ms", "raw_produce_ms", "first_produce_ms",
                    "all_produce_ms",
                    "isr_meta_ms", "follower_produce_ms"):
            vals = [x[key] for x in runs if x[key] is not None]
            record("failover.s%d.%s.missing" % (session_ms, key), len(runs) - len(vals))
            if vals:
                record("failover.s%d.%s.min" % (session_ms, key), min(vals))
                record("failover.s%d.%s.median" % (session_ms, key), statistics.median(vals))
                record("failover.s%d.%s.max" % (session_ms, key), max(vals))
        record("failover.s%d.granted_session_ms" % session_ms, runs[0]["granted_session_ms"])
        summary.append(("failover", session_ms))
    finally:
        cl.stop()


# ---- 2. controlled shutdown ------------------------------------------------------------

def run_shutdown(cl, n_parts):
    ctrl = cl.controller()
    v = [b for b in range(cl.n) if b != ctrl][0]
    a, b = [x for x in range(cl.n) if x != v]
    topic = "cs-%d" % n_parts
    log("controlled shutdown: broker %d leads %d partitions (RF 3), controller is %d"
        % (v, n_parts, ctrl))
    assign = [[v, a, b] if p % 2 == 0 else [v, b, a] for p in range(n_parts)]
    t0 = time.time()
    create_topics(cl, [NewTopic(topic, len(assign), replica_assignment=assign)])
    if not wait_topic(cl, topic, n_parts, range(cl.n), want=lambda p, l, r, i: l == v,
                      full_isr=True, timeout=300):
        raise RuntimeError("topic %s: not every partition led by %d with a full ISR" % (topic, v))
    record("shutdown.create_and_full_isr_s", round(time.time() - t0, 2))
    record("shutdown.partitions", n_parts)
    record("shutdown.victim_is_controller", 0)
    t_term = time.time()
    cl.kill(v, signal.SIGTERM)
    t_moved = t_exit = None
    deadline = t_term + 60
    while (t_moved is None or t_exit is None) and time.time() < deadline:
        if t_exit is None and cl.procs[v].poll() is not None:
            t_exit = time.time()
        if t_moved is None:
            try:
                parts = cl.meta(a, [topic])["topics"][topic][1]
                if len(parts) == n_parts and all(x[0] not in (v, -1) for x in parts.values()):
                    t_moved = time.time()
            except (OSError, KeyError):
                pass
        time.sleep(0.005)
    cs_done = log_lines(cl.broker_log(v), t_term, r"controlled shutdown done")
    stopped = log_lines(cl.broker_log(v), t_term, r"stopped status=")
    ctl_req = log_lines(cl.broker_log(ctrl), t_term, r"controlled shutdown broker=%d" % v)
    record("shutdown.moved_ms", ms(t_moved - t_term) if t_moved else None)
    record("shutdown.exit_ms", ms(t_exit - t_term) if t_exit else None)
    record("shutdown.log_cs_done_ms", ms(cs_done[0][0] - t_term) if cs_done else None)
    record("shutdown.log_stopped_ms", ms(stopped[0][0] - t_term) if stopped else None)
    record("shutdown.controller_got_request_ms", ms(ctl_req[0][0] - t_term) if ctl_req else None)
    record("shutdown.exit_status", cl.procs[v].poll())
    log("  moved %s ms, exited %s ms" % (RESULTS["shutdown.moved_ms"], RESULTS["shutdown.exit_ms"]))
    cl.start_broker(v)
    cl.wait_ready(list(range(cl.n)))


# ---- 4. replicated throughput ---------------------------------------------------------

def wait_quiet(cl, limit=90.0):
    """Waits until the brokers together use < 5 % of a core over 0.5 s (the
    followers have caught up with the previous run); returns the seconds
    waited."""
    t0 = time.time()
    while time.time() - t0 < limit:
        c0 = sum(cl.cpu())
        time.sleep(0.5)
        if sum(cl.cpu()) - c0 < 0.025:
            break
    return round(time.time() - t0, 1)


def run_throughput(cl, seconds, count, rounds):
    pb = os.path.join(BENCH_BIN, "produce_bench")
    if not os.access(pb, os.X_OK):
        log("throughput: %s not built; skipped" % pb)
        return
    ctrl = cl.controller()
    single = [b for b in range(cl.n) if b != ctrl][0]
    parts = 4
    create_topics(cl, [NewTopic("tp-rf1", parts, replica_assignment=[[single]] * parts),
                       NewTopic("tp-rf3", num_partitions=parts, replication_factor=3)])
    wait_topic(cl, "tp-rf1", parts, range(cl.n))
    wait_topic(cl, "tp-rf3", parts, range(cl.n), full_isr=True)
    record("throughput.rf1_broker", single)
    configs = [("rf1-acks1", "tp-rf1", "1"), ("rf3-acksall", "tp-rf3", "all"),
               ("rf3-acks1", "tp-rf3", "1")]
    runs = {c[0]: [] for c in configs}
    for rnd in range(rounds):
        for name, topic, acks in configs:
            waited = wait_quiet(cl)
            record("throughput.%s.r%d.quiet_wait_s" % (name, rnd), waited)
            log("throughput %s (round %d): 1 KiB records, %d partitions, %d s" %
                (name, rnd + 1, parts, seconds))
            c0, s0 = cl.cpu(), sys_busy()
            out = subprocess.run([pb, cl.bootstrap(), topic, "1024", str(count), acks, str(parts),
                                  "seconds=%d" % seconds, "linger.ms=5", "batch.size=1048576"],
                                 capture_output=True, text=True, timeout=seconds * 10 + 120)
            c1, s1 = cl.cpu(), sys_busy()
            kv = dict(x.split("=", 1) for x in out.stdout.split() if "=" in x)
            if out.returncode != 0:
                log("  produce_bench exit %d: %s" % (out.returncode, out.stderr.strip()[-300:]))
            mb = float(kv.get("mb_per_s", 0) or 0)
            res = {"mb_per_s": mb, "records_per_s": float(kv.get("records_per_s", 0) or 0),
                   "p50_ms": kv.get("p50_ms"), "p99_ms": kv.get("p99_ms"),
                   "errors": kv.get("errors"), "client_cpu_s": round(
                       float(kv.get("cpu_user_s", 0)) + float(kv.get("cpu_sys_s", 0)), 2),
                   "elapsed_s": kv.get("elapsed_s"),
                   "broker_cpu_s": [round(y - x, 2) for x, y in zip(c0, c1)],
                   "machine_busy_s": round(s1 - s0, 2), "exit": out.returncode}
            res["other_cpu_s"] = round(res["machine_busy_s"] - sum(res["broker_cpu_s"]) -
                                       res["client_cpu_s"], 2)
            for k, val in res.items():
                record("throughput.%s.r%d.%s" % (name, rnd, k), val)
            runs[name].append(res)
            log("  %.1f MB/s, brokers CPU %s s" % (mb, res["broker_cpu_s"]))
    for name in runs:
        mbs = [x["mb_per_s"] for x in runs[name]]
        record("throughput.%s.mb_per_s" % name, round(statistics.median(mbs), 1))
    base = RESULTS["throughput.rf1-acks1.mb_per_s"]
    for name in ("rf3-acksall", "rf3-acks1"):
        record("throughput.%s.ratio" % name,
               round(RESULTS["throughput.%s.mb_per_s" % name] / base, 3) if base else None)
    run_acksall_latency(cl, pb, seconds, statistics.median(x["records_per_s"] for x in runs["rf3-acksall"]))


def run_acksall_latency(cl, pb, seconds, peak):
    """acks=all delivery latency on RF 3 at half of the measured acks=all peak (records of
    1 KiB, one partition, linger.ms=0: each record leaves as soon as it is produced)."""
    rate = int(peak / 2)
    if rate <= 0:
        return
    create_topics(cl, [NewTopic("tp-rf3-lat", num_partitions=1, replication_factor=3)])
    wait_topic(cl, "tp-rf3-lat", 1, range(cl.n), full_isr=True)
    wait_quiet(cl)
    # The throughput rounds leave gigabytes of dirty page cache that the disk writes back
    # at its own pace; while it does, the kernel pauses every writer (up to 200 ms per
    # pause), which would time the disk, not the brokers. Start from a written-back cache,
    # as the single-broker runs do (tests/bench/run syncs before each run).
    os.sync()
    log("latency rf3 acks=all at %d records/s (half of the acks=all peak), linger.ms=0, %d s" %
        (rate, seconds))
    out = subprocess.run([pb, cl.bootstrap(), "tp-rf3-lat", "1024", str(rate * seconds), "all", "1",
                          "rate=%d" % rate, "seconds=%d" % (seconds * 2), "linger.ms=0"],
                         capture_output=True, text=True, timeout=seconds * 10 + 120)
    kv = dict(x.split("=", 1) for x in out.stdout.split() if "=" in x)
    record("latency.rf3-acksall-r50-l0.target_rate", rate)
    for k in ("records_per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "errors"):
        record("latency.rf3-acksall-r50-l0.%s" % k, kv.get(k))
    log("  p50 %s ms, p99 %s ms, p99.9 %s ms" % (kv.get("p50_ms"), kv.get("p99_ms"), kv.get("p999_ms")))
    run_acksall_raw_latency(cl, seconds)


def run_acksall_raw_latency(cl, seconds):
    """The broker's own acks=all latency: raw_produce_bench straight to the leader of
    tp-rf3-lat, one 1 KiB record per request (no client batching or timers), its request
    peak first (5 in flight), then paced at half of it with latency from each request's
    due time."""
    rpb = os.path.join(BENCH_BIN, "raw_produce_bench")
    if not os.access(rpb, os.X_OK):
        return
    md = cl.meta(0, ["tp-rf3-lat"])
    leader = md["topics"].get("tp-rf3-lat", (3, {}))[1].get(0, (-1,))[0]
    if leader < 0 or leader >= cl.n:
        return
    addr = "127.0.0.1:%d" % cl.ports[leader]
    os.sync()

    def raw(*extra):
        out = subprocess.run([rpb, addr, "tp-rf3-lat", "1024", "1", "batch_bytes=1024", "acks=-1"] +
                             list(extra), capture_output=True, text=True, timeout=seconds * 10 + 60)
        return dict(x.split("=", 1) for x in out.stdout.split() if "=" in x)

    peak = float(raw("seconds=%d" % max(2, seconds // 2)).get("requests_per_s", 0) or 0)
    rate = int(peak / 2)
    if rate <= 0:
        return
    log("raw latency rf3 acks=all at %d requests/s (half of the raw peak %d), 1 record each, %d s" %
        (rate, peak, seconds))
    kv = raw("inflight=32", "rate=%d" % rate, "seconds=%d" % seconds)
    record("latency.raw-rf3-acksall-r50.target_rate", rate)
    for k in ("requests_per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "errors"):
        record("latency.raw-rf3-acksall-r50.%s" % k, kv.get(k))
    log("  p50 %s ms, p99 %s ms, p99.9 %s ms" % (kv.get("p50_ms"), kv.get("p99_ms"), kv.get("p999_ms")))


# ---- 3. controller failover --------------------------------------------------------------

def full_state(md, survivors, live_replica_only):
    """True if MD shows a surviving controller and a live leader for every
    partition that has a live replica (RF 1: partitions whose only replica
    died must show no live leader)."""
    if md["controller"] not in survivors:
        return False
    if any(b not in survivors for b in md["brokers"]):
        return False
    for name, (err, parts) in md["topics"].items():
        for p, (leader, reps, isr, perr) in parts.items():
            has_live = any(r in survivors for r in reps)
            if has_live and leader not in survivors:
                return False
            if not has_live and leader in survivors:
                return False
    return True


def run_ctrl_failover(root, n_topics, n_parts, rf, session_ms):
    tag = "ctrl"
    log("controller failover: %d topics x %d partitions, RF %d, session %d ms"
        % (n_topics, n_parts, rf, session_ms))
    record("%s.topics" % tag, n_topics)
    record("%s.partitions" % tag, n_topics * n_parts)
    record("%s.rf" % tag, rf)
    cl = Cluster(root, "ctrl-rf%d" % rf, 3, session_ms)
    try:
        cl.start()
        names = ["cf-%02d" % t for t in range(n_topics)]
        t0 = time.time()
        c0 = cl.cpu()
        try:
            create_topics(cl, [NewTopic(n, num_partitions=n_parts, replication_factor=rf)
                               for n in names], timeout=900)
        except Exception as e:  # noqa: BLE001 - reported, then we fall back
            record("%s.rf%d.create_error" % (tag, rf), str(e)[:200])
            return False
        t_created = time.time()
        ok = all(wait_topic(cl, n, n_parts, range(cl.n), timeout=900) for n in names)
        t_led = time.time()
        record("%s.create_answer_s" % tag, round(t_created - t0, 2))
        record("%s.create_all_led_s" % tag, round(t_led - t0, 2))
        record("%s.create_broker_cpu_s" % tag, [round(y - x, 1) for x, y in zip(c0, cl.cpu())])
        if not ok or not all(cl.alive(i) for i in range(cl.n)):
            record("%s.rf%d.create_error" % (tag, rf),
                   "not every partition led on every broker; alive=%s" %
                   [cl.alive(i) for i in range(cl.n)])
            return False
        fds = []
        for i in range(cl.n):
            try:
                fds.append(len(os.listdir("/proc/%d/fd" % cl.procs[i].pid)))
            except OSError:
                fds.append(None)
        record("%s.broker_open_fds" % tag, fds)
        # let the followers' fetchers settle: ISR full everywhere
        if rf > 1:
            t_isr0 = time.time()
            ok = all(wait_topic(cl, n, n_parts, range(cl.n), full_isr=True, timeout=300)
                     for n in names)
            record("%s.wait_full_isr_s" % tag, round(time.time() - t_isr0, 2))
        time.sleep(2)
        ctrl = cl.controller()
        survivors = [b for b in range(cl.n) if b != ctrl]
        sess, granted = cl.session_of(ctrl)
        record("%s.granted_session_ms" % tag, granted)
        record("%s.victim" % tag, ctrl)
        t_kill = time.time()
        cl.kill(ctrl)
        seen = {}
        polls = 0
        deadline = t_kill + session_ms / 1000.0 + 180
        while len(seen) < len(survivors) and time.time() < deadline:
            for s in survivors:
                if s in seen:
                    continue
                try:
                    md = cl.meta(s, None, timeout=10)
                except OSError:
                    continue
                polls += 1
                if full_state(md, survivors, True):
                    seen[s] = time.time()
            time.sleep(0.02)
        cl.procs[ctrl].wait()
        t_expire = cl.zk_expiry(sess, t_kill)
        became = []
        for s in survivors:
            became += [(t, s) for t, _ in log_lines(cl.broker_log(s), t_kill, r"became controller")]
        became.sort()
        newc = became[0][1] if became else None
        t_became = became[0][0] if became else None
        t_last_elect = None
        t_last_state = None
        if newc is not None:
            el = log_lines(cl.broker_log(newc), t_kill, r"partition leader topic=")
            t_last_elect = el[-1][0] if el else None
            record("%s.leaders_elected" % tag, len(el))
        applied = 0
        for s in survivors:
            st = log_lines(cl.broker_log(s), t_kill, r"partition state topic=.*role=leader")
            applied += len(st)
            if st and (t_last_state is None or st[-1][0] > t_last_state):
                t_last_state = st[-1][0]
        record("%s.leaderships_applied" % tag, applied)
        t_full = max(seen.values()) if len(seen) == len(survivors) else None
        rel = t_expire if t_expire else None
        record("%s.new_controller" % tag, newc)
        record("%s.metadata_polls" % tag, polls)
        record("%s.kill_to_expire_ms" % tag, ms(t_expire - t_kill) if t_expire else None)
        record("%s.expire_to_became_ms" % tag, ms(t_became - rel) if rel and t_became else None)
        record("%s.became_to_last_elect_ms" % tag,
               ms(t_last_elect - t_became) if t_became and t_last_elect else None)
        record("%s.became_to_last_leader_applied_ms" % tag,
               ms(t_last_state - t_became) if t_became and t_last_state else None)
        record("%s.expire_to_full_metadata_ms" % tag, ms(t_full - rel) if rel and t_full else None)
        record("%s.kill_to_full_metadata_ms" % tag, ms(t_full - t_kill) if t_full else None)
        log("  expire->full metadata %s ms" % RESULTS.get("%s.expire_to_full_metadata_ms" % tag))
        return True
    finally:
        cl.stop()


# ---- report --------------------------------------------------------------------------------

def R(k):
    return RESULTS.get(k)


def verdict(ok):
    return "-" if ok is None else ("PASS" if ok else "MISS")


def report(args, sessions):
    lines = []
    p = lines.append
    p("")
    p("Cluster benchmarks (3 brokers + ZooKeeper on this machine; times in ms from the signal)")
    p("Machine: %s x %s, load average at start %s; loopback TCP (iperf3, 1 MiB writes) %s GB/s"
      % (R("machine.nproc"), R("machine.cpu"), R("machine.loadavg_start"),
         R("limit.loopback_gb_per_s")))
    if any(R("failover.s%d.meta_ms.median" % s) is not None for s in sessions):
        p("")
        p("1. Leader SIGKILL -> acks=all produce on its partitions (min/median/max over reps)")
        p("  %-8s %-6s %-17s %-17s %-17s %-17s %-17s %-17s" % ("session", "grant", "ZK expiry",
          "ctrl elected", "metadata (srv)", "raw acks=all", "rdkafka first", "rdkafka all"))
        for s in sessions:
            cells = []
            for k in ("expire_ms", "elect_ms", "meta_ms", "raw_produce_ms", "first_produce_ms",
                      "all_produce_ms"):
                b = "failover.s%d.%s" % (s, k)
                cells.append("%s/%s/%s" % (fmt_ms(R(b + ".min")), fmt_ms(R(b + ".median")),
                                           fmt_ms(R(b + ".max"))))
            p("  %-8d %-6s %-17s %-17s %-17s %-17s %-17s %-17s" %
              (s, R("failover.s%d.granted_session_ms" % s), *cells))
        p("  partitions where the victim was a follower: dead replica out of the ISR (srv) / "
          "acks=all produce succeeds")
        for s in sessions:
            p("  %-8d %s / %s" % (s, "/".join(fmt_ms(R("failover.s%d.isr_meta_ms.%s" % (s, x)))
                                            for x in ("min", "median", "max")),
                                  "/".join(fmt_ms(R("failover.s%d.follower_produce_ms.%s" % (s, x)))
                                           for x in ("min", "median", "max"))))
    if R("shutdown.moved_ms") is not None or R("shutdown.exit_ms") is not None:
        p("")
        p("2. Controlled shutdown of a broker leading %s partitions (RF 3): leaderships moved "
          "%s ms, process exited %s ms (log: done %s ms, controller got request %s ms)"
          % (R("shutdown.partitions"), fmt_ms(R("shutdown.moved_ms")), fmt_ms(R("shutdown.exit_ms")),
             fmt_ms(R("shutdown.log_cs_done_ms")), fmt_ms(R("shutdown.controller_got_request_ms"))))
    if R("ctrl.partitions") is not None:
        p("")
        p("3. Controller SIGKILL with %s partitions (%s topics, RF %s): creation answered %s s, "
          "all led %s s" % (R("ctrl.partitions"), R("ctrl.topics"), R("ctrl.rf"),
                            R("ctrl.create_answer_s"), R("ctrl.create_all_led_s")))
        p("  kill->ZK expiry %s, expiry->became controller %s, became->last leader elected %s, "
          "became->last leadership applied %s, expiry->full metadata on every survivor %s"
          % tuple(fmt_ms(R("ctrl." + k)) for k in ("kill_to_expire_ms", "expire_to_became_ms",
                                                   "became_to_last_elect_ms",
                                                   "became_to_last_leader_applied_ms",
                                                   "expire_to_full_metadata_ms")))
    if R("throughput.rf1-acks1.mb_per_s") is not None:
        p("")
        p("4. Produce throughput, librdkafka, 1 KiB records, 4 partitions, linger.ms=5, "
          "batch.size=1 MiB (median of rounds)")
        p("  %-12s %8s %7s  %s" % ("config", "MB/s", "ratio",
                                     "per round: MB/s, broker CPU s (ids 0,1,2), client CPU s, "
                                     "other CPU s"))
        for name in ("rf1-acks1", "rf3-acksall", "rf3-acks1"):
            rounds = []
            r = 0
            while R("throughput.%s.r%d.mb_per_s" % (name, r)) is not None:
                b = "throughput.%s.r%d." % (name, r)
                rounds.append("%.1f %s %s %s" % (R(b + "mb_per_s"), R(b + "broker_cpu_s"),
                                                 R(b + "client_cpu_s"), R(b + "other_cpu_s")))
                r += 1
            p("  %-12s %8.1f %7s  %s" %
              (name, R("throughput.%s.mb_per_s" % name),
               R("throughput.%s.ratio" % name) if name != "rf1-acks1" else "1",
               " | ".join(rounds)))
    if R("latency.rf3-acksall-r50-l0.p99_ms") is not None:
        p("")
        p("5. acks=all latency, RF 3, 1 KiB records, 1 partition, linger.ms=0, at half of the "
          "acks=all peak (%s records/s offered, %s achieved)" %
          (R("latency.rf3-acksall-r50-l0.target_rate"), R("latency.rf3-acksall-r50-l0.records_per_s")))
        p("  p50 %s ms  p99 %s ms  p99.9 %s ms  max %s ms (target: p99 <= 3 ms)" %
          tuple(R("latency.rf3-acksall-r50-l0.%s" % k) for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms")))
    if R("latency.raw-rf3-acksall-r50.p99_ms") is not None:
        p("  raw client, 1 record per request, %s requests/s (half of its peak): p50 %s ms  p99 %s ms"
          "  p99.9 %s ms  max %s ms" %
          ((R("latency.raw-rf3-acksall-r50.target_rate"),) +
           tuple(R("latency.raw-rf3-acksall-r50.%s" % k) for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms"))))
    coord_bench.report(R, p, fmt_ms)
    p("")
    p("Targets")

    def tgt(name, text, ok, key):
        record("target.cluster.%s" % key, None if ok is None else ("pass" if ok else "miss"))
        p("  %-58s %-24s %s" % (name, text, verdict(ok)))

    for s in sessions:
        if R("failover.s%d.granted_session_ms" % s) is None:
            continue  # not run (--only)
        v = R("failover.s%d.all_produce_ms.max" % s)
        tgt("leader failover <= session + 500 ms (%d ms, max, librdkafka)" % s,
            "%s ms" % fmt_ms(v), None if v is None else v <= s + 500, "failover_%d" % s)
        v = R("failover.s%d.raw_produce_ms.max" % s)
        tgt("  same, raw acks=all produce (server side)", "%s ms" % fmt_ms(v),
            None if v is None else v <= s + 500, "failover_raw_%d" % s)
    v = R("shutdown.moved_ms")
    e = R("shutdown.exit_ms")
    if v is not None or e is not None:
        tgt("controlled shutdown, %s partitions, moved and exited <= 2 s" % R("shutdown.partitions"),
            "%s / %s ms" % (fmt_ms(v), fmt_ms(e)),
            None if v is None or e is None else max(v, e) <= 2000, "shutdown")
    v = R("ctrl.expire_to_full_metadata_ms")
    if R("ctrl.partitions") is not None:
        tgt("controller failover, %s partitions: <= 5 s after expiry" % R("ctrl.partitions"),
            "%s ms" % fmt_ms(v), None if v is None else v <= 5000, "ctrl")
    coord_bench.targets(R, tgt)
    print("\n".join(lines))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="failover,shutdown,throughput,ctrl,coordfail")
    ap.add_argument("--out", default=os.environ.get("BENCH_OUT",
                                                     os.path.join(BUILD, "bench-results")))
    ap.add_argument("--stamp", default=time.strftime("%Y%m%d-%H%M%S"))
    ap.add_argument("--keep", action="store_true", default=bool(os.environ.get("GREGOR_KEEP_TMP")))
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--ctrl-topics", type=int, default=None)
    ap.add_argument("--ctrl-rf", type=int, default=3)
    ap.add_argument("--ctrl-topics-parts", type=int, default=None,
                    help="partitions per topic in the controller failover (default 1000)")
    ap.add_argument("--override", action="append", default=[],
                    help="extra broker setting k=v for every cluster (recorded)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not os.access(BROKER_BIN, os.X_OK):
        sys.exit("cluster-bench: %s not found; build first" % BROKER_BIN)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    record("machine.nofile_limit", hard)
    ctrl_topics = args.ctrl_topics or (1 if args.quick else 10)
    ctrl_rf = args.ctrl_rf
    ctrl_parts = args.ctrl_topics_parts or (300 if args.quick else 1000)
    OVERRIDES.extend(args.override)
    record("run.broker_overrides", " ".join(args.override))
    # A broker keeps 3 files open per partition replica (segment, offset and
    # time index): RF 3 on 3 brokers puts every partition on every broker.
    need = ctrl_topics * ctrl_parts * min(ctrl_rf, 3) // 3 * 3 + 4096
    if "ctrl" in only and need > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            record("machine.nofile_limit_raised_to", need)
            log("raised RLIMIT_NOFILE from %d to %d for the brokers (RF %d, %d partitions)"
                % (hard, need, ctrl_rf, ctrl_topics * ctrl_parts))
        except (ValueError, OSError) as e:
            record("ctrl.rf%d.skipped" % ctrl_rf,
                   "RLIMIT_NOFILE %d < %d open files needed and cannot be raised (%s)"
                   % (hard, need, e))
            log("RF %d needs %d open files per broker, limit %d: using RF 1" % (ctrl_rf, need, hard))
            ctrl_rf = 1
    record("machine.nproc", os.cpu_count())
    with open("/proc/cpuinfo") as f:
        cpu = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
    record("machine.cpu", cpu[0] if cpu else "?")
    record("machine.loadavg_start", os.getloadavg()[0])
    record("run.quick", int(args.quick))
    record("run.stamp", args.stamp)
    quick = args.quick
    reps = args.reps or (1 if quick else 5)
    sessions = [2000] if quick else [2000, 18000]
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="gregor-cluster-bench.", dir=os.environ.get("BENCH_TMP", "/tmp"))
    t_start = time.time()
    cpu0 = sys_busy()
    try:
        limit_loopback(1 if quick else 3)
        if only & {"shutdown", "throughput"}:
            cl = Cluster(tmp, "main", 3, 2000)
            try:
                cl.start()
                if "shutdown" in only:
                    run_shutdown(cl, 200 if quick else 1000)
                if "throughput" in only:
                    run_throughput(cl, 2 if quick else 10, 300000 if quick else 3000000,
                                   1 if quick else 2)
            finally:
                cl.stop()
        if "failover" in only:
            for s in sessions:
                run_failover(tmp, s, reps, [])
        if "ctrl" in only:
            if not run_ctrl_failover(tmp, ctrl_topics, ctrl_parts, ctrl_rf, 2000) and ctrl_rf > 1:
                log("controller failover with RF %d failed (%s); falling back to RF 1"
                    % (ctrl_rf, R("ctrl.rf%d.create_error" % ctrl_rf)))
                run_ctrl_failover(tmp, ctrl_topics, ctrl_parts, 1, 2000)
        if "coordfail" in only:
            try:
                coord_bench.run(sys.modules[__name__], tmp, quick)
            except Exception as e:  # the other stages' results are still written
                log("coordinator failover failed: %r" % e)
                record("coordfail.error", repr(e))
    finally:
        record("run.elapsed_s", round(time.time() - t_start, 1))
        record("run.machine_busy_s", round(sys_busy() - cpu0, 1))
        record("machine.loadavg_end", os.getloadavg()[0])
        text = report(args, sessions)
        base = os.path.join(args.out, "cluster-%s" % args.stamp)
        with open(base + ".txt", "w") as f:
            for k in sorted(RESULTS):
                f.write("%s=%s\n" % (k, json.dumps(RESULTS[k]) if not isinstance(RESULTS[k], str)
                                     else RESULTS[k]))
        with open(base + ".json", "w") as f:
            json.dump(RESULTS, f, indent=1, sort_keys=True)
        with open(base + "-table.txt", "w") as f:
            f.write(text + "\n")
        shutil.copy(base + ".txt", os.path.join(args.out, "cluster-latest.txt"))
        shutil.copy(base + ".json", os.path.join(args.out, "cluster-latest.json"))
        print("\nresults: %s.txt (and .json, -table.txt, cluster-latest.{txt,json})" % base)
        if args.keep:
            print("cluster-bench: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
