#!/usr/bin/python3
"""tests/bench/tls_bench.py — what security costs (docs/PERFORMANCE.md §32).

Starts ZooKeeper and three single-broker clusters on it (each broker id 0 in
its own ZooKeeper chroot, so they share nothing but the ZooKeeper process):

  main   authorizer off; listeners PLAINTEXT, SSL, SASL_SSL and SASL_PLAINTEXT
         (SCRAM-SHA-256, user `bench`), certificates from deploy/make-certs.sh
  super  authorizer on, 0 ACLs, the client (User:ANONYMOUS) a super user
  acl10k authorizer on, 10,000 ACLs for other principals (5,000 literal and
         5,000 prefixed topic ACLs, made with CreateAcls in requests of 500 over
         4 connections by admin's certificate on an mTLS listener, a super
         user, and counted back with DescribeAcls) and one prefixed ACL, ALLOW
         User:ANONYMOUS ALL on topics `bench-`, that the client's requests match

and measures, in alternating rounds (every configuration once per round):

  1. produce MB/s of 1 KiB records (produce_bench: librdkafka, acks=1,
     linger.ms=5, batch.size=1 MiB, 1 partition) over PLAINTEXT and over SSL
     on `main`, then consume MB/s of what was produced (consume_bench), with
     the broker's CPU seconds per MB of each run (broker CPU everywhere: the
     run time of its threads, /proc/<pid>/task/*/schedstat);
  2. new connections per second on `main`, 8 in flight: full TLS 1.3
     handshakes (no session resumption) each followed by one ApiVersions
     request, then closed; SCRAM-SHA-256 logins (SaslHandshake v1 +
     SaslAuthenticate v1, the client's salted password computed once) on
     SASL_PLAINTEXT and on SASL_SSL (TLS 1.3 handshake + login); and the
     broker's CPU milliseconds per connection;
  3. the broker's CPU per request on `main` (authorizer off), `super` and
     `acl10k`: raw_produce_bench (16 KiB requests, 5 in flight) and
     raw_fetch_bench (64 KiB responses); then acl10k, started under `perf
     record` with sampling off, is sampled during one produce and one fetch
     run: the share of its samples inside authz_check_slow() is the ACL
     check's cost as a share of request CPU (the CPU-per-request difference,
     (acl10k - off) / acl10k, is printed too but is noise on a busy machine);
  4. the machine's own limits in the same run: `openssl speed -evp
     aes-128-gcm` on one core (16 KiB blocks), an RSA 2048 signature (what
     the broker does once per full handshake with make-certs' key), and
     loopback TCP (iperf3, 128 KiB writes).

  tls_bench.py [--seconds S] [--rounds N] [--quick] [--acls N] [--inflight N]
               [--throughput] [--perf FILE]

--throughput measures only step 1 (one broker, no ACLs: seconds per round);
--perf FILE records the `main` broker with `perf record -g` during the SSL
produce and consume runs (a profile of the TLS path; perf's own cost slows
those runs, so take the figures from a run without it).

It also says whether this kernel can do kernel TLS (setsockopt TCP_ULP "tls").

Prints a markdown table (the rows of docs/PERFORMANCE.md §32) and the same
figures as key=value lines. Creating the 10,000 ACLs takes under a minute of the run (CreateAcls
stores about 200 to 600 a second on a loaded two-core machine: tests/bench/acl_bench.py,
docs/PERFORMANCE.md §32); --acls 1000 --quick takes about a minute.
Environment: GREGOR_SOURCE_DIR, GREGOR_BUILD_DIR (default <repo>, <repo>/build),
BENCH_BIN_DIR (default $GREGOR_BUILD_DIR/bench).
"""
import argparse
import atexit
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("GREGOR_SOURCE_DIR", REPO)
os.environ.setdefault("GREGOR_BUILD_DIR", os.path.join(REPO, "build"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "protocol"))
import cluster  # noqa: E402

