#!/usr/bin/env python3
"""
tests/integration/protocol/test_sasl.py — SASL on SASL_PLAINTEXT listeners, for clients and
between brokers (replication, controller channels, transaction markers): real clients (librdkafka through confluent-kafka, kcat,
kafka-python, which uses SaslHandshake v0 and bare tokens) with PLAIN, SCRAM-SHA-256 and
SCRAM-SHA-512, also over TLS (SASL_SSL); wrong passwords, unknown users and mechanisms; the pre-authentication gate
(nothing but ApiVersions and SASL is served, frames over sasl.server.max.receive.size and slow
logins are cut off); SCRAM users made and removed with `gregor user scram` seen by every broker;
the CLI over SASL with --command-config; re-authentication with connections.max.reauth.ms.
One two-broker cluster for all cases.

Runs under /usr/bin/python3 (Debian's python3-confluent-kafka and python3-kafka).
"""
import atexit
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" '
        'user_admin="admin-secret" user_alice="alice-secret";')
REAUTH_MS = 1500
AUTH_TIMEOUT_MS = 1500

SASL_PORTS = {}
REAUTH_PORTS = {}
SSL_PORTS = {}
CERTS = os.path.join(os.environ.get("TMPDIR", "/tmp"), "gregor-sasl-certs-%d" % os.getpid())
subprocess.run(["sh", os.path.join(os.environ["GREGOR_SOURCE_DIR"], "deploy", "make-certs.sh"),
                CERTS], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
atexit.register(shutil.rmtree, CERTS, True)


def per_broker(i):
    """Each broker: PLAINTEXT (for the CLI and raw admin requests), SASL_PLAINTEXT (clients),
    REAUTH, a second SASL listener with its own settings (PLAIN only, sessions of REAUTH_MS), and
    INTERNAL, the inter-broker listener, SASL too: replica fetchers, controller channels and
    transaction markers log in there as admin with PLAIN."""
    p, r, n, t = cluster.free_port(), cluster.free_port(), cluster.free_port(), cluster.free_port()
    SASL_PORTS[i], REAUTH_PORTS[i], SSL_PORTS[i] = p, r, t
    lst = ("PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:%d,REAUTH://127.0.0.1:%d,"
           "INTERNAL://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d" % (p, r, n, t))
    return ["listeners=" + lst, "advertised.listeners=" + lst,
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
            "REAUTH:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name=INTERNAL"]


CL = cluster.Cluster(2, overrides=[
    "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + JAAS,
    "listener.name.sasl_ssl.plain.sasl.jaas.config=" + JAAS,
    "listener.name.sasl_ssl.ssl.keystore.location=" + os.path.join(CERTS, "broker.pem"),
    "gregor.sasl.authentication.timeout.ms=%d" % AUTH_TIMEOUT_MS,
    "sasl.server.max.receive.size=4096",
    "listener.name.reauth.sasl.enabled.mechanisms=PLAIN",
    "listener.name.reauth.plain.sasl.jaas.config=" + JAAS,
    "listener.name.reauth.connections.max.reauth.ms=%d" % REAUTH_MS,
    "listener.name.internal.sasl.enabled.mechanisms=PLAIN",
    "listener.name.internal.plain.sasl.jaas.config=" + JAAS,
    "sasl.mechanism.inter.broker.protocol=PLAIN",
    "transaction.state.log.replication.factor=2",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=2",
], per_broker=per_broker)


def boot(i=0):
    return "127.0.0.1:%d" % SASL_PORTS[i]


def sasl_conf(mech, user, password, i=0, **extra):
    c = {"bootstrap.servers": boot(i), "security.protocol": "sasl_plaintext",
         "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": password}
    c.update(extra)
    return c


def produce_consume(conf, n=5):
    """Produces n records with conf and reads them back; returns them."""
    topic = "sasl-" + uuid.uuid4().hex[:8]
    p = Producer(conf)
    for k in range(n):
        p.produce(topic, value=b"v%d" % k)
    assert p.flush(20) == 0, "records not delivered"
    c = Consumer(dict(conf, **{"group.id": "g-" + topic, "auto.offset.reset": "earliest"}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 20
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert got == [b"v%d" % k for k in range(n)], got
    return got


def expect_auth_failure(conf, needle):
    """A producer with conf gets an authentication error naming needle."""
    errs = []
    p = Producer(dict(conf, error_cb=lambda e: errs.append(e)))
    deadline = time.time() + 10
    while time.time() < deadline and not any(needle in e.str() for e in errs):
        p.poll(0.2)
    assert any(needle in e.str() for e in errs), [e.str() for e in errs]


# --- raw wire helpers -------------------------------------------------------------------

def raw_conn(i=0, port=None):
    return socket.create_connection(("127.0.0.1", port or SASL_PORTS[i]), timeout=10)


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(b), n))
        b += chunk
    return b


def request(s, key, version, body, corr=7):
    hdr = struct.pack(">hhih", key, version, corr, 4) + b"test"
    if version >= 2 and key == 36:  # SaslAuthenticate v2: flexible header (tags)
        hdr += b"\x00"
    frame = hdr + body
    s.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    resp = recv_exact(s, size)
    assert struct.unpack(">i", resp[:4])[0] == corr
    return resp[4:]


def kstr(v):
    e = v.encode()
    return struct.pack(">h", len(e)) + e


def handshake(s, mech, version=1):
    r = request(s, 17, version, kstr(mech))
    err, n = struct.unpack(">hi", r[:6])
    mechs, pos = [], 6
    for _ in range(n):
        ln = struct.unpack(">h", r[pos:pos + 2])[0]
        mechs.append(r[pos + 2:pos + 2 + ln].decode())
        pos += 2 + ln
    return err, mechs


def authenticate(s, token, version=1):
    r = request(s, 36, version, struct.pack(">i", len(token)) + token)
    err = struct.unpack(">h", r[:2])[0]
    ln = struct.unpack(">h", r[2:4])[0]
    msg = r[4:4 + ln].decode() if ln >= 0 else None
    pos = 4 + max(ln, 0)
    blen = struct.unpack(">i", r[pos:pos + 4])[0]
    tok = r[pos + 4:pos + 4 + blen]
    pos += 4 + blen
    life = struct.unpack(">q", r[pos:pos + 8])[0] if version >= 1 else None
    return err, msg, tok, life


def metadata(s):
    return request(s, 3, 1, struct.pack(">i", 0))


def assert_closed(s):
    s.settimeout(10)
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        data = b""
    assert data == b"", "expected the connection closed, got %r" % data[:40]


def plain_token(user, pw):
    return b"\0" + user.encode() + b"\0" + pw.encode()


# --- tests ------------------------------------------------------------------------------

def test_confluent_kafka_plain():
    produce_consume(sasl_conf("PLAIN", "alice", "alice-secret"))


def test_sasl_ssl_listener_with_plain_and_scram():
    """SASL over TLS: librdkafka with PLAIN and with SCRAM-SHA-512 (a user made by the CLI), and
    kafka-python with PLAIN, through the SASL_SSL listener; a client that skips TLS there is
    refused."""
    tls = {"bootstrap.servers": "127.0.0.1:%d" % SSL_PORTS[0], "security.protocol": "sasl_ssl",
           "ssl.ca.location": os.path.join(CERTS, "ca.pem")}
    produce_consume(dict(tls, **{"sasl.mechanisms": "PLAIN", "sasl.username": "alice",
                                 "sasl.password": "alice-secret"}))
    r = gregor("user", "scram", "set", "tlsuser", "--password", "tls-secret", "--mechanism",
               "SCRAM-SHA-512")
    assert r.returncode == 0, (r.stdout, r.stderr)
    wait_login("SCRAM-SHA-512", "tlsuser", "tls-secret", True, 0)
    produce_consume(dict(tls, **{"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "tlsuser",
                                 "sasl.password": "tls-secret"}))
    from kafka import KafkaProducer
    kp = KafkaProducer(bootstrap_servers="127.0.0.1:%d" % SSL_PORTS[0], security_protocol="SASL_SSL",
                       ssl_cafile=os.path.join(CERTS, "ca.pem"), sasl_mechanism="PLAIN",
                       sasl_plain_username="alice", sasl_plain_password="alice-secret")
    kp.send("sasl-ssl-kp", b"x").get(timeout=20)
    kp.close()
    expect_auth_failure(dict(tls, **{"security.protocol": "sasl_plaintext",
                                     "sasl.mechanisms": "PLAIN", "sasl.username": "alice",
                                     "sasl.password": "alice-secret"}), "Disconnected")


def test_brokers_replicate_control_and_mark_over_a_sasl_inter_broker_listener():
    """RF 2 with acks=all needs the follower's fetcher, leaders need the controller's channels,
    a commit needs the coordinator's markers: all on the SASL INTERNAL listener."""
    from confluent_kafka.admin import AdminClient, NewTopic
    conf = sasl_conf("PLAIN", "admin", "admin-secret")
    topic = "rf2-" + uuid.uuid4().hex[:8]
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(topic, 2, 2)])[topic].result(20)
    p = Producer(dict(conf, acks="all"))
    for k in range(10):
        p.produce(topic, value=b"r%d" % k, partition=k % 2)
    assert p.flush(20) == 0
    deadline = time.time() + 10
    while True:
        md = admin.list_topics(topic, timeout=10).topics[topic]
        if all(len(pt.isrs) == 2 for pt in md.partitions.values()):
            break
        assert time.time() < deadline, {k: pt.isrs for k, pt in md.partitions.items()}
        time.sleep(0.2)
    tp = Producer(dict(conf, **{"transactional.id": "sasl-tx"}))
    tp.init_transactions(20)
    tp.begin_transaction()
    tp.produce(topic, value=b"committed", partition=0)
    tp.commit_transaction(20)
    c = Consumer(dict(conf, **{"group.id": "g-" + topic, "isolation.level": "read_committed",
                               "auto.offset.reset": "earliest"}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 20
    while b"committed" not in got and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert b"committed" in got, got
    for b in CL.brokers:
        log = open(b.logfile).read()
        assert "inter-broker connections log in as admin with PLAIN" in log
        assert "SASL login as" not in log, log[-2000:]


def test_wrong_password_and_unknown_user_fail_and_broker_carries_on():
    expect_auth_failure(sasl_conf("PLAIN", "alice", "nope"), "Invalid username or password")
    expect_auth_failure(sasl_conf("PLAIN", "mallory", "alice-secret"),
                        "Invalid username or password")
    # raw: the error code is SASL_AUTHENTICATION_FAILED (58), then the connection closes
    s = raw_conn()
    assert handshake(s, "PLAIN")[0] == 0
    err, msg, _, _ = authenticate(s, plain_token("alice", "bad"))
    assert err == 58 and "Invalid username or password" in msg, (err, msg)
    assert_closed(s)
    produce_consume(sasl_conf("PLAIN", "admin", "admin-secret"), n=1)


def test_unknown_mechanism_lists_enabled():
    s = raw_conn()
    err, mechs = handshake(s, "GSSAPI")
    assert err == 33, err  # UNSUPPORTED_SASL_MECHANISM
    assert mechs == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], mechs
    assert_closed(s)
    expect_auth_failure(sasl_conf("OAUTHBEARER", "alice", "x",
                                  **{"enable.sasl.oauthbearer.unsecure.jwt": True}),
                        "OAUTHBEARER")


def test_requests_before_authentication_close_the_connection():
    # ApiVersions is served before authentication
    s = raw_conn()
    r = request(s, 18, 0, b"")
    assert struct.unpack(">h", r[:2])[0] == 0
    # Metadata is not: the connection closes with nothing served
    s.sendall(struct.pack(">i", 14) + struct.pack(">hhih", 3, 1, 9, 4) + b"test")
    assert_closed(s)
    # nor Produce (v3, acks=1, one empty partition), even after the handshake
    s = raw_conn()
    assert handshake(s, "PLAIN")[0] == 0
    body = struct.pack(">hhi", -1, 1, 1000) + struct.pack(">i", 1) + kstr("t") + \
        struct.pack(">iii", 1, 0, -1)
    hdr = struct.pack(">hhih", 0, 3, 5, 4) + b"test"
    s.sendall(struct.pack(">i", len(hdr + body)) + hdr + body)
    assert_closed(s)
    # nor a SaslAuthenticate without a handshake
    s = raw_conn()
    err, _, _, _ = authenticate(s, plain_token("alice", "alice-secret"))
    assert err == 34, err  # ILLEGAL_SASL_STATE
    assert_closed(s)


def test_oversized_frame_before_authentication_closes():
    s = raw_conn()
    s.sendall(struct.pack(">i", 5000) + b"\0" * 100)  # over sasl.server.max.receive.size=4096
    assert_closed(s)
    # the same size is fine once authenticated (socket.request.max.bytes applies)
    s = raw_conn()
    assert handshake(s, "PLAIN")[0] == 0
    assert authenticate(s, plain_token("alice", "alice-secret"))[0] == 0
    body = struct.pack(">i", 1) + kstr("x" * 4990)  # Metadata v1 for one long topic name
    r = request(s, 3, 1, body)
    assert len(r) > 0
    s.close()


def test_connection_that_does_not_authenticate_is_cut_off():
    s = raw_conn()
    start = time.time()
    assert handshake(s, "PLAIN")[0] == 0
    assert_closed(s)
    took = time.time() - start
    assert AUTH_TIMEOUT_MS / 1000 - 0.2 <= took < AUTH_TIMEOUT_MS / 1000 + 5, took


def test_kafka_python_plain_uses_bare_tokens():
    import kafka
    p = kafka.KafkaProducer(bootstrap_servers=boot(1), security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username="alice",
                            sasl_plain_password="alice-secret", api_version=(2, 0))
    topic = "kp-" + uuid.uuid4().hex[:8]
    p.send(topic, b"hello").get(timeout=20)
    p.close()
    c = kafka.KafkaConsumer(topic, bootstrap_servers=boot(1), security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username="alice",
                            sasl_plain_password="alice-secret", api_version=(2, 0),
                            auto_offset_reset="earliest")
    got = []
    deadline = time.time() + 20
    while not got and time.time() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            got += [m.value for m in recs]
    c.close()
    assert got == [b"hello"], got
    # a wrong password: the broker closes the connection after the bare token
    assert not kafka_python_login("PLAIN", "alice", "bad")
    assert kafka_python_login("PLAIN", "alice", "alice-secret")


def kafka_python_login(mech, user, password, i=1):
    """Whether kafka-python's connection (SaslHandshake v0, bare tokens) logs in."""
    from kafka.conn import BrokerConnection
    c = BrokerConnection("127.0.0.1", SASL_PORTS[i], socket.AF_INET,
                         security_protocol="SASL_PLAINTEXT", sasl_mechanism=mech,
                         sasl_plain_username=user, sasl_plain_password=password,
                         api_version=(2, 0))
    try:
        return c.connect_blocking(timeout=5)
    finally:
        c.close()


def test_kcat_plain():
    topic = "kc-" + uuid.uuid4().hex[:8]
    x = ["-X", "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=PLAIN",
         "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"]
    r = subprocess.run(["kcat", "-b", boot(), "-P", "-t", topic] + x, input=b"a\nb\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["kcat", "-b", boot(), "-C", "-t", topic, "-e", "-q"] + x,
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == b"a\nb\n", (r.stdout, r.stderr)
    bad = x[:-1] + ["sasl.password=wrong"]
    r = subprocess.run(["kcat", "-b", boot(), "-L", "-m", "2"] + bad, capture_output=True,
                       timeout=30)
    assert r.returncode != 0 and b"Invalid username or password" in r.stderr, r.stderr


def gregor(*args, i=0):
    """Runs the gregor CLI against broker i's PLAINTEXT listener."""
    return subprocess.run([os.path.join(cluster.BUILD, "bin", "gregor"), "-b",
                           "127.0.0.1:%d" % CL.brokers[i].port] + list(args),
                          capture_output=True, text=True, timeout=60)


def wait_login(mech, user, password, want, i, limit=1.0):
    """Polls kafka-python logins on broker i until the outcome is want; returns the seconds."""
    start = time.time()
    while kafka_python_login(mech, user, password, i) != want:
        assert time.time() - start < limit + 4, "%s %s login on broker %d never became %s" % (
            mech, user, i, want)
        time.sleep(0.05)
    return time.time() - start


def test_scram_user_set_reaches_every_broker_and_logs_in():
    r = gregor("user", "scram", "set", "bob", "--password", "bob-pw")
    assert r.returncode == 0 and "SCRAM-SHA-256 set" in r.stdout, (r.stdout, r.stderr)
    r = gregor("user", "scram", "set", "bob", "--password", "bob-pw512",
               "--mechanism", "SCRAM-SHA-512", "--iterations", "8192", i=1)
    assert r.returncode == 0, r.stderr
    for i in (0, 1):
        took = wait_login("SCRAM-SHA-256", "bob", "bob-pw", True, i)
        assert took < 1.0, "broker %d saw the new user after %.2fs" % (i, took)
        wait_login("SCRAM-SHA-512", "bob", "bob-pw512", True, i)
    assert not kafka_python_login("SCRAM-SHA-256", "bob", "wrong")
    produce_consume(sasl_conf("SCRAM-SHA-256", "bob", "bob-pw"))
    produce_consume(sasl_conf("SCRAM-SHA-512", "bob", "bob-pw512", i=1))
    r = subprocess.run(["kcat", "-b", boot(1), "-L", "-X", "security.protocol=sasl_plaintext",
                        "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob",
                        "-X", "sasl.password=bob-pw512"], capture_output=True, timeout=30)
    assert r.returncode == 0 and b"2 brokers" in r.stdout, (r.stdout, r.stderr)
    expect_auth_failure(sasl_conf("SCRAM-SHA-512", "bob", "bob-pw"), "Invalid user credentials")
    expect_auth_failure(sasl_conf("SCRAM-SHA-256", "nobody", "x"), "Invalid user credentials")
    r = gregor("user", "scram", "list", i=1)
    assert r.returncode == 0, r.stderr
    rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
    assert ["bob", "SCRAM-SHA-256", "4096"] in rows and ["bob", "SCRAM-SHA-512", "8192"] in rows, rows
    # ZooKeeper holds Kafka's JSON with salted keys, never the password
    import json
    r = subprocess.run(["/usr/share/zookeeper/bin/zkCli.sh", "-server", CL.zk.connect, "get",
                        "/config/users/bob"], capture_output=True, text=True, timeout=60)
    doc = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][0])
    assert doc["version"] == 1 and set(doc["config"]) == {"SCRAM-SHA-256", "SCRAM-SHA-512"}, doc
    v = doc["config"]["SCRAM-SHA-512"]
    assert v.startswith("salt=") and ",stored_key=" in v and v.endswith(",iterations=8192"), v
    assert "bob-pw" not in r.stdout


