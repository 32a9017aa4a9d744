#!/usr/bin/env python3
"""
tests/integration/protocol/test_secure_cluster.py — `make run SECURE=1` for real:
deploy/local-cluster.sh --secure starts ZooKeeper and three brokers (SASL_SSL client listeners,
mutual-TLS inter-broker listener, ACL authorizer with allow.everyone.if.no.acl.found=false) in
a temporary state directory on free ports, and then

- kcat -F client.properties (admin, SCRAM-SHA-512 over TLS) produces and consumes;
- `gregor --command-config client.properties` creates and describes a topic, sets a SCRAM user
  and adds ACLs (the CLI's raw client over TLS + SASL); `gregor acl list` on the inter-broker
  listener works with the brokers' certificate (mutual TLS from the raw client), not with
  alice's (not authorized) nor without one;
- a client without credentials, with a wrong password, or in plaintext gets nothing;
- alice (created with `gregor user scram set`) cannot produce or read without ACLs
  (TOPIC_AUTHORIZATION_FAILED) and can after `gregor acl add --allow User:alice ...`;
- alice's control requests (StopReplica, LeaderAndIsr: the connection is closed and the broker
  logs why) and replica fetches (an authorization error), on the inter-broker listener with her
  client certificate (mutual TLS passes: same CA) and on a client listener logged in with
  SCRAM, are refused, while the brokers keep replicating (acks=all, ISR of three);
- `down` stops everything, and `up` without --secure on the same state directory refuses.

Runs under Debian's /usr/bin/python3 (confluent_kafka); needs kcat.
"""
import atexit
import base64
import hashlib
import hmac
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, Conn  # noqa: E402
from cluster import SRC, BUILD, run_tests, ports  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402

SCRIPT = os.path.join(SRC, "deploy", "local-cluster.sh")
GREGOR = os.path.join(BUILD, "bin", "gregor")
N = 3
TMP = tempfile.mkdtemp(prefix="gregor-secure-")
DIR = os.path.join(TMP, "cluster")
CERTS = os.path.join(DIR, "certs")
CLIENT_PROPS = os.path.join(DIR, "client.properties")
TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED = 29, 31


def free_base(n):
    """A base port with n consecutive free loopback ports, outside the ephemeral range."""
    first, last = ports.listener_range(n)
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        base = rng.randrange(first, last)
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no %d free consecutive ports" % n)


ZK_PORT = free_base(1)
BASE = free_base(N)
IBASE = free_base(N)
while len({ZK_PORT} | set(range(BASE, BASE + N)) | set(range(IBASE, IBASE + N))) != 2 * N + 1:
    IBASE = free_base(N)
BOOT = ",".join("localhost:%d" % (BASE + i) for i in range(N))
ENV = dict(os.environ, GREGOR_ZK_PORT=str(ZK_PORT), GREGOR_BASE_PORT=str(BASE),
           GREGOR_INTERNAL_BASE_PORT=str(IBASE),
           GREGOR_BROKER=os.environ.get("GREGOR_BROKER_BIN") or
           os.path.join(BUILD, "bin", "gregor-broker"),
           GREGOR_CLI=GREGOR)