BUILD = os.environ["GREGOR_BUILD_DIR"]
BENCH = os.environ.get("BENCH_BIN_DIR", os.path.join(BUILD, "bench"))
GREGOR = os.path.join(BUILD, "bin", "gregor")
HZ = os.sysconf("SC_CLK_TCK")
USER, PASSWORD = "bench", "bench-secret"
AUTHORIZER = "authorizer.class.name=gregor.security.authorizer.AclAuthorizer"

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=3.0, help="length of each timed phase")
ap.add_argument("--rounds", type=int, default=2, help="alternating rounds")
ap.add_argument("--quick", action="store_true", help="1 round of 1 s phases (a smoke run)")
ap.add_argument("--acls", type=int, default=10000, help="ACLs besides the client's own")
ap.add_argument("--inflight", type=int, default=8, help="connections in flight (handshakes)")
ap.add_argument("--throughput", action="store_true",
                help="only produce/consume over PLAINTEXT and SSL (one broker)")
ap.add_argument("--perf", metavar="FILE",
                help="perf record -g the broker into FILE during the SSL throughput runs")
args = ap.parse_args()
if args.quick:
    args.seconds, args.rounds = 1.0, 1
S = args.seconds
R = {}  # results: key -> list of values (one per round)


def rec(key, value):
    R.setdefault(key, []).append(value)


def med(key):
    v = R.get(key)
    return statistics.median(v) if v else float("nan")