def test_scram_credentials_and_client_quotas_share_the_user_znode():
    """/config/users/<user> holds a user's SCRAM credentials and client quotas: each writer keeps
    the other's keys."""
    r = gregor("user", "scram", "set", "carol", "--password", "carol-pw")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = gregor("quota", "set", "--user", "carol", "--producer-byte-rate", "123456")
    assert r.returncode == 0, (r.stdout, r.stderr)
    wait_login("SCRAM-SHA-256", "carol", "carol-pw", True, 1)
    r = gregor("user", "scram", "set", "carol", "--password", "carol-pw2")
    assert r.returncode == 0, (r.stdout, r.stderr)
    wait_login("SCRAM-SHA-256", "carol", "carol-pw2", True, 1)
    r = gregor("quota", "list", "--user", "carol")
    assert r.returncode == 0 and "123456" in r.stdout, (r.stdout, r.stderr)


def test_scram_user_delete_reaches_every_broker():
    r = gregor("user", "scram", "set", "carol", "--password", "carol-pw", "--mechanism",
               "SCRAM-SHA-512")
    assert r.returncode == 0, r.stderr
    for i in (0, 1):
        wait_login("SCRAM-SHA-512", "carol", "carol-pw", True, i)
    r = gregor("user", "scram", "delete", "carol", i=1)
    assert r.returncode == 0 and "deleted" in r.stdout, (r.stdout, r.stderr)
    for i in (0, 1):
        took = wait_login("SCRAM-SHA-512", "carol", "carol-pw", False, i)
        assert took < 1.0, "broker %d still logged carol in after %.2fs" % (i, took)
    r = gregor("user", "scram", "delete", "carol", "--mechanism", "SCRAM-SHA-512")
    assert r.returncode == 1 and "RESOURCE_NOT_FOUND" in r.stderr, r.stderr
    r = gregor("user", "scram", "list", "carol")
    assert r.returncode == 1 and "RESOURCE_NOT_FOUND" in r.stderr, r.stderr
    r = gregor("user", "scram", "set", "dave", "--password", "x", "--iterations", "100")
    assert r.returncode == 2 and "--iterations" in r.stderr, r.stderr