def cluster(*args, check=True):
    p = subprocess.run([SCRIPT, "--dir", DIR] + list(args), env=ENV, capture_output=True,
                       text=True, timeout=90)
    if check and p.returncode != 0:
        raise AssertionError("local-cluster.sh %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def cleanup():
    cluster("down", check=False)
    shutil.rmtree(TMP, ignore_errors=True)


atexit.register(cleanup)


def props(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def write_props(path, d):
    with open(path, "w") as f:
        f.write("".join("%s=%s\n" % kv for kv in d.items()))
    return path


def gregor(*args, config=CLIENT_PROPS, check=True):
    p = subprocess.run([GREGOR, "-b", BOOT, "--command-config", config] + list(args),
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("gregor %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def kcat(config, *args, stdin=None):
    return subprocess.run(["kcat", "-F", config, "-b", BOOT] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)


def topic(rf=3):
    name = "sec-" + uuid.uuid4().hex[:8]
    gregor("topic", "create", name, "-p", "1", "-r", str(rf))
    return name


ALICE_PW = "alice-" + uuid.uuid4().hex[:8]


def alice_props():
    d = props(CLIENT_PROPS)
    d.update({"sasl.username": "alice", "sasl.password": ALICE_PW})
    return write_props(os.path.join(TMP, "alice.properties"), d)


def rdkafka_conf(d):
    return dict({k: v for k, v in d.items()}, **{"bootstrap.servers": BOOT})


# ---------------------------------------------------------------- raw TLS / SCRAM clients

def tls_conn(port, cert=None):
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(CERTS, cert + ".crt"), os.path.join(CERTS, cert + ".key"))
    c = Conn("127.0.0.1", port)
    c.s = ctx.wrap_socket(c.s, server_hostname="localhost")
    return c


def scram_login(c, user, password):
    """SaslHandshake v1 + SaslAuthenticate v1 rounds of SCRAM-SHA-512 (RFC 5802) on c."""
    r = c.call(17, 1, W().str("SCRAM-SHA-512").b)
    assert r.i16() == 0
    cnonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user, cnonce)

    def auth(tok):
        r = c.call(36, 1, W().bytes(tok.encode()).b)
        err, msg, data = r.i16(), r.str(), r.bytes()
        assert err == 0, "SASL: %d %s" % (err, msg)
        return data.decode()

    first = auth("n,," + bare)
    f = dict(kv.split("=", 1) for kv in first.split(","))
    assert f["r"].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(f["s"]), int(f["i"]))
    ckey = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
    stored = hashlib.sha512(ckey).digest()
    final = "c=biws,r=" + f["r"]
    sig = hmac.new(stored, ("%s,%s,%s" % (bare, first, final)).encode(), hashlib.sha512).digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    auth(final + ",p=" + base64.b64encode(proof).decode())


RPC_LEADER_AND_ISR, RPC_STOP_REPLICA = 10000, 10002  # Gregor's private control keys


def control_request(c, key):
    """A control request (common/api_keys.h; the body does not matter: the principal is
    checked first); the first int16 of the answer, or 'closed'."""
    try:
        return c.call(key, 0, b"\x08\x01").i16()
    except (ConnectionError, OSError):
        return "closed"


def broker_log(i):
    with open(os.path.join(DIR, "broker-%d.log" % i), errors="replace") as f:
        return f.read()


def wait_log(i, needle, timeout=3.0):
    end = time.time() + timeout
    while needle not in broker_log(i):
        assert time.time() < end, "broker %d did not log %r" % (i, needle)
        time.sleep(0.05)


def replica_fetch(c, name):
    """Fetch v4 as replica 1; the error of (name, 0), or 'closed'."""
    w = W().i32(1).i32(0).i32(1).i32(1 << 20).i8(0)
    w.array([name], lambda w, t: (w.str(t), w.array([0], lambda w, p: (
        w.i32(p).i64(0).i32(1 << 20)))))
    try:
        r = c.call(1, 4, w.b)
    except (ConnectionError, OSError):
        return "closed"
    r.i32()  # throttle
    parts = r.array(lambda r: (r.str(), r.array(lambda r: r.i32() and None or r.i16())))
    return parts[0][1][0]


# ---------------------------------------------------------------- tests

def test_up_writes_client_properties():
    p = cluster("--secure", "--brokers", str(N), "up")
    assert "admin's SCRAM-SHA-512 credential set" in p.stdout, p.stdout
    d = props(CLIENT_PROPS)
    assert d["security.protocol"] == "SASL_SSL" and d["sasl.mechanism"] == "SCRAM-SHA-512"
    assert d["sasl.username"] == "admin" and len(d["sasl.password"]) >= 16
    assert d["ssl.ca.location"] == os.path.join(CERTS, "ca.pem")
    assert oct(os.stat(CLIENT_PROPS).st_mode & 0o777) == "0o600"
    # no plaintext listener: a plaintext ApiVersions gets no answer
    with socket.create_connection(("127.0.0.1", BASE), timeout=5) as s:
        s.sendall(bytes.fromhex("0000000a00120000000000010000"))
        s.settimeout(5)
        try:
            assert s.recv(4) == b""
        except ConnectionResetError:
            pass


def test_kcat_and_cli_as_admin():
    t = topic()
    out = gregor("topic", "describe", t).stdout
    assert re.search(r"Isr: \d,\d,\d", out), out
    p = kcat(CLIENT_PROPS, "-P", "-t", t, stdin="one\ntwo\n")
    assert p.returncode == 0, p.stderr
    p = kcat(CLIENT_PROPS, "-C", "-t", t, "-e", "-q")
    assert p.returncode == 0 and p.stdout.split() == ["one", "two"], (p.stdout, p.stderr)
    assert "controller" in gregor("cluster", "info").stdout.lower()
    gregor("acl", "add", "--allow", "User:carol", "--operation", "Read", "--topic", t)
    assert "User:carol" in gregor("acl", "list", "--topic", t).stdout


def test_refused_without_credentials_wrong_password_or_plaintext():
    d = props(CLIENT_PROPS)
    cases = {
        "no credentials": {"security.protocol": "SSL",
                           "ssl.ca.location": d["ssl.ca.location"]},
        "wrong password": dict(d, **{"sasl.password": "not-" + d["sasl.password"]}),
        "plaintext": {"security.protocol": "PLAINTEXT"},
    }
    procs = {}
    for what, conf in cases.items():  # in parallel: each waits for its metadata timeout
        path = write_props(os.path.join(TMP, what.replace(" ", "_") + ".properties"), conf)
        procs[what] = subprocess.Popen(["kcat", "-F", path, "-b", BOOT, "-L", "-m", "3"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for what, proc in procs.items():
        out, err = proc.communicate(timeout=30)
        assert proc.returncode != 0 and "broker" not in out.lower(), (what, out, err)
        if what == "wrong password":
            assert "Authentication failed" in err, err
    p = gregor("topic", "list", config=os.path.join(TMP, "wrong_password.properties"), check=False)
    assert p.returncode != 0 and "Authentication failed" in p.stderr, p.stderr
    # gregor refuses an untrusted broker certificate and a host name (here an address) not in
    # it, and connects with the check off (its raw client alone: tests/unit/cli/test_kraw_tls.c)
    bad_ca = write_props(os.path.join(TMP, "bad-ca.properties"),
                         dict(d, **{"ssl.ca.location": os.path.join(CERTS, "broker.crt")}))
    p = gregor("acl", "list", config=bad_ca, check=False)
    print("untrusted CA:", p.stderr.strip())
    assert p.returncode != 0 and "certificate verify failed" in p.stderr, p.stderr
    p = subprocess.run([GREGOR, "-b", "127.0.0.2:%d" % BASE, "--command-config", CLIENT_PROPS,
                        "acl", "list"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "certificate verify failed" in p.stderr, p.stderr
    p = subprocess.run([GREGOR, "-b", "127.0.0.2:%d" % BASE, "--command-config", CLIENT_PROPS,
                        "-X", "ssl.endpoint.identification.algorithm=none", "acl", "list"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


def test_cli_raw_client_with_a_client_certificate():
    """The inter-broker listener (SSL, ssl.client.auth=required): `gregor acl list` (metadata by
    librdkafka, DescribeAcls by the raw client) with the brokers' certificate works (a super
    user), with alice's it is not authorized, without one the handshake fails."""
    ib = "localhost:%d" % IBASE
    tls = ["-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + os.path.join(CERTS, "ca.pem")]

    def acl_list(cert):
        extra = []
        if cert:
            extra = ["-X", "ssl.certificate.location=" + os.path.join(CERTS, cert + ".crt"),
                     "-X", "ssl.key.location=" + os.path.join(CERTS, cert + ".key")]
        return subprocess.run([GREGOR, "-b", ib] + tls + extra + ["acl", "list"],
                              capture_output=True, text=True, timeout=30)

    p = acl_list("broker")
    assert p.returncode == 0 and "User:carol" in p.stdout, (p.stdout, p.stderr)
    p = acl_list("alice")
    print("with alice's certificate:", p.stderr.strip())
    assert p.returncode != 0 and "AUTHORIZATION_FAILED" in p.stderr.upper(), p.stderr
    p = acl_list(None)
    print("without a certificate:", p.stderr.strip())
    assert p.returncode != 0 and "carol" not in p.stdout, p.stdout


SHARED = {}


def test_alice_needs_acls():
    gregor("user", "scram", "set", "alice", "--password", ALICE_PW, "--mechanism", "SCRAM-SHA-512")
    t = topic()
    SHARED["topic"] = t
    conf = rdkafka_conf(props(alice_props()))
    time.sleep(1.0)  # the credential reaches every broker within a second

    def produce():
        errs = []
        p = Producer(dict(conf, **{"message.timeout.ms": 8000}))
        p.produce(t, b"from-alice", on_delivery=lambda e, m: errs.append(e))
        p.flush(15)
        return errs[0] if errs else "no report"

    err = produce()
    assert err is not None and err.code() == TOPIC_AUTHORIZATION_FAILED, err
    # with the group allowed, reading the topic is what fails
    gregor("acl", "add", "--allow", "User:alice", "--operation", "Read", "--group", "alice-g")
    c = Consumer(dict(conf, **{"group.id": "alice-g", "auto.offset.reset": "earliest"}))
    c.subscribe([t])
    got = None
    end = time.time() + 10
    while got is None and time.time() < end:
        m = c.poll(0.5)
        if m is not None and m.error():
            got = m.error()
    c.close()
    assert got is not None and got.code() == TOPIC_AUTHORIZATION_FAILED, got

    gregor("acl", "add", "--allow", "User:alice", "--operation", "Write", "--topic", t)
    gregor("acl", "add", "--allow", "User:alice", "--operation", "Read", "--topic", t)
    assert produce() is None
    c = Consumer(dict(conf, **{"group.id": "alice-g", "auto.offset.reset": "earliest"}))
    c.subscribe([t])
    got = None
    end = time.time() + 20
    while got is None and time.time() < end:
        m = c.poll(0.5)
        if m is not None:
            assert not m.error(), m.error()
            got = m.value()
    c.close()
    assert got == b"from-alice"


def test_alice_cannot_send_control_requests_brokers_keep_replicating():
    t = SHARED["topic"]
    alice_mtls = "principal=User:CN=alice,OU=clients,O=Gregor"
    # mutual TLS with alice's certificate (same CA) reaches the inter-broker listener as
    # User:CN=alice,OU=clients,O=Gregor, which is no super user: refused, connection closed
    for i in range(N):
        for key in (RPC_STOP_REPLICA, RPC_LEADER_AND_ISR):
            c = tls_conn(IBASE + i, cert="alice")
            assert control_request(c, key) == "closed"
            c.close()
        wait_log(i, "control request refused: no ClusterAction key=%d %s" % (RPC_STOP_REPLICA,
                                                                            alice_mtls))
        c = tls_conn(IBASE + i, cert="alice")
        err = replica_fetch(c, t)
        assert err in (CLUSTER_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED), err
        c.close()
    # without a certificate the inter-broker listener refuses the handshake
    try:
        c = tls_conn(IBASE)
        assert control_request(c, RPC_STOP_REPLICA) == "closed"
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    # logged in with SCRAM on a client listener: refused there too
    for i in range(N):
        c = tls_conn(BASE + i)
        scram_login(c, "alice", ALICE_PW)
        assert control_request(c, RPC_STOP_REPLICA) == "closed"
        c.close()
        wait_log(i, "control request on a client listener refused key=%d" % RPC_STOP_REPLICA)
        c = tls_conn(BASE + i)
        scram_login(c, "alice", ALICE_PW)
        err = replica_fetch(c, t)
        assert err in (CLUSTER_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED), err
        c.close()
    # the brokers' own requests (User:CN=broker,O=Gregor, a super user) still pass
    p = Producer(rdkafka_conf(dict(props(CLIENT_PROPS), **{"acks": "all"})))
    errs = []
    for k in range(20):
        p.produce(t, b"after-%d" % k, on_delivery=lambda e, m: errs.append(e))
    p.flush(20)
    assert errs == [None] * 20, errs
    out = gregor("topic", "describe", t).stdout
    assert re.search(r"Isr: \d,\d,\d", out), out


def test_down_and_refusal_to_mix_modes():
    cluster("down")
    p = cluster("up", check=False)
    assert p.returncode != 0 and "--secure" in p.stderr, (p.stdout, p.stderr)
    assert not os.path.exists(os.path.join(DIR, "broker-0.pid"))


if __name__ == "__main__":
    if shutil.which("kcat") is None:
        print("kcat not installed")
        sys.exit(1)
    only = sys.argv[1:]
    tests = [f for n, f in list(globals().items()) if n.startswith("test_") and callable(f)]
    if only:
        tests = [t for t in tests if any(o in t.__name__ for o in only)]
    sys.exit(run_tests(tests))