def log(msg):
    print("[tls_bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def cpu_s(pid):
    """CPU seconds used so far by process pid: the sum of its threads' run time in
    /proc/<pid>/task/*/schedstat (nanoseconds; the broker's threads live as long as it does),
    or utime + stime from /proc/<pid>/stat (clock ticks) where schedstat is missing."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        if total:
            return total / 1e9
    except (FileNotFoundError, ProcessLookupError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def kv(out):
    """The last key=value line of a bench program's output as a dict."""
    line = [ln for ln in out.splitlines() if "=" in ln][-1]
    return {k: v for k, _, v in (p.partition("=") for p in line.split())}


# ---- the clusters ------------------------------------------------------------------------

TMP = tempfile.mkdtemp(prefix="gregor-tlsbench-")
CERTS = os.path.join(TMP, "certs")
subprocess.run(["sh", os.path.join(REPO, "deploy", "make-certs.sh"), CERTS], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
BROKERS = {}  # mode -> broker, as they start ("off" is the main one)


def stop_all():
    for b in BROKERS.values():
        b.stop()
    if ZK is not None:
        ZK.stop()
    if not os.environ.get("GREGOR_KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)


ZK = None
atexit.register(stop_all)
ZK = cluster.ZooKeeper(TMP)
PORTS = {n: cluster.free_port() for n in ("ssl", "sasl_ssl", "sasl_plaintext")}
LST = ("PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,"
       "SASL_PLAINTEXT://127.0.0.1:%d" % (PORTS["ssl"], PORTS["sasl_ssl"], PORTS["sasl_plaintext"]))
COMMON = ["offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
          "offsets.topic.num.partitions=1", "transaction.state.log.num.partitions=1",
          "log.segment.bytes=1073741824", "num.partitions=1"]


PERF_DATA = os.path.join(TMP, "perf-acl.data")
PERF_CTL = (os.path.join(TMP, "perf-ctl"), os.path.join(TMP, "perf-ack"))


class PerfBroker(cluster.Broker):
    """A broker started under `perf record` with sampling off (-D -1) until acl_perf() turns
    it on through perf's control FIFO; pid is the broker's, proc perf's."""

    def args(self):
        for f in PERF_CTL:
            if not os.path.exists(f):
                os.mkfifo(f)
        return ["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "--call-graph",
                "dwarf,8192", "-D", "-1", "--control=fifo:%s,%s" % PERF_CTL, "-o", PERF_DATA,
                "--"] + super().args()

    @property
    def pid(self):
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return int(f.read().split()[0])


class PlainBroker(cluster.Broker):
    @property
    def pid(self):
        return self.proc.pid


def perf_works():
    """Whether perf can sample a program it starts (cpu-clock, a VM has no PMU)."""
    if not shutil.which("perf"):
        return False
    data = os.path.join(TMP, "perf-probe.data")
    r = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o", data, "--", "sh", "-c",
                        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"],
                       capture_output=True, timeout=60)
    return r.returncode == 0 and os.path.exists(data)


PERF = perf_works()
PERF_SAMPLES = ["no"]


def broker(name, extra, perf=False):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    cls = PerfBroker if perf else PlainBroker
    return cls(d, ZK, 0, COMMON + ["zookeeper.connect=%s/%s" % (ZK.connect, name)] + extra)


MAIN = BROKERS["off"] = broker("main", [
    "listeners=" + LST, "advertised.listeners=" + LST,
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,"
    "SASL_PLAINTEXT:SASL_PLAINTEXT",
    "inter.broker.listener.name=PLAINTEXT",
    "ssl.keystore.location=" + os.path.join(CERTS, "broker.pem"),
    "sasl.enabled.mechanisms=SCRAM-SHA-256"])
if not args.throughput:
    SUPER = BROKERS["super"] = broker("super", [AUTHORIZER, "super.users=User:ANONYMOUS"])
# acl10k: the bench client on PLAINTEXT (User:ANONYMOUS); the ACLs are made on an mTLS
# listener by admin's certificate, a super user, which is also the inter-broker listener
ADMIN_PORT = cluster.free_port()
ADMIN_LST = "PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:%d" % ADMIN_PORT
ACL10K = None if args.throughput else broker("acl10k", [
    AUTHORIZER, "allow.everyone.if.no.acl.found=false",
    "super.users=User:CN=admin,OU=clients,O=Gregor;User:CN=broker,O=Gregor",
    "listeners=" + ADMIN_LST, "advertised.listeners=" + ADMIN_LST,
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL",
    "inter.broker.listener.name=SSL", "ssl.client.auth=required",
    "ssl.keystore.location=" + os.path.join(CERTS, "broker.pem"),
    "ssl.truststore.location=" + os.path.join(CERTS, "ca.pem")], perf=PERF)
if ACL10K:
    BROKERS["acl10k"] = ACL10K


def boot(b):
    return "127.0.0.1:%d" % b.port


SSL_PROPS = ["security.protocol=ssl", "ssl.ca.location=" + os.path.join(CERTS, "ca.pem")]
PROTOS = {"PLAINTEXT": ("127.0.0.1:%d" % MAIN.port, []),
          "SSL": ("127.0.0.1:%d" % PORTS["ssl"], SSL_PROPS)}

# ---- Kafka wire: just enough for ApiVersions, SASL, CreateTopics and CreateAcls ------------


def req(key, ver, corr, body):
    hdr = struct.pack(">hhih", key, ver, corr, 5) + b"bench"
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def call(s, key, ver, body, corr=1):
    s.sendall(req(key, ver, corr, body))
    n = struct.unpack(">i", recv_exact(s, 4))[0]
    resp = recv_exact(s, n)
    if struct.unpack(">i", resp[:4])[0] != corr:
        raise ValueError("correlation id mismatch")
    return resp[4:]


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def kbytes(b):
    return struct.pack(">i", len(b)) + b


def api_versions(s):
    r = call(s, 18, 0, b"")
    if struct.unpack(">h", r[:2])[0] != 0:
        raise ValueError("ApiVersions error %d" % struct.unpack(">h", r[:2])[0])


SALTED = {}  # salt + iterations -> salted password (a client may keep it)


def scram_login(s):
    r = call(s, 17, 1, kstr("SCRAM-SHA-256"))
    if struct.unpack(">h", r[:2])[0] != 0:
        raise ValueError("SaslHandshake error %d" % struct.unpack(">h", r[:2])[0])
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (USER, cnonce)
    server_first = sasl_auth(s, ("n,," + first_bare).encode(), 2).decode()
    f = dict(p.split("=", 1) for p in server_first.split(","))
    if not f["r"].startswith(cnonce):
        raise ValueError("server nonce does not extend ours")
    k = (f["s"], f["i"])
    if k not in SALTED:
        SALTED[k] = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(f["s"]),
                                        int(f["i"]))
    salted = SALTED[k]
    without_proof = "c=biws,r=" + f["r"]
    auth_msg = ",".join((first_bare, server_first, without_proof)).encode()
    ckey = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    sig = hmac.new(hashlib.sha256(ckey).digest(), auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    final = sasl_auth(s, (without_proof + ",p=" + base64.b64encode(proof).decode()).encode(), 3)
    if not final.startswith(b"v="):
        raise ValueError("SCRAM server-final: %r" % final)


def sasl_auth(s, data, corr):
    r = call(s, 36, 1, kbytes(data), corr)
    err = struct.unpack(">h", r[:2])[0]
    if err:
        raise ValueError("SaslAuthenticate error %d" % err)
    n = struct.unpack(">h", r[2:4])[0]  # error_message, nullable
    p = 4 + max(n, 0)
    blen = struct.unpack(">i", r[p:p + 4])[0]
    return r[p + 4:p + 4 + blen]


def create_acls(s, acls, corr):
    """CreateAcls v1: acls as (resource type, name, pattern type, principal, operation)."""
    body = struct.pack(">i", len(acls))
    for rt, name, pt, principal, op in acls:
        body += struct.pack(">b", rt) + kstr(name) + struct.pack(">b", pt) + kstr(principal) + \
            kstr("*") + struct.pack(">bb", op, 3)  # permission ALLOW
    r = call(s, 30, 1, body, corr)
    n = struct.unpack(">i", r[4:8])[0]
    p, bad = 8, 0
    for _ in range(n):
        err = struct.unpack(">h", r[p:p + 2])[0]
        ln = struct.unpack(">h", r[p + 2:p + 4])[0]
        p += 4 + max(ln, 0)
        bad += err != 0
    if n != len(acls) or bad:
        raise ValueError("CreateAcls: %d of %d refused" % (bad, len(acls)))


def describe_acls_count(s):
    """DescribeAcls v1 matching everything: the number of ACLs the broker holds."""
    r = call(s, 29, 1, struct.pack(">b", 1) + struct.pack(">h", -1) + struct.pack(">b", 1) +
             struct.pack(">hhbb", -1, -1, 1, 1))
    if struct.unpack(">h", r[4:6])[0]:
        raise ValueError("DescribeAcls error %d" % struct.unpack(">h", r[4:6])[0])
    ln = struct.unpack(">h", r[6:8])[0]
    p = 8 + max(ln, 0)
    total = 0
    resources = struct.unpack(">i", r[p:p + 4])[0]
    p += 4
    for _ in range(resources):
        p += 1  # resource type
        p += 2 + struct.unpack(">h", r[p:p + 2])[0] + 1  # name, pattern type
        n = struct.unpack(">i", r[p:p + 4])[0]
        p += 4
        total += n
        for _ in range(n):
            p += 2 + struct.unpack(">h", r[p:p + 2])[0]  # principal
            p += 2 + struct.unpack(">h", r[p:p + 2])[0] + 2  # host, operation, permission
    return total


# ---- 1. throughput over PLAINTEXT and SSL -------------------------------------------------

def run_prog(argv, pid):
    c0 = cpu_s(pid)
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout
    c1 = cpu_s(pid)
    return kv(out), c1 - c0


def throughput(rnd):
    for proto in ("PLAINTEXT", "SSL"):
        bootstrap, props = PROTOS[proto]
        topic = "tp-%s-%d" % (proto.lower(), rnd)
        perf = None
        if args.perf and proto == "SSL":
            perf = subprocess.Popen(["perf", "record", "-q", "-g", "-F", "999", "-p",
                                     str(MAIN.pid), "-o", "%s.%d" % (args.perf, rnd)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        res, bcpu = run_prog([os.path.join(BENCH, "produce_bench"), bootstrap, topic, "1024",
                              "3000000", "1", "1", "seconds=%g" % S, "linger.ms=5",
                              "batch.size=1048576"] + props, MAIN.pid)
        mb = float(res["mb_per_s"]) * float(res["elapsed_s"])
        rec("produce.%s.mb_per_s" % proto, float(res["mb_per_s"]))
        rec("produce.%s.broker_s_per_mb" % proto, bcpu / mb)
        res, bcpu = run_prog([os.path.join(BENCH, "consume_bench"), bootstrap, topic] + props,
                             MAIN.pid)
        mb = float(res["mb_per_s"]) * float(res["elapsed_s"])
        rec("consume.%s.mb_per_s" % proto, float(res["mb_per_s"]))
        rec("consume.%s.broker_s_per_mb" % proto, bcpu / mb)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=120)
        log("round %d %s: produce %.1f MB/s, consume %.1f MB/s" % (
            rnd, proto, R["produce.%s.mb_per_s" % proto][-1], R["consume.%s.mb_per_s" % proto][-1]))


# ---- 2. connections per second ------------------------------------------------------------

CLIENT_CTX = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
CLIENT_CTX.minimum_version = ssl.TLSVersion.TLSv1_3


def one_conn(kind):
    port = {"tls13": PORTS["ssl"], "scram_plain": PORTS["sasl_plaintext"],
            "scram_ssl": PORTS["sasl_ssl"]}[kind]
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = CLIENT_CTX.wrap_socket(raw, server_hostname="localhost") if kind != "scram_plain" else raw
    try:
        if kind == "tls13":
            if s.version() != "TLSv1.3" or s.session_reused:
                raise ValueError("not a full TLS 1.3 handshake: %s" % s.version())
            api_versions(s)
        else:
            scram_login(s)
    finally:
        s.close()


def conn_rate(kind, rnd):
    stop = time.monotonic() + S
    count = [0]
    lock = threading.Lock()

    def worker():
        n = 0
        while time.monotonic() < stop:
            one_conn(kind)
            n += 1
        with lock:
            count[0] += n

    c0 = cpu_s(MAIN.pid)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.inflight) as ex:
        for f in [ex.submit(worker) for _ in range(args.inflight)]:
            f.result()
    el = time.monotonic() - t0
    bcpu = cpu_s(MAIN.pid) - c0
    rec("conn.%s.per_s" % kind, count[0] / el)
    rec("conn.%s.broker_ms" % kind, 1000 * bcpu / max(count[0], 1))
    log("round %d %s: %.0f connections/s, broker %.2f ms CPU each" % (
        rnd, kind, count[0] / el, 1000 * bcpu / max(count[0], 1)))


# ---- 3. ACL check cost --------------------------------------------------------------------

def make_topic(b, topic):
    """CreateTopics v0: topic with 1 partition, replication factor 1."""
    with socket.create_connection(("127.0.0.1", b.port), timeout=30) as s:
        body = struct.pack(">i", 1) + kstr(topic) + struct.pack(">ihii", 1, 1, 0, 0) + \
            struct.pack(">i", 30000)
        r = call(s, 19, 0, body)
        err = struct.unpack(">h", r[6 + len(topic):8 + len(topic)])[0]
        if err not in (0, 36):  # TOPIC_ALREADY_EXISTS
            raise ValueError("CreateTopics %s: error %d" % (topic, err))
    time.sleep(0.5)


def admin_conn():
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
    ctx.load_cert_chain(os.path.join(CERTS, "admin.pem"))
    raw = socket.create_connection(("127.0.0.1", ADMIN_PORT), timeout=120)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def load_acls():
    """ALLOW User:ANONYMOUS ALL on topics prefixed bench- (the one the client matches), then
    --acls more for other principals, half literal (WRITE on topic-<i>), half prefixed (READ
    on team-<i>-), in CreateAcls requests of 500 over 4 connections."""
    t0 = time.monotonic()
    with admin_conn() as s:
        create_acls(s, [(2, "bench-", 4, "User:ANONYMOUS", 2)], 1)
    batches = [[(2, "team-%d-" % i, 4, "User:user-%d" % i, 3) if i % 2 else
                (2, "topic-%d" % i, 3, "User:user-%d" % i, 4)
                for i in range(first, min(first + 500, args.acls))]
               for first in range(0, args.acls, 500)]

    def conn_worker(k):
        with admin_conn() as s:
            for n, b in enumerate(batches[k::4]):
                create_acls(s, b, n + 2)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        for f in [ex.submit(conn_worker, k) for k in range(4)]:
            f.result()
    rec("acl.create_s", time.monotonic() - t0)
    time.sleep(1.5)  # the change notifications are applied (within a second)
    with admin_conn() as s:
        n = describe_acls_count(s)
    if n != args.acls + 1:
        raise ValueError("DescribeAcls lists %d ACLs, not %d" % (n, args.acls + 1))


def acl_round(rnd):
    modes = list(BROKERS)
    for mode in modes[rnd % 3:] + modes[:rnd % 3]:  # each round starts with the next one
        b = BROKERS[mode]
        res, bcpu = run_prog([os.path.join(BENCH, "raw_produce_bench"), boot(b), "bench-acl",
                              "1024", "1", "seconds=%g" % S, "batch_bytes=16384"], b.pid)
        if int(res["errors"]):
            raise ValueError("raw_produce_bench on %s: %s errors" % (mode, res["errors"]))
        rec("acl.%s.produce_us_per_req" % mode, 1e6 * bcpu / int(res["requests"]))
        rec("acl.%s.produce_req_per_s" % mode, float(res["requests_per_s"]))
        res, bcpu = run_prog([os.path.join(BENCH, "raw_fetch_bench"), boot(b), "bench-acl", "1",
                              "1024", "max_bytes=65536", "partition_max_bytes=65536",
                              "max_requests=%d" % int(2000 * S)],
                             b.pid)
        rec("acl.%s.fetch_us_per_req" % mode, 1e6 * bcpu / int(res["requests"]))
        rec("acl.%s.fetch_req_per_s" % mode, int(res["requests"]) / float(res["elapsed_s"]))
        log("round %d acl %s: produce %.1f us/request, fetch %.1f us/request" % (
            rnd, mode, R["acl.%s.produce_us_per_req" % mode][-1],
            R["acl.%s.fetch_us_per_req" % mode][-1]))


def acl_perf():
    """The share of the ACL broker's CPU samples inside authorizer_check (and what it calls)
    during one produce and one fetch run, sampled by the perf that started it (cpu-clock,
    DWARF call graphs): the check's cost read directly, where the difference of CPU per
    request drowns in noise on a busy machine. Stops that broker (perf writes its file then).
    Nothing when perf cannot sample here."""
    if not PERF:
        return
    b = ACL10K
    with open(PERF_CTL[0], "w") as ctl, open(PERF_CTL[1]) as ack:
        ctl.write("enable\n")
        ctl.flush()
        ack.read(4)
        subprocess.run([os.path.join(BENCH, "raw_produce_bench"), boot(b), "bench-acl", "1024", "1",
                        "seconds=%g" % S, "batch_bytes=16384"], check=True, capture_output=True,
                       timeout=120)
        subprocess.run([os.path.join(BENCH, "raw_fetch_bench"), boot(b), "bench-acl", "1", "1024",
                        "max_bytes=65536", "partition_max_bytes=65536",
                        "max_requests=%d" % int(2000 * S)], check=True, capture_output=True,
                       timeout=120)
        ctl.write("disable\n")
        ctl.flush()
        ack.read(4)
    b.stop()
    rep = subprocess.run(["perf", "report", "-i", PERF_DATA, "--children", "--sort", "symbol",
                          "--stdio", "-g", "none", "--percent-limit", "0"],
                         capture_output=True, text=True, timeout=300).stdout
    samples = re.search(r"# Samples: (\S+)", rep)  # perf rounds: "919", "6K"
    PERF_SAMPLES[0] = samples.group(1) if samples else "no"
    share = 0.0
    for ln in rep.splitlines():  # "  0.22%  0.00%  [.] authz_check_slow  -  -"
        m = re.match(r"\s*([0-9.]+)%\s+[0-9.]+%\s+\[\.\]\s+(\S+)", ln)
        if m and m.group(2) in ("authz_check_slow", "authorizer_check"):
            share = max(share, float(m.group(1)))  # the entry, or the authorizer if inlined
    rec("acl.acl10k.perf_check_percent", share)
    log("perf: the ACL check is %.3f %% of %s CPU samples of the broker" % (share, PERF_SAMPLES[0]))


# ---- 4. the machine's own limits ---------------------------------------------------------

def limits():
    out = subprocess.run(["openssl", "speed", "-seconds", str(max(1, int(S))), "-evp",
                          "aes-128-gcm"], capture_output=True, text=True).stdout
    row = [ln for ln in out.splitlines() if ln.lower().startswith("aes-128-gcm")][-1].split()
    rec("limit.aes128gcm_16k_mb_per_s", float(row[-1].rstrip("k")) * 1000 / 1e6)
    out = subprocess.run(["openssl", "speed", "-seconds", str(max(1, int(S))), "rsa2048"],
                         capture_output=True, text=True).stdout
    row = [ln for ln in out.splitlines() if re.match(r"^rsa\s+2048", ln)][-1].split()
    rec("limit.rsa2048_sign_per_s", float(row[-2]))
    port = cluster.free_port()
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            time.sleep(0.1)
            c = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t",
                                str(max(1, int(S))),
                                "-l", "128K", "-J"], capture_output=True, text=True)
            if c.returncode == 0:
                bps = json.loads(c.stdout)["end"]["sum_received"]["bits_per_second"]
                rec("limit.loopback_mb_per_s", bps / 8 / 1e6)
                break
    finally:
        srv.kill()
        srv.wait()