def test_cli_over_sasl_with_command_config():
    """gregor --command-config FILE (librdkafka keys) on the SASL listener: librdkafka and the
    CLI's raw client (user scram) both log in, with PLAIN and with SCRAM."""
    path = os.path.join(CL.tmp, "client.properties")
    for mech, user, pw in (("PLAIN", "alice", "alice-secret"), ("SCRAM-SHA-512", "bob", "bob-pw512")):
        with open(path, "w") as f:
            f.write("bootstrap.servers=%s\nsecurity.protocol=sasl_plaintext\n"
                    "sasl.mechanism=%s\nsasl.username=%s\nsasl.password=%s\n" % (boot(1), mech, user, pw))
        r = subprocess.run([os.path.join(cluster.BUILD, "bin", "gregor"), "--command-config", path,
                            "user", "scram", "list", "bob"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "SCRAM-SHA-512" in r.stdout, (mech, r.stdout, r.stderr)
    with open(path, "w") as f:
        f.write("bootstrap.servers=%s\nsecurity.protocol=sasl_plaintext\n"
                "sasl.mechanism=PLAIN\nsasl.username=alice\nsasl.password=nope\n" % boot())
    r = subprocess.run([os.path.join(cluster.BUILD, "bin", "gregor"), "--command-config", path,
                        "user", "scram", "list"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Invalid username or password" in r.stderr, r.stderr


def test_alter_scram_credentials_refuses_bad_input():
    s = socket.create_connection(("127.0.0.1", CL.brokers[0].port), timeout=10)

    def upsert(name, mech, iterations, salt, salted):
        e = name.encode()
        return (bytes([len(e) + 1]) + e + struct.pack(">bi", mech, iterations) +
                bytes([len(salt) + 1]) + salt + bytes([len(salted) + 1]) + salted + b"\0")

    def alter(ups):
        body = b"\x01" + bytes([len(ups) + 1]) + b"".join(ups) + b"\0"
        hdr = struct.pack(">hhih", 51, 0, 3, 4) + b"test\0"
        s.sendall(struct.pack(">i", len(hdr + body)) + hdr + body)
        r = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])[5:]  # corr, header tags
        pos = 4  # throttle_time_ms

        def uvarint():
            nonlocal pos
            v = shift = 0
            while True:
                b = r[pos]
                pos += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    return v
        out = []
        for _ in range(uvarint() - 1):
            ln = uvarint() - 1
            user = r[pos:pos + ln].decode()
            pos += ln
            err = struct.unpack(">h", r[pos:pos + 2])[0]
            pos += 2
            pos += max(uvarint() - 1, 0)  # error_message
            uvarint()  # tags
            out.append((user, err))
        return out
    assert alter([upsert("eve", 1, 100, b"s" * 16, b"x" * 32)]) == [("eve", 93)]  # iterations
    assert alter([upsert("eve", 1, 4096, b"s" * 16, b"x" * 31)]) == [("eve", 93)]  # length
    assert alter([upsert("eve", 7, 4096, b"s" * 16, b"x" * 32)]) == [("eve", 33)]  # mechanism
    assert alter([upsert("", 1, 4096, b"s" * 16, b"x" * 32)]) == [("", 93)]
    assert alter([upsert("eve", 1, 4096, b"s" * 16, b"x" * 32)] * 2) == [("eve", 92)]
    s.close()
    r = gregor("user", "scram", "list", "eve")
    assert r.returncode == 1 and "RESOURCE_NOT_FOUND" in r.stderr, r.stderr


def test_reauthentication_with_connections_max_reauth_ms():
    port = REAUTH_PORTS[0]
    s = raw_conn(port=port)
    err, mechs = handshake(s, "PLAIN")
    assert err == 0 and mechs == ["PLAIN"], (err, mechs)  # this listener's own mechanisms
    err, _, _, life = authenticate(s, plain_token("alice", "alice-secret"))
    assert err == 0 and life == REAUTH_MS, (err, life)
    start = time.time()
    metadata(s)
    # re-authenticate (same principal) before the session ends: served past the first end
    time.sleep(REAUTH_MS / 2000)
    assert handshake(s, "PLAIN")[0] == 0
    err, _, _, life = authenticate(s, plain_token("alice", "alice-secret"))
    assert err == 0 and life == REAUTH_MS
    time.sleep(max(0, start + REAUTH_MS / 1000 + 0.3 - time.time()))
    metadata(s)
    # a re-authentication as someone else fails and closes the connection
    assert handshake(s, "PLAIN")[0] == 0
    err, msg, _, _ = authenticate(s, plain_token("admin", "admin-secret"))
    assert err == 58 and "principal" in msg, (err, msg)
    assert_closed(s)
    # a connection that does not re-authenticate is closed at its next request
    s = raw_conn(port=port)
    assert handshake(s, "PLAIN")[0] == 0
    assert authenticate(s, plain_token("alice", "alice-secret"))[0] == 0
    metadata(s)
    time.sleep(REAUTH_MS / 1000 + 0.2)
    s.sendall(struct.pack(">i", 14) + struct.pack(">hhih", 3, 1, 9, 4) + b"test")
    assert_closed(s)
    # the main SASL listener has no session lifetime
    s = raw_conn()
    assert handshake(s, "PLAIN")[0] == 0
    assert authenticate(s, plain_token("alice", "alice-secret"))[3] == 0
    s.close()


if __name__ == "__main__":
    sys.exit(cluster.run_suite(CL, globals()))