def ktls_probe():
    """Whether this kernel can do TLS in the kernel (the tls ULP, CONFIG_TLS): what
    SSL_OP_ENABLE_KTLS and SSL_sendfile need."""
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            ulps = f.read().split()
    except OSError:
        ulps = []
    with socket.socket() as lsn:
        lsn.bind(("127.0.0.1", 0))
        lsn.listen()
        with socket.create_connection(lsn.getsockname()) as c:
            try:
                c.setsockopt(socket.IPPROTO_TCP, 31, b"tls")  # TCP_ULP
                return "available (tcp_available_ulp: %s)" % " ".join(ulps)
            except OSError as e:
                return "not available: setsockopt(TCP_ULP, \"tls\"): %s (tcp_available_ulp: %s)" % (
                    e.strerror, " ".join(ulps) or "none")


# ---- report -------------------------------------------------------------------------------

def paired(a, b):
    """The median over rounds of 100 * a / b, each round's a against the same round's b."""
    v = [100 * x / y for x, y in zip(R.get(a, []), R.get(b, [])) if y]
    return statistics.median(v) if v else float("nan")


def report(load0, load1):
    n_acls = args.acls + 1
    rows = []
    for op in ("produce", "consume"):
        rows.append(("%s 1 KiB%s: SSL / PLAINTEXT" % (op, ", acks=1" if op == "produce" else ""),
                     "%.1f / %.1f MB/s" % (med(op + ".SSL.mb_per_s"),
                                           med(op + ".PLAINTEXT.mb_per_s")),
                     "%.0f %%" % paired(op + ".SSL.mb_per_s", op + ".PLAINTEXT.mb_per_s"),
                     ">= 80 %" if op == "produce" else ">= 70 %"))
    for op in ("produce", "consume"):
        rows.append(("broker CPU per MB %sd: SSL / PLAINTEXT" % op,
                     "%.4f / %.4f s" % (med(op + ".SSL.broker_s_per_mb"),
                                        med(op + ".PLAINTEXT.broker_s_per_mb")),
                     "x %.1f" % (paired(op + ".SSL.broker_s_per_mb",
                                        op + ".PLAINTEXT.broker_s_per_mb") / 100), ""))
    for kind, what in [] if args.throughput else (("tls13", "TLS 1.3 handshake + ApiVersions, %d in flight" % args.inflight),
                       ("scram_plain", "SCRAM-SHA-256 login on SASL_PLAINTEXT"),
                       ("scram_ssl", "TLS 1.3 + SCRAM-SHA-256 login on SASL_SSL")):
        rows.append((what, "%.0f /s" % med("conn.%s.per_s" % kind),
                     "%.2f ms broker CPU each" % med("conn.%s.broker_ms" % kind), ""))
    for op, size in (("produce", "Produce (16 KiB)"), ("fetch", "Fetch (64 KiB)")):
        k = "acl.%%s.%s_us_per_req" % op
        rows.append(("broker CPU per %s: off / super user / %d ACLs" % (size, n_acls),
                     "%.1f / %.1f / %.1f us" % (med(k % "off"), med(k % "super"),
                                                med(k % "acl10k")),
                     "(ACLs - off) / ACLs: %.1f %%" % (100 - paired(k % "off", k % "acl10k")),
                     "<= 2 %"))
    rows += [] if args.throughput else [
        ("ACL check (authz_check_slow) in perf samples of the %d-ACL broker, Produce + Fetch"
         % n_acls, "%.2f %% of %s samples" % (med("acl.acl10k.perf_check_percent"),
                                              PERF_SAMPLES[0]),
         "", "<= 2 %"),
        ("machine: AES-128-GCM, one core, 16 KiB blocks",
         "%.0f MB/s" % med("limit.aes128gcm_16k_mb_per_s"), "", ""),
        ("machine: RSA 2048 signatures, one core", "%.0f /s" % med("limit.rsa2048_sign_per_s"),
         "", ""),
        ("machine: loopback TCP (iperf3, 128 KiB writes)",
         "%.0f MB/s" % med("limit.loopback_mb_per_s"), "", ""),
    ]
    if args.throughput:
        rows = rows[:4]
    print()
    print("%d rounds of %g s phases; load average %s before, %s after; %d ACLs created in %.1f s"
          % (args.rounds, S, " ".join("%.2f" % x for x in load0),
             " ".join("%.2f" % x for x in load1), 0 if args.throughput else n_acls,
             med("acl.create_s")))
    print("kernel TLS: %s" % ktls_probe())
    print()
    print("| measured | result | ratio / cost | target |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s |" % r)
    print()
    for k in sorted(R):
        print("%s=%s" % (k, " ".join("%.4g" % v for v in R[k])))


def main():
    load0 = os.getloadavg()
    try:
        if args.throughput:
            for rnd in range(args.rounds):
                throughput(rnd)
            report(load0, os.getloadavg())
            return
        make_topic(MAIN, "bench-acl")
        make_topic(SUPER, "bench-acl")
        subprocess.run([GREGOR, "-b", boot(MAIN), "user", "scram", "set", USER, "--password",
                        PASSWORD, "--mechanism", "SCRAM-SHA-256"], check=True, capture_output=True,
                       timeout=60)
        load_acls()
        make_topic(ACL10K, "bench-acl")
        log("limits")
        limits()
        for rnd in range(args.rounds):
            throughput(rnd)
            for kind in ("tls13", "scram_plain", "scram_ssl"):
                conn_rate(kind, rnd)
            acl_round(rnd)
        acl_perf()
        report(load0, os.getloadavg())
    finally:
        stop_all()
        atexit.unregister(stop_all)


if __name__ == "__main__":
    main()
